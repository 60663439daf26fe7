//! `lake put` and `lake get`: raw objects, streamed, with the key rules.

use std::io::Read;
use std::process::Stdio;

use crate::TestContext;

#[test]
fn put_and_get_round_trip() {
    let ctx = TestContext::new();
    let file = ctx.write("hello.txt", "hello, lake\n");
    ctx.lake(&["put", "docs/hello.txt", file.to_str().unwrap()])
        .ok();
    assert_eq!(ctx.lake(&["get", "docs/hello.txt"]).ok(), "hello, lake\n");
    ctx.lake_stdin(&["put", "docs/piped.txt", "-"], b"from a pipe")
        .ok();
    ctx.lake(&["get", "docs/piped.txt", "-o", "copy.txt"]).ok();
    assert_eq!(
        std::fs::read(ctx.work.path().join("copy.txt")).unwrap(),
        b"from a pipe"
    );
}

#[test]
fn large_objects_stream_both_ways() {
    let ctx = TestContext::new();
    // 64 MiB of non-repeating bytes.
    let mut data = Vec::with_capacity(64 << 20);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    while data.len() < 64 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    let path = ctx.write("big.bin", &data);
    ctx.lake(&["put", "blobs/big.bin", path.to_str().unwrap()])
        .ok();
    let mut child = ctx
        .command()
        .args(["get", "blobs/big.bin"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut got = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut got).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(got == data, "64 MiB object came back different");
}

#[test]
fn bad_keys_are_refused() {
    let ctx = TestContext::new();
    let file = ctx.write("x", "x");
    let long = "k".repeat(1025);
    for key in [
        "../escape",
        "a/../../b",
        "/abs",
        "a\tb",
        "a\nb",
        "a\rb",
        "",
        long.as_str(),
        "a//b",
    ] {
        let run = ctx.lake(&["put", key, file.to_str().unwrap()]);
        assert!(run.fails(2).contains("invalid key"), "{key:?}: {run:?}");
        ctx.lake(&["get", key]).fails(2);
    }
    assert!(!ctx.work.path().parent().unwrap().join("escape").exists());
}

#[test]
fn datasets_prefix_is_read_only() {
    let ctx = TestContext::new();
    let people = ctx.people();
    let report = crate::json(&ctx.lake(&["ingest", people.to_str().unwrap(), "--format", "json"]));
    let key = report["key"].as_str().unwrap();
    let file = ctx.write("x", "x");
    let run = ctx.lake(&["put", key, file.to_str().unwrap()]);
    assert!(run.fails(2).contains("belong to the catalog"), "{run:?}");
    let got = ctx.command().args(["get", key]).output().unwrap();
    assert!(got.status.success());
    assert!(got.stdout.starts_with(b"PAR1"));
}

#[test]
fn missing_key_is_exit_4() {
    let ctx = TestContext::new();
    let run = ctx.lake(&["get", "no/such/key"]);
    assert!(run.fails(4).contains("no/such/key"), "{run:?}");
    assert!(!ctx.work.path().join("out.bin").exists());
    ctx.lake(&["get", "no/such/key", "-o", "out.bin"]).fails(4);
    assert!(!ctx.work.path().join("out.bin").exists());
}
