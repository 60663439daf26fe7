//! `lake serve --flight-addr`: Arrow Flight SQL, checked by clients written
//! by others: the ADBC Flight SQL driver from PyPI (`tests/flight/adbc.py`,
//! what notebooks and BI tools use) and arrow-flight's own Rust client.

use std::time::{Duration, Instant};

use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{CommandGetTables, SqlInfo};
use futures::TryStreamExt;
use serde_json::{Value, json};

use crate::TestContext;
use crate::ducklake::python_json;
use crate::serve::Server;

const TOKEN: &str = "flight-sekret";

/// The Flight SQL address the server announced after its HTTP one.
fn flight_url(server: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = server.log.lock().unwrap().iter().find_map(|line| {
            line.split_once("Flight SQL listening on ")
                .map(|(_, url)| url.trim().to_owned())
        });
        if let Some(url) = found {
            return url;
        }
        assert!(Instant::now() < deadline, "no Flight SQL address announced");
        std::thread::sleep(Duration::from_millis(20));
    }
}

type Client = FlightSqlServiceClient<tonic::transport::Channel>;
type Batches = Result<Vec<arrow::record_batch::RecordBatch>, arrow_flight::error::FlightError>;

/// The batches of the answer `info` describes (its one endpoint).
async fn fetch(client: &mut Client, info: arrow_flight::FlightInfo) -> Batches {
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    client.do_get(ticket).await?.try_collect().await
}

/// A home with `people` in two versions (snapshot 1: 6 rows; then 2 more)
/// and a second dataset.
fn home() -> TestContext {
    let ctx = TestContext::new();
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    let more = ctx.write(
        "more.csv",
        "id,name,email,age,joined,score,active\n\
         7,Grace,grace@example.com,50,2024-02-02,70,true\n\
         8,Heidi,,23,2024-03-03,55.5,false\n",
    );
    ctx.lake(&[
        "ingest",
        more.to_str().unwrap(),
        "--name",
        "people",
        "--append",
    ])
    .ok();
    let cities = ctx.write("cities.csv", "city,country\nLyon,FR\nOsaka,JP\n");
    ctx.lake(&["ingest", cities.to_str().unwrap()]).ok();
    ctx
}

#[test]
fn the_adbc_driver_gets_what_http_gives() {
    let ctx = home();
    let server = Server::start(&ctx, &["--token", TOKEN, "--flight-addr", "127.0.0.1:0"]);
    let uri = flight_url(&server);
    assert!(uri.starts_with("grpc://127.0.0.1:"), "{uri}");
    let first = ctx
        .lake(&["log", "people", "--format", "json"])
        .ok()
        .to_owned();
    let first: Value = serde_json::from_str(&first).unwrap();
    let first_snapshot = first
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["snapshot"].as_i64())
        .min()
        .unwrap();
    let sql = "SELECT id, name, age, joined, score, active FROM people ORDER BY id";
    let out = python_json(
        "tests/flight/adbc.py",
        &json!({"uri": uri, "token": TOKEN, "http": server.base, "sql": sql, "at": first_snapshot}),
    );
    // The same answer as /v1/sql's Arrow, value for value and type for type.
    assert_eq!(out["same_as_http"], true, "{out:#}");
    assert_eq!(out["rows"].as_array().unwrap().len(), 8, "{out:#}");
    assert_eq!(out["rows"][0][1], "Alice");
    // A prepared statement, run twice with a parameter, and with two.
    let bob_or_over_40 = ctx.sql("SELECT count(*) FROM people WHERE name = 'Bob' OR age > 40");
    let bob_or_over_40: i64 = bob_or_over_40.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(
        out["prepared"],
        json!([["Alice"], ["Carol"], [bob_or_over_40]]),
        "{out:#}"
    );
    // Every dataset and column, where a driver looks for them.
    let objects = out["objects"].as_array().unwrap();
    let people = objects
        .iter()
        .find(|t| t["table"] == "people")
        .unwrap_or_else(|| panic!("{out:#}"));
    assert_eq!(people["catalog"], "temp");
    assert_eq!(people["schema"], "main");
    assert_eq!(
        people["columns"],
        json!(["id", "name", "email", "age", "joined", "score", "active"])
    );
    assert!(objects.iter().any(|t| t["table"] == "cities"), "{out:#}");
    let table_schema = out["table_schema"].as_str().unwrap();
    assert!(table_schema.contains("id: int64"), "{table_schema}");
    assert!(table_schema.contains("joined: date32"), "{table_schema}");
    assert_eq!(out["table_types"], json!(["TABLE"]));
    assert_eq!(out["info"]["vendor_name"], "lake", "{:#}", out["info"]);
    assert_eq!(out["info"]["vendor_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(out["qualified"], json!([8]));
    // Nothing but one SELECT runs.
    for (sql, error) in out["hostile"].as_object().unwrap() {
        let error = error.as_str().unwrap_or_else(|| panic!("{sql} ran"));
        assert!(
            error.contains("INVALID_ARGUMENT") || error.contains("InvalidArgument"),
            "{sql}: {error}"
        );
    }
    let sql_error = out["sql_error"].as_str().unwrap();
    assert!(sql_error.contains("no_such_column"), "{sql_error}");
    // Time travel with the call header, as /v1/sql's "at".
    assert_eq!(out["at_count"], json!([6]), "{out:#}");
    assert_eq!(out["at_http"], json!([6]));
    // Basic authentication whose password is the token; wrong ones refused.
    assert_eq!(out["basic_right"], json!([1]), "{out:#}");
    for refused in ["basic_wrong", "wrong_token", "no_token"] {
        let error = out[refused]
            .as_str()
            .unwrap_or_else(|| panic!("{refused} got in"));
        assert!(
            error.to_lowercase().contains("unauthenticated"),
            "{refused}: {error}"
        );
    }
}

#[test]
fn the_rust_client_speaks_the_protocol() {
    let ctx = home();
    let server = Server::start(
        &ctx,
        &[
            "--token",
            TOKEN,
            "--flight-addr",
            "127.0.0.1:0",
            "--max-rows",
            "1000",
        ],
    );
    let uri = flight_url(&server).replace("grpc://", "http://");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let channel = tonic::transport::Channel::from_shared(uri)
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = FlightSqlServiceClient::new(channel.clone());
        // The handshake turns the token (as a password) into the bearer.
        assert!(client.handshake("anyone", "wrong").await.is_err());
        client.handshake("anyone", TOKEN).await.unwrap();
        let rows = |client: &mut Client, sql: &'static str| {
            let mut client = client.clone();
            async move {
                let info = client.execute(sql.to_owned(), None).await?;
                fetch(&mut client, info).await
            }
        };
        client.set_header("x-request-id", "flight-request-7");
        let batches = rows(&mut client, "SELECT * FROM cities ORDER BY city")
            .await
            .unwrap();
        let n: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(n, 2);
        // The statement's log line carries the client's request id.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !server.log.lock().unwrap().iter().any(|l| {
            l.contains("flight statement") && l.contains("flight-request-7") && l.contains("rows=2")
        }) {
            assert!(
                Instant::now() < deadline,
                "no log line: {:?}",
                server.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // An empty answer still has its columns.
        let info = client
            .execute("SELECT city FROM cities WHERE false".to_owned(), None)
            .await
            .unwrap();
        let schema = info.try_decode_schema().unwrap();
        assert_eq!(schema.field(0).name(), "city");
        // Errors are statuses a driver shows well.
        let refused = client
            .execute("COPY cities TO '/tmp/x.csv'".to_owned(), None)
            .await
            .unwrap_err();
        assert!(
            format!("{refused:?}").contains("InvalidArgument"),
            "{refused:?}"
        );
        // Past --max-rows the stream ends with RESOURCE_EXHAUSTED.
        let over = rows(&mut client, "SELECT * FROM range(5000)").await;
        let over = format!("{:?}", over.unwrap_err());
        assert!(over.contains("ResourceExhausted"), "{over}");
        // Metadata with the spec's columns.
        let info = client
            .get_sql_info(vec![SqlInfo::FlightSqlServerName])
            .await
            .unwrap();
        let batches = fetch(&mut client, info).await.unwrap();
        assert_eq!(batches[0].schema().field(0).name(), "info_name");
        let info = client
            .get_tables(CommandGetTables {
                include_schema: true,
                ..Default::default()
            })
            .await
            .unwrap();
        let batches = fetch(&mut client, info).await.unwrap();
        let schema = batches[0].schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "catalog_name",
                "db_schema_name",
                "table_name",
                "table_type",
                "table_schema"
            ]
        );
        assert_eq!(batches[0].num_rows(), 2);
        // Without the bearer, nothing.
        let mut stranger = FlightSqlServiceClient::new(channel);
        let denied = stranger
            .execute("SELECT 1".to_owned(), None)
            .await
            .unwrap_err();
        assert!(
            format!("{denied:?}").contains("Unauthenticated"),
            "{denied:?}"
        );
    });
}

/// The server's peak resident memory, from /proc.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

#[test]
fn flight_holds_the_servers_limits() {
    let ctx = home();
    let server = Server::start(
        &ctx,
        &[
            "--flight-addr",
            "127.0.0.1:0",
            "--max-concurrency",
            "1",
            "--query-timeout",
            "3",
            // No limit a held query could reach while the test looks.
            "--max-rows",
            "100000000000",
            "--max-result-bytes",
            "1000GiB",
        ],
    );
    let uri = flight_url(&server).replace("grpc://", "http://");
    let pid = server.child.id();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let channel = tonic::transport::Channel::from_shared(uri)
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = FlightSqlServiceClient::new(channel);
        let before = peak_rss_mib(pid);
        // Ten million rows stream through, with the server's memory flat.
        let info = client
            .execute(
                "SELECT range AS i, range * 2 AS j FROM range(10000000)".to_owned(),
                None,
            )
            .await
            .unwrap();
        let ticket = info.endpoint[0].ticket.clone().unwrap();
        let mut stream = client.do_get(ticket).await.unwrap();
        let mut rows = 0;
        while let Some(batch) = stream.try_next().await.unwrap() {
            rows += batch.num_rows();
        }
        assert_eq!(rows, 10_000_000);
        let peak = peak_rss_mib(pid);
        eprintln!("server peak RSS {before} MiB before, {peak} MiB after 10M rows");
        // 160 MB of answer; the server holds a few batches of it.
        assert!(peak < before + 100, "peak {peak} MiB, {before} MiB before");

        // One permit: a second statement while a first streams is refused.
        let info = client
            .execute(
                "SELECT * FROM range(100000000) a, range(100) b".to_owned(),
                None,
            )
            .await
            .unwrap();
        let ticket = info.endpoint[0].ticket.clone().unwrap();
        let mut held = client.do_get(ticket).await.unwrap();
        held.try_next().await.unwrap();
        let busy = client
            .execute("SELECT 1".to_owned(), None)
            .await
            .unwrap_err();
        assert!(
            format!("{busy:?}").contains("ResourceExhausted"),
            "{busy:?}"
        );
        // A client that hangs up stops its query: the permit comes back at
        // once, long before the query timeout (3 s) would have freed it.
        drop(held);
        let deadline = Instant::now() + Duration::from_millis(1500);
        loop {
            match client.execute("SELECT 1".to_owned(), None).await {
                Ok(_) => break,
                Err(e) if Instant::now() < deadline => {
                    assert!(format!("{e:?}").contains("ResourceExhausted"), "{e:?}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("the cancelled query still holds its permit: {e:?}"),
            }
        }

        // A query past --query-timeout is stopped: DEADLINE_EXCEEDED.
        let started = Instant::now();
        let slow = "SELECT count(*) FROM range(1000000000) a, range(1000000000) b";
        let stopped = match client.execute(slow.to_owned(), None).await {
            Err(e) => format!("{e:?}"),
            Ok(info) => {
                let ticket = info.endpoint[0].ticket.clone().unwrap();
                match client.do_get(ticket).await {
                    Err(e) => format!("{e:?}"),
                    Ok(stream) => {
                        format!("{:?}", stream.try_collect::<Vec<_>>().await.unwrap_err())
                    }
                }
            }
        };
        assert!(stopped.contains("DeadlineExceeded"), "{stopped}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
    });
}

/// A CA and a certificate for 127.0.0.1 it signed, in `dir`: (ca, cert, key).
fn certificates(dir: &std::path::Path) -> (String, String, String) {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (.ci/run installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=lake flight test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
    let path = |f: &str| dir.join(f).to_str().unwrap().to_owned();
    (path("ca.crt"), path("server.crt"), path("server.key"))
}

#[test]
fn flight_over_tls_with_a_self_signed_ca() {
    let ctx = home();
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let server = Server::start(
        &ctx,
        &[
            "--token",
            TOKEN,
            "--flight-addr",
            "127.0.0.1:0",
            "--flight-tls-cert",
            &cert,
            "--flight-tls-key",
            &key,
        ],
    );
    let uri = flight_url(&server);
    assert!(uri.starts_with("grpc+tls://127.0.0.1:"), "{uri}");
    let sql = "SELECT city FROM cities ORDER BY city";
    let trusted = python_json(
        "tests/flight/adbc.py",
        &json!({"only": "select", "uri": uri, "token": TOKEN, "sql": sql,
                "tls_root": std::fs::read_to_string(&ca).unwrap()}),
    );
    assert_eq!(trusted["rows"], json!([["Lyon"], ["Osaka"]]), "{trusted:#}");
    // Without the CA the certificate is not trusted; without TLS, no answer.
    let untrusted = python_json(
        "tests/flight/adbc.py",
        &json!({"only": "select", "uri": uri, "token": TOKEN, "sql": sql}),
    );
    assert!(untrusted["error"].is_string(), "{untrusted:#}");
    let plain = python_json(
        "tests/flight/adbc.py",
        &json!({"only": "select", "uri": uri.replace("grpc+tls", "grpc"), "token": TOKEN, "sql": sql}),
    );
    assert!(plain["error"].is_string(), "{plain:#}");
}
