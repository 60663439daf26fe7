//! Reading an object's vectors: the `FLOAT[N]` (or list of floats) column
//! of a Parquet file, as the index is built from and an object without an
//! index is scanned.

use std::fs::File;
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, GenericListArray, OffsetSizeTrait};
use arrow::datatypes::{DataType, Float32Type};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// How a column is found in a Parquet file.
#[derive(Debug, Clone, Copy)]
pub enum FileColumn<'a> {
    Name(&'a str),
    /// DuckLake's field id (files DuckDB wrote).
    FieldId(i64),
}

/// Vectors read from an object.
pub struct Vectors {
    /// `dim` numbers per row, rows one after another.
    pub values: Vec<f32>,
    /// The row of each vector in the object.
    pub rows: Vec<u32>,
    pub dim: usize,
}

/// The vectors of `column` in the Parquet file at `path`. NULL vectors, and
/// vectors of another length than the first, are left out.
pub fn read_vectors(path: &Path, column: FileColumn<'_>) -> Result<Vectors, String> {
    let reader = File::open(path).map_err(|e| e.to_string())?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(reader).map_err(|e| e.to_string())?;
    let fields = builder.schema().fields().clone();
    let position = match column {
        FileColumn::Name(name) => fields.iter().position(|f| f.name() == name),
        FileColumn::FieldId(column_id) => fields.iter().position(|f| {
            f.metadata()
                .get("PARQUET:field_id")
                .is_some_and(|id| id.parse() == Ok(column_id))
        }),
    }
    .ok_or("the object does not have the column")?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [position]);
    let batches = builder
        .with_projection(mask)
        .build()
        .map_err(|e| e.to_string())?;
    let mut vectors = Vec::new();
    let mut rows = Vec::new();
    let mut dim = 0;
    let mut row: u32 = 0;
    for batch in batches {
        let batch = batch.map_err(|e| e.to_string())?;
        let column = batch.column(0);
        let (lists, values): (Vec<Option<(usize, usize)>>, _) = match column.data_type() {
            DataType::FixedSizeList(_, n) => {
                let a = column.as_fixed_size_list();
                let n = *n as usize;
                let spans = (0..a.len())
                    .map(|i| a.is_valid(i).then_some((i * n, n)))
                    .collect();
                (spans, a.values().clone())
            }
            DataType::List(_) => spans(column.as_list::<i32>()),
            DataType::LargeList(_) => spans(column.as_list::<i64>()),
            other => return Err(format!("the column is {other}, not a list of floats")),
        };
        let values =
            arrow::compute::cast(&values, &DataType::Float32).map_err(|e| e.to_string())?;
        let floats = values.as_primitive::<Float32Type>();
        for span in lists {
            if let Some((start, len)) = span
                && len > 0
                && (dim == 0 || len == dim)
                && floats.slice(start, len).null_count() == 0
            {
                dim = len;
                vectors.extend_from_slice(&floats.values()[start..start + len]);
                rows.push(row);
            }
            row += 1;
        }
    }
    Ok(Vectors {
        values: vectors,
        rows,
        dim,
    })
}

/// Where each value of a list column starts in its values, and how many it
/// has (`None` for NULL), and the values.
fn spans<O: OffsetSizeTrait>(a: &GenericListArray<O>) -> (Vec<Option<(usize, usize)>>, ArrayRef) {
    let o = a.value_offsets();
    let spans = (0..a.len())
        .map(|i| {
            a.is_valid(i)
                .then(|| (o[i].as_usize(), (o[i + 1] - o[i]).as_usize()))
        })
        .collect();
    (spans, a.values().clone())
}
