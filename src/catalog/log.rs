//! `lake log`: the snapshots, with the datasets each changed (read from
//! DuckLake's `changes_made`, which names tables by id or quoted name) and
//! their rows after the change.

use super::db::{Db, OptionalExtension, params};
use serde::Serialize;

use super::files::{LiveFile, state_of};
use super::read::{display_time, find_table, last_snapshot, table_by_id};
use super::{CatalogError, SnapshotId, sql};

/// One line of `lake log`: a snapshot and one dataset it changed.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub snapshot: SnapshotId,
    pub time: String,
    /// The dataset changed, if any.
    pub dataset: Option<String>,
    /// What changed, in words.
    pub change: String,
    /// The dataset's rows after the change (none once removed).
    pub rows: Option<u64>,
    /// Who wrote the snapshot: `lake`, or empty for DuckDB.
    pub author: Option<String>,
}

/// The entries of `changes_made`, split on commas outside double quotes.
fn split_changes(changes: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in changes.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.into_iter()
        .filter_map(|entry| {
            entry
                .split_once(':')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// The table name in `"schema"."table"`.
fn quoted_table_name(value: &str) -> Option<String> {
    let parts: Vec<&str> = value.split("\".\"").collect();
    let last = parts.last()?;
    Some(last.trim_matches('"').replace("\"\"", "\""))
}

fn change_word(kind: &str) -> &str {
    match kind {
        "created_table" => "created",
        "inserted_into_table" => "inserted",
        "deleted_from_table" => "deleted",
        "altered_table" => "altered",
        "dropped_table" => "dropped",
        "compacted_table" => "compacted",
        "created_schema" => "created schema",
        "dropped_schema" => "dropped schema",
        "created_view" => "created view",
        "dropped_view" => "dropped view",
        other => other,
    }
}

pub(super) fn log(conn: &Db, name: Option<&str>) -> Result<Vec<LogEntry>, CatalogError> {
    let now = last_snapshot(conn)?.id;
    let only: Option<i64> = match name {
        Some(name) => {
            let id: Option<i64> = match find_table(conn, name, now)? {
                Some(t) => Some(t.table_id),
                None => conn
                    .query_row(
                        "SELECT table_id FROM ducklake_table WHERE lower(table_name) = lower(?1)
                         ORDER BY begin_snapshot DESC LIMIT 1",
                        [name],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(sql("finding a table"))?,
            };
            Some(id.ok_or_else(|| CatalogError::NotFound {
                name: name.to_owned(),
            })?)
        }
        None => None,
    };
    let mut stmt = conn
        .prepare(
            "SELECT s.snapshot_id, s.snapshot_time, c.changes_made, c.author, c.commit_message
             FROM ducklake_snapshot s LEFT JOIN ducklake_snapshot_changes c USING (snapshot_id)
             ORDER BY s.snapshot_id DESC",
        )
        .map_err(sql("reading snapshots"))?;
    type Row = (
        SnapshotId,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .and_then(|rows| rows.collect())
        .map_err(sql("reading snapshots"))?;
    let mut out = Vec::new();
    for (id, time, changes, author, message) in rows {
        // The tables this snapshot changed, in order, with what happened.
        let mut tables: Vec<(Option<i64>, Option<String>, Vec<String>)> = Vec::new();
        for (kind, value) in split_changes(changes.as_deref().unwrap_or_default()) {
            let (table_id, table_name) = if let Ok(tid) = value.parse::<i64>() {
                (Some(tid), None)
            } else if kind == "created_table" {
                let name = quoted_table_name(&value);
                let tid = match &name {
                    Some(n) => find_table(conn, n, id)?.map(|t| t.table_id),
                    None => None,
                };
                (tid, name)
            } else if kind.ends_with("_table") {
                (None, quoted_table_name(&value))
            } else {
                (None, None)
            };
            let word = change_word(&kind).to_owned();
            match tables.iter_mut().find(|(t, n, _)| {
                (table_id.is_some() && *t == table_id) || (table_id.is_none() && *n == table_name)
            }) {
                Some(entry) => entry.2.push(word),
                None => tables.push((table_id, table_name, vec![word])),
            }
        }
        if tables.is_empty() {
            tables.push((None, None, Vec::new()));
        }
        for (table_id, table_name, words) in tables {
            if only.is_some() && table_id != only {
                continue;
            }
            let (dataset, rows) = match table_id {
                Some(tid) => {
                    let live = match table_by_id(conn, tid)? {
                        Some(t) => find_table(conn, &t.name, id)?.filter(|l| l.table_id == tid),
                        None => None,
                    };
                    match live {
                        Some(t) => {
                            let state = state_of(conn, &t, id)?;
                            let rows = state.files.iter().map(LiveFile::live_rows).sum();
                            (Some(t.name), Some(rows))
                        }
                        None => {
                            // Dropped here: name it as it was just before.
                            let name = conn
                                .query_row(
                                    "SELECT table_name FROM ducklake_table WHERE table_id = ?1
                                     AND begin_snapshot < ?2 ORDER BY begin_snapshot DESC LIMIT 1",
                                    params![tid, id],
                                    |r| r.get::<_, String>(0),
                                )
                                .optional()
                                .map_err(sql("reading a table"))?;
                            (name.or(table_name), None)
                        }
                    }
                }
                None => (table_name, None),
            };
            let change = match (&author, &message) {
                (Some(a), Some(m)) if a == "lake" => m.clone(),
                _ => words.join(", "),
            };
            out.push(LogEntry {
                snapshot: id,
                time: display_time(time.as_deref().unwrap_or_default()),
                dataset,
                change,
                rows,
                author: author.clone(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_changes_outside_quotes() {
        let parts = split_changes(r#"created_table:"main"."a,b",inserted_into_table:3"#);
        assert_eq!(
            parts,
            vec![
                ("created_table".to_owned(), r#""main"."a,b""#.to_owned()),
                ("inserted_into_table".to_owned(), "3".to_owned()),
            ]
        );
        assert_eq!(quoted_table_name(r#""main"."a,b""#).as_deref(), Some("a,b"));
    }
}
