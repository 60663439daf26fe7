//! The lake as a DuckLake 1.0 catalog, checked by a real DuckLake engine from
//! outside the project: DuckDB 1.5 with its ducklake extension (the Python
//! wheels `.ci/run` installs), reading and writing homes the binary made.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{Run, TestContext, json};

/// The Python with DuckDB 1.5.5 and the DuckLake extension wheels.
pub(crate) fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("LAKE_TEST_PYTHON") {
        return p.into();
    }
    let default = dirs_home().join(".cache/lake/ducklake-venv/bin/python");
    assert!(
        default.exists(),
        "no DuckDB client: run `bash .ci/run` once (it makes {}) or set LAKE_TEST_PYTHON",
        default.display()
    );
    default
}

fn dirs_home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

/// Runs a Python client of the tests (`script`, under the crate) with
/// `request` as JSON on its standard input; the JSON it printed.
pub(crate) fn python_json(script: &str, request: &Value) -> Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let mut child = Command::new(python());
    if let Some(password) = crate::postgres_password() {
        child.env("PGPASSWORD", password);
    }
    let mut child = child
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{} printed no JSON ({e}): {text}\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// One statement's result: column names and rows.
#[derive(Debug, Clone)]
pub struct Answer {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Answer {
    /// The rows as maps from column to value, as lake's JSON prints them.
    fn records(&self) -> Vec<BTreeMap<String, Value>> {
        self.rows
            .iter()
            .map(|r| {
                self.columns
                    .iter()
                    .cloned()
                    .zip(r.iter().cloned())
                    .collect()
            })
            .collect()
    }
}

/// Runs `statements` in one DuckDB 1.5 session; the results, or DuckDB's
/// error.
pub fn duckdb(statements: &[String]) -> Result<Vec<Answer>, String> {
    duckdb_in(statements, None)
}

/// [`duckdb`] with the client's working directory set to `cwd`.
pub fn duckdb_in(
    statements: &[String],
    cwd: Option<&std::path::Path>,
) -> Result<Vec<Answer>, String> {
    let request = serde_json::json!({ "statements": statements, "cwd": cwd });
    let answer = python_json("tests/ducklake/duck.py", &request);
    if let Some(err) = answer.get("error") {
        return Err(format!(
            "{} (in {})",
            err.as_str().unwrap_or_default(),
            answer["statement"]
        ));
    }
    Ok(answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Answer {
            columns: r["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect(),
            rows: serde_json::from_value(r["rows"].clone()).unwrap(),
        })
        .collect())
}

/// The ATTACH statement `lake info` prints; read-write if asked.
pub(crate) fn attach(ctx: &TestContext, read_only: bool) -> String {
    let info = json(&ctx.lake(&["info", "--format", "json"]));
    let attach = info["attach"].as_str().unwrap().to_owned();
    assert!(attach.contains("READ_ONLY"), "{attach}");
    if read_only {
        attach
    } else {
        attach
            .replace(", READ_ONLY", "")
            .replace(" (READ_ONLY)", "")
    }
}

/// DuckDB's answer to `queries` on the lake attached as `lake`.
#[track_caller]
pub fn duck_read(ctx: &TestContext, queries: &[&str]) -> Vec<Answer> {
    let mut statements = vec![attach(ctx, true)];
    statements.extend(queries.iter().map(|q| (*q).to_owned()));
    let mut answers = duckdb(&statements).unwrap_or_else(|e| panic!("DuckDB failed: {e}"));
    answers.remove(0);
    answers
}

/// Runs statements in DuckDB with the lake attached read-write.
#[track_caller]
pub fn duck_write(ctx: &TestContext, statements: &[&str]) {
    let mut all = vec![attach(ctx, false)];
    all.extend(statements.iter().map(|q| (*q).to_owned()));
    duckdb(&all).unwrap_or_else(|e| panic!("DuckDB failed: {e}"));
}

/// `lake sql --format FORMAT [--at AT] SQL`.
pub(crate) fn lake_sql_at(ctx: &TestContext, format: &str, sql: &str, at: Option<i64>) -> Run {
    let at = at.map(|a| a.to_string());
    let mut args = vec!["sql", "--format", format];
    if let Some(at) = &at {
        args.extend(["--at", at.as_str()]);
    }
    args.push(sql);
    ctx.lake(&args)
}

/// The columns of `table` at snapshot `at` (now if `None`), or `None` if
/// there is no such table then.
pub(crate) fn columns_at(ctx: &TestContext, table: &str, at: Option<i64>) -> Option<Vec<String>> {
    let sql = format!("SELECT column_name FROM (DESCRIBE {table})");
    let out = lake_sql_at(ctx, "json", &sql, at);
    if out.code != 0 {
        return None;
    }
    let rows: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    Some(
        rows.iter()
            .map(|r| r["column_name"].as_str().unwrap().to_owned())
            .collect(),
    )
}

/// `lake sql --format json` (at a snapshot, if given), as records.
#[track_caller]
fn lake_rows(ctx: &TestContext, sql: &str, at: Option<i64>) -> Vec<BTreeMap<String, Value>> {
    serde_json::from_str(lake_sql_at(ctx, "json", sql, at).ok()).unwrap()
}

/// The same rows in lake and in DuckDB for `table` at `snapshot`: every
/// value as text, in one order.
#[track_caller]
fn assert_same_rows(ctx: &TestContext, table: &str, snapshot: i64) {
    let sql = format!("SELECT COLUMNS(*)::VARCHAR FROM {table} ORDER BY ALL");
    let ours = lake_rows(ctx, &sql, Some(snapshot));
    let duck_sql = format!(
        "SELECT COLUMNS(*)::VARCHAR FROM lake.{table} AT (VERSION => {snapshot}) ORDER BY ALL"
    );
    let theirs = duck_read(ctx, &[&duck_sql]).remove(0).records();
    assert_eq!(ours, theirs, "{table} at snapshot {snapshot}");
}

/// `lake ingest FILE ARGS --format json`, which must succeed, parsed.
#[track_caller]
pub(crate) fn ingest(ctx: &TestContext, file: &std::path::Path, args: &[&str]) -> Value {
    let mut all = vec!["ingest", file.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend(["--format", "json"]);
    json(&ctx.lake(&all))
}

#[test]
fn duckdb_reads_every_snapshot_of_a_lake_lake_made() {
    let ctx = TestContext::new();
    let people = ctx.people();
    let s1 = ingest(&ctx, &people, &[])["snapshot"].as_i64().unwrap();
    let more = ctx.write(
        "more.csv",
        "id,name,email,age,joined,score,active\n7,Gus,gus@example.com,44,2024-03-01,1.5,true\n",
    );
    let s2 = ingest(&ctx, &more, &["--name", "people", "--append"])["snapshot"]
        .as_i64()
        .unwrap();
    let other = ctx.write("people2.csv", "id,city\n1,Oslo\n2,Lima\n");
    let s3 = ingest(&ctx, &other, &["--name", "people", "--replace"])["snapshot"]
        .as_i64()
        .unwrap();
    assert!(s1 < s2 && s2 < s3, "{s1} {s2} {s3}");
    // An unchanged ingest makes no snapshot.
    let again = ingest(&ctx, &other, &["--name", "people", "--replace"]);
    assert_eq!(
        (again["status"].as_str(), again["snapshot"].as_i64()),
        (Some("unchanged"), Some(s3))
    );

    for s in [s1, s2, s3] {
        assert_same_rows(&ctx, "people", s);
    }
    let answers = duck_read(
        &ctx,
        &[
            "SELECT count(*) FROM lake.people",
            "SELECT snapshot_id, changes FROM lake.snapshots() ORDER BY snapshot_id",
            "SELECT count(*) FROM lake.people AT (VERSION => 2)",
        ],
    );
    assert_eq!(answers[0].rows, vec![vec![Value::from(2)]]);
    let snaps = &answers[1].rows;
    assert_eq!(snaps.len() as i64, s3 + 1, "{snaps:?}");
    assert!(
        snaps[s1 as usize][1].to_string().contains("tables_created"),
        "{snaps:?}"
    );
    assert_eq!(answers[2].rows[0][0], Value::from(7));
    // The types DuckDB sees are the ones lake shows.
    let types = duck_read(
        &ctx,
        &["DESCRIBE SELECT * FROM lake.people AT (VERSION => 1)"],
    )
    .remove(0);
    let show = ctx.show("people");
    assert_eq!(show["versions"][0]["snapshot"], s1);
    let described: Vec<(String, String)> = types
        .rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let ours: Vec<(String, String)> = lake_rows(&ctx, "DESCRIBE SELECT * FROM people", Some(s1))
        .iter()
        .map(|r| {
            (
                r["column_name"].as_str().unwrap().to_owned(),
                r["column_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(described, ours);
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(files_under(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// The parquet objects of a store's `datasets/<name>/`.
fn objects_of(store: &std::path::Path, name: &str) -> usize {
    files_under(&store.join("datasets").join(name))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .count()
}

#[test]
fn show_and_info_print_the_attach_statement_that_works() {
    let ctx = TestContext::new();
    ctx.lake(&["ingest", ctx.people().to_str().unwrap()]).ok();
    let show = ctx.show("people");
    let info = json(&ctx.lake(&["info", "--format", "json"]));
    assert_eq!(show["attach"], info["attach"]);
    assert_eq!(info["ducklake_version"], "1.0");
    assert_eq!(info["datasets"], 1);
    assert_eq!(info["snapshots"], 2);
    // The store by its absolute path, as DuckDB records it: the ATTACH
    // needs no DATA_PATH.
    let store = format!("{}/", ctx.home.path().join("store").display());
    if !crate::on_postgres() {
        assert_eq!(info["data_path"], store.as_str());
    }
    let printed = info["attach"].as_str().unwrap();
    assert!(!printed.contains("DATA_PATH"), "{printed}");
    let answer = duck_read(&ctx, &["SELECT count(*) FROM lake.people"]);
    assert_eq!(answer[0].rows[0][0], Value::from(6));
}

#[test]
fn a_plain_attach_from_any_folder_reads_and_writes_the_store() {
    let ctx = TestContext::new();
    ctx.lake(&["ingest", ctx.people().to_str().unwrap()]).ok();
    let plain = attach(&ctx, false);
    assert!(!plain.contains("DATA_PATH"), "{plain}");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = duckdb_in(
        &[
            plain,
            "SELECT count(*) FROM lake.people".to_owned(),
            "INSERT INTO lake.people (id, name) VALUES (77, 'Plain')".to_owned(),
        ],
        Some(elsewhere.path()),
    )
    .unwrap_or_else(|e| panic!("DuckDB from another folder: {e}"));
    assert_eq!(out[1].rows[0][0], Value::from(6));
    // DuckDB wrote its Parquet into the store, not under its own folder.
    assert_eq!(
        files_under(elsewhere.path()),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        ctx.sql("select name from people where id = 77"),
        "name\nPlain\n"
    );
    ctx.lake(&["doctor"]).ok();
}

#[test]
fn a_copied_home_works_in_lake_and_duckdb() {
    // A home whose catalog is a file in it (a shared catalog names its
    // store by an absolute path of its own choosing).
    let ctx = TestContext::sqlite();
    ctx.lake(&["ingest", ctx.people().to_str().unwrap()]).ok();
    let copy = tempfile::tempdir().unwrap();
    copy_dir(ctx.home.path(), copy.path());
    let copy_home = copy.path().to_str().unwrap();
    // lake opens the copy, and records where its store now is: no snapshot.
    let info = json(&ctx.lake(&["--home", copy_home, "info", "--format", "json"]));
    let copy_store = format!("{}/", copy.path().join("store").display());
    assert_eq!(info["data_path"], copy_store.as_str());
    assert_eq!(info["snapshots"], 2);
    let attach = info["attach"].as_str().unwrap().replace(", READ_ONLY", "");
    let attach = attach.replace(" (READ_ONLY)", "");
    assert!(!attach.contains("DATA_PATH"), "{attach}");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = duckdb_in(
        &[
            attach,
            "INSERT INTO lake.people (id, name) VALUES (88, 'Copied')".to_owned(),
            "SELECT count(*) FROM lake.people".to_owned(),
        ],
        Some(elsewhere.path()),
    )
    .unwrap_or_else(|e| panic!("DuckDB on the copy: {e}"));
    assert_eq!(out[2].rows[0][0], Value::from(7));
    // The insert went to the copy's store; the original is untouched.
    assert_eq!(objects_of(&copy.path().join("store"), "people"), 2);
    assert_eq!(objects_of(&ctx.home.path().join("store"), "people"), 1);
    assert_eq!(
        ctx.lake(&[
            "--home",
            copy_home,
            "sql",
            "select count(*) as n from people"
        ])
        .ok(),
        "n\n7\n"
    );
    ctx.lake(&["--home", copy_home, "doctor"]).ok();
    assert_eq!(ctx.sql("select count(*) as n from people"), "n\n6\n");
    ctx.lake(&["doctor"]).ok();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn duckdb_writes_are_part_of_the_lake() {
    let ctx = TestContext::new();
    ctx.lake(&["ingest", ctx.people().to_str().unwrap()]).ok();
    let before = json(&ctx.lake(&["info", "--format", "json"]))["snapshot"]
        .as_i64()
        .unwrap();
    duck_write(
        &ctx,
        &["INSERT INTO lake.people (id, name) VALUES (100, 'Duck'), (101, 'Drake')"],
    );
    assert_eq!(ctx.sql("select count(*) as n from people"), "n\n8\n");
    assert_eq!(
        ctx.sql("select name from people where id >= 100 order by id"),
        "name\nDuck\nDrake\n"
    );
    let ls: Value = serde_json::from_str(ctx.lake(&["ls", "--format", "json"]).ok()).unwrap();
    assert_eq!(ls[0]["rows"], 8);

    duck_write(&ctx, &["DELETE FROM lake.people WHERE id = 100 OR id = 1"]);
    assert_eq!(ctx.sql("select count(*) as n from people"), "n\n6\n");
    assert_eq!(
        ctx.sql("select count(*) as n from people where id in (1, 100)"),
        "n\n0\n"
    );
    assert_eq!(ctx.show("people")["rows"], 6);

    duck_write(&ctx, &["ALTER TABLE lake.people ADD COLUMN tier INTEGER"]);
    assert_eq!(
        ctx.sql("select count(*) as n, count(tier) as t from people"),
        "n,t\n6,0\n"
    );
    duck_write(
        &ctx,
        &[
            "INSERT INTO lake.people (id, name, tier) VALUES (200, 'Tiered', 3)",
            "CREATE TABLE lake.made_by_duckdb AS SELECT range AS n, 'x' || range AS s FROM range(5)",
        ],
    );
    assert_eq!(
        ctx.sql("select tier from people where id = 200"),
        "tier\n3\n"
    );
    // A default for earlier rows, and a renamed column (files keep the old
    // name: lake maps them by column id).
    duck_write(
        &ctx,
        &[
            "ALTER TABLE lake.people ADD COLUMN lvl INTEGER DEFAULT 7",
            "ALTER TABLE lake.people RENAME COLUMN name TO full_name",
            "INSERT INTO lake.people (id, full_name, lvl) VALUES (300, 'Renamed', 1)",
        ],
    );
    assert_eq!(
        ctx.sql("select full_name, lvl from people where id in (2, 300) order by id"),
        "full_name,lvl\nBob,7\nRenamed,1\n"
    );
    assert_eq!(ctx.sql("select sum(n) as s from made_by_duckdb"), "s\n10\n");
    duck_write(&ctx, &["ALTER TABLE lake.made_by_duckdb RENAME TO renamed"]);
    ctx.lake(&["show", "made_by_duckdb"]).fails(4);
    let before_rename = json(&ctx.lake(&["info", "--format", "json"]))["snapshot"]
        .as_i64()
        .unwrap()
        - 1;
    let err = ctx
        .lake(&[
            "restore",
            "made_by_duckdb",
            "--to",
            &before_rename.to_string(),
        ])
        .fails(1)
        .to_owned();
    assert!(err.contains("now named renamed"), "{err}");
    assert_eq!(ctx.sql("select sum(n) as s from renamed"), "s\n10\n");
    duck_write(&ctx, &["ALTER TABLE lake.renamed RENAME TO made_by_duckdb"]);
    let show = ctx.show("made_by_duckdb");
    assert_eq!(show["rows"], 5);
    // Every snapshot reads the same in both engines.
    let now = json(&ctx.lake(&["info", "--format", "json"]))["snapshot"]
        .as_i64()
        .unwrap();
    for s in before..=now {
        assert_same_rows(&ctx, "people", s);
    }
    // A later lake ingest on a DuckDB table follows the usual rules.
    let csv = ctx.write("made.csv", "n,s\n7,y\n");
    let out = ctx.lake(&[
        "ingest",
        csv.to_str().unwrap(),
        "--name",
        "made_by_duckdb",
        "--append",
    ]);
    // DuckDB's table has BIGINT n and VARCHAR s: the same schema as the CSV.
    out.ok();
    assert_eq!(
        ctx.sql("select count(*) as n from made_by_duckdb"),
        "n\n6\n"
    );
    assert_same_rows(&ctx, "made_by_duckdb", now + 1);
}

#[test]
fn inlined_rows_fail_only_that_dataset_with_a_clear_error() {
    let ctx = TestContext::new();
    ctx.lake(&["ingest", ctx.people().to_str().unwrap()]).ok();
    duck_write(
        &ctx,
        &[
            "CALL lake.set_option('data_inlining_row_limit', 100)",
            "CREATE TABLE lake.tiny (a INTEGER)",
            "INSERT INTO lake.tiny VALUES (1), (2)",
        ],
    );
    let err = ctx.lake(&["sql", "select * from tiny"]).fails(1).to_owned();
    assert!(
        err.contains("dataset tiny") && err.contains("inlined"),
        "{err}"
    );
    assert_eq!(ctx.sql("select count(*) as n from people"), "n\n6\n");
    // DuckDB itself still reads them.
    let answer = duck_read(&ctx, &["SELECT count(*) FROM lake.tiny"]);
    assert_eq!(answer[0].rows[0][0], Value::from(2));
}

#[test]
fn rm_log_and_restore_are_snapshots_duckdb_sees() {
    let ctx = TestContext::new();
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    let v2 = ctx.write("people.csv", "id,name\n1,Only\n");
    ctx.lake(&["ingest", v2.to_str().unwrap(), "--replace"])
        .ok();
    let log: Value =
        serde_json::from_str(ctx.lake(&["log", "people", "--format", "json"]).ok()).unwrap();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["change"], "replaced with a new schema");
    assert_eq!(log[0]["rows"], 1);
    assert_eq!(log[1]["change"], "created");
    assert_eq!(log[1]["rows"], 6);
    let first = log[1]["snapshot"].as_i64().unwrap();

    let restored = json(&ctx.lake(&[
        "restore",
        "people",
        "--to",
        &first.to_string(),
        "--format",
        "json",
    ]));
    assert_eq!(restored["rows"], 6);
    assert_eq!(ctx.sql("select count(*) as n from people"), "n\n6\n");
    let files_before = ctx.dataset_files().len();
    assert_eq!(files_before, 2, "restore copies nothing");
    let answer = duck_read(&ctx, &["SELECT count(*) FROM lake.people"]);
    assert_eq!(answer[0].rows[0][0], Value::from(6));

    let rm = json(&ctx.lake(&["rm", "people", "--format", "json"]));
    let removed_at = rm["snapshot"].as_i64().unwrap();
    ctx.lake(&["show", "people"]).fails(4);
    ctx.lake(&["rm", "people"]).fails(4);
    ctx.lake(&["sql", "select * from people"]).fails(1);
    let answers = duck_read(
        &ctx,
        &[
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'lake'",
            &format!(
                "SELECT count(*) FROM lake.people AT (VERSION => {})",
                removed_at - 1
            ),
        ],
    );
    assert_eq!(answers[0].rows[0][0], Value::from(0));
    assert_eq!(answers[1].rows[0][0], Value::from(6));
    assert_eq!(
        lake_rows(
            &ctx,
            "select count(*)::VARCHAR as n from people",
            Some(removed_at - 1)
        )[0]["n"],
        "6"
    );
    // By time too: the present has no people, the past does.
    let time = log[1]["time"].as_str().unwrap();
    ctx.lake(&["sql", "--at", time, "select count(*) from people"])
        .ok();
    ctx.lake(&["sql", "--at", "1999-01-01", "select 1"])
        .fails(4);
    ctx.lake(&["restore", "people", "--to", "999"]).fails(4);
}

/// A small deterministic generator, so a failing sequence can be replayed.
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn a_random_history_reads_the_same_in_lake_and_duckdb_at_every_snapshot() {
    let ctx = TestContext::new();
    let mut rng = Rng(0x5eed_1a4e);
    let mut csv_n = 0;
    let mut write_csv = |rng: &mut Rng, wide: bool| {
        csv_n += 1;
        let mut text = if wide {
            "id,label,extra\n".to_owned()
        } else {
            "id,label\n".to_owned()
        };
        for _ in 0..1 + rng.below(5) {
            let id = rng.below(50);
            if wide {
                text.push_str(&format!("{id},l{id},{}\n", rng.below(3)));
            } else {
                text.push_str(&format!("{id},l{id}\n"));
            }
        }
        ctx.write(&format!("f{csv_n}.csv"), text)
    };
    let first = write_csv(&mut rng, false);
    ctx.lake(&["ingest", first.to_str().unwrap(), "--name", "t"])
        .ok();
    let mut steps = Vec::new();
    for _ in 0..14 {
        let exists = ctx.lake(&["show", "t"]).code == 0;
        let step = if exists { rng.below(7) } else { 6 };
        let snapshot = || {
            json(&ctx.lake(&["info", "--format", "json"]))["snapshot"]
                .as_i64()
                .unwrap()
        };
        match step {
            0 => {
                let f = write_csv(&mut rng, false);
                ctx.lake(&["ingest", f.to_str().unwrap(), "--name", "t", "--append"]);
            }
            1 => {
                let f = write_csv(&mut rng, false);
                ctx.lake(&["ingest", f.to_str().unwrap(), "--name", "t"]);
            }
            2 => {
                let wide = rng.below(2) == 0;
                let f = write_csv(&mut rng, wide);
                ctx.lake(&["ingest", f.to_str().unwrap(), "--name", "t", "--replace"])
                    .ok();
            }
            3 => {
                let id = rng.below(50);
                duck_write(
                    &ctx,
                    &[&format!("DELETE FROM lake.t WHERE id = {id} OR id % 7 = 0")],
                );
            }
            4 => {
                let id = 1000 + rng.below(50);
                duck_write(
                    &ctx,
                    &[&format!(
                        "INSERT INTO lake.t (id, label) VALUES ({id}, 'duck')"
                    )],
                );
            }
            5 => {
                ctx.lake(&["rm", "t"]).ok();
            }
            _ => {
                let to = 1 + rng.below(snapshot() as u64) as i64;
                ctx.lake(&["restore", "t", "--to", &to.to_string()]);
            }
        }
        steps.push(step);
    }
    let last = json(&ctx.lake(&["info", "--format", "json"]))["snapshot"]
        .as_i64()
        .unwrap();
    for s in 1..=last {
        let exists_then = ctx
            .lake(&["sql", "--at", &s.to_string(), "select count(*) from t"])
            .code
            == 0;
        if exists_then {
            assert_same_rows(&ctx, "t", s);
        } else {
            let r = duckdb(&[
                attach(&ctx, true),
                format!("SELECT * FROM lake.t AT (VERSION => {s})"),
            ]);
            assert!(
                r.is_err(),
                "DuckDB has t at {s} but lake does not (steps {steps:?})"
            );
        }
    }
}

#[test]
fn lake_writers_and_a_duckdb_writer_race_without_losing_a_commit() {
    let ctx = TestContext::new();
    let seed = ctx.write("seed.csv", "id,src\n0,seed\n");
    ctx.lake(&["ingest", seed.to_str().unwrap(), "--name", "race"])
        .ok();
    let attach = attach(&ctx, false);
    let mut lake_children = Vec::new();
    for i in 0..4 {
        let mut csv = String::from("id,src\n");
        for r in 0..500 {
            csv.push_str(&format!("{},lake{i}\n", 1 + i * 1000 + r));
        }
        let path = ctx.write(&format!("race{i}.csv"), csv);
        lake_children.push(
            ctx.command()
                .args([
                    "ingest",
                    path.to_str().unwrap(),
                    "--name",
                    "race",
                    "--append",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    // DuckDB inserts one row per transaction meanwhile; each either commits
    // or fails with an error, and only what committed may be there.
    let mut duck_ok = 0;
    let mut duck_errors = Vec::new();
    for i in 0..6 {
        match duckdb(&[
            attach.clone(),
            format!("INSERT INTO lake.race VALUES ({}, 'duck')", 90_000 + i),
        ]) {
            Ok(_) => duck_ok += 1,
            Err(e) => duck_errors.push(e),
        }
    }
    let mut lake_ok = 0;
    for child in lake_children {
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            lake_ok += 1;
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("locked") || err.contains("busy"), "{err}");
        }
    }
    assert_eq!(lake_ok, 4, "lake writers wait for the lock");
    for e in &duck_errors {
        assert!(
            e.contains("lock") || e.contains("onflict") || e.contains("busy"),
            "{e}"
        );
    }
    let expected = 1 + 500 * lake_ok + duck_ok;
    assert_eq!(
        ctx.sql("select count(*) as n from race"),
        format!("n\n{expected}\n")
    );
    assert_eq!(
        ctx.sql("select count(*) as n from race where src = 'duck'"),
        format!("n\n{duck_ok}\n")
    );
    // Snapshot ids are unique and gapless; DuckDB agrees on the rows.
    let answers = duck_read(
        &ctx,
        &[
            "SELECT count(*), min(snapshot_id), max(snapshot_id) FROM lake.snapshots()",
            "SELECT count(*) FROM lake.race",
        ],
    );
    let (n, lo, hi) = (
        &answers[0].rows[0][0],
        &answers[0].rows[0][1],
        &answers[0].rows[0][2],
    );
    assert_eq!(
        n.as_i64().unwrap(),
        hi.as_i64().unwrap() - lo.as_i64().unwrap() + 1
    );
    assert_eq!(answers[1].rows[0][0], Value::from(expected));
}

#[test]
fn a_home_from_the_previous_release_is_migrated_in_place() {
    // Made by the release before DuckLake (kept as a fixture): people
    // created, appended, then replaced with a new schema; scores created.
    // Its catalog is a SQLite file, whatever catalog this run tests.
    let ctx = TestContext::sqlite();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-home");
    copy_dir(&fixture, ctx.home.path());
    let ls: Value = serde_json::from_str(ctx.lake(&["ls", "--format", "json"]).ok()).unwrap();
    let names: Vec<&str> = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["people", "scores"]);
    let people = ctx.show("people");
    let versions = people["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 3, "{people}");
    assert_eq!(
        versions
            .iter()
            .map(|v| v["rows"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [6, 7, 2]
    );
    assert_eq!(people["dataset_id"], "54eb9062-488a-5c80-9ade-2bd63f8dc68c");
    // Every old version is a snapshot that both engines read alike.
    let log: Value = serde_json::from_str(ctx.lake(&["log", "--format", "json"]).ok()).unwrap();
    let snapshots: Vec<i64> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["snapshot"].as_i64().unwrap())
        .collect();
    assert_eq!(snapshots, [4, 3, 2, 1, 0]);
    for v in versions {
        assert_same_rows(&ctx, "people", v["snapshot"].as_i64().unwrap());
    }
    assert_same_rows(&ctx, "scores", 4);
    // Statistics were read from the objects on the first open.
    assert_eq!(
        ctx.catalog_value("SELECT count(*) FROM lake_object WHERE stats_recorded = 0"),
        "0"
    );
    // And the lake goes on as usual.
    let more = ctx.write("scores.csv", "name,score\nzed,1.5\n");
    ctx.lake(&["ingest", more.to_str().unwrap(), "--append"])
        .ok();
    assert_same_rows(&ctx, "scores", 5);
}

#[test]
fn evolve_adds_removes_and_widens_without_rewriting_objects() {
    let ctx = TestContext::new();
    let v1 = ctx.write(
        "t1.csv",
        "id,name,day\n1,a,2024-01-01\n2,b,2024-01-02\n3,c,2024-01-03\n",
    );
    ctx.lake(&["ingest", v1.to_str().unwrap(), "--name", "t"])
        .ok();
    let v2 = ctx.write("t2.csv", "id,name,day,age\n4,d,2024-02-01,40\n");
    let err = ctx
        .lake(&["ingest", v2.to_str().unwrap(), "--name", "t", "--append"])
        .fails(3)
        .to_owned();
    assert!(err.contains("added age BIGINT"), "{err}");
    let out = ingest(&ctx, &v2, &["--name", "t", "--append", "--evolve"]);
    assert_eq!(out["evolved"], "added age BIGINT");
    assert_eq!(
        ctx.sql("select id, age from t order by id"),
        "id,age\n1,\n2,\n3,\n4,40\n"
    );
    // Text ids widen the column to VARCHAR; the date column goes.
    let v3 = ctx.write("t3.csv", "id,name,age\nx9,e,2.5\n");
    let out = ingest(&ctx, &v3, &["--name", "t", "--append", "--evolve"]);
    assert_eq!(
        out["evolved"],
        "removed day DATE; widened id BIGINT -> VARCHAR, age BIGINT -> DOUBLE"
    );
    assert_eq!(
        ctx.sql("select id, age from t order by id"),
        "id,age\n1,\n2,\n3,\n4,40.0\nx9,2.5\n"
    );
    assert_eq!(
        ctx.dataset_files().len(),
        3,
        "old objects are not rewritten"
    );
    // A retype that is no widening is refused even so.
    let v4 = ctx.write("t4.csv", "id,name,age\n5,f,2024-01-01\n");
    ctx.lake(&[
        "ingest",
        v4.to_str().unwrap(),
        "--name",
        "t",
        "--append",
        "--evolve",
    ])
    .fails(3);
    // DuckDB reads every snapshot alike, and its filters (pruned by the
    // statistics) find rows of the widened column.
    let now = json(&ctx.lake(&["info", "--format", "json"]))["snapshot"]
        .as_i64()
        .unwrap();
    for s in 1..=now {
        assert_same_rows(&ctx, "t", s);
    }
    let answers = duck_read(
        &ctx,
        &[
            "SELECT count(*) FROM lake.t WHERE id = '3'",
            "SELECT count(*) FROM lake.t WHERE age > 30",
        ],
    );
    assert_eq!(answers[0].rows[0][0], Value::from(1));
    assert_eq!(answers[1].rows[0][0], Value::from(1));
}

#[test]
fn duckdb_reads_a_lake_on_s3_with_its_own_s3_support() {
    use crate::s3::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY, s3_context};
    let server = S3Server::start();
    let ctx = s3_context(&server);
    ctx.lake(&["init", "--store", &format!("s3://{BUCKET}/lake")])
        .ok();
    ctx.lake(&["ingest", ctx.people().to_str().unwrap()]).ok();
    // The catalog records the bucket's URL: the ATTACH needs no DATA_PATH.
    let info = json(&ctx.lake(&["info", "--format", "json"]));
    assert_eq!(info["data_path"], format!("s3://{BUCKET}/lake/"));
    let attach = attach(&ctx, true);
    assert!(!attach.contains("DATA_PATH"), "{attach}");
    let endpoint = server.endpoint.trim_start_matches("http://");
    let answers = duckdb(&[
        format!(
            "CREATE SECRET lake_s3 (TYPE s3, KEY_ID '{ACCESS_KEY}', SECRET '{SECRET_KEY}', \
             REGION 'us-east-1', ENDPOINT '{endpoint}', URL_STYLE 'path', USE_SSL false)"
        ),
        attach,
        "SELECT count(*), sum(age) FROM lake.people".to_owned(),
    ])
    .unwrap_or_else(|e| panic!("DuckDB failed: {e}"));
    assert_eq!(answers[2].rows[0], vec![Value::from(6), Value::from(193)]);
}

#[test]
fn a_column_type_lake_does_not_ingest_is_a_clear_conflict() {
    let ctx = TestContext::new();
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    duck_write(&ctx, &["ALTER TABLE lake.people ADD COLUMN tier INTEGER"]);
    for extra in [&[][..], &["--evolve"][..]] {
        let mut args = vec!["ingest", people.to_str().unwrap(), "--append"];
        args.extend_from_slice(extra);
        let err = ctx.lake(&args).fails(3).to_owned();
        assert!(
            err.contains("columns lake does not ingest (tier INTEGER)"),
            "{err}"
        );
    }
    // --replace takes the file's schema; DuckDB reads the result.
    ctx.lake(&["ingest", people.to_str().unwrap(), "--replace"])
        .ok();
    let now = json(&ctx.lake(&["info", "--format", "json"]))["snapshot"]
        .as_i64()
        .unwrap();
    assert_same_rows(&ctx, "people", now);
}

#[test]
fn structs_and_lists_are_duckdb_columns_with_children_both_ways() {
    let ctx = TestContext::new();
    let v1 = ctx.write(
        "nested.jsonl",
        concat!(
            r#"{"id": 1, "user": {"name": "Ann", "tags": ["a", "b"], "born": "2001-02-03"}, "scores": [1, 2.5]}"#,
            "\n",
            r#"{"id": 2, "user": {"name": "Bob", "tags": [], "born": null}, "scores": null}"#,
            "\n",
            r#"{"id": 3, "user": null, "scores": [3]}"#,
            "\n",
        ),
    );
    let s1 = ingest(&ctx, &v1, &[])["snapshot"].as_i64().unwrap();
    assert_same_rows(&ctx, "nested", s1);
    let described = duck_read(&ctx, &["DESCRIBE lake.nested"]).remove(0);
    assert_eq!(
        described.rows[1][1],
        "STRUCT(\"name\" VARCHAR, tags VARCHAR[], born DATE)"
    );
    // DuckDB's own rows (its Parquet has field ids) read in lake.
    duck_write(
        &ctx,
        &[
            "CALL lake.set_option('data_inlining_row_limit', 0)",
            "INSERT INTO lake.nested VALUES \
             (9, {'name': 'Dee', 'tags': ['d'], 'born': DATE '1999-01-01'}, [7.5])",
        ],
    );
    assert_eq!(
        ctx.sql("select user.name, user.tags, scores from nested where id = 9"),
        "name,tags,scores\nDee,\"[\"\"d\"\"]\",[7.5]\n"
    );
    // The same shape appends; a key a STRUCT lacks is a retype no
    // evolution takes.
    let v2 = ctx.write(
        "more.jsonl",
        r#"{"id": 4, "user": {"name": "Cy", "tags": ["c"], "born": "1990-05-06"}, "scores": [0.5]}"#,
    );
    ingest(&ctx, &v2, &["--name", "nested", "--append"]);
    let v3 = ctx.write(
        "wider.jsonl",
        r#"{"id": 5, "user": {"name": "Eve", "tags": [], "born": null, "age": 3}, "scores": [1]}"#,
    );
    for extra in [&[][..], &["--evolve"][..]] {
        let mut args = vec![
            "ingest",
            v3.to_str().unwrap(),
            "--name",
            "nested",
            "--append",
        ];
        args.extend_from_slice(extra);
        let err = ctx.lake(&args).fails(3).to_owned();
        assert!(err.contains("user STRUCT(\"name\" VARCHAR"), "{err}");
        assert!(err.contains("\"age\" BIGINT)"), "{err}");
    }
    // Evolution drops a nested column (its children with it) and adds one.
    let v4 = ctx.write(
        "moved.jsonl",
        r#"{"id": 6, "scores": [6], "place": {"at": [{"x": 1.5, "y": 2}]}}"#,
    );
    let out = ingest(&ctx, &v4, &["--name", "nested", "--append", "--evolve"]);
    assert_eq!(
        out["evolved"],
        "added place STRUCT(\"at\" STRUCT(\"x\" DOUBLE, \"y\" BIGINT)[]); \
         removed user STRUCT(\"name\" VARCHAR, \"tags\" VARCHAR[], \"born\" DATE)"
    );
    assert_eq!(
        ctx.sql("select id, place.at[1].x as x from nested where id = 6"),
        "id,x\n6,1.5\n"
    );
    let now = json(&ctx.lake(&["info", "--format", "json"]))["snapshot"]
        .as_i64()
        .unwrap();
    for s in s1..=now {
        assert_same_rows(&ctx, "nested", s);
    }
}

#[test]
fn duckdb_answers_from_leaves_with_and_without_a_dictionary() {
    // Leaves inside objects and arrays: few distinct values (a dictionary)
    // and unique ones (none), side by side in one column.
    let ctx = TestContext::new();
    let n = 3000;
    let text: String = (0..n)
        .map(|i| {
            format!(
                r#"{{"id": {i}, "o": {{"u": "u{i}", "k": "k{}", "x": {i}.5}}, "l": [{}, {}]}}"#,
                i % 3,
                i % 2,
                i % 5
            ) + "\n"
        })
        .collect();
    let file = ctx.write("leaves.jsonl", &text);
    ingest(&ctx, &file, &[]);
    let answer = duck_read(
        &ctx,
        &[
            "SELECT COLUMNS(*)::VARCHAR FROM (SELECT count(*), count(DISTINCT o.k), \
           min(o.k), max(o.k), min(o.u), max(o.u), sum(o.x), sum(l[1]), sum(l[2]) \
           FROM lake.leaves)",
        ],
    )
    .remove(0);
    let us = (0..n).map(|i| format!("u{i}"));
    let expected = [
        n.to_string(),
        "3".to_owned(),
        "k0".to_owned(),
        "k2".to_owned(),
        us.clone().min().unwrap(),
        us.max().unwrap(),
        format!("{:.1}", (0..n).map(|i| i as f64 + 0.5).sum::<f64>()),
        (0..n).map(|i| i % 2).sum::<usize>().to_string(),
        (0..n).map(|i| i % 5).sum::<usize>().to_string(),
    ];
    let got: Vec<String> = answer.rows[0]
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, expected);
}
