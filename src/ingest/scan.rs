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
    /// How dates and timestamps in the text are written.
    pub formats: Formats,
    /// The rows set aside (with `rejects`), in file order.
    pub rejects: Vec<Reject>,
    /// A JSON file whose chunks are written on many threads.
    pub json_chunks: Option<JsonChunks>,
}

/// Rows sampled for the distinct-value estimate behind dictionary encoding.
pub(crate) const DICTIONARY_SAMPLE_ROWS: u64 = 65_536;

/// Distinct values past which a column cannot get a dictionary: more than
/// a quarter of the most values a sample holds.
const DISTINCT_ENOUGH: usize = (DICTIONARY_SAMPLE_ROWS / 4) as usize;

/// Counts distinct values per column over the first rows.
pub(crate) struct DistinctSample {
    seen: Vec<Hashes>,
    values: Vec<u64>,
}

impl DistinctSample {
    pub(crate) fn new(columns: usize) -> Self {
        DistinctSample {
            seen: vec![Hashes::new(DISTINCT_ENOUGH + 1); columns],
            values: vec![0; columns],
        }
    }

    pub(crate) fn observe(&mut self, fields: impl Iterator<Item = impl AsRef<str>>) {
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        for (i, field) in fields.enumerate() {
            let field = field.as_ref();
            if i == self.seen.len() {
                // A column first seen now (a new JSON key).
                self.seen.push(Hashes::new(DISTINCT_ENOUGH + 1));
                self.values.push(0);
            }
            if !field.is_empty() {
                self.values[i] += 1;
                // Past DISTINCT_ENOUGH the answer is known (no dictionary):
                // a unique column stops costing a hash and an insert per
                // value (on a wide file they were a third of the ingest).
                if self.seen[i].len() <= DISTINCT_ENOUGH {
                    self.seen[i].insert(hasher.hash_one(field));
                }
            }
        }
    }

    /// Dictionary encoding for columns with at most one distinct value in
    /// four sampled ones (and for those with no value in the sample).
    pub(crate) fn finish(&self, columns: usize) -> Vec<bool> {
        (0..columns)
            .map(|i| match (self.seen.get(i), self.values.get(i)) {
                (Some(seen), Some(&values)) => (seen.len() as u64) * 4 <= values.max(1),
                _ => true,
            })
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
        assert_eq!(sample.seen[0].len(), DISTINCT_ENOUGH + 1);
    }
}
