//! `lake ls` and `lake show`.

use crate::TestContext;

#[test]
fn ls_lists_every_dataset() {
    let ctx = TestContext::new();
    assert_eq!(
        ctx.lake(&["ls", "--format", "csv"]).ok(),
        "name,rows,columns,bytes,version,updated\n"
    );
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    let other = ctx.write("other.csv", "x\n1\n2\n");
    ctx.lake(&["ingest", other.to_str().unwrap()]).ok();
    let out = ctx.lake(&["ls", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(rows[0]["name"], "other");
    assert_eq!(rows[0]["rows"], 2);
    assert_eq!(rows[1]["name"], "people");
    assert_eq!(rows[1]["columns"], 7);
    assert_eq!(rows[1]["version"], 1);
    assert!(rows[1]["bytes"].as_u64().unwrap() > 0);
    assert!(rows[1]["updated"].as_str().unwrap().starts_with("20"));
}

#[test]
fn show_tells_schema_identity_versions_and_objects() {
    let ctx = TestContext::new();
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    let show = ctx.show("people");
    assert_eq!(show["dataset_id"], "54eb9062-488a-5c80-9ade-2bd63f8dc68c");
    assert_eq!(show["fingerprint"].as_str().unwrap().len(), 64);
    assert_eq!(show["schema"].as_array().unwrap().len(), 7);
    assert_eq!(show["versions"][0]["version"], 1);
    assert_eq!(show["versions"][0]["objects"][0]["rows"], 6);
    assert_eq!(
        show["objects"][0]["key"],
        show["versions"][0]["objects"][0]["key"]
    );
    let table = ctx.lake(&["show", "people", "--format", "table"]);
    let table = table.ok();
    assert!(
        table.contains("54eb9062-488a-5c80-9ade-2bd63f8dc68c") && table.contains("joined"),
        "{table}"
    );
    let csv = ctx.lake(&["show", "people", "--format", "csv"]);
    assert!(csv.ok().starts_with("column,type\nid,BIGINT\n"), "{csv:?}");
}

#[test]
fn missing_dataset_is_exit_4() {
    let ctx = TestContext::new();
    let err = ctx.lake(&["show", "ghost"]);
    assert!(err.fails(4).contains("dataset not found: ghost"), "{err:?}");
}

#[test]
fn init_records_the_store_once() {
    let ctx = TestContext::new();
    let store = ctx.work.path().join("objects");
    let out = ctx.lake(&[
        "init",
        "--store",
        store.to_str().unwrap(),
        "--format",
        "json",
    ]);
    crate::json(&out);
    let people = ctx.people();
    let report = crate::json(&ctx.lake(&["ingest", people.to_str().unwrap(), "--format", "json"]));
    assert!(store.join(report["key"].as_str().unwrap()).exists());
    let other = ctx.work.path().join("elsewhere");
    ctx.lake(&["init", "--store", other.to_str().unwrap()])
        .fails(2);
    ctx.lake(&["init", "--store", store.to_str().unwrap()]).ok();
}

#[test]
fn init_accepts_the_default_store_named_in_full() {
    let ctx = TestContext::new();
    ctx.lake(&["ls"]).ok();
    let default = ctx.home.path().join("store");
    ctx.lake(&["init", "--store", default.to_str().unwrap()])
        .ok();
}

#[test]
fn a_store_that_would_hold_the_home_is_refused() {
    let ctx = TestContext::new();
    let home = ctx.home.path();
    let parent = home.parent().unwrap().to_owned();
    for store in [
        home.to_owned(),
        parent,
        home.join("cache"),
        home.join("tmp/x"),
    ] {
        let run = ctx.lake(&["init", "--store", store.to_str().unwrap()]);
        assert!(
            run.fails(2).contains("overlaps this lake's home"),
            "{run:?}"
        );
    }
    // Nothing was created by the refusals.
    assert!(!home.join("catalog.sqlite").exists());
    // Inside the default store's folder is fine.
    let nested = home.join("store/objects");
    ctx.lake(&["init", "--store", nested.to_str().unwrap()])
        .ok();
}

#[test]
fn what_killed_processes_left_in_the_home_is_swept() {
    let ctx = TestContext::new();
    ctx.lake(&["ls"]).ok();
    let tmp = ctx.home.path().join("tmp");
    let (old, fresh) = (tmp.join(".tmpOLD"), tmp.join(".tmpNEW"));
    std::fs::write(&old, "spooled upload").unwrap();
    std::fs::write(&fresh, "being written").unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    ctx.lake(&["ls"]).ok();
    assert!(!old.exists(), "a stale spool was kept");
    assert!(fresh.exists(), "a file in use was swept");
}
