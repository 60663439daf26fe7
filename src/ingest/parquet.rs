//! Parquet inputs. A file whose columns are already of lake's types (and
//! named as lake names them) is stored byte for byte as given; any other is
//! read and rewritten with its columns cast to lake's types (INTEGER to
//! BIGINT, FLOAT and DECIMAL to DOUBLE, other timestamp units to
//! microseconds, ...). Nested and binary columns are refused by name.

use std::fs::File;
use std::io::{self, Write};

use arrow::datatypes::{DataType, Schema as ArrowSchema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::ingest::columns::unique_names;

use crate::ingest::error::ConvertError;

use crate::ingest::progress::Progress;

use crate::hashing::HashingWriter;
use crate::ingest::batch::arrow_schema;
use crate::ingest::infer::MIN_VECTOR_LENGTH;
use crate::ingest::scan::Scan;
use crate::ingest::source::Source;
use crate::ingest::values::Formats;
use crate::ingest::writer::{Written, conform, encode};
use crate::schema::{Column, ColumnType, MAX_VECTOR_LENGTH, Schema};
use arrow::array::{Array, AsArray};

/// Rows read at a time when rewriting.
const BATCH_ROWS: usize = 8192;

fn reader(source: &Source) -> Result<ParquetRecordBatchReaderBuilder<File>, ConvertError> {
    let file = File::open(source.file_path()).map_err(|e| ConvertError::Read {
        file: source.label().to_owned(),
        source: e,
    })?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_error(source, e))
}

fn parquet_error(source: &Source, err: impl std::fmt::Display) -> ConvertError {
    ConvertError::Input {
        file: source.label().to_owned(),
        reason: format!("reading Parquet: {err}"),
    }
}

/// The lake type a Parquet column of `t` is stored as; `None` when lake has
/// none for it.
fn lake_type(t: &DataType) -> Option<ColumnType> {
    Some(match t {
        DataType::Boolean => ColumnType::Boolean,
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => ColumnType::Bigint,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => ColumnType::Double,
        DataType::Date32 | DataType::Date64 => ColumnType::Date,
        DataType::Timestamp(_, None) => ColumnType::Timestamp,
        DataType::Timestamp(_, Some(_)) => ColumnType::Timestamptz,
        DataType::Time32(_) | DataType::Time64(_) => ColumnType::Time,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            ColumnType::Varchar
        }
        DataType::Dictionary(_, value) => return lake_type(value),
        DataType::Struct(fields) => {
            let raw = fields.iter().map(|f| f.name().as_str());
            // Field names a STRUCT of lake's can have, as they are.
            if fields.is_empty() || !unique_names(raw.clone()).iter().eq(raw) {
                return None;
            }
            ColumnType::Struct(
                fields
                    .iter()
                    .map(|f| {
                        Some(Column {
                            name: f.name().clone(),
                            column_type: lake_type(f.data_type())?,
                        })
                    })
                    .collect::<Option<_>>()?,
            )
        }
        DataType::List(element) | DataType::LargeList(element) => {
            ColumnType::List(Box::new(lake_type(element.data_type())?))
        }
        DataType::FixedSizeList(element, n)
            if matches!(element.data_type(), DataType::Float32 | DataType::Float64)
                && (1..=MAX_VECTOR_LENGTH as i32).contains(n) =>
        {
            ColumnType::Vector(*n as usize)
        }
        DataType::FixedSizeList(element, _) => {
            ColumnType::List(Box::new(lake_type(element.data_type())?))
        }
        _ => return None,
    })
}

/// Makes `FLOAT[N]` of each list of floating point numbers whose values
/// all hold the same number of elements, at least
/// [`MIN_VECTOR_LENGTH`], none NULL (an embedding, as DuckDB writes its
/// `FLOAT[N]`: Parquet has no fixed-size list). Reads those columns only.
fn embeddings(source: &Source, schema: &mut Schema) -> Result<(), ConvertError> {
    let builder = reader(source)?;
    let candidates: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| match f.data_type() {
            DataType::List(e) | DataType::LargeList(e) => {
                matches!(e.data_type(), DataType::Float32 | DataType::Float64)
            }
            _ => false,
        })
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let mask =
        parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), candidates.iter().copied());
    let batches = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| parquet_error(source, e))?;
    // Per candidate: the one length seen so far, or None once it varies.
    let mut lengths: Vec<Option<Option<usize>>> = vec![Some(None); candidates.len()];
    for batch in batches {
        let batch = batch.map_err(|e| parquet_error(source, e))?;
        for (i, column) in batch.columns().iter().enumerate() {
            let Some(seen) = lengths[i] else { continue };
            lengths[i] = list_length(column.as_ref(), seen);
        }
    }
    for (i, length) in candidates.into_iter().zip(lengths) {
        if let Some(Some(n)) = length
            && (MIN_VECTOR_LENGTH..=MAX_VECTOR_LENGTH).contains(&n)
        {
            schema.columns[i].column_type = ColumnType::Vector(n);
        }
    }
    Ok(())
}

/// The one length of every non-NULL list in `column` and `seen` (`None`
/// when none yet), or `None` when they differ or an element is NULL.
fn list_length(column: &dyn Array, seen: Option<usize>) -> Option<Option<usize>> {
    let (lengths, values): (Vec<usize>, _) = match column.data_type() {
        DataType::List(_) => {
            let list = column.as_list::<i32>();
            let lengths = list.iter().flatten().map(|v| v.len()).collect();
            (lengths, list.values().clone())
        }
        DataType::LargeList(_) => {
            let list = column.as_list::<i64>();
            let lengths = list.iter().flatten().map(|v| v.len()).collect();
            (lengths, list.values().clone())
        }
        _ => return None,
    };
    if values.null_count() > 0 {
        return None;
    }
    let mut seen = seen;
    for n in lengths {
        match seen {
            Some(s) if s != n => return None,
            _ => seen = Some(n),
        }
    }
    Some(seen)
}

/// The file's columns as lake stores them.
fn schema_of(source: &Source, file: &ArrowSchema) -> Result<Schema, ConvertError> {
    let names = unique_names(file.fields().iter().map(|f| f.name().as_str()));
    let columns = file
        .fields()
        .iter()
        .zip(names)
        .map(|(field, name)| {
            let column_type = lake_type(field.data_type()).ok_or_else(|| ConvertError::Input {
                file: source.label().to_owned(),
                reason: format!(
                    "column {:?}: Parquet type {} is not one lake stores \
                     (BOOLEAN, integers, floating point and decimals, DATE, TIMESTAMP, \
                     TIMESTAMPTZ, TIME, VARCHAR, and STRUCT and LIST of them)",
                    field.name(),
                    field.data_type()
                ),
            })?;
            Ok(Column { name, column_type })
        })
        .collect::<Result<Vec<_>, ConvertError>>()?;
    if columns.is_empty() {
        return Err(ConvertError::Empty {
            file: source.label().to_owned(),
        });
    }
    Ok(Schema { columns })
}

/// Whether the file can be stored as it is: its columns have exactly the
/// Arrow types lake writes, the names lake would give them, and no field
/// ids (the catalog maps columns by name).
fn as_given(file: &ArrowSchema, lake: &SchemaRef) -> bool {
    file.fields().len() == lake.fields().len()
        && file.fields().iter().zip(lake.fields()).all(|(f, l)| {
            f.name() == l.name()
                && f.data_type() == l.data_type()
                && !f.metadata().contains_key("PARQUET:field_id")
        })
}

/// Reads the footer: the schema and row count.
pub fn scan(source: &Source, progress: &dyn Progress) -> Result<Scan, ConvertError> {
    progress.start("scanning", source.len());
    let reader = reader(source)?;
    let mut schema = schema_of(source, reader.schema())?;
    let rows = u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0);
    embeddings(source, &mut schema)?;
    progress.bytes(source.len());
    progress.rows(rows);
    Ok(Scan {
        dictionary: vec![true; schema.columns.len()],
        leaf_dictionary: Vec::new(),
        schema,
        rows,
        formats: Formats::default(),
        rejects: Vec::new(),
        json_chunks: None,
    })
}

/// Copies the file as it is, or rewrites it with lake's types.
pub fn write_parquet<W: Write + Send>(
    source: &Source,
    scan: &Scan,
    out: W,
    progress: &dyn Progress,
) -> Result<(Written, W), ConvertError> {
    progress.start("writing", source.len());
    let builder = reader(source)?;
    let target = arrow_schema(&scan.schema);
    // Embeddings are always rewritten: lake lays them out for searches
    // (small pages with an offset index, no dictionary).
    let vectors = scan
        .schema
        .columns
        .iter()
        .any(|c| matches!(c.column_type, ColumnType::Vector(_)));
    if !vectors && as_given(builder.schema(), &target) {
        let rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        let read_err = |e| ConvertError::Read {
            file: source.label().to_owned(),
            source: e,
        };
        let mut file = File::open(source.file_path()).map_err(read_err)?;
        let mut hashing = HashingWriter::new(out);
        io::copy(&mut file, &mut hashing).map_err(ConvertError::Write)?;
        progress.bytes(source.len());
        progress.rows(rows);
        let (sha256, bytes, out) = hashing.finish().map_err(ConvertError::Write)?;
        return Ok((
            Written {
                sha256,
                bytes,
                rows,
            },
            out,
        ));
    }
    let batches = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| parquet_error(source, e))?;
    // Casts refuse what does not fit (a UInt64 above BIGINT) rather than
    // making it NULL.
    let cast = |batch: Result<RecordBatch, arrow::error::ArrowError>| {
        let batch = batch.map_err(|e| parquet_error(source, e))?;
        progress.rows(batch.num_rows() as u64);
        conform(&batch, &target).map_err(|e| parquet_error(source, e))
    };
    let written = encode(scan, out, batches.map(cast))?;
    progress.bytes(source.len());
    Ok(written)
}
