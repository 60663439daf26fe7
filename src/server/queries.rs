//! `/v1/sql` at speed: one sandboxed DuckDB per server, a pool of its
//! connections that keep their dataset views from one query to the next,
//! a change counter that says when the catalog moved (then, and only then,
//! views are made again), and a cache of whole answers.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use serde_json::{Value, json};

use super::pool::{Pool, Pooled};
use super::result_cache::{Answer, AnswerKey, ResultCache, etag_of};
use crate::catalog::SnapshotId;
use crate::lake::{Lake, LakeError, SnapshotHold};
use crate::output::{arrow_cell, sql_type_name};
use crate::query::{QueryEngine, QueryError, quote_ident, referenced_names};
use crate::store::Readable;

/// Queries DuckDB runs at once per core; more wait their turn, so that
/// connections (and their views) are few and reused.
const QUERIES_PER_CORE: usize = 2;

/// Words that make a query's answer change from one run to the next: its
/// answer is never cached.
const VOLATILE: &[&str] = &[
    "random",
    "uuid",
    "gen_random_uuid",
    "uuidv4",
    "uuidv7",
    "now",
    "today",
    "current_date",
    "current_time",
    "current_timestamp",
    "get_current_time",
    "get_current_timestamp",
    "localtime",
    "localtimestamp",
    "transaction_timestamp",
    "nextval",
    "currval",
    "setseed",
    "current_localtime",
    "current_localtimestamp",
];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A connection to the server's database and the views it holds.
pub(crate) struct ViewConnection {
    pub engine: QueryEngine,
    /// The snapshot its views show.
    at: Option<SnapshotId>,
    /// Datasets registered as views, by their catalog spelling.
    views: HashSet<String>,
    /// Files those views read, which the cache keeps while held.
    files: Vec<Readable>,
}

impl ViewConnection {
    /// Drops every view: the catalog moved on.
    fn forget(&mut self) -> Result<(), QueryError> {
        for name in self.views.drain() {
            self.engine
                .execute(&format!("DROP VIEW IF EXISTS {}", quote_ident(&name)))?;
        }
        self.files.clear();
        Ok(())
    }

    /// A handle that stops this connection's running query.
    pub fn interrupt_handle(&self) -> Arc<duckdb::InterruptHandle> {
        self.engine.interrupt_handle()
    }
}

/// What the change counter last said.
struct Watch {
    /// A catalog connection of its own, only for the counter.
    lake: Lake,
    counter: i64,
    /// The newest snapshot, held from gc: a request takes a share of the
    /// hold with it, so that what it reads stays until it is done.
    snapshot: Arc<SnapshotHold>,
    /// Lower-cased name -> catalog spelling, at `snapshot`.
    names: Arc<HashMap<String, String>>,
}

/// One `/v1/sql` request.
pub(crate) struct QueryRequest {
    pub sql: String,
    /// A snapshot id or time (as given), or now.
    pub at: Option<String>,
    pub max_rows: usize,
    pub max_bytes: usize,
}

/// The snapshot a query reads, held from gc while this lives, and the
/// datasets in it (lower-cased name -> catalog spelling).
pub(crate) type Snapshot = (Arc<SnapshotHold>, Arc<HashMap<String, String>>);

/// The server's query machinery.
pub(crate) struct Queries {
    /// Turns to run a query in DuckDB.
    pub slots: Arc<tokio::sync::Semaphore>,
    engine: Mutex<QueryEngine>,
    connections: Arc<Pool<ViewConnection>>,
    watch: Mutex<Watch>,
    results: ResultCache,
}

fn names_at(lake: &Lake, at: SnapshotId) -> Result<Arc<HashMap<String, String>>, LakeError> {
    Ok(Arc::new(
        lake.catalog()
            .names(Some(at))?
            .into_iter()
            .map(|n| (n.to_lowercase(), n))
            .collect(),
    ))
}

impl Queries {
    /// Opens the sandboxed database of `lake` and watches its catalog.
    pub fn open(lake: &Lake, result_cache_bytes: u64) -> Result<Queries, LakeError> {
        let engine = lake.sandboxed_engine()?;
        let watcher = lake.reopen()?;
        let counter = watcher.change_counter()?;
        let snapshot = Arc::new(watcher.hold_snapshot(None)?);
        let names = names_at(&watcher, snapshot.snapshot())?;
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get()) * QUERIES_PER_CORE;
        Ok(Queries {
            slots: Arc::new(tokio::sync::Semaphore::new(slots)),
            engine: Mutex::new(engine),
            connections: Pool::new(slots),
            watch: Mutex::new(Watch {
                lake: watcher,
                counter,
                snapshot,
                names,
            }),
            results: ResultCache::new(result_cache_bytes),
        })
    }

    /// A connection, with whatever views it kept.
    pub fn connection(&self) -> Result<Pooled<ViewConnection>, LakeError> {
        self.connections.take(|| {
            Ok::<_, LakeError>(ViewConnection {
                engine: lock(&self.engine).connect()?,
                at: None,
                views: HashSet::new(),
                files: Vec::new(),
            })
        })
    }

    /// What a query of snapshot `at` starts from: the newest snapshot when
    /// it names none (see [`Queries::current`]), else nothing yet.
    pub fn current_unless(&self, at: Option<&str>) -> Result<Option<Snapshot>, LakeError> {
        match at {
            None => self.current().map(Some),
            Some(_) => Ok(None),
        }
    }

    /// The newest snapshot and its datasets. It is read again only when the
    /// catalog's change counter moved, so a commit (by this server or any
    /// other process) is seen by the very next query.
    pub fn current(&self) -> Result<Snapshot, LakeError> {
        let mut watch = lock(&self.watch);
        let counter = watch.lake.change_counter()?;
        if counter != watch.counter {
            let snapshot = watch.lake.catalog().current_snapshot()?;
            if snapshot != watch.snapshot.snapshot() {
                // The hold of the one before covers it: no lease to write.
                let hold = watch.lake.hold_snapshot(Some(snapshot))?;
                watch.names = names_at(&watch.lake, snapshot)?;
                watch.snapshot = Arc::new(hold);
            }
            watch.counter = counter;
        }
        Ok((watch.snapshot.clone(), watch.names.clone()))
    }

    /// The kept answer to `sql` at `snapshot`, if any (a hit is counted;
    /// a miss is counted by [`Queries::answer`]).
    pub fn cached(&self, sql: &str, snapshot: SnapshotId) -> Option<Arc<Answer>> {
        let found = self.results.get(&answer_key(sql, snapshot));
        if found.is_some() {
            count_lookup(true);
        }
        found
    }

    /// The snapshot `request` reads: `current` (the newest) unless it names
    /// another.
    pub fn resolve(
        &self,
        request: &QueryRequest,
        current: Option<Snapshot>,
        lakes: &dyn Fn() -> Result<Pooled<Lake>, LakeError>,
    ) -> Result<Snapshot, LakeError> {
        Ok(match (current, &request.at) {
            (Some(current), _) => current,
            (None, Some(spec)) => {
                let lake = lakes()?;
                let at = lake.resolve_snapshot(spec)?;
                let hold = Arc::new(lake.hold_snapshot(Some(at))?);
                (hold, names_at(&lake, at)?)
            }
            (None, None) => self.current()?,
        })
    }

    /// Makes `conn`'s views show `snapshot` for every dataset `sql` names;
    /// views of another snapshot are dropped first.
    pub fn prepare(
        &self,
        conn: &mut ViewConnection,
        sql: &str,
        snapshot: &Snapshot,
        lakes: &dyn Fn() -> Result<Pooled<Lake>, LakeError>,
    ) -> Result<(), LakeError> {
        let (hold, names) = snapshot;
        let at = hold.snapshot();
        if conn.at != Some(at) {
            conn.forget()?;
            conn.at = Some(at);
        }
        let missing: Vec<String> = referenced_names(sql)
            .iter()
            .filter_map(|w| names.get(w))
            .filter(|name| !conn.views.contains(*name))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let lake = lakes()?;
            let files = lake.register_views(&conn.engine, &missing, at)?;
            conn.views.extend(missing);
            conn.files.extend(files);
            // The cache may now trim itself, but not below any view's files.
            lake.store().trim();
        }
        Ok(())
    }

    /// Makes `conn` ready to run `request`: its snapshot resolved, the views
    /// of the datasets it names in place. Keep the snapshot returned until
    /// the query is done: it holds what the views read.
    pub fn ready(
        &self,
        conn: &mut ViewConnection,
        request: &QueryRequest,
        current: Option<Snapshot>,
        lakes: &dyn Fn() -> Result<Pooled<Lake>, LakeError>,
    ) -> Result<Snapshot, LakeError> {
        let snapshot = self.resolve(request, current, lakes)?;
        self.prepare(conn, &request.sql, &snapshot, lakes)?;
        Ok(snapshot)
    }

    /// The JSON answer to `request`, made on `conn` (and kept when the query
    /// asks for nothing that changes by itself, like the time or random
    /// numbers). `current` is the newest snapshot when the request names none.
    pub fn answer(
        &self,
        conn: &mut ViewConnection,
        request: &QueryRequest,
        current: Option<Snapshot>,
        lakes: &dyn Fn() -> Result<Pooled<Lake>, LakeError>,
    ) -> Result<Arc<Answer>, LakeError> {
        let snapshot = self.resolve(request, current, lakes)?;
        let key = answer_key(&request.sql, snapshot.0.snapshot());
        let kept = self.results.get(&key);
        count_lookup(kept.is_some());
        if let Some(answer) = kept {
            return Ok(answer);
        }
        self.prepare(conn, &request.sql, &snapshot, lakes)?;
        let (body, rows) = json_answer(
            &conn.engine,
            &request.sql,
            request.max_rows,
            request.max_bytes,
        )?;
        let answer = Arc::new(Answer {
            etag: etag_of(&body),
            body,
            content_type: "application/json",
            rows,
        });
        if cacheable(&request.sql) {
            self.results.insert(key, answer.clone());
        }
        Ok(answer)
    }
}

fn count_lookup(hit: bool) {
    let m = crate::metrics::metrics();
    let counter = if hit { &m.cache_hits } else { &m.cache_misses };
    counter
        .with_label_values(&[crate::metrics::ANSWER_CACHE])
        .inc();
}

/// Whether a query's answer depends only on the data it reads.
fn cacheable(sql: &str) -> bool {
    let words = referenced_names(sql);
    !VOLATILE.iter().any(|w| words.contains(*w))
}

fn answer_key(sql: &str, snapshot: SnapshotId) -> AnswerKey {
    AnswerKey {
        sql: sql.to_owned(),
        snapshot,
        format: "json",
    }
}

/// Runs untrusted SQL and writes its answer as
/// `{"columns":[..],"rows":[[..]],"row_count":N,"truncated":B}`, stopping at
/// `max_rows` rows or `max_bytes` bytes of rows. With the body, its rows.
pub(crate) fn json_answer(
    engine: &QueryEngine,
    sql: &str,
    max_rows: usize,
    max_bytes: usize,
) -> Result<(Bytes, u64), LakeError> {
    let mut rows: Vec<u8> = Vec::with_capacity(256);
    let mut row_count = 0usize;
    let mut truncated = false;
    let opts = arrow::util::display::FormatOptions::default();
    let schema = engine.run_read_only(sql, &mut |_, batch| {
        let columns = batch.columns();
        for row in 0..batch.num_rows() {
            if row_count == max_rows {
                truncated = true;
                return Ok(ControlFlow::Break(()));
            }
            let mark = rows.len();
            rows.push(if row_count == 0 { b'[' } else { b',' });
            rows.push(b'[');
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    rows.push(b',');
                }
                serde_json::to_writer(&mut rows, &arrow_cell(column.as_ref(), row, &opts))?;
            }
            rows.push(b']');
            if rows.len() > max_bytes {
                rows.truncate(mark);
                truncated = true;
                return Ok(ControlFlow::Break(()));
            }
            row_count += 1;
        }
        Ok(ControlFlow::Continue(()))
    })?;
    if row_count == 0 {
        rows.push(b'[');
    }
    rows.push(b']');
    let columns: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| json!({"name": f.name(), "type": sql_type_name(f.data_type())}))
        .collect();
    let mut body = Vec::with_capacity(rows.len() + 128);
    body.extend_from_slice(b"{\"columns\":");
    serde_json::to_writer(&mut body, &columns).map_err(|e| QueryError::Output(e.into()))?;
    body.extend_from_slice(b",\"rows\":");
    body.extend_from_slice(&rows);
    body.extend_from_slice(
        format!(",\"row_count\":{row_count},\"truncated\":{truncated}}}").as_bytes(),
    );
    Ok((Bytes::from(body), row_count as u64))
}

/// Stops a query whose client went away or whose time ran out; a
/// connection that was stopped is closed rather than reused.
#[derive(Clone)]
pub(crate) struct Cancel {
    handle: Arc<duckdb::InterruptHandle>,
    state: Arc<Mutex<CancelState>>,
}

#[derive(Default)]
struct CancelState {
    done: bool,
    interrupted: bool,
}

impl Cancel {
    pub fn new(handle: Arc<duckdb::InterruptHandle>) -> Cancel {
        Cancel {
            handle,
            state: Arc::default(),
        }
    }

    /// Interrupts the query unless it already finished.
    pub fn interrupt(&self) {
        let mut state = lock(&self.state);
        if !state.done {
            self.handle.interrupt();
            state.interrupted = true;
        }
    }

    /// Called by the query's thread when it finished: whether it was
    /// interrupted (then its connection must not be reused).
    pub fn finish(&self) -> bool {
        let mut state = lock(&self.state);
        state.done = true;
        state.interrupted
    }
}

/// Interrupts the query when dropped before [`CancelOnDrop::disarm`]: the
/// handler's future is dropped when the client hangs up.
pub(crate) struct CancelOnDrop(pub Option<Cancel>);

impl CancelOnDrop {
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = self.0.take() {
            cancel.interrupt();
        }
    }
}
