//! `lake serve` under the conditions of load: kept answers that are never
//! stale, bodies and answers bounded whatever the client does, and work
//! that stops when its client goes away.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use crate::TestContext;
use crate::serve::{Server, error_code, poll};

/// Sends `sql` with optional request headers; returns status, ETag, body.
fn sql_with(server: &Server, sql: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let (status, answer_headers, body) = request_sql(server, "", headers, sql);
    let etag = answer_headers
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        etag.unwrap_or_default(),
        String::from_utf8(body).unwrap(),
    )
}

/// POSTs `sql` to `/v1/sql{query}` with `headers`; returns status, answer
/// headers and body.
fn request_sql(
    server: &Server,
    query: &str,
    headers: &[(&str, &str)],
    sql: &str,
) -> (u16, ureq::http::HeaderMap, Vec<u8>) {
    let mut req = server
        .agent
        .post(format!("{}/v1/sql{query}", server.base))
        .header("Content-Type", "application/json");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let mut resp = req
        .send(json!({ "sql": sql }).to_string().as_bytes())
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_vec().unwrap();
    (status, resp.headers().clone(), body)
}

#[test]
fn kept_answers_follow_every_commit_and_honour_etags() {
    let ctx = TestContext::new();
    let server = Server::start(&ctx, &[]);
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    let count = "select count(*) as n from people";
    let (status, etag, body) = sql_with(&server, count, &[]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("[[6]]"), "{body}");
    assert!(etag.starts_with('"'), "no ETag: {etag:?}");
    // Asked again with the tag: nothing to send.
    let (status, again, body) = sql_with(&server, count, &[("If-None-Match", &etag)]);
    assert_eq!(
        (status, again.as_str(), body.as_str()),
        (304, etag.as_str(), "")
    );
    // Another process commits: the very next answer has the new rows, and
    // the old tag no longer matches.
    for extra in 1..=3 {
        let one = ctx.write(
            "one.csv",
            format!(
                "id,name,email,age,joined,score,active\n{},Ivy,i@x,1,2024-01-01,1.5,true\n",
                100 + extra
            ),
        );
        ctx.lake(&[
            "ingest",
            one.to_str().unwrap(),
            "--name",
            "people",
            "--append",
        ])
        .ok();
        let (status, new_tag, body) = sql_with(&server, count, &[("If-None-Match", &etag)]);
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains(&format!("[[{}]]", 6 + extra)),
            "stale: {body}"
        );
        assert_ne!(new_tag, etag);
    }
    // A removed dataset is gone from kept views too.
    ctx.lake(&["rm", "people"]).ok();
    let (status, _, body) = sql_with(&server, count, &[]);
    assert_eq!(status, 400, "{body}");
    // An answer that changes by itself is never kept.
    let (_, _, a) = sql_with(&server, "select random() as r", &[]);
    let (_, _, b) = sql_with(&server, "select random() as r", &[]);
    assert_ne!(a, b);
}

#[test]
fn nested_values_are_json_values() {
    let ctx = TestContext::new();
    let server = Server::start(&ctx, &[]);
    let sql = "select [1, 2] as l, {'a': 1, 'b': 'x'} as s, map([1], ['x']) as m, \
               'nan'::double as n, 'inf'::double as i, '-inf'::double as ni";
    let (status, body) = server.sql(sql);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["rows"],
        json!([[[1, 2], {"a": 1, "b": "x"}, {"1": "x"}, "NaN", "Infinity", "-Infinity"]])
    );
    let types: Vec<&str> = body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "INTEGER[]",
            "STRUCT(a INTEGER, b VARCHAR)",
            "MAP(INTEGER, VARCHAR)",
            "DOUBLE",
            "DOUBLE",
            "DOUBLE"
        ]
    );
    // The command line's JSON is the same.
    let out = ctx.lake(&["sql", "--format", "json", sql]);
    let rows: Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(
        rows,
        json!([{"l": [1, 2], "s": {"a": 1, "b": "x"}, "m": {"1": "x"}, "n": "NaN", "i": "Infinity", "ni": "-Infinity"}])
    );
}

#[test]
fn bodies_and_answers_are_bounded_whatever_the_framing() {
    let ctx = TestContext::new();
    let server = Server::start(&ctx, &["--max-body", "1000", "--max-result-bytes", "1KiB"]);
    // A chunked SQL body past the limit: 413 as JSON, not read whole.
    let sql = json!({ "sql": format!("select '{}' as x", "y".repeat(2000)) }).to_string();
    let chunked = format!(
        "POST /v1/sql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{sql}\r\n0\r\n\r\n",
        sql.len()
    );
    let answer = server.raw(chunked.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_eq!(error_code(body), "too_large", "{answer}");
    // An answer past --max-result-bytes stops there and says so.
    let (status, body) = server.sql("select repeat('x', 100) as x from range(100)");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["truncated"], true);
    let rows = body["rows"].as_array().unwrap().len();
    assert!(rows > 0 && rows < 10, "{rows} rows of 100 bytes in 1 KiB");
    assert_eq!(body["row_count"], rows);
}

/// CPU seconds the process has used (user + system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[test]
fn a_client_that_hangs_up_stops_its_query_and_frees_its_slot() {
    let ctx = TestContext::new();
    let server = Server::start(&ctx, &["--max-concurrency", "1", "--query-timeout", "120"]);
    let endless = json!({"sql": "select sum(a.range * b.range) as s from range(10000000) a, range(10000000) b"})
        .to_string();
    let mut client = TcpStream::connect(server.addr()).unwrap();
    write!(
        client,
        "POST /v1/sql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{endless}",
        endless.len()
    )
    .unwrap();
    // While it runs, it holds the only permit.
    std::thread::sleep(Duration::from_millis(500));
    let busy = server.raw(b"GET /v1/catalog/list HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(busy.starts_with("HTTP/1.1 503"), "{busy}");
    let pid = server.child.id();
    drop(client);
    // The query is stopped, not left to run for two minutes: the server
    // goes quiet and its permit is free again.
    poll(|| (server.get("/v1/catalog/list").0 == 200).then_some(()));
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_seconds(pid) - before;
    assert!(
        used < 0.5,
        "the server used {used} s of CPU in 1 s after the client left"
    );
}

/// Pages through `GET /v1/storage` two keys at a time; returns every key.
fn page_through(server: &Server, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..20 {
        let query = match &after {
            Some(a) => format!("/v1/storage?prefix={prefix}&limit=2&start_after={a}"),
            None => format!("/v1/storage?prefix={prefix}&limit=2"),
        };
        let (status, body) = server.get(&query);
        assert_eq!(status, 200, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        let objects = page["objects"].as_array().unwrap();
        assert!(objects.len() <= 2, "{body}");
        keys.extend(
            objects
                .iter()
                .map(|o| o["key"].as_str().unwrap().to_owned()),
        );
        match page["next_start_after"].as_str() {
            Some(next) if page["truncated"] == true => after = Some(next.to_owned()),
            _ => return keys,
        }
    }
    panic!("paging never ended: {keys:?}");
}

/// Keys whose order is not the order of their folders' names.
fn listing_pages_in_key_order(ctx: &TestContext) {
    let server = Server::start(ctx, &[]);
    for key in ["q", "p/d/e", "p-c", "p/b", "p/a", "p/d/f", "o"] {
        assert_eq!(
            server.put(&format!("/v1/storage/{key}"), key.as_bytes()).0,
            201
        );
    }
    assert_eq!(
        page_through(&server, ""),
        ["o", "p-c", "p/a", "p/b", "p/d/e", "p/d/f", "q"]
    );
    assert_eq!(
        page_through(&server, "p"),
        ["p-c", "p/a", "p/b", "p/d/e", "p/d/f"]
    );
    assert_eq!(page_through(&server, "p/d/"), ["p/d/e", "p/d/f"]);
    assert!(page_through(&server, "zz").is_empty());
}

#[test]
fn listing_pages_in_key_order_locally() {
    listing_pages_in_key_order(&TestContext::new());
}

#[test]
fn listing_pages_in_key_order_on_s3() {
    let s3 = crate::s3::S3Server::start();
    let ctx = crate::s3::s3_context(&s3);
    ctx.lake(&["init", "--store", "s3://lake-test/paged"]).ok();
    listing_pages_in_key_order(&ctx);
}

/// Reads until the server closes the connection; returns what it sent.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    use std::io::Read;
    stream.set_read_timeout(Some(within)).unwrap();
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => None, // still open when the time was up
    }
}

#[test]
fn slow_and_idle_clients_cannot_hold_the_server() {
    let ctx = TestContext::new();
    let mut server = Server::start(&ctx, &["--client-timeout", "1", "--max-concurrency", "4"]);
    // 64 connections that never send anything, one that sends half a head,
    // and one that sends a head and then stalls in its body.
    let mut idle: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(server.addr()).unwrap())
        .collect();
    let mut slowloris = TcpStream::connect(server.addr()).unwrap();
    slowloris
        .write_all(b"GET /v1/catalog/list HTTP/1.1\r\nHost")
        .unwrap();
    let mut stalled = TcpStream::connect(server.addr()).unwrap();
    stalled
        .write_all(b"PUT /v1/storage/stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    // Others are served meanwhile.
    assert_eq!(server.get("/v1/catalog/list").0, 200);
    // Each is let go within a few client timeouts.
    for stream in idle.iter_mut().take(3) {
        assert!(
            read_until_closed(stream, Duration::from_secs(5)).is_some(),
            "idle connection kept"
        );
    }
    assert!(
        read_until_closed(&mut slowloris, Duration::from_secs(5)).is_some(),
        "slowloris kept"
    );
    let answer =
        read_until_closed(&mut stalled, Duration::from_secs(5)).expect("stalled body kept");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // The test's own keep-alive connection has been idle past the client
    // timeout too, and the server may close it as the next request goes
    // out (a reset): new connections from here.
    server.agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    assert_eq!(
        server.get("/v1/storage/stalled").0,
        404,
        "half a body was stored"
    );
    // And every permit came back.
    for _ in 0..8 {
        assert_eq!(server.get("/v1/catalog/list").0, 200);
    }
}

#[test]
fn sigterm_lets_a_query_in_flight_finish() {
    let ctx = TestContext::new();
    let mut server = Server::start(&ctx, &[]);
    let base = server.base.clone();
    let agent = server.agent.clone();
    let query = std::thread::spawn(move || {
        let mut resp = agent
            .post(format!("{base}/v1/sql"))
            .header("Content-Type", "application/json")
            .send(
                json!({"sql": "select sum(a.range * b.range) as s from range(20000) a, range(20000) b"})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap();
        (
            resp.status().as_u16(),
            resp.body_mut().read_to_string().unwrap(),
        )
    });
    std::thread::sleep(Duration::from_millis(400));
    server.terminate();
    let (status, body) = query.join().unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("39996000100000000"), "{body}");
    assert!(server.child.wait().unwrap().success());
}

/// Sends a request and reads the whole answer (the server closes after it).
fn raw_to_end(server: &Server, request: &str) -> String {
    use std::io::Read;
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

fn post_sql(
    server: &Server,
    query: &str,
    accept: Option<&str>,
    sql: &str,
) -> (u16, String, Vec<u8>) {
    let accept: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
    let (status, headers, body) = request_sql(server, query, &accept, sql);
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, content_type.unwrap_or_default(), body)
}

#[test]
fn answers_come_in_the_format_asked_for() {
    let ctx = TestContext::new();
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    let server = Server::start(&ctx, &["--max-rows", "4"]);
    let sql = "select id, name, [id, id] as pair from people where id <= 2 order by id";
    let (status, ct, body) = post_sql(&server, "?format=ndjson", None, sql);
    assert_eq!((status, ct.as_str()), (200, "application/x-ndjson"));
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "{\"id\":1,\"name\":\"Alice\",\"pair\":[1,1]}\n{\"id\":2,\"name\":\"Bob\",\"pair\":[2,2]}\n"
    );
    let (status, ct, body) = post_sql(&server, "", Some("text/csv"), sql);
    assert_eq!((status, ct.as_str()), (200, "text/csv"));
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "id,name,pair\n1,Alice,\"[1,1]\"\n2,Bob,\"[2,2]\"\n"
    );
    // Arrow IPC, read back by arrow's own reader.
    let (status, ct, body) = post_sql(
        &server,
        "",
        Some("application/vnd.apache.arrow.stream"),
        sql,
    );
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/vnd.apache.arrow.stream")
    );
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None).unwrap();
    let fields: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(fields, ["id", "name", "pair"]);
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 2);
    // Parquet, read back by the parquet crate.
    let (status, ct, body) = post_sql(&server, "?format=parquet", None, sql);
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/vnd.apache.parquet"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(axum_bytes(body))
            .unwrap()
            .build()
            .unwrap();
    assert_eq!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>(), 2);
    // An empty answer still has its header.
    let (_, _, body) = post_sql(
        &server,
        "?format=csv",
        None,
        "select id from people where id < 0",
    );
    assert_eq!(String::from_utf8(body).unwrap(), "id\n");
    // Past the row limit: Parquet cannot be cut, so 413 as JSON...
    let (status, _, body) = post_sql(&server, "?format=parquet", None, "select * from people");
    assert_eq!(
        (status, error_code(&String::from_utf8_lossy(&body)).as_str()),
        (413, "too_large")
    );
    // ... and a stream is cut and says so in its trailer.
    let body = json!({"sql": "select id from people order by id"}).to_string();
    let answer = raw_to_end(
        &server,
        &format!(
            "POST /v1/sql?format=csv HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("1\n2\n3\n4\n") && !answer.contains("\n5\n"),
        "{answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("lake-truncated: true"),
        "{answer}"
    );
    // A failure before the first row is an error answer, in every format.
    for format in ["ndjson", "csv", "arrow", "parquet"] {
        let (status, _, body) = post_sql(
            &server,
            &format!("?format={format}"),
            None,
            "select nope from people",
        );
        assert_eq!(status, 400, "{format}: {}", String::from_utf8_lossy(&body));
    }
    let (status, _, _) = post_sql(&server, "?format=xml", None, "select 1");
    assert_eq!(status, 400);
}

fn axum_bytes(body: Vec<u8>) -> bytes::Bytes {
    bytes::Bytes::from(body)
}
