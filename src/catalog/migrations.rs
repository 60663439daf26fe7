//! Versioned schema migrations, applied in order; the database's version
//! (SQLite's `PRAGMA user_version`) holds how many have run. A PostgreSQL
//! catalog is created as the first [`AT_CREATION_POSTGRES`] leave one, and
//! takes the migrations after those: they must be SQL both databases run.

use super::db::{Db, DbResult, Transaction};

/// One step forward: SQL, or code for what SQL cannot say.
enum Migration {
    Sql(&'static str),
    Code(fn(&Transaction<'_>) -> DbResult<()>),
}

/// Each entry moves the catalog one version forward. Never edit one that has
/// shipped: add another.
const MIGRATIONS: &[Migration] = &[
    // 1: settings, datasets, their versions and the objects of each version.
    Migration::Sql(
        "
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE datasets (
        name            TEXT PRIMARY KEY COLLATE NOCASE,
        dataset_id      TEXT NOT NULL,
        current_version INTEGER NOT NULL,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    );
    CREATE TABLE versions (
        dataset     TEXT NOT NULL COLLATE NOCASE REFERENCES datasets(name),
        version     INTEGER NOT NULL,
        rows        INTEGER NOT NULL,
        bytes       INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        schema      TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (dataset, version)
    );
    CREATE TABLE version_objects (
        dataset  TEXT NOT NULL COLLATE NOCASE,
        version  INTEGER NOT NULL,
        position INTEGER NOT NULL,
        key      TEXT NOT NULL,
        rows     INTEGER NOT NULL,
        bytes    INTEGER NOT NULL,
        PRIMARY KEY (dataset, version, position),
        FOREIGN KEY (dataset, version) REFERENCES versions(dataset, version)
    );
    ",
    ),
    // 2: the catalog becomes a DuckLake 1.0 catalog; the versions of 1 become
    // its snapshots, and their tables go.
    Migration::Code(super::legacy::to_ducklake),
    // 3: objects being written, which gc keeps until their commit.
    Migration::Sql(
        "
    CREATE TABLE lake_pending (
        key   TEXT NOT NULL,
        since TEXT NOT NULL
    );
    CREATE INDEX lake_pending_key ON lake_pending (key);
    ",
    ),
    // 4: readers' leases on the snapshots they read, which gc keeps.
    Migration::Sql(
        "
    CREATE TABLE lake_reader (
        reader      TEXT PRIMARY KEY,
        snapshot_id BIGINT NOT NULL,
        heartbeat   TEXT NOT NULL
    );
    ",
    ),
    // 5: a column added to a table with files holds NULLs in them, which
    // lake once recorded as `contains_null = false` (DuckDB then counted
    // `count(col)` as every row). Conservative: any file without the
    // column's statistics marks it.
    Migration::Sql(REPAIR_ADDED_COLUMNS_NULLS),
    // 6: the length of each FLOAT[N] column (DuckLake has lists only, and
    // DuckDB refuses column tags other than comments); vector indexes: the
    // columns that have one, and the index object of each of their data
    // objects (see `vectors.rs`).
    Migration::Sql(
        "
    CREATE TABLE lake_vector_column (
        table_id  BIGINT NOT NULL,
        column_id BIGINT NOT NULL,
        length    BIGINT NOT NULL,
        PRIMARY KEY (table_id, column_id)
    );
    CREATE TABLE lake_vector_index (
        table_id        BIGINT NOT NULL,
        column_id       BIGINT NOT NULL,
        metric          TEXT NOT NULL,
        m               BIGINT NOT NULL,
        ef_construction BIGINT NOT NULL,
        PRIMARY KEY (table_id, column_id)
    );
    CREATE TABLE lake_vector_file (
        table_id  BIGINT NOT NULL,
        column_id BIGINT NOT NULL,
        data_key  TEXT NOT NULL,
        key       TEXT NOT NULL,
        bytes     BIGINT NOT NULL,
        PRIMARY KEY (table_id, column_id, data_key)
    );
    ",
    ),
];

/// Sets `contains_null` wherever a file of the table has no statistics for
/// the column (it was written before the column was added).
pub(super) const REPAIR_ADDED_COLUMNS_NULLS: &str = "
    UPDATE ducklake_table_column_stats SET contains_null = TRUE
    WHERE EXISTS (
        SELECT 1 FROM ducklake_data_file f
        WHERE f.table_id = ducklake_table_column_stats.table_id
          AND NOT EXISTS (
              SELECT 1 FROM ducklake_file_column_stats s
              WHERE s.data_file_id = f.data_file_id
                AND s.column_id = ducklake_table_column_stats.column_id));
";

/// The migrations a new PostgreSQL catalog is made as (by
/// [`super::legacy::create_postgres`]).
const AT_CREATION_POSTGRES: usize = 2;

/// Brings the catalog up to the newest version. Safe when several processes
/// open a new catalog at once: the check and the work share one write
/// transaction.
pub fn migrate(conn: &mut Db) -> DbResult<()> {
    if conn.user_version()? as usize >= MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.write_transaction()?;
    let mut current = tx.user_version()? as usize;
    if current == 0 && tx.is_postgres() {
        super::legacy::create_postgres(&tx)?;
        current = AT_CREATION_POSTGRES;
        tx.set_user_version(current as i64)?;
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(current) {
        match step {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Code(f) => f(&tx)?,
        }
        tx.set_user_version(i as i64 + 1)?;
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let mut conn = Db::open_sqlite(&path, std::time::Duration::from_secs(1)).unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(conn.user_version().unwrap() as usize, MIGRATIONS.len());
    }
}
