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
