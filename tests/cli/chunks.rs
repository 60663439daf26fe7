//! Files of several chunks (a chunk is about 1 MiB of text), which lake
//! parses on many threads: rows and errors are those of one reader, and
//! every way of reading the file gives the same object.

use crate::{TestContext, json};

/// `text` gzipped.
pub fn gzip(text: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, text).unwrap();
    gz.finish().unwrap()
}

fn ingest(ctx: &TestContext, path: &std::path::Path) -> serde_json::Value {
    json(&ctx.lake(&[
        "ingest",
        path.to_str().unwrap(),
        "--name",
        "t",
        "--format",
        "json",
    ]))
}

/// A note of 0 to 40 characters with the delimiter, doubled quotes and line
/// breaks, so that many chunk ends fall inside quotes.
fn note(i: usize) -> String {
    let words = ["a,b", "say \"hi\"", "line\nbreak", "x", "\r\n", "tail,"];
    (0..i % 7).map(|k| words[(i + k) % words.len()]).collect()
}

#[test]
fn quoted_line_breaks_across_chunks_read_as_one_reader_reads_them() {
    let ctx = TestContext::new();
    let rows = 100_000;
    let mut text = String::from("id,note,amount\r\n");
    let (mut ids, mut note_chars) = (0u64, 0u64);
    for i in 0..rows {
        let note = note(i);
        ids += i as u64;
        note_chars += note.chars().count() as u64;
        text.push_str(&format!(
            "{i},\"{}\",{}.5\r\n",
            note.replace('"', "\"\""),
            i % 100
        ));
    }
    assert!(text.len() > 2 << 20, "{} bytes: one chunk", text.len());
    let plain = ctx.write("t.csv", &text);
    let first = ingest(&ctx, &plain);
    assert_eq!(first["rows"], rows, "{first}");
    assert_eq!(
        ctx.sql("select count(*) as n, sum(id) as ids, sum(length(note)) as chars from t"),
        format!("n,ids,chars\n{rows},{ids},{note_chars}\n")
    );
    // Compressed, and piped: the same chunks, the same object.
    let gz = ctx.write("t.csv.gz", gzip(text.as_bytes()));
    let again = ingest(&ctx, &gz);
    assert_eq!(again["status"], "unchanged", "{again}");
    let piped = json(&ctx.lake_stdin(
        &["ingest", "-", "--name", "t", "--format", "json"],
        text.as_bytes(),
    ));
    assert_eq!(piped["key"], first["key"], "{piped}");
}

#[test]
fn the_first_bad_row_in_the_file_is_the_one_named() {
    let ctx = TestContext::new();
    let mut text = String::from("id,name,score\n");
    for i in 0..200_000 {
        // Two bad rows, far apart: chunks after the first may finish
        // first, but the error is the first one's.
        match i {
            120_000 => text.push_str("120000,short\n"),
            180_000 => text.push_str("180000,too,many,fields\n"),
            _ => text.push_str(&format!("{i},name {i},{}\n", i % 10)),
        }
    }
    let path = ctx.write("bad.csv", &text);
    let err = ctx
        .lake(&["ingest", path.to_str().unwrap(), "--name", "bad"])
        .fails(1)
        .to_owned();
    assert!(
        err.contains("line 120002: expected 3 fields, found 2"),
        "{err}"
    );
    // Nothing recorded.
    assert!(ctx.dataset_files().is_empty());
}

#[test]
fn json_lines_across_chunks_read_as_one_reader_reads_them() {
    let ctx = TestContext::new();
    let rows = 40_000;
    let mut text = String::new();
    let mut ids = 0u64;
    for i in 0..rows {
        ids += i as u64;
        // Keys in varying order, a key now and then missing.
        let line = if i % 3 == 0 {
            format!(r#"{{"note": {:?}, "id": {i}}}"#, note(i))
        } else {
            format!(
                r#"{{"id": {i}, "day": "2024-01-{:02}", "note": {:?}}}"#,
                1 + i % 28,
                note(i)
            )
        };
        text.push_str(&line);
        text.push('\n');
    }
    assert!(text.len() > 2 << 20, "{} bytes: one chunk", text.len());
    let plain = ctx.write("t.jsonl", &text);
    let first = ingest(&ctx, &plain);
    assert_eq!(first["rows"], rows, "{first}");
    assert_eq!(
        ctx.schema("t"),
        [("note", "VARCHAR"), ("id", "BIGINT"), ("day", "DATE")]
            .map(|(n, t)| (n.to_owned(), t.to_owned()))
    );
    assert_eq!(
        ctx.sql("select count(*) as n, sum(id) as ids, count(day) as days from t"),
        format!("n,ids,days\n{rows},{ids},{}\n", rows - rows.div_ceil(3))
    );
    let gz = ctx.write("t.jsonl.gz", gzip(text.as_bytes()));
    let again = ingest(&ctx, &gz);
    assert_eq!(again["status"], "unchanged", "{again}");
    // A bad line far into the file is named by its line.
    let mut bad = text.clone();
    bad.push_str("{\"id\": 1,}\n");
    let path = ctx.write("bad.jsonl", &bad);
    let err = ctx
        .lake(&["ingest", path.to_str().unwrap(), "--name", "bad"])
        .fails(1)
        .to_owned();
    assert!(
        err.contains(&format!("line {}: invalid JSON", rows + 1)),
        "{err}"
    );
}

#[test]
fn json_arrays_across_chunks_read_as_one_reader_reads_them() {
    let ctx = TestContext::new();
    let rows: u64 = 70_000;
    let (mut items, mut ids, mut chars, mut elements) = (Vec::new(), 0, 0, 0);
    for i in 0..rows {
        ids += i;
        // Strings holding the array's own punctuation; a key first met
        // after the head (so both passes run), and one inside an object.
        let s = format!("a,]}}[{{\"b\" {}", "x".repeat(i as usize % 7));
        chars += s.chars().count() as u64;
        elements += i % 4;
        let l = vec![i % 3; i as usize % 4];
        let mut item = serde_json::json!({"id": i, "s": s, "n": {"k": i, "l": l}});
        if i == rows - 1 {
            item["late"] = serde_json::json!(true);
        }
        if i == rows - 2 {
            item["n"]["extra"] = serde_json::json!("]},");
        }
        items.push(item.to_string());
    }
    let text = format!("[\n  {}\n]\n", items.join(",\n  "));
    assert!(text.len() > 2 << 20, "{} bytes: one chunk", text.len());
    let path = ctx.write("t.json", &text);
    let first = ingest(&ctx, &path);
    assert_eq!(first["rows"], rows, "{first}");
    assert_eq!(
        ctx.sql("select count(*) as n, sum(id) as ids, sum(length(s)) as chars, count(late) as late from t"),
        format!("n,ids,chars,late\n{rows},{ids},{chars},1\n")
    );
    let schema = ctx.schema("t");
    let n = schema.iter().find(|(name, _)| name == "n").unwrap();
    assert_eq!(n.1, r#"STRUCT("k" BIGINT, "l" BIGINT[], "extra" VARCHAR)"#);
    assert_eq!(
        ctx.sql("select sum(n.k) as k, sum(len(n.l)) as l, max(n.extra) as extra from t"),
        format!("k,l,extra\n{ids},{elements},\"]}},\"\n")
    );
    let gz = ctx.write("t.json.gz", gzip(text.as_bytes()));
    let again = ingest(&ctx, &gz);
    assert_eq!(again["status"], "unchanged", "{again}");
    // The same objects as JSON Lines, and each spread over two lines (read
    // on one thread): chunks hold as many objects in every form, so the
    // object is the same.
    let lines = ctx.write("t.jsonl", items.join("\n") + "\n");
    let again = ingest(&ctx, &lines);
    assert_eq!(again["status"], "unchanged", "{again}");
    let spread: Vec<String> = items.iter().map(|i| i.replacen(',', ",\n", 1)).collect();
    let spread = ctx.write("spread.json", spread.join("\n"));
    let again = ingest(&ctx, &spread);
    assert_eq!(again["status"], "unchanged", "{again}");
    // A trailing comma at the end, named with its line.
    let path = ctx.write("bad.json", text.replacen("\n]", ",\n]", 1));
    let err = ctx
        .lake(&["ingest", path.to_str().unwrap(), "--name", "bad"])
        .fails(1)
        .to_owned();
    assert!(
        err.contains(&format!(
            "line {}: invalid JSON: an element is missing before the closing ]",
            rows + 2
        )),
        "{err}"
    );
}
