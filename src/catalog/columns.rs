//! A table's columns as the catalog holds them (nested ones as a tree of
//! column rows), the lake schema they make, and its fingerprint.

use std::collections::HashMap;

use super::db::{Db, params};
use serde::Serialize;

use super::{CatalogError, SnapshotId, sql};
use crate::schema::{self, Column, ColumnType, Schema};

use super::read::live;

/// A column of a table at some snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableColumn {
    /// DuckLake's column id: the field id its files use.
    pub column_id: i64,
    pub name: String,
    /// The type as DuckLake spells it (`int64`, `varchar`, ...).
    pub ducklake_type: String,
    /// What files written before the column existed read as (NULL if none).
    pub initial_default: Option<String>,
    /// The fields of a STRUCT, the element of a LIST, the key and value of
    /// a MAP, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<TableColumn>,
    /// N of a `FLOAT[N]` column (a list of `float32` whose length
    /// `lake_vector_column` records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector_length: Option<usize>,
}

impl TableColumn {
    /// The type as DuckDB names it (`int32` is `INTEGER`, a STRUCT's field
    /// names quoted); a type DuckDB's name is not known for, as DuckLake
    /// spells it, upper-cased.
    pub fn sql_type(&self) -> String {
        let children = || self.children.iter().map(TableColumn::sql_type);
        match self.nested() {
            Some(Nested::Struct) => {
                let fields = self
                    .children
                    .iter()
                    .map(|c| format!("{} {}", schema::quote_ident(&c.name), c.sql_type()))
                    .collect::<Vec<_>>();
                format!("STRUCT({})", fields.join(", "))
            }
            Some(Nested::List) => match self.vector() {
                Some(n) => format!("FLOAT[{n}]"),
                None => format!("{}[]", children().collect::<String>()),
            },
            Some(Nested::Map) => format!("MAP({})", children().collect::<Vec<_>>().join(", ")),
            None => schema::duckdb_type(&self.ducklake_type)
                .unwrap_or_else(|| self.ducklake_type.to_ascii_uppercase()),
        }
    }

    /// Whether lake can read the column.
    pub fn readable(&self) -> bool {
        match self.nested() {
            Some(_) => self.children.iter().all(TableColumn::readable),
            None => self.children.is_empty() && schema::duckdb_type(&self.ducklake_type).is_some(),
        }
    }

    /// The lake type of the column, if lake ingests that type.
    pub fn column_type(&self) -> Option<ColumnType> {
        match self.nested() {
            Some(Nested::Struct) => self
                .children
                .iter()
                .map(|c| {
                    Some(Column {
                        name: c.name.clone(),
                        column_type: c.column_type()?,
                    })
                })
                .collect::<Option<_>>()
                .map(ColumnType::Struct),
            Some(Nested::List) => match self.vector() {
                Some(n) => Some(ColumnType::Vector(n)),
                None => Some(ColumnType::List(Box::new(self.children[0].column_type()?))),
            },
            Some(Nested::Map) => None,
            None if self.children.is_empty() => ColumnType::from_ducklake(&self.ducklake_type),
            None => None,
        }
    }

    /// N, if the column is a `FLOAT[N]`: a list of `float32` with its length.
    pub fn vector(&self) -> Option<usize> {
        let element = self.children.first()?;
        (self.ducklake_type.eq_ignore_ascii_case("list")
            && element.ducklake_type.eq_ignore_ascii_case("float32"))
        .then_some(self.vector_length?)
    }

    /// The nested type the column is, with as many children as it needs.
    fn nested(&self) -> Option<Nested> {
        let (nested, children) = match self.ducklake_type.to_ascii_lowercase().as_str() {
            "struct" => (Nested::Struct, self.children.len().max(1)),
            "list" => (Nested::List, 1),
            "map" => (Nested::Map, 2),
            _ => return None,
        };
        (self.children.len() == children).then_some(nested)
    }

    /// The column's id and its children's, and theirs.
    pub fn ids(&self) -> Vec<i64> {
        let mut ids = vec![self.column_id];
        for c in &self.children {
            ids.extend(c.ids());
        }
        ids
    }
}

/// The nested types DuckLake has.
enum Nested {
    Struct,
    List,
    Map,
}

pub(super) fn columns(
    conn: &Db,
    table_id: i64,
    at: SnapshotId,
) -> Result<Vec<TableColumn>, CatalogError> {
    // Every column, children too, in one query: a lookup per column is
    // quadratic on wide tables.
    let mut stmt = conn
        .prepare_cached(concat!(
            "SELECT x.column_id, x.column_name, x.column_type, x.initial_default, x.parent_column,
                 (SELECT v.length FROM lake_vector_column v
                  WHERE v.table_id = x.table_id AND v.column_id = x.column_id)
             FROM ducklake_column x
             WHERE x.table_id = ?1 AND ",
            live!("x"),
            " ORDER BY x.column_order, x.column_id"
        ))
        .map_err(sql("reading columns"))?;
    let mut by_parent: HashMap<Option<i64>, Vec<TableColumn>> = HashMap::new();
    let rows = stmt
        .query_map(params![table_id, at], |r| {
            let column = TableColumn {
                column_id: r.get(0)?,
                name: r.get(1)?,
                ducklake_type: r.get(2)?,
                initial_default: r.get(3)?,
                children: Vec::new(),
                vector_length: r
                    .get::<_, Option<i64>>(5)?
                    .and_then(|n| usize::try_from(n).ok()),
            };
            Ok((r.get::<_, Option<i64>>(4)?, column))
        })
        .map_err(sql("reading columns"))?;
    for row in rows {
        let (parent, column) = row.map_err(sql("reading columns"))?;
        by_parent.entry(parent).or_default().push(column);
    }
    /// Gives each column its children, and them theirs.
    fn adopt(columns: &mut [TableColumn], by_parent: &mut HashMap<Option<i64>, Vec<TableColumn>>) {
        for c in columns {
            if let Some(mut children) = by_parent.remove(&Some(c.column_id)) {
                adopt(&mut children, by_parent);
                c.children = children;
            }
        }
    }
    let mut top = by_parent.remove(&None).unwrap_or_default();
    adopt(&mut top, &mut by_parent);
    Ok(top)
}

/// The lake schema of `columns`, or the columns whose types lake does not
/// ingest.
pub(super) fn schema_of(columns: &[TableColumn]) -> Result<Schema, String> {
    let mut out = Vec::new();
    let mut foreign = Vec::new();
    for c in columns {
        match c.column_type() {
            Some(t) => out.push(Column {
                name: c.name.clone(),
                column_type: t,
            }),
            None => foreign.push(format!("{} {}", c.name, c.sql_type())),
        }
    }
    if foreign.is_empty() {
        Ok(Schema { columns: out })
    } else {
        Err(foreign.join(", "))
    }
}

/// The fingerprint of `columns`: the lake schema's, with DuckDB's type
/// names for types lake does not ingest.
pub(super) fn fingerprint(columns: &[TableColumn]) -> String {
    schema::fingerprint_of(columns.iter().map(|c| (c.name.clone(), c.sql_type())))
}
