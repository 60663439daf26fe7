//! Column types, schemas, the schema fingerprint and dataset identity: the
//! vocabulary the catalog and the engine share.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub mod arrow;
mod parse;

/// The namespace of every `dataset_id` (UUIDv5 over the name), shared with the
/// Go system this replaces: changing it changes every id ever issued.
pub const DATASET_NAMESPACE: Uuid = Uuid::from_bytes([
    0xa8, 0xf3, 0xc1, 0xd2, 0x4e, 0x5b, 0x5a, 0x6c, 0x9d, 0x8e, 0x7f, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e,
]);

/// The longest dataset name, in bytes.
pub const MAX_NAME_BYTES: usize = 63;

/// A column type, named as SQL names it (serialized as that name:
/// `BIGINT`, `STRUCT("a" BIGINT, "b" VARCHAR[])`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnType {
    Boolean,
    Bigint,
    Double,
    Date,
    Timestamp,
    Timestamptz,
    Time,
    Varchar,
    /// Named fields in order (a JSON object).
    Struct(Vec<Column>),
    /// Values of one type (a JSON array).
    List(Box<ColumnType>),
    /// `FLOAT[N]`: exactly N 32-bit floats in every value (an embedding).
    /// DuckLake has no fixed-size array: its catalog holds a list of
    /// `float32`, and lake's own table `lake_vector_column` the length.
    Vector(usize),
}

/// The longest `FLOAT[N]` lake takes.
pub const MAX_VECTOR_LENGTH: usize = 65_536;

impl ColumnType {
    /// Every type, in the order inference prefers them.
    pub const ALL: [ColumnType; 8] = [
        ColumnType::Boolean,
        ColumnType::Bigint,
        ColumnType::Double,
        ColumnType::Date,
        ColumnType::Timestamp,
        ColumnType::Timestamptz,
        ColumnType::Time,
        ColumnType::Varchar,
    ];

    /// The SQL name, as it enters the fingerprint: DuckDB's, with every
    /// field name of a STRUCT quoted.
    pub fn sql_name(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::Bigint => "BIGINT",
            ColumnType::Double => "DOUBLE",
            ColumnType::Date => "DATE",
            ColumnType::Timestamp => "TIMESTAMP",
            ColumnType::Timestamptz => "TIMESTAMPTZ",
            ColumnType::Time => "TIME",
            ColumnType::Varchar => "VARCHAR",
            ColumnType::Struct(fields) => {
                let fields = fields
                    .iter()
                    .map(|f| format!("{} {}", quote_ident(&f.name), f.column_type))
                    .collect::<Vec<_>>();
                return Cow::Owned(format!("STRUCT({})", fields.join(", ")));
            }
            ColumnType::List(element) => return Cow::Owned(format!("{element}[]")),
            ColumnType::Vector(n) => return Cow::Owned(format!("FLOAT[{n}]")),
        })
    }

    /// Whether values of the type hold other values (STRUCT, LIST).
    pub fn is_nested(&self) -> bool {
        matches!(
            self,
            ColumnType::Struct(_) | ColumnType::List(_) | ColumnType::Vector(_)
        )
    }
}

/// The name of a list's element in Arrow and Parquet (the Parquet
/// standard's, which DuckDB and DuckLake expect).
pub const LIST_ELEMENT: &str = "element";

/// Quotes a SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a SQL string literal.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl ColumnType {
    /// The type as DuckLake's catalog spells it (a nested type's children
    /// are columns of their own).
    pub fn ducklake_name(&self) -> &'static str {
        match self {
            ColumnType::Boolean => "boolean",
            ColumnType::Bigint => "int64",
            ColumnType::Double => "float64",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Timestamptz => "timestamptz",
            ColumnType::Time => "time",
            ColumnType::Varchar => "varchar",
            ColumnType::Struct(_) => "struct",
            ColumnType::List(_) | ColumnType::Vector(_) => "list",
        }
    }

    /// The lake type of a DuckLake type name, if lake ingests that type.
    pub fn from_ducklake(name: &str) -> Option<ColumnType> {
        ColumnType::ALL
            .into_iter()
            .find(|t| t.ducklake_name().eq_ignore_ascii_case(name.trim()))
    }
}

/// DuckDB's SQL name of a DuckLake type (`int32` is `INTEGER`), or `None`
/// for types lake cannot read (nested, variant, geometry).
pub fn duckdb_type(ducklake: &str) -> Option<String> {
    let t = ducklake.trim().to_ascii_lowercase();
    let name = match t.as_str() {
        "boolean" => "BOOLEAN",
        "int8" => "TINYINT",
        "int16" => "SMALLINT",
        "int32" => "INTEGER",
        "int64" => "BIGINT",
        "int128" => "HUGEINT",
        "uint8" => "UTINYINT",
        "uint16" => "USMALLINT",
        "uint32" => "UINTEGER",
        "uint64" => "UBIGINT",
        "uint128" => "UHUGEINT",
        "float32" => "FLOAT",
        "float64" => "DOUBLE",
        "date" => "DATE",
        "time" => "TIME",
        "timetz" => "TIMETZ",
        "timestamp" => "TIMESTAMP",
        "timestamptz" => "TIMESTAMPTZ",
        "timestamp_s" => "TIMESTAMP_S",
        "timestamp_ms" => "TIMESTAMP_MS",
        "timestamp_ns" => "TIMESTAMP_NS",
        "interval" => "INTERVAL",
        "varchar" | "json" => "VARCHAR",
        "blob" => "BLOB",
        "uuid" => "UUID",
        _ => {
            let inner = t.strip_prefix("decimal(")?.strip_suffix(')')?;
            let (p, s) = inner.split_once(',')?;
            let (p, s): (u8, u8) = (p.trim().parse().ok()?, s.trim().parse().ok()?);
            return (s <= p && p <= 38).then(|| format!("DECIMAL({p},{s})"));
        }
    };
    Some(name.to_owned())
}

/// SHA-256 (hex) over `(name, type)` pairs in order, each `name 0x1f type`,
/// separated by `0x1e`: the schema fingerprint.
pub fn fingerprint_of(columns: impl IntoIterator<Item = (String, String)>) -> String {
    let mut hasher = Sha256::new();
    for (i, (name, column_type)) in columns.into_iter().enumerate() {
        if i > 0 {
            hasher.update([0x1e]);
        }
        hasher.update(name.as_bytes());
        hasher.update([0x1f]);
        hasher.update(column_type.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Statistics of one column of one Parquet object, as DuckLake records them
/// (values as text: `1`, `2024-01-31`, `2024-01-31 10:00:00.5`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ColumnStats {
    /// Non-NULL values.
    pub value_count: u64,
    pub null_count: u64,
    /// A lower bound of the values (exact unless a long string was cut).
    pub min: Option<String>,
    /// An upper bound of the values.
    pub max: Option<String>,
    /// Whether `min` and `max` are the smallest and largest values
    /// themselves, not just bounds (a writer may cut long strings).
    #[serde(skip)]
    pub bounds_exact: bool,
    /// Whether a NaN is among the values (`Some(false)` for integers;
    /// `None`: a type without NaN, or not known).
    pub contains_nan: Option<bool>,
    /// Compressed bytes of the column in the file.
    pub size_bytes: u64,
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql_name())
    }
}

impl Serialize for ColumnType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.sql_name())
    }
}

impl<'de> Deserialize<'de> for ColumnType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// One column of a schema, or one field of a STRUCT.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
}

/// The columns of a dataset, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Schema {
    pub columns: Vec<Column>,
}

impl Schema {
    /// SHA-256 (hex) over the columns in order, each `name 0x1f type`,
    /// separated by `0x1e`.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(
            self.columns
                .iter()
                .map(|c| (c.name.clone(), c.column_type.sql_name().into_owned())),
        )
    }

    /// What changed from `self` (the live schema) to `new`.
    pub fn diff(&self, new: &Schema) -> SchemaDiff {
        let find = |schema: &Schema, name: &str| -> Option<ColumnType> {
            schema
                .columns
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.column_type.clone())
        };
        let mut diff = SchemaDiff::default();
        for col in &new.columns {
            match find(self, &col.name) {
                None => diff.added.push(col.clone()),
                Some(old) if old != col.column_type => diff.retyped.push(Retyped {
                    name: col.name.clone(),
                    from: old,
                    to: col.column_type.clone(),
                }),
                Some(_) => {}
            }
        }
        for col in &self.columns {
            if find(new, &col.name).is_none() {
                diff.removed.push(col.clone());
            }
        }
        diff.reordered = diff.is_empty() && self != new;
        diff
    }
}

/// A column whose type changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retyped {
    pub name: String,
    pub from: ColumnType,
    pub to: ColumnType,
}

/// The difference between two schemas, for conflict messages.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SchemaDiff {
    pub added: Vec<Column>,
    pub removed: Vec<Column>,
    pub retyped: Vec<Retyped>,
    /// Same columns and types, in another order.
    pub reordered: bool,
}

impl SchemaDiff {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.retyped.is_empty()
    }
}

impl fmt::Display for SchemaDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let list = |cols: &[Column]| {
            cols.iter()
                .map(|c| format!("{} {}", c.name, c.column_type))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.added.is_empty() {
            parts.push(format!("added {}", list(&self.added)));
        }
        if !self.removed.is_empty() {
            parts.push(format!("removed {}", list(&self.removed)));
        }
        if !self.retyped.is_empty() {
            let retyped = self
                .retyped
                .iter()
                .map(|r| format!("{} {} -> {}", r.name, r.from, r.to))
                .collect::<Vec<_>>()
                .join(", ");
            parts.push(format!("retyped {retyped}"));
        }
        if self.reordered {
            parts.push("columns reordered".to_owned());
        }
        f.write_str(&parts.join("; "))
    }
}

/// What `--evolve` does to a dataset's schema to take a new file's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct EvolvePlan {
    /// New columns (earlier rows read NULL).
    pub added: Vec<Column>,
    /// Columns the new file lacks (they stop being part of the dataset).
    pub removed: Vec<Column>,
    /// Columns whose type widens to the new file's (earlier files are read
    /// as the wider type).
    pub widened: Vec<Retyped>,
    /// Columns the new file has in a narrower type: they keep the
    /// dataset's type and the file is read as it.
    pub kept: Vec<Retyped>,
}

impl EvolvePlan {
    /// Whether the schema stays as it is.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.widened.is_empty()
    }
}

impl fmt::Display for EvolvePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let diff = SchemaDiff {
            added: self.added.clone(),
            removed: self.removed.clone(),
            retyped: self.widened.clone(),
            reordered: false,
        };
        let text = diff.to_string().replace("retyped", "widened");
        if text.is_empty() {
            f.write_str("no change")
        } else {
            f.write_str(&text)
        }
    }
}

/// Whether a column of type `from` may become `to` with its old files read
/// as `to`: BIGINT to DOUBLE, any type but a nested one to VARCHAR
/// (DuckLake's rules), and a LIST or STRUCT whose values (fields in the
/// same order) do.
pub fn widens(from: &ColumnType, to: &ColumnType) -> bool {
    let same_or_wider = |from, to| from == to || widens(from, to);
    from != to
        && match (from, to) {
            (ColumnType::Bigint, ColumnType::Double) => true,
            (from, ColumnType::Varchar) => !from.is_nested(),
            (ColumnType::List(from), ColumnType::List(to)) => same_or_wider(from, to),
            (ColumnType::Struct(from), ColumnType::Struct(to)) => {
                from.len() == to.len()
                    && from.iter().zip(to).all(|(f, t)| {
                        f.name == t.name && same_or_wider(&f.column_type, &t.column_type)
                    })
            }
            _ => false,
        }
}

/// The plan that takes `live` to a schema that reads `new` files, or the
/// part of the difference no plan allows (a retype that is no widening).
pub fn evolve_plan(live: &Schema, new: &Schema) -> Result<EvolvePlan, SchemaDiff> {
    let diff = live.diff(new);
    let mut plan = EvolvePlan {
        added: diff.added,
        removed: diff.removed,
        ..EvolvePlan::default()
    };
    let mut refused = SchemaDiff::default();
    for r in diff.retyped {
        // A nested column's children keep their types: its files may be
        // read as a wider type, but the column does not become one.
        if widens(&r.from, &r.to) && !r.from.is_nested() {
            plan.widened.push(r);
        } else if widens(&r.to, &r.from) {
            plan.kept.push(r);
        } else {
            refused.retyped.push(r);
        }
    }
    if refused.retyped.is_empty() {
        Ok(plan)
    } else {
        Err(refused)
    }
}

/// The stable id of a dataset: UUIDv5 of its name.
pub fn dataset_id(name: &str) -> Uuid {
    Uuid::new_v5(&DATASET_NAMESPACE, name.as_bytes())
}

/// Whether `name` is a valid dataset name: `[A-Za-z_][A-Za-z0-9_]*`, at most
/// 63 bytes. Returns the reason when it is not.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("empty".into()),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return Err(format!("must start with a letter or '_', not {c:?}"));
        }
        _ => {}
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(format!(
            "{c:?} is not allowed (letters, digits and '_' only)"
        ));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "{} bytes is over the limit of {MAX_NAME_BYTES}",
            name.len()
        ));
    }
    Ok(())
}

/// The default dataset name for a file stem: lower-cased, every other
/// character turned into `_`, a leading digit prefixed with `_`, cut to 63
/// bytes.
pub fn name_from_stem(stem: &str) -> String {
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name.truncate(MAX_NAME_BYTES);
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn schema(cols: &[(&str, ColumnType)]) -> Schema {
        Schema {
            columns: cols
                .iter()
                .map(|(n, t)| Column {
                    name: (*n).to_owned(),
                    column_type: t.clone(),
                })
                .collect(),
        }
    }

    #[test]
    fn fingerprint_matches_the_spec_bytes() {
        let s = schema(&[("id", ColumnType::Bigint), ("name", ColumnType::Varchar)]);
        let expected = hex::encode(Sha256::digest(b"id\x1fBIGINT\x1ename\x1fVARCHAR"));
        assert_eq!(s.fingerprint(), expected);
        assert_eq!(
            Schema::default().fingerprint(),
            hex::encode(Sha256::digest(b""))
        );
    }

    #[test]
    fn fingerprint_depends_on_order_names_and_types() {
        let a = schema(&[("a", ColumnType::Bigint), ("b", ColumnType::Bigint)]);
        let b = schema(&[("b", ColumnType::Bigint), ("a", ColumnType::Bigint)]);
        let c = schema(&[("a", ColumnType::Bigint), ("b", ColumnType::Double)]);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn dataset_id_is_uuid_v5_of_the_name() {
        let id = dataset_id("people");
        assert_eq!(id.get_version_num(), 5);
        assert_eq!(id, dataset_id("people"));
        assert_ne!(id, dataset_id("People"));
        assert_eq!(
            DATASET_NAMESPACE.to_string(),
            "a8f3c1d2-4e5b-5a6c-9d8e-7f0a1b2c3d4e"
        );
    }

    #[test]
    fn names() {
        assert!(check_name("people").is_ok());
        assert!(check_name("_x9").is_ok());
        assert!(check_name("9x").is_err());
        assert!(check_name("a-b").is_err());
        assert!(check_name("").is_err());
        assert!(check_name(&"a".repeat(64)).is_err());
        assert_eq!(name_from_stem("My Data-2024"), "my_data_2024");
        assert_eq!(name_from_stem("2024"), "_2024");
        assert_eq!(name_from_stem("naïve"), "na_ve");
    }

    #[test]
    fn diff_names_every_change() {
        let old = schema(&[("id", ColumnType::Bigint), ("name", ColumnType::Varchar)]);
        let new = schema(&[("id", ColumnType::Varchar), ("email", ColumnType::Varchar)]);
        let diff = old.diff(&new);
        assert_eq!(
            diff.to_string(),
            "added email VARCHAR; removed name VARCHAR; retyped id BIGINT -> VARCHAR"
        );
    }

    #[test]
    fn nested_types_are_named_and_parsed_as_duckdb_names_them() {
        let t = ColumnType::Struct(vec![
            Column {
                name: "id".into(),
                column_type: ColumnType::Bigint,
            },
            Column {
                name: "say \"hi\", you".into(),
                column_type: ColumnType::List(Box::new(ColumnType::Struct(vec![Column {
                    name: "at".into(),
                    column_type: ColumnType::Timestamptz,
                }]))),
            },
        ]);
        let name = t.to_string();
        assert_eq!(
            name,
            r#"STRUCT("id" BIGINT, "say ""hi"", you" STRUCT("at" TIMESTAMPTZ)[])"#
        );
        assert_eq!(name.parse::<ColumnType>(), Ok(t.clone()));
        assert_eq!(
            "struct(a int[][], b timestamp with time zone)".parse::<ColumnType>(),
            Ok(ColumnType::Struct(vec![
                Column {
                    name: "a".into(),
                    column_type: ColumnType::List(Box::new(ColumnType::List(Box::new(
                        ColumnType::Bigint
                    )))),
                },
                Column {
                    name: "b".into(),
                    column_type: ColumnType::Timestamptz,
                },
            ]))
        );
        assert_eq!(serde_json::to_value(&t).unwrap(), serde_json::json!(name));
        for bad in [
            "STRUCT(a BIGINT",
            "STRUCT(\"a BIGINT)",
            "STRUCT()",
            "BIGINT]",
            "NUMBER[]",
        ] {
            assert!(bad.parse::<ColumnType>().is_err(), "{bad}");
        }
        assert!(widens(&ColumnType::Bigint, &ColumnType::Varchar));
        assert!(!widens(&t, &ColumnType::Varchar));
        let list = |t| ColumnType::List(Box::new(t));
        assert!(widens(&list(ColumnType::Bigint), &list(ColumnType::Double)));
        assert!(!widens(
            &list(ColumnType::Double),
            &list(ColumnType::Bigint)
        ));
        let wider = "STRUCT(\"id\" DOUBLE, \"say \"\"hi\"\", you\" STRUCT(\"at\" VARCHAR)[])";
        assert!(widens(&t, &wider.parse().unwrap()));
        let other = "STRUCT(\"id\" DOUBLE, \"say\" STRUCT(\"at\" VARCHAR)[])";
        assert!(!widens(&t, &other.parse().unwrap()));
    }

    #[test]
    fn fixed_size_float_arrays_are_vectors() {
        for name in ["FLOAT[384]", "real[384]", " float4 [ 384 ] ", "DOUBLE[384]"] {
            assert_eq!(name.parse(), Ok(ColumnType::Vector(384)), "{name}");
        }
        assert_eq!(ColumnType::Vector(3).to_string(), "FLOAT[3]");
        assert_eq!(
            "FLOAT[2][]".parse(),
            Ok(ColumnType::List(Box::new(ColumnType::Vector(2))))
        );
        for bad in [
            "FLOAT[0]",
            "FLOAT[x]",
            "BIGINT[3]",
            "VARCHAR[2]",
            "FLOAT[70000]",
        ] {
            assert!(bad.parse::<ColumnType>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn fingerprint_is_stable_and_separators_prevent_collisions(
            names in proptest::collection::vec("[a-z,]{1,6}", 1..5)
        ) {
            let s = Schema { columns: names.iter().map(|n| Column { name: n.clone(), column_type: ColumnType::Varchar }).collect() };
            prop_assert_eq!(s.fingerprint(), s.clone().fingerprint());
            // Joining all names into one column never gives the same fingerprint.
            let joined = Schema { columns: vec![Column { name: names.concat(), column_type: ColumnType::Varchar }] };
            if names.len() > 1 {
                prop_assert_ne!(s.fingerprint(), joined.fingerprint());
            }
        }

        #[test]
        fn default_names_are_always_valid(stem in "\\PC{0,80}") {
            prop_assert!(check_name(&name_from_stem(&stem)).is_ok());
        }
    }
}
