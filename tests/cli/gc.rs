//! `lake gc` and `lake doctor`, on local and S3 homes: what gc removes is
//! exactly what no kept snapshot names (after the grace period), never a
//! raw object, never an object a running ingest or a kept snapshot needs,
//! also when gc is killed; doctor names what is wrong.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use crate::s3::{BUCKET, S3Server, s3_lake};
use crate::serve::Server;
use crate::{TestContext, json};

/// Every key under `datasets/` of a store kept in the folder `root`.
fn dataset_keys(root: &Path) -> Vec<String> {
    let mut keys = Vec::new();
    let mut stack = vec![root.join("datasets")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else if !e.file_name().to_string_lossy().starts_with('.') {
                let key = e.path().strip_prefix(root).unwrap().to_owned();
                keys.push(key.to_string_lossy().into_owned());
            }
        }
    }
    keys.sort();
    keys
}

/// Writes an object into the store folder, as a killed writer leaves one,
/// last changed `age` ago.
fn plant(root: &Path, key: &str, age: Duration) -> String {
    let path = root.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"half an object").unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
    key.to_owned()
}

fn gc(ctx: &TestContext, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["gc", "--format", "json"];
    all.extend_from_slice(args);
    json(&ctx.lake(&all))
}

const HOUR: Duration = Duration::from_secs(3600);

/// The same story on any store whose objects live in the folder `root`.
fn gc_removes_exactly_what_no_kept_snapshot_names(ctx: &TestContext, root: &Path) {
    let v1 = ctx.write("people.csv", "id,name\n1,Ann\n2,Bob\n");
    let first = json(&ctx.lake(&["ingest", v1.to_str().unwrap(), "--format", "json"]));
    let v2 = ctx.write("people2.csv", "id,name\n1,Ann\n2,Bob\n3,Cy\n");
    let second = json(&ctx.lake(&[
        "ingest",
        v2.to_str().unwrap(),
        "--name",
        "people",
        "--replace",
        "--format",
        "json",
    ]));
    let raw = ctx.write("notes.txt", "raw bytes");
    ctx.lake(&["put", "notes/a.txt", raw.to_str().unwrap()])
        .ok();
    let old_orphan = plant(
        root,
        &format!("datasets/people/{}.parquet", "a".repeat(64)),
        2 * HOUR,
    );
    let young_orphan = plant(root, "datasets/gone/ducklake-x.parquet", Duration::ZERO);
    let k1 = first["key"].as_str().unwrap().to_owned();
    let k2 = second["key"].as_str().unwrap().to_owned();
    let mut all = vec![
        k1.clone(),
        k2.clone(),
        old_orphan.clone(),
        young_orphan.clone(),
    ];
    all.sort();
    assert_eq!(dataset_keys(root), all);

    // By default every snapshot is kept: only the old orphan goes.
    let report = gc(ctx, &[]);
    assert_eq!(report["objects"], 1, "{report}");
    assert_eq!(report["bytes"], 14, "{report}");
    assert_eq!(report["young"], 1, "{report}");
    assert_eq!(report["snapshots"], 0, "{report}");
    all.retain(|k| *k != old_orphan);
    assert_eq!(dataset_keys(root), all);

    // Keeping the newest snapshot only, with no grace: the replaced object
    // and the young orphan would go; a dry run removes nothing.
    let dry = gc(ctx, &["--keep", "1", "--grace", "0s", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["objects"], 2, "{dry}");
    assert_eq!(dataset_keys(root), all);
    let report = gc(ctx, &["--keep", "1", "--grace", "0s"]);
    assert_eq!(
        (&report["objects"], &report["bytes"], &report["files"]),
        (&dry["objects"], &dry["bytes"], &dry["files"]),
        "{report} vs {dry}"
    );
    assert_eq!(dataset_keys(root), [k2]);
    // The raw object, the data and the present are untouched.
    assert_eq!(ctx.lake(&["get", "notes/a.txt"]).ok(), "raw bytes");
    assert_eq!(ctx.sql("select count(*) as n from people"), "n\n3\n");
    let at = first["snapshot"].as_i64().unwrap().to_string();
    let err = ctx
        .lake(&["sql", "--at", &at, "select count(*) from people"])
        .fails(4)
        .to_owned();
    assert!(err.contains("snapshot"), "{err}");
    ctx.lake(&["doctor"]).ok();
    // Nothing left to do.
    let again = gc(ctx, &["--keep", "1", "--grace", "0s"]);
    assert_eq!(
        (&again["objects"], &again["snapshots"]),
        (&0.into(), &0.into())
    );
}

#[test]
fn gc_on_a_local_store_removes_exactly_what_no_kept_snapshot_names() {
    let ctx = TestContext::new();
    let root = ctx.home.path().join("store");
    gc_removes_exactly_what_no_kept_snapshot_names(&ctx, &root);
    // DuckDB's DuckLake reads what is kept, and knows the rest is gone.
    let answers = crate::ducklake::duck_read(
        &ctx,
        &[
            "SELECT count(*) FROM lake.people",
            "SELECT count(*) FROM lake.snapshots()",
        ],
    );
    assert_eq!(answers[0].rows, [[serde_json::json!(3)]]);
    assert_eq!(answers[1].rows, [[serde_json::json!(1)]]);
}

#[test]
fn gc_on_s3_removes_exactly_what_no_kept_snapshot_names() {
    let (ctx, server): (TestContext, S3Server) = s3_lake("lake");
    let root: PathBuf = server.data.path().join(BUCKET).join("lake");
    gc_removes_exactly_what_no_kept_snapshot_names(&ctx, &root);
}

#[test]
fn doctor_names_missing_truncated_and_corrupted_objects() {
    let ctx = TestContext::new();
    let people = ctx.people();
    let report = json(&ctx.lake(&["ingest", people.to_str().unwrap(), "--format", "json"]));
    let key = report["key"].as_str().unwrap();
    let path = ctx.home.path().join("store").join(key);
    let healthy = json(&ctx.lake(&["doctor", "--deep", "--format", "json"]));
    assert_eq!(healthy["problems"], serde_json::json!([]), "{healthy}");
    assert_eq!(healthy["objects"], 1);
    let good = std::fs::read(&path).unwrap();

    // One byte changed: only a deep check sees it.
    let mut bad = good.clone();
    bad[100] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();
    ctx.lake(&["doctor"]).ok();
    // Doctor prints what it found and exits 1.
    let run = ctx.lake(&["doctor", "--deep"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(&format!("{key}: its bytes hash to ")),
        "{run:?}"
    );
    // Cut short: the size says it.
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let run = ctx.lake(&["doctor"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "{key}: {} bytes, the catalog records {}",
            good.len() / 2,
            good.len()
        )),
        "{run:?}"
    );
    // Gone.
    std::fs::remove_file(&path).unwrap();
    let run = ctx.lake(&["doctor", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["problems"],
        serde_json::json!([format!("{key}: missing from the store")])
    );
    // An orphan is no problem, but gc's work.
    std::fs::write(&path, &good).unwrap();
    plant(
        &ctx.home.path().join("store"),
        "datasets/people/stray.parquet",
        2 * HOUR,
    );
    let report = json(&ctx.lake(&["doctor", "--format", "json"]));
    assert_eq!(
        (&report["orphans"], &report["orphan_bytes"]),
        (&1.into(), &14.into())
    );
    // A catalog that breaks DuckLake's rules.
    ctx.catalog_execute(
        "UPDATE ducklake_data_file SET end_snapshot = begin_snapshot - 1;
         UPDATE ducklake_snapshot SET next_file_id = 0;",
    );
    let run = ctx.lake(&["doctor", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let problems: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for expected in [
        "is not below the snapshot's next_file_id",
        "has a snapshot range that is not valid",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{expected}: {problems:?}"
        );
    }
}

#[test]
fn gc_in_a_loop_never_takes_what_ingests_and_queries_need() {
    let ctx = TestContext::new();
    let rounds = 12;
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let paths: Vec<PathBuf> = (0..rounds)
                .map(|r| {
                    // Round 3 brings back round 1's rows: the same object.
                    let r = if r == 3 { 1 } else { r };
                    let rows: String = (0..200).map(|i| format!("{i},{}\n", i * r + w)).collect();
                    ctx.write(&format!("w{w}r{r}.csv"), format!("id,v\n{rows}"))
                })
                .collect();
            (w, paths)
        })
        .collect();
    ctx.lake(&["ingest", writers[0].1[0].to_str().unwrap(), "--name", "d0"])
        .ok();
    // A server answers queries all along.
    let server = Server::start(&ctx, &[]);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        let (server, stop_ref) = (&server, &stop);
        let served = s.spawn(move || {
            let mut answers = 0;
            while !stop_ref.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, body) = server.sql("select count(*) as n from d0");
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["rows"][0][0], 200, "{body}");
                answers += 1;
            }
            answers
        });
        for (w, paths) in &writers {
            let ctx = &ctx;
            handles.push(s.spawn(move || {
                for p in paths {
                    let name = format!("d{w}");
                    let run =
                        ctx.lake(&["ingest", p.to_str().unwrap(), "--name", &name, "--replace"]);
                    run.ok();
                    let run = ctx.lake(&["sql", &format!("select count(*) as n from {name}")]);
                    assert_eq!(run.ok(), "n\n200\n");
                }
            }));
        }
        let gc = s.spawn(|| {
            let mut removed = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Queries run for far less than the grace.
                removed += gc(&ctx, &["--keep", "2", "--grace", "2s"])["objects"]
                    .as_u64()
                    .unwrap();
            }
            removed
        });
        for h in handles {
            h.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let removed = gc.join().unwrap();
        assert!(served.join().unwrap() > 0);
        assert!(removed > 0, "gc removed nothing while the writers ran");
    });
    // Every object a kept snapshot names is there, and every dataset reads.
    ctx.lake(&["doctor", "--deep"]).ok();
    for w in 0..8 {
        assert_eq!(
            ctx.sql(&format!("select count(*) as n from d{w}")),
            "n\n200\n"
        );
    }
}

#[test]
fn a_killed_gc_leaves_every_kept_object_and_the_next_one_finishes() {
    let ctx = TestContext::new();
    for i in 0..40 {
        for round in 0..2 {
            let path = ctx.write(&format!("t{i}.csv"), format!("id\n{}\n", i * 10 + round));
            ctx.lake(&["ingest", path.to_str().unwrap(), "--replace"])
                .ok();
        }
    }
    let root = ctx.home.path().join("store");
    assert_eq!(dataset_keys(&root).len(), 80);
    for delay in [0, 5, 10, 20, 40] {
        let mut child = ctx
            .command()
            .args(["gc", "--keep", "1", "--grace", "0s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        ctx.lake(&["doctor"]).ok();
    }
    gc(&ctx, &["--keep", "1", "--grace", "0s"]);
    assert_eq!(dataset_keys(&root).len(), 40);
    ctx.lake(&["doctor", "--deep"]).ok();
}

#[test]
fn the_server_removes_datasets_collects_garbage_and_checks_the_lake() {
    let ctx = TestContext::new();
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    let server = Server::start(&ctx, &[]);
    let (status, body) = server.delete("/v1/catalog/people");
    assert_eq!(status, 200, "{body}");
    let removed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(removed["status"], "removed");
    assert_eq!(server.delete("/v1/catalog/people").0, 404);
    let (status, body) = server.get("/v1/doctor");
    assert_eq!(status, 200, "{body}");
    let doctor: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&doctor["healthy"], &doctor["objects"]),
        (&true.into(), &1.into())
    );
    let (status, body) = server.post(
        "/v1/gc",
        "application/json",
        br#"{"keep": 1, "grace": "0s", "dry_run": true}"#,
    );
    assert_eq!(status, 200, "{body}");
    let dry: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&dry["objects"], &dry["dry_run"]),
        (&1.into(), &true.into())
    );
    assert_eq!(ctx.dataset_files().len(), 1);
    let (status, body) = server.post(
        "/v1/gc",
        "application/json",
        br#"{"keep": 1, "grace": "0s"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(ctx.dataset_files().is_empty());
    let (status, body) = server.post("/v1/gc", "application/json", br#"{"keep": 0}"#);
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.post("/v1/gc", "application/json", br#"{"kept": 1}"#);
    assert_eq!(status, 400, "{body}");
}

#[test]
fn compact_keeps_every_answer_and_leaves_the_old_objects_to_gc() {
    let ctx = TestContext::new();
    for i in 0..6 {
        // A column added halfway: older rows read NULL.
        let text = if i < 3 {
            let rows: String = (0..400)
                .map(|r| format!("{},{}\n", i * 1000 + r, r % 7))
                .collect();
            format!("id,k\n{rows}")
        } else {
            let rows: String = (0..400)
                .map(|r| format!("{},{},x{r}\n", i * 1000 + r, r % 7))
                .collect();
            format!("id,k,note\n{rows}")
        };
        let path = ctx.write(&format!("part{i}.csv"), text);
        let mut args = vec!["ingest", path.to_str().unwrap(), "--name", "t", "--append"];
        if i == 3 {
            args.push("--evolve");
        }
        ctx.lake(&args).ok();
    }
    // DuckDB deletes some rows (a delete file).
    crate::ducklake::duck_write(&ctx, &["DELETE FROM lake.t WHERE k = 3"]);
    let everything = "select * from t";
    let before = ctx.sql(everything);
    let summary = "select count(*) as n, sum(id) as ids, count(note) as notes from t";
    let before_summary = ctx.sql(summary);
    // Six objects and DuckDB's delete files.
    let old = ctx.dataset_files().len();
    assert!(old > 6, "{old}");

    let size: u64 = ctx
        .dataset_files()
        .iter()
        .map(|f| f.metadata().unwrap().len())
        .sum();
    let target = (size / 4).to_string();
    let report = json(&ctx.lake(&["compact", "t", "--target-size", &target, "--format", "json"]));
    assert_eq!(report["status"], "compacted", "{report}");
    assert_eq!(report["before"], 6, "{report}");
    let after = report["after"].as_u64().unwrap();
    assert!((2..6).contains(&after), "{report}");
    // The same rows, in the same order, in lake and in DuckDB.
    assert_eq!(ctx.sql(everything), before);
    assert_eq!(ctx.sql(summary), before_summary);
    let answers =
        crate::ducklake::duck_read(&ctx, &["SELECT count(*), sum(id), count(note) FROM lake.t"]);
    let theirs: Vec<String> = answers[0].rows[0].iter().map(|v| v.to_string()).collect();
    let ours = before_summary.lines().nth(1).unwrap().to_owned();
    assert_eq!(theirs.join(","), ours);
    // Again: nothing to do.
    let again = json(&ctx.lake(&["compact", "t", "--target-size", &target, "--format", "json"]));
    assert_eq!(again["status"], "unchanged", "{again}");
    // The old objects are garbage once their snapshots expire.
    let report = gc(&ctx, &["--keep", "1", "--grace", "0s"]);
    assert_eq!(report["objects"], old, "{report}");
    assert_eq!(ctx.dataset_files().len() as u64, after);
    ctx.lake(&["doctor", "--deep"]).ok();
    assert_eq!(ctx.sql(everything), before);
    ctx.lake(&["compact", "nope"]).fails(4);
}

#[test]
fn files_duckdb_expired_are_deleted_with_their_schedule() {
    let ctx = TestContext::new();
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    crate::ducklake::duck_write(
        &ctx,
        &[
            "CALL lake.set_option('data_inlining_row_limit', 0)",
            "INSERT INTO lake.people (id, name) VALUES (100, 'Duck')",
            "DELETE FROM lake.people WHERE id = 100",
            "CALL ducklake_expire_snapshots('lake', older_than => now())",
        ],
    );
    let scheduled = || -> i64 {
        ctx.catalog_value("SELECT count(*) FROM ducklake_files_scheduled_for_deletion")
            .parse()
            .unwrap()
    };
    assert!(scheduled() > 0, "DuckDB scheduled nothing");
    let before = ctx.dataset_files().len();
    let report = gc(&ctx, &["--grace", "0s"]);
    assert!(report["objects"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(scheduled(), 0);
    assert!(ctx.dataset_files().len() < before);
    ctx.lake(&["doctor", "--deep"]).ok();
    assert_eq!(ctx.sql("select count(*) as n from people"), "n\n6\n");
}

#[test]
fn doctor_on_s3_names_missing_resized_and_corrupted_objects() {
    let (ctx, server) = s3_lake("lake");
    let people = ctx.people();
    let report = json(&ctx.lake(&["ingest", people.to_str().unwrap(), "--format", "json"]));
    let key = report["key"].as_str().unwrap().to_owned();
    let path = server.object_path(&format!("lake/{key}"));
    ctx.lake(&["doctor", "--deep"]).ok();
    let good = std::fs::read(&path).unwrap();
    let problems = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["doctor", "--format", "json"];
        all.extend_from_slice(args);
        let run = ctx.lake(&all);
        assert_eq!(run.code, 1, "{run:?}");
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        serde_json::from_value(report["problems"].clone()).unwrap()
    };
    // The bucket's bytes are checked, not the (good) cached copy.
    let mut bad = good.clone();
    bad[100] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();
    let found = problems(&["--deep"]);
    assert!(
        found.len() == 1 && found[0].starts_with(&format!("{key}: its bytes hash to ")),
        "{found:?}"
    );
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    assert_eq!(
        problems(&[]),
        [format!(
            "{key}: {} bytes, the catalog records {}",
            good.len() / 2,
            good.len()
        )]
    );
    std::fs::remove_file(&path).unwrap();
    assert_eq!(problems(&[]), [format!("{key}: missing from the store")]);
}

#[test]
fn gc_with_no_grace_never_fails_a_reader_of_lake() {
    let ctx = TestContext::new();
    let rows = 5000;
    // Two versions of each writer's dataset, written in turn: every ingest
    // replaces the one before, whose object the next gc may take.
    let files: Vec<[PathBuf; 2]> = (0..8)
        .map(|w| {
            [0, 1].map(|turn| {
                let body: String = (0..rows)
                    .map(|i| format!("{i},{}\n", i * (turn + 2) + w))
                    .collect();
                ctx.write(&format!("w{w}t{turn}.csv"), format!("id,v\n{body}"))
            })
        })
        .collect();
    for (w, pair) in files.iter().enumerate() {
        ctx.lake(&[
            "ingest",
            pair[0].to_str().unwrap(),
            "--name",
            &format!("d{w}"),
        ])
        .ok();
    }
    let server = Server::start(&ctx, &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let running = || std::time::Instant::now() < deadline;
    std::thread::scope(|s| {
        let (ctx, server) = (&ctx, &server);
        let writers: Vec<_> = files
            .iter()
            .enumerate()
            .map(|(w, pair)| {
                s.spawn(move || {
                    let mut turn = 1;
                    while running() {
                        let file = pair[turn % 2].to_str().unwrap();
                        ctx.lake(&["ingest", file, "--name", &format!("d{w}")]).ok();
                        turn += 1;
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..8)
            .map(|r| {
                s.spawn(move || {
                    let mut answered = 0;
                    while running() {
                        let d = (answered + r) % 8;
                        let sql = format!("select count(*) as n, sum(v) as s from d{d}");
                        if r % 2 == 0 {
                            let out = ctx.lake(&["sql", "--format", "csv", &sql]);
                            assert!(out.ok().starts_with(&format!("n,s\n{rows},")), "{out:?}");
                        } else {
                            let (status, body) = server.sql(&sql);
                            assert_eq!(status, 200, "{body}");
                            assert_eq!(body["rows"][0][0], rows, "{body}");
                        }
                        answered += 1;
                    }
                    answered
                })
            })
            .collect();
        let collector = s.spawn(move || {
            let mut removed = 0;
            while running() {
                removed += gc(ctx, &["--keep", "1", "--grace", "0s"])["objects"]
                    .as_u64()
                    .unwrap();
            }
            removed
        });
        for w in writers {
            w.join().unwrap();
        }
        for r in readers {
            assert!(r.join().unwrap() > 0, "a reader answered nothing");
        }
        assert!(collector.join().unwrap() > 0, "gc removed nothing");
    });
    drop(server);
    ctx.lake(&["doctor", "--deep"]).ok();
}
