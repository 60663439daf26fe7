//! What pass one learns of an input, whatever its format: the schema, the
//! rows, which columns pay for a dictionary, the rows set aside, and (for
//! JSON) how its chunks can be cut. Pass two, and the one-pass path, write
//! what it says.

use std::collections::HashSet;

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

/// Counts distinct values per column over the first rows.
pub(crate) struct DistinctSample {
    seen: Vec<HashSet<u64>>,
    values: Vec<u64>,
}

impl DistinctSample {
    pub(crate) fn new(columns: usize) -> Self {
        DistinctSample {
            seen: vec![HashSet::new(); columns],
            values: vec![0; columns],
        }
    }

    pub(crate) fn observe(&mut self, fields: impl Iterator<Item = impl AsRef<str>>) {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        for (i, field) in fields.enumerate() {
            let field = field.as_ref();
            if i == self.seen.len() {
                // A column first seen now (a new JSON key).
                self.seen.push(HashSet::new());
                self.values.push(0);
            }
            if !field.is_empty() {
                self.values[i] += 1;
                self.seen[i].insert(hasher.hash_one(field));
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
