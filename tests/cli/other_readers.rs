//! Readers of the lake written without DuckDB: polars-ducklake (the
//! DuckLake spec read by Polars: it catches anything lake writes that only
//! DuckDB forgives) and Spark in local mode through ducklake-dataframe (the
//! distributed engine a team that outgrows one machine would use). Both are
//! pinned wheels in the venv `.ci/run` makes; they must give the rows
//! `lake sql` gives, now and at older snapshots.

use serde_json::{Value, json};

use crate::TestContext;
use crate::ducklake::{columns_at, duck_write, lake_sql_at, python_json};

/// Rows as lists of text (NULL as null), sorted.
type Rows = Vec<Vec<Value>>;

fn sorted(mut rows: Rows) -> Rows {
    rows.sort_by_key(|r| {
        r.iter()
            .map(|v| (v.is_null(), v.as_str().unwrap_or_default().to_owned()))
            .collect::<Vec<_>>()
    });
    rows
}

/// `lake sql` of every column of `table` as text, at `at` (now if `None`):
/// the column names and the rows.
fn lake_rows(ctx: &TestContext, table: &str, at: Option<i64>) -> (Vec<String>, Rows) {
    let columns = columns_at(ctx, table, at).expect("the table at that snapshot");
    let sql = format!("SELECT COLUMNS(*)::VARCHAR FROM {table}");
    let records: Vec<serde_json::Map<String, Value>> =
        serde_json::from_str(lake_sql_at(ctx, "json", &sql, at).ok()).unwrap();
    let rows = records
        .iter()
        .map(|r| columns.iter().map(|c| r[c].clone()).collect())
        .collect();
    (columns, sorted(rows))
}

/// The catalog as the readers name it: the SQLite file's path, or the
/// PostgreSQL URL.
fn catalog_of(ctx: &TestContext) -> String {
    ctx.postgres_catalog()
        .unwrap_or_else(|| ctx.home.path().join("catalog.sqlite").display().to_string())
}

#[test]
fn polars_and_spark_read_the_rows_lake_reads_at_every_snapshot() {
    let ctx = TestContext::new();
    let [created, appended, evolved] = crate::ducklake_stats::evolved_people(&ctx);
    duck_write(&ctx, &["DELETE FROM lake.people WHERE id = 2"]);

    let snapshots = [None, Some(created), Some(appended), Some(evolved)];
    let answer = python_json(
        "tests/ducklake/others.py",
        &json!({
            "catalog": catalog_of(&ctx),
            "table": "people",
            "snapshots": snapshots,
            "readers": ["polars", "spark"],
        }),
    );
    assert!(answer.get("error").is_none(), "{answer:#}");
    for reader in ["polars", "spark"] {
        for (i, at) in snapshots.iter().enumerate() {
            let (columns, rows) = lake_rows(&ctx, "people", *at);
            let theirs = &answer[reader][i];
            let their_columns: Vec<String> =
                serde_json::from_value(theirs["columns"].clone()).unwrap();
            assert_eq!(their_columns, columns, "{reader} at {at:?}");
            let their_rows = sorted(serde_json::from_value(theirs["rows"].clone()).unwrap());
            assert_eq!(their_rows, rows, "{reader} at {at:?}");
        }
    }
    // The newest snapshot: the evolved column, without the deleted row.
    let (columns, rows) = lake_rows(&ctx, "people", None);
    assert_eq!(columns.last().map(String::as_str), Some("email"));
    assert_eq!(rows.len(), 5);
}
