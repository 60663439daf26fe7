//! What `lake serve` tells its operators: Prometheus metrics at `/metrics`
//! (checked by Prometheus' own `promtool`) and one log line per request
//! (JSON lines parsed here), each request with an id.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::TestContext;
use crate::serve::Server;

/// `promtool`, from Debian's `prometheus` package (`.ci/run` installs it).
fn promtool() -> String {
    let path = std::env::var("LAKE_TEST_PROMTOOL").unwrap_or_else(|_| "promtool".to_owned());
    let found = Command::new(&path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "no promtool: install Debian's prometheus package (`bash .ci/run` does) or set LAKE_TEST_PROMTOOL"
    );
    path
}

/// Runs `promtool check metrics` on an exposition; its complaints, if any.
fn promtool_check(text: &str) -> Result<(), String> {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The samples of an exposition: `name{labels}` -> value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            (key.to_owned(), value.parse().unwrap())
        })
        .collect()
}

fn scrape(server: &Server) -> (String, BTreeMap<String, f64>) {
    let (status, text) = server.get("/metrics");
    assert_eq!(status, 200, "{text}");
    (text.clone(), samples(&text))
}

/// How much a sample grew between two scrapes (absent counts as 0).
fn grew(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, key: &str) -> f64 {
    after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0)
}

#[test]
fn metrics_pass_promtool_and_move_with_the_requests() {
    let ctx = TestContext::new();
    ctx.lake(&["ingest", ctx.people().to_str().unwrap(), "--name", "people"])
        .ok();
    let server = Server::start(&ctx, &["--token", "t0ken"]);
    // Behind the token like every route.
    let anonymous = server
        .agent
        .get(format!("{}/metrics", server.base))
        .call()
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    let (text, before) = scrape(&server);
    promtool_check(&text).unwrap();
    assert!(text.contains("# TYPE lake_http_request_duration_seconds histogram"));

    // A scripted run: three answers to one query (six rows each; the last
    // two from the cache), one bad query, one ingest, one object stored, one 404.
    for _ in 0..3 {
        let (status, answer) = server.sql("SELECT name FROM people ORDER BY id");
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(server.sql("SELECT * FROM nowhere").0, 400);
    let csv = "k,v\n1,a\n2,b\n";
    assert_eq!(
        server
            .post("/v1/ingest?name=kv", "text/csv", csv.as_bytes())
            .0,
        201
    );
    assert_eq!(server.put("/v1/storage/raw/a.bin", b"12345").0, 201);
    assert_eq!(server.get("/v1/nothing/here").0, 404);

    let (text, after) = scrape(&server);
    promtool_check(&text).unwrap();
    let expected: [(&str, f64); 13] = [
        (
            r#"lake_http_requests_total{route="/v1/sql",status="200"}"#,
            3.0,
        ),
        (
            r#"lake_http_requests_total{route="/v1/sql",status="400"}"#,
            1.0,
        ),
        (
            r#"lake_http_requests_total{route="other",status="404"}"#,
            1.0,
        ),
        (
            r#"lake_http_request_duration_seconds_count{route="/v1/sql"}"#,
            4.0,
        ),
        (r#"lake_queries_total{outcome="ok"}"#, 1.0),
        (r#"lake_queries_total{outcome="cached"}"#, 2.0),
        (r#"lake_queries_total{outcome="error"}"#, 1.0),
        ("lake_query_rows_returned_total", 18.0),
        (r#"lake_cache_hits_total{cache="answers"}"#, 2.0),
        (r#"lake_ingests_total{status="created"}"#, 1.0),
        ("lake_ingested_bytes_total", csv.len() as f64),
        // The ingest's Parquet object and the raw object.
        (r#"lake_store_operations_total{operation="put"}"#, 2.0),
        ("lake_catalog_snapshot_id", 1.0),
    ];
    for (key, growth) in expected {
        assert_eq!(grew(&before, &after, key), growth, "{key}");
    }
    assert!(
        grew(
            &before,
            &after,
            r#"lake_store_bytes_total{operation="put"}"#
        ) > 5.0
    );
    assert!(grew(&before, &after, "lake_http_response_bytes_total") > 0.0);
    // The scrape itself is the request in flight.
    assert_eq!(after["lake_http_requests_in_flight"], 1.0);
}

#[test]
fn metrics_can_be_public_or_off() {
    let ctx = TestContext::new();
    let public = Server::start(&ctx, &["--token", "t0ken", "--metrics-public"]);
    let open = public
        .agent
        .get(format!("{}/metrics", public.base))
        .call()
        .unwrap();
    assert_eq!(open.status().as_u16(), 200);
    // Only /metrics is open.
    let sql = public
        .agent
        .post(format!("{}/v1/sql", public.base))
        .send(br#"{"sql":"SELECT 1"}"#.as_slice())
        .unwrap();
    assert_eq!(sql.status().as_u16(), 401);
    drop(public);
    let off = Server::start(&ctx, &["--no-metrics"]);
    assert_eq!(off.get("/metrics").0, 404);
}

/// Waits for the server's log to hold a line `pick` accepts.
fn wait_for_line(server: &Server, pick: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = server
            .log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| pick(v));
        if let Some(line) = found {
            return line;
        }
        assert!(
            Instant::now() < deadline,
            "no such log line in {:#?}",
            server.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn json_logs_carry_request_ids_and_no_secret_or_sql_value() {
    let mut ctx = TestContext::new();
    ctx.lake(&["ingest", ctx.people().to_str().unwrap(), "--name", "people"])
        .ok();
    let token = "tok-SECRET-4417";
    let aws_secret = "aws-SECRET-9921";
    ctx.env.extend([
        ("LAKE_LOG_FORMAT".to_owned(), "json".to_owned()),
        ("LAKE_TOKEN".to_owned(), token.to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), aws_secret.to_owned()),
    ]);
    let mut server = Server::start(&ctx, &[]);
    server.set_token(token);

    // The client's id is used and echoed.
    let request = server
        .auth(server.agent.post(format!("{}/v1/sql", server.base)))
        .header("x-request-id", "client-id-77")
        .send(br#"{"sql":"SELECT name FROM people WHERE name = 'literal-VALUE-31'"}"#.as_slice())
        .unwrap();
    assert_eq!(request.status().as_u16(), 200);
    assert_eq!(request.headers()["x-request-id"], "client-id-77");
    // Without one, the server makes one up, and echoes it.
    let plain = server
        .auth(server.agent.get(format!("{}/v1/catalog/list", server.base)))
        .call()
        .unwrap();
    let made = plain.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 16, "{made}");
    // A streamed answer is logged once it ended, with its rows.
    let streamed = server
        .auth(
            server
                .agent
                .post(format!("{}/v1/sql?format=ndjson", server.base)),
        )
        .header("x-request-id", "stream-1")
        .send(br#"{"sql":"SELECT * FROM range(250)"}"#.as_slice())
        .unwrap();
    assert_eq!(streamed.status().as_u16(), 200);
    let _ = streamed.into_body().read_to_string().unwrap();

    let line = wait_for_line(&server, |v| v["request_id"] == "client-id-77");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["route"], "/v1/sql");
    assert_eq!(line["status"], 200);
    assert_eq!(line["rows"], 0, "no one is called literal-VALUE-31");
    assert!(line["bytes"].as_u64().unwrap() > 0);
    assert!(line["duration_us"].as_u64().is_some());
    let listed = wait_for_line(&server, |v| v["request_id"] == made.as_str());
    assert_eq!(listed["route"], "/v1/catalog/list");
    let streamed = wait_for_line(&server, |v| v["request_id"] == "stream-1");
    assert_eq!(streamed["rows"], 250);
    assert_eq!(streamed["complete"], true);

    let log = server.log.lock().unwrap().clone();
    for line in &log {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not a JSON line: {line}");
        for secret in [token, aws_secret, "literal-VALUE-31"] {
            assert!(!line.contains(secret), "{secret} logged: {line}");
        }
    }
}

#[test]
fn commands_log_at_the_level_asked_for_on_stderr_only() {
    let ctx = TestContext::new();
    // Quiet by default: a command's stderr holds no log line.
    let quiet = ctx.lake(&["ls"]);
    assert_eq!(quiet.stderr, "", "{quiet:#?}");
    let verbose = ctx.lake(&["--log-format", "json", "-v", "ls"]);
    let data = verbose.ok().to_owned();
    assert_eq!(data, ctx.lake(&["ls"]).ok());
    let finished: Vec<Value> = verbose
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .filter(|v: &Value| v["message"] == "command finished")
        .collect();
    assert_eq!(finished.len(), 1, "{}", verbose.stderr);
    assert_eq!(finished[0]["command"], "ls");
    // LAKE_LOG in RUST_LOG's syntax; a bad one is an error that says so.
    let bad = crate::Run::from(
        ctx.command()
            .env("LAKE_LOG", "lake=loud")
            .arg("ls")
            .output()
            .unwrap(),
    );
    assert!(bad.fails(1).contains("LAKE_LOG"), "{bad:#?}");
}

/// `lake serve` with JSON logs at debug (every query's SQL text), whose
/// standard error is read for its address and then by nobody: the pipe
/// fills, as under a stuck journald or a paused log driver.
fn unread_server(
    ctx: &TestContext,
) -> (
    std::process::Child,
    String,
    BufReader<std::process::ChildStderr>,
) {
    let mut child = ctx
        .command()
        .env("LAKE_LOG", "debug")
        .env("LAKE_LOG_FORMAT", "json")
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (base, first) = crate::serve::read_address(&mut stderr);
    for line in first {
        assert!(serde_json::from_str::<Value>(&line).is_ok(), "{line}");
    }
    (child, base, stderr)
}

/// Sends queries whose SQL text is 4 KB (each logged at debug) from four
/// clients, far more than a pipe and lake's log buffer hold; each must be
/// answered within 10 s.
fn flood(base: &str, per_client: usize) {
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let base = base.to_owned();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(10)))
                    .build()
                    .into();
                let padding = "x".repeat(4000);
                for i in 0..per_client {
                    let sql = format!("SELECT {c} AS c, {i} AS i -- {padding}");
                    let body = serde_json::json!({ "sql": sql }).to_string();
                    let resp = agent
                        .post(format!("{base}/v1/sql"))
                        .header("Content-Type", "application/json")
                        .send(body.as_bytes())
                        .unwrap_or_else(|e| panic!("request {i} of client {c}: {e}"));
                    assert_eq!(resp.status().as_u16(), 200);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

/// Waits at most `limit` for the child to exit; its status.
fn exits_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running {limit:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigterm(child: &std::process::Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn a_log_reader_that_stalls_neither_blocks_requests_nor_stop() {
    let ctx = TestContext::new();
    let (mut child, base, mut stderr) = unread_server(&ctx);
    flood(&base, 600);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let text = agent
        .get(format!("{base}/metrics"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    let dropped = samples(&text)["lake_log_lines_dropped_total"];
    assert!(dropped > 0.0, "no line dropped: {text}");
    // SIGTERM stops it though standard error still takes nothing.
    sigterm(&child);
    let status = exits_within(&mut child, Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
    // What reached the pipe is whole JSON lines (but the last, cut when
    // the process ended in the middle of a write).
    let mut rest = Vec::new();
    stderr.read_to_end(&mut rest).unwrap();
    let rest = String::from_utf8_lossy(&rest);
    let mut lines: Vec<&str> = rest.split_inclusive('\n').collect();
    if lines.last().is_some_and(|l| !l.ends_with('\n')) {
        lines.pop();
    }
    assert!(lines.len() > 10, "{rest}");
    for line in lines {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not a JSON line: {line}"
        );
    }
}

#[test]
fn a_log_reader_that_comes_back_is_told_how_many_lines_were_dropped() {
    let ctx = TestContext::new();
    let (mut child, base, stderr) = unread_server(&ctx);
    flood(&base, 600);
    // The reader comes back.
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let kept = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            kept.lock().unwrap().push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let said = loop {
        let found = lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["level"] == "WARN" && v["dropped"].as_u64().is_some_and(|n| n > 0));
        if let Some(v) = found {
            break v;
        }
        assert!(Instant::now() < deadline, "no line says lines were dropped");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        said["message"].as_str().unwrap().contains("dropped"),
        "{said}"
    );
    sigterm(&child);
    assert!(exits_within(&mut child, Duration::from_secs(15)).success());
    reader.join().unwrap();
    for line in lines.lock().unwrap().iter() {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not a JSON line: {line}"
        );
    }
}
