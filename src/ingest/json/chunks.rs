//! JSON in chunks (see `ingest::chunks`): JSON Lines cut at line ends, one
//! array of objects cut after the commas between its elements (found by
//! following strings and nesting). Each chunk's objects are parsed alone,
//! checked and appended on a worker thread.

use std::io::Write;

use arrow::datatypes::SchemaRef;

use super::cuts::{ElementEnds, LineEnds, pieces};
use super::keys::Keys;
use super::objects::{At, json_error, not_an_object};
use super::read::{read_object, read_object_str};
use super::value::{Json, narrow, takes_what_it_parses};
use super::{Misfit, Rows, misfit_error};
use crate::ingest::batch::arrow_schema;
use crate::ingest::chunks::{ChunkBatches, Chunking, Cut, Parsed, Stop, write_chunks};
use crate::ingest::error::ConvertError;
use crate::ingest::infer::Inferrer;
use crate::ingest::progress::Progress;
use crate::ingest::scan::{JsonForm, Scan};
use crate::ingest::source::Source;
use crate::ingest::writer::Written;
use crate::schema::ColumnType;

/// Writes the objects of `chunks`' source; what every value was.
pub(crate) fn write<W: Write + Send>(
    chunks: &Objects<'_>,
    out: W,
    progress: &dyn Progress,
) -> Result<((Written, W), Kinds), Stop> {
    let bytes = |n| progress.bytes(n);
    let text = chunks.source.open(&bytes).map_err(|e| ConvertError::Read {
        file: chunks.source.label().to_owned(),
        source: e,
    })?;
    write_chunks(out, progress, text, csv::Position::new(), chunks)
}

/// The objects of a JSON file, by chunks.
pub(crate) struct Objects<'a> {
    source: &'a Source,
    scan: &'a Scan,
    form: JsonForm,
    arrow: SchemaRef,
    /// Where each key goes.
    keys: &'a Keys,
    /// The types given (none for pass two: its types are final).
    forced: &'a [Option<ColumnType>],
    /// Per column: whether its strings narrow the type inferred (not for
    /// dates and times, see `takes_what_it_parses`).
    narrows: Vec<bool>,
}

/// What the values of each column were, and how many rows.
pub(crate) struct Kinds {
    pub(crate) kinds: Vec<u8>,
    pub(crate) strings: Inferrer,
    pub(crate) rows: u64,
}

impl<'a> Objects<'a> {
    pub(crate) fn new(
        source: &'a Source,
        scan: &'a Scan,
        form: JsonForm,
        keys: &'a Keys,
        forced: &'a [Option<ColumnType>],
    ) -> Self {
        Objects {
            source,
            scan,
            form,
            arrow: arrow_schema(&scan.schema),
            keys,
            forced,
            narrows: (scan.schema.columns.iter())
                .map(|c| !takes_what_it_parses(&c.column_type))
                .collect(),
        }
    }
}

impl Chunking for Objects<'_> {
    type Tally = Kinds;

    fn scan(&self) -> &Scan {
        self.scan
    }

    fn label(&self) -> &str {
        self.source.label()
    }

    fn cutter(&self) -> impl Cut {
        match self.form {
            JsonForm::Lines => Box::new(LineEnds::default()) as Box<dyn Cut>,
            JsonForm::Array => Box::new(ElementEnds::default()),
        }
    }

    fn tally(&self) -> Kinds {
        let columns = self.scan.schema.columns.len();
        Kinds {
            kinds: vec![0; columns],
            strings: Inferrer::new(columns, self.scan.formats.clone()),
            rows: 0,
        }
    }

    fn merge(&self, tally: &mut Kinds, later: Kinds) {
        tally
            .kinds
            .iter_mut()
            .zip(&later.kinds)
            .for_each(|(k, l)| *k |= l);
        tally.strings.merge(&later.strings);
        tally.rows += later.rows;
    }

    /// Parses each object and appends it; a key the scan did not have, a
    /// value its column does not take (of a type not given) or an object
    /// over several lines stop it as a misfit.
    fn parse(&self, text: &[u8], at: csv::Position, lines: u64) -> Parsed<Kinds> {
        let source = self.source;
        let columns = self.scan.schema.columns.len();
        let mut rows = Rows::with_keys(self.keys.clone(), columns);
        // The members of each object in turn, in one allocation.
        let mut object = Vec::new();
        let mut tally = self.tally();
        let mut batches = ChunkBatches::new(self.scan, &self.arrow, lines);
        // Checked as UTF-8 at once: each object then need not be (what is
        // not is found, and told where, object by object).
        let utf8 = std::str::from_utf8(text).ok();
        for (mut range, line) in pieces(source, self.form, text, &at)? {
            let at = At { line };
            if text[range.clone()].ends_with(b"\r") {
                range.end -= 1;
            }
            // (A piece begins and ends where characters do: after white
            // space, before a line break or a comma.)
            let read = match utf8.and_then(|utf8| utf8.get(range.clone())) {
                Some(piece) => read_object_str(piece, &mut object),
                None => read_object(&text[range], &mut object),
            };
            match read {
                Ok(None) => {}
                Ok(Some(other)) => return Err(Stop::Failed(not_an_object(source, at, &other))),
                // An object over several lines: the passes on one thread
                // read it.
                Err(e) if e.is_eof() && self.form == JsonForm::Lines => {
                    return Err(Stop::Misfit(json_error(source, line, &e)));
                }
                Err(e) => return Err(Stop::Failed(json_error(source, line, &e))),
            };
            if let Err(misfit) = rows.place(&object) {
                let e = misfit_error(source, at, self.scan, misfit);
                return Err(Stop::Misfit(e));
            }
            for (&i, (_, value)) in rows.placed.iter().zip(&object) {
                let given = self.forced.get(i).is_some_and(Option::is_some);
                if given || matches!(value, Json::Null) {
                    continue;
                }
                if self.narrows[i] {
                    narrow(&mut tally.kinds, &mut tally.strings, i, value);
                } else {
                    tally.kinds[i] |= value.kind();
                }
            }
            if let Err(misfit) = rows.append_placed(&object, &mut batches.builders) {
                let given = match misfit {
                    Misfit::Value { column, .. } => {
                        self.forced.get(column).is_some_and(Option::is_some)
                    }
                    Misfit::NewKey => false,
                };
                let e = misfit_error(source, at, self.scan, misfit);
                return Err(if given {
                    Stop::Failed(e)
                } else {
                    Stop::Misfit(e)
                });
            }
            tally.rows += 1;
            batches.row_done()?;
        }
        Ok((batches.finish()?, tally))
    }
}
