//! The catalog's database connection behind one small interface, shaped
//! like rusqlite's (statements with `?N` parameters, rows read by index,
//! write transactions), so that the catalog's SQL is written once for every
//! database that can hold it. Today that is SQLite; the interface keeps
//! what is SQLite's own (opening, pragmas, lock errors) in this module.

use std::ops::Deref;

use thiserror::Error;

/// What a statement or a row conversion failed with.
#[derive(Debug, Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
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

/// One parameter of a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// A Rust value that can be a parameter.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, usize, u64);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_value)
    }
}

/// The parameters of a statement: `[]`, `[a]`, `[a, b]` of one type, or
/// [`params!`] of any.
pub trait Params {
    fn values(self) -> Vec<Value>;
}

impl Params for [&dyn ToValue; 0] {
    fn values(self) -> Vec<Value> {
        Vec::new()
    }
}

impl Params for &[Value] {
    fn values(self) -> Vec<Value> {
        self.to_vec()
    }
}

impl Params for Vec<Value> {
    fn values(self) -> Vec<Value> {
        self
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToValue> Params for [T; $n] {
            fn values(self) -> Vec<Value> {
                self.iter().map(ToValue::to_value).collect()
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8);

/// Parameters of any types: `params![id, name, None::<i64>]`.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        vec![$($crate::catalog::db::ToValue::to_value(&$p)),*]
    };
}
pub(crate) use params;

/// A value as a row holds it.
#[derive(Debug, Clone, Copy)]
pub enum ValueRef<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob,
}

impl ValueRef<'_> {
    fn name(&self) -> &'static str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Int(_) => "an integer",
            ValueRef::Real(_) => "a real",
            ValueRef::Text(_) => "text",
            ValueRef::Blob => "a blob",
        }
    }
}

/// A Rust value a row's value can become.
pub trait FromValue: Sized {
    /// `None` when the value is of another type.
    fn from_value(v: ValueRef<'_>) -> Option<Self>;
    /// What the value should have been, for the error.
    const WANTED: &'static str;
}

impl FromValue for i64 {
    const WANTED: &'static str = "an integer";
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Int(i) => Some(i),
            ValueRef::Text(s) => s.parse().ok(),
            _ => None,
        }
    }
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            const WANTED: &'static str = concat!("an integer that fits ", stringify!($t));
            fn from_value(v: ValueRef<'_>) -> Option<Self> {
                i64::from_value(v).and_then(|i| <$t>::try_from(i).ok())
            }
        }
    )*};
}
int_from_value!(i32, u32, u64, usize);

impl FromValue for bool {
    const WANTED: &'static str = "a boolean";
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Int(i) => Some(i != 0),
            ValueRef::Text("t" | "true" | "1") => Some(true),
            ValueRef::Text("f" | "false" | "0") => Some(false),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    const WANTED: &'static str = "a number";
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Int(i) => Some(i as f64),
            ValueRef::Real(f) => Some(f),
            ValueRef::Text(s) => s.parse().ok(),
            _ => None,
        }
    }
}

impl FromValue for String {
    const WANTED: &'static str = "text";
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Text(s) => Some(s.to_owned()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    const WANTED: &'static str = T::WANTED;
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One row of a result.
pub struct Row<'a> {
    inner: &'a rusqlite::Row<'a>,
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
        Ok(match self.inner.get_ref(column)? {
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
    conn: rusqlite::Connection,
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
        Ok(Db { conn })
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
        Ok(Db { conn })
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> DbResult<usize> {
        let values = params.values();
        Ok(self
            .conn
            .execute(sql, rusqlite::params_from_iter(values.iter()))?)
    }

    /// Runs statements separated by `;`, without parameters.
    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        Ok(self.conn.execute_batch(sql)?)
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
            inner: self.conn.prepare(sql)?.into(),
        })
    }

    /// Like [`Db::prepare`], from a cache of the connection's statements.
    pub fn prepare_cached(&self, sql: &str) -> DbResult<Statement<'_>> {
        Ok(Statement {
            inner: self.conn.prepare_cached(sql)?.into(),
        })
    }

    /// Begins a write transaction: it holds the database's write lock from
    /// the start (SQLite's `BEGIN IMMEDIATE`), so that what it reads stays
    /// true until it commits. Dropped without [`Transaction::commit`], it
    /// rolls back.
    pub fn write_transaction(&mut self) -> DbResult<Transaction<'_>> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Transaction {
            db: self,
            open: true,
        })
    }

    /// The schema version the database records (SQLite's `user_version`).
    pub fn user_version(&self) -> DbResult<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Records the schema version (inside a migration's transaction).
    pub fn set_user_version(&self, version: i64) -> DbResult<()> {
        Ok(self.conn.pragma_update(None, "user_version", version)?)
    }
}

/// A prepared statement.
pub struct Statement<'c> {
    inner: StatementInner<'c>,
}

enum StatementInner<'c> {
    Plain(rusqlite::Statement<'c>),
    Cached(rusqlite::CachedStatement<'c>),
}

impl<'c> From<rusqlite::Statement<'c>> for StatementInner<'c> {
    fn from(s: rusqlite::Statement<'c>) -> Self {
        StatementInner::Plain(s)
    }
}

impl<'c> From<rusqlite::CachedStatement<'c>> for StatementInner<'c> {
    fn from(s: rusqlite::CachedStatement<'c>) -> Self {
        StatementInner::Cached(s)
    }
}

impl<'c> Statement<'c> {
    fn raw(&mut self) -> &mut rusqlite::Statement<'c> {
        match &mut self.inner {
            StatementInner::Plain(s) => s,
            StatementInner::Cached(s) => s,
        }
    }

    /// Runs the statement; the number of rows it changed.
    pub fn execute(&mut self, params: impl Params) -> DbResult<usize> {
        let values = params.values();
        Ok(self
            .raw()
            .execute(rusqlite::params_from_iter(values.iter()))?)
    }

    /// The rows of the query, one at a time.
    pub fn query(&mut self, params: impl Params) -> DbResult<Rows<'_>> {
        let values = params.values();
        Ok(Rows {
            inner: self
                .raw()
                .query(rusqlite::params_from_iter(values.iter()))?,
        })
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
    inner: rusqlite::Rows<'s>,
}

impl Rows<'_> {
    /// The next row, or `None` after the last.
    pub fn next(&mut self) -> DbResult<Option<Row<'_>>> {
        Ok(self.inner.next()?.map(|inner| Row { inner }))
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
        self.db.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }

    /// Undoes the transaction's changes.
    pub fn rollback(mut self) -> DbResult<()> {
        self.open = false;
        Ok(self.db.conn.execute_batch("ROLLBACK")?)
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
            // transaction, or a broken one SQLite has ended.
            let _ = self.db.conn.execute_batch("ROLLBACK");
        }
    }
}
