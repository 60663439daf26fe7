//! Writing one DuckLake snapshot: new tables, columns and files, and the
//! rows a change ends. Rows are only ever added, or ended by setting
//! `end_snapshot`; ids come from the snapshot's counters.

use super::db::{Db, params};

mod files;

use files::put_table_stats;
pub(super) use files::write_file_stats;

use super::columns::{self, TableColumn};
use super::read::{MainSchema, Snap, TableRow, last_snapshot, live};
use super::stats::TableColumnStats;
use super::{CatalogError, SnapshotId, now, sql};
use crate::schema::{Column, ColumnType, EvolvePlan, LIST_ELEMENT, quote_ident};

/// One snapshot being written on top of the newest one.
pub(super) struct Writer<'c> {
    conn: &'c Db,
    pub base: Snap,
    id: SnapshotId,
    schema_version: i64,
    next_catalog_id: i64,
    next_file_id: i64,
    /// Tables whose schema this snapshot changes.
    ddl: Vec<i64>,
    changes: Vec<String>,
}

impl<'c> Writer<'c> {
    /// Starts a snapshot after the newest one. `conn` must be inside a write
    /// transaction.
    pub fn begin(conn: &'c Db) -> Result<Writer<'c>, CatalogError> {
        let base = last_snapshot(conn)?;
        Ok(Writer {
            conn,
            id: base.id + 1,
            schema_version: base.schema_version,
            next_catalog_id: base.next_catalog_id,
            next_file_id: base.next_file_id,
            base,
            ddl: Vec::new(),
            changes: Vec::new(),
        })
    }

    fn change(&mut self, entry: String) {
        if !self.changes.contains(&entry) {
            self.changes.push(entry);
        }
    }

    fn schema_changed(&mut self, table_id: i64) {
        if !self.ddl.contains(&table_id) {
            self.ddl.push(table_id);
        }
    }

    fn file_id(&mut self) -> i64 {
        self.next_file_id += 1;
        self.next_file_id - 1
    }

    fn catalog_id(&mut self) -> i64 {
        self.next_catalog_id += 1;
        self.next_catalog_id - 1
    }

    /// A new table in `main`; its files go to `<main>/<name>/`.
    pub fn create_table(
        &mut self,
        main: &MainSchema,
        name: &str,
        dataset_id: &str,
    ) -> Result<TableRow, CatalogError> {
        let table = TableRow {
            table_id: self.catalog_id(),
            uuid: uuid::Uuid::new_v5(
                &crate::schema::DATASET_NAMESPACE,
                format!("{name}/{}/{}", self.id, now()).as_bytes(),
            )
            .to_string(),
            name: name.to_owned(),
            path: format!("{name}/"),
            path_is_relative: true,
        };
        self.insert_table_row(main, &table)?;
        self.conn
            .execute(
                "INSERT INTO lake_dataset (table_id, dataset_id) VALUES (?1, ?2)
                 ON CONFLICT (table_id) DO UPDATE SET dataset_id = excluded.dataset_id",
                params![table.table_id, dataset_id],
            )
            .map_err(sql("recording a dataset id"))?;
        self.change(format!(
            "created_table:{}.{}",
            quote_ident("main"),
            quote_ident(&table.name)
        ));
        Ok(table)
    }

    /// Makes a dropped table live again under its old id.
    pub fn revive_table(
        &mut self,
        main: &MainSchema,
        table: &TableRow,
    ) -> Result<(), CatalogError> {
        self.insert_table_row(main, table)?;
        self.change(format!(
            "created_table:{}.{}",
            quote_ident("main"),
            quote_ident(&table.name)
        ));
        Ok(())
    }

    fn insert_table_row(
        &mut self,
        main: &MainSchema,
        table: &TableRow,
    ) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "INSERT INTO ducklake_table (table_id, table_uuid, begin_snapshot, end_snapshot,
                     schema_id, table_name, path, path_is_relative)
                 VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7)",
                params![
                    table.table_id,
                    table.uuid,
                    self.id,
                    main.id,
                    table.name,
                    table.path,
                    table.path_is_relative
                ],
            )
            .map_err(sql("creating a table"))?;
        self.schema_changed(table.table_id);
        Ok(())
    }

    /// Ends the table, its columns and its files.
    pub fn drop_table(&mut self, table_id: i64) -> Result<(), CatalogError> {
        self.end_rows("ducklake_table", table_id)?;
        self.end_rows("ducklake_column", table_id)?;
        self.end_rows("ducklake_data_file", table_id)?;
        self.end_rows("ducklake_delete_file", table_id)?;
        self.schema_changed(table_id);
        self.change(format!("dropped_table:{table_id}"));
        Ok(())
    }

    fn end_rows(&self, table: &str, table_id: i64) -> Result<usize, CatalogError> {
        self.conn
            .execute(
                &format!(
                    "UPDATE {table} SET end_snapshot = ?2
                     WHERE table_id = ?1 AND end_snapshot IS NULL"
                ),
                params![table_id, self.id],
            )
            .map_err(sql("ending rows"))
    }

    /// Adds columns after the live ones; returns them with their new ids.
    pub fn add_columns(
        &mut self,
        table_id: i64,
        columns: &[Column],
    ) -> Result<Vec<TableColumn>, CatalogError> {
        let order: i64 = self
            .conn
            .query_row(
                "SELECT coalesce(max(column_order), 0) FROM ducklake_column WHERE table_id = ?1",
                [table_id],
                |r| r.get(0),
            )
            .map_err(sql("reading columns"))?;
        let earlier_rows = self.live_rows(table_id)? > 0;
        let mut out = Vec::with_capacity(columns.len());
        for (i, col) in columns.iter().enumerate() {
            let column = self.new_column(&col.name, &col.column_type);
            self.insert_column(table_id, &column, order + 1 + i as i64, None)?;
            if column.children.is_empty() {
                let stats = TableColumnStats::new_column(&col.column_type, earlier_rows);
                put_table_stats(self.conn, table_id, column.column_id, false, Some(&stats))?;
            }
            out.push(column);
        }
        self.schema_changed(table_id);
        if !self.changes.iter().any(|c| c.starts_with("created_table:")) {
            self.change(format!("altered_table:{table_id}"));
        }
        Ok(out)
    }

    /// A new column of type `t` with new ids, its children's too (a
    /// LIST's element is named `element`, as DuckLake names it).
    fn new_column(&mut self, name: &str, t: &ColumnType) -> TableColumn {
        let column_id = self.catalog_id();
        let children = match t {
            ColumnType::Struct(fields) => fields
                .iter()
                .map(|f| self.new_column(&f.name, &f.column_type))
                .collect(),
            ColumnType::List(element) => vec![self.new_column(LIST_ELEMENT, element)],
            // DuckLake's FLOAT, which lake has no type of its own for.
            ColumnType::Vector(_) => vec![TableColumn {
                column_id: self.catalog_id(),
                name: LIST_ELEMENT.to_owned(),
                ducklake_type: "float32".to_owned(),
                initial_default: None,
                children: Vec::new(),
                vector_length: None,
            }],
            _ => Vec::new(),
        };
        TableColumn {
            column_id,
            name: name.to_owned(),
            ducklake_type: t.ducklake_name().to_owned(),
            initial_default: None,
            children,
            vector_length: match t {
                ColumnType::Vector(n) => Some(*n),
                _ => None,
            },
        }
    }

    /// Records a column (under `parent`, if a child) and its children.
    fn insert_column(
        &self,
        table_id: i64,
        c: &TableColumn,
        order: i64,
        parent: Option<i64>,
    ) -> Result<(), CatalogError> {
        self.conn
            .prepare_cached(
                "INSERT INTO ducklake_column (column_id, begin_snapshot, end_snapshot, table_id,
                     column_order, column_name, column_type, initial_default, default_value,
                     nulls_allowed, parent_column, default_value_type, default_value_dialect)
                 VALUES (?1, ?2, NULL, ?3, ?4, ?5, ?6, ?7, 'NULL', TRUE, ?8, 'literal', 'duckdb')",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    c.column_id,
                    self.id,
                    table_id,
                    order,
                    c.name,
                    c.ducklake_type,
                    c.initial_default,
                    parent
                ])
            })
            .map_err(sql("adding a column"))?;
        if let Some(n) = c.vector_length {
            self.conn
                .execute(
                    "INSERT INTO lake_vector_column (table_id, column_id, length)
                     VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    params![table_id, c.column_id, n as i64],
                )
                .map_err(sql("adding a column"))?;
        }
        for (i, child) in c.children.iter().enumerate() {
            self.insert_column(table_id, child, i as i64 + 1, Some(c.column_id))?;
        }
        Ok(())
    }

    /// Applies an evolution plan to the live `columns`; returns the
    /// table's columns after it.
    pub fn evolve(
        &mut self,
        table_id: i64,
        columns: &[TableColumn],
        plan: &EvolvePlan,
    ) -> Result<Vec<TableColumn>, CatalogError> {
        let find = |name: &str| columns.iter().find(|c| c.name == name);
        for col in &plan.removed {
            if let Some(c) = find(&col.name) {
                for id in c.ids() {
                    self.end_column(table_id, id)?;
                }
            }
        }
        for r in &plan.widened {
            let Some(c) = find(&r.name) else { continue };
            let order: i64 = self
                .conn
                .query_row(
                    concat!(
                        "SELECT x.column_order FROM ducklake_column x
                         WHERE x.table_id = ?1 AND x.column_id = ?3 AND ",
                        live!("x")
                    ),
                    params![table_id, self.base.id, c.column_id],
                    |row| row.get(0),
                )
                .map_err(sql("reading a column"))?;
            self.end_column(table_id, c.column_id)?;
            let widened = TableColumn {
                ducklake_type: r.to.ducklake_name().to_owned(),
                ..c.clone()
            };
            self.insert_column(table_id, &widened, order, None)?;
            if r.to == ColumnType::Varchar {
                // Old bounds compare as numbers, not text: the table's
                // statistics of the column are no longer known.
                put_table_stats(self.conn, table_id, c.column_id, true, None)?;
                self.conn
                    .execute(
                        "UPDATE ducklake_file_column_stats SET min_value = NULL, max_value = NULL
                         WHERE table_id = ?1 AND column_id = ?2",
                        params![table_id, c.column_id],
                    )
                    .map_err(sql("writing file statistics"))?;
            } else if r.to == ColumnType::Double {
                // Integers are never NaN.
                self.conn
                    .execute(
                        "UPDATE ducklake_table_column_stats SET contains_nan = FALSE
                         WHERE table_id = ?1 AND column_id = ?2 AND contains_nan IS NULL",
                        params![table_id, c.column_id],
                    )
                    .map_err(sql("writing table statistics"))?;
            }
        }
        if !plan.added.is_empty() {
            self.add_columns(table_id, &plan.added)?;
        }
        self.schema_changed(table_id);
        self.change(format!("altered_table:{table_id}"));
        columns::columns(self.conn, table_id, self.id)
    }

    fn end_column(&mut self, table_id: i64, column_id: i64) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "UPDATE ducklake_column SET end_snapshot = ?3
                 WHERE table_id = ?1 AND column_id = ?2 AND end_snapshot IS NULL",
                params![table_id, column_id, self.id],
            )
            .map_err(sql("ending a column"))?;
        self.schema_changed(table_id);
        Ok(())
    }

    /// Ends every live column of the table.
    pub fn end_columns(&mut self, table_id: i64) -> Result<(), CatalogError> {
        self.end_rows("ducklake_column", table_id)?;
        self.schema_changed(table_id);
        Ok(())
    }

    /// Makes the columns of an earlier snapshot live again, with their ids
    /// (top-level columns and their children), unless they are live now.
    pub fn restore_columns(&mut self, table_id: i64, at: SnapshotId) -> Result<(), CatalogError> {
        let now_live = columns::columns(self.conn, table_id, self.base.id)?;
        let then = columns::columns(self.conn, table_id, at)?;
        if now_live == then {
            return Ok(());
        }
        self.end_rows("ducklake_column", table_id)?;
        self.conn
            .execute(
                concat!(
                    "INSERT INTO ducklake_column (column_id, begin_snapshot, end_snapshot, table_id,
                         column_order, column_name, column_type, initial_default, default_value,
                         nulls_allowed, parent_column, default_value_type, default_value_dialect)
                     SELECT column_id, ?3, NULL, table_id, column_order, column_name, column_type,
                         initial_default, default_value, nulls_allowed, parent_column,
                         default_value_type, default_value_dialect
                     FROM ducklake_column x WHERE x.table_id = ?1 AND ",
                    live!("x")
                ),
                params![table_id, at, self.id],
            )
            .map_err(sql("restoring columns"))?;
        self.schema_changed(table_id);
        if !self.changes.iter().any(|c| c.starts_with("created_table:")) {
            self.change(format!("altered_table:{table_id}"));
        }
        Ok(())
    }

    /// Writes the snapshot row and its change list.
    pub fn finish(self, time: &str, message: &str) -> Result<SnapshotId, CatalogError> {
        let schema_version = if self.ddl.is_empty() {
            self.schema_version
        } else {
            self.schema_version + 1
        };
        self.conn
            .execute(
                "INSERT INTO ducklake_snapshot (snapshot_id, snapshot_time, schema_version,
                     next_catalog_id, next_file_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    self.id,
                    time,
                    schema_version,
                    self.next_catalog_id,
                    self.next_file_id
                ],
            )
            .map_err(sql("recording a snapshot"))?;
        self.conn
            .execute(
                "INSERT INTO ducklake_snapshot_changes (snapshot_id, changes_made, author,
                     commit_message, commit_extra_info)
                 VALUES (?1, ?2, 'lake', ?3, NULL)",
                params![self.id, self.changes.join(","), message],
            )
            .map_err(sql("recording a snapshot"))?;
        for table_id in &self.ddl {
            self.conn
                .execute(
                    "INSERT INTO ducklake_schema_versions (begin_snapshot, schema_version, table_id)
                     VALUES (?1, ?2, ?3)",
                    params![self.id, schema_version, table_id],
                )
                .map_err(sql("recording a schema version"))?;
        }
        Ok(self.id)
    }
}
