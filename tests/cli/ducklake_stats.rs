//! The statistics lake records in the DuckLake catalog, checked against
//! DuckDB's: DuckDB answers `count(col)`, `min`, `max` and `count(*)` from
//! them, and skips files and tables with them, so a wrong row is a wrong
//! answer. The oracle is DuckDB 1.5 with its ducklake extension (the wheels
//! `.ci/run` installs): the rows it writes for the same history, and its
//! answers on lake's catalog.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::TestContext;
use crate::ducklake::{Rng, columns_at, duck_read, duck_write, duckdb, ingest, lake_sql_at};

#[test]
fn statistics_let_duckdb_prune_and_are_exact() {
    let ctx = TestContext::new();
    let a = ctx.write(
        "a.csv",
        "id,v,d,s\n1,0.5,2024-01-01,apple\n2,1.5,2024-01-02,\n",
    );
    let b = ctx.write(
        "b.csv",
        "id,v,d,s\n10,-2.5,2023-06-30,zebra\n20,3,2025-01-01,mango\n",
    );
    ctx.lake(&["ingest", a.to_str().unwrap(), "--name", "t"])
        .ok();
    ctx.lake(&["ingest", b.to_str().unwrap(), "--name", "t", "--append"])
        .ok();
    let answers = duck_read(
        &ctx,
        &[
            "SELECT count(*) FROM lake.t WHERE id = 1",
            "SELECT count(*) FROM lake.t WHERE id > 5",
            "SELECT count(*) FROM lake.t WHERE s = 'zebra'",
            "SELECT count(*) FROM lake.t WHERE d < DATE '2024-01-01'",
            "SELECT min(v), max(v), count(s) FROM lake.t",
        ],
    );
    let counts: Vec<Value> = answers[..4].iter().map(|a| a.rows[0][0].clone()).collect();
    assert_eq!(counts, [1, 2, 1, 1].map(Value::from));
    assert_eq!(
        answers[4].rows[0],
        vec![Value::from(-2.5), Value::from(3.0), Value::from(3)]
    );
    // The recorded per-file and table stats are the true bounds.
    let table = ctx.catalog_rows(
        "SELECT c.column_name, s.min_value, s.max_value, CAST(s.contains_null AS INTEGER)
         FROM ducklake_table_column_stats s JOIN ducklake_column c USING (table_id, column_id)
         ORDER BY c.column_order",
    );
    let row = |cells: [&str; 4]| cells.map(|c| Some(c.to_owned())).to_vec();
    assert_eq!(
        table,
        vec![
            row(["id", "1", "20", "0"]),
            row(["v", "-2.5", "3", "0"]),
            row(["d", "2023-06-30", "2025-01-01", "0"]),
            row(["s", "apple", "zebra", "1"]),
        ]
    );
    assert_eq!(
        ctx.catalog_value("SELECT count(*) FROM ducklake_file_column_stats"),
        "8"
    );

    // Strings longer than the footer keeps whole: the recorded bounds still
    // hold every value, so DuckDB finds the longest and the smallest.
    let long_max = format!("zz{}", "y".repeat(100));
    let long_min = format!("a{}", "b".repeat(100));
    let c = ctx.write(
        "c.csv",
        format!("id,v,d,s\n3,1.5,2024-01-01,{long_max}\n4,1.5,2024-01-01,{long_min}\n"),
    );
    ctx.lake(&["ingest", c.to_str().unwrap(), "--name", "t", "--append"])
        .ok();
    let answers = duck_read(
        &ctx,
        &[
            &format!("SELECT id FROM lake.t WHERE s = '{long_max}'"),
            &format!("SELECT id FROM lake.t WHERE s = '{long_min}'"),
            "SELECT count(*) FROM lake.t WHERE s > 'zz'",
        ],
    );
    assert_eq!(answers[0].rows, vec![vec![Value::from(3)]]);
    assert_eq!(answers[1].rows, vec![vec![Value::from(4)]]);
    assert_eq!(answers[2].rows, vec![vec![Value::from(1)]]);
}

/// One catalog's statistics, as DuckDB reads them from the metadata
/// database of the DuckLake attached as `alias`: values normalised by the
/// column's type (numbers as numbers, booleans as booleans), sizes left
/// out (two Parquet writers never agree on them).
#[derive(Debug, PartialEq)]
struct Recorded {
    /// `ducklake_table_stats`: record_count, next_row_id.
    table: Vec<Value>,
    /// Per data file (in id order): record_count, row_id_start, then per
    /// column: name, value_count, null_count, min, max, contains_nan.
    files: Vec<Vec<Value>>,
    /// `ducklake_table_column_stats` by column name: contains_null,
    /// contains_nan, min, max.
    columns: BTreeMap<String, Vec<Value>>,
}

/// The statements that read [`Recorded`] of the DuckLake attached as
/// `alias` (its one table).
fn recorded_queries(alias: &str) -> Vec<String> {
    let m = format!("__ducklake_metadata_{alias}");
    vec![
        format!("SELECT record_count, next_row_id FROM {m}.ducklake_table_stats"),
        format!(
            "SELECT f.data_file_id, f.record_count, f.row_id_start, c.column_name, c.column_type,
                 s.value_count, s.null_count, s.min_value, s.max_value,
                 CAST(s.contains_nan AS BOOLEAN)
             FROM {m}.ducklake_file_column_stats s
             JOIN {m}.ducklake_data_file f USING (data_file_id)
             JOIN {m}.ducklake_column c ON c.table_id = s.table_id AND c.column_id = s.column_id
                 AND c.end_snapshot IS NULL
             ORDER BY f.data_file_id, c.column_order"
        ),
        format!(
            "SELECT c.column_name, c.column_type, CAST(s.contains_null AS BOOLEAN),
                 CAST(s.contains_nan AS BOOLEAN), s.min_value, s.max_value
             FROM {m}.ducklake_table_column_stats s
             JOIN {m}.ducklake_column c ON c.table_id = s.table_id AND c.column_id = s.column_id
                 AND c.end_snapshot IS NULL
             ORDER BY c.column_order"
        ),
    ]
}

/// A statistics value of a column of DuckLake type `t`, comparable across
/// writers (`2` and `2.0`, `1` and `true` are the same bound).
fn bound(t: &Value, v: &Value) -> Value {
    let Some(text) = v.as_str() else {
        return v.clone();
    };
    match t.as_str().unwrap_or_default() {
        "int64" | "float64" => text
            .parse::<f64>()
            .map_or_else(|_| v.clone(), |f| Value::from(f.to_string())),
        "boolean" => Value::from(matches!(text, "1" | "true")),
        _ => v.clone(),
    }
}

fn recorded(answers: &[crate::ducklake::Answer]) -> Recorded {
    let [table, files, columns] = answers else {
        panic!("three answers, not {answers:?}")
    };
    let mut by_file: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for r in &files.rows {
        let entry = by_file
            .entry(r[0].as_i64().unwrap())
            .or_insert_with(|| vec![r[1].clone(), r[2].clone()]);
        entry.extend([
            r[3].clone(),
            r[5].clone(),
            r[6].clone(),
            bound(&r[4], &r[7]),
            bound(&r[4], &r[8]),
            r[9].clone(),
        ]);
    }
    Recorded {
        table: table.rows.first().cloned().unwrap_or_default(),
        files: by_file.into_values().collect(),
        columns: columns
            .rows
            .iter()
            .map(|r| {
                (
                    r[0].as_str().unwrap().to_owned(),
                    vec![
                        r[2].clone(),
                        r[3].clone(),
                        bound(&r[1], &r[4]),
                        bound(&r[1], &r[5]),
                    ],
                )
            })
            .collect(),
    }
}

/// Aggregates DuckDB may take from statistics, over `table` (at `at`, if
/// given), one query each, every answer as text; then `count(*)` under
/// each of `filters` (which DuckDB may answer by skipping files).
fn aggregate_queries(
    table: &str,
    columns: &[String],
    filters: &[&str],
    at: Option<i64>,
) -> Vec<String> {
    let from = match at {
        Some(s) => format!("{table} AT (VERSION => {s})"),
        None => table.to_owned(),
    };
    let mut out = vec![format!("SELECT count(*)::VARCHAR FROM {from}")];
    for c in columns {
        let c = format!("\"{c}\"");
        out.extend([
            format!("SELECT count({c})::VARCHAR FROM {from}"),
            format!("SELECT min({c})::VARCHAR, max({c})::VARCHAR FROM {from}"),
            format!("SELECT count(*)::VARCHAR FROM {from} WHERE {c} IS NULL"),
        ]);
    }
    for f in filters {
        out.push(format!("SELECT count(*)::VARCHAR FROM {from} WHERE {f}"));
    }
    out
}

/// The same aggregates in one query for lake (which takes none of them from
/// statistics): one text value each, in the order of [`aggregate_queries`].
fn lake_aggregates(
    ctx: &TestContext,
    table: &str,
    columns: &[String],
    filters: &[&str],
    at: Option<i64>,
) -> Vec<Value> {
    let mut select = vec!["count(*)::VARCHAR".to_owned()];
    for c in columns {
        let c = format!("\"{c}\"");
        select.extend([
            format!("count({c})::VARCHAR"),
            format!("min({c})::VARCHAR"),
            format!("max({c})::VARCHAR"),
            format!("count(*) FILTER (WHERE {c} IS NULL)::VARCHAR"),
        ]);
    }
    select.extend(
        filters
            .iter()
            .map(|f| format!("count(*) FILTER (WHERE {f})::VARCHAR")),
    );
    // Named in order: the row's keys come back sorted.
    let select: Vec<String> = select
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{e} AS a{i:04}"))
        .collect();
    let sql = format!("SELECT {} FROM {table}", select.join(", "));
    let out = lake_sql_at(ctx, "ndjson", &sql, at);
    let row: serde_json::Map<String, Value> =
        serde_json::from_str(out.ok().lines().next().unwrap()).unwrap();
    row.into_iter().map(|(_, v)| v).collect()
}

/// DuckDB's answers to [`aggregate_queries`], flattened as lake's.
fn duck_aggregates(answers: &[crate::ducklake::Answer]) -> Vec<Value> {
    answers.iter().flat_map(|a| a.rows[0].clone()).collect()
}

/// Filters of the same-history test, which DuckDB may answer by pruning.
const FILTERS: [&str; 5] = [
    "id > 4",
    "score > 80",
    "joined < DATE '2020-01-01'",
    "email = 'fay@example.com'",
    "email IS NOT NULL",
];

/// The history of the issue that found DuckDB counting NULLs: `people`
/// made, appended to, then appended to with `--evolve` by a file that adds
/// `email` (one row of six has it). The three snapshots.
pub(crate) fn evolved_people(ctx: &TestContext) -> [i64; 3] {
    let p1 = ctx.write(
        "p1.csv",
        "id,name,score,joined,active\n1,Ann,91.5,2021-03-14,true\n\
         2,Bob,,2022-07-01,false\n3,Cy,70,2019-11-23,true\n",
    );
    let p2 = ctx.write(
        "p2.csv",
        "id,name,score,joined,active\n4,Dee,65.5,2023-01-09,\n5,Eve,88.25,2020-05-30,false\n",
    );
    let p3 = ctx.write(
        "p3.csv",
        "id,name,score,joined,active,email\n6,Fay,73,2018-02-17,true,fay@example.com\n",
    );
    let created = ingest(ctx, &p1, &["--name", "people"]);
    let appended = ingest(ctx, &p2, &["--name", "people", "--append"]);
    let evolved = ingest(ctx, &p3, &["--name", "people", "--append", "--evolve"]);
    assert_eq!(evolved["evolved"], "added email VARCHAR", "{evolved}");
    [created, appended, evolved].map(|r| r["snapshot"].as_i64().unwrap())
}

#[test]
fn lake_records_the_statistics_duckdb_records_for_the_same_history() {
    let ctx = TestContext::new();
    evolved_people(&ctx);

    // The same history, written by DuckDB alone.
    let alone = tempfile::tempdir().unwrap();
    let mut statements = vec![
        format!(
            "ATTACH 'ducklake:sqlite:{0}/duck.sqlite' AS duck \
             (DATA_PATH '{0}/store/', DATA_INLINING_ROW_LIMIT 0)",
            alone.path().display()
        ),
        "CREATE TABLE duck.people (id BIGINT, name VARCHAR, score DOUBLE, joined DATE, \
         active BOOLEAN)"
            .to_owned(),
        "INSERT INTO duck.people VALUES (1, 'Ann', 91.5, '2021-03-14', true), \
         (2, 'Bob', NULL, '2022-07-01', false), (3, 'Cy', 70, '2019-11-23', true)"
            .to_owned(),
        "INSERT INTO duck.people VALUES (4, 'Dee', 65.5, '2023-01-09', NULL), \
         (5, 'Eve', 88.25, '2020-05-30', false)"
            .to_owned(),
        "ALTER TABLE duck.people ADD COLUMN email VARCHAR".to_owned(),
        "INSERT INTO duck.people VALUES (6, 'Fay', 73, '2018-02-17', true, 'fay@example.com')"
            .to_owned(),
    ];
    statements.extend(recorded_queries("duck"));
    let columns: Vec<String> = ["id", "name", "score", "joined", "active", "email"]
        .map(String::from)
        .to_vec();
    statements.extend(aggregate_queries("duck.people", &columns, &FILTERS, None));
    let answers = duckdb(&statements).unwrap_or_else(|e| panic!("DuckDB alone: {e}"));
    let theirs = recorded(&answers[6..9]);
    let their_answers = duck_aggregates(&answers[9..]);

    let mut queries = recorded_queries("lake");
    let aggregates = aggregate_queries("lake.people", &columns, &FILTERS, None);
    queries.extend(aggregates.iter().cloned());
    let queries: Vec<&str> = queries.iter().map(String::as_str).collect();
    let answers = duck_read(&ctx, &queries);
    let ours = recorded(&answers[..3]);

    // Table and file statistics: the same rows.
    assert_eq!(ours.table, theirs.table);
    assert_eq!(ours.files, theirs.files);
    // Column statistics: the same where DuckDB keeps a row. DuckDB keeps
    // none for a column added to a table with rows (unknown: it reads the
    // column); lake keeps one that says it holds NULLs.
    for (name, row) in &theirs.columns {
        assert_eq!(ours.columns.get(name), Some(row), "column {name}");
    }
    assert!(!theirs.columns.contains_key("email"), "{theirs:?}");
    if let Some(email) = ours.columns.get("email") {
        assert_eq!(email[0], Value::from(true), "email contains NULLs");
    }
    // And so DuckDB answers the same on both lakes, and lake agrees.
    assert_eq!(duck_aggregates(&answers[3..]), their_answers);
    assert_eq!(
        lake_aggregates(&ctx, "people", &columns, &FILTERS, None),
        their_answers
    );
    assert_eq!(their_answers[0], Value::from("6"));
    let email_count = 1 + 4 * 5;
    assert_eq!(their_answers[email_count], Value::from("1"));
}

/// A CSV of `rows` rows in the columns `schema` (name, SQL type): every
/// column has a value in the first row, so its type is read as the
/// dataset's; later rows have NULLs, and now and then a string too long
/// for a footer to keep whole.
fn csv_of(rng: &mut Rng, schema: &[(String, String)], rows: u64) -> String {
    let mut text = schema
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    for r in 0..rows {
        let cells: Vec<String> = schema
            .iter()
            .map(|(name, t)| {
                if r > 0 && name != "id" && rng.below(5) == 0 {
                    return String::new();
                }
                let n = rng.below(50);
                match t.as_str() {
                    "BIGINT" => n.to_string(),
                    "DOUBLE" => format!("{n}.25"),
                    _ if rng.below(12) == 0 => format!("z{}", "y".repeat(5000)),
                    _ => format!("l{n}"),
                }
            })
            .collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    text
}

/// Filters of the random history, on the columns it always has.
const RANDOM_FILTERS: [&str; 7] = [
    "id > 25",
    "id = 7",
    "v > 5",
    "v < 2",
    "v = 'NaN'::DOUBLE",
    "label = 'l7'",
    "label > 'l4'",
];

/// DuckDB's answers and lake's to the aggregates of `t` at `at` agree.
#[track_caller]
fn assert_same_aggregates(ctx: &TestContext, at: Option<i64>, steps: &[&str]) {
    let Some(columns) = columns_at(ctx, "t", at) else {
        return;
    };
    let queries = aggregate_queries("lake.t", &columns, &RANDOM_FILTERS, at);
    let queries: Vec<&str> = queries.iter().map(String::as_str).collect();
    let theirs = duck_aggregates(&duck_read(ctx, &queries));
    let ours = lake_aggregates(ctx, "t", &columns, &RANDOM_FILTERS, at);
    if theirs != ours {
        let labels = queries.iter().flat_map(|q| {
            let n = if q.contains("min(") { 2 } else { 1 };
            std::iter::repeat_n(*q, n)
        });
        let differ: Vec<String> = labels
            .zip(theirs.iter().zip(&ours))
            .filter(|(_, (a, b))| a != b)
            .map(|(q, (a, b))| format!("{q}: DuckDB {a}, lake {b}"))
            .collect();
        panic!(
            "at {at:?} after steps {steps:?}:\n{}\n{}",
            differ.join("\n"),
            ctx.catalog_rows("SELECT * FROM ducklake_table_column_stats")
                .iter()
                .map(|r| format!("{r:?}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn duckdb_answers_from_statistics_equal_lake_at_every_snapshot_of_a_random_history() {
    let ctx = TestContext::new();
    let mut rng = Rng(0x57a7_5eed);
    let mut n = 0;
    let mut file = |rng: &mut Rng, schema: &[(String, String)]| {
        n += 1;
        let rows = 1 + rng.below(6);
        ctx.write(&format!("f{n}.csv"), csv_of(rng, schema, rows))
    };
    let base: Vec<(String, String)> = [("id", "BIGINT"), ("label", "VARCHAR"), ("v", "DOUBLE")]
        .map(|(n, t)| (n.to_owned(), t.to_owned()))
        .to_vec();
    let first = file(&mut rng, &base);
    ingest(&ctx, &first, &["--name", "t"]);
    let mut steps: Vec<&str> = Vec::new();
    for _ in 0..24 {
        let schema = if ctx.lake(&["show", "t"]).code == 0 {
            ctx.schema("t")
        } else {
            Vec::new()
        };
        let extra = schema
            .iter()
            .find(|(n, _)| n == "extra")
            .map(|(_, t)| t.clone());
        let step = if schema.is_empty() {
            "create"
        } else {
            [
                "append", "replace", "evolve", "widen", "delete", "insert", "compact", "gc",
                "restore", "nan", "rm",
            ][rng.below(11) as usize]
        };
        steps.push(step);
        let t = &["--name", "t"];
        match step {
            "create" => {
                let f = file(&mut rng, &base);
                ingest(&ctx, &f, t);
            }
            "append" => {
                let f = file(&mut rng, &schema);
                ingest(&ctx, &f, &["--name", "t", "--append"]);
            }
            "replace" => {
                let f = file(&mut rng, &schema);
                ingest(&ctx, &f, t);
            }
            // Adds `extra` (NULL in every earlier row), or removes it.
            "evolve" => {
                let mut shape = base.clone();
                if extra.is_none() {
                    shape.push(("extra".to_owned(), "BIGINT".to_owned()));
                }
                let f = file(&mut rng, &shape);
                ingest(&ctx, &f, &["--name", "t", "--append", "--evolve"]);
            }
            // `extra` from BIGINT to DOUBLE, or to VARCHAR.
            "widen" => {
                let to = match extra.as_deref() {
                    Some("BIGINT") => "DOUBLE",
                    _ => "VARCHAR",
                };
                let mut shape = base.clone();
                shape.push(("extra".to_owned(), to.to_owned()));
                let f = file(&mut rng, &shape);
                ingest(&ctx, &f, &["--name", "t", "--append", "--evolve"]);
            }
            "delete" => {
                let id = rng.below(50);
                duck_write(
                    &ctx,
                    &[&format!("DELETE FROM lake.t WHERE id = {id} OR id % 9 = 0")],
                );
            }
            "insert" => {
                let id = 100 + rng.below(50);
                duck_write(
                    &ctx,
                    &[&format!(
                        "INSERT INTO lake.t (id, label) VALUES ({id}, 'duck')"
                    )],
                );
            }
            "compact" => {
                ctx.lake(&["compact", "t", "--target-size", "1MiB"]).ok();
            }
            "gc" => {
                ctx.lake(&["gc", "--keep", "6", "--grace", "0s"]).ok();
            }
            "restore" => {
                let now = crate::json(&ctx.lake(&["info", "--format", "json"]))["snapshot"]
                    .as_i64()
                    .unwrap();
                let to = now - 1 - rng.below(3) as i64;
                // An expired snapshot, or one without t: refused, nothing changes.
                let _ = ctx.lake(&["restore", "t", "--to", &to.to_string()]);
            }
            // Doubles with NaN and infinities, in a Parquet file DuckDB
            // wrote (stored as it is: its footer has no NaN count).
            "nan" => {
                let path = ctx.work.path().join(format!("nan{}.parquet", steps.len()));
                duckdb(&[format!(
                    "COPY (SELECT * FROM (VALUES (60::BIGINT, 'l60', 'NaN'::DOUBLE), \
                     (61, 'l61', 'inf'::DOUBLE), (62, NULL, '-inf'::DOUBLE), (63, 'l63', 3.5)) \
                     v(id, label, v)) TO '{}' (FORMAT parquet)",
                    path.display()
                )])
                .unwrap();
                ingest(&ctx, &path, &["--name", "t", "--append", "--evolve"]);
            }
            _ => {
                ctx.lake(&["rm", "t"]).ok();
            }
        }
        assert_same_aggregates(&ctx, None, &steps);
    }
    let last = crate::json(&ctx.lake(&["info", "--format", "json"]))["snapshot"]
        .as_i64()
        .unwrap();
    for s in 1..=last {
        assert_same_aggregates(&ctx, Some(s), &steps);
    }
    ctx.lake(&["doctor"]).ok();
}
