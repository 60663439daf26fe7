//! The catalog's database connection behind one small interface, shaped
//! like rusqlite's (statements with `?N` parameters, rows read by index,
//! write transactions), so that the catalog's SQL is written once for
//! SQLite (a file beside the lake) and PostgreSQL (a server a team shares).
//! What is one database's own (opening, locks, versions) stays here.

mod postgres;
mod tls;
mod value;

#[cfg(test)]
pub(crate) use postgres::fresh_test_database;
pub use postgres::{libpq_words, redacted};
pub(crate) use value::params;
pub use value::{FromValue, Params, ToValue, Value, ValueRef};

use std::cell::RefCell;
use std::ops::Deref;

use thiserror::Error;

/// What a statement or a row conversion failed with.
#[derive(Debug, Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", postgres::describe(.0))]
    Postgres(#[from] ::postgres::Error),
    /// A query that must return a row returned none.
    #[error("the query returned no row")]
    NoRow,
    /// A value of another type than the one asked for.
    #[error("column {column}: {message}")]
    Type { column: usize, message: String },
    /// A step of a migration refused what it found.
    #[error("{0}")]
    Refused(String),
}

impl DbError {
    /// Whether another connection holds a lock the statement needed.
    pub fn is_busy(&self) -> bool {
        match self {
            DbError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            DbError::Postgres(e) => postgres::is_busy(e),
            _ => false,
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// `Ok(None)` for a query that returned no row.
pub trait OptionalExtension<T> {
    fn optional(self) -> DbResult<Option<T>>;
}

impl<T> OptionalExtension<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRow) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// One row of a result.
pub struct Row<'a> {
    inner: RowInner<'a>,
}

enum RowInner<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    /// PostgreSQL's rows come as text (see `postgres.rs`).
    Text(&'a ::postgres::SimpleQueryRow),
}

/// A column's index in a row: only `usize`, there so that `r.get(0)` and
/// `r.get::<_, T>(0)` read as rusqlite's do.
pub trait ColumnIndex {
    fn index(self) -> usize;
}

impl ColumnIndex for usize {
    fn index(self) -> usize {
        self
    }
}

impl Row<'_> {
    /// The value of column `index` (from 0) as a `T`.
    pub fn get<I: ColumnIndex, T: FromValue>(&self, index: I) -> DbResult<T> {
        let column = index.index();
        let v = self.value(column)?;
        T::from_value(v).ok_or_else(|| DbError::Type {
            column,
            message: format!("{} where {} was expected", v.name(), T::WANTED),
        })
    }

    /// The value of column `index` as it is.
    pub fn value(&self, column: usize) -> DbResult<ValueRef<'_>> {
        use rusqlite::types::ValueRef as S;
        let row = match self.inner {
            RowInner::Sqlite(row) => row,
            RowInner::Text(row) => {
                return Ok(row.try_get(column)?.map_or(ValueRef::Null, ValueRef::Text));
            }
        };
        Ok(match row.get_ref(column)? {
            S::Null => ValueRef::Null,
            S::Integer(i) => ValueRef::Int(i),
            S::Real(f) => ValueRef::Real(f),
            S::Text(t) => ValueRef::Text(std::str::from_utf8(t).map_err(|e| DbError::Type {
                column,
                message: e.to_string(),
            })?),
            S::Blob(_) => ValueRef::Blob,
        })
    }
}

/// A connection to the catalog's database.
pub struct Db {
    kind: Kind,
}

enum Kind {
    Sqlite(rusqlite::Connection),
    Postgres(RefCell<postgres::Connection>),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

impl Db {
    /// The SQLite database at `path` (made if missing), in WAL mode, waiting
    /// up to `busy` for another connection's lock.
    pub fn open_sqlite(path: &std::path::Path, busy: std::time::Duration) -> DbResult<Db> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(busy)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Db {
            kind: Kind::Sqlite(conn),
        })
    }

    /// A private database in a temporary file, deleted when it closes, for
    /// data too large to keep in memory. `cache_kib` of it stays in memory.
    pub fn open_temporary(cache_kib: u32) -> DbResult<Db> {
        // An empty name: a private on-disk database, deleted on close.
        let conn = rusqlite::Connection::open("")?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             PRAGMA temp_store = FILE;
             PRAGMA cache_size = -{cache_kib};"
        ))?;
        Ok(Db {
            kind: Kind::Sqlite(conn),
        })
    }

    /// The PostgreSQL database a connection string names (a
    /// `postgres://` URL or libpq's `key=value` words), with the password
    /// from it, `PGPASSWORD` or the password file, as libpq finds them.
    pub fn open_postgres(url: &str) -> DbResult<Db> {
        Ok(Db {
            kind: Kind::Postgres(RefCell::new(postgres::connect(url)?)),
        })
    }

    /// The hidden column that tells a table's rows apart (for tables that
    /// have no key).
    pub fn row_id(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite(_) => "rowid",
            Kind::Postgres(_) => "ctid",
        }
    }

    /// Whether the database has a table of this name.
    pub fn has_table(&self, name: &str) -> DbResult<bool> {
        let sql = match self.kind {
            Kind::Sqlite(_) => {
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1"
            }
            Kind::Postgres(_) => {
                "SELECT count(*) FROM pg_tables WHERE tablename = ?1 AND schemaname = current_schema()"
            }
        };
        Ok(self.query_row(sql, [name], |r| r.get::<_, i64>(0))? > 0)
    }

    /// A number that changes when another connection commits (SQLite's
    /// `data_version`; on PostgreSQL the newest snapshot id, which every
    /// change lake or DuckDB makes to the lake's content moves).
    pub fn data_version(&self) -> DbResult<i64> {
        match &self.kind {
            Kind::Sqlite(conn) => Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?),
            Kind::Postgres(_) => self.query_row(
                "SELECT coalesce(max(snapshot_id), -1) FROM ducklake_snapshot",
                [],
                |r| r.get(0),
            ),
        }
    }

    /// The tables of the database, by name.
    pub fn tables(&self) -> DbResult<Vec<String>> {
        let sql = match self.kind {
            Kind::Sqlite(_) => {
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name"
            }
            Kind::Postgres(_) => {
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
            }
        };
        self.prepare(sql)?.query_map([], |r| r.get(0))?.collect()
    }

    /// The columns of `table`, in order: each name and declared type
    /// (upper case).
    pub fn columns(&self, table: &str) -> DbResult<Vec<(String, String)>> {
        let sql = match self.kind {
            Kind::Sqlite(_) => "SELECT name, upper(type) FROM pragma_table_info(?1) ORDER BY cid",
            Kind::Postgres(_) => {
                "SELECT column_name, upper(data_type) FROM information_schema.columns
                 WHERE table_name = ?1 AND table_schema = current_schema()
                 ORDER BY ordinal_position"
            }
        };
        self.prepare(sql)?
            .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self.kind, Kind::Postgres(_))
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> DbResult<usize> {
        let values = params.values();
        match &self.kind {
            Kind::Sqlite(conn) => Ok(conn.execute(sql, rusqlite::params_from_iter(values.iter()))?),
            Kind::Postgres(client) => {
                let sql = postgres::render(sql, &values)?;
                postgres::changed(&postgres::simple_query(client, &sql)?)
            }
        }
    }

    /// Runs statements separated by `;`, without parameters.
    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        match &self.kind {
            Kind::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Kind::Postgres(client) => postgres::batch_execute(client, sql),
        }
    }

    /// The first row of a query, through `f`; [`DbError::NoRow`] when there
    /// is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<T> {
        self.prepare(sql)?.query_row(params, f)
    }

    /// A statement to run, perhaps many times.
    pub fn prepare(&self, sql: &str) -> DbResult<Statement<'_>> {
        Ok(Statement {
            inner: match &self.kind {
                Kind::Sqlite(conn) => StatementInner::Plain(conn.prepare(sql)?),
                Kind::Postgres(client) => StatementInner::Text {
                    client,
                    sql: sql.to_owned(),
                },
            },
        })
    }

    /// Like [`Db::prepare`], from a cache of the connection's statements.
    pub fn prepare_cached(&self, sql: &str) -> DbResult<Statement<'_>> {
        match &self.kind {
            Kind::Sqlite(conn) => Ok(Statement {
                inner: StatementInner::Cached(conn.prepare_cached(sql)?),
            }),
            Kind::Postgres(_) => self.prepare(sql),
        }
    }

    /// Begins a write transaction. It holds lake's write lock from the
    /// start (SQLite's `BEGIN IMMEDIATE`; on PostgreSQL an advisory lock,
    /// each statement then seeing every commit made before it), so what it
    /// reads stays true until it commits. Dropped without
    /// [`Transaction::commit`], it rolls back.
    pub fn write_transaction(&mut self) -> DbResult<Transaction<'_>> {
        self.execute_batch(match self.kind {
            Kind::Sqlite(_) => "BEGIN IMMEDIATE",
            Kind::Postgres(_) => postgres::BEGIN_WRITE,
        })?;
        Ok(Transaction {
            db: self,
            open: true,
        })
    }

    /// The version of lake's tables the database records (SQLite's
    /// `user_version`; a row of `lake_version` on PostgreSQL, 0 when none).
    pub fn user_version(&self) -> DbResult<i64> {
        match &self.kind {
            Kind::Sqlite(conn) => Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?),
            Kind::Postgres(_) => {
                if self.query_row(postgres::HAS_VERSION, [], |r| r.get::<_, i64>(0))? == 0 {
                    return Ok(0);
                }
                self.query_row(postgres::READ_VERSION, [], |r| r.get(0))
                    .optional()
                    .map(Option::unwrap_or_default)
            }
        }
    }

    /// Records the version of lake's tables (inside a migration's
    /// transaction).
    pub fn set_user_version(&self, version: i64) -> DbResult<()> {
        match &self.kind {
            Kind::Sqlite(conn) => Ok(conn.pragma_update(None, "user_version", version)?),
            Kind::Postgres(_) => self
                .execute_batch(&postgres::write_version(version))
                .map(drop),
        }
    }
}

/// A prepared statement.
pub struct Statement<'c> {
    inner: StatementInner<'c>,
}

enum StatementInner<'c> {
    Plain(rusqlite::Statement<'c>),
    Cached(rusqlite::CachedStatement<'c>),
    /// PostgreSQL: the text, its parameters written in when it runs.
    Text {
        client: &'c RefCell<postgres::Connection>,
        sql: String,
    },
}

impl Statement<'_> {
    /// Runs the statement; the number of rows it changed.
    pub fn execute(&mut self, params: impl Params) -> DbResult<usize> {
        let values = params.values();
        let params = rusqlite::params_from_iter(values.iter());
        match &mut self.inner {
            StatementInner::Plain(s) => Ok(s.execute(params)?),
            StatementInner::Cached(s) => Ok(s.execute(params)?),
            StatementInner::Text { client, sql } => {
                let sql = postgres::render(sql, &values)?;
                postgres::changed(&postgres::simple_query(client, &sql)?)
            }
        }
    }

    /// The rows of the query, one at a time.
    pub fn query(&mut self, params: impl Params) -> DbResult<Rows<'_>> {
        let values = params.values();
        let params = rusqlite::params_from_iter(values.iter());
        let inner = match &mut self.inner {
            StatementInner::Plain(s) => RowsInner::Sqlite(s.query(params)?),
            StatementInner::Cached(s) => RowsInner::Sqlite(s.query(params)?),
            StatementInner::Text { client, sql } => {
                let sql = postgres::render(sql, &values)?;
                RowsInner::Text {
                    rows: postgres::rows(postgres::simple_query(client, &sql)?).into_iter(),
                    current: None,
                }
            }
        };
        Ok(Rows { inner })
    }

    /// The first row, through `f`; [`DbError::NoRow`] when there is none.
    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<T> {
        let mut rows = self.query(params)?;
        match rows.next()? {
            Some(row) => f(&row),
            None => Err(DbError::NoRow),
        }
    }

    /// Every row, each through `f`.
    pub fn query_map<T, F: FnMut(&Row<'_>) -> DbResult<T>>(
        &mut self,
        params: impl Params,
        f: F,
    ) -> DbResult<MappedRows<'_, F>> {
        Ok(MappedRows {
            rows: self.query(params)?,
            f,
        })
    }
}

/// The rows of a query.
pub struct Rows<'s> {
    inner: RowsInner<'s>,
}

enum RowsInner<'s> {
    Sqlite(rusqlite::Rows<'s>),
    Text {
        rows: std::vec::IntoIter<::postgres::SimpleQueryRow>,
        current: Option<::postgres::SimpleQueryRow>,
    },
}

impl Rows<'_> {
    /// The next row, or `None` after the last.
    pub fn next(&mut self) -> DbResult<Option<Row<'_>>> {
        match &mut self.inner {
            RowsInner::Sqlite(rows) => Ok(rows.next()?.map(|row| Row {
                inner: RowInner::Sqlite(row),
            })),
            RowsInner::Text { rows, current } => {
                *current = rows.next();
                Ok(current.as_ref().map(|row| Row {
                    inner: RowInner::Text(row),
                }))
            }
        }
    }
}

/// The rows of a query, each through a function.
pub struct MappedRows<'s, F> {
    rows: Rows<'s>,
    f: F,
}

impl<T, F: FnMut(&Row<'_>) -> DbResult<T>> Iterator for MappedRows<'_, F> {
    type Item = DbResult<T>;

    fn next(&mut self) -> Option<DbResult<T>> {
        match self.rows.next() {
            Ok(Some(row)) => Some((self.f)(&row)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// A write transaction (see [`Db::write_transaction`]); it reads and writes
/// as its connection does.
pub struct Transaction<'c> {
    db: &'c mut Db,
    open: bool,
}

impl Transaction<'_> {
    /// Makes the transaction's changes permanent.
    pub fn commit(mut self) -> DbResult<()> {
        self.open = false;
        self.db.execute_batch("COMMIT")
    }

    /// Undoes the transaction's changes.
    pub fn rollback(mut self) -> DbResult<()> {
        self.open = false;
        self.db.execute_batch("ROLLBACK")
    }
}

impl Deref for Transaction<'_> {
    type Target = Db;

    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing to do if it fails: the connection then has no
            // transaction, or a broken one the database has ended.
            let _ = self.db.execute_batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same statements on both databases give the same answers.
    fn round_trip(mut db: Db) {
        db.execute_batch(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR, flag BOOLEAN, x DOUBLE PRECISION)",
        )
        .unwrap();
        let mut insert = db
            .prepare("INSERT INTO t (id, name, flag, x) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        assert_eq!(insert.execute(params![1, "it's", true, 0.5]).unwrap(), 1);
        assert_eq!(
            insert
                .execute(params![2, None::<String>, false, None::<f64>])
                .unwrap(),
            1
        );
        drop(insert);
        let rows: Vec<(i64, Option<String>, bool, Option<f64>)> = db
            .prepare("SELECT id, name, flag, x FROM t WHERE id >= ?1 ORDER BY id")
            .unwrap()
            .query_map([1], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<DbResult<_>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (1, Some("it's".into()), true, Some(0.5)),
                (2, None, false, None)
            ]
        );
        assert!(matches!(
            db.query_row("SELECT id FROM t WHERE id = ?1", [9], |r| r
                .get::<_, i64>(0)),
            Err(DbError::NoRow)
        ));
        assert_eq!(
            db.query_row("SELECT id FROM t WHERE id = ?1", [9], |r| r
                .get::<_, i64>(0))
                .optional()
                .unwrap(),
            None
        );
        assert!(matches!(
            db.query_row("SELECT name FROM t WHERE id = 1", [], |r| r
                .get::<_, i64>(0)),
            Err(DbError::Type { column: 0, .. })
        ));
        // A transaction dropped without a commit leaves nothing.
        {
            let tx = db.write_transaction().unwrap();
            tx.execute("DELETE FROM t", []).unwrap();
        }
        let count = |db: &Db| {
            db.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                .unwrap()
        };
        assert_eq!(count(&db), 2);
        let tx = db.write_transaction().unwrap();
        assert_eq!(tx.execute("DELETE FROM t WHERE id = ?1", [2]).unwrap(), 1);
        tx.commit().unwrap();
        assert_eq!(count(&db), 1);
        assert_eq!(db.user_version().unwrap(), 0);
        let tx = db.write_transaction().unwrap();
        tx.set_user_version(3).unwrap();
        tx.commit().unwrap();
        assert_eq!(db.user_version().unwrap(), 3);
    }

    #[test]
    fn sqlite_answers() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(
            &dir.path().join("t.sqlite"),
            std::time::Duration::from_secs(1),
        );
        round_trip(db.unwrap());
    }

    #[test]
    fn postgres_answers_as_sqlite_does() {
        let db = Db::open_postgres(&postgres::fresh_test_database()).unwrap();
        assert!(db.is_postgres());
        round_trip(db);
    }

    #[test]
    fn postgres_errors_say_what_failed() {
        let url = postgres::fresh_test_database();
        let wrong = url.replacen("lake:", "lake:wrong", 1);
        let e = Db::open_postgres(&wrong).expect_err("a wrong password fails");
        assert!(
            e.to_string().contains("password authentication failed"),
            "{e}"
        );
        let e = Db::open_postgres("postgres://lake@127.0.0.1:1/x")
            .err()
            .unwrap();
        assert!(e.to_string().contains("connect"), "{e}");
        let db = Db::open_postgres(&url).unwrap();
        let e = db.execute("SELECT * FROM nowhere", []).unwrap_err();
        assert!(e.to_string().contains("\"nowhere\" does not exist"), "{e}");
    }
}
