//! Record batches to one Parquet object: the writer settings (decided by
//! the input alone, so that the same rows always give the same bytes), the
//! encoder thread, and the hash that names the object (`hash`). `stats`
//! reads a written object's footer statistics back for the catalog.

use std::io::{self, Write};
use std::sync::mpsc::sync_channel;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::ingest::batch::{BATCH_BYTES, BATCH_ROWS, Builder, arrow_schema, batch_of, builders};
use crate::ingest::error::ConvertError;
use crate::ingest::progress::Progress;
use crate::ingest::scan::Scan;

mod row_groups;
pub mod stats;

use row_groups::RowGroups;

use crate::hashing::HashingWriter;
use crate::schema::{ColumnType, LIST_ELEMENT};

/// Batches built and waiting for the encoder: enough for the parser and
/// the encoder to each keep a core busy through their uneven moments.
const BATCHES_IN_FLIGHT: usize = 8;

/// Rows per Parquet row group (DuckDB's own row group size).
const ROW_GROUP_ROWS: usize = 122_880;

/// Encoded bytes a row group may buffer before it is flushed: bounds memory
/// on wide rows (a row group is held whole until it is written; on a file
/// of 200 numeric columns the peak was 173 MiB at 64 MiB, 122 MiB at 16;
/// at 12, 118-121 MiB with the columns encoded on two threads).
const ROW_GROUP_BYTES: usize = 12 << 20;

/// The Parquet file a conversion wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub sha256: String,
    pub bytes: u64,
    pub rows: u64,
}

/// What a conversion found and wrote: the schema, and the object in the
/// writer it was given.
pub type Converted<W> = (Scan, (Written, W));

/// The longest string a footer keeps whole as a column's min or max.
const STATS_MAX_BYTES: usize = 4096;

/// Writer settings: decided by the input alone, so the same input always
/// gives the same bytes.
/// Rows in one data page of a `FLOAT[N]` column.
const VECTOR_PAGE_ROWS: usize = 256;

fn writer_properties(scan: &Scan) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        // Bounds kept whole up to 4 KiB, so they are the values themselves
        // and DuckDB may answer min/max from them (a cut string is only a
        // bound, and makes the table's statistics unknown).
        .set_statistics_truncate_length(Some(STATS_MAX_BYTES))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_created_by(concat!("lake ", env!("CARGO_PKG_VERSION")).to_owned());
    for (path, dictionary) in &scan.leaf_dictionary {
        props = props.set_column_dictionary_enabled(ColumnPath::new(path.clone()), *dictionary);
    }
    for (col, &dictionary) in scan.schema.columns.iter().zip(&scan.dictionary) {
        props =
            props.set_column_dictionary_enabled(ColumnPath::from(col.name.as_str()), dictionary);
        if let ColumnType::Vector(_) = col.column_type {
            // Embeddings: no dictionary (no two alike), and small pages, so
            // that a search reads the few rows it found, not whole columns.
            let element =
                ColumnPath::new(vec![col.name.clone(), "list".into(), LIST_ELEMENT.into()]);
            props = props
                .set_column_dictionary_enabled(element.clone(), false)
                .set_column_data_page_row_count_limit(element, VECTOR_PAGE_ROWS);
        }
    }
    props.build()
}

/// Rows being gathered into record batches and handed to the Parquet writer.
pub(crate) struct Batches<'a> {
    /// One per column: append a field to each, then call [`Batches::row_done`].
    pub(crate) builders: Vec<Builder>,
    arrow: SchemaRef,
    tx: std::sync::mpsc::SyncSender<RecordBatch>,
    progress: &'a dyn Progress,
    in_batch: usize,
    batch_bytes: usize,
    rows: u64,
}

impl Batches<'_> {
    /// One more row (of `bytes` in the input) is in the builders. `false`
    /// when the writer has stopped (its error is reported).
    pub(crate) fn row_done(&mut self, bytes: usize) -> Result<bool, ConvertError> {
        self.in_batch += 1;
        self.batch_bytes += bytes;
        // Batches are bounded in rows and in bytes: memory follows the
        // budget, not the width of the rows.
        if self.in_batch == BATCH_ROWS || self.batch_bytes >= BATCH_BYTES {
            return self.send();
        }
        Ok(true)
    }

    /// Ends the batch here (if it holds rows); `false` when the writer has
    /// stopped.
    pub(crate) fn end_batch(&mut self) -> Result<bool, ConvertError> {
        if self.in_batch == 0 {
            return Ok(true);
        }
        self.send()
    }

    /// Sends the last batch; the number of rows in all.
    pub(crate) fn finish(mut self) -> Result<u64, ConvertError> {
        if self.in_batch > 0 {
            self.send()?;
        }
        Ok(self.rows)
    }

    fn send(&mut self) -> Result<bool, ConvertError> {
        let batch = batch_of(&self.arrow, &mut self.builders)?;
        self.progress.rows(self.in_batch as u64);
        self.rows += self.in_batch as u64;
        self.in_batch = 0;
        self.batch_bytes = 0;
        Ok(self.tx.send(batch).is_ok())
    }
}

/// Writes the rows `produce` appends as Parquet to `out`, hashing the bytes:
/// `produce` runs on its own thread while this one encodes.
pub(crate) fn write_batches<W: Write + Send>(
    scan: &Scan,
    out: W,
    progress: &dyn Progress,
    produce: impl FnOnce(Batches<'_>) -> Result<u64, ConvertError> + Send,
) -> Result<(Written, W), ConvertError> {
    let (tx, rx) = sync_channel::<RecordBatch>(BATCHES_IN_FLIGHT);
    let batches = Batches {
        builders: builders(scan, BATCH_ROWS),
        arrow: arrow_schema(&scan.schema),
        tx,
        progress,
        in_batch: 0,
        batch_bytes: 0,
        rows: 0,
    };
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || produce(batches));
        // When encoding fails, the channel closes and the producer stops.
        let written = encode(scan, out, rx.into_iter().map(Ok));
        producer
            .join()
            .map_err(|_| ConvertError::Write(io::Error::other("the parser thread panicked")))??;
        written
    })
}

/// Encodes `batches` (of the scan's Arrow schema) as Parquet into `out`,
/// hashing the bytes.
pub(crate) fn encode<W: Write + Send>(
    scan: &Scan,
    out: W,
    batches: impl Iterator<Item = Result<RecordBatch, ConvertError>>,
) -> Result<(Written, W), ConvertError> {
    let mut object = ParquetObject::new(scan, out)?;
    for batch in batches {
        object.write(&batch?)?;
    }
    object.finish()
}

/// One Parquet object being written with lake's settings, hashed as it goes.
pub struct ParquetObject<W: Write + Send> {
    writer: RowGroups<HashingWriter<W>>,
    rows: u64,
}

impl<W: Write + Send> ParquetObject<W> {
    /// An object of `scan`'s schema and settings written to `out`.
    pub fn new(scan: &Scan, out: W) -> Result<ParquetObject<W>, ConvertError> {
        Ok(ParquetObject {
            writer: RowGroups::new(
                HashingWriter::new(out),
                arrow_schema(&scan.schema),
                writer_properties(scan),
            )?,
            rows: 0,
        })
    }

    /// Appends rows of the scan's Arrow schema.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ConvertError> {
        self.rows += batch.num_rows() as u64;
        Ok(self.writer.write(batch)?)
    }

    /// About the bytes the object holds so far: those written and an
    /// estimate of the row group being built.
    pub fn size(&self) -> u64 {
        (self.writer.bytes_written() + self.writer.in_progress_size()) as u64
    }

    /// Writes the footer; the object's hash, size and rows, and `out`.
    pub fn finish(self) -> Result<(Written, W), ConvertError> {
        let hashing = self.writer.into_inner()?;
        let (sha256, bytes, out) = hashing.finish().map_err(ConvertError::Write)?;
        Ok((
            Written {
                sha256,
                bytes,
                rows: self.rows,
            },
            out,
        ))
    }
}

/// `batch` with its columns cast to the types of `target` (the same
/// columns, in order); a value that does not fit is an error naming its
/// column, never NULL.
pub fn conform(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch, String> {
    let options = arrow::compute::CastOptions {
        safe: false,
        ..Default::default()
    };
    let columns = batch
        .columns()
        .iter()
        .zip(target.fields())
        .map(|(column, field)| {
            arrow::compute::cast_with_options(column, field.data_type(), &options)
                .map_err(|e| format!("column {:?}: {e}", field.name()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(target.clone(), columns).map_err(|e| e.to_string())
}
