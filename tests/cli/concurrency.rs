//! Several processes on one home, and processes killed mid-ingest.

use std::process::Stdio;
use std::time::Duration;

use crate::TestContext;

#[test]
fn eight_ingests_at_once_all_succeed() {
    let ctx = TestContext::new();
    let mut paths = Vec::new();
    for i in 0..8 {
        let mut csv = String::from("id,value\n");
        for r in 0..2000 {
            csv.push_str(&format!("{r},{}\n", r * i));
        }
        paths.push(ctx.write(&format!("part{i}.csv"), csv));
    }
    // Four datasets of their own and four appends to one shared dataset,
    // all started together on a home that does not exist yet.
    let children: Vec<_> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut cmd = ctx.command();
            cmd.args(["ingest", p.to_str().unwrap()]);
            if i >= 4 {
                cmd.args(["--name", "shared", "--append"]);
            }
            cmd.stdout(Stdio::piped())
                .stderr(Stdio::piped())
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
    assert_eq!(ctx.sql("select count(*) as n from shared"), "n\n8000\n");
    for i in 0..4 {
        assert_eq!(
            ctx.sql(&format!("select count(*) as n from part{i}")),
            "n\n2000\n"
        );
    }
    assert_eq!(ctx.show("shared")["version"], 4);
}

#[test]
fn a_killed_ingest_leaves_a_consistent_catalog() {
    let ctx = TestContext::new();
    let mut csv = String::from("id,name,score\n");
    for r in 0..300_000 {
        csv.push_str(&format!("{r},name{r},{}.5\n", r % 1000));
    }
    let big = ctx.write("big.csv", &csv);
    let small = ctx.write("small.csv", "id,name,score\n1,a,1.5\n");
    ctx.lake(&["ingest", small.to_str().unwrap(), "--name", "big"])
        .ok();
    for delay_ms in [5, 30, 80, 150, 300, 600] {
        let mut child = ctx
            .command()
            .args(["ingest", big.to_str().unwrap(), "--append"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Every object the catalog names exists and the dataset answers.
        let show = ctx.show("big");
        for object in show["objects"].as_array().unwrap() {
            let key = object["key"].as_str().unwrap();
            assert!(
                ctx.home.path().join("store").join(key).exists(),
                "{key} missing after kill at {delay_ms} ms"
            );
        }
        let n: u64 = ctx
            .sql("select count(*) from big")
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            n == 1 || n == 300_001,
            "{n} rows after kill at {delay_ms} ms"
        );
        // Every data file of every snapshot the DuckLake catalog names exists.
        let paths: Vec<String> = ctx
            .catalog_rows(
                "SELECT s.path || t.path || f.path FROM ducklake_data_file f
                 JOIN ducklake_table t USING (table_id) JOIN ducklake_schema s USING (schema_id)",
            )
            .into_iter()
            .map(|row| row[0].clone().unwrap())
            .collect();
        assert!(!paths.is_empty());
        for p in paths {
            assert!(
                ctx.home.path().join("store").join(&p).exists(),
                "{p} missing after kill at {delay_ms} ms"
            );
        }
    }
}
