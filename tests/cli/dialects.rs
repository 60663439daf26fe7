//! CSV dialects found as DuckDB finds them: lake's dataset and DuckDB's own
//! `read_csv` of the same file (the external client of the tests, DuckDB
//! 1.5) agree on column names and values.

use crate::TestContext;
use crate::ducklake::duckdb;

/// Files of many dialects, by name, with the columns lake must find.
const FILES: &[(&str, &str, &[&str])] = &[
    (
        "semicolon.csv",
        "id;name;score\n1;Ann;1.5\n2;Bob;2.5\n",
        &["id", "name", "score"],
    ),
    ("pipe.csv", "id|text\n1|\"a|b\"\n2|plain\n", &["id", "text"]),
    ("tabs.txt", "id\tname\n1\tx\n2\ty\n", &["id", "name"]),
    (
        "numbers.csv",
        "1,2,3\n4,5,6\n7,8,9\n",
        &["column_1", "column_2", "column_3"],
    ),
    (
        "preamble.csv",
        "Sales report\nGenerated in 2024\nid,amount\n1,2.5\n2,3.5\n3,4.5\n",
        &["id", "amount"],
    ),
    (
        "escaped.csv",
        "id,text\n1,\"say \\\"hi\\\" to them\"\n2,\"plain, with comma\"\n3,x\n",
        &["id", "text"],
    ),
    (
        "single.csv",
        "id,text\n1,'a,b'\n2,'c'\n3,'d'\n",
        &["id", "text"],
    ),
    (
        "us_dates.csv",
        "id,day\n1,12/31/2023\n2,01/15/2024\n3,\n",
        &["id", "day"],
    ),
    (
        "de_times.csv",
        "id;at\n1;31.12.2023 10:00:00\n2;15.01.2024 11:30:00\n",
        &["id", "at"],
    ),
];

/// Every column of `from` as text, rows in order.
fn as_text(from: &str) -> String {
    format!("SELECT COLUMNS(*)::VARCHAR FROM {from} ORDER BY ALL")
}

/// A CSV field as lake's CSV output writes it.
pub fn csv_field(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[test]
fn dialects_are_found_as_duckdb_finds_them() {
    let ctx = TestContext::new();
    for (file, contents, columns) in FILES {
        let path = ctx.write(file, contents);
        let name = file.split('.').next().unwrap();
        let run = ctx.lake(&["ingest", path.to_str().unwrap(), "--name", name]);
        assert_eq!(run.code, 0, "{file}: {run:?}");
        let show = ctx.show(name);
        let names: Vec<&str> = show["schema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(&names, columns, "{file}");
        let ours = ctx.sql(&as_text(name));
        let theirs = duckdb(&[as_text(&format!("read_csv('{}')", path.display()))])
            .unwrap_or_else(|e| panic!("{file}: DuckDB: {e}"));
        // Values in order; lake names header-less columns its own way.
        let mut expected = format!("{}\n", columns.join(","));
        for row in &theirs[0].rows {
            let fields: Vec<String> = row.iter().map(csv_field).collect();
            expected.push_str(&fields.join(","));
            expected.push('\n');
        }
        assert_eq!(ours, expected, "{file}");
    }
}

#[test]
fn every_guess_can_be_overridden() {
    let ctx = TestContext::new();
    // A semicolon file read with the comma the user asks for: one column.
    let path = ctx.write("semis.csv", "a;b\n1;2\n");
    ctx.lake(&["ingest", path.to_str().unwrap(), "--delimiter", ","])
        .ok();
    assert_eq!(ctx.sql("select * from semis"), "a;b\n1;2\n");
    // Numbers taken as a header when the user says so.
    let path = ctx.write("nums.csv", "1,2\n3,4\n");
    ctx.lake(&["ingest", path.to_str().unwrap(), "--header"])
        .ok();
    assert_eq!(ctx.sql("select \"1\" + \"2\" as s from nums"), "s\n7\n");
    // Lines skipped and comments dropped by the flags alone.
    let path = ctx.write("odd.csv", "junk,junk\nid,v\n#note\n1,x\n");
    ctx.lake(&[
        "ingest",
        path.to_str().unwrap(),
        "--skip",
        "1",
        "--comment",
        "#",
    ])
    .ok();
    assert_eq!(ctx.sql("select id, v from odd"), "id,v\n1,x\n");
    // A quote the user names.
    let path = ctx.write("q.csv", "id,t\n1,'a,b'\n");
    ctx.lake(&["ingest", path.to_str().unwrap(), "--quote", "'"])
        .ok();
    assert_eq!(ctx.sql("select t from q"), "t\n\"a,b\"\n");
}

#[test]
fn errors_name_the_files_own_line_after_a_preamble() {
    let ctx = TestContext::new();
    let path = ctx.write(
        "report.csv",
        "Monthly report\nMade by hand\nid,amount\n1,2.5\n2,3.5,9\n",
    );
    let run = ctx.lake(&["ingest", path.to_str().unwrap()]);
    let err = run.fails(1);
    assert!(
        err.contains("line 5") && err.contains("expected 2 fields, found 3"),
        "{err}"
    );
}

#[test]
fn sniff_and_dry_run_print_the_dialect_and_schema_and_write_nothing() {
    let ctx = TestContext::new();
    let path = ctx.write(
        "sales.txt",
        "Sales report\nid;amount;day\n1;2.5;2024-01-02\n2;3.5;2024-01-03\n",
    );
    let sniffed = crate::json(&ctx.lake(&["sniff", path.to_str().unwrap(), "--format", "json"]));
    assert_eq!(
        (
            &sniffed["delimiter"],
            &sniffed["skip"],
            &sniffed["header"],
            &sniffed["rows"]
        ),
        (
            &serde_json::json!(";"),
            &serde_json::json!(1),
            &serde_json::json!(true),
            &serde_json::json!(2)
        ),
        "{sniffed}"
    );
    assert_eq!(
        sniffed["columns"],
        serde_json::json!([
            {"name": "id", "type": "BIGINT"},
            {"name": "amount", "type": "DOUBLE"},
            {"name": "day", "type": "DATE"}
        ])
    );
    // A flag wins over the sniffer, in the dry run too, which names the
    // dataset it would make.
    let dry = crate::json(&ctx.lake(&[
        "ingest",
        path.to_str().unwrap(),
        "--dry-run",
        "--no-header",
        "--format",
        "json",
    ]));
    assert_eq!(
        (&dry["name"], &dry["header"], &dry["rows"]),
        (
            &serde_json::json!("sales"),
            &serde_json::json!(false),
            &serde_json::json!(3)
        )
    );
    // Standard input, in another format.
    let run = ctx.lake_stdin(&["sniff", "-", "--format", "csv"], b"a\tb\n1\t2\n");
    assert!(run.ok().contains("<stdin>,csv,\\t,"), "{run:?}");
    // Nothing was written: not even a home.
    assert!(!ctx.home.path().join("catalog.sqlite").exists());
    // A file that cannot be read is one clear error.
    let bad = ctx.write("ragged.csv", "a,b\n1,2\n3,4,5\n");
    let run = ctx.lake(&["sniff", bad.to_str().unwrap()]);
    assert!(run.fails(1).contains("line 3"), "{run:?}");
}

#[test]
fn short_rows_can_be_padded_and_null_strings_named() {
    let ctx = TestContext::new();
    let path = ctx.write("short.csv", "id,a,b\n1,x,2\n2,y\n3\n");
    // Refused by default, with the way out in the message.
    let run = ctx.lake(&["ingest", path.to_str().unwrap()]);
    let err = run.fails(1);
    assert!(
        err.contains("line 3") && err.contains("--null-padding"),
        "{err}"
    );
    ctx.lake(&["ingest", path.to_str().unwrap(), "--null-padding"])
        .ok();
    assert_eq!(
        ctx.sql("select id, a, b, typeof(b) as t from short order by id"),
        "id,a,b,t\n1,x,2,BIGINT\n2,y,,BIGINT\n3,,,BIGINT\n"
    );
    // Too many fields is still refused.
    let long = ctx.write("long.csv", "id,a\n1,x\n2,y,z\n");
    let run = ctx.lake(&["ingest", long.to_str().unwrap(), "--null-padding"]);
    assert!(
        run.fails(1).contains("expected 2 fields, found 3"),
        "{run:?}"
    );
    // NA and - are NULL when named: the column is a number column.
    let na = ctx.write("na.csv", "id,score\n1,NA\n2,-\n3,4.5\n");
    ctx.lake(&[
        "ingest",
        na.to_str().unwrap(),
        "--null",
        "NA",
        "--null",
        "-",
    ])
    .ok();
    assert_eq!(
        ctx.sql("select count(score) as n, typeof(max(score)) as t from na"),
        "n,t\n1,DOUBLE\n"
    );
}

#[test]
fn the_server_sniffs_and_takes_the_same_settings() {
    let ctx = TestContext::new();
    let server = crate::serve::Server::start(&ctx, &[]);
    let (status, body) = server.post(
        "/v1/ingest?name=semis",
        "text/csv",
        b"Report\nid;v\n1;a\n2;b\n",
    );
    assert_eq!(status, 201, "{body}");
    let (_, answer) = server.sql("select id, v from semis order by id");
    assert_eq!(answer["rows"], serde_json::json!([[1, "a"], [2, "b"]]));
    let (status, body) = server.post(
        "/v1/ingest?name=padded&null_padding=true&delimiter=%7C",
        "text/csv",
        b"a|b\n1|2\n3\n",
    );
    assert_eq!(status, 201, "{body}");
    let (_, answer) = server.sql("select count(b) as n from padded");
    assert_eq!(answer["rows"], serde_json::json!([[1]]));
    let (status, body) = server.post("/v1/ingest?name=x&quote=ab", "text/csv", b"a\n1\n");
    assert_eq!(status, 400, "{body}");
}

#[test]
fn instants_with_a_zone_and_times_of_day_get_their_types() {
    let ctx = TestContext::new();
    let path = ctx.write(
        "events.csv",
        "id,at,t\n1,2023-12-31T10:00:00Z,10:00:00\n2,2023-12-31 10:00:00+02,23:59:59.25\n3,,\n",
    );
    ctx.lake(&["ingest", path.to_str().unwrap()]).ok();
    assert_eq!(
        ctx.sql(
            "select id, \"at\", t, typeof(\"at\") as a, typeof(t) as b from events order by id"
        ),
        "id,at,t,a,b\n\
         1,2023-12-31 10:00:00+00,10:00:00,TIMESTAMP WITH TIME ZONE,TIME\n\
         2,2023-12-31 08:00:00+00,23:59:59.250,TIMESTAMP WITH TIME ZONE,TIME\n\
         3,,,TIMESTAMP WITH TIME ZONE,TIME\n"
    );
    // Another engine reads the object with the same types and instants.
    let key = ctx.show("events")["objects"][0]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let object = ctx.home.path().join("store").join(key);
    let answer = duckdb(&[format!(
        "SELECT typeof(\"at\"), typeof(t), epoch_us(\"at\") FROM read_parquet('{}') ORDER BY id",
        object.display()
    )])
    .unwrap();
    assert_eq!(
        answer[0].rows[0],
        [
            serde_json::json!("TIMESTAMP WITH TIME ZONE"),
            serde_json::json!("TIME"),
            serde_json::json!(1_704_016_800_000_000i64)
        ]
    );
    // --schema names the new types too.
    let other = ctx.write("t2.csv", "x\n10:00:00\n");
    ctx.lake(&["ingest", other.to_str().unwrap(), "--schema", "x:VARCHAR"])
        .ok();
    assert_eq!(ctx.sql("select typeof(x) as t from t2"), "t\nVARCHAR\n");
}

#[test]
fn dates_and_timestamps_in_other_formats_are_typed() {
    let ctx = TestContext::new();
    let path = ctx.write(
        "de.csv",
        "id;at;day\n1;31.12.2023 10:00:00;31.12.2023\n2;15.01.2024 11:30:00;15.01.2024\n",
    );
    ctx.lake(&["ingest", path.to_str().unwrap()]).ok();
    assert_eq!(
        ctx.sql("select \"at\", day, typeof(\"at\") as a, typeof(day) as d from de order by id"),
        "at,day,a,d\n2023-12-31 10:00:00,2023-12-31,TIMESTAMP,DATE\n2024-01-15 11:30:00,2024-01-15,TIMESTAMP,DATE\n"
    );
    // An ambiguous date read as the user says; a value the format does not
    // fit keeps the column text.
    let day_first = |name: &str, contents: &str| {
        let path = ctx.write(name, contents);
        let ingest = [
            "ingest",
            path.to_str().unwrap(),
            "--date-format",
            "%d/%m/%Y",
        ];
        ctx.lake(&ingest).ok();
    };
    day_first("amb.csv", "day\n01/02/2024\n03/04/2024\n");
    assert_eq!(
        ctx.sql("select day from amb order by day"),
        "day\n2024-02-01\n2024-04-03\n"
    );
    day_first("mixed.csv", "day\n01/02/2024\nsoon\n");
    assert_eq!(
        ctx.sql("select typeof(day) as t from mixed limit 1"),
        "t\nVARCHAR\n"
    );
}
