//! Inputs other than plain CSV, told by their content: JSON Lines, JSON
//! arrays, Parquet, and zstd compression. DuckDB 1.5 (the external client)
//! reads the same files as the oracle, and writes the Parquet and zstd ones.

use crate::chunks::gzip;
use crate::dialects::csv_field;
use crate::ducklake::duckdb;
use crate::{TestContext, json};

/// Every column of `from` as text, rows in order.
fn as_text(from: &str) -> String {
    format!("SELECT COLUMNS(*)::VARCHAR FROM {from} ORDER BY ALL")
}

/// DuckDB's rows of `sql` as lake's CSV output writes them, under `header`.
fn duckdb_csv(header: &[&str], sql: &str) -> String {
    let answer = duckdb(&[sql.to_owned()]).unwrap_or_else(|e| panic!("DuckDB: {e}"));
    let mut out = format!("{}\n", header.join(","));
    for row in &answer[0].rows {
        let fields: Vec<String> = row.iter().map(csv_field).collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

fn ingest(ctx: &TestContext, path: &std::path::Path, name: &str) -> serde_json::Value {
    json(&ctx.lake(&[
        "ingest",
        path.to_str().unwrap(),
        "--name",
        name,
        "--format",
        "json",
    ]))
}

const EVENTS: &str = r#"{"id": 1, "name": "Ann", "score": 1.5, "ok": true, "day": "2024-01-31", "at": "2024-01-31 10:00:00"}
{"id": 2, "name": "Bob", "score": 2, "ok": false, "day": "2024-02-29", "at": "2024-02-29 11:30:00", "note": "late"}

{"id": 3, "name": null, "score": null, "ok": null, "day": null, "at": null}
{"name": "", "id": 4, "score": -0.25, "ok": true, "day": "2024-03-01", "at": "2024-03-01 00:00:00", "note": "a \"quoted\", comma"}
"#;

#[test]
fn json_lines_are_read_as_duckdb_reads_them() {
    let ctx = TestContext::new();
    let path = ctx.write("events.jsonl", EVENTS);
    let report = ingest(&ctx, &path, "events");
    assert_eq!(report["rows"], 4, "{report}");
    let names = ["id", "name", "score", "ok", "day", "at", "note"];
    let got = ctx.schema("events");
    assert_eq!(
        got.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        names
    );
    let theirs = duckdb(&[format!(
        "DESCRIBE SELECT * FROM read_json('{}')",
        path.display()
    )])
    .unwrap();
    for ((name, ours), row) in got.iter().zip(&theirs[0].rows) {
        assert_eq!(Some(name.as_str()), row[0].as_str());
        assert_eq!(Some(ours.as_str()), row[1].as_str(), "{name}");
    }
    assert_eq!(
        ctx.sql(&as_text("events")),
        duckdb_csv(
            &names,
            &as_text(&format!("read_json('{}')", path.display()))
        )
    );
}

#[test]
fn the_same_rows_are_the_same_object_whatever_the_json_form() {
    let ctx = TestContext::new();
    let lines = ctx.write("lines.jsonl", EVENTS);
    let first = ingest(&ctx, &lines, "events");
    assert_eq!(first["status"], "created");
    // One array of the same objects, pretty-printed over many lines.
    let objects: Vec<&str> = EVENTS.lines().filter(|l| !l.trim().is_empty()).collect();
    let array = format!("[\n  {}\n]\n", objects.join(",\n  "));
    let path = ctx.write("array.json", &array);
    let again = ingest(&ctx, &path, "events");
    assert_eq!(again["status"], "unchanged", "{again}");
    assert_eq!(again["key"], first["key"]);
    // Objects spread over lines, one after another.
    let spread = objects.join("\n").replace(", \"", ",\n    \"");
    let path = ctx.write("spread.json", spread);
    let again = ingest(&ctx, &path, "events");
    assert_eq!(again["key"], first["key"], "{again}");
    // And the same lines piped, with a name from --name.
    let piped = json(&ctx.lake_stdin(
        &["ingest", "-", "--name", "events", "--format", "json"],
        EVENTS.as_bytes(),
    ));
    assert_eq!(piped["key"], first["key"]);
}

/// Objects and arrays, nested, with keys some objects lack and `null`s at
/// every level.
const NESTED: &str = r#"{"id": 1, "user": {"name": "Ann", "tags": ["a", "b"], "born": "2001-02-03"}, "scores": [1, 2.5], "spots": [{"x": 1, "y": [true]}]}
{"id": 2, "user": {"name": "Bob", "tags": [], "born": null, "home": {"city": "Oslo"}}, "scores": null, "spots": []}
{"id": 3, "user": null, "scores": [3], "spots": [{"y": [false, null]}, null]}
{"id": 4, "user": {"name": "Cy", "tags": ["c"]}, "scores": [], "spots": null}
"#;

#[test]
fn objects_and_arrays_are_structs_and_lists_as_duckdb_reads_them() {
    let ctx = TestContext::new();
    let path = ctx.write("nested.jsonl", NESTED);
    let report = ingest(&ctx, &path, "nested");
    assert_eq!(report["rows"], 4, "{report}");
    let got = ctx.schema("nested");
    assert_eq!(
        got[1].1,
        r#"STRUCT("name" VARCHAR, "tags" VARCHAR[], "born" DATE, "home" STRUCT("city" VARCHAR))"#
    );
    let theirs = duckdb(&[format!(
        "DESCRIBE SELECT * FROM read_json('{}')",
        path.display()
    )])
    .unwrap();
    assert_eq!(got.len(), theirs[0].rows.len());
    // DuckDB quotes only the field names that need it.
    for ((name, ours), row) in got.iter().zip(&theirs[0].rows) {
        assert_eq!(Some(name.as_str()), row[0].as_str());
        let theirs = row[1].as_str().unwrap().replace('"', "");
        assert_eq!(ours.replace('"', ""), theirs, "{name}");
    }
    assert_eq!(
        ctx.sql(&as_text("nested")),
        duckdb_csv(
            &["id", "user", "scores", "spots"],
            &as_text(&format!("read_json('{}')", path.display()))
        )
    );
    // Fields are columns of their own to SQL.
    assert_eq!(
        ctx.sql("select id, user.home.city, spots[1].y[1] as y from nested order by id"),
        "id,city,y\n1,,true\n2,Oslo,\n3,,false\n4,,\n"
    );
    // Every form of the same objects is the same object: an array cut in
    // chunks, objects spread over lines, gzip, a pipe.
    let objects: Vec<&str> = NESTED.lines().collect();
    let array = format!("[\n  {}\n]\n", objects.join(",\n  "));
    let again = ingest(&ctx, &ctx.write("nested.json", &array), "nested");
    assert_eq!(again["status"], "unchanged", "{again}");
    let spread = objects.join("\n").replace(", \"", ",\n    \"");
    let again = ingest(&ctx, &ctx.write("spread.json", spread), "nested");
    assert_eq!(again["key"], report["key"], "{again}");
    let piped = json(&ctx.lake_stdin(
        &["ingest", "-", "--name", "nested", "--format", "json"],
        &gzip(NESTED.as_bytes()),
    ));
    assert_eq!(piped["key"], report["key"]);
    // Nested types are inferred, never given.
    let err = ctx
        .lake(&[
            "ingest",
            path.to_str().unwrap(),
            "--schema",
            "scores:DOUBLE[]",
        ])
        .fails(2)
        .to_owned();
    assert!(err.contains("scores: DOUBLE[] is a nested type"), "{err}");
}

#[test]
fn values_of_several_kinds_and_objects_no_struct_can_hold_are_json_text() {
    let ctx = TestContext::new();
    let wide: Vec<String> = (0..201).map(|i| format!(r#""k{i}": {i}"#)).collect();
    let text = format!(
        "{}\n{}\n",
        format_args!(
            r#"{{"id": 1, "mixed": {{"z": 1, "a": [true, null]}}, "wide": {{{}}}, "cased": {{"a": 1, "A": 2}}, "inner": {{"v": 1, "w": {{}}}}}}"#,
            wide.join(", ")
        ),
        r#"{"id": 2, "mixed": "one", "wide": {"k0": 1}, "cased": null, "inner": {"v": "x", "w": {}}}"#,
    );
    let path = ctx.write("kinds.ndjson", text);
    ingest(&ctx, &path, "kinds");
    assert_eq!(
        ctx.schema("kinds"),
        [
            ("id", "BIGINT"),
            ("mixed", "VARCHAR"),
            ("wide", "VARCHAR"),
            ("cased", "VARCHAR"),
            ("inner", r#"STRUCT("v" VARCHAR, "w" VARCHAR)"#)
        ]
        .map(|(n, t)| (n.to_owned(), t.to_owned()))
    );
    // Objects keep their keys in the order written; the text is JSON.
    assert_eq!(
        ctx.sql("select id, mixed, cased, \"inner\".v, \"inner\".w from kinds order by id"),
        "id,mixed,cased,v,w\n\
         1,\"{\"\"z\"\":1,\"\"a\"\":[true,null]}\",\"{\"\"a\"\":1,\"\"A\"\":2}\",1,{}\n\
         2,one,,x,{}\n"
    );
    let answer = json(&ctx.lake(&[
        "sql",
        "--format",
        "json",
        "select wide from kinds where id = 1",
    ]));
    let wide: serde_json::Value =
        serde_json::from_str(answer[0]["wide"].as_str().unwrap()).unwrap();
    assert_eq!(wide["k200"], 200);
}

#[test]
fn bad_json_is_refused_with_its_line() {
    let ctx = TestContext::new();
    let cases: &[(&str, &str, &str)] = &[
        (
            "broken.jsonl",
            "{\"a\": 1}\n{\"a\": 2,}\n",
            "broken.jsonl: line 2: invalid JSON column ",
        ),
        (
            "scalar.jsonl",
            "{\"a\": 1}\n\n{\"a\": 2}\n42\n",
            "scalar.jsonl: line 4: expected a JSON object (one row), found a number",
        ),
        (
            "numbers.json",
            "[{\"a\": 1},\n 2]",
            "numbers.json: line 2: expected a JSON object (one row), found a number",
        ),
        ("empty.json", "[]", "empty.json: empty file"),
        (
            "cut.jsonl",
            "{\"a\": 1}\n{\"a\": \"unterminated\n",
            "cut.jsonl: line 2",
        ),
        (
            "typed.jsonl",
            "{\"a\": 1}\n{\"a\": \"x\"}\n",
            "typed.jsonl: line 2: key \"a\": \"x\" is not a valid BIGINT",
        ),
    ];
    for (file, text, expected) in cases {
        let path = ctx.write(file, text);
        let mut args = vec!["ingest", path.to_str().unwrap()];
        if *file == "typed.jsonl" {
            args.extend(["--schema", "a:BIGINT"]);
        }
        let err = ctx.lake(&args).fails(1).to_owned();
        assert!(err.contains(expected), "{file}: {err}");
        assert_eq!(err.lines().count(), 1, "{file}: {err}");
    }
    // CSV flags mean nothing to JSON.
    let path = ctx.write("ok.jsonl", "{\"a\": 1}\n");
    let err = ctx
        .lake(&["ingest", path.to_str().unwrap(), "--delimiter", ";"])
        .fails(2)
        .to_owned();
    assert!(err.contains("--delimiter is for CSV input"), "{err}");
    assert!(
        ctx.lake(&["ls"]).ok().lines().count() <= 1,
        "nothing recorded"
    );
}

#[test]
fn sniff_tells_the_format() {
    let ctx = TestContext::new();
    let path = ctx.write("events.jsonl", EVENTS);
    let out = json(&ctx.lake(&["sniff", path.to_str().unwrap(), "--format", "json"]));
    assert_eq!(out["format"], "json");
    assert_eq!(out["rows"], 4);
    assert_eq!(out["columns"][2]["type"], "DOUBLE");
    assert!(out.get("delimiter").is_none(), "{out}");
}

#[test]
fn zstd_files_are_read_like_gzip_ones() {
    let ctx = TestContext::new();
    let work = ctx.work.path();
    // DuckDB writes the compressed files; a file of two frames is two
    // compressed files one after the other (as parallel compressors write).
    duckdb(&[
        format!(
            "COPY (SELECT range AS id, 'row ' || range AS label FROM range(5000)) \
             TO '{}' (FORMAT csv, COMPRESSION zstd)",
            work.join("numbers.csv.zst").display()
        ),
        format!(
            "COPY (SELECT range AS id, 'row ' || range AS label FROM range(5000)) \
             TO '{}' (FORMAT csv)",
            work.join("numbers.csv").display()
        ),
        format!(
            "COPY (SELECT range + 5000 AS id, 'row ' || (range + 5000) AS label FROM range(5000)) \
             TO '{}' (FORMAT csv, COMPRESSION zstd, HEADER false)",
            work.join("more.csv.zst").display()
        ),
        format!(
            "COPY (SELECT * FROM read_json('{}')) TO '{}' (FORMAT json, COMPRESSION zstd)",
            ctx.write("events.jsonl", EVENTS).display(),
            work.join("events.json.zst").display()
        ),
    ])
    .unwrap();
    let plain = ingest(&ctx, &work.join("numbers.csv"), "numbers");
    let zstd = ingest(&ctx, &work.join("numbers.csv.zst"), "numbers");
    assert_eq!(zstd["status"], "unchanged", "{zstd}");
    assert_eq!(zstd["key"], plain["key"]);
    // Two frames.
    let mut both = std::fs::read(work.join("numbers.csv.zst")).unwrap();
    both.extend(std::fs::read(work.join("more.csv.zst")).unwrap());
    let path = ctx.write("both.csv.zst", both);
    let report = ingest(&ctx, &path, "frames");
    assert_eq!(report["rows"], 10_000);
    assert_eq!(
        ctx.sql("select count(distinct id) as n, max(id) as top from frames"),
        "n,top\n10000,9999\n"
    );
    // JSON compressed too, named from the file without its extensions.
    json(&ctx.lake(&[
        "ingest",
        work.join("events.json.zst").to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert_eq!(ctx.sql("select count(*) as n from events"), "n\n4\n");
    // A damaged stream is an error, not a short dataset.
    let mut cut = std::fs::read(work.join("numbers.csv.zst")).unwrap();
    cut.truncate(cut.len() / 2);
    let path = ctx.write("cut.csv.zst", cut);
    ctx.lake(&["ingest", path.to_str().unwrap()]).fails(1);
    assert!(ctx.lake(&["show", "cut"]).code != 0);
}

#[test]
fn parquet_is_stored_as_given_or_rewritten_with_lake_types() {
    let ctx = TestContext::new();
    let work = ctx.work.path();
    let lakes_own = work.join("plain.parquet");
    let other = work.join("other.parquet");
    let nested = work.join("nested.parquet");
    let map = work.join("map.parquet");
    duckdb(&[
        // Types lake stores as they are.
        format!(
            "COPY (SELECT range AS id, 'n' || range AS name, range / 4 AS score, \
             range % 2 = 0 AS even FROM range(1000)) TO '{}' (FORMAT parquet)",
            lakes_own.display()
        ),
        // Types lake stores differently.
        format!(
            "COPY (SELECT range::INTEGER AS small, range::SMALLINT AS tiny, \
             (range / 8)::FLOAT AS f, (range / 100)::DECIMAL(10, 2) AS money, \
             TIMESTAMP_NS '2024-01-01 00:00:00.123456789' + INTERVAL (range) SECOND AS ns, \
             TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL (range) HOUR AS tz, \
             DATE '2024-01-01' + range::INTEGER AS day, TIME '10:00:00' AS t, \
             range::UINTEGER AS u FROM range(300)) TO '{}' (FORMAT parquet, COMPRESSION zstd)",
            other.display()
        ),
        format!(
            "COPY (SELECT 1 AS id, [1, 2]::INTEGER[] AS list, {{'a': 'x', 'b': [1.5]}} AS s \
             UNION ALL SELECT 2, [], NULL) TO '{}' (FORMAT parquet)",
            nested.display()
        ),
        format!(
            "COPY (SELECT MAP {{'k': 1}} AS m) TO '{}' (FORMAT parquet)",
            map.display()
        ),
    ])
    .unwrap();
    let report = ingest(&ctx, &lakes_own, "plain");
    assert_eq!(report["rows"], 1000);
    // Stored byte for byte: the key is the file's own hash.
    let key = report["key"].as_str().unwrap();
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(std::fs::read(&lakes_own).unwrap()));
    assert!(key.ends_with(&format!("{sha}.parquet")), "{key} vs {sha}");
    assert_eq!(
        ctx.sql("select count(*) as n, sum(id) as s, max(name) as m from plain where even"),
        "n,s,m\n500,249500,n998\n"
    );

    ingest(&ctx, &other, "other");
    assert_eq!(
        ctx.schema("other"),
        [
            ("small", "BIGINT"),
            ("tiny", "BIGINT"),
            ("f", "DOUBLE"),
            ("money", "DOUBLE"),
            ("ns", "TIMESTAMP"),
            ("tz", "TIMESTAMPTZ"),
            ("day", "DATE"),
            ("t", "TIME"),
            ("u", "BIGINT"),
        ]
        .map(|(n, t)| (n.to_owned(), t.to_owned()))
    );
    let columns = ["small", "tiny", "f", "money", "ns", "tz", "day", "t", "u"];
    let values = "small::VARCHAR AS small, tiny::VARCHAR AS tiny, f::DOUBLE::VARCHAR AS f, \
                  money::DOUBLE::VARCHAR AS money, \
                  date_trunc('microseconds', ns)::TIMESTAMP::VARCHAR AS ns, \
                  epoch_us(tz)::VARCHAR AS tz, day::VARCHAR AS day, t::VARCHAR AS t, \
                  u::VARCHAR AS u";
    let lake_values = values.replace("date_trunc('microseconds', ns)", "ns");
    assert_eq!(
        ctx.sql(&format!("SELECT {lake_values} FROM other ORDER BY small")),
        duckdb_csv(
            &columns,
            &format!(
                "SELECT {values} FROM read_parquet('{}') ORDER BY small",
                other.display()
            )
        )
    );
    // Rewritten objects follow the rule of every object: the same file gives
    // the same key.
    let again = ingest(&ctx, &other, "other");
    assert_eq!(again["status"], "unchanged");

    // STRUCT and LIST of lake's types, rewritten as lake writes them.
    ingest(&ctx, &nested, "nested");
    assert_eq!(
        ctx.schema("nested")[1..],
        [
            ("list", "BIGINT[]"),
            ("s", r#"STRUCT("a" VARCHAR, "b" DOUBLE[])"#)
        ]
        .map(|(n, t)| (n.to_owned(), t.to_owned()))
    );
    assert_eq!(
        ctx.sql(&as_text("nested")),
        "id,list,s\n1,\"[1, 2]\",\"{'a': x, 'b': [1.5]}\"\n2,[],\n"
    );
    let err = ctx
        .lake(&["ingest", map.to_str().unwrap()])
        .fails(1)
        .to_owned();
    assert!(err.contains("column \"m\": Parquet type Map"), "{err}");
    let err = ctx
        .lake(&["ingest", other.to_str().unwrap(), "--schema", "u:VARCHAR"])
        .fails(2)
        .to_owned();
    assert!(err.contains("--schema is for CSV input"), "{err}");
}

#[test]
fn the_server_takes_json_and_rejects() {
    let ctx = TestContext::new();
    let server = crate::serve::Server::start(&ctx, &[]);
    let (status, body) = server.post(
        "/v1/ingest?name=events",
        "application/json",
        EVENTS.as_bytes(),
    );
    assert_eq!(status, 201, "{body}");
    let (_, answer) = server.sql("select count(*) as n, sum(score) as s from events");
    assert_eq!(answer["rows"], serde_json::json!([[4, 3.25]]));
    let (status, body) = server.post(
        "/v1/ingest?name=mixed&rejects=true",
        "text/csv",
        b"a,b\n1,2\n3,4,5\n6,7\n",
    );
    assert_eq!(status, 201, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["rejects"], 1, "{body}");
    assert_eq!(report["rejects_dataset"], "mixed_rejects", "{body}");
    let (_, answer) = server.sql("select line, text from mixed_rejects");
    assert_eq!(answer["rows"], serde_json::json!([[3, "3,4,5"]]));
    // CSV settings on JSON are a 400.
    let (status, body) = server.post(
        "/v1/ingest?name=e2&delimiter=%3B",
        "application/json",
        EVENTS.as_bytes(),
    );
    assert_eq!(status, 400, "{body}");
}

#[test]
fn the_format_can_be_named_when_the_content_misleads() {
    let ctx = TestContext::new();
    // A CSV whose header begins like a JSON object.
    let path = ctx.write("odd.csv", "{\"a\"},b\n1,2\n");
    let err = ctx
        .lake(&["ingest", path.to_str().unwrap()])
        .fails(1)
        .to_owned();
    assert!(err.contains("invalid JSON"), "{err}");
    ctx.lake(&["ingest", path.to_str().unwrap(), "--input-format", "csv"])
        .ok();
    assert_eq!(ctx.sql("select b from odd"), "b\n2\n");
    let sniffed = json(&ctx.lake(&[
        "sniff",
        path.to_str().unwrap(),
        "--input-format",
        "csv",
        "--format",
        "json",
    ]));
    assert_eq!(sniffed["format"], "csv");
    // Over HTTP too; a name it does not know is a 400.
    let server = crate::serve::Server::start(&ctx, &[]);
    let (status, body) = server.post(
        "/v1/ingest?name=odd2&input_format=csv",
        "text/csv",
        b"{\"a\"},b\n1,2\n",
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.post("/v1/ingest?name=x&input_format=xml", "text/csv", b"a\n1\n");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("input_format"), "{body}");
}
