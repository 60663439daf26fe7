//! What pass one learns of the objects: keys, kinds, what strings fit, the
//! nested shapes and the dictionary sample; the schema it makes.

use crate::ingest::columns::unique_names;
use crate::ingest::error::ConvertError;
use crate::ingest::infer::{Inferrer, fits_type};
use crate::ingest::scan::{DICTIONARY_SAMPLE_ROWS, DistinctSample, Scan};
use crate::ingest::source::Source;
use crate::schema::{Column, ColumnType, Schema};

use super::JsonOptions;
use super::keys::Keys;
use super::nested::Nested;
use super::objects::{At, value_error};
use super::value::{Json, Object, column_type, narrow};

/// What pass one learns of the objects: their keys, the kinds of value each
/// held, what its strings fit, and the dictionary sample.
pub(super) struct Shape<'o> {
    pub(super) opts: &'o JsonOptions,
    pub(super) keys: Keys,
    pub(super) kinds: Vec<u8>,
    pub(super) strings: Inferrer,
    pub(super) sample: DistinctSample,
    pub(super) forced: Vec<Option<ColumnType>>,
    /// The objects and arrays among each column's values.
    pub(super) nested: Vec<Nested>,
    /// What the strings inside them fit.
    pub(super) inner_strings: Inferrer,
    pub(super) rows: u64,
    pub(super) row_text: Vec<String>,
}

impl<'o> Shape<'o> {
    pub(super) fn new(opts: &'o JsonOptions) -> Shape<'o> {
        Shape {
            opts,
            keys: Keys::default(),
            kinds: Vec::new(),
            strings: Inferrer::new(0, opts.formats.clone()),
            sample: DistinctSample::new(0),
            forced: Vec::new(),
            nested: Vec::new(),
            inner_strings: Inferrer::new(0, opts.formats.clone()),
            rows: 0,
            row_text: Vec::new(),
        }
    }

    /// Learns one object, checking values of given types.
    pub(super) fn observe(
        &mut self,
        object: &Object<'_>,
        at: At,
        source: &Source,
    ) -> Result<(), ConvertError> {
        let sampling = self.rows < DICTIONARY_SAMPLE_ROWS;
        if sampling {
            self.row_text.iter_mut().for_each(String::clear);
        }
        for (position, (key, value)) in object.iter().enumerate() {
            let i = self.keys.column(key, position);
            if i == self.kinds.len() {
                self.kinds.push(0);
                self.strings.add_column();
                self.forced.push(
                    self.opts
                        .types
                        .iter()
                        .find(|(name, _)| name.eq_ignore_ascii_case(key.trim()))
                        .map(|(_, t)| t.clone()),
                );
                self.nested.push(Nested::default());
                self.row_text.push(String::new());
            }
            if let Json::Null = value {
                continue;
            }
            match &self.forced[i] {
                Some(t) => {
                    let text = value.text().unwrap_or_default();
                    if !text.is_empty() && !fits_type(&text, t, &self.opts.formats) {
                        return Err(value_error(source, at, key, t, &text));
                    }
                }
                None => self.kind(i, value),
            }
            if sampling {
                self.row_text[i].push_str(&value.text().unwrap_or_default());
            }
        }
        if sampling {
            self.sample.observe(self.row_text.iter());
        }
        self.rows += 1;
        Ok(())
    }

    /// Narrows column `i` by a value (not null) of a key whose type is not
    /// given.
    pub(super) fn kind(&mut self, i: usize, value: &Json<'_>) {
        narrow(&mut self.kinds, &mut self.strings, i, value);
        let sampling = self.rows < DICTIONARY_SAMPLE_ROWS;
        self.nested[i].observe(value, &mut self.inner_strings, sampling);
    }

    /// The types, from every value seen.
    pub(super) fn types(&self) -> Vec<ColumnType> {
        let strings = self.strings.finish();
        let inner_strings = self.inner_strings.finish();
        (0..self.kinds.len())
            .map(|i| match &self.forced[i] {
                Some(t) => t.clone(),
                None => self.nested[i]
                    .column_type(self.kinds[i], &inner_strings)
                    .unwrap_or_else(|| column_type(self.kinds[i], &strings[i])),
            })
            .collect()
    }

    /// The schema of what was seen.
    pub(super) fn scan(&self, source: &Source) -> Result<Scan, ConvertError> {
        if self.keys.raw.is_empty() {
            return Err(ConvertError::Empty {
                file: source.label().to_owned(),
            });
        }
        for (name, _) in &self.opts.types {
            if !self
                .keys
                .raw
                .iter()
                .any(|k| k.trim().eq_ignore_ascii_case(name))
            {
                return Err(ConvertError::SchemaOverride(format!(
                    "no key named {name:?} (keys: {})",
                    self.keys.raw.join(", ")
                )));
            }
        }
        let names = unique_names(self.keys.raw.iter().map(String::as_str));
        let columns = names
            .into_iter()
            .zip(self.types())
            .map(|(name, column_type)| Column { name, column_type })
            .collect::<Vec<_>>();
        let mut leaf_dictionary = Vec::new();
        for (column, nested) in columns.iter().zip(&self.nested) {
            let path = [column.name.clone()];
            nested.dictionaries(&column.column_type, &path, &mut leaf_dictionary);
        }
        Ok(Scan {
            dictionary: self.sample.finish(columns.len()),
            leaf_dictionary,
            schema: Schema { columns },
            rows: self.rows,
            formats: self.opts.formats.clone(),
            rejects: Vec::new(),
            json_chunks: None,
        })
    }
}
