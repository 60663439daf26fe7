//! Rows set aside instead of refusing the file (`--rejects`), and the
//! dataset they are written to.

use std::io::Write;

use crate::ingest::error::ConvertError;

use crate::ingest::progress::NoProgress;

use crate::ingest::scan::{Reject, Scan};
use crate::ingest::source::Source;
use crate::ingest::values::Formats;
use crate::ingest::writer::{Written, write_batches};
use crate::schema::{Column, ColumnType, Schema};

/// Rejects kept at most, and bytes of their text: a file with more is not
/// being read right, and is refused.
const MAX_REJECTS: usize = 1_000_000;
const MAX_REJECT_BYTES: usize = 256 << 20;

/// Sets a reject aside, or refuses the file when there are too many.
pub(crate) fn add_reject(
    rejects: &mut Vec<Reject>,
    bytes: &mut usize,
    reject: Reject,
    source: &Source,
) -> Result<(), ConvertError> {
    *bytes += reject.text.len() + reject.reason.len();
    if rejects.len() >= MAX_REJECTS || *bytes > MAX_REJECT_BYTES {
        return Err(ConvertError::Parse {
            file: source.label().to_owned(),
            line: reject.line,
            reason: format!(
                "more than {} rows (or {} MiB of them) rejected: is this the file's \
                 dialect? (lake sniff shows it) last: {}",
                MAX_REJECTS,
                MAX_REJECT_BYTES >> 20,
                reject.reason
            ),
        });
    }
    rejects.push(reject);
    Ok(())
}

/// The rejects of an ingest as a table of their own: line, text, reason.
pub fn rejects_schema() -> Schema {
    Schema {
        columns: vec![
            Column {
                name: "line".to_owned(),
                column_type: ColumnType::Bigint,
            },
            Column {
                name: "text".to_owned(),
                column_type: ColumnType::Varchar,
            },
            Column {
                name: "reason".to_owned(),
                column_type: ColumnType::Varchar,
            },
        ],
    }
}

/// Writes `rejects` as Parquet (of [`rejects_schema`]) to `out`.
pub fn write_rejects<W: Write + Send>(
    rejects: &[Reject],
    out: W,
) -> Result<(Written, W), ConvertError> {
    let scan = Scan {
        schema: rejects_schema(),
        rows: rejects.len() as u64,
        dictionary: vec![false, false, true],
        leaf_dictionary: Vec::new(),
        formats: Formats::default(),
        rejects: Vec::new(),
        json_chunks: None,
    };
    write_batches(&scan, out, &NoProgress, |mut batches| {
        for r in rejects {
            batches.builders[0].append(&r.line.to_string());
            batches.builders[1].append_text(&r.text);
            batches.builders[2].append_text(&r.reason);
            if !batches.row_done(r.text.len() + r.reason.len())? {
                return Ok(0);
            }
        }
        batches.finish()
    })
}
