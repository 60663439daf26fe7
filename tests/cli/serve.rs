//! `lake serve` over real HTTP on a free loopback port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::TestContext;

/// The server's address from its line on standard error `listening on
/// http://...` (or that line as a JSON log line), and the lines read up to
/// it (log lines at debug may come first).
pub(crate) fn read_address(stderr: &mut impl BufRead) -> (String, Vec<String>) {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("no address in {lines:?}");
        }
        let line = line.trim().to_owned();
        let message = if line.starts_with('{') {
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            v["message"].as_str().unwrap_or_default().to_owned()
        } else {
            line.clone()
        };
        lines.push(line);
        if let Some(base) = message.strip_prefix("listening on ") {
            return (base.to_owned(), lines);
        }
    }
}

/// A running `lake serve` on the context's home.
pub(crate) struct Server {
    pub child: Child,
    pub base: String,
    pub agent: ureq::Agent,
    token: Option<String>,
    /// What the server wrote on standard error after its address line.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    pub(crate) fn start(ctx: &TestContext, extra: &[&str]) -> Server {
        let mut child = ctx
            .command()
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let (base, first) = read_address(&mut stderr);
        // The rest of what the server says (a panic, say) goes to the
        // test's own standard error, and is kept for tests of the logs.
        let log = std::sync::Arc::new(std::sync::Mutex::new(first));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                eprintln!("lake serve: {line}");
                kept.lock().unwrap().push(line);
            }
        });
        let token = extra
            .iter()
            .position(|a| *a == "--token")
            .map(|i| extra[i + 1].to_owned());
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Server {
            child,
            base,
            agent,
            token,
            log,
        }
    }

    /// Sends this token from now on (a server that took it from LAKE_TOKEN).
    pub(crate) fn set_token(&mut self, token: &str) {
        self.token = Some(token.to_owned());
    }

    /// Sends SIGTERM.
    pub(crate) fn terminate(&self) {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    pub(crate) fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    pub(crate) fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => req.header("Authorization", &format!("Bearer {t}")),
            None => req,
        }
    }

    pub(crate) fn answer(
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> (u16, String) {
        let mut resp = resp.expect("request failed");
        (
            resp.status().as_u16(),
            resp.body_mut().read_to_string().unwrap(),
        )
    }

    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        Self::answer(
            self.auth(self.agent.get(format!("{}{path}", self.base)))
                .call(),
        )
    }

    pub(crate) fn delete(&self, path: &str) -> (u16, String) {
        Self::answer(
            self.auth(self.agent.delete(format!("{}{path}", self.base)))
                .call(),
        )
    }

    pub(crate) fn put(&self, path: &str, body: &[u8]) -> (u16, String) {
        Self::answer(
            self.auth(self.agent.put(format!("{}{path}", self.base)))
                .send(body),
        )
    }

    pub(crate) fn post(&self, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
        let req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", content_type);
        Self::answer(self.auth(req).send(body))
    }

    pub(crate) fn sql(&self, sql: &str) -> (u16, Value) {
        let (status, body) = self.post(
            "/v1/sql",
            "application/json",
            json!({ "sql": sql }).to_string().as_bytes(),
        );
        (
            status,
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}")),
        )
    }

    /// Sends raw bytes and returns the status line and headers.
    pub(crate) fn raw(&self, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(self.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request).unwrap();
        // The head, then as much body as it announces (or what comes).
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head.lines().find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                });
                if length.is_none_or(|n| body.len() >= n) {
                    break;
                }
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn error_code(body: &str) -> String {
    let v: Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not a JSON error: {body}"));
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {body}"))
        .to_owned()
}

fn multipart(file_name: &str, contents: &str) -> (String, Vec<u8>) {
    let boundary = "lakeboundary42";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n{contents}\r\n--{boundary}--\r\n"
    );
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

#[test]
fn the_go_systems_round_trip_through_one_port() {
    let ctx = TestContext::new();
    let server = Server::start(&ctx, &[]);
    assert_eq!(server.get("/healthz").0, 200);

    assert_eq!(server.put("/v1/storage/docs/a.txt", b"hello").0, 201);
    assert_eq!(
        server.get("/v1/storage/docs/a.txt"),
        (200, "hello".to_owned())
    );
    let (status, list) = server.get("/v1/storage?prefix=docs/");
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["objects"], json!([{"key": "docs/a.txt", "size": 5}]));
    assert_eq!(server.delete("/v1/storage/docs/a.txt").0, 204);
    assert_eq!(server.get("/v1/storage/docs/a.txt").0, 404);

    let people = std::fs::read_to_string(ctx.people()).unwrap();
    let (ct, body) = multipart("people.csv", &people);
    let (status, report) = server.post("/v1/ingest", &ct, &body);
    assert_eq!(status, 201, "{report}");
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(
        (report["name"].as_str(), report["status"].as_str()),
        (Some("people"), Some("created"))
    );
    let (status, again) = server.post("/v1/ingest?name=people", "text/csv", people.as_bytes());
    assert_eq!(status, 200);
    assert!(again.contains("\"unchanged\""), "{again}");

    let (status, list) = server.get("/v1/catalog/list");
    assert_eq!(status, 200);
    assert!(list.contains("\"people\""), "{list}");
    let (status, one) = server.get("/v1/catalog/people");
    assert_eq!(status, 200);
    let one: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["dataset_id"], "54eb9062-488a-5c80-9ade-2bd63f8dc68c");

    let (status, result) = server.sql("select name from people order by id");
    assert_eq!(status, 200);
    assert_eq!(
        result,
        json!({
            "columns": [{"name": "name", "type": "VARCHAR"}],
            "rows": [["Alice"], ["Bob"], ["Carol"], ["Dave"], ["Eve"], ["Frank"]],
            "row_count": 6,
            "truncated": false
        })
    );
}

#[test]
fn every_failure_has_its_status_and_a_json_body() {
    let ctx = TestContext::new();
    let server = Server::start(&ctx, &["--max-body", "1000"]);
    let people = std::fs::read_to_string(ctx.people()).unwrap();
    server.post("/v1/ingest?name=people", "text/csv", people.as_bytes());

    let (status, body) = server.post("/v1/sql", "application/json", b"{not json");
    assert_eq!((status, error_code(&body).as_str()), (400, "bad_request"));
    let (status, body) = server.sql("select nope from people");
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("nope"),
        "{body}"
    );
    let (status, body) = server.put("/v1/storage/datasets/x", b"x");
    assert_eq!((status, error_code(&body).as_str()), (400, "bad_request"));
    let (status, body) = server.put("/v1/storage/a/../b", b"x");
    assert_eq!(status, 400, "{body}");
    for path in ["/v1/catalog/ghost", "/v1/storage/ghost", "/v2/anything"] {
        let (status, body) = server.get(path);
        assert_eq!(
            (status, error_code(&body).as_str()),
            (404, "not_found"),
            "{path}"
        );
    }
    // Errors the routes never see are JSON too.
    let (status, body) = server.get("/v1/storage?limit=abc");
    assert_eq!(
        (status, error_code(&body).as_str()),
        (400, "bad_request"),
        "{body}"
    );
    assert!(body.contains("limit"), "{body}");
    let (status, body) = server.post("/v1/storage/x", "text/plain", b"x");
    assert_eq!(
        (status, error_code(&body).as_str()),
        (405, "method_not_allowed"),
        "{body}"
    );
    let answer = server.raw(b"POST /v1/storage/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("allow: get,head,put,delete"),
        "{answer}"
    );
    let (status, body) = server.post("/v1/ingest?name=people", "text/csv", b"id,team\n1,red\n");
    assert_eq!(
        (status, error_code(&body).as_str()),
        (409, "schema_conflict")
    );
    assert!(body.contains("team"), "{body}");
    let (status, body) = server.post("/v1/ingest?name=bad", "text/csv", b"a,b\n1,2,3\n");
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.post("/v1/ingest", "text/csv", b"a\n1\n");
    assert_eq!(status, 400, "{body}");

    // 413 from Content-Length, before any of the body is sent.
    let answer =
        server.raw(b"PUT /v1/storage/big HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_eq!(error_code(body), "too_large", "{answer}");
    // And without Content-Length, while reading.
    let chunked = format!(
        "PUT /v1/storage/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n{}\r\n0\r\n\r\n",
        "x".repeat(2000)
    );
    let answer = server.raw(chunked.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_eq!(error_code(body), "too_large", "{answer}");
    assert_eq!(
        server.get("/v1/storage/big").0,
        404,
        "a refused body was stored"
    );
}

#[test]
fn a_full_server_answers_503_with_retry_after() {
    let ctx = TestContext::new();
    let server = Server::start(&ctx, &["--max-concurrency", "1"]);
    // Hold the only slot with an upload that never finishes its body, then
    // ask for something else. If the probe won the race for the slot, the
    // upload was the one turned away: start over with a new one.
    let (slow, answer) = poll(|| {
        let mut slow = TcpStream::connect(server.addr()).unwrap();
        slow.write_all(
            b"PUT /v1/storage/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let answer = server.raw(b"GET /v1/catalog/list HTTP/1.1\r\nHost: x\r\n\r\n");
        answer.starts_with("HTTP/1.1 503").then_some((slow, answer))
    });
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    drop(slow);
    poll(|| (server.get("/v1/catalog/list").0 == 200).then_some(()));
}

/// Calls `f` until it gives a value, for at most 10 seconds.
pub(crate) fn poll<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached in 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_token_guards_every_route_but_health() {
    let ctx = TestContext::new();
    let server = Server::start(&ctx, &["--token", "s3cret-token"]);
    assert_eq!(server.get("/v1/catalog/list").0, 200);
    let bare = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build();
    let bare: ureq::Agent = bare.into();
    let url = format!("{}/v1/catalog/list", server.base);
    let (status, body) = Server::answer(bare.get(&url).call());
    assert_eq!((status, error_code(&body).as_str()), (401, "unauthorized"));
    let (status, _) = Server::answer(
        bare.get(&url)
            .header("Authorization", "Bearer wrong-token!")
            .call(),
    );
    assert_eq!(status, 401);
    assert_eq!(
        Server::answer(bare.get(format!("{}/healthz", server.base)).call()).0,
        200
    );
    // Every route, with every method it takes, and routes that do not
    // exist: 401 first, whatever the request, and nothing done.
    let people = std::fs::read(ctx.people()).unwrap();
    server.put("/v1/storage/kept", b"kept");
    let routes: [(&str, &str); 11] = [
        ("GET", "/v1/storage"),
        ("GET", "/v1/storage/kept"),
        ("PUT", "/v1/storage/new"),
        ("DELETE", "/v1/storage/kept"),
        ("GET", "/v1/catalog/list"),
        ("GET", "/v1/catalog/people"),
        ("GET", "/v1/catalog/people/log"),
        ("POST", "/v1/ingest?name=people"),
        ("POST", "/v1/sql"),
        ("GET", "/v1/nothing-here"),
        ("POST", "/v1/storage/kept"),
    ];
    for (method, path) in routes {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", server.base))
            .body(people.clone())
            .unwrap();
        let (status, body) = Server::answer(bare.run(request));
        assert_eq!(
            (status, error_code(&body).as_str()),
            (401, "unauthorized"),
            "{method} {path}: {body}"
        );
    }
    assert_eq!(server.get("/v1/storage/kept"), (200, "kept".to_owned()));
    assert_eq!(server.get("/v1/storage/new").0, 404);
    assert_eq!(server.get("/v1/catalog/people").0, 404);
    // Off loopback, a token is required.
    let run = ctx.lake(&["serve", "--addr", "0.0.0.0:0"]);
    assert!(run.fails(1).contains("without --token"), "{run:?}");
}

#[test]
fn sql_is_read_only_and_sandboxed() {
    let ctx = TestContext::new();
    let server = Server::start(&ctx, &["--max-rows", "3", "--query-timeout", "1"]);
    let people = std::fs::read_to_string(ctx.people()).unwrap();
    server.post("/v1/ingest?name=people", "text/csv", people.as_bytes());
    let target = ctx.work.path().join("stolen.csv");
    let hostile = [
        "select * from read_csv('/etc/passwd')".to_owned(),
        "select * from read_text('/etc/hostname')".to_owned(),
        format!("copy people to '{}'", target.display()),
        format!(
            "copy (select * from people) to '{}/store/out.csv'",
            ctx.home.path().display()
        ),
        "attach '/tmp/lake-attack.db' as a".to_owned(),
        "install httpfs".to_owned(),
        "load httpfs".to_owned(),
        "set enable_external_access = true".to_owned(),
        "create table t as select 1".to_owned(),
        "drop view people".to_owned(),
        "select 1; copy people to '/tmp/lake-attack.csv'".to_owned(),
        "pragma version".to_owned(),
        "select * from glob('/etc/*')".to_owned(),
        format!(
            "select * from read_blob('{}/catalog.sqlite')",
            ctx.home.path().display()
        ),
    ];
    for sql in &hostile {
        let (status, body) = server.sql(sql);
        assert_eq!(status, 400, "{sql} was not refused: {body}");
    }
    assert!(!target.exists() && !ctx.home.path().join("store/out.csv").exists());
    assert!(!std::path::Path::new("/tmp/lake-attack.db").exists());
    // The lake's own data still answers, within the row limit.
    let (status, body) = server.sql("select id from people order by id");
    assert_eq!(status, 200);
    assert_eq!(
        (body["row_count"].as_u64(), body["truncated"].as_bool()),
        (Some(3), Some(true))
    );
    // A query past the time limit is stopped.
    let (status, body) =
        server.sql("select sum(a.range * b.range) from range(200000) a, range(200000) b");
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stopped"),
        "{body}"
    );
}

#[test]
fn cli_and_server_see_each_others_writes() {
    let ctx = TestContext::new();
    let server = Server::start(&ctx, &[]);
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    let (_, result) = server.sql("select count(*) as n from people");
    assert_eq!(result["rows"], json!([[6]]));
    server.post("/v1/ingest?name=teams", "text/csv", b"team\nred\nblue\n");
    assert_eq!(ctx.sql("select count(*) as n from teams"), "n\n2\n");
    server.put("/v1/storage/x/y", b"from http");
    assert_eq!(ctx.lake(&["get", "x/y"]).ok(), "from http");
}

#[test]
fn time_travel_and_history_over_http() {
    let ctx = TestContext::new();
    let server = Server::start(&ctx, &[]);
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    let one = ctx.write(
        "one.csv",
        "id,name,email,age,joined,score,active\n9,Ivy,i@x,1,2024-01-01,1.5,true\n",
    );
    ctx.lake(&["ingest", one.to_str().unwrap(), "--name", "people"])
        .ok();
    let query = |body: Value| {
        let (status, text) =
            server.post("/v1/sql", "application/json", body.to_string().as_bytes());
        (status, serde_json::from_str::<Value>(&text).unwrap())
    };
    let (status, now) = query(json!({"sql": "select count(*) as n from people"}));
    assert_eq!((status, &now["rows"]), (200, &json!([[1]])));
    let (_, then) = query(json!({"sql": "select count(*) as n from people", "at": 1}));
    assert_eq!(then["rows"], json!([[6]]));
    let (status, err) = query(json!({"sql": "select 1", "at": 99}));
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, err) = query(json!({"sql": "select 1", "at": [1]}));
    assert_eq!(status, 400, "{err}");
    let (status, body) = server.get("/v1/catalog/people/log");
    assert_eq!(status, 200);
    let log: Value = serde_json::from_str(&body).unwrap();
    let snaps: Vec<i64> = log["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["snapshot"].as_i64().unwrap())
        .collect();
    assert_eq!(snaps, [2, 1]);
    assert_eq!(log["snapshots"][0]["rows"], 1);
    assert_eq!(server.get("/v1/catalog/nobody/log").0, 404);
    // Evolving over HTTP: an added column is accepted only when asked.
    let wider = b"id,name,email,age,joined,score,active,tier\n10,Jo,j@x,2,2024-01-01,2.5,true,4\n";
    let (status, _) = server.post("/v1/ingest?name=people&mode=append", "text/csv", wider);
    assert_eq!(status, 409);
    let (status, body) = server.post(
        "/v1/ingest?name=people&mode=append&evolve=true",
        "text/csv",
        wider,
    );
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["evolved"]["added"][0]["name"], "tier");
}

#[test]
fn sigterm_stops_it_cleanly() {
    let ctx = TestContext::new();
    let mut server = Server::start(&ctx, &[]);
    assert_eq!(server.get("/healthz").0, 200);
    server.terminate();
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn ingest_through_the_server_into_s3() {
    let s3 = crate::s3::S3Server::start();
    let ctx = crate::s3::s3_context(&s3);
    ctx.lake(&["init", "--store", "s3://lake-test/served"]).ok();
    let server = Server::start(&ctx, &[]);
    let (status, report) = server.post(
        "/v1/ingest?name=people",
        "text/csv",
        std::fs::read(ctx.people()).unwrap().as_slice(),
    );
    assert_eq!(status, 201, "{report}");
    let report: Value = serde_json::from_str(&report).unwrap();
    assert!(
        s3.object_path(&format!("served/{}", report["key"].as_str().unwrap()))
            .exists()
    );
    let (_, result) = server.sql("select max(age) as a from people");
    assert_eq!(result["rows"], json!([[52]]));
}
