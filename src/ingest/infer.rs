//! Type inference over every row: each column keeps the set of types all of
//! its values so far fit, and ends as the first of them in the order
//! BOOLEAN, BIGINT, DOUBLE, DATE, TIMESTAMP, TIMESTAMPTZ, TIME, else VARCHAR.

use crate::ingest::values;

/// The fewest numbers in every array of a key for it to be stored as
/// `FLOAT[N]` (an embedding) rather than a list of DOUBLE: pairs and
/// triples (coordinates, ranges) keep DOUBLE's precision.
pub(crate) const MIN_VECTOR_LENGTH: usize = 16;

use crate::ingest::values::Formats;
use crate::schema::ColumnType;

const BOOLEAN: u8 = 1;
const BIGINT: u8 = 2;
const DOUBLE: u8 = 4;
const DATE: u8 = 8;
const TIMESTAMP: u8 = 16;
const TIMESTAMPTZ: u8 = 32;
const TIME: u8 = 64;
const ANY: u8 = BOOLEAN | BIGINT | DOUBLE | DATE | TIMESTAMP | TIMESTAMPTZ | TIME;

/// The types among `mask` that one non-empty field fits. Only the types a
/// column can still be are tried, so a column settles into one cheap check.
#[inline]
fn fits(s: &str, mask: u8, formats: &Formats) -> u8 {
    let first = s.as_bytes()[0];
    let mut out = 0;
    if first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.') {
        if mask & BIGINT != 0 && values::parse_i64(s).is_some() {
            return mask & (BIGINT | DOUBLE);
        }
        if mask & DOUBLE != 0 && values::parse_f64(s).is_some() {
            return DOUBLE;
        }
    } else if mask & BOOLEAN != 0 && values::parse_bool(s).is_some() {
        return BOOLEAN;
    } else if !formats.any() {
        return 0;
    }
    // A date also fits a TIMESTAMP column (as midnight).
    if mask & (DATE | TIMESTAMP) != 0 && formats.date(s).is_some() {
        return mask & (DATE | TIMESTAMP);
    }
    if mask & TIMESTAMP != 0 && formats.timestamp(s).is_some() {
        out |= TIMESTAMP;
    }
    if mask & TIMESTAMPTZ != 0 && values::parse_timestamptz(s).is_some() {
        out |= TIMESTAMPTZ;
    }
    if mask & TIME != 0 && values::parse_time(s).is_some() {
        out |= TIME;
    }
    out
}

/// Whether `s` fits `t`, for a column whose type was given, not inferred
/// (never a nested type but `FLOAT[N]`: those are inferred only).
pub fn fits_type(s: &str, t: &ColumnType, formats: &Formats) -> bool {
    match t {
        ColumnType::Boolean => values::parse_bool(s).is_some(),
        ColumnType::Bigint => values::parse_i64(s).is_some(),
        ColumnType::Double => values::parse_f64(s).is_some(),
        ColumnType::Date => formats.date(s).is_some(),
        ColumnType::Timestamp => formats.timestamp(s).is_some(),
        ColumnType::Timestamptz => values::parse_timestamptz(s).is_some(),
        ColumnType::Time => values::parse_time(s).is_some(),
        ColumnType::Varchar => true,
        ColumnType::Vector(n) => values::parse_vector(s, *n, &mut Vec::new()),
        ColumnType::Struct(_) | ColumnType::List(_) => false,
    }
}

/// Inference state for a table.
#[derive(Debug, Clone)]
pub struct Inferrer {
    masks: Vec<u8>,
    seen: Vec<bool>,
    formats: Formats,
}

impl Inferrer {
    pub fn new(columns: usize, formats: Formats) -> Inferrer {
        Inferrer {
            masks: vec![ANY; columns],
            seen: vec![false; columns],
            formats,
        }
    }

    /// Whether column `i` has had a value (a field not empty).
    pub fn seen(&self, i: usize) -> bool {
        self.seen[i]
    }

    /// One more column, knowing nothing yet.
    /// The number of columns.
    pub fn columns(&self) -> usize {
        self.masks.len()
    }

    pub fn add_column(&mut self) {
        self.masks.push(ANY);
        self.seen.push(false);
    }

    /// Narrows column `i` by one field; empty fields are NULL and fit all.
    #[inline]
    pub fn observe(&mut self, i: usize, field: &str) {
        let mask = self.masks[i];
        if mask == 0 || field.is_empty() {
            return;
        }
        self.seen[i] = true;
        self.masks[i] = fits(field, mask, &self.formats);
    }

    /// Folds in what another inferrer saw of later rows.
    pub fn merge(&mut self, other: &Inferrer) {
        for (mask, other) in self.masks.iter_mut().zip(&other.masks) {
            *mask &= other;
        }
        for (seen, other) in self.seen.iter_mut().zip(&other.seen) {
            *seen |= other;
        }
    }

    /// The inferred types. A column with no values at all is VARCHAR.
    pub fn finish(&self) -> Vec<ColumnType> {
        self.masks
            .iter()
            .zip(&self.seen)
            .map(|(&mask, &seen)| {
                if !seen {
                    return ColumnType::Varchar;
                }
                [
                    (BOOLEAN, ColumnType::Boolean),
                    (BIGINT, ColumnType::Bigint),
                    (DOUBLE, ColumnType::Double),
                    (DATE, ColumnType::Date),
                    (TIMESTAMP, ColumnType::Timestamp),
                    (TIMESTAMPTZ, ColumnType::Timestamptz),
                    (TIME, ColumnType::Time),
                ]
                .into_iter()
                .find(|(bit, _)| mask & bit != 0)
                .map_or(ColumnType::Varchar, |(_, t)| t)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> ColumnType {
        let mut inf = Inferrer::new(1, Formats::default());
        for v in values {
            inf.observe(0, v);
        }
        inf.finish().remove(0)
    }

    #[test]
    fn picks_the_narrowest_type_every_value_fits() {
        assert_eq!(infer(&["1", "2", ""]), ColumnType::Bigint);
        assert_eq!(infer(&["1", "2.5"]), ColumnType::Double);
        assert_eq!(infer(&["true", "FALSE", ""]), ColumnType::Boolean);
        assert_eq!(infer(&["2024-01-01", "2024-12-31"]), ColumnType::Date);
        assert_eq!(
            infer(&["2024-01-01", "2024-01-01 10:00:00"]),
            ColumnType::Timestamp
        );
        assert_eq!(
            infer(&[
                "2023-12-31T10:00:00Z",
                "2023-12-31 10:00:00+02",
                "2024-01-01T00:00:00.5-05:30"
            ]),
            ColumnType::Timestamptz
        );
        assert_eq!(
            infer(&["2023-12-31 10:00:00", "2023-12-31T10:00:00Z"]),
            ColumnType::Varchar
        );
        assert_eq!(infer(&["10:00:00", "23:59:59.25"]), ColumnType::Time);
        assert_eq!(infer(&["12/31/2023"]), ColumnType::Varchar);
        let mut us = Inferrer::new(
            1,
            Formats {
                date: Some("%m/%d/%Y".into()),
                timestamp: None,
            },
        );
        for v in ["12/31/2023", "2024-01-01", ""] {
            us.observe(0, v);
        }
        assert_eq!(us.finish(), [ColumnType::Date]);
        assert_eq!(infer(&["1", "x"]), ColumnType::Varchar);
        assert_eq!(infer(&["true", "1"]), ColumnType::Varchar);
        assert_eq!(infer(&["007", "8"]), ColumnType::Varchar);
        assert_eq!(infer(&["", ""]), ColumnType::Varchar);
        assert_eq!(infer(&[]), ColumnType::Varchar);
    }

    #[test]
    fn the_last_row_counts_as_much_as_the_first() {
        let mut values = vec!["1"; 100_000];
        values.push("one");
        assert_eq!(infer(&values), ColumnType::Varchar);
    }
}
