//! What pass one learns of an input, whatever its format: the schema, the
//! rows, which columns pay for a dictionary, the rows set aside, and (for
//! JSON) how its chunks can be cut. Pass two, and the one-pass path, write
//! what it says.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

use crate::ingest::hashes::Hashes;
use crate::ingest::values::Formats;
use crate::schema::Schema;

/// What the first pass learned.
#[derive(Debug, Clone)]
pub struct Scan {
    pub schema: Schema,
    pub rows: u64,
    /// Per column: whether dictionary encoding pays (few distinct values in
    /// the first rows). Unique columns skip the cost of hashing every value.
    pub dictionary: Vec<bool>,
    /// The same inside STRUCT and LIST columns, by the Parquet path of each
    /// leaf (those not named here get a dictionary).
    pub leaf_dictionary: Vec<(Vec<String>, bool)>,
    /// How dates and timestamps in the text are written.
    pub formats: Formats,
    /// The rows set aside (with `rejects`), in file order.
    pub rejects: Vec<Reject>,
    /// A JSON file whose chunks are written on many threads.
    pub json_chunks: Option<JsonChunks>,
}

/// Rows sampled for the distinct-value estimate behind dictionary encoding.
pub(crate) const DICTIONARY_SAMPLE_ROWS: u64 = 65_536;

/// The sample of a CSV file (and the head one pass guesses its types from)
/// also ends at the first row that begins this many bytes or more into the
/// text: on long rows, 65,536 of them were a long read on one thread before
/// the others started (75 MB of 1 KB rows, 95 MB of 200 columns). Unit
/// tests cross it after a few rows.
pub(crate) const DICTIONARY_SAMPLE_BYTES: u64 = if cfg!(test) { 256 } else { 16 << 20 };

/// Whether a CSV row is in the sample: `rows` rows were before it, and it
/// begins `start` bytes into the decompressed source. The first row always
/// is.
pub(crate) fn in_sample(rows: u64, start: u64) -> bool {
    rows == 0 || (rows < DICTIONARY_SAMPLE_ROWS && start < DICTIONARY_SAMPLE_BYTES)
}

/// Distinct values past which a column cannot get a dictionary: more than
/// a quarter of the most values a sample holds.
const DISTINCT_ENOUGH: usize = (DICTIONARY_SAMPLE_ROWS / 4) as usize;

/// Counts the distinct values of one column, or of one place inside
/// nested values, over its first [`DICTIONARY_SAMPLE_ROWS`] values.
#[derive(Debug, Clone)]
pub(crate) struct ColumnSample {
    seen: Hashes,
    /// Hashes not yet in `seen`: they go in [`PENDING`] at a time, so that
    /// the tables of a wide file's columns are touched one after another
    /// rather than all of them on every row (a fifth of the head's time on
    /// 200 columns went to cache misses).
    pending: Vec<u64>,
    values: u64,
}

/// Hashes a column holds back before they go into its set.
const PENDING: usize = 512;

impl Default for ColumnSample {
    fn default() -> Self {
        ColumnSample {
            seen: Hashes::new(DISTINCT_ENOUGH + 1),
            pending: Vec::new(),
            values: 0,
        }
    }
}

impl ColumnSample {
    /// One more value (empty text is no value).
    pub(crate) fn observe(&mut self, value: &str) {
        if value.is_empty() || self.values == DICTIONARY_SAMPLE_ROWS {
            return;
        }
        self.values += 1;
        // Past DISTINCT_ENOUGH the answer is known (no dictionary): a
        // unique column stops costing a hash and an insert per value (on a
        // wide file they were a third of the ingest).
        if self.seen.len() <= DISTINCT_ENOUGH {
            let hasher = BuildHasherDefault::<DefaultHasher>::default();
            self.pending.push(hasher.hash_one(value));
            if self.pending.len() == PENDING {
                self.pending.drain(..).for_each(|h| {
                    self.seen.insert(h);
                });
            }
        }
    }

    /// Dictionary encoding pays: at most one distinct value in four (or no
    /// value sampled).
    pub(crate) fn pays(&self) -> bool {
        let mut seen = self.seen.clone();
        for &h in &self.pending {
            seen.insert(h);
        }
        (seen.len() as u64) * 4 <= self.values.max(1)
    }
}

/// Counts distinct values per column over the first rows.
pub(crate) struct DistinctSample {
    columns: Vec<ColumnSample>,
}

impl DistinctSample {
    pub(crate) fn new(columns: usize) -> Self {
        DistinctSample {
            columns: vec![ColumnSample::default(); columns],
        }
    }

    pub(crate) fn observe(&mut self, fields: impl Iterator<Item = impl AsRef<str>>) {
        for (i, field) in fields.enumerate() {
            if i == self.columns.len() {
                // A column first seen now (a new JSON key).
                self.columns.push(ColumnSample::default());
            }
            self.columns[i].observe(field.as_ref());
        }
    }

    /// Whether a dictionary pays, per column (and for those with no value
    /// in the sample).
    pub(crate) fn finish(&self, columns: usize) -> Vec<bool> {
        (0..columns)
            .map(|i| self.columns.get(i).is_none_or(ColumnSample::pays))
            .collect()
    }
}

/// A row that could not be read, set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The line it begins on, in the file (preamble lines counted).
    pub line: u64,
    /// Its fields, joined by the delimiter.
    pub text: String,
    pub reason: String,
}

/// How a file holds its objects, where chunks can be cut in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JsonForm {
    /// An object on each line (JSON Lines).
    Lines,
    /// One array of objects.
    Array,
}

/// What pass one found of a file whose chunks can be written on many
/// threads.
#[derive(Debug, Clone)]
pub struct JsonChunks {
    pub form: JsonForm,
    /// The keys in the order they were met, one per column.
    pub keys: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionaries_for_columns_with_a_quarter_or_fewer_distinct_values() {
        let rows = DICTIONARY_SAMPLE_ROWS as usize;
        let mut sample = DistinctSample::new(3);
        for i in 0..rows {
            // Unique; exactly a quarter distinct (the limit, which still
            // pays); one more than a quarter.
            let quarter = i % DISTINCT_ENOUGH;
            let over = if i < DISTINCT_ENOUGH + 1 { i } else { 0 };
            let fields = [i.to_string(), quarter.to_string(), over.to_string()];
            sample.observe(fields.iter());
        }
        assert_eq!(sample.finish(3), [false, true, false]);
        // The unique column stopped growing once the answer was known.
        assert!(sample.columns[0].seen.len() <= DISTINCT_ENOUGH + 1);
        assert!(
            sample.columns[0].seen.len() + sample.columns[0].pending.len()
                <= DISTINCT_ENOUGH + PENDING
        );
    }
}
