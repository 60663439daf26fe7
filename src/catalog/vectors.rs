//! Vector indexes in the catalog, beside DuckLake's tables (DuckDB ignores
//! them): `lake_vector_index` names the `FLOAT[N]` columns that have one
//! and how it is built; `lake_vector_file` the index object of each data
//! object of such a column, by the data object's key. An index belongs to
//! its data object, which never changes: it is never stale, serves every
//! snapshot the object is live in, and goes when gc expires the last file
//! row naming the object.

use std::collections::HashMap;

use serde::Serialize;

use super::db::params;
use super::{Catalog, CatalogError, gc, sql};

/// A column's vector index, as `lake index ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VectorIndex {
    pub dataset: String,
    #[serde(skip)]
    pub table_id: i64,
    #[serde(skip)]
    pub column_id: i64,
    pub column: String,
    pub metric: String,
    pub m: i64,
    pub ef_construction: i64,
}

/// The index object of one data object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexObject {
    pub key: String,
    pub bytes: u64,
}

impl Catalog {
    /// The vector indexes of live datasets (of `name` only, if given).
    pub fn vector_indexes(&self, name: Option<&str>) -> Result<Vec<VectorIndex>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT t.table_name, v.table_id, v.column_id, c.column_name, v.metric, v.m,
                        v.ef_construction
                 FROM lake_vector_index v
                 JOIN ducklake_table t ON t.table_id = v.table_id AND t.end_snapshot IS NULL
                 JOIN ducklake_column c ON c.table_id = v.table_id AND c.column_id = v.column_id
                     AND c.end_snapshot IS NULL
                 ORDER BY t.table_name, c.column_name",
            )
            .map_err(sql("reading vector indexes"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(VectorIndex {
                    dataset: r.get(0)?,
                    table_id: r.get(1)?,
                    column_id: r.get(2)?,
                    column: r.get(3)?,
                    metric: r.get(4)?,
                    m: r.get(5)?,
                    ef_construction: r.get(6)?,
                })
            })
            .map_err(sql("reading vector indexes"))?;
        let all = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql("reading vector indexes"))?;
        Ok(all
            .into_iter()
            .filter(|i| name.is_none_or(|n| i.dataset.eq_ignore_ascii_case(n)))
            .collect())
    }

    /// Records that `index`'s column has a vector index (its objects are
    /// added as they are built). `false` when it already had one.
    pub fn add_vector_index(&mut self, index: &VectorIndex) -> Result<bool, CatalogError> {
        let added = self
            .conn
            .execute(
                "INSERT INTO lake_vector_index (table_id, column_id, metric, m, ef_construction)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                params![
                    index.table_id,
                    index.column_id,
                    index.metric,
                    index.m,
                    index.ef_construction
                ],
            )
            .map_err(sql("adding a vector index"))?;
        Ok(added == 1)
    }

    /// Forgets a column's vector index and its objects (gc deletes them).
    pub fn remove_vector_index(
        &mut self,
        table_id: i64,
        column_id: i64,
    ) -> Result<(), CatalogError> {
        let tx = self
            .conn
            .write_transaction()
            .map_err(sql("removing a vector index"))?;
        for table in ["lake_vector_file", "lake_vector_index"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE table_id = ?1 AND column_id = ?2"),
                params![table_id, column_id],
            )
            .map_err(sql("removing a vector index"))?;
        }
        tx.commit().map_err(sql("removing a vector index"))
    }

    /// The index objects of a column, by the key of their data object.
    pub fn vector_objects(
        &self,
        table_id: i64,
        column_id: i64,
    ) -> Result<HashMap<String, IndexObject>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT data_key, key, bytes FROM lake_vector_file
                 WHERE table_id = ?1 AND column_id = ?2",
            )
            .map_err(sql("reading vector index objects"))?;
        let rows = stmt
            .query_map(params![table_id, column_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    IndexObject {
                        key: r.get(1)?,
                        bytes: r.get::<_, i64>(2)?.max(0) as u64,
                    },
                ))
            })
            .map_err(sql("reading vector index objects"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("reading vector index objects"))
    }

    /// Records the index object of a data object, and ends the object's
    /// announcement ([`Catalog::pend`]) in the same transaction. Nothing
    /// is recorded when the index was removed meanwhile.
    pub fn add_vector_object(
        &mut self,
        table_id: i64,
        column_id: i64,
        data_key: &str,
        object: &IndexObject,
    ) -> Result<(), CatalogError> {
        let tx = self
            .conn
            .write_transaction()
            .map_err(sql("recording a vector index object"))?;
        tx.execute(
            "INSERT INTO lake_vector_file (table_id, column_id, data_key, key, bytes)
             SELECT ?1, ?2, ?3, ?4, ?5 FROM lake_vector_index
             WHERE table_id = ?1 AND column_id = ?2
             ON CONFLICT DO NOTHING",
            params![
                table_id,
                column_id,
                data_key,
                object.key,
                object.bytes as i64
            ],
        )
        .map_err(sql("recording a vector index object"))?;
        gc::unpend(&tx, &object.key)?;
        tx.commit().map_err(sql("recording a vector index object"))
    }
}
