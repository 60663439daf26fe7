//! The changes lake makes, each one snapshot in the one `BEGIN IMMEDIATE`
//! transaction that also checks what it is based on, so concurrent writers
//! (lake processes, DuckDB sessions) queue instead of clashing.

use super::db::{Db, OptionalExtension, Transaction, params};

use super::read::{find_table, live, main_schema};
use super::write::{Writer, write_file_stats};
use super::{
    CatalogError, ColumnStats, Commit, CommitStatus, Committed, NewObject, SnapshotId, WriteMode,
    now, refused_change, sql,
};
use super::{columns, files, versions};
use crate::schema::evolve_plan;

pub(super) fn record_file_stats(
    conn: &mut Db,
    file_id: i64,
    footer_size: Option<u64>,
    stats: &[ColumnStats],
) -> Result<(), CatalogError> {
    let tx = conn
        .write_transaction()
        .map_err(sql("recording file statistics"))?;
    let row: Option<(i64, i64, Option<i64>, i64)> = tx
        .query_row(
            "SELECT f.table_id, f.begin_snapshot, f.mapping_id, o.stats_recorded
             FROM ducklake_data_file f JOIN lake_object o USING (data_file_id)
             WHERE f.data_file_id = ?1",
            [file_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(sql("recording file statistics"))?;
    let Some((table_id, begin, _mapping, recorded)) = row else {
        return Ok(());
    };
    if recorded != 0 {
        return Ok(()); // another process was first
    }
    let columns = columns::columns(&tx, table_id, begin)?;
    if columns.len() == stats.len() {
        write_file_stats(&tx, table_id, file_id, &columns, stats, false)?;
    }
    tx.execute(
        "UPDATE ducklake_data_file SET footer_size = ?2 WHERE data_file_id = ?1",
        params![file_id, footer_size],
    )
    .map_err(sql("recording file statistics"))?;
    tx.execute(
        "UPDATE lake_object SET stats_recorded = 1 WHERE data_file_id = ?1",
        [file_id],
    )
    .map_err(sql("recording file statistics"))?;
    tx.commit().map_err(sql("recording file statistics"))
}

fn immediate(conn: &mut Db) -> Result<Transaction<'_>, CatalogError> {
    conn.write_transaction().map_err(sql("starting a commit"))
}

pub(super) fn commit(conn: &mut Db, c: &Commit<'_>) -> Result<Committed, CatalogError> {
    let tx = immediate(conn)?;
    if c.object_present.is_some_and(|present| !present()) {
        return Err(CatalogError::ObjectGone {
            key: c.object.object.key.clone(),
        });
    }
    let mut w = Writer::begin(&tx)?;
    let at = w.base.id;
    let main = main_schema(&tx, at)?;
    let mut committed_plan = None;
    let (status, name, message) = match find_table(&tx, c.name, at)? {
        None => {
            let table = w.create_table(&main, c.name, c.dataset_id)?;
            let columns = w.add_columns(table.table_id, &c.schema.columns)?;
            w.add_file(&table, &main, &c.object, &columns)?;
            (CommitStatus::Created, table.name, "created".to_owned())
        }
        Some(table) => {
            let ds =
                versions::dataset(&tx, &table.name, at)?.ok_or_else(|| CatalogError::NotFound {
                    name: c.name.to_owned(),
                })?;
            if let Some(err) = refused_change(&ds.name, &ds.current, c.schema, c.mode, c.evolve) {
                return Err(err);
            }
            let state = files::table_state(&tx, &table.name, at)?.ok_or_else(|| {
                CatalogError::NotFound {
                    name: c.name.to_owned(),
                }
            })?;
            let same_schema = ds.current.fingerprint == c.schema.fingerprint();
            let plan = match ds.current.schema() {
                Ok(live) if !same_schema && c.evolve && c.mode != WriteMode::Replace => {
                    evolve_plan(&live, c.schema).ok()
                }
                _ => None,
            };
            let key = &c.object.object.key;
            let append = c.mode == WriteMode::Append && (same_schema || plan.is_some());
            let unchanged = if append {
                state.files.iter().any(|f| f.key.as_ref() == Ok(key))
            } else {
                same_schema
                    && state.files.len() == 1
                    && state.files[0].key.as_ref() == Ok(key)
                    && state.files[0].deletes.is_empty()
            };
            if unchanged {
                return Ok(Committed {
                    status: CommitStatus::Unchanged,
                    name: ds.name,
                    version: ds.current,
                    plan: None,
                });
            }
            if !append {
                // First, so that columns added next know no row lacks them.
                w.end_files(table.table_id)?;
            }
            let columns = if same_schema {
                state.columns.clone()
            } else if let Some(plan) = &plan {
                // The table's columns after evolving, in the file's order.
                let after = w.evolve(table.table_id, &state.columns, plan)?;
                c.schema
                    .columns
                    .iter()
                    .map(|col| {
                        after
                            .iter()
                            .find(|t| t.name == col.name)
                            .cloned()
                            .ok_or_else(|| {
                                CatalogError::Invalid(format!(
                                    "column {} missing after evolving",
                                    col.name
                                ))
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            } else {
                w.end_columns(table.table_id)?;
                w.add_columns(table.table_id, &c.schema.columns)?
            };
            w.add_file(&table, &main, &c.object, &columns)?;
            let message = match (&plan, append, same_schema) {
                (Some(plan), true, _) => format!("appended, evolved: {plan}"),
                (Some(plan), false, _) => format!("replaced, evolved: {plan}"),
                (None, true, _) => "appended".to_owned(),
                (None, false, true) => "replaced".to_owned(),
                (None, false, false) => "replaced with a new schema".to_owned(),
            };
            committed_plan = plan;
            (CommitStatus::Updated, table.name, message)
        }
    };
    let id = w.finish(&now(), &message)?;
    let ds = versions::dataset(&tx, &name, id)?
        .ok_or_else(|| CatalogError::NotFound { name: name.clone() })?;
    tx.commit().map_err(sql("committing"))?;
    Ok(Committed {
        status,
        name: ds.name,
        version: ds.current,
        plan: committed_plan,
    })
}

/// Replaces the live files of `name` (which must be those with the ids
/// `expected`: the ones compacted) by `objects`, holding the same rows in
/// the table's columns: one snapshot.
pub(super) fn compact(
    conn: &mut Db,
    name: &str,
    expected: &[i64],
    objects: &[NewObject],
) -> Result<Committed, CatalogError> {
    let tx = immediate(conn)?;
    let mut w = Writer::begin(&tx)?;
    let at = w.base.id;
    let main = main_schema(&tx, at)?;
    let not_found = || CatalogError::NotFound {
        name: name.to_owned(),
    };
    let table = find_table(&tx, name, at)?.ok_or_else(not_found)?;
    let state = files::table_state(&tx, &table.name, at)?.ok_or_else(not_found)?;
    let mut live: Vec<i64> = state.files.iter().map(|f| f.data_file_id).collect();
    live.sort_unstable();
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    if live != expected {
        return Err(CatalogError::Changed {
            name: table.name.clone(),
        });
    }
    w.end_files(table.table_id)?;
    for object in objects {
        w.add_file(&table, &main, object, &state.columns)?;
    }
    let message = format!(
        "compacted: {} objects into {}",
        expected.len(),
        objects.len()
    );
    let id = w.finish(&now(), &message)?;
    updated(tx, &table.name, id)
}

/// Commits a change that updated the dataset `name` in snapshot `id`.
fn updated(tx: Transaction<'_>, name: &str, id: SnapshotId) -> Result<Committed, CatalogError> {
    let ds = versions::dataset(&tx, name, id)?.ok_or_else(|| CatalogError::NotFound {
        name: name.to_owned(),
    })?;
    tx.commit().map_err(sql("committing"))?;
    Ok(Committed {
        status: CommitStatus::Updated,
        name: ds.name,
        version: ds.current,
        plan: None,
    })
}

pub(super) fn remove(conn: &mut Db, name: &str) -> Result<SnapshotId, CatalogError> {
    let tx = immediate(conn)?;
    let mut w = Writer::begin(&tx)?;
    let table = find_table(&tx, name, w.base.id)?.ok_or_else(|| CatalogError::NotFound {
        name: name.to_owned(),
    })?;
    w.drop_table(table.table_id)?;
    let id = w.finish(&now(), "removed")?;
    tx.commit().map_err(sql("committing"))?;
    Ok(id)
}

pub(super) fn restore(
    conn: &mut Db,
    name: &str,
    to: SnapshotId,
) -> Result<Committed, CatalogError> {
    let tx = immediate(conn)?;
    let mut w = Writer::begin(&tx)?;
    let at = w.base.id;
    if to > at || to < 0 {
        return Err(CatalogError::NoSnapshot(format!("{to} (see lake log)")));
    }
    let then = find_table(&tx, name, to)?.ok_or_else(|| CatalogError::NotAtSnapshot {
        name: name.to_owned(),
        snapshot: to,
    })?;
    let then_state =
        files::table_state(&tx, &then.name, to)?.ok_or_else(|| CatalogError::NotAtSnapshot {
            name: name.to_owned(),
            snapshot: to,
        })?;
    let main = main_schema(&tx, at)?;
    let now_table = find_table(&tx, name, at)?;
    // The table may live on under another name (renamed in DuckDB).
    let renamed: Option<String> = tx
        .query_row(
            concat!(
                "SELECT x.table_name FROM ducklake_table x WHERE x.table_id = ?1 AND ",
                live!("x")
            ),
            params![then.table_id, at],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("reading a table"))?;
    if let Some(current) = renamed
        && !current.eq_ignore_ascii_case(name)
    {
        return Err(CatalogError::Invalid(format!(
            "dataset {name} of snapshot {to} is now named {current}: restore {current}"
        )));
    }
    if let Some(current) = &now_table
        && current.table_id == then.table_id
    {
        let state =
            files::table_state(&tx, &current.name, at)?.ok_or_else(|| CatalogError::NotFound {
                name: name.to_owned(),
            })?;
        let same_files = state.files.len() == then_state.files.len()
            && state.files.iter().zip(&then_state.files).all(|(a, b)| {
                a.key == b.key
                    && a.deletes
                        .iter()
                        .map(|d| &d.key)
                        .eq(b.deletes.iter().map(|d| &d.key))
            });
        if same_files && state.columns == then_state.columns {
            let ds = versions::dataset(&tx, &current.name, at)?.ok_or_else(|| {
                CatalogError::NotFound {
                    name: name.to_owned(),
                }
            })?;
            return Ok(Committed {
                status: CommitStatus::Unchanged,
                name: ds.name,
                version: ds.current,
                plan: None,
            });
        }
    } else {
        if let Some(current) = &now_table {
            w.drop_table(current.table_id)?;
        }
        w.revive_table(&main, &then)?;
    }
    w.restore_columns(then.table_id, to)?;
    w.end_files(then.table_id)?;
    w.restore_files(then.table_id, to)?;
    let id = w.finish(&now(), &format!("restored to snapshot {to}"))?;
    updated(tx, &then.name, id)
}
