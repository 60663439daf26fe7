//! Bad input gets one clear error naming the file and the line, a non-zero
//! exit, and leaves the lake as it was.

use crate::TestContext;

/// Ingests `contents` as `name` and returns the error, checking that nothing
/// was recorded or written.
fn refused(ctx: &TestContext, name: &str, contents: &[u8]) -> String {
    let path = ctx.write(name, contents);
    let run = ctx.lake(&["ingest", path.to_str().unwrap()]);
    let stderr = run.fails(1).to_owned();
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(
        stderr.contains(name),
        "error does not name the file: {stderr}"
    );
    assert_eq!(
        ctx.lake(&["ls", "--format", "csv"]).ok(),
        "name,rows,columns,bytes,version,updated\n"
    );
    assert!(ctx.dataset_files().is_empty(), "an object was written");
    stderr
}

#[test]
fn ragged_rows() {
    let ctx = TestContext::new();
    let err = refused(&ctx, "ragged.csv", b"a,b\n1,2\n3,4,5\n");
    assert!(
        err.contains("line 3") && err.contains("expected 2 fields, found 3"),
        "{err}"
    );
    let err = refused(&ctx, "short.csv", b"a,b\n1,2\n3\n");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn invalid_utf8() {
    let ctx = TestContext::new();
    let err = refused(&ctx, "latin1.csv", b"id,name\n1,ok\n2,caf\xe9\n");
    assert!(
        err.contains("line 3") && err.contains("UTF-8") && err.contains("name"),
        "{err}"
    );
}

#[test]
fn invalid_utf8_past_the_head_is_named_by_its_line() {
    // Past the 65,536 rows the types are guessed from: found in a chunk
    // checked as UTF-8 at once, then told row by row.
    let ctx = TestContext::new();
    let mut csv = b"id,name\n".to_vec();
    let mut json = Vec::new();
    for i in 0..70_000 {
        let name: &[u8] = if i == 69_000 { b"caf\xe9" } else { b"ok" };
        csv.extend_from_slice(format!("{i},").as_bytes());
        csv.extend_from_slice(name);
        csv.push(b'\n');
        json.extend_from_slice(format!("{{\"id\": {i}, \"name\": \"").as_bytes());
        json.extend_from_slice(name);
        json.extend_from_slice(b"\"}\n");
    }
    let err = refused(&ctx, "late.csv", &csv);
    assert!(
        err.contains("line 69002: column 2 (name): invalid UTF-8"),
        "{err}"
    );
    let err = refused(&ctx, "late.jsonl", &json);
    assert!(err.contains("line 69001: invalid JSON"), "{err}");
}

#[test]
fn binary_file() {
    let ctx = TestContext::new();
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend((0..=255u8).cycle().take(4096));
    let err = refused(&ctx, "picture.csv", &png);
    assert!(err.contains("line 1"), "{err}");
    let err = refused(&ctx, "nul.csv", b"a,b\n1,x\0y\n");
    assert!(err.contains("line 2") && err.contains("NUL"), "{err}");
}

#[test]
fn empty_file() {
    let ctx = TestContext::new();
    let err = refused(&ctx, "empty.csv", b"");
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn header_only_makes_an_empty_dataset() {
    let ctx = TestContext::new();
    let path = ctx.write("later.csv", "id,name\n");
    ctx.lake(&["ingest", path.to_str().unwrap()]).ok();
    assert_eq!(ctx.sql("select * from later"), "id,name\n");
    let show = ctx.show("later");
    assert_eq!(show["rows"], 0);
    assert_eq!(show["schema"][0]["type"], "VARCHAR");
}

#[test]
fn missing_file_and_directory() {
    let ctx = TestContext::new();
    let run = ctx.lake(&["ingest", "nope.csv"]);
    assert!(run.fails(1).contains("nope.csv"), "{run:?}");
    let run = ctx.lake(&["ingest", "."]);
    run.fails(1);
}

#[test]
fn a_byte_order_mark_alone_is_an_empty_file() {
    let ctx = TestContext::new();
    let err = refused(&ctx, "bom.csv", b"\xef\xbb\xbf");
    assert!(err.contains("empty"), "{err}");
    let err = refused(&ctx, "blank.csv", b"\xef\xbb\xbf\n\n");
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn a_quote_never_closed_is_refused() {
    let ctx = TestContext::new();
    let err = refused(&ctx, "open.csv", b"id,text\n1,ok\n2,\"never closed\n3,x\n");
    assert!(
        err.contains("line 3") && err.contains("never closed"),
        "{err}"
    );
    // Compressed too.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, b"id,text\n1,ok\n2,\"never closed\n3,x\n").unwrap();
    let err = refused(&ctx, "open.csv.gz", &gz.finish().unwrap());
    assert!(
        err.contains("line 3") && err.contains("never closed"),
        "{err}"
    );
    // The same file with the quote closed, and a quote inside an unquoted
    // field (taken as it is, as DuckDB takes it), are fine.
    let path = ctx.write("closed.csv", "id,text\n1,ok\n2,\"closed\n3\"\n4,5\"\n");
    ctx.lake(&["ingest", path.to_str().unwrap()]).ok();
    assert_eq!(
        ctx.sql("select text from closed order by id"),
        "text\nok\n\"closed\n3\"\n\"5\"\"\"\n"
    );
    // Large enough to be scanned as two halves: the check holds there too.
    let ctx = TestContext::new();
    let mut big = String::from("id,text\n");
    for i in 0..800_000 {
        big.push_str(&format!("{i},row number {i}\n"));
    }
    big.push_str("800000,\"open to the end\n800001,x\n");
    let err = refused(&ctx, "big_open.csv", big.as_bytes());
    assert!(
        err.contains("line 800002") && err.contains("never closed"),
        "{err}"
    );
}

#[test]
fn very_wide_rows_and_huge_fields() {
    let ctx = TestContext::new();
    // 20,000 columns: one dataset, every column there.
    let columns = 20_000;
    let header: Vec<String> = (0..columns).map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..columns).map(|i| i.to_string()).collect();
    let text = format!(
        "{}\n{}\n{}\n",
        header.join(","),
        row.join(","),
        row.join(",")
    );
    let path = ctx.write("wide.csv", text);
    ctx.lake(&["ingest", path.to_str().unwrap()]).ok();
    assert_eq!(
        ctx.sql("select c0 + c19999 as s, count(*) as n from wide group by all"),
        "s,n\n19999,2\n"
    );
    // A field of 4 MB.
    let field = "x".repeat(4 << 20);
    let path = ctx.write("huge.csv", format!("id,blob\n1,{field}\n2,\"{field}\"\n"));
    ctx.lake(&["ingest", path.to_str().unwrap()]).ok();
    assert_eq!(
        ctx.sql("select sum(length(blob)) as n from huge"),
        format!("n\n{}\n", 2 * (4 << 20))
    );
}

#[test]
fn rejects_set_bad_rows_aside() {
    let ctx = TestContext::new();
    let path = ctx.write(
        "mixed.csv",
        b"id,name,n\n1,ok,10\n2,too,many,fields\n3,short\n4,caf\xe9,5\n5,nul\0,6\n6,fine,7\n7,typed,x\n",
    );
    let run = ctx.lake(&[
        "ingest",
        path.to_str().unwrap(),
        "--rejects",
        "--schema",
        "n:BIGINT",
        "--format",
        "json",
    ]);
    let report = crate::json(&run);
    assert_eq!(report["rows"], 2, "{report}");
    assert_eq!(report["rejects"], 5, "{report}");
    assert!(run.stderr.contains("mixed_rejects"), "{run:?}");
    assert_eq!(
        ctx.sql("select * from mixed order by id"),
        "id,name,n\n1,ok,10\n6,fine,7\n"
    );
    let rejects = ctx.sql("select line, reason from mixed_rejects order by line");
    let lines: Vec<&str> = rejects.lines().skip(1).collect();
    assert_eq!(lines.len(), 5, "{rejects}");
    for (line, (number, words)) in lines.iter().zip([
        (3, "expected 3 fields, found 4"),
        (4, "expected 3 fields, found 2"),
        (5, "UTF-8"),
        (6, "NUL"),
        (8, "is not a valid BIGINT"),
    ]) {
        assert!(
            line.starts_with(&format!("{number},")) && line.contains(words),
            "{line} vs {number} {words}"
        );
    }
    assert_eq!(
        ctx.sql("select text from mixed_rejects where line = 3"),
        "text\n\"2,too,many,fields\"\n"
    );
    // The types come from the rows kept: 'x' did not make n VARCHAR.
    assert_eq!(ctx.show("mixed")["schema"][2]["type"], "BIGINT");
    // A clean run empties the rejects of the last one.
    let path = ctx.write("mixed.csv", "id,name,n\n1,ok,10\n");
    let report = crate::json(&ctx.lake(&[
        "ingest",
        path.to_str().unwrap(),
        "--rejects",
        "--format",
        "json",
    ]));
    assert_eq!(report["rejects"], 0);
    assert_eq!(ctx.sql("select count(*) as n from mixed_rejects"), "n\n0\n");
    // Without --rejects the same file is refused, as before.
    let path = ctx.write("again.csv", "id,name\n1,x\n2,y,z\n");
    ctx.lake(&["ingest", path.to_str().unwrap()]).fails(1);
    // lake sniff counts them.
    let out = crate::json(&ctx.lake(&[
        "sniff",
        path.to_str().unwrap(),
        "--rejects",
        "--format",
        "json",
    ]));
    assert_eq!(out["rejects"], 1, "{out}");
    assert_eq!(out["rows"], 1, "{out}");
}

#[test]
fn the_line_named_is_the_files_own_after_crlf_blank_and_comment_lines() {
    let ctx = TestContext::new();
    // The csv parser counts a CRLF's LF, blank lines and comment lines only
    // once it reads the next row: lake names the row's own line.
    let err = refused(&ctx, "crlf.csv", b"a,b\r\n1,2\r\n3\r\n");
    assert!(err.contains("line 3: expected 2 fields, found 1"), "{err}");
    let err = refused(&ctx, "blank.csv", b"a,b\n1,2\n\n\n3,\xff\n");
    assert!(err.contains("line 5: column 2 (b): invalid UTF-8"), "{err}");
    let path = ctx.write("comment.csv", "a,b\n# one\n1,2\n# two\n3\n");
    let err = ctx
        .lake(&["ingest", path.to_str().unwrap(), "--comment", "#"])
        .fails(1)
        .to_owned();
    assert!(err.contains("line 5: expected 2 fields"), "{err}");
    // Far into a CRLF file, in a chunk of its own.
    let mut text = String::from("id,v\r\n");
    for i in 0..150_000 {
        text.push_str(&if i == 140_000 {
            "x\r\n".to_owned()
        } else {
            format!("{i},v\r\n")
        });
    }
    let err = refused(&ctx, "big.csv", text.as_bytes());
    assert!(err.contains("line 140002: expected 2 fields"), "{err}");
    // Rejects keep the file's own lines too.
    let path = ctx.write("set_aside.csv", "a,b\r\n1,2\r\n3\r\n\r\n4,5,6\r\n7,8\r\n");
    ctx.lake(&["ingest", path.to_str().unwrap(), "--rejects"])
        .ok();
    assert_eq!(
        ctx.sql("select line from set_aside_rejects order by line"),
        "line\n3\n5\n"
    );
}

#[test]
fn deep_nesting_is_stored_to_a_limit_and_refused_past_it_with_its_place() {
    let ctx = TestContext::new();
    let nested = |depth: usize| {
        format!(
            "{{\"id\": 1}}\n{{\"a\": {}1{}, \"b\": {}1{}}}\n",
            "[".repeat(depth),
            "]".repeat(depth),
            "{\"x\": ".repeat(depth),
            "}".repeat(depth)
        )
    };
    // 16 levels of STRUCT or LIST (DuckDB slows down twice with each level
    // of LIST from there); the rest is JSON text.
    let path = ctx.write("deep.jsonl", nested(60));
    ctx.lake(&["ingest", path.to_str().unwrap()]).ok();
    let depth = |t: &str| t.matches("STRUCT(").count() + t.matches("[]").count();
    let schema = ctx.schema("deep");
    assert_eq!((depth(&schema[1].1), depth(&schema[2].1)), (16, 16));
    assert_eq!(
        ctx.sql(&format!(
            "select a{} as a, b{} as b from deep where id is null",
            "[1]".repeat(16),
            ".x".repeat(16)
        )),
        format!(
            "a,b\n{},{}\n",
            crate::dialects::csv_field(&serde_json::Value::from(format!(
                "{}1{}",
                "[".repeat(44),
                "]".repeat(44)
            ))),
            crate::dialects::csv_field(&serde_json::Value::from(format!(
                "{}1{}",
                "{\"x\":".repeat(44),
                "}".repeat(44)
            )))
        )
    );
    let path = ctx.write("deeper.jsonl", nested(200));
    let err = ctx
        .lake(&["ingest", path.to_str().unwrap()])
        .fails(1)
        .to_owned();
    assert!(
        err.contains("deeper.jsonl: line 2: invalid JSON column ")
            && err.contains("recursion limit exceeded"),
        "{err}"
    );
    assert!(!ctx.lake(&["ls"]).ok().contains("deeper"));
}
