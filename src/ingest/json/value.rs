//! A JSON value as the reader keeps it (borrowed where it can), the kinds
//! of value a key has held, and the column type those kinds give.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use crate::ingest::infer::Inferrer;
use crate::schema::ColumnType;

/// Kinds of JSON value a key has held.
pub(super) const BOOL: u8 = 1;

pub(super) const INT: u8 = 2;

pub(super) const FLOAT: u8 = 4;

pub(super) const STRING: u8 = 8;

pub(super) const OBJECT: u8 = 16;

pub(super) const ARRAY: u8 = 32;

/// The most fields an object of a STRUCT may have: objects with more keys
/// are mostly maps (a key per user, per day), held as JSON text.
pub const MAX_FIELDS: usize = 200;

/// The most STRUCT and LIST levels a column has; what is deeper is JSON
/// text. DuckDB's time to read a LIST grows about twice with each level
/// from 15 on (8 s for one row at 25).
pub const MAX_DEPTH: usize = 16;

/// A JSON value whose objects keep their keys in the order written (the
/// order columns and JSON text follow).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    /// Borrowed from the line read when it holds no escapes.
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// An object's members in order.
pub(super) type Object<'a> = Vec<(Cow<'a, str>, Json<'a>)>;

impl Json<'_> {
    pub(super) fn kind(&self) -> u8 {
        match self {
            Json::Null => 0,
            Json::Bool(_) => BOOL,
            Json::Number(n) if n.is_i64() => INT,
            Json::Number(_) => FLOAT,
            Json::String(_) => STRING,
            Json::Object(_) => OBJECT,
            Json::Array(_) => ARRAY,
        }
    }

    /// What a row holds: a string as itself, anything else as JSON text;
    /// `None` for `null`.
    pub(super) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Json::Null => None,
            Json::String(s) => Some(Cow::Borrowed(s.as_ref())),
            Json::Bool(true) => Some(Cow::Borrowed("true")),
            Json::Bool(false) => Some(Cow::Borrowed("false")),
            other => Some(Cow::Owned(other.to_string())),
        }
    }

    pub(super) fn described(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Compact JSON text.
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |f: &mut fmt::Formatter<'_>, s: &str| {
            f.write_str(&serde_json::to_string(s).map_err(|_| fmt::Error)?)
        };
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Number(n) => write!(f, "{n}"),
            Json::String(s) => quoted(f, s),
            Json::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Json::Object(members) => {
                f.write_str("{")?;
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    quoted(f, key)?;
                    write!(f, ":{value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Json<'de>, D::Error> {
        de.deserialize_any(JsonVisitor)
    }
}

/// A string borrowed from the input where it can be (no escapes), else
/// owned: object keys, without an allocation each.
pub(super) struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Text<'de>, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        de.deserialize_str(TextVisitor)
    }
}

pub(super) struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(Number::from_f64(v).map_or(Json::Null, Json::Number))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(Text(key)) = map.next_key()? {
            members.push((key, map.next_value()?));
        }
        Ok(Json::Object(members))
    }
}

/// Narrows column `i` by a value (not null): its kind, and what a string
/// fits.
pub(super) fn narrow(kinds: &mut [u8], strings: &mut Inferrer, i: usize, value: &Json<'_>) {
    kinds[i] |= value.kind();
    if let Json::String(s) = value {
        strings.observe(i, s);
    }
}

/// Whether a column of type `t` takes a string only when it parses as
/// inference parses it (dates, timestamps, times): every string it took
/// leaves the type inferred from them `t`, so they need not be inferred
/// again. (Such a column's strings narrow to a set of types whose first
/// is still `t`: the narrowing keeps every type a string parses as, and
/// takes none away that come before.)
pub(super) fn takes_what_it_parses(t: &ColumnType) -> bool {
    matches!(
        t,
        ColumnType::Date | ColumnType::Timestamp | ColumnType::Timestamptz | ColumnType::Time
    )
}

/// The type of a key that held values of `kinds` (none of them objects
/// or arrays only), given what its strings (if any) were inferred as.
pub(super) fn column_type(kinds: u8, strings: &ColumnType) -> ColumnType {
    match kinds {
        BOOL => ColumnType::Boolean,
        INT => ColumnType::Bigint,
        k if k == FLOAT || k == FLOAT | INT => ColumnType::Double,
        STRING => match strings {
            ColumnType::Date
            | ColumnType::Timestamp
            | ColumnType::Timestamptz
            | ColumnType::Time => strings.clone(),
            _ => ColumnType::Varchar,
        },
        _ => ColumnType::Varchar,
    }
}
