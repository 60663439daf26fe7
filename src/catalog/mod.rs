//! The SQLite catalog: settings, datasets, their versions and objects.
//!
//! WAL mode, a busy timeout and `BEGIN IMMEDIATE` for every write let several
//! `lake` processes share one catalog.

mod migrations;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use thiserror::Error;

use crate::schema::{Schema, SchemaDiff};

/// How long a writer waits for another process's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors from the catalog.
#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("dataset not found: {name}")]
    NotFound { name: String },
    #[error("schema conflict on dataset {name}: {diff} (use --replace to accept the new schema)")]
    SchemaConflict { name: String, diff: SchemaDiff },
    #[error("catalog {path}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("catalog: {context}")]
    Sql {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("catalog holds a schema it cannot read for {name}")]
    BadSchema {
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

fn sql(context: &'static str) -> impl FnOnce(rusqlite::Error) -> CatalogError {
    move |source| CatalogError::Sql { context, source }
}

/// One object of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    pub key: String,
    pub rows: u64,
    pub bytes: u64,
}

/// One version of a dataset.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub version: u64,
    pub rows: u64,
    pub bytes: u64,
    pub fingerprint: String,
    #[serde(skip)]
    pub schema: Schema,
    pub created_at: String,
    pub objects: Vec<ObjectRef>,
}

/// A dataset and its current version.
#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    pub name: String,
    pub dataset_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub current: Version,
}

/// How an ingest relates to the current version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Same schema: the new object replaces the data.
    Overwrite,
    /// Same schema: the new object is added to the current ones.
    Append,
    /// Any schema: the new object replaces the data.
    Replace,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitStatus {
    Created,
    Updated,
    Unchanged,
}

impl std::fmt::Display for CommitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CommitStatus::Created => "created",
            CommitStatus::Updated => "updated",
            CommitStatus::Unchanged => "unchanged",
        })
    }
}

/// A new object offered to a dataset.
#[derive(Debug, Clone)]
pub struct Commit<'a> {
    pub name: &'a str,
    pub dataset_id: &'a str,
    pub schema: &'a Schema,
    pub object: ObjectRef,
    pub mode: WriteMode,
}

/// The outcome of a commit.
#[derive(Debug, Clone)]
pub struct Committed {
    pub status: CommitStatus,
    /// The dataset's name as the catalog spells it.
    pub name: String,
    pub version: Version,
}

/// The schema change a write mode refuses, if `schema` differs from the
/// current version's and the mode is not [`WriteMode::Replace`].
pub fn refused_change(current: &Version, schema: &Schema, mode: WriteMode) -> Option<SchemaDiff> {
    (mode != WriteMode::Replace && current.fingerprint != schema.fingerprint())
        .then(|| current.schema.diff(schema))
}

/// The SQLite catalog of one lake home.
pub struct Catalog {
    conn: Connection,
}

impl Catalog {
    /// Opens (creating and migrating) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Catalog, CatalogError> {
        let open_err = |source| CatalogError::Open {
            path: path.display().to_string(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        migrations::migrate(&mut conn).map_err(open_err)?;
        Ok(Catalog { conn })
    }

    /// The value of a setting, if set.
    pub fn setting(&self, key: &str) -> Result<Option<String>, CatalogError> {
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql("reading a setting"))
    }

    /// Sets `key` to `value` unless it is set already; returns the value in
    /// force afterwards (another process may have set it first).
    pub fn setting_or_insert(&mut self, key: &str, value: &str) -> Result<String, CatalogError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("writing a setting"))?;
        tx.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
            [key, value],
        )
        .map_err(sql("writing a setting"))?;
        let value: String = tx
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .map_err(sql("reading a setting"))?;
        tx.commit().map_err(sql("writing a setting"))?;
        Ok(value)
    }

    /// The names of every dataset, in order.
    pub fn names(&self) -> Result<Vec<String>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM datasets ORDER BY name")
            .map_err(sql("listing datasets"))?;
        stmt.query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(sql("listing datasets"))
    }

    /// Every dataset with its current version, by name.
    pub fn list(&self) -> Result<Vec<Dataset>, CatalogError> {
        self.names()?.iter().map(|n| self.dataset(n)).collect()
    }

    /// One dataset with its current version; names match case-insensitively.
    pub fn dataset(&self, name: &str) -> Result<Dataset, CatalogError> {
        read_dataset(&self.conn, name)?.ok_or_else(|| CatalogError::NotFound {
            name: name.to_owned(),
        })
    }

    /// Every version of a dataset, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<Version>, CatalogError> {
        let dataset = self.dataset(name)?;
        (1..=dataset.current.version)
            .map(|v| read_version(&self.conn, &dataset.name, v))
            .collect()
    }

    /// Records `commit` as a new version, unless it would equal the current
    /// one. One write transaction: either all of it is recorded or none.
    pub fn commit(&mut self, commit: &Commit<'_>) -> Result<Committed, CatalogError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("starting a commit"))?;
        let now = now();
        let fingerprint = commit.schema.fingerprint();
        let current = read_dataset(&tx, commit.name)?;
        let (status, name, version, objects) = match &current {
            None => {
                tx.execute(
                    "INSERT INTO datasets (name, dataset_id, current_version, created_at, updated_at)
                     VALUES (?1, ?2, 0, ?3, ?3)",
                    params![commit.name, commit.dataset_id, now],
                )
                .map_err(sql("creating a dataset"))?;
                (
                    CommitStatus::Created,
                    commit.name.to_owned(),
                    1,
                    vec![commit.object.clone()],
                )
            }
            Some(ds) => {
                let cur = &ds.current;
                if let Some(diff) = refused_change(cur, commit.schema, commit.mode) {
                    return Err(CatalogError::SchemaConflict {
                        name: ds.name.clone(),
                        diff,
                    });
                }
                let same_schema = cur.fingerprint == fingerprint;
                let objects = match commit.mode {
                    WriteMode::Append if same_schema => {
                        if cur.objects.iter().any(|o| o.key == commit.object.key) {
                            None
                        } else {
                            let mut all = cur.objects.clone();
                            all.push(commit.object.clone());
                            Some(all)
                        }
                    }
                    _ => {
                        if same_schema && cur.objects == [commit.object.clone()] {
                            None
                        } else {
                            Some(vec![commit.object.clone()])
                        }
                    }
                };
                match objects {
                    None => {
                        return Ok(Committed {
                            status: CommitStatus::Unchanged,
                            name: ds.name.clone(),
                            version: cur.clone(),
                        });
                    }
                    Some(objects) => (
                        CommitStatus::Updated,
                        ds.name.clone(),
                        cur.version + 1,
                        objects,
                    ),
                }
            }
        };
        let rows = objects.iter().map(|o| o.rows).sum();
        let bytes = objects.iter().map(|o| o.bytes).sum();
        let schema_json = serde_json::to_string(commit.schema).expect("a schema always serializes");
        tx.execute(
            "INSERT INTO versions (dataset, version, rows, bytes, fingerprint, schema, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![name, version, rows, bytes, fingerprint, schema_json, now],
        )
        .map_err(sql("recording a version"))?;
        for (position, object) in objects.iter().enumerate() {
            tx.execute(
                "INSERT INTO version_objects (dataset, version, position, key, rows, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    name,
                    version,
                    position,
                    object.key,
                    object.rows,
                    object.bytes
                ],
            )
            .map_err(sql("recording an object"))?;
        }
        tx.execute(
            "UPDATE datasets SET current_version = ?2, updated_at = ?3 WHERE name = ?1",
            params![name, version, now],
        )
        .map_err(sql("updating a dataset"))?;
        tx.commit().map_err(sql("committing"))?;
        Ok(Committed {
            status,
            name,
            version: Version {
                version,
                rows,
                bytes,
                fingerprint,
                schema: commit.schema.clone(),
                created_at: now,
                objects,
            },
        })
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn read_dataset(conn: &Connection, name: &str) -> Result<Option<Dataset>, CatalogError> {
    let row = conn
        .query_row(
            "SELECT name, dataset_id, current_version, created_at, updated_at
             FROM datasets WHERE name = ?1",
            [name],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )
        .optional()
        .map_err(sql("reading a dataset"))?;
    let Some((name, dataset_id, version, created_at, updated_at)) = row else {
        return Ok(None);
    };
    let current = read_version(conn, &name, version)?;
    Ok(Some(Dataset {
        name,
        dataset_id,
        created_at,
        updated_at,
        current,
    }))
}

fn read_version(conn: &Connection, name: &str, version: u64) -> Result<Version, CatalogError> {
    let (rows, bytes, fingerprint, schema, created_at) = conn
        .query_row(
            "SELECT rows, bytes, fingerprint, schema, created_at FROM versions
             WHERE dataset = ?1 AND version = ?2",
            params![name, version],
            |r| {
                Ok((
                    r.get::<_, u64>(0)?,
                    r.get::<_, u64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )
        .map_err(sql("reading a version"))?;
    let schema: Schema =
        serde_json::from_str(&schema).map_err(|source| CatalogError::BadSchema {
            name: name.to_owned(),
            source,
        })?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT key, rows, bytes FROM version_objects
             WHERE dataset = ?1 AND version = ?2 ORDER BY position",
        )
        .map_err(sql("reading objects"))?;
    let objects = stmt
        .query_map(params![name, version], |r| {
            Ok(ObjectRef {
                key: r.get(0)?,
                rows: r.get(1)?,
                bytes: r.get(2)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(sql("reading objects"))?;
    Ok(Version {
        version,
        rows,
        bytes,
        fingerprint,
        schema,
        created_at,
        objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, ColumnType};

    fn schema(t: ColumnType) -> Schema {
        Schema {
            columns: vec![Column {
                name: "a".into(),
                column_type: t,
            }],
        }
    }

    fn obj(key: &str, rows: u64) -> ObjectRef {
        ObjectRef {
            key: key.into(),
            rows,
            bytes: rows * 10,
        }
    }

    #[test]
    fn versions_follow_the_rules() {
        let dir = tempfile::tempdir().unwrap();
        let mut cat = Catalog::open(&dir.path().join("c.sqlite")).unwrap();
        let s = schema(ColumnType::Bigint);
        let mut commit = Commit {
            name: "t",
            dataset_id: "id",
            schema: &s,
            object: obj("k1", 2),
            mode: WriteMode::Overwrite,
        };
        assert_eq!(cat.commit(&commit).unwrap().status, CommitStatus::Created);
        assert_eq!(cat.commit(&commit).unwrap().status, CommitStatus::Unchanged);
        commit.mode = WriteMode::Append;
        assert_eq!(cat.commit(&commit).unwrap().status, CommitStatus::Unchanged);
        commit.object = obj("k2", 3);
        let c = cat.commit(&commit).unwrap();
        assert_eq!(
            (c.status, c.version.version, c.version.rows),
            (CommitStatus::Updated, 2, 5)
        );
        commit.mode = WriteMode::Overwrite;
        let c = cat.commit(&commit).unwrap();
        assert_eq!((c.version.version, c.version.rows), (3, 3));

        let other = schema(ColumnType::Varchar);
        commit.schema = &other;
        assert!(matches!(
            cat.commit(&commit),
            Err(CatalogError::SchemaConflict { .. })
        ));
        assert_eq!(cat.dataset("T").unwrap().current.version, 3);
        commit.mode = WriteMode::Replace;
        assert_eq!(cat.commit(&commit).unwrap().version.version, 4);
        assert_eq!(cat.versions("t").unwrap().len(), 4);
        assert!(matches!(
            cat.dataset("nope"),
            Err(CatalogError::NotFound { .. })
        ));
    }
}
