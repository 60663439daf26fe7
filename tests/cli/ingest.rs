//! `lake ingest`: versions, idempotence, conflicts, append and replace.

use crate::{TestContext, json};

#[test]
fn fresh_machine_ingest_then_query() {
    let ctx = TestContext::new();
    let people = ctx.people();
    let out = ctx.lake(&["ingest", people.to_str().unwrap(), "--format", "json"]);
    let report = json(&out);
    assert_eq!(report["name"], "people");
    assert_eq!(report["status"], "created");
    assert_eq!(report["version"], 1);
    assert_eq!(report["rows"], 6);
    assert_eq!(report["dataset_id"], "54eb9062-488a-5c80-9ade-2bd63f8dc68c");
    let key = report["key"].as_str().unwrap();
    assert!(
        key.starts_with("datasets/people/") && key.ends_with(".parquet"),
        "{key}"
    );
    // The key is the SHA-256 of the object's bytes.
    let bytes = std::fs::read(ctx.home.path().join("store").join(key)).unwrap();
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(&bytes));
    assert_eq!(key, format!("datasets/people/{digest}.parquet"));
    assert_eq!(report["bytes"], bytes.len());
    let catalog = if crate::on_postgres() {
        "catalog.url"
    } else {
        "catalog.sqlite"
    };
    assert!(ctx.home.path().join(catalog).exists());
    assert_eq!(
        ctx.sql("select name from people order by id"),
        "name\nAlice\nBob\nCarol\nDave\nEve\nFrank\n"
    );
}

#[test]
fn types_are_inferred_and_fingerprinted_as_the_spec_says() {
    let ctx = TestContext::new();
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    let schema = ctx.schema("people");
    let expected = [
        ("id", "BIGINT"),
        ("name", "VARCHAR"),
        ("email", "VARCHAR"),
        ("age", "BIGINT"),
        ("joined", "DATE"),
        ("score", "DOUBLE"),
        ("active", "BOOLEAN"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(schema, expected);
    let spec_bytes = expected
        .iter()
        .map(|(n, t)| format!("{n}\x1f{t}"))
        .collect::<Vec<_>>()
        .join("\x1e");
    use sha2::Digest;
    assert_eq!(
        ctx.show("people")["fingerprint"],
        hex::encode(sha2::Sha256::digest(spec_bytes.as_bytes()))
    );
    // DuckDB sees the same types.
    assert_eq!(
        ctx.sql("select typeof(id), typeof(age), typeof(joined), typeof(score), typeof(active) from people limit 1"),
        "typeof(id),typeof(age),typeof(joined),typeof(score),typeof(active)\nBIGINT,BIGINT,DATE,DOUBLE,BOOLEAN\n"
    );
    assert_eq!(
        ctx.sql("select count(*) from people where age is null"),
        "count_star()\n1\n"
    );
}

#[test]
fn rerunning_an_ingest_changes_nothing() {
    let ctx = TestContext::new();
    let people = ctx.people();
    let first = json(&ctx.lake(&["ingest", people.to_str().unwrap(), "--format", "json"]));
    let files = ctx.dataset_files();
    let again = json(&ctx.lake(&["ingest", people.to_str().unwrap(), "--format", "json"]));
    assert_eq!(again["status"], "unchanged");
    assert_eq!(again["version"], 1);
    assert_eq!(again["key"], first["key"]);
    assert_eq!(ctx.dataset_files(), files);
    let append = json(&ctx.lake(&[
        "ingest",
        people.to_str().unwrap(),
        "--append",
        "--format",
        "json",
    ]));
    assert_eq!(append["status"], "unchanged");
    assert_eq!(ctx.show("people")["versions"].as_array().unwrap().len(), 1);
}

#[test]
fn a_new_column_is_a_conflict_that_changes_nothing() {
    let ctx = TestContext::new();
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    let files = ctx.dataset_files();
    let wider = ctx.write("wider.csv", "id,name,email,age,joined,score,active,team\n7,Grace,g@example.com,45,2020-01-01,99,true,red\n");
    let err = ctx.lake(&["ingest", wider.to_str().unwrap(), "--name", "people"]);
    let stderr = err.fails(3);
    assert!(stderr.contains("team"), "{stderr}");
    assert!(stderr.contains("added"), "{stderr}");
    let retyped = ctx.write(
        "retyped.csv",
        "id,name,email,age,joined,score,active\nx,Grace,g@example.com,45,2020-01-01,99,true\n",
    );
    let stderr = ctx
        .lake(&[
            "ingest",
            retyped.to_str().unwrap(),
            "--name",
            "people",
            "--append",
        ])
        .fails(3)
        .to_owned();
    assert!(stderr.contains("id BIGINT -> VARCHAR"), "{stderr}");
    assert_eq!(
        ctx.dataset_files(),
        files,
        "a refused ingest wrote an object"
    );
    assert_eq!(ctx.sql("select count(*) as n from people"), "n\n6\n");

    let replaced = json(&ctx.lake(&[
        "ingest",
        wider.to_str().unwrap(),
        "--name",
        "people",
        "--replace",
        "--format",
        "json",
    ]));
    assert_eq!(replaced["status"], "updated");
    assert_eq!(replaced["version"], 2);
    assert_eq!(
        ctx.sql("select name, team from people"),
        "name,team\nGrace,red\n"
    );
}

#[test]
fn append_adds_rows_and_default_replaces_them() {
    let ctx = TestContext::new();
    let a = ctx.write("a.csv", "id,v\n1,x\n2,y\n");
    let b = ctx.write("b.csv", "id,v\n3,z\n");
    ctx.lake(&["ingest", a.to_str().unwrap(), "--name", "t"])
        .ok();
    let out = json(&ctx.lake(&[
        "ingest",
        b.to_str().unwrap(),
        "--name",
        "t",
        "--append",
        "--format",
        "json",
    ]));
    assert_eq!(
        (out["status"].as_str(), out["version"].as_u64()),
        (Some("updated"), Some(2))
    );
    assert_eq!(ctx.sql("select id from t order by id"), "id\n1\n2\n3\n");
    let show = ctx.show("t");
    assert_eq!(show["rows"], 3);
    assert_eq!(show["objects"].as_array().unwrap().len(), 2);
    // Without --append the new file replaces the data.
    ctx.lake(&["ingest", b.to_str().unwrap(), "--name", "t"])
        .ok();
    assert_eq!(ctx.sql("select id from t order by id"), "id\n3\n");
    assert_eq!(ctx.show("t")["version"], 3);
}

#[test]
fn the_same_input_gives_the_same_bytes_in_another_lake() {
    let one = TestContext::new();
    let two = TestContext::new();
    let k1 = json(&one.lake(&["ingest", one.people().to_str().unwrap(), "--format", "json"]));
    let k2 = json(&two.lake(&["ingest", two.people().to_str().unwrap(), "--format", "json"]));
    assert_eq!(k1["key"], k2["key"]);
    assert_eq!(k1["fingerprint"], k2["fingerprint"]);
}

#[test]
fn reads_stdin_gzip_tsv_bom_crlf_and_quoted_newlines() {
    let ctx = TestContext::new();
    let csv =
        "\u{feff}id,note\r\n1,\"line one\nline two\"\r\n2,\"has \"\"quotes\"\", and commas\"\r\n";
    let out = ctx.lake_stdin(&["ingest", "-", "--name", "notes"], csv.as_bytes());
    out.ok();
    assert_eq!(ctx.sql("select id from notes order by id"), "id\n1\n2\n");
    let json_out = ctx.lake(&[
        "sql",
        "--format",
        "json",
        "select note from notes order by id",
    ]);
    let rows: serde_json::Value = serde_json::from_str(json_out.ok()).unwrap();
    assert_eq!(rows[0]["note"], "line one\nline two");
    assert_eq!(rows[1]["note"], "has \"quotes\", and commas");

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"a\tb\n1\t2\n").unwrap();
    let path = ctx.write("Tab Data.tsv.gz", gz.finish().unwrap());
    let report = json(&ctx.lake(&["ingest", path.to_str().unwrap(), "--format", "json"]));
    assert_eq!(report["name"], "tab_data");
    assert_eq!(ctx.sql("select a + b as s from tab_data"), "s\n3\n");

    let semi = ctx.write("semi_colon.txt", "x;y\n1;2\n");
    ctx.lake(&["ingest", semi.to_str().unwrap(), "--delimiter", ";"])
        .ok();
    assert_eq!(ctx.sql("select y from semi_colon"), "y\n2\n");
}

#[test]
fn no_header_and_schema_override() {
    let ctx = TestContext::new();
    let f = ctx.write("codes.csv", "zip,n\n01234,1\n98765,2\n");
    ctx.lake(&["ingest", f.to_str().unwrap()]).ok();
    // A leading zero keeps the column text.
    assert_eq!(
        ctx.sql("select zip from codes order by n"),
        "zip\n01234\n98765\n"
    );
    ctx.lake(&[
        "ingest",
        f.to_str().unwrap(),
        "--name",
        "codes2",
        "--schema",
        "n:VARCHAR",
    ])
    .ok();
    assert_eq!(
        ctx.sql("select typeof(n) as t from codes2 limit 1"),
        "t\nVARCHAR\n"
    );
    let stderr = ctx
        .lake(&[
            "ingest",
            f.to_str().unwrap(),
            "--name",
            "c3",
            "--schema",
            "zip:BOOLEAN",
        ])
        .fails(1)
        .to_owned();
    assert!(
        stderr.contains("line 2") && stderr.contains("zip") && stderr.contains("BOOLEAN"),
        "{stderr}"
    );
    ctx.lake(&[
        "ingest",
        f.to_str().unwrap(),
        "--name",
        "c4",
        "--schema",
        "nope:BIGINT",
    ])
    .fails(2);

    let raw = ctx.write("raw.csv", "1,a\n2,b\n");
    ctx.lake(&["ingest", raw.to_str().unwrap(), "--no-header"])
        .ok();
    assert_eq!(
        ctx.sql("select column_2 from raw order by column_1"),
        "column_2\na\nb\n"
    );
}

#[test]
fn header_names_are_made_unique() {
    let ctx = TestContext::new();
    let f = ctx.write("dups.csv", "a,,a,A\n1,2,3,4\n");
    ctx.lake(&["ingest", f.to_str().unwrap()]).ok();
    assert_eq!(
        ctx.sql("select * from dups"),
        "a,column_2,a_2,A_3\n1,2,3,4\n"
    );
}

#[test]
fn names_are_checked() {
    let ctx = TestContext::new();
    let people = ctx.people();
    let stderr = ctx
        .lake(&["ingest", people.to_str().unwrap(), "--name", "bad-name"])
        .fails(2)
        .to_owned();
    assert!(stderr.contains("bad-name"), "{stderr}");
    ctx.lake_stdin(&["ingest", "-"], b"a\n1\n").fails(2);
}

/// A CSV of about 20 MiB: large enough to be scanned on two threads.
fn large_csv(rows: usize, middle: Option<&str>) -> String {
    let mut csv = String::from("id,name,amount,day\n");
    for r in 0..rows {
        if r == rows / 2
            && let Some(extra) = middle
        {
            csv.push_str(extra);
        }
        csv.push_str(&format!(
            "{r},name {r},{}.25,2024-01-{:02}\n",
            r % 977,
            1 + r % 28
        ));
    }
    csv
}

#[test]
fn large_files_give_the_same_object_however_they_are_read() {
    let ctx = TestContext::new();
    let csv = large_csv(600_000, None);
    assert!(csv.len() > 16 << 20);
    let plain = ctx.write("large.csv", &csv);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, csv.as_bytes()).unwrap();
    let zipped = ctx.write("large.csv.gz", gz.finish().unwrap());
    // The plain file is scanned in two halves, the gzip one in one pass.
    let a = json(&ctx.lake(&[
        "ingest",
        plain.to_str().unwrap(),
        "--name",
        "a",
        "--format",
        "json",
    ]));
    let b = json(&ctx.lake(&[
        "ingest",
        zipped.to_str().unwrap(),
        "--name",
        "b",
        "--format",
        "json",
    ]));
    assert_eq!(a["rows"], 600_000);
    assert_eq!(a["fingerprint"], b["fingerprint"]);
    let hash = |v: &serde_json::Value| {
        v["key"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(hash(&a), hash(&b));
    assert_eq!(
        ctx.sql("select typeof(amount) as t, count(*) as n from a group by t"),
        "t,n\nDOUBLE,600000\n"
    );
}

#[test]
fn a_quoted_newline_at_the_split_point_is_read_right() {
    let ctx = TestContext::new();
    // A field of many lines in the middle of the file: wherever the halves
    // are cut, the cut falls inside it and the scan starts again whole.
    let field = format!("-1,\"{}\",1.5,2024-02-02\n", "line\n".repeat(400_000));
    let path = ctx.write("quoted.csv", large_csv(500_000, Some(&field)));
    let report = json(&ctx.lake(&["ingest", path.to_str().unwrap(), "--format", "json"]));
    assert_eq!(report["rows"], 500_001);
    assert_eq!(
        ctx.sql("select length(name) as n from quoted where id = -1"),
        format!("n\n{}\n", 400_000 * 5)
    );
}

#[test]
fn an_error_late_in_a_large_file_names_its_line() {
    let ctx = TestContext::new();
    let mut csv = large_csv(600_000, None);
    csv.push_str("1,2\n");
    let path = ctx.write("late.csv", csv);
    let stderr = ctx
        .lake(&["ingest", path.to_str().unwrap()])
        .fails(1)
        .to_owned();
    assert!(
        stderr.contains("line 600002") && stderr.contains("expected 4 fields, found 2"),
        "{stderr}"
    );
}

#[test]
fn wide_rows_give_the_same_object_plain_or_gzipped() {
    // Rows of ~300 bytes: the 16 MiB plain file is scanned in two halves of
    // fewer than 65,536 rows each. Column `c` repeats in the first half and
    // is unique in the second, so a dictionary decision taken from the first
    // half alone differs from one taken from the file's first rows.
    let ctx = TestContext::new();
    let rows = 58_000;
    let pad = "p".repeat(280);
    let mut csv = String::from("id,c,pad\n");
    for i in 0..rows {
        let c = if i < rows / 2 {
            format!("v{}", i % 10)
        } else {
            format!("u{i}")
        };
        csv.push_str(&format!("{i},{c},{pad}\n"));
    }
    assert!(csv.len() > 16 << 20);
    let plain = ctx.write("wide.csv", &csv);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, csv.as_bytes()).unwrap();
    let zipped = ctx.write("wide.csv.gz", gz.finish().unwrap());
    let key = |path: &std::path::Path| {
        let report = json(&ctx.lake(&[
            "ingest",
            path.to_str().unwrap(),
            "--name",
            "w",
            "--format",
            "json",
        ]));
        report["key"].as_str().unwrap().to_owned()
    };
    let first = key(&plain);
    assert_eq!(key(&zipped), first, "the same rows gave other bytes");
}
