//! `lake sql`: joins, statement sources, and datasets whose objects broke.

use crate::TestContext;

#[test]
fn joins_aggregates_and_ctes_across_datasets() {
    let ctx = TestContext::new();
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    let teams = ctx.write("teams.csv", "person_id,team\n1,red\n2,blue\n3,red\n");
    ctx.lake(&["ingest", teams.to_str().unwrap()]).ok();
    let q = "with t as (select team, count(*) as n, avg(p.age) as age from people p join teams on p.id = teams.person_id group by team) select * from t order by team";
    assert_eq!(ctx.sql(q), "team,n,age\nblue,1,29.0\nred,2,37.5\n");
}

#[test]
fn statements_from_a_file_or_stdin() {
    let ctx = TestContext::new();
    let f = ctx.write("q.sql", "select 40 + 2 as answer");
    assert_eq!(
        ctx.lake(&["sql", "--format", "csv", "-f", f.to_str().unwrap()])
            .ok(),
        "answer\n42\n"
    );
    let run = ctx.lake_stdin(&["sql", "--format", "csv", "-"], b"select 'x' as y");
    assert_eq!(run.ok(), "y\nx\n");
}

#[test]
fn a_broken_dataset_fails_only_its_own_queries() {
    let ctx = TestContext::new();
    let people = ctx.people();
    let report = crate::json(&ctx.lake(&["ingest", people.to_str().unwrap(), "--format", "json"]));
    let other = ctx.write("fine.csv", "x\n1\n");
    ctx.lake(&["ingest", other.to_str().unwrap()]).ok();
    let key = report["key"].as_str().unwrap();
    let object = ctx.home.path().join("store").join(key);

    std::fs::remove_file(&object).unwrap();
    let err = ctx.lake(&["sql", "select count(*) from people"]);
    let stderr = err.fails(1);
    assert!(
        stderr.contains("people") && stderr.contains(key) && stderr.contains("missing"),
        "{stderr}"
    );
    assert_eq!(ctx.sql("select x from fine"), "x\n1\n");

    std::fs::write(&object, b"this is not parquet").unwrap();
    let err = ctx.lake(&["sql", "select name from people"]);
    let stderr = err.fails(1);
    assert!(
        stderr.contains("people") && stderr.contains(key),
        "{stderr}"
    );
    assert_eq!(ctx.sql("select x from fine"), "x\n1\n");
}

#[test]
fn dataset_names_are_case_insensitive_like_sql() {
    let ctx = TestContext::new();
    let people = ctx.people();
    ctx.lake(&["ingest", people.to_str().unwrap()]).ok();
    assert_eq!(ctx.sql("select count(*) as n from PEOPLE"), "n\n6\n");
    assert_eq!(ctx.sql("select count(*) as n from \"People\""), "n\n6\n");
    assert_eq!(ctx.show("People")["name"], "people");
}
