//! Column types parsed from their SQL names: the scalar types with their
//! usual aliases, `STRUCT(...)`, `T[]` lists and `FLOAT[N]` vectors.

use std::str::FromStr;

use super::{Column, ColumnType, MAX_VECTOR_LENGTH};

impl FromStr for ColumnType {
    type Err = String;

    /// Parses a SQL type name, with the usual aliases, and the nested types
    /// as [`ColumnType::sql_name`] writes them (`STRUCT("a" BIGINT)`,
    /// `VARCHAR[]`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (t, rest) = parse_type(s)?;
        if rest.trim().is_empty() {
            Ok(t)
        } else {
            Err(format!("unexpected {:?} after the type {t}", rest.trim()))
        }
    }
}

/// The type at the start of `s`, and what follows it.
fn parse_type(s: &str) -> Result<(ColumnType, &str), String> {
    let s = s.trim_start();
    let (mut t, mut rest) = match s.get(..7) {
        Some(head) if head.eq_ignore_ascii_case("STRUCT(") => parse_fields(&s[7..])?,
        _ => {
            let end = s.find([',', ')', '[']).unwrap_or(s.len());
            (scalar_type(&s[..end])?, &s[end..])
        }
    };
    loop {
        let trimmed = rest.trim_start();
        if let Some(after) = trimmed.strip_prefix("[]") {
            t = ColumnType::List(Box::new(t));
            rest = after;
        } else if let Some((length, after)) = trimmed
            .strip_prefix('[')
            .and_then(|inner| inner.split_once(']'))
        {
            t = vector_type(&s[..s.len() - rest.len()], t, length)?;
            rest = after;
        } else {
            return Ok((t, rest));
        }
    }
}

/// `element[length]`: only `FLOAT[N]` (`REAL`, `FLOAT4`; `DOUBLE[N]` is
/// stored as FLOAT too, as embeddings are), N from 1 to
/// [`MAX_VECTOR_LENGTH`].
fn vector_type(written: &str, element: ColumnType, length: &str) -> Result<ColumnType, String> {
    let n: usize = length
        .trim()
        .parse()
        .map_err(|_| format!("{written}[{length}]: the length of an array is a number"))?;
    if element != ColumnType::Double {
        return Err(format!(
            "{written}[{n}]: fixed-size arrays are FLOAT[N] only (an embedding); use {written}[] for a list"
        ));
    }
    if n == 0 || n > MAX_VECTOR_LENGTH {
        return Err(format!(
            "FLOAT[{n}]: the length must be from 1 to {MAX_VECTOR_LENGTH}"
        ));
    }
    Ok(ColumnType::Vector(n))
}

/// The fields of a STRUCT after its `(`, and what follows the `)`.
fn parse_fields(mut s: &str) -> Result<(ColumnType, &str), String> {
    let mut fields = Vec::new();
    loop {
        s = s.trim_start();
        let name;
        if let Some(quoted) = s.strip_prefix('"') {
            let mut text = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) if quoted[i + 1..].starts_with('"') => {
                        text.push('"');
                        chars.next();
                    }
                    Some((i, '"')) => break i + 1,
                    Some((_, c)) => text.push(c),
                    None => return Err("a field name's quote is never closed".into()),
                }
            };
            name = text;
            s = &quoted[end..];
        } else {
            let end = s.find(char::is_whitespace).unwrap_or(s.len());
            name = s[..end].to_owned();
            s = &s[end..];
        }
        if name.is_empty() {
            return Err("a STRUCT field without a name".into());
        }
        let (column_type, rest) = parse_type(s)?;
        fields.push(Column { name, column_type });
        let rest = rest.trim_start();
        if let Some(rest) = rest.strip_prefix(',') {
            s = rest;
        } else if let Some(rest) = rest.strip_prefix(')') {
            return Ok((ColumnType::Struct(fields), rest));
        } else {
            return Err("a STRUCT without its closing ')'".into());
        }
    }
}

/// A scalar type by name.
fn scalar_type(s: &str) -> Result<ColumnType, String> {
    Ok(match s.trim().to_ascii_uppercase().as_str() {
        "BOOLEAN" | "BOOL" => ColumnType::Boolean,
        "BIGINT" | "INT8" | "LONG" | "INTEGER" | "INT" => ColumnType::Bigint,
        "DOUBLE" | "FLOAT8" | "FLOAT" | "FLOAT4" | "REAL" => ColumnType::Double,
        "DATE" => ColumnType::Date,
        "TIMESTAMP" | "DATETIME" => ColumnType::Timestamp,
        "TIMESTAMPTZ" | "TIMESTAMP WITH TIME ZONE" => ColumnType::Timestamptz,
        "TIME" => ColumnType::Time,
        "VARCHAR" | "TEXT" | "STRING" => ColumnType::Varchar,
        other => {
            return Err(format!(
                "unknown type {other:?} (expected one of BOOLEAN, BIGINT, DOUBLE, DATE, TIMESTAMP, TIMESTAMPTZ, TIME, VARCHAR)"
            ));
        }
    })
}
