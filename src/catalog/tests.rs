use super::*;
use crate::schema::{Column, ColumnType};

fn schema(t: ColumnType) -> Schema {
    Schema {
        columns: vec![Column {
            name: "a".into(),
            column_type: t,
        }],
    }
}

fn obj(name: &str, sha: &str, rows: u64) -> NewObject {
    NewObject {
        object: ObjectRef {
            key: format!("datasets/{name}/{sha}.parquet"),
            rows,
            bytes: rows * 10,
        },
        sha256: sha.into(),
        footer_size: Some(10),
        stats: vec![ColumnStats {
            value_count: rows,
            null_count: 0,
            min: Some("1".into()),
            max: Some(rows.to_string()),
            contains_nan: None,
            bounds_exact: true,
            size_bytes: 5,
        }],
    }
}

/// An overwrite of dataset `t` with one object of `rows` rows.
fn commit_of(s: &Schema, rows: u64) -> Commit<'_> {
    Commit {
        name: "t",
        dataset_id: "id",
        schema: s,
        object: obj("t", "k1", rows),
        mode: WriteMode::Overwrite,
        evolve: false,
        object_present: None,
    }
}

/// Each test runs on a SQLite catalog and on a PostgreSQL one.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[test]
            fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let mut cat = super::Catalog::open(&dir.path().join("c.sqlite")).unwrap();
                cat.record_data_path("store/").unwrap();
                super::$name(cat);
            })*
        }
        mod on_postgres {
            $(#[test]
            fn $name() {
                let url = super::super::db::fresh_test_database();
                let mut cat = super::Catalog::open_postgres(&url).unwrap();
                cat.record_data_path("/lake/store/").unwrap();
                super::$name(cat);
            })*
        }
    };
}

on_both!(
    versions_follow_the_rules_and_each_change_is_one_snapshot,
    remove_and_restore_make_snapshots_without_copying,
    snapshot_times_resolve_to_the_newest_before,
    gc_references_see_what_is_committed_after_they_were_read,
    a_read_lease_keeps_its_snapshot_until_released_or_lapsed,
    a_column_added_to_a_table_with_rows_holds_nulls_even_in_an_old_catalog,
);

fn versions_follow_the_rules_and_each_change_is_one_snapshot(mut cat: Catalog) {
    assert_eq!(cat.current_snapshot().unwrap(), 0);
    let s = schema(ColumnType::Bigint);
    let mut commit = commit_of(&s, 2);
    assert_eq!(cat.commit(&commit).unwrap().status, CommitStatus::Created);
    assert_eq!(cat.current_snapshot().unwrap(), 1);
    assert_eq!(cat.commit(&commit).unwrap().status, CommitStatus::Unchanged);
    commit.mode = WriteMode::Append;
    assert_eq!(cat.commit(&commit).unwrap().status, CommitStatus::Unchanged);
    assert_eq!(cat.current_snapshot().unwrap(), 1, "unchanged makes none");
    commit.object = obj("t", "k2", 3);
    let c = cat.commit(&commit).unwrap();
    assert_eq!(
        (
            c.status,
            c.version.version,
            c.version.rows,
            c.version.snapshot
        ),
        (CommitStatus::Updated, 2, 5, 2)
    );
    commit.mode = WriteMode::Overwrite;
    let c = cat.commit(&commit).unwrap();
    assert_eq!((c.version.version, c.version.rows), (3, 3));

    let other = schema(ColumnType::Varchar);
    commit.schema = &other;
    assert!(matches!(
        cat.commit(&commit),
        Err(CatalogError::SchemaConflict { .. })
    ));
    assert_eq!(cat.dataset("T").unwrap().current.version, 3);
    commit.mode = WriteMode::Replace;
    commit.object = obj("t", "k3", 1);
    assert_eq!(cat.commit(&commit).unwrap().version.version, 4);
    assert_eq!(cat.versions("t").unwrap().len(), 4);
    assert!(matches!(
        cat.dataset("nope"),
        Err(CatalogError::NotFound { .. })
    ));
    // Time travel: snapshot 2 had both objects.
    let then = cat.dataset_at("t", 2).unwrap();
    assert_eq!(then.current.rows, 5);
    assert_eq!(then.current.objects.len(), 2);
}

fn remove_and_restore_make_snapshots_without_copying(mut cat: Catalog) {
    let s = schema(ColumnType::Bigint);
    let mut commit = commit_of(&s, 2);
    cat.commit(&commit).unwrap();
    commit.object = obj("t", "k2", 7);
    cat.commit(&commit).unwrap();
    let restored = cat.restore("t", 1).unwrap();
    assert_eq!(restored.version.rows, 2);
    assert_eq!(restored.version.objects[0].key, "datasets/t/k1.parquet");
    assert_eq!(cat.restore("t", 3).unwrap().status, CommitStatus::Unchanged);
    let removed = cat.remove("t").unwrap();
    assert!(matches!(
        cat.dataset("t"),
        Err(CatalogError::NotFound { .. })
    ));
    assert!(cat.names(None).unwrap().is_empty());
    assert_eq!(cat.dataset_at("t", removed - 1).unwrap().current.rows, 2);
    // Restoring a removed dataset brings it back under its table id.
    let back = cat.restore("t", 2).unwrap();
    assert_eq!(back.version.rows, 7);
    assert!(matches!(
        cat.remove("nope"),
        Err(CatalogError::NotFound { .. })
    ));
    let log = cat.log(Some("t")).unwrap();
    assert_eq!(log[0].change, "restored to snapshot 2");
    assert!(
        log.iter()
            .any(|e| e.change == "removed" && e.rows.is_none())
    );
}

fn snapshot_times_resolve_to_the_newest_before(cat: Catalog) {
    assert_eq!(cat.resolve_snapshot("0").unwrap(), 0);
    assert!(matches!(
        cat.resolve_snapshot("9"),
        Err(CatalogError::NoSnapshot(_))
    ));
    assert_eq!(cat.resolve_snapshot("2999-01-01T00:00:00Z").unwrap(), 0);
    assert!(cat.resolve_snapshot("1999-01-01").is_err());
}

fn gc_references_see_what_is_committed_after_they_were_read(mut cat: Catalog) {
    let s = schema(ColumnType::Bigint);
    let mut commit = commit_of(&s, 2);
    cat.commit(&commit).unwrap();
    commit.object = obj("t", "k2", 3);
    cat.commit(&commit).unwrap();
    let (expired, refs) = cat
        .expire(&Keep::Newest(1), std::time::SystemTime::now(), false)
        .unwrap();
    assert_eq!(
        (expired.snapshots, expired.files),
        (2, 1),
        "snapshots 0 and 1"
    );
    assert!(refs.keys.contains("datasets/t/k2.parquet").unwrap());
    assert!(!refs.keys.contains("datasets/t/k1.parquet").unwrap());
    let new = |cat: &mut Catalog| cat.with_new_references(&refs, |keys| keys.clone()).unwrap();
    assert!(new(&mut cat).is_empty());
    // The object gc found unreferenced is named again, and another is being
    // written: both are referenced when gc checks under the lock.
    commit.object = obj("t", "k1", 2);
    cat.commit(&commit).unwrap();
    cat.pend("datasets/t/k9.parquet").unwrap();
    let mut keys: Vec<String> = new(&mut cat).into_iter().collect();
    keys.sort();
    assert_eq!(keys, ["datasets/t/k1.parquet", "datasets/t/k9.parquet"]);
    assert_eq!(cat.named_objects().unwrap().totals().unwrap(), (2, 50));
}

fn a_read_lease_keeps_its_snapshot_until_released_or_lapsed(mut cat: Catalog) {
    let s = schema(ColumnType::Bigint);
    let mut commit = commit_of(&s, 2);
    cat.commit(&commit).unwrap();
    // A reader of snapshot 1 (the newest when it took its lease).
    assert_eq!(cat.lease("reader-a", None).unwrap(), 1);
    for (i, key) in ["k2", "k3"].iter().enumerate() {
        commit.object = obj("t", key, 3 + i as u64);
        cat.commit(&commit).unwrap();
    }
    let now = std::time::SystemTime::now();
    let (expired, refs) = cat.expire(&Keep::Newest(1), now, false).unwrap();
    assert_eq!(expired.oldest_kept, 1, "{expired:?}");
    assert!(refs.keys.contains("datasets/t/k1.parquet").unwrap());
    // Moved on: only snapshot 2 and later are kept.
    assert_eq!(cat.lease("reader-a", Some(2)).unwrap(), 2);
    let (expired, _) = cat.expire(&Keep::Newest(1), now, false).unwrap();
    assert_eq!(expired.oldest_kept, 2);
    // A lease whose heartbeat stopped a minute ago has lapsed.
    cat.conn
        .execute(
            "UPDATE lake_reader SET heartbeat = '2000-01-01 00:00:00.000000'",
            [],
        )
        .unwrap();
    let (expired, refs) = cat.expire(&Keep::Newest(1), now, false).unwrap();
    assert_eq!(expired.oldest_kept, 3);
    assert!(!refs.keys.contains("datasets/t/k2.parquet").unwrap());
    // A released lease keeps nothing.
    cat.lease("reader-b", None).unwrap();
    cat.release("reader-b").unwrap();
    let count: i64 = cat
        .conn
        .query_row("SELECT count(*) FROM lake_reader", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 0);
}

fn a_column_added_to_a_table_with_rows_holds_nulls_even_in_an_old_catalog(mut cat: Catalog) {
    let one = schema(ColumnType::Bigint);
    cat.commit(&commit_of(&one, 2)).unwrap();
    let mut two = one.clone();
    two.columns.push(crate::schema::Column {
        name: "b".into(),
        column_type: ColumnType::Bigint,
    });
    let mut commit = commit_of(&two, 3);
    commit.object = obj("t", "k2", 3);
    commit.object.stats.push(commit.object.stats[0].clone());
    commit.mode = WriteMode::Append;
    commit.evolve = true;
    cat.commit(&commit).unwrap();
    let contains_null = |cat: &Catalog| -> Vec<(String, bool)> {
        let mut stmt = cat
            .conn
            .prepare(
                "SELECT c.column_name, s.contains_null FROM ducklake_table_column_stats s
                 JOIN ducklake_column c USING (table_id, column_id)
                 WHERE c.end_snapshot IS NULL ORDER BY c.column_order",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let right = vec![("a".to_owned(), false), ("b".to_owned(), true)];
    assert_eq!(contains_null(&cat), right, "b is NULL in the first file");
    // As an older lake recorded it; the migration mends it.
    cat.conn
        .execute(
            "UPDATE ducklake_table_column_stats SET contains_null = FALSE",
            [],
        )
        .unwrap();
    cat.conn
        .execute_batch(super::migrations::REPAIR_ADDED_COLUMNS_NULLS)
        .unwrap();
    assert_eq!(contains_null(&cat), right);
}
