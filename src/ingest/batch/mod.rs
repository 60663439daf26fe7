//! Arrow record batches built from text fields: one [`Builder`] per column
//! (its value parsing by type), the Arrow schema a lake schema is written
//! as, and how many rows a batch holds. Every format appends its values
//! here; nested values (STRUCT, LIST) are in `nested`.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::ingest::scan::Scan;
use crate::ingest::values::{self, Formats};
use crate::schema::ColumnType;
use crate::schema::arrow::UTC;
pub use crate::schema::arrow::{arrow_schema, arrow_type};

pub mod nested;
pub mod vector;

use nested::{ListColumn, StructColumn};
use vector::VectorColumn;

/// Rows per Arrow record batch.
pub(crate) const BATCH_ROWS: usize = 32 * 1024;

/// Bytes of fields in one batch at most (narrow rows reach BATCH_ROWS
/// first, so their objects are as before).
pub(crate) const BATCH_BYTES: usize = 16 << 20;

/// Builds one column of a batch from text fields.
pub(crate) enum Builder {
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
    Vector(Box<VectorColumn>),
}

impl Builder {
    /// A builder with room for `rows` values.
    pub(crate) fn new(t: &ColumnType, formats: &Formats, rows: usize) -> Builder {
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
            ColumnType::Vector(n) => Builder::Vector(Box::new(VectorColumn::new(*n, rows))),
        }
    }

    /// Appends a text value that is never NULL (an empty one is the empty
    /// string in a VARCHAR column, NULL in the others); `false` when it does
    /// not parse as the column type.
    pub(crate) fn append_text(&mut self, field: &str) -> bool {
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
    pub(crate) fn append_i64(&mut self, v: i64) -> bool {
        match self {
            Builder::Bigint(b) => b.append_value(v),
            Builder::Double(b) => b.append_value(v as f64),
            _ => return false,
        }
        true
    }

    /// Appends a number to a DOUBLE column; `false` for another type.
    pub(crate) fn append_f64(&mut self, v: f64) -> bool {
        match self {
            Builder::Double(b) => b.append_value(v),
            _ => return false,
        }
        true
    }

    /// Appends a boolean to a BOOLEAN column; `false` for another type.
    pub(crate) fn append_bool(&mut self, v: bool) -> bool {
        match self {
            Builder::Boolean(b) => b.append_value(v),
            _ => return false,
        }
        true
    }

    /// Appends NULL.
    pub(crate) fn append_null(&mut self) {
        self.append("");
    }

    /// Appends one field, empty for NULL; `false` when it does not parse as
    /// the column type.
    #[inline]
    pub(crate) fn append(&mut self, field: &str) -> bool {
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
                Builder::Vector(b) => b.append_null(),
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
            Builder::Vector(b) => b.append_text(field),
            // Text is never a nested value.
            Builder::Struct(_) | Builder::List(_) => false,
        }
    }

    pub(crate) fn finish(&mut self) -> ArrayRef {
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
            Builder::Vector(b) => b.finish(),
        }
    }
}

/// One builder per column of `scan`'s schema, with room for `rows` rows
/// (at most a batch of narrow rows: wide tables, a hundred thousand
/// columns, grow as rows come instead).
pub(crate) fn builders(scan: &Scan, rows: usize) -> Vec<Builder> {
    let columns = scan.schema.columns.len().max(1);
    let rows = rows.min((BATCH_BYTES / (16 * columns)).clamp(16, BATCH_ROWS));
    scan.schema
        .columns
        .iter()
        .map(|c| Builder::new(&c.column_type, &scan.formats, rows))
        .collect()
}

/// The rows in `builders` as a record batch; the builders are left empty.
pub(crate) fn batch_of(
    arrow: &SchemaRef,
    builders: &mut [Builder],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let columns = builders.iter_mut().map(Builder::finish).collect();
    RecordBatch::try_new(arrow.clone(), columns)
}
