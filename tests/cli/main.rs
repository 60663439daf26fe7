//! End-to-end tests: every test runs the built `lake` binary against a
//! temporary lake home with a clean environment. With
//! `LAKE_TEST_CATALOG=postgres` every home's catalog is a new database on
//! the test PostgreSQL server (`LAKE_TEST_POSTGRES`) instead of the SQLite
//! file: `.ci/run` runs the suite both ways.

mod bad_input;
mod catalog;
mod chunks;
mod concurrency;
mod dialects;
mod ducklake;
mod ducklake_stats;
mod flight;
mod gc;
mod ingest;
mod inputs;
mod mcp;
mod objects;
mod observe;
mod other_readers;
mod output;
mod postgres_catalog;
mod s3;
mod serve;
mod serve_load;
mod shell;
mod sql;
mod ui;
mod vectors;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary lake home and a folder for fixtures, and extra environment
/// for the runs (an S3 server's address and keys).
pub struct TestContext {
    pub home: tempfile::TempDir,
    pub work: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts success and returns standard output.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success, got {self:#?}");
        &self.stdout
    }

    /// Asserts the exit code and returns standard error.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "expected exit {code}, got {self:#?}");
        assert!(
            self.stderr.starts_with("error: "),
            "no error line: {self:#?}"
        );
        assert!(
            self.stdout.is_empty(),
            "an error printed results: {self:#?}"
        );
        &self.stderr
    }
}

impl Default for TestContext {
    fn default() -> Self {
        TestContext::new()
    }
}

/// Whether this run's homes keep their catalog on PostgreSQL.
pub fn on_postgres() -> bool {
    match std::env::var("LAKE_TEST_CATALOG").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("LAKE_TEST_CATALOG is sqlite or postgres, not {other:?}"),
    }
}

/// The test PostgreSQL server's URL (`scripts/postgres.sh start` prints
/// one; `.ci/run` sets it).
pub fn postgres_server() -> String {
    std::env::var("LAKE_TEST_POSTGRES").expect(
        "LAKE_TEST_POSTGRES names the test PostgreSQL server: run the tests with \
         `bash .ci/run`, or start one with scripts/postgres.sh and export its URL",
    )
}

/// A new, empty database on the test server; its URL.
pub fn postgres_database() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let server = postgres_server();
    let name = format!(
        "lake_cli_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let mut client = postgres::Client::connect(&server, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connecting to LAKE_TEST_POSTGRES: {e}"));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("creating a test database");
    let (base, _) = server.rsplit_once('/').expect("a URL ending in /DATABASE");
    format!("{base}/{name}")
}

/// The password in the test server's URL, for clients that read
/// `PGPASSWORD` (DuckDB's postgres extension).
pub fn postgres_password() -> Option<String> {
    let server = std::env::var("LAKE_TEST_POSTGRES").ok()?;
    let (_, rest) = server.split_once("://")?;
    let (authority, _) = rest.split_once('@')?;
    authority.split_once(':').map(|(_, pw)| pw.to_owned())
}

impl TestContext {
    /// A new home, its catalog on this run's database.
    pub fn new() -> TestContext {
        let mut ctx = TestContext::sqlite();
        if on_postgres() {
            ctx.env
                .push(("LAKE_CATALOG".to_owned(), postgres_database()));
        }
        ctx
    }

    /// A new home whose catalog is the SQLite file in it, whatever the
    /// run: for tests of that file itself.
    pub fn sqlite() -> TestContext {
        TestContext {
            home: tempfile::tempdir().expect("temp home"),
            work: tempfile::tempdir().expect("temp work dir"),
            env: Vec::new(),
        }
    }

    /// `lake` with only PATH and LAKE_HOME set, run in the work folder.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lake"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LAKE_HOME", self.home.path())
            .current_dir(self.work.path())
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// The URL of the home's catalog when it is on PostgreSQL (given to
    /// every run, or recorded in the home).
    pub fn postgres_catalog(&self) -> Option<String> {
        self.env
            .iter()
            .find(|(k, _)| k == "LAKE_CATALOG")
            .map(|(_, v)| v.clone())
            .or_else(|| {
                std::fs::read_to_string(self.home.path().join("catalog.url"))
                    .ok()
                    .map(|url| url.trim().to_owned())
            })
    }

    /// The rows of a query on the home's catalog (the SQLite file or the
    /// PostgreSQL database), each value as text, NULL as `None` (cast
    /// booleans to INTEGER: the two databases write them differently).
    #[track_caller]
    pub fn catalog_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        if let Some(url) = self.postgres_catalog() {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            return client
                .simple_query(sql)
                .unwrap()
                .into_iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_owned))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect();
        }
        let conn = rusqlite::Connection::open(self.home.path().join("catalog.sqlite")).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([], |r| {
            (0..n)
                .map(|i| {
                    use rusqlite::types::ValueRef;
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => None,
                        ValueRef::Integer(v) => Some(v.to_string()),
                        ValueRef::Real(v) => Some(v.to_string()),
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            Some(String::from_utf8_lossy(t).into_owned())
                        }
                    })
                })
                .collect()
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    /// The one value a query on the home's catalog returns.
    #[track_caller]
    pub fn catalog_value(&self, sql: &str) -> String {
        let rows = self.catalog_rows(sql);
        assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
        rows[0][0].clone().unwrap_or_default()
    }

    /// Runs statements on the home's catalog (to break it on purpose).
    pub fn catalog_execute(&self, sql: &str) {
        match self.postgres_catalog() {
            Some(url) => postgres::Client::connect(&url, postgres::NoTls)
                .unwrap()
                .batch_execute(sql)
                .unwrap(),
            None => rusqlite::Connection::open(self.home.path().join("catalog.sqlite"))
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
        }
    }

    /// Runs `lake ARGS`.
    pub fn lake(&self, args: &[&str]) -> Run {
        Run::from(self.command().args(args).output().expect("run lake"))
    }

    /// Runs `lake ARGS` with `input` on standard input.
    pub fn lake_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run lake");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().expect("wait for lake");
        feeder.join().expect("stdin feeder");
        Run::from(out)
    }

    /// Writes a fixture file and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.work.path().join(name);
        std::fs::write(&path, contents).expect("write fixture");
        path
    }

    /// The examples' people.csv, copied into the work folder.
    pub fn people(&self) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/people.csv");
        let dst = self.work.path().join("people.csv");
        std::fs::copy(src, &dst).expect("copy people.csv");
        dst
    }

    /// Runs SQL and returns its CSV output.
    #[track_caller]
    pub fn sql(&self, sql: &str) -> String {
        self.lake(&["sql", "--format", "csv", sql]).ok().to_owned()
    }

    /// A dataset's column names and SQL types, from `lake show`.
    #[track_caller]
    pub fn schema(&self, name: &str) -> Vec<(String, String)> {
        self.show(name)["schema"]
            .as_array()
            .expect("a schema")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["type"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// `lake show NAME --format json`, parsed.
    #[track_caller]
    pub fn show(&self, name: &str) -> serde_json::Value {
        let out = self.lake(&["show", name, "--format", "json"]);
        serde_json::from_str(out.ok()).expect("show prints JSON")
    }

    /// Every file under the store's datasets folder.
    pub fn dataset_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut stack = vec![self.home.path().join("store/datasets")];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    files.push(e.path());
                }
            }
        }
        files.sort();
        files
    }
}

/// Parses the one JSON object an `--format json` command printed.
#[track_caller]
pub fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(run.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {run:#?}"))
}
