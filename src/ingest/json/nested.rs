//! Objects and arrays inside a key's values: what pass one learns of them
//! (the keys of the objects, the elements of the arrays, each typed as a
//! column is) and how the second pass appends them to STRUCT and LIST
//! builders.

use super::keys::Keys;
use super::value::{ARRAY, Json, MAX_DEPTH, MAX_FIELDS, OBJECT, column_type};
use crate::ingest::batch::Builder;
use crate::ingest::columns::unique_names;
use crate::ingest::infer::{Inferrer, MIN_VECTOR_LENGTH};
use crate::ingest::scan::ColumnSample;
use crate::schema::{Column, ColumnType, LIST_ELEMENT, MAX_VECTOR_LENGTH};

/// What the values at one place inside a key's values were (a field of its
/// objects, the elements of its arrays).
#[derive(Debug, Clone)]
struct Place {
    /// Kinds of value seen (not null).
    kinds: u8,
    /// Its column in the inferrer of strings inside objects and arrays.
    strings: usize,
    inner: Nested,
    /// Its first values (not objects or arrays), for the dictionary.
    sample: ColumnSample,
}

impl Place {
    /// A place inside `depth` objects and arrays.
    fn new(strings: &mut Inferrer, depth: usize) -> Place {
        strings.add_column();
        Place {
            kinds: 0,
            strings: strings.columns() - 1,
            inner: Nested {
                depth,
                ..Nested::default()
            },
            sample: ColumnSample::default(),
        }
    }

    /// Learns a value (not null); `sampling` while in the rows of the
    /// dictionary sample.
    fn observe(&mut self, value: &Json<'_>, strings: &mut Inferrer, sampling: bool) {
        self.kinds |= value.kind();
        match value {
            Json::String(s) => strings.observe(self.strings, s),
            Json::Object(_) | Json::Array(_) => self.inner.observe(value, strings, sampling),
            _ => {}
        }
        if sampling && !matches!(value, Json::Object(_) | Json::Array(_)) {
            self.sample.observe(&value.text().unwrap_or_default());
        }
    }

    /// Whether each leaf at or under this place, of type `t`, pays for a
    /// dictionary, by Parquet path (from `path`).
    fn dictionaries(&self, t: &ColumnType, path: &[String], out: &mut Vec<(Vec<String>, bool)>) {
        match t {
            ColumnType::Struct(_) | ColumnType::List(_) | ColumnType::Vector(_) => {
                self.inner.dictionaries(t, path, out);
            }
            _ => out.push((path.to_vec(), self.sample.pays())),
        }
    }

    fn column_type(&self, string_types: &[ColumnType]) -> ColumnType {
        self.inner
            .column_type(self.kinds, string_types)
            .unwrap_or_else(|| column_type(self.kinds, &string_types[self.strings]))
    }

    fn settled(&self) -> bool {
        self.kinds != 0 && self.inner.settled(self.kinds)
    }
}

/// The objects and arrays among one place's values: their keys and
/// elements.
#[derive(Debug, Clone, Default)]
pub(crate) struct Nested {
    /// Objects and arrays around the place (0: a key's own values).
    depth: usize,
    keys: Keys,
    fields: Vec<Place>,
    /// Objects had more keys than a STRUCT takes (their fields are no
    /// longer followed).
    too_wide: bool,
    element: Option<Box<Place>>,
    /// The fewest and the most elements of the arrays, and whether one held
    /// a null.
    lengths: Option<(usize, usize)>,
    null_element: bool,
}

impl Nested {
    /// Learns an object or an array (anything else is not nested);
    /// `sampling` while in the rows of the dictionary sample.
    pub(crate) fn observe(&mut self, value: &Json<'_>, strings: &mut Inferrer, sampling: bool) {
        if self.depth == MAX_DEPTH {
            return;
        }
        match value {
            Json::Object(members) if !self.too_wide => {
                for (position, (key, value)) in members.iter().enumerate() {
                    let i = self.keys.column(key, position);
                    if i == self.fields.len() {
                        if i == MAX_FIELDS {
                            self.too_wide = true;
                            self.keys = Keys::default();
                            self.fields = Vec::new();
                            return;
                        }
                        self.fields.push(Place::new(strings, self.depth + 1));
                    }
                    if !matches!(value, Json::Null) {
                        self.fields[i].observe(value, strings, sampling);
                    }
                }
            }
            Json::Array(items) => {
                let element = self
                    .element
                    .get_or_insert_with(|| Box::new(Place::new(strings, self.depth + 1)));
                for item in items.iter().filter(|v| !matches!(v, Json::Null)) {
                    element.observe(item, strings, sampling);
                }
                let n = items.len();
                self.null_element |= items.iter().any(|v| matches!(v, Json::Null));
                self.lengths = Some(
                    self.lengths
                        .map_or((n, n), |(lo, hi)| (lo.min(n), hi.max(n))),
                );
            }
            _ => {}
        }
    }

    /// Whether each leaf inside values of type `t` (as [`Nested::column_type`]
    /// made it) pays for a dictionary, by Parquet path (from `path`). The
    /// elements of a `FLOAT[N]` are set apart by the writer.
    pub(crate) fn dictionaries(
        &self,
        t: &ColumnType,
        path: &[String],
        out: &mut Vec<(Vec<String>, bool)>,
    ) {
        match t {
            ColumnType::Struct(fields) => {
                for (field, place) in fields.iter().zip(&self.fields) {
                    let path = [path, std::slice::from_ref(&field.name)].concat();
                    place.dictionaries(&field.column_type, &path, out);
                }
            }
            ColumnType::List(element) => {
                if let Some(place) = &self.element {
                    let path = [path, &["list".to_owned(), LIST_ELEMENT.to_owned()]].concat();
                    place.dictionaries(element, &path, out);
                }
            }
            _ => {}
        }
    }

    /// Whether every place inside a place whose values were of `kinds` held
    /// a value (not null, not an empty array): later values cannot make
    /// the type of an unsettled place another.
    pub(crate) fn settled(&self, kinds: u8) -> bool {
        if self.depth == MAX_DEPTH {
            return true;
        }
        match kinds {
            OBJECT => self.fields.iter().all(Place::settled),
            ARRAY => self.element.as_ref().is_some_and(|e| e.settled()),
            _ => true,
        }
    }

    /// The type of a place whose values were of `kinds`, when they were
    /// objects only (a STRUCT) or arrays only (a LIST); `None` for the
    /// other kinds, objects whose keys a STRUCT cannot have, and values
    /// deeper than [`MAX_DEPTH`].
    /// `string_types` are the types of the strings inside, by place.
    pub(crate) fn column_type(&self, kinds: u8, string_types: &[ColumnType]) -> Option<ColumnType> {
        if self.depth == MAX_DEPTH {
            return None;
        }
        match kinds {
            OBJECT if !self.too_wide && !self.fields.is_empty() => {
                let names = unique_names(self.keys.raw.iter().map(String::as_str));
                if names != self.keys.raw {
                    return None;
                }
                let fields = names
                    .into_iter()
                    .zip(&self.fields)
                    .map(|(name, place)| Column {
                        name,
                        column_type: place.column_type(string_types),
                    })
                    .collect();
                Some(ColumnType::Struct(fields))
            }
            ARRAY => {
                let element = self
                    .element
                    .as_ref()
                    .map_or(ColumnType::Varchar, |e| e.column_type(string_types));
                match self.lengths {
                    // A key's arrays of numbers, not all integers, all as
                    // long: an embedding.
                    Some((n, hi))
                        if self.depth == 0
                            && n == hi
                            && (MIN_VECTOR_LENGTH..=MAX_VECTOR_LENGTH).contains(&n)
                            && !self.null_element
                            && element == ColumnType::Double =>
                    {
                        Some(ColumnType::Vector(n))
                    }
                    _ => Some(ColumnType::List(Box::new(element))),
                }
            }
            _ => None,
        }
    }
}

/// Appends a value of a key (`null` for none) to its column's builder; the
/// bytes of input it stands for, or the JSON text of the value (inside it)
/// that the column's type does not take. Inside objects and arrays a
/// string never goes into a BOOLEAN, BIGINT or DOUBLE (only a type given
/// to a key takes strings that read as one).
pub(crate) fn append_value(builder: &mut Builder, value: &Json<'_>) -> Result<usize, String> {
    append_at(builder, value, false)
}

fn append_at(builder: &mut Builder, value: &Json<'_>, inside: bool) -> Result<usize, String> {
    match (&mut *builder, value) {
        (builder, Json::Null) => {
            builder.append_null();
            return Ok(0);
        }
        (Builder::Struct(s), Json::Object(members)) => {
            let mut bytes = 0;
            for (position, (key, member)) in members.iter().enumerate() {
                match s.field(key, position) {
                    Ok(Some(field)) => bytes += append_at(field, member, true)?,
                    // A key given twice: the first value holds.
                    Ok(None) => {}
                    Err(()) => return Err(value.to_string()),
                }
            }
            s.end_row();
            return Ok(bytes);
        }
        (Builder::Vector(v), Json::Array(items)) => {
            let numbers = items.iter().map(|item| match item {
                Json::Number(n) => n.as_f64(),
                _ => None,
            });
            return if v.append_numbers(numbers) {
                Ok(4 * items.len())
            } else {
                Err(value.to_string())
            };
        }
        (Builder::List(l), Json::Array(items)) => {
            let mut bytes = 0;
            for item in items {
                bytes += append_at(l.element(), item, true)?;
                l.element_done();
            }
            l.end_row();
            return Ok(bytes);
        }
        _ => {}
    }
    // Numbers and booleans straight into columns of their type.
    let direct = match value {
        Json::Number(n) => {
            n.as_i64().is_some_and(|v| builder.append_i64(v))
                || n.as_f64().is_some_and(|v| builder.append_f64(v))
        }
        Json::Bool(b) => builder.append_bool(*b),
        _ => false,
    };
    if direct {
        return Ok(8);
    }
    let text = value.text().unwrap_or_default();
    let typed = matches!(
        builder,
        Builder::Boolean(_) | Builder::Bigint(_) | Builder::Double(_)
    );
    if !(inside && typed) && builder.append_text(&text) {
        Ok(text.len())
    } else {
        Err(text.into_owned())
    }
}
