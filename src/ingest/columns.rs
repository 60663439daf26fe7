//! Column names and the types a user gives (`--schema`), the same for every
//! input format.

use std::collections::HashSet;

use crate::ingest::error::ConvertError;
use crate::schema::ColumnType;

/// Parses `--schema "col:TYPE,col:TYPE"`.
pub fn parse_schema_override(spec: &str) -> Result<Vec<(String, ColumnType)>, ConvertError> {
    spec.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (name, ty) = part.rsplit_once(':').ok_or_else(|| {
                ConvertError::SchemaOverride(format!("{part:?} is not of the form column:TYPE"))
            })?;
            let ty: ColumnType = ty.parse().map_err(ConvertError::SchemaOverride)?;
            if ty.is_nested() && !matches!(ty, ColumnType::Vector(_)) {
                return Err(ConvertError::SchemaOverride(format!(
                    "{}: {ty} is a nested type, which lake infers from JSON and never takes \
                     from --schema",
                    name.trim()
                )));
            }
            Ok((name.trim().to_owned(), ty))
        })
        .collect()
}

/// Column names from raw ones (trimmed), by the rules of [`column_names`].
pub fn unique_names<'a>(raw: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut names = Vec::new();
    for (i, raw) in raw.enumerate() {
        let raw = raw.trim();
        let base = if raw.is_empty() {
            format!("column_{}", i + 1)
        } else {
            raw.to_owned()
        };
        let mut name = base.clone();
        let mut n = 2;
        while !seen.insert(name.to_lowercase()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}
