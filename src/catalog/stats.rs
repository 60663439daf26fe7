//! Table-level column statistics, merged from each new file's statistics the
//! way DuckLake merges them: bounds only ever widen, so they hold for every
//! snapshot, and a bound that is unknown stays unknown.
//!
//! DuckDB prunes whole tables and files with these: a bound that is too
//! narrow gives wrong rows, so when in doubt a bound is dropped.

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

/// The table statistics after a file with `new` is added; `current` is the
/// row before, if any.
pub(super) fn merge(
    current: Option<TableColumnStats>,
    new: &ColumnStats,
    t: &ColumnType,
) -> TableColumnStats {
    let fresh = TableColumnStats {
        contains_null: Some(new.null_count > 0),
        contains_nan: new.contains_nan,
        min: new.min.clone(),
        max: new.max.clone(),
    };
    let Some(cur) = current else {
        return fresh;
    };
    let contains_null = cur.contains_null.map(|c| c || new.null_count > 0);
    let contains_nan = match (cur.contains_nan, new.contains_nan) {
        (Some(a), Some(b)) => Some(a || b),
        _ => None,
    };
    let new_valid = new.value_count > 0 && (new.min.is_some() || new.max.is_some());
    let (min, max) = if !new_valid {
        (cur.min, cur.max)
    } else if cur.min.is_none() && cur.max.is_none() {
        (new.min.clone(), new.max.clone())
    } else {
        let pick = |a: Option<String>, b: &Option<String>, keep: Ordering| match (a, b) {
            (Some(a), Some(b)) => match compare(t, &a, b) {
                Some(o) if o == keep || o == Ordering::Equal => Some(a),
                Some(_) => Some(b.clone()),
                None => None,
            },
            _ => None,
        };
        (
            pick(cur.min, &new.min, Ordering::Less),
            pick(cur.max, &new.max, Ordering::Greater),
        )
    };
    TableColumnStats {
        contains_null,
        contains_nan,
        min,
        max,
    }
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
            size_bytes: 10,
        }
    }

    #[test]
    fn bounds_widen_numerically_for_numbers() {
        let a = merge(None, &file("9", "10", 0), &ColumnType::Bigint);
        let b = merge(Some(a), &file("-2", "100", 1), &ColumnType::Bigint);
        assert_eq!(
            (b.min.as_deref(), b.max.as_deref()),
            (Some("-2"), Some("100"))
        );
        assert_eq!(b.contains_null, Some(true));
        // As text "9" > "10": numbers must not compare as text.
        let c = merge(Some(b), &file("50", "60", 0), &ColumnType::Bigint);
        assert_eq!(
            (c.min.as_deref(), c.max.as_deref()),
            (Some("-2"), Some("100"))
        );
    }

    #[test]
    fn unknown_bounds_stay_unknown_and_all_null_files_change_nothing() {
        let unknown = TableColumnStats {
            contains_null: Some(false),
            contains_nan: None,
            min: Some("a".into()),
            max: None,
        };
        let m = merge(
            Some(unknown.clone()),
            &file("0", "zz", 0),
            &ColumnType::Varchar,
        );
        assert_eq!((m.min.as_deref(), m.max), (Some("0"), None));
        let all_null = ColumnStats {
            value_count: 0,
            null_count: 5,
            ..ColumnStats::default()
        };
        let m = merge(Some(unknown), &all_null, &ColumnType::Varchar);
        assert_eq!((m.min.as_deref(), m.contains_null), (Some("a"), Some(true)));
    }
}
