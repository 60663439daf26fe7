//! Arrow record batches to Parquet: the batches built from text fields,
//! the writer settings (decided by the input alone, so that the same rows
//! always give the same bytes), and the hash of the bytes as they are
//! written.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::mpsc::sync_channel;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};

use super::convert::{ConvertError, Progress, Scan};
use super::nested::{self, ListColumn, StructColumn};
use super::values::{self, Formats};
use crate::schema::{ColumnType, Schema};

/// Rows per Arrow record batch.
pub(super) const BATCH_ROWS: usize = 32 * 1024;
/// Bytes of fields in one batch at most (narrow rows reach BATCH_ROWS
/// first, so their objects are as before).
const BATCH_BYTES: usize = 16 << 20;
/// Batches built and waiting for the encoder: enough for the parser and
/// the encoder to each keep a core busy through their uneven moments.
const BATCHES_IN_FLIGHT: usize = 8;
/// Rows per Parquet row group (DuckDB's own row group size).
const ROW_GROUP_ROWS: usize = 122_880;
/// Encoded bytes a row group may buffer before it is flushed: bounds memory
/// on wide rows.
const ROW_GROUP_BYTES: usize = 64 << 20;

/// The Arrow schema a lake schema is written as.
pub fn arrow_schema(schema: &Schema) -> SchemaRef {
    Arc::new(ArrowSchema::new(
        schema
            .columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(&c.column_type), true))
            .collect::<Vec<_>>(),
    ))
}

/// The Arrow type a lake type is written as.
pub(super) fn arrow_type(t: &ColumnType) -> DataType {
    match t {
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Bigint => DataType::Int64,
        ColumnType::Double => DataType::Float64,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::Timestamptz => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        ColumnType::Time => DataType::Time64(TimeUnit::Microsecond),
        ColumnType::Varchar => DataType::Utf8,
        ColumnType::Struct(fields) => DataType::Struct(nested::struct_fields(fields)),
        ColumnType::List(element) => DataType::LargeList(nested::list_field(element)),
    }
}

/// Builds one column of a batch from text fields.
pub(super) enum Builder {
    Boolean(BooleanBuilder),
    Bigint(Int64Builder),
    Double(Float64Builder),
    Date(Date32Builder, Formats),
    Timestamp(TimestampMicrosecondBuilder, Formats),
    Timestamptz(TimestampMicrosecondBuilder),
    Time(Time64MicrosecondBuilder),
    Varchar(StringBuilder),
    Struct(Box<StructColumn>),
    List(Box<ListColumn>),
}

/// The zone instants are stored in.
const UTC: &str = "UTC";

impl Builder {
    /// A builder with room for `rows` values.
    pub(super) fn new(t: &ColumnType, formats: &Formats, rows: usize) -> Builder {
        match t {
            ColumnType::Boolean => Builder::Boolean(BooleanBuilder::with_capacity(rows)),
            ColumnType::Bigint => Builder::Bigint(Int64Builder::with_capacity(rows)),
            ColumnType::Double => Builder::Double(Float64Builder::with_capacity(rows)),
            ColumnType::Date => Builder::Date(Date32Builder::with_capacity(rows), formats.clone()),
            ColumnType::Timestamp => Builder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(rows),
                formats.clone(),
            ),
            ColumnType::Timestamptz => Builder::Timestamptz(
                TimestampMicrosecondBuilder::with_capacity(rows).with_timezone(UTC),
            ),
            ColumnType::Time => Builder::Time(Time64MicrosecondBuilder::with_capacity(rows)),
            ColumnType::Varchar => Builder::Varchar(StringBuilder::with_capacity(rows, rows * 16)),
            ColumnType::Struct(fields) => {
                Builder::Struct(Box::new(StructColumn::new(fields, formats, rows)))
            }
            ColumnType::List(element) => {
                Builder::List(Box::new(ListColumn::new(element, formats, rows)))
            }
        }
    }

    /// Appends a text value that is never NULL (an empty one is the empty
    /// string in a VARCHAR column, NULL in the others); `false` when it does
    /// not parse as the column type.
    pub(super) fn append_text(&mut self, field: &str) -> bool {
        match self {
            Builder::Varchar(b) => {
                b.append_value(field);
                true
            }
            _ => self.append(field),
        }
    }

    /// Appends an integer to a BIGINT or DOUBLE column; `false` (and
    /// nothing appended) for a column of another type.
    pub(super) fn append_i64(&mut self, v: i64) -> bool {
        match self {
            Builder::Bigint(b) => b.append_value(v),
            Builder::Double(b) => b.append_value(v as f64),
            _ => return false,
        }
        true
    }

    /// Appends a number to a DOUBLE column; `false` for another type.
    pub(super) fn append_f64(&mut self, v: f64) -> bool {
        match self {
            Builder::Double(b) => b.append_value(v),
            _ => return false,
        }
        true
    }

    /// Appends a boolean to a BOOLEAN column; `false` for another type.
    pub(super) fn append_bool(&mut self, v: bool) -> bool {
        match self {
            Builder::Boolean(b) => b.append_value(v),
            _ => return false,
        }
        true
    }

    /// Appends NULL.
    pub(super) fn append_null(&mut self) {
        self.append("");
    }

    /// Appends one field, empty for NULL; `false` when it does not parse as
    /// the column type.
    #[inline]
    pub(super) fn append(&mut self, field: &str) -> bool {
        if field.is_empty() {
            match self {
                Builder::Boolean(b) => b.append_null(),
                Builder::Bigint(b) => b.append_null(),
                Builder::Double(b) => b.append_null(),
                Builder::Date(b, _) => b.append_null(),
                Builder::Timestamp(b, _) | Builder::Timestamptz(b) => b.append_null(),
                Builder::Time(b) => b.append_null(),
                Builder::Varchar(b) => b.append_null(),
                Builder::Struct(b) => b.append_null(),
                Builder::List(b) => b.append_null(),
            }
            return true;
        }
        fn put<T>(v: Option<T>, f: impl FnOnce(T)) -> bool {
            v.map(f).is_some()
        }
        match self {
            Builder::Boolean(b) => put(values::parse_bool(field), |v| b.append_value(v)),
            Builder::Bigint(b) => put(values::parse_i64(field), |v| b.append_value(v)),
            Builder::Double(b) => put(values::parse_f64(field), |v| b.append_value(v)),
            Builder::Date(b, formats) => put(formats.date(field), |v| b.append_value(v)),
            Builder::Timestamp(b, formats) => put(formats.timestamp(field), |v| b.append_value(v)),
            Builder::Timestamptz(b) => put(values::parse_timestamptz(field), |v| b.append_value(v)),
            Builder::Time(b) => put(values::parse_time(field), |v| b.append_value(v)),
            Builder::Varchar(b) => {
                b.append_value(field);
                true
            }
            // Text is never a nested value.
            Builder::Struct(_) | Builder::List(_) => false,
        }
    }

    pub(super) fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Boolean(b) => Arc::new(b.finish()),
            Builder::Bigint(b) => Arc::new(b.finish()),
            Builder::Double(b) => Arc::new(b.finish()),
            Builder::Date(b, _) => Arc::new(b.finish()),
            Builder::Timestamp(b, _) | Builder::Timestamptz(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::Varchar(b) => Arc::new(b.finish()),
            Builder::Struct(b) => b.finish(),
            Builder::List(b) => b.finish(),
        }
    }
}

/// A writer that hashes and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The SHA-256 (hex) and length of everything written, and the writer.
    pub fn finish(mut self) -> io::Result<(String, u64, W)> {
        self.inner.flush()?;
        Ok((hex::encode(self.hasher.finalize()), self.bytes, self.inner))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The Parquet file a conversion wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub sha256: String,
    pub bytes: u64,
    pub rows: u64,
}

/// The longest string a footer keeps whole as a column's min or max.
const STATS_MAX_BYTES: usize = 4096;

/// Writer settings: decided by the input alone, so the same input always
/// gives the same bytes.
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
    for (col, &dictionary) in scan.schema.columns.iter().zip(&scan.dictionary) {
        props =
            props.set_column_dictionary_enabled(ColumnPath::from(col.name.as_str()), dictionary);
    }
    props.build()
}

/// One builder per column of `scan`'s schema, with room for `rows` rows
/// (at most a batch of narrow rows: wide tables, a hundred thousand
/// columns, grow as rows come instead).
pub(super) fn builders(scan: &Scan, rows: usize) -> Vec<Builder> {
    let columns = scan.schema.columns.len().max(1);
    let rows = rows.min((BATCH_BYTES / (16 * columns)).clamp(16, BATCH_ROWS));
    scan.schema
        .columns
        .iter()
        .map(|c| Builder::new(&c.column_type, &scan.formats, rows))
        .collect()
}

/// The rows in `builders` as a record batch; the builders are left empty.
pub(super) fn batch_of(
    arrow: &SchemaRef,
    builders: &mut [Builder],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let columns = builders.iter_mut().map(Builder::finish).collect();
    RecordBatch::try_new(arrow.clone(), columns)
}

/// Rows being gathered into record batches and handed to the Parquet writer.
pub(super) struct Batches<'a> {
    /// One per column: append a field to each, then call [`Batches::row_done`].
    pub(super) builders: Vec<Builder>,
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
    pub(super) fn row_done(&mut self, bytes: usize) -> Result<bool, ConvertError> {
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
    pub(super) fn end_batch(&mut self) -> Result<bool, ConvertError> {
        if self.in_batch == 0 {
            return Ok(true);
        }
        self.send()
    }

    /// Sends the last batch; the number of rows in all.
    pub(super) fn finish(mut self) -> Result<u64, ConvertError> {
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
pub(super) fn write_batches<W: Write + Send>(
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
pub(super) fn encode<W: Write + Send>(
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
    writer: ArrowWriter<HashingWriter<W>>,
    rows: u64,
}

impl<W: Write + Send> ParquetObject<W> {
    /// An object of `scan`'s schema and settings written to `out`.
    pub fn new(scan: &Scan, out: W) -> Result<ParquetObject<W>, ConvertError> {
        Ok(ParquetObject {
            writer: ArrowWriter::try_new(
                HashingWriter::new(out),
                arrow_schema(&scan.schema),
                Some(writer_properties(scan)),
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
