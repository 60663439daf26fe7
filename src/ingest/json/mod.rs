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

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::rc::Rc;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use crate::ingest::batch::Builder;
use crate::ingest::chunks::Stop;
use crate::ingest::columns::unique_names;
use crate::ingest::error::ConvertError;
use crate::ingest::infer::{Inferrer, fits_type};
use crate::ingest::progress::Progress;
use crate::ingest::scan::{DICTIONARY_SAMPLE_ROWS, DistinctSample, Scan};
use crate::ingest::scan::{JsonChunks, JsonForm};
use crate::ingest::source::Source;
use crate::ingest::values::Formats;
use crate::ingest::writer::Converted;
use crate::ingest::writer::{Batches, Written, write_batches};
use crate::schema::{Column, ColumnType, Schema};

mod chunks;
mod nested;

use chunks::{Objects, each_element};
use nested::{Nested, append_value};

/// How to read JSON: what the user fixed.
#[derive(Debug, Clone, Default)]
pub struct JsonOptions {
    /// Types given by the user, by column name; the rest are inferred.
    pub types: Vec<(String, ColumnType)>,
    /// Date and timestamp formats of strings besides ISO 8601.
    pub formats: Formats,
}

/// Kinds of JSON value a key has held.
const BOOL: u8 = 1;
const INT: u8 = 2;
const FLOAT: u8 = 4;
const STRING: u8 = 8;
const OBJECT: u8 = 16;
const ARRAY: u8 = 32;

/// The most fields an object of a STRUCT may have: objects with more keys
/// are mostly maps (a key per user, per day), held as JSON text.
pub const MAX_FIELDS: usize = 200;

/// The most STRUCT and LIST levels a column has; what is deeper is JSON
/// text. DuckDB's time to read a LIST grows about twice with each level
/// from 15 on (8 s for one row at 25).
pub const MAX_DEPTH: usize = 16;

/// A JSON value whose objects keep their keys in the order written (the
/// order columns and JSON text follow).
#[derive(Debug, Clone, PartialEq)]
enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    /// Borrowed from the line read when it holds no escapes.
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// An object's members in order.
type Object<'a> = Vec<(Cow<'a, str>, Json<'a>)>;

impl Json<'_> {
    fn kind(&self) -> u8 {
        match self {
            Json::Null => 0,
            Json::Bool(_) => BOOL,
            Json::Number(n) if n.is_i64() => INT,
            Json::Number(_) => FLOAT,
            Json::String(_) => STRING,
            Json::Object(_) => OBJECT,
            Json::Array(_) => ARRAY,
        }
    }

    /// What a row holds: a string as itself, anything else as JSON text;
    /// `None` for `null`.
    fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Json::Null => None,
            Json::String(s) => Some(Cow::Borrowed(s.as_ref())),
            Json::Bool(true) => Some(Cow::Borrowed("true")),
            Json::Bool(false) => Some(Cow::Borrowed("false")),
            other => Some(Cow::Owned(other.to_string())),
        }
    }

    fn described(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Compact JSON text.
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |f: &mut fmt::Formatter<'_>, s: &str| {
            f.write_str(&serde_json::to_string(s).map_err(|_| fmt::Error)?)
        };
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Number(n) => write!(f, "{n}"),
            Json::String(s) => quoted(f, s),
            Json::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Json::Object(members) => {
                f.write_str("{")?;
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    quoted(f, key)?;
                    write!(f, ":{value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Json<'de>, D::Error> {
        de.deserialize_any(JsonVisitor)
    }
}

/// A string borrowed from the input where it can be (no escapes), else
/// owned: object keys, without an allocation each.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Text<'de>, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        de.deserialize_str(TextVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(Number::from_f64(v).map_or(Json::Null, Json::Number))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(Text(key)) = map.next_key()? {
            members.push((key, map.next_value()?));
        }
        Ok(Json::Object(members))
    }
}

/// Where an object is, for errors.
#[derive(Debug, Clone, Copy)]
struct At {
    line: u64,
}

/// The columns seen so far, by key in order of first appearance.
#[derive(Debug, Default, Clone)]
struct Keys {
    index: HashMap<String, usize>,
    raw: Vec<String>,
}

impl Keys {
    /// Keys already known, in column order.
    fn of(raw: &[String]) -> Keys {
        let mut keys = Keys::default();
        for (position, key) in raw.iter().enumerate() {
            keys.column(key, position);
        }
        keys
    }

    /// The column of `key`, the `position`th of its object, adding it if
    /// new. Objects mostly hold their keys in one order: the key at the
    /// column of that number is tried before the lookup.
    fn column(&mut self, key: &str, position: usize) -> usize {
        if self.raw.get(position).is_some_and(|k| k == key) {
            return position;
        }
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        let i = self.raw.len();
        self.index.insert(key.to_owned(), i);
        self.raw.push(key.to_owned());
        i
    }
}

/// What pass one learns of the objects: their keys, the kinds of value each
/// held, what its strings fit, and the dictionary sample.
struct Shape<'o> {
    opts: &'o JsonOptions,
    keys: Keys,
    kinds: Vec<u8>,
    strings: Inferrer,
    sample: DistinctSample,
    forced: Vec<Option<ColumnType>>,
    /// The objects and arrays among each column's values.
    nested: Vec<Nested>,
    /// What the strings inside them fit.
    inner_strings: Inferrer,
    rows: u64,
    row_text: Vec<String>,
}

impl<'o> Shape<'o> {
    fn new(opts: &'o JsonOptions) -> Shape<'o> {
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
    fn observe(
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
    fn kind(&mut self, i: usize, value: &Json<'_>) {
        narrow(&mut self.kinds, &mut self.strings, i, value);
        self.nested[i].observe(value, &mut self.inner_strings);
    }

    /// The types, from every value seen.
    fn types(&self) -> Vec<ColumnType> {
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
    fn scan(&self, source: &Source) -> Result<Scan, ConvertError> {
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
        Ok(Scan {
            dictionary: self.sample.finish(columns.len()),
            schema: Schema { columns },
            rows: self.rows,
            formats: self.opts.formats.clone(),
            rejects: Vec::new(),
            json_chunks: None,
        })
    }
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

/// Narrows column `i` by a value (not null): its kind, and what a string
/// fits.
fn narrow(kinds: &mut [u8], strings: &mut Inferrer, i: usize, value: &Json<'_>) {
    kinds[i] |= value.kind();
    if let Json::String(s) = value {
        strings.observe(i, s);
    }
}

/// The type of a key that held values of `kinds` (none of them objects
/// or arrays only), given what its strings (if any) were inferred as.
fn column_type(kinds: u8, strings: &ColumnType) -> ColumnType {
    match kinds {
        BOOL => ColumnType::Boolean,
        INT => ColumnType::Bigint,
        k if k == FLOAT || k == FLOAT | INT => ColumnType::Double,
        STRING => match strings {
            ColumnType::Date
            | ColumnType::Timestamp
            | ColumnType::Timestamptz
            | ColumnType::Time => strings.clone(),
            _ => ColumnType::Varchar,
        },
        _ => ColumnType::Varchar,
    }
}

/// Where an object's values go: the columns of a scan, by key.
struct Rows {
    /// The keys in the same order as pass one saw them, so they get the
    /// same columns.
    keys: Keys,
    present: Vec<bool>,
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
        Rows {
            keys: Keys::default(),
            present: vec![false; columns],
        }
    }

    /// Appends one object to the builders; the bytes it held, or what did
    /// not fit (the row is then partly appended: the caller stops).
    fn append(&mut self, object: &Object<'_>, builders: &mut [Builder]) -> Result<usize, Misfit> {
        self.present.iter_mut().for_each(|p| *p = false);
        let mut bytes = 0;
        for (position, (key, value)) in object.iter().enumerate() {
            let i = self.keys.column(key, position);
            if i >= self.present.len() {
                return Err(Misfit::NewKey);
            }
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
            if count % chunks::CHUNK_OBJECTS == 0 {
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
            (None, ColumnType::List(_)) if kinds & !ARRAY == 0 => continue,
            // Objects only or arrays only after a head without them.
            (None, _) if kinds == OBJECT || kinds == ARRAY => return Ok(None),
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

fn value_error(source: &Source, at: At, key: &str, t: &ColumnType, text: &str) -> ConvertError {
    let shown: String = text.chars().take(40).collect();
    ConvertError::Parse {
        file: source.label().to_owned(),
        line: at.line,
        reason: format!("key {key:?}: {shown:?} is not a valid {t}"),
    }
}

/// A JSON syntax error at its line of the file: `line` is where what
/// serde_json read began.
fn json_error(source: &Source, line: u64, err: &serde_json::Error) -> ConvertError {
    let message = err.to_string();
    let message = match message.rfind(" at line ") {
        Some(cut) => &message[..cut],
        None => &message,
    };
    // serde_json places an error just after the byte that caused it: a line
    // feed puts it at column 0 of the next line, though it ends this one.
    let (lines, at) = match (err.line(), err.column()) {
        (n, 0) if n > 1 => (n - 2, "at the end of the line".to_owned()),
        (n, column) => (n.saturating_sub(1), format!("column {column}")),
    };
    ConvertError::Parse {
        file: source.label().to_owned(),
        line: line + lines as u64,
        reason: format!("invalid JSON {at}: {message}"),
    }
}

fn not_an_object(source: &Source, at: At, value: &Json<'_>) -> ConvertError {
    ConvertError::Parse {
        file: source.label().to_owned(),
        line: at.line,
        reason: format!(
            "expected a JSON object (one row), found {}",
            value.described()
        ),
    }
}

/// Calls `each` with every object of the source, in order, and where it is,
/// until `each` says stop; how the file holds its objects, when chunks can
/// be cut in it (not when an object is spread over lines).
fn each_object(
    source: &Source,
    progress: &dyn Progress,
    mut each: impl FnMut(Object<'_>, At) -> Result<bool, ConvertError>,
) -> Result<Option<JsonForm>, ConvertError> {
    let read_err = |e| ConvertError::Read {
        file: source.label().to_owned(),
        source: e,
    };
    let bytes = |n| progress.bytes(n);
    let mut input = BufReader::with_capacity(1 << 20, source.open(&bytes).map_err(read_err)?);
    let (first, skipped) = first_non_space(&mut input).map_err(read_err)?;
    if first == Some(b'[') {
        return each_element(source, input, skipped + 1, each).map(|()| Some(JsonForm::Array));
    }
    // JSON Lines: an object per line, read a line at a time; an object
    // spread over lines is read on from there as a stream of values.
    let mut line = skipped;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = input.read_until(b'\n', &mut buf).map_err(read_err)?;
        if n == 0 {
            return Ok(Some(JsonForm::Lines));
        }
        line += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let at = At { line };
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        match serde_json::from_slice::<Json>(text) {
            Ok(Json::Object(object)) => {
                if !each(object, at)? {
                    return Ok(Some(JsonForm::Lines));
                }
            }
            Ok(other) => return Err(not_an_object(source, at, &other)),
            Err(e) if e.is_eof() => {
                let rest = io::Cursor::new(std::mem::take(&mut buf)).chain(input);
                return each_streamed(source, rest, line, each).map(|()| None);
            }
            Err(e) => return Err(json_error(source, line, &e)),
        }
    }
}

/// Skips white space up to the first other byte (not consumed); that byte
/// and the lines skipped.
fn first_non_space(input: &mut impl BufRead) -> io::Result<(Option<u8>, u64)> {
    let mut lines = 0;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok((None, lines));
        }
        let n = buf
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(buf.len());
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        let first = buf.get(n).copied();
        input.consume(n);
        if first.is_some() {
            return Ok((first, lines));
        }
    }
}

/// Values one after another, from `line` on, read as a stream.
fn each_streamed(
    source: &Source,
    input: impl Read,
    line: u64,
    mut each: impl FnMut(Object<'_>, At) -> Result<bool, ConvertError>,
) -> Result<(), ConvertError> {
    let (input, lines) = LineCounter::new(input);
    let stream = serde_json::Deserializer::from_reader(input).into_iter::<Json<'static>>();
    for value in stream {
        // An object is placed by the line it ends on.
        let at = At {
            line: line + lines.get(),
        };
        if !hand_on(source, value, at, line, &mut each)? {
            return Ok(());
        }
    }
    Ok(())
}

/// Hands a value read (from `line` on) to `each` when it is an object;
/// whether to go on.
fn hand_on(
    source: &Source,
    value: Result<Json<'_>, serde_json::Error>,
    at: At,
    line: u64,
    each: &mut impl FnMut(Object<'_>, At) -> Result<bool, ConvertError>,
) -> Result<bool, ConvertError> {
    match value {
        Ok(Json::Object(object)) => each(object, at),
        Ok(other) => Err(not_an_object(source, at, &other)),
        Err(e) => Err(json_error(source, line, &e)),
    }
}

/// Counts the line feeds read through it.
struct LineCounter<R> {
    inner: R,
    lines: Rc<Cell<u64>>,
}

impl<R> LineCounter<R> {
    /// Counts what is read of `inner`; the count, shared.
    fn new(inner: R) -> (LineCounter<R>, Rc<Cell<u64>>) {
        let lines = Rc::new(Cell::new(0));
        (
            LineCounter {
                inner,
                lines: lines.clone(),
            },
            lines,
        )
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let feeds = memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        self.lines.set(self.lines.get() + feeds);
        Ok(n)
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
        // A key null in the whole head that holds integers later.
        assert!(!one_pass_holds(&lines(n, |i| if i > head {
            format!(r#"{{"id": {i}, "v": {i}}}"#)
        } else {
            format!(r#"{{"id": {i}, "v": null}}"#)
        })));
    }
}
