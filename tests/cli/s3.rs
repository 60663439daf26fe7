//! The same lake on S3: a real S3 server (s3s-fs, which checks request
//! signatures) on a free loopback port, started for each test.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Run, TestContext, json};

pub const BUCKET: &str = "lake-test";
pub const ACCESS_KEY: &str = "lakeaccesskey";
pub const SECRET_KEY: &str = "lake-secret-Zq8vT3xK1pW9";

/// The s3s-fs binary: `LAKE_TEST_S3S_FS`, else on PATH, else where
/// `.ci/run` installs it.
fn s3s_fs() -> PathBuf {
    if let Some(p) = std::env::var_os("LAKE_TEST_S3S_FS") {
        return PathBuf::from(p);
    }
    let cached = dirs::home_dir()
        .unwrap_or_default()
        .join(".cache/lake/tools/bin/s3s-fs");
    if cached.exists() {
        return cached;
    }
    let on_path = std::env::var_os("PATH").map(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("s3s-fs"))
            .find(|p| p.exists())
    });
    on_path.flatten().unwrap_or_else(|| {
        panic!("s3s-fs not found: run .ci/run, or `cargo install s3s-fs@0.14.1 --features binary --locked`")
    })
}

/// A running S3 server with one bucket.
pub struct S3Server {
    child: Option<Child>,
    pub data: tempfile::TempDir,
    pub endpoint: String,
}

impl S3Server {
    pub fn start() -> S3Server {
        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir(data.path().join(BUCKET)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(s3s_fs())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "s3s-fs did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        S3Server {
            child: Some(child),
            data,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Where the server keeps an object of the bucket.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.data.path().join(BUCKET).join(key)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A context whose runs reach `server` with the right keys.
pub fn s3_context(server: &S3Server) -> TestContext {
    with_s3_env(TestContext::new(), server)
}

/// `ctx` with the server's address and keys in its environment.
pub fn with_s3_env(mut ctx: TestContext, server: &S3Server) -> TestContext {
    ctx.env.extend([
        ("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), SECRET_KEY.into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ENDPOINT_URL".into(), server.endpoint.clone()),
        ("AWS_ALLOW_HTTP".into(), "true".into()),
    ]);
    ctx
}

/// A context whose lake lives in `s3://lake-test/PREFIX` on a fresh server.
pub fn s3_lake(prefix: &str) -> (TestContext, S3Server) {
    let server = S3Server::start();
    let ctx = s3_context(&server);
    let url = format!("s3://{BUCKET}/{prefix}");
    let init = json(&ctx.lake(&["init", "--store", &url, "--format", "json"]));
    assert_eq!(init["store"], url);
    (ctx, server)
}

fn set_env(ctx: &mut TestContext, key: &str, value: &str) {
    ctx.env.retain(|(k, _)| k != key);
    ctx.env.push((key.into(), value.into()));
}

fn assert_no_secret(runs: &[&Run]) {
    for run in runs {
        assert!(
            !run.stdout.contains(SECRET_KEY) && !run.stderr.contains(SECRET_KEY),
            "the secret leaked: {run:#?}"
        );
    }
}

fn cache_files(ctx: &TestContext) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(ctx.home.path().join("cache"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn the_local_scenario_works_on_s3() {
    let (ctx, server) = s3_lake("team/lake");
    let people = ctx.people();
    let report = json(&ctx.lake(&["ingest", people.to_str().unwrap(), "--format", "json"]));
    assert_eq!(report["status"], "created");
    let key = report["key"].as_str().unwrap().to_owned();
    assert!(
        server.object_path(&format!("team/lake/{key}")).exists(),
        "object not in the bucket"
    );
    assert!(
        !ctx.home.path().join("store").exists(),
        "a local store was made"
    );

    let again = json(&ctx.lake(&["ingest", people.to_str().unwrap(), "--format", "json"]));
    assert_eq!(again["status"], "unchanged");
    assert_eq!(
        ctx.sql("select name from people order by id limit 2"),
        "name\nAlice\nBob\n"
    );

    let wider = ctx.write("wider.csv", "id,name,team\n7,Grace,red\n");
    let conflict = ctx.lake(&["ingest", wider.to_str().unwrap(), "--name", "people"]);
    assert!(conflict.fails(3).contains("team"), "{conflict:?}");
    let more = ctx.write(
        "more.csv",
        std::fs::read_to_string(&people)
            .unwrap()
            .replace("Alice", "Alicia"),
    );
    ctx.lake(&[
        "ingest",
        more.to_str().unwrap(),
        "--name",
        "people",
        "--append",
    ])
    .ok();
    assert_eq!(ctx.sql("select count(*) as n from people"), "n\n12\n");
    assert_eq!(ctx.show("people")["version"], 2);
    let ls = ctx.lake(&["ls", "--format", "csv"]);
    assert!(ls.ok().contains("people,12,7,"), "{ls:?}");

    ctx.lake_stdin(&["put", "notes/hello.txt"], b"hello from s3")
        .ok();
    assert_eq!(ctx.lake(&["get", "notes/hello.txt"]).ok(), "hello from s3");
    assert!(server.object_path("team/lake/notes/hello.txt").exists());
    ctx.lake(&["get", "notes/missing.txt"]).fails(4);
    ctx.lake(&["put", "../escape", people.to_str().unwrap()])
        .fails(2);
}

#[test]
fn a_hundred_mib_object_goes_up_in_parts_and_comes_back() {
    let (ctx, server) = s3_lake("big");
    let mut data = Vec::with_capacity(100 << 20);
    let mut x: u32 = 12345;
    while data.len() < 100 << 20 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        data.extend_from_slice(&x.to_le_bytes());
    }
    let path = ctx.write("big.bin", &data);
    let put = json(&ctx.lake(&[
        "put",
        "blobs/big.bin",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert_eq!(put["bytes"], 100 << 20);
    assert_eq!(
        std::fs::metadata(server.object_path("big/blobs/big.bin"))
            .unwrap()
            .len(),
        100 << 20
    );
    ctx.lake(&["get", "blobs/big.bin", "-o", "back.bin"]).ok();
    assert!(
        std::fs::read(ctx.work.path().join("back.bin")).unwrap() == data,
        "object changed on the way"
    );
}

#[test]
fn a_wrong_secret_is_one_clear_error_and_changes_nothing() {
    let (mut ctx, server) = s3_lake("p");
    set_env(&mut ctx, "AWS_SECRET_ACCESS_KEY", "wrong-secret-value");
    let people = ctx.people();
    let started = Instant::now();
    let run = ctx.lake(&["ingest", people.to_str().unwrap()]);
    let stderr = run.fails(1).to_owned();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "retried for {:?}",
        started.elapsed()
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("access denied"), "{stderr}");
    assert!(!stderr.contains("wrong-secret-value"), "{stderr}");
    assert_eq!(
        ctx.lake(&["ls", "--format", "csv"]).ok(),
        "name,rows,columns,bytes,version,updated\n"
    );
    assert!(!server.object_path("p/datasets").exists());
    let get = ctx.lake(&["get", "anything"]);
    assert!(get.fails(1).contains("access denied"), "{get:?}");
}

#[test]
fn the_server_does_not_invite_retries_of_a_refused_request() {
    let (mut ctx, _server) = s3_lake("denied");
    set_env(&mut ctx, "AWS_SECRET_ACCESS_KEY", "wrong-secret-value");
    let server = crate::serve::Server::start(&ctx, &[]);
    let answer = server.raw(b"GET /v1/storage/anything HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("retry-after"),
        "{answer}"
    );
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_eq!(crate::serve::error_code(body), "store_denied", "{answer}");
}

#[test]
fn a_bad_bucket_says_so() {
    // s3s-fs makes a missing bucket on first write, so AWS's NoSuchBucket is
    // covered by a unit test of the message; a name S3 refuses is tested here.
    let server = S3Server::start();
    let ctx = s3_context(&server);
    ctx.lake(&["init", "--store", "s3://b/x"]).ok();
    let people = ctx.people();
    let run = ctx.lake(&["ingest", people.to_str().unwrap()]);
    assert!(
        run.fails(1).contains("\"b\" is not a valid bucket name"),
        "{run:?}"
    );
    assert_eq!(ctx.lake(&["ls", "--format", "csv"]).ok().lines().count(), 1);
    assert_no_secret(&[&run]);
}

#[test]
fn no_credentials_is_a_clear_error_but_the_catalog_still_answers() {
    let (mut ctx, _server) = s3_lake("p");
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    ctx.env.retain(|(k, _)| k != "AWS_ACCESS_KEY_ID");
    assert!(
        ctx.lake(&["ls", "--format", "csv"])
            .ok()
            .contains("people,6,")
    );
    let run = ctx.lake(&["get", "anything"]);
    assert!(
        run.fails(1).contains("AWS_ACCESS_KEY_ID is not set"),
        "{run:?}"
    );
}

#[test]
fn a_stopped_server_fails_fast_but_cached_data_still_answers() {
    let (ctx, mut server) = s3_lake("p");
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    assert_eq!(ctx.sql("select count(*) as n from people"), "n\n6\n");
    server.stop();
    // Cached: no request is needed.
    assert_eq!(ctx.sql("select max(age) as a from people"), "a\n52\n");
    let started = Instant::now();
    let other = ctx.write("other.csv", "x\n1\n");
    let run = ctx.lake(&["ingest", other.to_str().unwrap()]);
    let stderr = run.fails(1).to_owned();
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "took {:?}",
        started.elapsed()
    );
    assert!(stderr.contains("cannot reach the S3 endpoint"), "{stderr}");
    assert!(
        ctx.lake(&["ls", "--format", "csv"]).ok().lines().count() == 2,
        "the failed ingest was recorded"
    );
    assert_no_secret(&[&run]);
}

#[test]
fn the_cache_is_reused_verified_and_bounded() {
    let (ctx, server) = s3_lake("c");
    let mut csv = String::from("id,text\n");
    for i in 0..20_000 {
        csv.push_str(&format!(
            "{i},row number {i} of a dataset big enough to matter\n"
        ));
    }
    let a = ctx.write("a.csv", &csv);
    let b = ctx.write("b.csv", csv.replace("row", "line"));
    let ra = json(&ctx.lake(&["ingest", a.to_str().unwrap(), "--format", "json"]));
    let rb = json(&ctx.lake(&["ingest", b.to_str().unwrap(), "--format", "json"]));
    let size = ra["bytes"].as_u64().unwrap();
    assert_eq!(cache_files(&ctx).len(), 2, "ingest fills the cache");

    // A corrupted copy is detected and fetched again.
    let cached = cache_files(&ctx)
        .into_iter()
        .find(|p| {
            ra["key"]
                .as_str()
                .unwrap()
                .contains(p.file_stem().unwrap().to_str().unwrap())
        })
        .unwrap();
    let mut bytes = std::fs::read(&cached).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&cached, &bytes).unwrap();
    assert_eq!(ctx.sql("select count(*) as n from a"), "n\n20000\n");
    assert_eq!(
        crate_hash(&cached),
        cached.file_stem().unwrap().to_str().unwrap()
    );

    // A bound of one object keeps only the last one used.
    let bound = (size + size / 2).to_string();
    let run = ctx.lake(&[
        "--cache-max",
        &bound,
        "sql",
        "--format",
        "csv",
        "select count(*) as n from b",
    ]);
    assert_eq!(run.ok(), "n\n20000\n");
    let left = cache_files(&ctx);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        rb["key"]
            .as_str()
            .unwrap()
            .contains(left[0].file_stem().unwrap().to_str().unwrap())
    );

    // Evicted data comes back from the bucket.
    assert!(
        server
            .object_path(&format!("c/{}", ra["key"].as_str().unwrap()))
            .exists()
    );
    assert_eq!(ctx.sql("select count(*) as n from a"), "n\n20000\n");
}

fn crate_hash(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn no_secret_appears_in_any_output() {
    let (mut ctx, server) = s3_lake("s");
    let people = ctx.people();
    let mut runs = vec![
        ctx.lake(&["ingest", people.to_str().unwrap()]),
        ctx.lake(&["show", "people", "--format", "json"]),
        ctx.lake(&["ls"]),
        ctx.lake(&["sql", "select * from people"]),
        ctx.lake(&["sql", "select * from nope"]),
        ctx.lake(&["get", "missing"]),
    ];
    set_env(
        &mut ctx,
        "AWS_SECRET_ACCESS_KEY",
        &format!("{SECRET_KEY}-wrong"),
    );
    runs.push(ctx.lake(&["put", "k", people.to_str().unwrap()]));
    runs.push(ctx.lake(&["get", "k"]));
    // The commands really reached the server: a secret not shown is worth
    // nothing if nothing was sent.
    let report: serde_json::Value = serde_json::from_str(runs[1].ok()).unwrap();
    let key = report["objects"][0]["key"].as_str().unwrap();
    assert!(server.object_path(&format!("s/{key}")).exists());
    assert!(runs[3].ok().contains("Alice"), "{:?}", runs[3]);
    assert_eq!(runs[5].code, 4, "{:?}", runs[5]);
    assert_eq!(runs[6].code, 1);
    assert!(runs[6].stderr.contains("access denied"), "{:?}", runs[6]);
    assert_no_secret(&runs.iter().collect::<Vec<_>>());
    // Not in the catalog: the SQLite file's bytes, or every text value of
    // lake's settings and DuckLake's metadata.
    let catalog = match ctx.postgres_catalog() {
        Some(_) => format!(
            "{:?}",
            ctx.catalog_rows(
                "SELECT key, value FROM settings UNION ALL SELECT key, value FROM ducklake_metadata"
            )
        ),
        None => {
            String::from_utf8_lossy(&std::fs::read(ctx.home.path().join("catalog.sqlite")).unwrap())
                .into_owned()
        }
    };
    assert!(
        !catalog.contains(SECRET_KEY),
        "the secret is in the catalog"
    );
}

#[test]
fn a_copy_in_use_by_another_process_is_never_evicted() {
    let (ctx, _server) = s3_lake("pins");
    let people = ctx.people();
    let report = json(&ctx.lake(&["ingest", people.to_str().unwrap(), "--format", "json"]));
    let other = ctx.write("other.csv", "id,x\n1,a\n2,b\n");
    ctx.lake(&["ingest", other.to_str().unwrap()]).ok();
    let hash = report["key"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let copy = ctx.home.path().join("cache").join(&hash);
    // The server's views read the cached copy of people...
    let server = crate::serve::Server::start(&ctx, &[]);
    let (status, body) = server.sql("select count(*) as n from people");
    assert_eq!(
        (status, &body["rows"]),
        (200, &serde_json::json!([[6]])),
        "{body}"
    );
    // ... while another process trims the cache to nothing but what it
    // needs itself.
    ctx.lake(&["--cache-max", "1", "sql", "select count(*) from other"])
        .ok();
    assert!(copy.exists(), "a copy the server uses was evicted");
    let (status, body) = server.sql("select max(id) as m from people");
    assert_eq!(
        (status, &body["rows"]),
        (200, &serde_json::json!([[6]])),
        "{body}"
    );
    // Once nobody uses it, the bound applies to it too.
    drop(server);
    ctx.lake(&["--cache-max", "1", "sql", "select count(*) from other"])
        .ok();
    assert!(!copy.exists(), "an unused copy outlived the bound");
}
