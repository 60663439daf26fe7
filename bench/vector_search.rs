//! The in-process side of `bench/vectors.sh`: one connection of the
//! embedded DuckDB runs, for every query vector in a file (one JSON array
//! per line), `SELECT * FROM vector_search(...)` (MODE `index`) or DuckDB's exact scan
//! `ORDER BY array_cosine_distance(...) LIMIT K` (MODE `exact`), and prints
//! per query the ids found and the seconds it took, as JSON lines.
//! `vector_search HOME DATASET MODE K EF QUERIES`.

use std::io::{BufRead, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use lake::Lake;
use lake::query::QueryEngine;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [home, dataset, mode, k, ef, queries] = args.as_slice() else {
        anyhow::bail!("usage: vector_search HOME DATASET index|exact K EF QUERIES");
    };
    let lake = Lake::open(&PathBuf::from(home))?;
    let engine = QueryEngine::open()?;
    let sql = |v: &str| match mode.as_str() {
        "exact" => format!(
            "SELECT id FROM {dataset} ORDER BY array_cosine_distance(emb, \
             CAST({v} AS FLOAT[{}])) LIMIT {k}",
            v.matches(',').count() + 1
        ),
        // Any statement, `{v}` the query vector.
        m if m.starts_with("sql:") => m[4..].replace("{v}", v),
        _ => {
            format!("SELECT * FROM vector_search('{dataset}', 'emb', {v}, {k}, ef_search := {ef})")
        }
    };
    let lines: Vec<String> = std::io::BufReader::new(std::fs::File::open(queries)?)
        .lines()
        .collect::<Result<_, _>>()?;
    let _held = lake.register_datasets(&engine, &sql(&lines[0]), None)?;
    let mut out = std::io::stdout().lock();
    for (i, v) in lines.iter().enumerate() {
        let started = Instant::now();
        let mut ids = Vec::new();
        engine.run(&sql(v), &mut |_, batch| {
            let column = batch
                .column_by_name("id")
                .unwrap_or(batch.column(0))
                .as_primitive::<Int64Type>();
            ids.extend((0..column.len()).map(|r| column.value(r)));
            Ok(ControlFlow::Continue(()))
        })?;
        let seconds = started.elapsed().as_secs_f64();
        writeln!(
            out,
            "{}",
            serde_json::json!({"query": i, "ids": ids, "seconds": seconds})
        )?;
    }
    Ok(())
}
