//! JSON to Parquet: JSON Lines (objects one after another, one per line or
//! spread over several) or one array of objects, in the two streaming passes
//! of CSV. The first reads every object and finds the columns (keys, in the
//! order they first appear) and their types; the second writes them.
//!
//! Types come from the JSON values: booleans BOOLEAN, integers BIGINT,
//! numbers DOUBLE, strings VARCHAR unless every one is a date, timestamp or
//! time; objects STRUCT (a field per key) and arrays LIST, their values
//! typed alike. A key whose values are of different kinds (an object here,
//! a number there) is VARCHAR holding the JSON text, as is an object with
//! keys a STRUCT cannot have (empty, alike but for case, more than
//! [`MAX_FIELDS`]), and what lies deeper than [`MAX_DEPTH`]. A missing key
//! or `null` is NULL.

use std::io::Write;

use crate::ingest::batch::Builder;
use crate::ingest::chunks::Stop;
use crate::ingest::error::ConvertError;
use crate::ingest::progress::Progress;
use crate::ingest::scan::JsonChunks;
use crate::ingest::scan::{DICTIONARY_SAMPLE_ROWS, Scan};
use crate::ingest::source::Source;
use crate::ingest::values::Formats;
use crate::ingest::writer::Converted;
use crate::ingest::writer::{Batches, Written, write_batches};
use crate::schema::ColumnType;

use chunks::Objects;
use cuts::CHUNK_OBJECTS;
use keys::Keys;
use nested::append_value;
use objects::{At, each_object, value_error};
use shape::Shape;
use value::{ARRAY, OBJECT, Object, STRING, column_type, takes_what_it_parses};

mod chunks;
mod cuts;
mod keys;
mod nested;
mod objects;
mod read;
mod shape;
mod value;

/// How to read JSON: what the user fixed.
#[derive(Debug, Clone, Default)]
pub struct JsonOptions {
    /// Types given by the user, by column name; the rest are inferred.
    pub types: Vec<(String, ColumnType)>,
    /// Date and timestamp formats of strings besides ISO 8601.
    pub formats: Formats,
}

/// Pass one: reads every object and infers the schema.
pub fn scan(
    source: &Source,
    opts: &JsonOptions,
    progress: &dyn Progress,
) -> Result<Scan, ConvertError> {
    progress.start("scanning", source.len());
    let mut shape = Shape::new(opts);
    let form = each_object(source, progress, |object, at| {
        shape.observe(&object, at, source)?;
        if shape.rows.is_multiple_of(8192) {
            progress.rows(8192);
        }
        Ok(true)
    })?;
    progress.rows(shape.rows % 8192);
    let mut scan = shape.scan(source)?;
    scan.json_chunks = form.map(|form| JsonChunks {
        form,
        keys: shape.keys.raw.clone(),
    });
    Ok(scan)
}

/// Where an object's values go: the columns of a scan, by key.
struct Rows {
    /// The keys in the same order as pass one saw them, so they get the
    /// same columns.
    keys: Keys,
    present: Vec<bool>,
    /// The column of each member of the object last placed.
    placed: Vec<usize>,
}

/// What did not go in.
enum Misfit {
    /// A key the scan did not have.
    NewKey,
    /// A value its column's type does not take.
    Value { column: usize, text: String },
}

impl Rows {
    fn new(columns: usize) -> Rows {
        Rows::with_keys(Keys::default(), columns)
    }

    fn with_keys(keys: Keys, columns: usize) -> Rows {
        Rows {
            keys,
            present: vec![false; columns],
            placed: Vec::new(),
        }
    }

    /// Finds the column of each of the object's members.
    fn place(&mut self, object: &Object<'_>) -> Result<(), Misfit> {
        self.placed.clear();
        for (position, (key, _)) in object.iter().enumerate() {
            let i = self.keys.column(key, position);
            if i >= self.present.len() {
                return Err(Misfit::NewKey);
            }
            self.placed.push(i);
        }
        Ok(())
    }

    /// Appends one object to the builders; the bytes it held, or what did
    /// not fit (the row is then partly appended: the caller stops).
    fn append(&mut self, object: &Object<'_>, builders: &mut [Builder]) -> Result<usize, Misfit> {
        self.place(object)?;
        self.append_placed(object, builders)
    }

    /// [`Rows::append`] of the object just placed.
    fn append_placed(
        &mut self,
        object: &Object<'_>,
        builders: &mut [Builder],
    ) -> Result<usize, Misfit> {
        self.present.iter_mut().for_each(|p| *p = false);
        let mut bytes = 0;
        for (&i, (_, value)) in self.placed.iter().zip(object) {
            if self.present[i] {
                continue;
            }
            self.present[i] = true;
            bytes += append_value(&mut builders[i], value)
                .map_err(|text| Misfit::Value { column: i, text })?;
        }
        for (i, p) in self.present.iter().enumerate() {
            if !p {
                builders[i].append_null();
            }
        }
        Ok(bytes)
    }
}

/// Pass two: converts the source to Parquet as [`scan`] found it.
pub fn write_parquet<W: Write + Send>(
    source: &Source,
    scan: &Scan,
    out: W,
    progress: &dyn Progress,
) -> Result<(Written, W), ConvertError> {
    progress.start("writing", source.len());
    if let Some(found) = &scan.json_chunks {
        let keys = Keys::of(&found.keys);
        let chunks = Objects::new(source, scan, found.form, &keys, &[]);
        return chunks::write(&chunks, out, progress)
            .map(|(written, _)| written)
            .map_err(Stop::into_error);
    }
    // Objects spread over lines, on this thread: batches end where chunks
    // of the other forms would.
    write_batches(scan, out, progress, |mut batches: Batches<'_>| {
        let columns = &scan.schema.columns;
        let mut rows = Rows::new(columns.len());
        let mut count = 0;
        each_object(source, progress, |object, at| {
            let bytes = match rows.append(&object, &mut batches.builders) {
                Ok(bytes) => bytes,
                // Pass one saw every key.
                Err(Misfit::NewKey) => 0,
                Err(misfit) => return Err(misfit_error(source, at, scan, misfit)),
            };
            count += 1;
            if count % CHUNK_OBJECTS == 0 {
                return Ok(batches.row_done(bytes)? && batches.end_batch()?);
            }
            batches.row_done(bytes)
        })?;
        batches.finish()
    })
}

/// Both passes in one, as for CSV (see `one_pass`): the columns and types
/// are guessed from the head (the rows of the dictionary sample), then the
/// whole file is written in chunks on many threads, every value checked.
/// The guess holds when no key is new after the head and the types from
/// every value are the guessed ones; then the object is the two passes'
/// own. `None` when it does not hold, when objects are spread over lines,
/// and when a place inside the head's objects and arrays held no value (its
/// type is not known).
pub fn convert<W: Write + Send>(
    source: &Source,
    opts: &JsonOptions,
    out: W,
    progress: &dyn Progress,
) -> Result<Option<Converted<W>>, ConvertError> {
    progress.start("reading the head", source.len());
    let mut shape = Shape::new(opts);
    let form = each_object(source, progress, |object, at| {
        shape.observe(&object, at, source)?;
        Ok(shape.rows < DICTIONARY_SAMPLE_ROWS)
    })?;
    let Some(form) = form else {
        return Ok(None);
    };
    let mut guess = shape.scan(source)?;
    let unsettled = |i: usize| !shape.nested[i].settled(shape.kinds[i]);
    if (0..shape.kinds.len()).any(unsettled) {
        return Ok(None);
    }
    guess.json_chunks = Some(JsonChunks {
        form,
        keys: shape.keys.raw.clone(),
    });
    let chunks = Objects::new(source, &guess, form, &shape.keys, &shape.forced);
    progress.start("converting", source.len());
    let (written, tally) = match chunks::write(&chunks, out, progress) {
        Ok(done) => done,
        // A new key, a value of another kind, an object over several lines.
        Err(Stop::Misfit(_)) => return Ok(None),
        Err(Stop::Failed(e)) => return Err(e),
    };
    let strings = tally.strings.finish();
    for (i, c) in guess.schema.columns.iter().enumerate() {
        let kinds = tally.kinds[i];
        let found = match (&shape.forced[i], &c.column_type) {
            (Some(t), _) => t.clone(),
            // What is inside was checked as it was appended.
            (None, ColumnType::Struct(_)) if kinds & !OBJECT == 0 => continue,
            (None, ColumnType::List(_) | ColumnType::Vector(_)) if kinds & !ARRAY == 0 => continue,
            // Objects only or arrays only after a head without them.
            (None, _) if kinds == OBJECT || kinds == ARRAY => return Ok(None),
            // Strings only, each appended as a date or time: parsed as
            // inference parses them (and not inferred again).
            (None, t) if kinds == STRING && takes_what_it_parses(t) => continue,
            (None, _) => column_type(kinds, &strings[i]),
        };
        if found != c.column_type {
            return Ok(None);
        }
    }
    let scan = Scan {
        rows: tally.rows,
        ..guess
    };
    Ok(Some((scan, written)))
}

/// The error for a value that does not fit a type the user gave.
fn misfit_error(source: &Source, at: At, scan: &Scan, misfit: Misfit) -> ConvertError {
    match misfit {
        Misfit::Value { column, text } => {
            let c = &scan.schema.columns[column];
            value_error(source, at, &c.name, &c.column_type, &text)
        }
        Misfit::NewKey => ConvertError::Input {
            file: source.label().to_owned(),
            reason: format!("line {}: a key the head did not have", at.line),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::progress::NoProgress;

    /// The two passes' bytes, and whether the one pass gave the same or
    /// said it could not.
    fn one_pass_holds(text: &str) -> bool {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        std::fs::write(&path, text).unwrap();
        let source = Source::file(&path).unwrap();
        let opts = JsonOptions::default();
        let scan = scan(&source, &opts, &NoProgress).unwrap();
        let (_, expected) = write_parquet(&source, &scan, Vec::new(), &NoProgress).unwrap();
        match convert(&source, &opts, Vec::new(), &NoProgress).unwrap() {
            Some((one, (written, bytes))) => {
                assert_eq!(one.schema, scan.schema);
                assert_eq!(one.rows, scan.rows);
                assert_eq!(written.rows, scan.rows);
                assert_eq!(bytes, expected);
                true
            }
            None => false,
        }
    }

    fn lines(rows: usize, row: impl Fn(usize) -> String) -> String {
        (0..rows).map(|i| row(i) + "\n").collect()
    }

    #[test]
    fn leaves_inside_objects_and_arrays_get_a_dictionary_when_it_pays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let text = lines(400, |i| {
            format!(
                r#"{{"o": {{"u": {i}, "k": "k{}", "in": {{"t": "t{i}"}}}}, "l": [{}, 1], "v": [[{i}]]}}"#,
                i % 3,
                i % 2
            )
        });
        std::fs::write(&path, text).unwrap();
        let source = Source::file(&path).unwrap();
        let scan = scan(&source, &JsonOptions::default(), &NoProgress).unwrap();
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let inner = ["list", "element"];
        assert_eq!(
            scan.leaf_dictionary,
            [
                (path(&["o", "u"]), false),
                (path(&["o", "k"]), true),
                (path(&["o", "in", "t"]), false),
                (path(&["l", inner[0], inner[1]]), true),
                (path(&["v", inner[0], inner[1], inner[0], inner[1]]), false),
            ]
        );
        assert_eq!(scan.dictionary, [false, true, false]);
    }

    #[test]
    fn one_pass_gives_the_two_passes_bytes_or_steps_aside() {
        let head = DICTIONARY_SAMPLE_ROWS as usize;
        let n = head + 100;
        assert!(one_pass_holds(&lines(n, |i| format!(
            r#"{{"id": {i}, "x": "{}", "d": "2024-01-0{}"}}"#,
            i % 5,
            1 + i % 9
        ))));
        // The whole file is the head.
        assert!(one_pass_holds(&lines(10, |i| format!(r#"{{"id": {i}}}"#))));
        // A key first seen after the head.
        assert!(!one_pass_holds(&lines(n, |i| if i == head + 1 {
            format!(r#"{{"id": {i}, "late": 1}}"#)
        } else {
            format!(r#"{{"id": {i}}}"#)
        })));
        // A number after the head that is not an integer.
        assert!(!one_pass_holds(&lines(n, |i| if i == head + 1 {
            r#"{"id": 0.5}"#.to_owned()
        } else {
            format!(r#"{{"id": {i}}}"#)
        })));
        // A string of digits after integers: VARCHAR, as two passes say.
        assert!(!one_pass_holds(&lines(n, |i| if i == head + 1 {
            r#"{"id": "12"}"#.to_owned()
        } else {
            format!(r#"{{"id": {i}}}"#)
        })));
        // An object over two lines after the head: the two passes read it.
        assert!(!one_pass_holds(&lines(n, |i| if i == head + 1 {
            format!("{{\"id\":\n{i}}}")
        } else {
            format!(r#"{{"id": {i}}}"#)
        })));
        // Objects and arrays, the same all through.
        assert!(one_pass_holds(&lines(n, |i| format!(
            r#"{{"id": {i}, "o": {{"a": [{i}, 1.5], "b": {{"c": "2024-01-0{}"}}}}}}"#,
            1 + i % 9
        ))));
        let nested = |late: &str| {
            lines(n, move |i| match i == head + 1 {
                true => format!(r#"{{"id": {i}, "o": {late}}}"#),
                false => format!(r#"{{"id": {i}, "o": {{"a": [{i}], "b": null}}}}"#),
            })
        };
        // A field null in the whole head.
        assert!(!one_pass_holds(&nested(r#"{"a": [1], "b": 1}"#)));
        // A field first seen after the head.
        assert!(!one_pass_holds(&lines(n, |i| if i == head + 1 {
            format!(r#"{{"id": {i}, "o": {{"a": [1], "z": 1}}}}"#)
        } else {
            format!(r#"{{"id": {i}, "o": {{"a": [{i}]}}}}"#)
        })));
        // A string of digits among integers inside an array.
        assert!(!one_pass_holds(&lines(n, |i| if i == head + 1 {
            format!(r#"{{"id": {i}, "o": {{"a": ["12"]}}}}"#)
        } else {
            format!(r#"{{"id": {i}, "o": {{"a": [{i}]}}}}"#)
        })));
        // A number where the head had objects.
        assert!(!one_pass_holds(&lines(n, |i| if i == head + 1 {
            format!(r#"{{"id": {i}, "o": 1}}"#)
        } else {
            format!(r#"{{"id": {i}, "o": {{"a": [{i}]}}}}"#)
        })));
        // A timestamp after dates: TIMESTAMP, as the two passes say.
        let days = |late: &str| {
            lines(n, move |i| match i == head + 1 {
                true => format!(r#"{{"id": {i}, "d": "{late}"}}"#),
                false => format!(r#"{{"id": {i}, "d": "2024-01-0{}"}}"#, 1 + i % 9),
            })
        };
        assert!(!one_pass_holds(&days("2024-01-01 10:00:00")));
        // Text after dates: VARCHAR.
        assert!(!one_pass_holds(&days("soon")));
        // A date after timestamps is a TIMESTAMP (midnight) either way.
        assert!(one_pass_holds(&lines(n, |i| match i == head + 1 {
            true => format!(r#"{{"id": {i}, "t": "2024-01-02"}}"#),
            false => format!(r#"{{"id": {i}, "t": "2024-01-01 00:00:{:02}"}}"#, i % 60),
        })));
        // A key null in the whole head that holds dates later.
        assert!(!one_pass_holds(&lines(n, |i| if i > head {
            format!(r#"{{"id": {i}, "v": "2024-01-01"}}"#)
        } else {
            format!(r#"{{"id": {i}, "v": null}}"#)
        })));
        // A key null in the whole head that holds integers later.
        assert!(!one_pass_holds(&lines(n, |i| if i > head {
            format!(r#"{{"id": {i}, "v": {i}}}"#)
        } else {
            format!(r#"{{"id": {i}, "v": null}}"#)
        })));
    }
}
