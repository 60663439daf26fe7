//! Embeddings: FLOAT[N] columns from JSON, CSV and Parquet, HNSW indexes
//! (`lake index`), `vector_search(...)` in SQL and MCP's `search`. DuckDB is
//! the oracle: every recall is measured against its exact
//! `array_cosine_distance` order, and DuckDB's DuckLake reads the column.

use serde_json::{Value, json};

use crate::ducklake::{duck_read, duckdb, python_json};
use crate::{TestContext, json};

/// `n` vectors of `dim` numbers around 40 centres, from a fixed seed, as
/// JSON Lines `{"id", "tag", "emb"}`.
fn clustered(n: usize, dim: usize, seed: u64) -> String {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f64 / (1u64 << 24) as f64 - 0.5
    };
    let centres: Vec<f64> = (0..40 * dim).map(|_| next() * 4.0).collect();
    let mut out = String::new();
    for i in 0..n {
        let c = (i * 7919) % 40;
        let emb: Vec<String> = (0..dim)
            .map(|d| format!("{:.4}", centres[c * dim + d] + next()))
            .collect();
        out.push_str(&format!(
            "{{\"id\": {i}, \"tag\": \"t{}\", \"emb\": [{}]}}\n",
            i % 5,
            emb.join(", ")
        ));
    }
    out
}

/// `lake sql --format json`'s rows.
#[track_caller]
fn rows(ctx: &TestContext, sql: &str) -> Vec<Value> {
    let run = ctx.lake(&["sql", "--format", "json", sql]);
    json(&run).as_array().unwrap().clone()
}

/// The `emb` of each row `ids` of `dataset` names, as SQL list literals.
fn vectors_of(ctx: &TestContext, dataset: &str, ids: &[i64]) -> Vec<(i64, String)> {
    let list = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    rows(
        ctx,
        &format!("SELECT id, emb FROM {dataset} WHERE id IN ({list}) ORDER BY id"),
    )
    .into_iter()
    .map(|r| (r["id"].as_i64().unwrap(), r["emb"].to_string()))
    .collect()
}

/// recall@k of `vector_search` for the rows `ids` as queries, against
/// DuckDB's exact cosine order: a hit counts when it is no farther than the
/// exact k-th (ties count, as a recall of distances does). Also checks
/// every hit's distance is the one DuckDB computes for that row.
fn recall(ctx: &TestContext, dataset: &str, ids: &[i64], k: usize, ef: Option<usize>) -> f64 {
    let queries = vectors_of(ctx, dataset, ids);
    assert_eq!(queries.len(), ids.len());
    let list = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let exact = rows(
        ctx,
        &format!(
            "SELECT q.id AS q, max(d) AS kth FROM (
                 SELECT q.id, array_cosine_distance(x.emb, q.emb) AS d,
                        row_number() OVER (PARTITION BY q.id ORDER BY d) AS r
                 FROM {dataset} x, (SELECT id, emb FROM {dataset} WHERE id IN ({list})) q)
             AS q WHERE r <= {k} GROUP BY q.id"
        ),
    );
    let kth: std::collections::HashMap<i64, f64> = exact
        .iter()
        .map(|r| (r["q"].as_i64().unwrap(), r["kth"].as_f64().unwrap()))
        .collect();
    let ef = ef.map_or(String::new(), |ef| format!(", ef_search := {ef}"));
    let searches = queries
        .iter()
        .map(|(id, v)| {
            format!(
                "SELECT {id} AS q, s.id, s.distance,
                        array_cosine_distance(s.emb, {v}::FLOAT[]::FLOAT[{}]) AS exact
                 FROM vector_search('{dataset}', 'emb', {v}, {k}{ef}) s",
                v.matches(',').count() + 1
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let hits = rows(ctx, &searches);
    let mut found = 0;
    for h in &hits {
        let (d, exact) = (
            h["distance"].as_f64().unwrap(),
            h["exact"].as_f64().unwrap(),
        );
        assert!(
            (d - exact).abs() < 1e-4,
            "{h}: distance {d}, DuckDB says {exact}"
        );
        if d <= kth[&h["q"].as_i64().unwrap()] + 1e-5 {
            found += 1;
        }
    }
    let r = found as f64 / (k * ids.len()) as f64;
    eprintln!("RECALL {dataset} ef={ef}: {r}");
    r
}

/// Files under `dir` (at any depth) whose names end with `suffix`.
fn files_with_suffix(dir: &std::path::Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out
}

fn index(ctx: &TestContext, args: &[&str]) -> Value {
    let mut all = vec!["index", "create"];
    all.extend_from_slice(args);
    all.extend(["--format", "json"]);
    json(&ctx.lake(&all))
}

#[test]
fn a_seeded_set_is_found_as_duckdb_finds_it_and_duckdb_reads_the_column() {
    let ctx = TestContext::new();
    let file = ctx.write("vec.ndjson", clustered(20_000, 32, 42));
    ctx.lake(&["ingest", file.to_str().unwrap()]).ok();
    // Arrays of 32 numbers in every row: FLOAT[32].
    assert!(
        ctx.schema("vec")
            .contains(&("emb".into(), "FLOAT[32]".into())),
        "{:?}",
        ctx.schema("vec")
    );
    // Without an index, the search is DuckDB's exact scan: recall 1.
    let queries: Vec<i64> = (0..40).map(|i| i * 487 + 3).collect();
    assert_eq!(recall(&ctx, "vec", &queries[..5], 10, None), 1.0);

    let created = index(&ctx, &["vec", "emb"]);
    assert_eq!(created[0]["indexed"], 1, "{created}");
    assert_eq!(created[0]["metric"], "cosine");
    let r = recall(&ctx, "vec", &queries, 10, None);
    assert!(r >= 0.95, "recall@10 {r}");
    // A tiny candidate list finds less: ef_search is honoured.
    let narrow = recall(&ctx, "vec", &queries, 10, Some(10));
    assert!(narrow <= r, "ef_search 10: {narrow}, default: {r}");

    // Filters are the user's, after the search; columns come with it.
    let filtered = rows(
        &ctx,
        &format!(
            "SELECT id, tag FROM vector_search('vec', 'emb', {}, 10) WHERE tag = 't3'",
            vectors_of(&ctx, "vec", &[3])[0].1
        ),
    );
    assert!(filtered.iter().all(|r| r["tag"] == "t3"), "{filtered:?}");
    assert!(filtered.iter().any(|r| r["id"] == 3), "{filtered:?}");

    // DuckDB reading the lake (DuckLake has no fixed-size arrays: FLOAT[])
    // gets the same numbers, aggregates too.
    let answers = duck_read(
        &ctx,
        &[
            "SELECT typeof(emb), count(*), sum(len(emb)) FROM lake.vec GROUP BY ALL",
            "SELECT round(sum(emb[1]), 2), round(max(emb[32]), 4) FROM lake.vec",
            "SELECT id FROM lake.vec ORDER BY list_cosine_distance(emb, \
             (SELECT emb FROM lake.vec WHERE id = 3)), id LIMIT 5",
        ],
    );
    assert_eq!(
        answers[0].rows,
        vec![vec![json!("FLOAT[]"), json!(20_000), json!(640_000)]]
    );
    let ours = rows(
        &ctx,
        "SELECT round(sum(emb[1]), 2) AS s, round(max(emb[32]), 4) AS m FROM vec",
    );
    assert_eq!(
        answers[1].rows[0],
        vec![ours[0]["s"].clone(), ours[0]["m"].clone()]
    );
    let exact: Vec<Value> = rows(
        &ctx,
        "SELECT id FROM vec ORDER BY array_cosine_distance(emb, (SELECT emb FROM vec WHERE id = 3)), id LIMIT 5",
    )
    .into_iter()
    .map(|r| r["id"].clone())
    .collect();
    let theirs: Vec<Value> = answers[2].rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(theirs, exact);
}

#[test]
fn scikit_learns_digits_are_found_with_recall_over_095_in_every_metric() {
    let ctx = TestContext::new();
    let file = ctx.work.path().join("digits.ndjson");
    let made = python_json("tests/vectors/digits.py", &json!({ "out": file }));
    assert_eq!(made["rows"], 1797);
    ctx.lake(&["ingest", file.to_str().unwrap()]).ok();
    assert!(
        ctx.schema("digits")
            .contains(&("emb".into(), "FLOAT[64]".into()))
    );
    index(&ctx, &["digits", "emb", "--m", "12"]);
    let queries: Vec<i64> = (0..60).map(|i| i * 29 + 1).collect();
    let r = recall(&ctx, "digits", &queries, 10, None);
    assert!(r >= 0.95, "recall@10 on digits {r}");

    // l2 and ip indexes report DuckDB's own distances.
    ctx.lake(&["index", "rm", "digits", "emb"]).ok();
    for (metric, function) in [
        ("l2", "array_distance"),
        ("ip", "array_negative_inner_product"),
    ] {
        index(&ctx, &["digits", "emb", "--metric", metric]);
        let (_, v) = &vectors_of(&ctx, "digits", &[5])[0];
        let got = rows(
            &ctx,
            &format!(
                "SELECT id, distance, {function}(emb, {v}::FLOAT[]::FLOAT[64]) AS exact \
                 FROM vector_search('digits', 'emb', {v}, 5)"
            ),
        );
        let want = rows(
            &ctx,
            &format!(
                "SELECT {function}(emb, {v}::FLOAT[]::FLOAT[64]) AS d FROM digits ORDER BY d LIMIT 5"
            ),
        );
        assert_eq!(got.len(), 5);
        for (g, w) in got.iter().zip(&want) {
            let (d, exact) = (
                g["distance"].as_f64().unwrap(),
                g["exact"].as_f64().unwrap(),
            );
            assert!(
                (d - exact).abs() < 1e-3 * exact.abs().max(1.0),
                "{metric}: {g}"
            );
            assert!(
                (d - w["d"].as_f64().unwrap()).abs() < 1e-3 * d.abs().max(1.0),
                "{metric}: {got:?} {want:?}"
            );
        }
        ctx.lake(&["index", "rm", "digits", "emb"]).ok();
    }
}

/// The JSON vector of `dim` numbers all `x` but the first, `1`.
fn spike(dim: usize, at: usize) -> String {
    let v: Vec<String> = (0..dim)
        .map(|i| if i == at { "1.0".into() } else { "0.01".into() })
        .collect();
    format!("[{}]", v.join(", "))
}

#[test]
fn an_index_follows_appends_deletes_replaces_and_gc() {
    let ctx = TestContext::new();
    let file = ctx.write("docs.ndjson", clustered(500, 16, 7));
    ctx.lake(&["ingest", file.to_str().unwrap(), "--name", "docs"])
        .ok();
    index(&ctx, &["docs", "emb"]);
    let store = ctx.home.path().join("store");
    let indexes = || files_with_suffix(&store, ".hnsw");
    assert_eq!(indexes().len(), 1);

    // An append is indexed as it is committed, and findable at once.
    let more = ctx.write(
        "more.ndjson",
        format!(
            "{{\"id\": 9000, \"tag\": \"new\", \"emb\": {}}}\n",
            spike(16, 4)
        ),
    );
    ctx.lake(&[
        "ingest",
        more.to_str().unwrap(),
        "--name",
        "docs",
        "--append",
    ])
    .ok();
    let listed = json(&ctx.lake(&["index", "ls", "docs", "--format", "json"]));
    assert_eq!(
        (listed[0]["objects"].as_u64(), listed[0]["indexed"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(indexes().len(), 2);
    let near = rows(
        &ctx,
        &format!(
            "SELECT id, tag, distance FROM vector_search('docs', 'emb', {}, 3)",
            spike(16, 4)
        ),
    );
    assert_eq!(near[0]["id"], 9000, "{near:?}");
    assert!(near[0]["distance"].as_f64().unwrap() < 1e-5);

    // Rows DuckDB deletes are never returned, from an indexed object too.
    let (_, v17) = vectors_of(&ctx, "docs", &[17]).remove(0);
    let first = |ctx: &TestContext| {
        rows(
            ctx,
            &format!("SELECT id FROM vector_search('docs', 'emb', {v17}, 5)"),
        )
        .into_iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect::<Vec<_>>()
    };
    assert_eq!(first(&ctx)[0], 17);
    crate::ducklake::duck_write(&ctx, &["DELETE FROM lake.docs WHERE id IN (17, 9000)"]);
    let after = first(&ctx);
    assert_eq!(after.len(), 5, "{after:?}");
    assert!(!after.contains(&17), "{after:?}");
    let gone = rows(
        &ctx,
        &format!(
            "SELECT id FROM vector_search('docs', 'emb', {}, 3)",
            spike(16, 4)
        ),
    );
    assert!(gone.iter().all(|r| r["id"] != 9000), "{gone:?}");

    // A compaction's object is indexed too (deleted rows left out of it).
    ctx.lake(&["compact", "docs"]).ok();
    let listed = json(&ctx.lake(&["index", "ls", "docs", "--format", "json"]));
    assert_eq!(
        (listed[0]["objects"].as_u64(), listed[0]["indexed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(indexes().len(), 3);
    assert_eq!(first(&ctx), after);
    assert_eq!(recall(&ctx, "docs", &[1, 50, 150], 10, None), 1.0);

    // Time travel: at the snapshot of the append, 9000 is there.
    let log = json(&ctx.lake(&["log", "docs", "--format", "json"]));
    let appended = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["change"].as_str().unwrap_or_default().contains("append"))
        .unwrap()["snapshot"]
        .as_i64()
        .unwrap();
    let then = ctx.lake(&[
        "sql",
        "--format",
        "json",
        "--at",
        &appended.to_string(),
        &format!(
            "SELECT id FROM vector_search('docs', 'emb', {}, 1)",
            spike(16, 4)
        ),
    ]);
    assert_eq!(json(&then)[0]["id"], 9000);

    // A replace: the new object is indexed; the old index objects go with
    // gc, once no kept snapshot names their data objects.
    let other = ctx.write("other.ndjson", clustered(300, 16, 9));
    ctx.lake(&[
        "ingest",
        other.to_str().unwrap(),
        "--name",
        "docs",
        "--replace",
    ])
    .ok();
    assert_eq!(indexes().len(), 4);
    ctx.lake(&["gc", "--keep", "1", "--grace", "0s"]).ok();
    assert_eq!(indexes().len(), 1, "{:?}", indexes());
    let doctor = json(&ctx.lake(&["doctor", "--deep", "--grace", "0s", "--format", "json"]));
    assert_eq!(doctor["problems"], json!([]), "{doctor}");
    assert_eq!(doctor["orphans"], 0, "{doctor}");
    assert_eq!(recall(&ctx, "docs", &[1, 50, 150], 10, None), 1.0);

    // A missing index object is a problem doctor names, and a search
    // fails naming it (it is read, not silently skipped).
    let lost = indexes().remove(0);
    std::fs::remove_file(&lost).unwrap();
    let key = lost.file_name().unwrap().to_str().unwrap().to_owned();
    let doctor = ctx.lake(&["doctor", "--format", "json"]);
    assert!(doctor.stdout.contains(&key), "{doctor:?}");
    let err = ctx
        .lake(&[
            "sql",
            &format!("SELECT * FROM vector_search('docs', 'emb', {v17}, 3)"),
        ])
        .fails(1)
        .to_owned();
    assert!(err.contains(&key), "{err}");
    // `index rm` then gc clears it; the search scans exactly.
    ctx.lake(&["index", "rm", "docs", "emb"]).ok();
    assert_eq!(
        json(&ctx.lake(&["index", "ls", "--format", "json"])),
        json!([])
    );
    assert_eq!(recall(&ctx, "docs", &[1, 50], 10, None), 1.0);
}

#[test]
fn bad_vectors_and_bad_searches_are_refused_saying_where() {
    let ctx = TestContext::new();
    let short = ctx.write("short.ndjson", "{\"e\": [1.5, 2, 3]}\n{\"e\": [1.5, 2]}\n");
    let err = ctx
        .lake(&["ingest", short.to_str().unwrap(), "--schema", "e:FLOAT[3]"])
        .fails(1)
        .to_owned();
    assert!(err.contains("line 2") && err.contains("FLOAT[3]"), "{err}");
    let words = ctx.write("words.ndjson", "{\"e\": [1.5, \"x\", 3]}\n");
    let err = ctx
        .lake(&["ingest", words.to_str().unwrap(), "--schema", "e:FLOAT[3]"])
        .fails(1)
        .to_owned();
    assert!(err.contains("line 1") && err.contains("\"e\""), "{err}");
    let nan = ctx.write("nan.csv", "id,e\n1,\"[1, 2, 3]\"\n2,\"[1, nan, 3]\"\n");
    let err = ctx
        .lake(&["ingest", nan.to_str().unwrap(), "--schema", "e:FLOAT[3]"])
        .fails(1)
        .to_owned();
    assert!(err.contains("line 3") && err.contains("nan"), "{err}");
    let huge = ctx.write("huge.csv", "id,e\n1,\"[1, 1e39, 3]\"\n");
    ctx.lake(&["ingest", huge.to_str().unwrap(), "--schema", "e:FLOAT[3]"])
        .fails(1);
    for bad in ["e:BIGINT[3]", "e:FLOAT[0]"] {
        ctx.lake(&["ingest", nan.to_str().unwrap(), "--schema", bad])
            .fails(2);
    }
    // Nothing half-written.
    assert_eq!(json(&ctx.lake(&["ls", "--format", "json"])), json!([]));

    // Arrays of different lengths, or of fewer than 16 numbers, stay lists.
    let ragged = ctx.write(
        "ragged.ndjson",
        format!(
            "{{\"e\": {}}}\n{{\"e\": [0.5, 1.5]}}\n{{\"e\": [0.5, 1.5, 2.5]}}\n",
            spike(20, 0)
        ),
    );
    ctx.lake(&["ingest", ragged.to_str().unwrap()]).ok();
    assert_eq!(ctx.schema("ragged"), vec![("e".into(), "DOUBLE[]".into())]);
    let pairs = ctx.write("pairs.ndjson", "{\"e\": [0.5, 1.5]}\n{\"e\": [2.5, 3.5]}\n");
    ctx.lake(&["ingest", pairs.to_str().unwrap()]).ok();
    assert_eq!(ctx.schema("pairs"), vec![("e".into(), "DOUBLE[]".into())]);

    // A CSV column written as lists, with --schema: FLOAT[N].
    let csv = ctx.write(
        "csv_vec.csv",
        "id,e\n1,\"[1, 0, 0]\"\n2,\"[0, 1, 0]\"\n3,\n",
    );
    ctx.lake(&["ingest", csv.to_str().unwrap(), "--schema", "e:FLOAT[3]"])
        .ok();
    assert_eq!(ctx.schema("csv_vec")[1], ("e".into(), "FLOAT[3]".into()));
    let near = rows(
        &ctx,
        "SELECT id, distance FROM vector_search('csv_vec', 'e', [0.9, 0.1, 0], 1)",
    );
    assert_eq!(near[0]["id"], 1, "{near:?}");
    let err = ctx
        .lake(&["index", "create", "csv_vec", "id"])
        .fails(2)
        .to_owned();
    assert!(err.contains("BIGINT") && err.contains("FLOAT[N]"), "{err}");
    ctx.lake(&["index", "create", "csv_vec", "nope"]).fails(2);
    ctx.lake(&["index", "create", "csv_vec", "e", "--metric", "manhattan"])
        .fails(2);
    index(&ctx, &["csv_vec", "e"]);
    // The NULL row is not in the index, and never found.
    let all = rows(
        &ctx,
        "SELECT id FROM vector_search('csv_vec', 'e', [1, 1, 1], 10)",
    );
    assert_eq!(all.len(), 2, "{all:?}");
    let err = ctx
        .lake(&["index", "create", "csv_vec", "e", "--metric", "l2"])
        .fails(2)
        .to_owned();
    assert!(err.contains("index rm"), "{err}");

    // Clear SQL errors for a bad search.
    for (sql, says) in [
        (
            "SELECT * FROM vector_search('csv_vec', 'e', [1, 2], 3)",
            "has 2 numbers",
        ),
        (
            "SELECT * FROM vector_search('csv_vec', 'id', [1, 2, 3], 3)",
            "not FLOAT[N]",
        ),
        (
            "SELECT * FROM vector_search('csv_vec', 'x', [1, 2, 3], 3)",
            "no column",
        ),
        (
            "SELECT * FROM vector_search('nothing', 'e', [1, 2, 3], 3)",
            "nothing",
        ),
        (
            "SELECT * FROM vector_search('csv_vec', 'e', [1, 2, 3], 0)",
            "k must be",
        ),
        (
            "SELECT * FROM vector_search('csv_vec', 'e', 'hello', 3)",
            "hello",
        ),
    ] {
        let err = ctx.lake(&["sql", sql]).fails(1).to_owned();
        assert!(err.contains(says), "{sql}: {err}");
    }

    // A Parquet column DuckDB wrote as FLOAT[20] (a list in Parquet).
    let parquet = ctx.work.path().join("emb.parquet");
    duckdb(&[format!(
        "COPY (SELECT i AS id, list_transform(range(20), x -> (x * i % 7)::FLOAT)::FLOAT[20] AS emb \
         FROM range(1, 50) t(i)) TO '{}' (FORMAT parquet)",
        parquet.display()
    )])
    .unwrap();
    ctx.lake(&["ingest", parquet.to_str().unwrap()]).ok();
    assert_eq!(ctx.schema("emb")[1], ("emb".into(), "FLOAT[20]".into()));
}

#[test]
fn vectors_in_an_s3_store_are_indexed_and_searched() {
    let (ctx, server) = crate::s3::s3_lake("vectors");
    let file = ctx.write("docs.ndjson", clustered(2_000, 24, 3));
    ctx.lake(&["ingest", file.to_str().unwrap(), "--name", "docs"])
        .ok();
    let created = index(&ctx, &["docs", "emb"]);
    let listed = json(&ctx.lake(&["index", "ls", "--format", "json"]));
    assert_eq!(listed[0]["indexed"], 1, "{created} {listed}");
    let on_server = files_with_suffix(&server.object_path(""), ".hnsw");
    assert_eq!(on_server.len(), 1, "{on_server:?}");
    // A fresh cache: the index comes from the bucket.
    std::fs::remove_dir_all(ctx.home.path().join("cache")).ok();
    assert!(recall(&ctx, "docs", &[0, 77, 1500], 10, None) >= 0.95);
}

#[test]
fn an_agent_searches_with_a_vector_and_is_told_text_needs_a_model() {
    let ctx = TestContext::new();
    let file = ctx.write("docs.ndjson", clustered(300, 16, 5));
    ctx.lake(&["ingest", file.to_str().unwrap(), "--name", "docs"])
        .ok();
    index(&ctx, &["docs", "emb"]);
    let (_, v) = vectors_of(&ctx, "docs", &[42]).remove(0);
    let vector: Value = serde_json::from_str(&v).unwrap();
    let report = crate::mcp::client(json!({
        "transport": "stdio",
        "command": [env!("CARGO_BIN_EXE_lake"), "mcp"],
        "env": crate::mcp::home_env(&ctx),
        "mode": "legacy",
        "calls": [
            ["search", {"dataset": "docs", "column": "emb", "vector": vector, "k": 3}],
            ["search", {"dataset": "docs", "column": "emb", "vector": "cats on a mat"}],
            ["search", {"dataset": "docs", "column": "emb", "vector": [1, 2]}],
        ],
    }));
    let found = crate::mcp::ok_call(&report, 0);
    let answer = &found["structuredContent"];
    assert_eq!(answer["row_count"], 3, "{found:#}");
    let names: Vec<&str> = answer["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["id", "tag", "emb", "distance"]);
    assert_eq!(answer["rows"][0][0], 42);
    let text = crate::mcp::failed_call(&report, 1);
    assert!(text.contains("no embedding model"), "{text}");
    let wrong = crate::mcp::failed_call(&report, 2);
    assert!(wrong.contains("has 2 numbers"), "{wrong}");
}
