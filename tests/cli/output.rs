//! Output formats, standard streams and exit codes.

use std::io::Read;
use std::process::Stdio;

use crate::TestContext;

fn lake_with_people() -> TestContext {
    let ctx = TestContext::new();
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    ctx
}

#[test]
fn every_format_is_clean_machine_output() {
    let ctx = lake_with_people();
    let q = "select id, name, score, active, joined from people where id <= 2 order by id";
    let csv = ctx.lake(&["sql", "--format", "csv", q]);
    assert_eq!(
        csv.ok(),
        "id,name,score,active,joined\n1,Alice,91.5,true,2021-03-14\n2,Bob,78.25,true,2022-07-01\n"
    );
    assert!(csv.stderr.is_empty(), "{csv:?}");
    let json = ctx.lake(&["sql", "--format", "json", q]);
    let rows: serde_json::Value = serde_json::from_str(json.ok()).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([
            {"id": 1, "name": "Alice", "score": 91.5, "active": true, "joined": "2021-03-14"},
            {"id": 2, "name": "Bob", "score": 78.25, "active": true, "joined": "2022-07-01"}
        ])
    );
    let nd = ctx.lake(&["sql", "--format", "ndjson", q]);
    let lines: Vec<serde_json::Value> = nd
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["name"], "Bob");
    let table = ctx.lake(&["sql", "--format", "table", q]);
    assert!(
        table.ok().contains("Alice") && table.stdout.contains("name"),
        "{table:?}"
    );
    let env = ctx
        .command()
        .env("LAKE_FORMAT", "ndjson")
        .args(["sql", "select 1 as x"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&env.stdout), "{\"x\":1}\n");
}

#[test]
fn empty_results_still_print_the_header() {
    let ctx = lake_with_people();
    assert_eq!(
        ctx.sql("select id, name from people where false"),
        "id,name\n"
    );
    let json = ctx.lake(&[
        "sql",
        "--format",
        "json",
        "select id from people where false",
    ]);
    assert_eq!(json.ok(), "[]\n");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let ctx = lake_with_people();
    let mut child = ctx
        .command()
        .args(["sql", "select range as n from range(5000000)"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout); // like `| head`
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit {:?}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn exit_codes() {
    let ctx = lake_with_people();
    let err = ctx.lake(&["sql", "select nope from people"]);
    assert!(err.fails(1).contains("nope"), "{err:?}");
    let usage = ctx.lake(&["ingest"]);
    assert_eq!(usage.code, 2);
    let usage = ctx.lake(&["sql", "select 1", "--format", "xml"]);
    assert_eq!(usage.code, 2);
    assert_eq!(ctx.lake(&["--help"]).code, 0);
}
