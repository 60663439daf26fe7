//! The catalog on PostgreSQL, whatever catalog the rest of this run tests:
//! a home made with `--catalog`, what it prints and keeps, how it fails,
//! and many writers in separate processes at once.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::ducklake::duck_read;
use crate::{TestContext, json, postgres_database, postgres_password};

/// A home (no catalog of its own) whose catalog is a new database.
fn postgres_home() -> (TestContext, String) {
    let ctx = TestContext::sqlite();
    let url = postgres_database();
    let init = json(&ctx.lake(&["init", "--catalog", &url, "--format", "json"]));
    let password = postgres_password().expect("the test server has a password");
    assert!(
        !init.to_string().contains(&password),
        "init printed the password: {init}"
    );
    (ctx, url)
}

/// Appends one row (id 7, Grace) to the examples' people.
fn append_grace(ctx: &TestContext) {
    let more = ctx.write(
        "more.csv",
        "id,name,email,age,joined,score,active\n7,Grace,grace@example.com,30,2024-01-01,80.5,true\n",
    );
    ctx.lake(&[
        "ingest",
        more.to_str().unwrap(),
        "--name",
        "people",
        "--append",
    ])
    .ok();
}

#[test]
fn a_home_on_postgres_works_as_with_sqlite_and_never_prints_the_password() {
    let (ctx, url) = postgres_home();
    let password = postgres_password().unwrap();
    // The home names the catalog: no flag needed from now on.
    assert!(!ctx.home.path().join("catalog.sqlite").exists());
    let recorded = std::fs::read_to_string(ctx.home.path().join("catalog.url")).unwrap();
    assert_eq!(recorded.trim(), url);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ctx.home.path().join("catalog.url"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "catalog.url is readable by others");
    }
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    append_grace(&ctx);
    assert_eq!(ctx.sql("select count(*) as n from people"), "n\n7\n");
    assert_eq!(
        ctx.lake(&[
            "sql",
            "--at",
            "1",
            "--format",
            "csv",
            "select count(*) as n from people"
        ])
        .ok(),
        "n\n6\n"
    );
    let runs = [
        ctx.lake(&["info", "--format", "json"]),
        ctx.lake(&["log", "--format", "json"]),
        ctx.lake(&["show", "people", "--format", "json"]),
        ctx.lake(&["ls"]),
    ];
    for run in &runs {
        run.ok();
        assert!(
            !run.stdout.contains(&password) && !run.stderr.contains(&password),
            "the password was printed: {run:?}"
        );
    }
    let info = json(&runs[0]);
    assert_eq!(info["snapshots"], 3);
    assert!(
        info["catalog"].as_str().unwrap().contains(":***@"),
        "{info}"
    );
    let attach = info["attach"].as_str().unwrap();
    assert!(attach.contains("'ducklake:postgres:dbname="), "{attach}");
    // DuckDB (ducklake + postgres extensions, password from PGPASSWORD)
    // reads every snapshot.
    let answers = duck_read(
        &ctx,
        &[
            "SELECT count(*) FROM lake.people",
            "SELECT count(*) FROM lake.people AT (VERSION => 1)",
            "SELECT name FROM lake.people WHERE id = 7",
        ],
    );
    assert_eq!(answers[0].rows[0][0], Value::from(7));
    assert_eq!(answers[1].rows[0][0], Value::from(6));
    assert_eq!(answers[2].rows[0][0], Value::from("Grace"));
    // Another catalog for this home is refused.
    let other = postgres_database();
    let err = ctx.lake(&["ls", "--catalog", &other]).fails(2).to_owned();
    assert!(err.contains("cannot be changed"), "{err}");
    assert!(!err.contains(&password), "{err}");
    // So is a catalog that is not a PostgreSQL URL.
    let err = ctx
        .lake(&["ls", "--catalog", "mysql://x"])
        .fails(2)
        .to_owned();
    assert!(err.contains("PostgreSQL URL"), "{err}");
}

#[test]
fn the_password_can_come_from_pgpassword_or_the_password_file() {
    let url = postgres_database();
    let password = postgres_password().unwrap();
    let bare = url.replacen(&format!(":{password}@"), "@", 1);
    assert_ne!(bare, url);
    // No password anywhere: the server refuses, and the home records nothing.
    let ctx = TestContext::sqlite();
    let err = ctx.lake(&["init", "--catalog", &bare]).fails(1).to_owned();
    assert!(err.contains("password"), "{err}");
    assert!(!ctx.home.path().join("catalog.url").exists());
    // PGPASSWORD.
    let mut ctx = TestContext::sqlite();
    ctx.env.push(("PGPASSWORD".into(), password.clone()));
    ctx.lake(&["init", "--catalog", &bare]).ok();
    ctx.lake(&["ingest", ctx.people().to_str().unwrap()]).ok();
    // The password file (PGPASSFILE), `*` for the database.
    let mut other = TestContext::sqlite();
    let (_, rest) = bare.split_once("://").unwrap();
    let (_, host_port_db) = rest.split_once('@').unwrap();
    let (host_port, _) = host_port_db.split_once('/').unwrap();
    let (host, port) = host_port.split_once(':').unwrap();
    let pgpass = other.write(".pgpass", format!("{host}:{port}:*:lake:{password}\n"));
    other
        .env
        .push(("PGPASSFILE".into(), pgpass.display().to_string()));
    // The same catalog from a second home: it sees the first one's data.
    other.lake(&["init", "--catalog", &bare]).ok();
    assert_eq!(other.sql("select count(*) as n from people"), "n\n6\n");
}

#[test]
fn connection_failures_say_which_in_one_line() {
    let url = postgres_database();
    let password = postgres_password().unwrap();
    let cases = [
        (
            url.replacen(&password, "wrong", 1),
            "password authentication failed",
        ),
        (
            format!("{}/no_such_database", url.rsplit_once('/').unwrap().0),
            "\"no_such_database\" does not exist",
        ),
        (
            // A port nothing listens on (this one was just free).
            {
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port();
                format!("postgres://lake:{password}@127.0.0.1:{port}/x")
            },
            "error connecting to server",
        ),
    ];
    for (bad, expected) in cases {
        let ctx = TestContext::sqlite();
        let run = ctx.lake(&["ls", "--catalog", &bad]);
        let err = run.fails(1);
        assert!(err.contains(expected), "{bad}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(!err.contains(&password), "{err}");
        assert!(!ctx.home.path().join("catalog.url").exists());
    }
}

#[test]
fn sixteen_writers_in_separate_processes_all_commit() {
    // One PostgreSQL catalog, the objects on the S3 test server.
    let s3 = crate::s3::S3Server::start();
    let ctx = crate::s3::with_s3_env(TestContext::sqlite(), &s3);
    let url = postgres_database();
    let store = format!("s3://{}/team", crate::s3::BUCKET);
    ctx.lake(&["init", "--catalog", &url, "--store", &store])
        .ok();
    // 16 processes at once, each appending its own rows to one of 4
    // datasets (the first of each creates it).
    let files: Vec<_> = (0..16)
        .map(|w| {
            let rows: String = (0..50).map(|i| format!("{w},{i}\n")).collect();
            ctx.write(&format!("w{w}.csv"), format!("writer,i\n{rows}"))
        })
        .collect();
    let children: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(w, f)| {
            ctx.command()
                .args([
                    "ingest",
                    f.to_str().unwrap(),
                    "--name",
                    &format!("d{}", w % 4),
                    "--append",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Every row of every writer, once.
    for d in 0..4 {
        let csv = ctx.sql(&format!(
            "select writer, count(*) as n, count(distinct i) as d from d{d} group by writer order by writer"
        ));
        let expected: String = (0..16)
            .filter(|w| w % 4 == d)
            .map(|w| format!("{w},50,50\n"))
            .collect();
        assert_eq!(csv, format!("writer,n,d\n{expected}"));
    }
    // One snapshot each, ids unique and without gaps.
    let ids: Vec<i64> = ctx
        .catalog_rows("SELECT snapshot_id FROM ducklake_snapshot ORDER BY snapshot_id")
        .into_iter()
        .map(|row| row[0].as_deref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, (0..=16).collect::<Vec<i64>>());
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len());
    // Every writer's object is in the bucket, and the lake checks out.
    let objects = std::fs::read_dir(s3.object_path("team/datasets"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "parquet")
        })
        .count();
    assert_eq!(objects, 16);
    ctx.lake(&["doctor"]).ok();
    // DuckDB (postgres + httpfs extensions) reads what the 16 wrote.
    let info = json(&ctx.lake(&["info", "--format", "json"]));
    let endpoint = s3.endpoint.trim_start_matches("http://");
    let (key, secret) = (crate::s3::ACCESS_KEY, crate::s3::SECRET_KEY);
    let answers = crate::ducklake::duckdb(&[
        format!(
            "CREATE SECRET lake_s3 (TYPE s3, KEY_ID '{key}', SECRET '{secret}', \
             REGION 'us-east-1', ENDPOINT '{endpoint}', URL_STYLE 'path', USE_SSL false)"
        ),
        info["attach"].as_str().unwrap().to_owned(),
        "SELECT count(*), count(DISTINCT writer) FROM (FROM lake.d0 UNION ALL FROM lake.d1 \
         UNION ALL FROM lake.d2 UNION ALL FROM lake.d3)"
            .to_owned(),
    ])
    .unwrap_or_else(|e| panic!("DuckDB failed: {e}"));
    assert_eq!(answers[2].rows[0], vec![Value::from(800), Value::from(16)]);
}

/// Every snapshot's answer to a query, by `lake sql --at`.
fn at_every_snapshot(ctx: &TestContext, sql: &str) -> Vec<String> {
    let log = json(&ctx.lake(&["log", "--format", "json"]));
    let mut snapshots: Vec<i64> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["snapshot"].as_i64().unwrap())
        .collect();
    snapshots.sort();
    snapshots
        .iter()
        .map(|s| {
            let run = ctx.lake(&["sql", "--at", &s.to_string(), "--format", "csv", sql]);
            format!("{s}: {}{}", run.stdout, run.stderr)
        })
        .collect()
}

#[test]
fn a_sqlite_catalog_migrates_to_postgres_and_back_with_its_whole_history() {
    let ctx = TestContext::sqlite();
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    append_grace(&ctx);
    let scores = ctx.write("scores.csv", "name,score\nann,1.5\nbo,2\n");
    ctx.lake(&["ingest", scores.to_str().unwrap()]).ok();
    ctx.lake(&["rm", "scores"]).ok();
    ctx.lake(&["restore", "people", "--to", "1"]).ok();
    let query = "select count(*) as n, max(id) as top from people";
    let before = at_every_snapshot(&ctx, query);
    let log_before = ctx.lake(&["log", "--format", "csv"]).ok().to_owned();
    assert_eq!(before.len(), 6, "{before:?}");

    // Into a database that is not empty: refused, the home unchanged.
    let used = postgres_database();
    let other = TestContext::sqlite();
    other.lake(&["init", "--catalog", &used]).ok();
    other.lake(&["ingest", people.to_str().unwrap()]).ok();
    let err = ctx
        .lake(&["catalog", "migrate", "--to", &used])
        .fails(1)
        .to_owned();
    assert!(err.contains("not new"), "{err}");
    assert!(!ctx.home.path().join("catalog.url").exists());

    // Into a new one: every snapshot answers the same, the log is the same.
    let url = postgres_database();
    let report = json(&ctx.lake(&["catalog", "migrate", "--to", &url, "--format", "json"]));
    assert_eq!(report["snapshots"], 6, "{report}");
    assert!(report["to"].as_str().unwrap().contains(":***@"), "{report}");
    assert_eq!(
        std::fs::read_to_string(ctx.home.path().join("catalog.url"))
            .unwrap()
            .trim(),
        url
    );
    assert_eq!(at_every_snapshot(&ctx, query), before);
    assert_eq!(ctx.lake(&["log", "--format", "csv"]).ok(), log_before);
    let info = json(&ctx.lake(&["info", "--format", "json"]));
    let store = ctx.home.path().join("store");
    assert_eq!(
        info["data_path"].as_str().unwrap(),
        format!("{}/", store.display()),
        "a shared catalog names the store absolutely"
    );
    let answers = duck_read(
        &ctx,
        &["SELECT count(*) FROM lake.people AT (VERSION => 2)"],
    );
    assert_eq!(answers[0].rows[0][0], Value::from(7));
    // The lake goes on, on PostgreSQL.
    append_grace(&ctx);
    let after = at_every_snapshot(&ctx, query);
    assert_eq!(after[..6], before[..]);
    assert_eq!(after.len(), 7);

    // And back into a SQLite file of its own.
    let file = ctx.work.path().join("back.sqlite");
    let to = format!("sqlite:{}", file.display());
    ctx.lake(&["catalog", "migrate", "--to", &to]).ok();
    assert_eq!(
        std::fs::read_to_string(ctx.home.path().join("catalog.url"))
            .unwrap()
            .trim(),
        to
    );
    assert_eq!(at_every_snapshot(&ctx, query), after);
    ctx.lake(&["doctor"]).ok();
    // The home's own file again: catalog.url goes.
    let err = ctx
        .lake(&["catalog", "migrate", "--to", "sqlite:"])
        .fails(1)
        .to_owned();
    assert!(
        err.contains("not new"),
        "the home's old file has history: {err}"
    );
}

#[test]
fn tls_as_sslmode_asks_and_verified_against_the_named_roots() {
    // `lake_tls` may only connect over TLS (scripts/postgres.sh).
    let admin = crate::postgres_server();
    let password = postgres_password().unwrap();
    let name = format!("lake_tls_{}", std::process::id());
    postgres::Client::connect(&admin, postgres::NoTls)
        .unwrap()
        .batch_execute(&format!("CREATE DATABASE {name} OWNER lake_tls"))
        .unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    let url = format!("{}/{name}", base.replacen("://lake:", "://lake_tls:", 1));
    let ca = std::env::var("LAKE_TEST_POSTGRES_CA")
        .expect("LAKE_TEST_POSTGRES_CA names the test server's CA (.ci/run sets it)");
    let ls = |query: &str| {
        let ctx = TestContext::sqlite();
        let run = ctx.lake(&["ls", "--catalog", &format!("{url}?{query}")]);
        assert!(!run.stderr.contains(&password), "{run:?}");
        run
    };
    let err = ls("sslmode=disable").fails(1).to_owned();
    assert!(err.contains("no encryption"), "{err}");
    ls("sslmode=prefer").ok();
    ls("sslmode=require").ok();
    ls(&format!("sslmode=verify-full&sslrootcert={ca}")).ok();
    ls(&format!("sslmode=verify-ca&sslrootcert={ca}")).ok();
    // Roots that did not sign the server's certificate: refused.
    let err = ls("sslmode=verify-full&sslrootcert=system")
        .fails(1)
        .to_owned();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let err = ls("sslmode=verify-full&sslrootcert=/nonexistent/root.crt")
        .fails(1)
        .to_owned();
    assert!(err.contains("/nonexistent/root.crt"), "{err}");
    let err = ls("sslmode=sometimes").fails(1).to_owned();
    assert!(err.contains("verify-full"), "{err}");
    // DuckDB attaches with the same TLS words (its libpq verifies too).
    let ctx = TestContext::sqlite();
    let verified = format!("{url}?sslmode=verify-full&sslrootcert={ca}");
    ctx.lake(&["init", "--catalog", &verified]).ok();
    ctx.lake(&["ingest", ctx.people().to_str().unwrap()]).ok();
    let info = json(&ctx.lake(&["info", "--format", "json"]));
    let attach = info["attach"].as_str().unwrap();
    assert!(
        attach.contains("sslmode=verify-full") && attach.contains(&format!("sslrootcert={ca}")),
        "{attach}"
    );
    let answers = duck_read(&ctx, &["SELECT count(*) FROM lake.people"]);
    assert_eq!(answers[0].rows[0][0], Value::from(6));
}
