//! Migration 2: the catalog becomes a DuckLake 1.0 catalog. The DuckLake
//! tables are created with snapshot 0 (the `main` schema); a catalog made
//! before DuckLake has its versions replayed as snapshots, oldest first, and
//! its own tables dropped. A new PostgreSQL catalog starts as this
//! migration leaves a SQLite one (`create_postgres`).

use std::collections::HashMap;

use super::db::{DbError, DbResult, Transaction, params};

use super::ducklake_ddl::{DUCKLAKE_TABLES, DUCKLAKE_TABLES_POSTGRES};
use super::read::{TableRow, main_schema};
use super::write::Writer;
use super::{CatalogError, NewObject, ObjectRef};
use crate::schema::Schema;

/// lake's own tables beside DuckLake's, keyed by DuckLake ids, and indexes
/// that keep reads fast whatever the history (DuckDB ignores them).
const LAKE_TABLES: &str = "
    CREATE TABLE IF NOT EXISTS settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE lake_dataset (
        table_id   INTEGER PRIMARY KEY,
        dataset_id TEXT NOT NULL
    );
    CREATE TABLE lake_mapping (
        mapping_id INTEGER PRIMARY KEY,
        table_id   INTEGER NOT NULL,
        shape      TEXT NOT NULL
    );
    CREATE INDEX lake_mapping_by_shape ON lake_mapping (table_id, shape);
    CREATE TABLE lake_object (
        data_file_id   INTEGER PRIMARY KEY,
        sha256         TEXT NOT NULL,
        stats_recorded INTEGER NOT NULL
    );
    CREATE INDEX lake_table_by_name ON ducklake_table (schema_id, end_snapshot, table_name);
    CREATE INDEX lake_table_by_id ON ducklake_table (table_id, begin_snapshot);
    CREATE INDEX lake_column_by_table ON ducklake_column (table_id, end_snapshot);
    CREATE INDEX lake_data_file_by_table ON ducklake_data_file (table_id, end_snapshot);
    CREATE INDEX lake_delete_file_by_table ON ducklake_delete_file (table_id, end_snapshot);
    CREATE INDEX lake_file_stats_by_file ON ducklake_file_column_stats (data_file_id);
    CREATE INDEX lake_table_stats_by_table ON ducklake_table_stats (table_id);
    CREATE INDEX lake_table_column_stats_by_table ON ducklake_table_column_stats (table_id, column_id);
    CREATE INDEX lake_name_mapping_by_mapping ON ducklake_name_mapping (mapping_id);
    CREATE INDEX lake_object_without_stats ON lake_object (data_file_id) WHERE stats_recorded = 0;
";

fn to_db_error(e: CatalogError) -> DbError {
    match e {
        CatalogError::Sql { source, .. } | CatalogError::Open { source, .. } => source,
        other => DbError::Refused(other.to_string()),
    }
}

/// A time written by lake before DuckLake (RFC 3339) as DuckLake writes it.
fn ducklake_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S%.6f+00")
                .to_string()
        })
        .unwrap_or_else(|_| super::now())
}

pub(super) fn to_ducklake(tx: &Transaction<'_>) -> DbResult<()> {
    tx.execute_batch(DUCKLAKE_TABLES)?;
    tx.execute_batch(LAKE_TABLES)?;
    let legacy = tx.has_table("versions")?;
    let first_time: Option<String> = if legacy {
        tx.query_row("SELECT min(created_at) FROM versions", [], |r| r.get(0))?
    } else {
        None
    };
    first_snapshot(
        tx,
        &first_time.as_deref().map_or_else(super::now, ducklake_time),
    )?;
    if legacy {
        replay(tx).map_err(to_db_error)?;
        tx.execute_batch("DROP TABLE version_objects; DROP TABLE versions; DROP TABLE datasets;")?;
    }
    Ok(())
}

/// Makes a new PostgreSQL database a lake's catalog, as migrations 1 to
/// `MIGRATIONS_AT_CREATION` leave a SQLite one: DuckLake's tables (with
/// PostgreSQL's types), lake's own, and the first snapshot.
pub(super) fn create_postgres(tx: &Transaction<'_>) -> DbResult<()> {
    tx.execute_batch(DUCKLAKE_TABLES_POSTGRES)?;
    // lake's ids are DuckLake's BIGINTs (SQLite's INTEGER is 64-bit).
    tx.execute_batch(&LAKE_TABLES.replace("INTEGER", "BIGINT"))?;
    first_snapshot(tx, &super::now())
}

/// DuckLake's metadata and snapshot 0, which creates the `main` schema.
fn first_snapshot(tx: &Transaction<'_>, time: &str) -> DbResult<()> {
    let created_by = concat!("lake ", env!("CARGO_PKG_VERSION"));
    tx.execute(
        "INSERT INTO ducklake_metadata (key, value, scope, scope_id) VALUES
            ('version', ?1, NULL, NULL), ('created_by', ?2, NULL, NULL),
            ('encrypted', 'false', NULL, NULL),
            ('data_inlining_row_limit', '0', NULL, NULL)",
        params![super::DUCKLAKE_VERSION, created_by],
    )?;
    tx.execute(
        "INSERT INTO ducklake_snapshot (snapshot_id, snapshot_time, schema_version, next_catalog_id, next_file_id)
         VALUES (0, ?1, 0, 1, 0)",
        [time],
    )?;
    tx.execute(
        "INSERT INTO ducklake_snapshot_changes (snapshot_id, changes_made, author, commit_message, commit_extra_info)
         VALUES (0, 'created_schema:\"main\"', 'lake', 'created the lake', NULL)",
        [],
    )?;
    let schema_uuid = uuid::Uuid::new_v5(
        &crate::schema::DATASET_NAMESPACE,
        format!("main/{time}").as_bytes(),
    );
    tx.execute(
        "INSERT INTO ducklake_schema (schema_id, schema_uuid, begin_snapshot, end_snapshot, schema_name, path, path_is_relative)
         VALUES (0, ?1, 0, NULL, 'main', ?2, TRUE)",
        params![schema_uuid.to_string(), super::DATASETS_PREFIX],
    )?;
    Ok(())
}

/// One version of the catalog before DuckLake.
struct OldVersion {
    dataset: String,
    dataset_id: String,
    schema: Schema,
    created_at: String,
    objects: Vec<ObjectRef>,
}

fn old_versions(tx: &Transaction<'_>) -> Result<Vec<OldVersion>, CatalogError> {
    let sql = super::sql("reading the catalog before DuckLake");
    let mut stmt = tx
        .prepare(
            "SELECT v.dataset, d.dataset_id, v.version, v.schema, v.created_at
             FROM versions v JOIN datasets d ON d.name = v.dataset
             ORDER BY v.created_at, v.dataset, v.version",
        )
        .map_err(super::sql("reading the catalog before DuckLake"))?;
    let rows: Vec<(String, String, i64, String, String)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .and_then(|rows| rows.collect())
        .map_err(sql)?;
    let mut out = Vec::with_capacity(rows.len());
    let mut objects = tx
        .prepare(
            "SELECT key, rows, bytes FROM version_objects
             WHERE dataset = ?1 AND version = ?2 ORDER BY position",
        )
        .map_err(super::sql("reading the catalog before DuckLake"))?;
    for (dataset, dataset_id, version, schema, created_at) in rows {
        let schema: Schema =
            serde_json::from_str(&schema).map_err(|source| CatalogError::BadSchema {
                name: dataset.clone(),
                source,
            })?;
        let objs: Vec<ObjectRef> = objects
            .query_map(params![dataset, version], |r| {
                Ok(ObjectRef {
                    key: r.get(0)?,
                    rows: r.get(1)?,
                    bytes: r.get(2)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(super::sql("reading the catalog before DuckLake"))?;
        out.push(OldVersion {
            dataset,
            dataset_id,
            schema,
            created_at,
            objects: objs,
        });
    }
    Ok(out)
}

/// Replays every old version as one snapshot: the first creates the table,
/// later ones end the objects that left and add the ones that came.
fn replay(tx: &Transaction<'_>) -> Result<(), CatalogError> {
    // Per dataset: its table, columns and live objects (key -> file id).
    struct Live {
        table: TableRow,
        fingerprint: String,
        columns: Vec<super::TableColumn>,
        keys: HashMap<String, i64>,
    }
    let mut live: HashMap<String, Live> = HashMap::new();
    for v in old_versions(tx)? {
        let mut w = Writer::begin(tx)?;
        let main = main_schema(tx, w.base.id)?;
        let message;
        let mut schema_changed = false;
        let mut entry = match live.remove(&v.dataset) {
            None => {
                let table = w.create_table(&main, &v.dataset, &v.dataset_id)?;
                let columns = w.add_columns(table.table_id, &v.schema.columns)?;
                message = "created";
                Live {
                    table,
                    fingerprint: v.schema.fingerprint(),
                    columns,
                    keys: HashMap::new(),
                }
            }
            Some(mut entry) => {
                message = "updated";
                schema_changed = entry.fingerprint != v.schema.fingerprint();
                if schema_changed {
                    w.end_columns(entry.table.table_id)?;
                    entry.columns = w.add_columns(entry.table.table_id, &v.schema.columns)?;
                    entry.fingerprint = v.schema.fingerprint();
                }
                entry
            }
        };
        let wanted: Vec<&str> = v.objects.iter().map(|o| o.key.as_str()).collect();
        let leaving = entry.keys.keys().any(|k| !wanted.contains(&k.as_str()));
        if leaving || schema_changed {
            // Old objects that stay are re-added below with the rest: a
            // version that drops any object replaced the data.
            w.end_files(entry.table.table_id)?;
            entry.keys.clear();
        }
        for o in &v.objects {
            if entry.keys.contains_key(&o.key) {
                continue;
            }
            let sha256 = o
                .key
                .rsplit('/')
                .next()
                .and_then(|f| f.strip_suffix(".parquet"))
                .unwrap_or_default()
                .to_owned();
            let id = w.add_file(
                &entry.table,
                &main,
                &NewObject {
                    object: o.clone(),
                    sha256,
                    footer_size: None,
                    stats: Vec::new(),
                },
                &entry.columns,
            )?;
            entry.keys.insert(o.key.clone(), id);
        }
        w.finish(&ducklake_time(&v.created_at), message)?;
        live.insert(v.dataset.clone(), entry);
    }
    Ok(())
}
