//! The web UI at `/`, in a real browser (Debian's headless Chromium,
//! Selenium from the test venv: `tests/ui/browser.py`), against `lake
//! serve` with a token. What the page showed is held against `lake sql`.
//! Screenshots of every page stay under `target/ui-screenshots/`.

use std::path::Path;

use serde_json::{Value, json};

use crate::TestContext;
use crate::ducklake::python_json;
use crate::serve::Server;

const TOKEN: &str = "ui-test-token";

/// `lake sql` as CSV rows.
fn sql_rows(ctx: &TestContext, sql: &str) -> Vec<Vec<String>> {
    csv_rows(ctx.lake(&["--format", "csv", "sql", sql]).ok())
}

/// `lake sql --at SNAPSHOT` as CSV: the lake as the browser saw it, before
/// it restored and ingested.
fn sql_at(ctx: &TestContext, at: &str, sql: &str) -> String {
    ctx.lake(&["--format", "csv", "sql", "--at", at, sql])
        .ok()
        .to_owned()
}

fn csv_rows(out: &str) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn one(ctx: &TestContext, sql: &str) -> String {
    sql_rows(ctx, sql).remove(0).remove(0)
}

/// Thousands separated by commas, as the page prints counts.
fn grouped(n: &str) -> String {
    let digits: Vec<char> = n.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(*c);
    }
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_person_finds_queries_travels_back_and_ingests_in_a_browser() {
    let ctx = TestContext::new();
    let mut sales = String::from("id,region,amount,day\n");
    let regions = ["north", "south", "east", "west", "north", "north", "south"];
    for i in 0..300 {
        let region = regions[i % regions.len()];
        sales += &format!(
            "{i},{region},{}.5,2026-01-{:02}\n",
            (i * 37) % 1000,
            1 + i % 28
        );
    }
    let created = ctx.lake(&[
        "--format",
        "json",
        "ingest",
        ctx.write("sales.csv", &sales).to_str().unwrap(),
    ]);
    let first_snapshot = crate::json(&created)["snapshot"].to_string();
    let mut more = String::from("id,region,amount,day\n");
    for i in 300..400 {
        more += &format!("{i},east,{}.25,2026-02-01\n", 2000 + i);
    }
    let more = ctx.write("more.csv", &more);
    let appended = ctx.lake(&[
        "--format",
        "json",
        "ingest",
        more.to_str().unwrap(),
        "--name",
        "sales",
        "--append",
    ]);
    let seen_at = crate::json(&appended)["snapshot"].to_string();
    let then = |sql: &str| csv_rows(&sql_at(&ctx, &seen_at, sql));
    ctx.lake(&["ingest", ctx.people().to_str().unwrap()]).ok();
    let upload = ctx.write("uploaded-events.csv", "kind,n\nclick,3\nview,5\nclick,1\n");
    let conflict = ctx.write(
        "sales-with-channel.csv",
        "id,region,amount,day,channel\n1000,north,1.5,2026-03-01,web\n",
    );

    let server = Server::start(&ctx, &["--token", TOKEN]);
    let query = "SELECT region, count(*) AS n, sum(amount) AS total FROM sales GROUP BY region ORDER BY region";
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    let seen = python_json(
        "tests/ui/browser.py",
        &json!({
            "base": server.base,
            "token": TOKEN,
            "shots": shots,
            "downloads": ctx.work.path().join("downloads"),
            "upload": upload,
            "conflict": conflict,
            "dropped": "a,b\n1,x\n2,y\n",
            "query": query,
            "first_snapshot": first_snapshot.parse::<u64>().unwrap(),
        }),
    );

    // Signed out, the API refuses; the cookie is HttpOnly, Strict, no token.
    assert_eq!(seen["api_without_token"], 401);

    // The list and its search.
    let row = strings(&seen["datasets_row"]);
    assert_eq!(row[..3], ["sales", "400", "4"], "{row:?}");

    // Statistics over every row, as DuckDB counts them.
    let columns: Vec<Vec<String>> = seen["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    let expected = then(
        "SELECT min(id), max(id), min(amount), max(amount), approx_count_distinct(id), approx_count_distinct(region) FROM sales",
    )
    .remove(0);
    assert_eq!(columns[0][..3], ["id", "BIGINT", "0"], "{columns:?}");
    assert_eq!(columns[0][3..5], expected[..2], "{columns:?}");
    assert_eq!(columns[2][3], expected[2], "{columns:?}");
    assert_eq!(columns[2][4], expected[3], "{columns:?}");
    assert_eq!(columns[0][5], grouped(&expected[4]), "{columns:?}");
    assert_eq!(columns[1][5], grouped(&expected[5]), "{columns:?}");

    // Facets: the low-cardinality column's counts over all 400 rows.
    let facets = seen["facets"].as_object().unwrap();
    assert!(!facets.contains_key("id"), "{facets:?}");
    let region: Vec<Vec<String>> = facets["region"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    let counts: Vec<Vec<String>> =
        then("SELECT region, count(*) FROM sales GROUP BY 1 ORDER BY 2 DESC, 1")
            .into_iter()
            .map(|r| vec![r[0].clone(), grouped(&r[1])])
            .collect();
    assert_eq!(region, counts);

    // Rows: the first page, sorted both ways, the second page, a filter.
    let first: Vec<Vec<String>> = seen["first_page"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    assert_eq!(first, then("SELECT * FROM sales LIMIT 2"));
    assert_eq!(
        strings(&seen["sorted_ascending"]),
        then("SELECT * FROM sales ORDER BY amount LIMIT 1")[0]
    );
    assert_eq!(
        strings(&seen["sorted_descending"]),
        then("SELECT * FROM sales ORDER BY amount DESC LIMIT 1")[0]
    );
    assert!(
        seen["page_two"]
            .as_str()
            .unwrap()
            .contains("rows 51–100 of 400"),
        "{}",
        seen["page_two"]
    );
    let filter = strings(&seen["filter"]);
    let matching = then(&format!(
        "SELECT count(*) FROM sales WHERE region = '{}'",
        filter[0]
    ))[0][0]
        .clone();
    assert!(
        filter[1].contains(&format!("{} matching rows", grouped(&matching))),
        "{filter:?}"
    );

    // SQL by the keyboard: the rows `lake sql` gives, the query in the URL,
    // the CSV the browser saved byte for byte.
    let expected = then(query);
    let rows: Vec<Vec<String>> = seen["sql_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    assert_eq!(rows, expected);
    assert_eq!(strings(&seen["sql_header"]), ["region", "n", "total"]);
    assert!(
        seen["sql_status"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{} rows in ", expected.len())),
        "{}",
        seen["sql_status"]
    );
    assert!(
        seen["sql_hash"]
            .as_str()
            .unwrap()
            .starts_with("#/sql?q=SELECT+region"),
        "{}",
        seen["sql_hash"]
    );
    assert_eq!(seen["bars"], expected.len());
    assert_eq!(seen["csv"].as_str().unwrap(), sql_at(&ctx, &seen_at, query));
    // The Parquet the browser saved holds the same rows (DuckDB reads it).
    assert_eq!(seen["parquet_magic"], "PAR1PAR1");
    let saved = seen["parquet_path"].as_str().unwrap();
    let duck = crate::ducklake::duckdb(&[format!(
        "SELECT region, n, total FROM read_parquet('{saved}') ORDER BY region"
    )])
    .unwrap();
    let duck_rows: Vec<Vec<String>> = duck[0]
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect()
        })
        .collect();
    assert_eq!(duck_rows, expected);
    assert!(
        seen["sql_error"]
            .as_str()
            .unwrap()
            .contains("no_such_dataset"),
        "{}",
        seen["sql_error"]
    );
    assert_eq!(seen["cancelled"], "Cancelled.");
    assert_eq!(seen["facet_cancelled"], "Cancelled.");

    // Time travel and restore: the lake's history has every snapshot (the
    // lake's creation, sales twice, people).
    assert_eq!(seen["lake_history"], 4);
    assert!(
        seen["as_of_banner"]
            .as_str()
            .unwrap()
            .contains(&format!("as of snapshot {first_snapshot}")),
        "{}",
        seen["as_of_banner"]
    );
    assert!(
        seen["as_of_meta"].as_str().unwrap().starts_with("300 rows"),
        "{}",
        seen["as_of_meta"]
    );
    assert!(
        seen["as_of_pager"]
            .as_str()
            .unwrap()
            .contains("rows 1–50 of 300"),
        "{}",
        seen["as_of_pager"]
    );
    assert!(
        seen["restored"].as_str().unwrap().starts_with(&format!(
            "sales updated as at snapshot {first_snapshot}: 300 rows"
        )),
        "{}",
        seen["restored"]
    );

    // Ingest: the upload control, a refused schema change, --evolve, a drop.
    assert!(
        seen["uploaded"]
            .as_str()
            .unwrap()
            .starts_with("uploaded_events created: 3 rows"),
        "{}",
        seen["uploaded"]
    );
    assert_eq!(one(&ctx, "SELECT sum(n) FROM uploaded_events"), "9");
    let conflict = seen["conflict"].as_str().unwrap();
    assert!(
        conflict.contains("added channel") && conflict.contains("Evolve"),
        "{conflict}"
    );
    assert!(
        seen["evolved"].as_str().unwrap().starts_with("sales "),
        "{}",
        seen["evolved"]
    );
    assert_eq!(
        one(
            &ctx,
            "SELECT string_agg(channel, ',') FROM sales WHERE channel IS NOT NULL"
        ),
        "web"
    );
    assert_eq!(
        sql_rows(&ctx, "SELECT * FROM dropped ORDER BY a"),
        [["1", "x"], ["2", "y"]]
    );

    // Nothing left the server; no script logged an error.
    for url in seen["requests"].as_array().unwrap() {
        assert!(
            url.as_str().unwrap().starts_with(&server.base),
            "a request left the server: {url}"
        );
    }
    assert!(seen["requests"].as_array().unwrap().len() >= 3);
    assert_eq!(
        seen["console_errors"],
        json!([]),
        "{}",
        seen["console_errors"]
    );
    assert_eq!(
        seen["narrow_errors"],
        json!([]),
        "{}",
        seen["narrow_errors"]
    );
    let failures = strings(&seen["expected_failures"]);
    assert!(
        failures
            .iter()
            .any(|m| m.contains("/ui/login") && m.contains("401")),
        "{failures:?}"
    );
    for page in [
        "02-datasets",
        "03-dataset",
        "05-sql-and-chart",
        "08-dataset-as-of",
        "10-narrow-d-sales",
    ] {
        assert!(shots.join(format!("{page}.png")).exists(), "{page}");
    }
}

#[test]
fn the_ui_files_are_embedded_gzipped_and_locked_to_the_server() {
    let ctx = TestContext::new();
    let server = Server::start(&ctx, &["--token", TOKEN]);
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut req = server.agent.get(&format!("{}{path}", server.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.call().unwrap()
    };
    // Without a session, `/` is the login form, and says so.
    let mut page = get("/", &[]);
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let body = page.body_mut().read_to_string().unwrap();
    assert!(
        body.contains("name=\"token\"") && !body.contains("app.js"),
        "{body}"
    );
    // The files themselves hold no data: served to anyone, gzipped.
    let js = get("/ui/app.js", &[("accept-encoding", "gzip")]);
    assert_eq!(js.headers()["content-encoding"], "gzip");
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let etag = js.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(get("/ui/app.js", &[("if-none-match", &etag)]).status(), 304);
    assert_eq!(get("/ui/nothing.js", &[]).status(), 404);

    // A right token signs in: a cookie that is not the token.
    let login = |token: &str| {
        server
            .agent
            .post(&format!("{}/ui/login", server.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .send(format!("token={token}"))
            .unwrap()
    };
    assert_eq!(login("wrong").status(), 401);
    let signed: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let answer = signed
        .post(&format!("{}/ui/login", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .send(format!("token={TOKEN}"))
        .unwrap();
    assert_eq!(answer.status(), 303);
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(!cookie.contains(TOKEN), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    // The cookie reads the API; a write by cookie needs the UI's header,
    // which another site's page cannot send.
    let list = get("/v1/catalog/list", &[("cookie", &pair)]);
    assert_eq!(list.status(), 200);
    let mut app = get("/", &[("cookie", &pair)]);
    let app = app.body_mut().read_to_string().unwrap();
    assert!(app.contains("/ui/app.js"), "{app}");
    let write = |extra: &[(&str, &str)]| {
        let mut req = server
            .agent
            .post(&format!("{}/v1/ingest?name=forged", server.base))
            .header("cookie", &pair);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req.send("a\n1\n").unwrap().status().as_u16()
    };
    assert_eq!(write(&[]), 401);
    assert_eq!(write(&[("x-lake-ui", "1")]), 201);
    assert_eq!(
        get(
            "/v1/catalog/list",
            &[("cookie", "lake_session=ui-test-token")]
        )
        .status(),
        401
    );
}

#[test]
fn the_history_routes_the_ui_calls() {
    let ctx = TestContext::new();
    ctx.lake(&["ingest", ctx.people().to_str().unwrap()]).ok();
    let more = ctx.write("people2.csv", "id,name\n7,Grace\n");
    ctx.lake(&[
        "ingest",
        more.to_str().unwrap(),
        "--name",
        "people",
        "--replace",
    ])
    .ok();
    let server = Server::start(&ctx, &["--token", TOKEN]);
    let json = |(status, body): (u16, String)| -> (u16, Value) {
        (status, serde_json::from_str(&body).unwrap())
    };

    // The whole lake's log, newest first, down to the lake's creation.
    let (status, log) = json(server.get("/v1/log"));
    assert_eq!(status, 200, "{log}");
    let changes: Vec<&str> = log["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["change"].as_str().unwrap())
        .collect();
    assert_eq!(
        changes.first(),
        Some(&"replaced with a new schema"),
        "{log}"
    );
    assert_eq!(changes.last(), Some(&"created the lake"), "{log}");

    // The catalog as of a snapshot: before the dataset, and its first version.
    let (_, before) = json(server.get("/v1/catalog/list?at=0"));
    assert_eq!(before["datasets"], json!([]));
    let (_, then) = json(server.get("/v1/catalog/people?at=1"));
    assert_eq!(
        (
            then["rows"].as_u64(),
            then["schema"].as_array().unwrap().len()
        ),
        (Some(6), 7)
    );
    let (_, now) = json(server.get("/v1/catalog/people"));
    assert_eq!(now["rows"], 1);
    let (status, bad) = json(server.get("/v1/catalog/list?at=yesterday-ish"));
    // As `--at` and `/v1/sql`'s "at": no such snapshot.
    assert_eq!(status, 404, "{bad}");
    assert!(bad.to_string().contains("yesterday-ish"), "{bad}");

    // Restore: a new snapshot with the old data; bad requests refused.
    let restore = |name: &str, body: &str| {
        json(server.post(
            &format!("/v1/catalog/{name}/restore"),
            "application/json",
            body.as_bytes(),
        ))
    };
    let (status, done) = restore("people", r#"{"to": 1}"#);
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (done["restored_from"].as_u64(), done["rows"].as_u64()),
        (Some(1), Some(6))
    );
    assert_eq!(one(&ctx, "SELECT count(*) FROM people"), "6");
    assert_eq!(restore("people", r#"{"to": [1]}"#).0, 400);
    assert_eq!(restore("people", r#"{"snapshot": 1}"#).0, 400);
    assert_eq!(restore("nobody", r#"{"to": 1}"#).0, 404);
}
