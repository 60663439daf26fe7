//! Table-level column statistics, merged from each new file's statistics the
//! way DuckLake merges them: bounds only ever widen, so they hold for every
//! snapshot.
//!
//! DuckDB answers `count(col)`, `min` and `max` from these rows, and prunes
//! whole tables with them: a bound that is too narrow or a `contains_null`
//! that is wrongly false gives wrong answers. A column whose statistics are
//! not known has no row at all, as DuckDB leaves a column it added to a
//! table with rows: DuckDB then reads the column, and neither DuckDB nor
//! lake ever recreates the row. (A row with NULL bounds means "no value
//! yet": the next file's bounds are taken as they are, so it cannot stand
//! for "unknown".)

use std::cmp::Ordering;

use crate::schema::{ColumnStats, ColumnType};

/// One row of `ducklake_table_column_stats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct TableColumnStats {
    pub contains_null: Option<bool>,
    pub contains_nan: Option<bool>,
    pub min: Option<String>,
    pub max: Option<String>,
}

impl TableColumnStats {
    /// The row of a new column of type `t`: no value yet; NULL in every
    /// row the table already has (`earlier_rows`).
    pub fn new_column(t: &ColumnType, earlier_rows: bool) -> TableColumnStats {
        TableColumnStats {
            contains_null: Some(earlier_rows),
            contains_nan: (*t == ColumnType::Double).then_some(false),
            min: None,
            max: None,
        }
    }
}

/// Compares two statistics values of type `t`; `None` if either does not
/// parse.
fn compare(t: &ColumnType, a: &str, b: &str) -> Option<Ordering> {
    match t {
        ColumnType::Bigint => Some(a.parse::<i128>().ok()?.cmp(&b.parse::<i128>().ok()?)),
        ColumnType::Double => a.parse::<f64>().ok()?.partial_cmp(&b.parse::<f64>().ok()?),
        // ISO dates and timestamps, 0/1 and strings compare as text.
        _ => Some(a.cmp(b)),
    }
}

/// The table statistics after a file with `new` is added to a table whose
/// row is `current`; `None` when they are no longer known (the row goes).
pub(super) fn merge(
    current: TableColumnStats,
    new: &ColumnStats,
    t: &ColumnType,
) -> Option<TableColumnStats> {
    let cur = current;
    let contains_null = Some(cur.contains_null? || new.null_count > 0);
    let contains_nan = match (cur.contains_nan, new.contains_nan) {
        (Some(a), Some(b)) => Some(a || b),
        (None, None) => None,
        // A float column whose NaNs are not known.
        _ => return None,
    };
    if new.value_count == 0 {
        // Only NULLs: the bounds stay.
        return Some(TableColumnStats {
            contains_null,
            contains_nan,
            ..cur
        });
    }
    // Values whose bounds are not both known exactly (a long string cut,
    // a value the footer gives no bound for) make the table's unknown.
    let (Some(new_min), Some(new_max)) = (&new.min, &new.max) else {
        return None;
    };
    if !new.bounds_exact {
        return None;
    }
    let (min, max) = match (cur.min, cur.max) {
        (None, None) => (new_min.clone(), new_max.clone()),
        (Some(min), Some(max)) => {
            let min = match compare(t, new_min, &min)? {
                Ordering::Less => new_min.clone(),
                _ => min,
            };
            let max = match compare(t, new_max, &max)? {
                Ordering::Greater => new_max.clone(),
                _ => max,
            };
            (min, max)
        }
        // One bound only (a row written by an older lake): not trusted.
        _ => return None,
    };
    Some(TableColumnStats {
        contains_null,
        contains_nan,
        min: Some(min),
        max: Some(max),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(min: &str, max: &str, nulls: u64) -> ColumnStats {
        ColumnStats {
            value_count: 2,
            null_count: nulls,
            min: Some(min.into()),
            max: Some(max.into()),
            contains_nan: None,
            bounds_exact: true,
            size_bytes: 10,
        }
    }

    fn fresh(t: &ColumnType) -> TableColumnStats {
        TableColumnStats::new_column(t, false)
    }

    #[test]
    fn bounds_widen_numerically_for_numbers() {
        let t = ColumnType::Bigint;
        let a = merge(fresh(&t), &file("9", "10", 0), &t).unwrap();
        assert_eq!(a.contains_null, Some(false));
        let b = merge(a, &file("-2", "100", 1), &t).unwrap();
        assert_eq!(
            (b.min.as_deref(), b.max.as_deref()),
            (Some("-2"), Some("100"))
        );
        assert_eq!(b.contains_null, Some(true));
        // As text "9" > "10": numbers must not compare as text.
        let c = merge(b, &file("50", "60", 0), &t).unwrap();
        assert_eq!(
            (c.min.as_deref(), c.max.as_deref()),
            (Some("-2"), Some("100"))
        );
    }

    #[test]
    fn a_column_added_to_a_table_with_rows_contains_nulls() {
        let t = ColumnType::Varchar;
        let added = TableColumnStats::new_column(&t, true);
        let m = merge(added, &file("a@x", "b@x", 0), &t).unwrap();
        assert_eq!(m.contains_null, Some(true));
        assert_eq!(
            (m.min.as_deref(), m.max.as_deref()),
            (Some("a@x"), Some("b@x"))
        );
    }

    #[test]
    fn all_null_files_change_no_bound() {
        let t = ColumnType::Varchar;
        let m = merge(fresh(&t), &file("b", "c", 0), &t).unwrap();
        let all_null = ColumnStats {
            value_count: 0,
            null_count: 5,
            ..ColumnStats::default()
        };
        let m = merge(m, &all_null, &t).unwrap();
        assert_eq!(
            (m.min.as_deref(), m.max.as_deref(), m.contains_null),
            (Some("b"), Some("c"), Some(true))
        );
    }

    #[test]
    fn unknown_bounds_and_nans_make_the_row_go() {
        let t = ColumnType::Varchar;
        let cut = ColumnStats {
            bounds_exact: false,
            ..file("a", "zz", 0)
        };
        assert_eq!(merge(fresh(&t), &cut, &t), None);
        let one_sided = ColumnStats {
            max: None,
            ..file("a", "zz", 0)
        };
        assert_eq!(merge(fresh(&t), &one_sided, &t), None);
        // A row an older lake left with one bound is not widened.
        let old = TableColumnStats {
            max: None,
            min: Some(String::new()),
            ..fresh(&t)
        };
        assert_eq!(merge(old, &file("a", "b", 0), &t), None);
        let d = ColumnType::Double;
        let unknown_nan = ColumnStats {
            contains_nan: None,
            ..file("1", "2", 0)
        };
        assert_eq!(merge(fresh(&d), &unknown_nan, &d), None);
        let nan = ColumnStats {
            contains_nan: Some(true),
            ..file("1", "inf", 0)
        };
        let m = merge(fresh(&d), &nan, &d).unwrap();
        assert_eq!(
            (m.contains_nan, m.max.as_deref()),
            (Some(true), Some("inf"))
        );
        // An unknown contains_null stays unknown.
        let no_nulls_known = TableColumnStats {
            contains_null: None,
            ..fresh(&t)
        };
        assert_eq!(merge(no_nulls_known, &file("a", "b", 0), &t), None);
    }
}
