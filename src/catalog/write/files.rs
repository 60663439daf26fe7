//! The files of a snapshot being written: a new object added with its name
//! mapping and statistics, the files a replace ends, a restore's files
//! brought back, and the table statistics DuckDB answers aggregates from.

use crate::catalog::db::{Db, OptionalExtension, params};

use super::Writer;
use crate::catalog::columns::TableColumn;
use crate::catalog::read::{MainSchema, TableRow, live};
use crate::catalog::stats::{self, TableColumnStats};
use crate::catalog::{CatalogError, ColumnStats, NewObject, SnapshotId, sql};
use crate::schema::{ColumnType, quote_ident};

impl Writer<'_> {
    /// Ends every live data file (and delete file) of the table; returns how
    /// many data files it ended.
    pub fn end_files(&mut self, table_id: i64) -> Result<usize, CatalogError> {
        let n = self.end_rows("ducklake_data_file", table_id)?;
        self.end_rows("ducklake_delete_file", table_id)?;
        if n > 0 {
            self.change(format!("deleted_from_table:{table_id}"));
        }
        Ok(n)
    }

    /// Records a new Parquet object of `table`, whose columns are `columns`
    /// (in the object's order), with its name mapping and statistics.
    pub fn add_file(
        &mut self,
        table: &TableRow,
        main: &MainSchema,
        object: &NewObject,
        columns: &[TableColumn],
    ) -> Result<i64, CatalogError> {
        let dir = table.dir(main).map_err(CatalogError::Invalid)?;
        let path = object.object.key.strip_prefix(&dir).ok_or_else(|| {
            CatalogError::Invalid(format!(
                "object {} is not in its table's directory {dir}",
                object.object.key
            ))
        })?;
        let file_id = self.file_id();
        let mapping_id = self.mapping(table.table_id, columns)?;
        let first_rows = !self.has_table_stats(table.table_id)?;
        let row_id_start =
            self.grow_table_stats(table.table_id, object.object.rows, object.object.bytes)?;
        self.conn
            .execute(
                "INSERT INTO ducklake_data_file (data_file_id, table_id, begin_snapshot,
                     end_snapshot, file_order, path, path_is_relative, file_format, record_count,
                     file_size_bytes, footer_size, row_id_start, partition_id, encryption_key,
                     mapping_id, partial_max)
                 VALUES (?1, ?2, ?3, NULL, NULL, ?4, TRUE, 'parquet', ?5, ?6, ?7, ?8, NULL, NULL, ?9, NULL)",
                params![
                    file_id,
                    table.table_id,
                    self.id,
                    path,
                    object.object.rows,
                    object.object.bytes,
                    object.footer_size,
                    row_id_start,
                    mapping_id
                ],
            )
            .map_err(sql("recording a data file"))?;
        let recorded = !object.stats.is_empty();
        self.conn
            .execute(
                "INSERT INTO lake_object (data_file_id, sha256, stats_recorded) VALUES (?1, ?2, ?3)
                 ON CONFLICT (data_file_id) DO UPDATE
                 SET sha256 = excluded.sha256, stats_recorded = excluded.stats_recorded",
                params![file_id, object.sha256, i64::from(recorded)],
            )
            .map_err(sql("recording an object"))?;
        if recorded {
            write_file_stats(
                self.conn,
                table.table_id,
                file_id,
                columns,
                &object.stats,
                first_rows,
            )?;
        }
        self.change(format!("inserted_into_table:{}", table.table_id));
        Ok(file_id)
    }

    /// The name mapping of files whose columns are `columns` (in file order,
    /// with these ids and types): one per shape and table, so that files of
    /// one shape are read together.
    pub(super) fn mapping(
        &mut self,
        table_id: i64,
        columns: &[TableColumn],
    ) -> Result<i64, CatalogError> {
        /// A column's type and id, its children's inside.
        /// `type#id`, as catalogs before nested types recorded it, with
        /// the children's inside `(...)`.
        fn shape_of(c: &TableColumn) -> String {
            let shape = format!("{}#{}", c.ducklake_type, c.column_id);
            if c.children.is_empty() {
                return shape;
            }
            let children = c
                .children
                .iter()
                .map(|c| format!("{} {}", quote_ident(&c.name), shape_of(c)));
            format!("{shape}({})", children.collect::<Vec<_>>().join(","))
        }
        let shape =
            crate::schema::fingerprint_of(columns.iter().map(|c| (c.name.clone(), shape_of(c))));
        let existing: Option<i64> = self
            .conn
            .query_row(
                "SELECT m.mapping_id FROM lake_mapping m
                 JOIN ducklake_column_mapping d USING (mapping_id)
                 WHERE m.table_id = ?1 AND m.shape = ?2 LIMIT 1",
                params![table_id, shape],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading a column mapping"))?;
        if let Some(id) = existing {
            return Ok(id);
        }
        let mapping_id = self.file_id();
        self.conn
            .execute(
                "INSERT INTO ducklake_column_mapping (mapping_id, table_id, type)
                 VALUES (?1, ?2, 'map_by_name')",
                params![mapping_id, table_id],
            )
            .map_err(sql("recording a column mapping"))?;
        let mut insert = self
            .conn
            .prepare_cached(
                "INSERT INTO ducklake_name_mapping (mapping_id, column_id, source_name,
                     target_field_id, parent_column, is_partition)
                 VALUES (?1, ?2, ?3, ?4, ?5, FALSE)",
            )
            .map_err(sql("recording a column mapping"))?;
        // Numbered in order, parents before their children (how DuckDB
        // reads them back).
        let mut next = 0i64;
        let mut todo: Vec<(&TableColumn, Option<i64>)> =
            columns.iter().rev().map(|c| (c, None)).collect();
        while let Some((c, parent)) = todo.pop() {
            let id = next;
            next += 1;
            insert
                .execute(params![mapping_id, id, c.name, c.column_id, parent])
                .map_err(sql("recording a column mapping"))?;
            todo.extend(c.children.iter().rev().map(|child| (child, Some(id))));
        }
        drop(insert);
        self.conn
            .execute(
                "INSERT INTO lake_mapping (mapping_id, table_id, shape) VALUES (?1, ?2, ?3)",
                params![mapping_id, table_id, shape],
            )
            .map_err(sql("recording a column mapping"))?;
        Ok(mapping_id)
    }

    /// Makes the data files (and their deletions) live at `at` live again,
    /// as new rows naming the same objects: no copy.
    pub fn restore_files(&mut self, table_id: i64, at: SnapshotId) -> Result<(), CatalogError> {
        let mut stmt = self
            .conn
            .prepare(concat!(
                "SELECT x.data_file_id, x.record_count, x.file_size_bytes FROM ducklake_data_file x
                 WHERE x.table_id = ?1 AND ",
                live!("x"),
                " ORDER BY x.data_file_id"
            ))
            .map_err(sql("reading data files"))?;
        let files: Vec<(i64, i64, i64)> = stmt
            .query_map(params![table_id, at], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .and_then(|rows| rows.collect())
            .map_err(sql("reading data files"))?;
        for (old, rows, bytes) in files {
            let new = self.file_id();
            let row_id_start =
                self.grow_table_stats(table_id, rows.max(0) as u64, bytes.max(0) as u64)?;
            self.conn
                .execute(
                    "INSERT INTO ducklake_data_file (data_file_id, table_id, begin_snapshot,
                         end_snapshot, file_order, path, path_is_relative, file_format,
                         record_count, file_size_bytes, footer_size, row_id_start, partition_id,
                         encryption_key, mapping_id, partial_max)
                     SELECT ?2, table_id, ?3, NULL, file_order, path, path_is_relative,
                         file_format, record_count, file_size_bytes, footer_size, ?4,
                         partition_id, encryption_key, mapping_id, partial_max
                     FROM ducklake_data_file WHERE data_file_id = ?1",
                    params![old, new, self.id, row_id_start],
                )
                .map_err(sql("restoring a data file"))?;
            self.conn
                .execute(
                    "INSERT INTO ducklake_file_column_stats (data_file_id, table_id, column_id,
                         column_size_bytes, value_count, null_count, min_value, max_value,
                         contains_nan, extra_stats)
                     SELECT ?2, table_id, column_id, column_size_bytes, value_count, null_count,
                         min_value, max_value, contains_nan, extra_stats
                     FROM ducklake_file_column_stats WHERE data_file_id = ?1",
                    params![old, new],
                )
                .map_err(sql("restoring file statistics"))?;
            self.conn
                .execute(
                    "INSERT INTO lake_object (data_file_id, sha256, stats_recorded)
                     SELECT ?2, sha256, stats_recorded FROM lake_object WHERE data_file_id = ?1",
                    params![old, new],
                )
                .map_err(sql("restoring an object"))?;
            let deletes: Vec<i64> = {
                let mut stmt = self
                    .conn
                    .prepare(concat!(
                        "SELECT x.delete_file_id FROM ducklake_delete_file x
                         WHERE x.data_file_id = ?1 AND ",
                        live!("x")
                    ))
                    .map_err(sql("reading delete files"))?;
                stmt.query_map(params![old, at], |r| r.get(0))
                    .and_then(|rows| rows.collect())
                    .map_err(sql("reading delete files"))?
            };
            for d in deletes {
                let new_delete = self.file_id();
                self.conn
                    .execute(
                        "INSERT INTO ducklake_delete_file (delete_file_id, table_id, begin_snapshot,
                             end_snapshot, data_file_id, path, path_is_relative, format,
                             delete_count, file_size_bytes, footer_size, encryption_key, partial_max)
                         SELECT ?2, table_id, ?3, NULL, ?4, path, path_is_relative, format,
                             delete_count, file_size_bytes, footer_size, encryption_key, partial_max
                         FROM ducklake_delete_file WHERE delete_file_id = ?1",
                        params![d, new_delete, self.id, new],
                    )
                    .map_err(sql("restoring a delete file"))?;
            }
            self.change(format!("inserted_into_table:{table_id}"));
        }
        Ok(())
    }

    /// Whether the table's statistics have been started (DuckDB starts
    /// them with a table's first rows, lake with its first file).
    pub(super) fn has_table_stats(&self, table_id: i64) -> Result<bool, CatalogError> {
        self.conn
            .query_row(
                "SELECT 1 FROM ducklake_table_stats WHERE table_id = ?1",
                [table_id],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(sql("reading table statistics"))
    }

    /// The rows in the table's files that stay live in this snapshot so far
    /// (rows DuckDB deleted from them included).
    pub(super) fn live_rows(&self, table_id: i64) -> Result<i64, CatalogError> {
        self.conn
            .query_row(
                "SELECT coalesce(sum(record_count), 0) FROM ducklake_data_file
                 WHERE table_id = ?1 AND end_snapshot IS NULL",
                [table_id],
                |r| r.get(0),
            )
            .map_err(sql("reading data files"))
    }

    /// Adds a file's rows and bytes to the table's statistics; returns the
    /// first row id of the file.
    pub(super) fn grow_table_stats(
        &self,
        table_id: i64,
        rows: u64,
        bytes: u64,
    ) -> Result<i64, CatalogError> {
        let current: Option<(i64, i64)> = self
            .conn
            .query_row(
                "SELECT record_count, next_row_id FROM ducklake_table_stats WHERE table_id = ?1",
                [table_id],
                |r| {
                    Ok((
                        r.get::<_, Option<i64>>(0)?.unwrap_or(0),
                        r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                    ))
                },
            )
            .optional()
            .map_err(sql("reading table statistics"))?;
        let (rows, bytes) = (rows as i64, bytes as i64);
        match current {
            Some((_, next_row_id)) => {
                self.conn
                    .execute(
                        "UPDATE ducklake_table_stats SET record_count = record_count + ?2,
                             next_row_id = next_row_id + ?2,
                             file_size_bytes = coalesce(file_size_bytes, 0) + ?3
                         WHERE table_id = ?1",
                        params![table_id, rows, bytes],
                    )
                    .map_err(sql("writing table statistics"))?;
                Ok(next_row_id)
            }
            None => {
                self.conn
                    .execute(
                        "INSERT INTO ducklake_table_stats (table_id, record_count, next_row_id, file_size_bytes)
                         VALUES (?1, ?2, ?2, ?3)",
                        params![table_id, rows, bytes],
                    )
                    .map_err(sql("writing table statistics"))?;
                Ok(0)
            }
        }
    }
}

/// Per-file column statistics, merged into the table's. `first_rows`: the
/// file starts the table's statistics (a column without a row gets one);
/// otherwise a column without a row has unknown statistics and keeps none.
pub(crate) fn write_file_stats(
    conn: &Db,
    table_id: i64,
    file_id: i64,
    columns: &[TableColumn],
    stats: &[ColumnStats],
    first_rows: bool,
) -> Result<(), CatalogError> {
    // A nested column's statistics would be its children's: not recorded.
    for (c, s) in columns
        .iter()
        .zip(stats)
        .filter(|(c, _)| c.children.is_empty())
    {
        let t = ColumnType::from_ducklake(&c.ducklake_type);
        // Whether a NaN is in a DOUBLE column: an integer file read as
        // DOUBLE (a narrower type) has none. Other columns have no NaN.
        let s = &ColumnStats {
            contains_nan: match t {
                Some(ColumnType::Double) => s.contains_nan,
                _ => None,
            },
            ..s.clone()
        };
        conn.prepare_cached(
            "INSERT INTO ducklake_file_column_stats (data_file_id, table_id, column_id,
                 column_size_bytes, value_count, null_count, min_value, max_value, contains_nan,
                 extra_stats)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                file_id,
                table_id,
                c.column_id,
                s.size_bytes,
                s.value_count,
                s.null_count,
                s.min,
                s.max,
                s.contains_nan
            ])
        })
        .map_err(sql("recording file statistics"))?;
        let Some(t) = t else {
            continue;
        };
        let current: Option<TableColumnStats> = conn
            .prepare_cached(
                "SELECT contains_null, contains_nan, min_value, max_value
                 FROM ducklake_table_column_stats WHERE table_id = ?1 AND column_id = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![table_id, c.column_id], |r| {
                    Ok(TableColumnStats {
                        contains_null: r.get::<_, Option<bool>>(0)?,
                        contains_nan: r.get::<_, Option<bool>>(1)?,
                        min: r.get(2)?,
                        max: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(sql("reading table statistics"))?;
        let existed = current.is_some();
        let base = match current {
            Some(current) => current,
            None if first_rows => TableColumnStats::new_column(&t, false),
            None => continue,
        };
        let merged = stats::merge(base, s, &t);
        put_table_stats(conn, table_id, c.column_id, existed, merged.as_ref())?;
    }
    Ok(())
}

/// Writes a column's row of table statistics: `stats`, or none when they
/// are unknown; `existed` if there is a row now.
pub(crate) fn put_table_stats(
    conn: &Db,
    table_id: i64,
    column_id: i64,
    existed: bool,
    stats: Option<&TableColumnStats>,
) -> Result<(), CatalogError> {
    let Some(stats) = stats else {
        return conn
            .prepare_cached(
                "DELETE FROM ducklake_table_column_stats WHERE table_id = ?1 AND column_id = ?2",
            )
            .and_then(|mut stmt| stmt.execute(params![table_id, column_id]))
            .map(drop)
            .map_err(sql("writing table statistics"));
    };
    let values = params![
        table_id,
        column_id,
        stats.contains_null,
        stats.contains_nan,
        stats.min,
        stats.max
    ];
    if existed {
        conn.prepare_cached(
            "UPDATE ducklake_table_column_stats SET contains_null = ?3, contains_nan = ?4,
                 min_value = ?5, max_value = ?6
             WHERE table_id = ?1 AND column_id = ?2",
        )
        .and_then(|mut stmt| stmt.execute(values))
    } else {
        conn.prepare_cached(
            "INSERT INTO ducklake_table_column_stats (table_id, column_id, contains_null,
                 contains_nan, min_value, max_value, extra_stats)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
        )
        .and_then(|mut stmt| stmt.execute(values))
    }
    .map(drop)
    .map_err(sql("writing table statistics"))
}
