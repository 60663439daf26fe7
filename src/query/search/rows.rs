//! One search: the nearest rows of every object (from its index, or by
//! scanning its vectors), merged, then read from their objects with only
//! the pages that hold them, as the dataset's view shows its columns.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float32Array, StringArray, new_null_array};
use arrow::compute::{CastOptions, cast_with_options, concat_batches, interleave};
use arrow::datatypes::{DataType, Field, Int64Type, Schema as ArrowSchema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::file::metadata::PageIndexPolicy;

use super::{DEFAULT_EF_SEARCH, Request, SearchFile, SearchTarget, Searches};
use crate::query::view::ViewColumn;
use crate::schema::ColumnType;
use crate::schema::arrow::arrow_type;
use crate::vector::Metric;
use crate::vector::parquet::{FileColumn, read_vectors};

/// A row found: its object (index in the target's files), its row there,
/// its distance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    file: usize,
    row: u32,
    distance: f32,
}

/// The `k` rows nearest the request's vector, nearest first, and the
/// dataset they are rows of.
pub(crate) fn search(
    searches: &Searches,
    conn: u64,
    r: &Request<'_>,
) -> Result<(Arc<SearchTarget>, Vec<Hit>), String> {
    let target = searches.target(conn, r.dataset)?;
    let column = target
        .columns
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(r.column))
        .ok_or_else(|| format!("vector_search: {} has no column {:?}", r.dataset, r.column))?;
    let dim = vector_length(&column.sql_type).ok_or_else(|| {
        format!(
            "vector_search: {}.{} is {}, not FLOAT[N]",
            r.dataset, column.name, column.sql_type
        )
    })?;
    if r.vector.len() != dim {
        return Err(format!(
            "vector_search: the vector has {} numbers; {}.{} is FLOAT[{dim}]",
            r.vector.len(),
            r.dataset,
            column.name
        ));
    }
    if r.k < 1 {
        return Err("vector_search: k must be at least 1".into());
    }
    let k = r.k as usize;
    let ef = if r.ef_search > 0 {
        r.ef_search as usize
    } else {
        DEFAULT_EF_SEARCH
    }
    .max(k);
    let metric = target
        .metrics
        .get(&column.column_id)
        .copied()
        .unwrap_or(Metric::Cosine);
    let mut found = Vec::new();
    for (i, file) in target.files.iter().enumerate() {
        let Some(name) = file.names.get(&column.column_id) else {
            continue; // An object from before the column was added.
        };
        let deleted = deleted_rows(&file.deletes)?;
        let keep = |row: u32| !deleted.contains(&(row as i64));
        let hits: Vec<(u32, f32)> = match file.indexes.get(&column.column_id) {
            Some(key) => searches
                .index(key, &target.open)?
                .search(&r.vector, k, ef, &keep)
                .map_err(|e| format!("vector_search: {e}"))?
                .into_iter()
                .map(|h| (h.row, h.distance))
                .collect(),
            None => scan(&file.path, name, &r.vector, k, metric, &keep)?,
        };
        found.extend(hits.into_iter().map(|(row, distance)| Hit {
            file: i,
            row,
            distance,
        }));
    }
    found.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    found.truncate(k);
    Ok((target, found))
}

/// N of a `FLOAT[N]` SQL type.
fn vector_length(sql_type: &str) -> Option<usize> {
    sql_type
        .strip_prefix("FLOAT[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The `k` rows of an object without an index nearest `query`, by reading
/// all of its vectors.
fn scan(
    path: &Path,
    column: &str,
    query: &[f32],
    k: usize,
    metric: Metric,
    keep: &dyn Fn(u32) -> bool,
) -> Result<Vec<(u32, f32)>, String> {
    let vectors = read_vectors(path, FileColumn::Name(column))
        .map_err(|e| format!("vector_search: {}: {e}", path.display()))?;
    let mut q = query.to_vec();
    metric.prepare(&mut q);
    let mut all: Vec<(u32, f32)> = vectors
        .values
        .chunks_exact(vectors.dim.max(1))
        .zip(&vectors.rows)
        .filter(|(v, row)| v.len() == q.len() && keep(**row))
        .map(|(v, &row)| {
            let mut v = v.to_vec();
            metric.prepare(&mut v);
            (row, metric.reported(metric.distance(&q, &v)))
        })
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1));
    all.truncate(k);
    Ok(all)
}

/// The row positions the deletion files (DuckLake's: `file_path`, `pos`)
/// name.
fn deleted_rows(files: &[PathBuf]) -> Result<HashSet<i64>, String> {
    let mut rows = HashSet::new();
    for path in files {
        read_positions(path, &mut rows).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(rows)
}

fn read_positions(path: &Path, rows: &mut HashSet<i64>) -> Result<(), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    let position = builder
        .schema()
        .fields()
        .iter()
        .position(|f| f.name() == "pos")
        .ok_or("a deletion file without `pos`")?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [position]);
    for batch in builder
        .with_projection(mask)
        .build()
        .map_err(|e| e.to_string())?
    {
        let batch = batch.map_err(|e| e.to_string())?;
        let pos = cast_with_options(batch.column(0), &DataType::Int64, &CastOptions::default())
            .map_err(|e| e.to_string())?;
        rows.extend(pos.as_primitive::<Int64Type>().iter().flatten());
    }
    Ok(())
}

/// The columns of the answer: the view's, then `distance`.
pub(crate) fn schema(columns: &[ViewColumn]) -> ArrowSchema {
    let mut fields: Vec<Field> = columns
        .iter()
        .zip(column_types(columns))
        .map(|(c, t)| Field::new(&c.name, t, true))
        .collect();
    fields.push(Field::new("distance", DataType::Float32, true));
    ArrowSchema::new(fields)
}

/// The rows `found` (nearest first), read from their objects: the answer's
/// columns `projection` names (by position in [`schema`]), no others.
pub(crate) fn read(
    target: &SearchTarget,
    found: &[Hit],
    projection: &[usize],
) -> Result<RecordBatch, String> {
    let all = schema(&target.columns);
    let distance = target.columns.len();
    // The view's columns the query reads.
    let wanted: Vec<usize> = projection
        .iter()
        .copied()
        .filter(|&i| i < distance)
        .collect();
    let columns: Vec<ViewColumn> = wanted.iter().map(|&i| target.columns[i].clone()).collect();
    let types: Vec<DataType> = wanted
        .iter()
        .map(|&i| all.field(i).data_type().clone())
        .collect();
    // Each object's rows, read in their order in the object.
    let mut by_file: HashMap<usize, Vec<u32>> = HashMap::new();
    for f in found {
        by_file.entry(f.file).or_default().push(f.row);
    }
    let mut parts = Vec::new();
    let mut at: HashMap<(usize, u32), (usize, usize)> = HashMap::new();
    if !columns.is_empty() {
        for (file, mut rows) in by_file {
            rows.sort_unstable();
            rows.dedup();
            let batch = read_rows(&target.files[file], &rows, &columns, &types)?;
            for (i, row) in rows.iter().enumerate() {
                at.insert((file, *row), (parts.len(), i));
            }
            parts.push(batch);
        }
    }
    let order: Vec<(usize, usize)> = found
        .iter()
        .filter_map(|f| at.get(&(f.file, f.row)).copied())
        .collect();
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(projection.len());
    let mut fields = Vec::with_capacity(projection.len());
    for &i in projection {
        if let Some(w) = wanted.iter().position(|&x| x == i) {
            let pieces: Vec<&dyn Array> = parts.iter().map(|p| p.column(w).as_ref()).collect();
            arrays.push(interleave(&pieces, &order).map_err(|e| e.to_string())?);
            fields.push(all.field(i).clone());
        } else if i == distance {
            arrays.push(Arc::new(Float32Array::from_iter_values(
                found.iter().map(|f| f.distance),
            )));
            fields.push(all.field(i).clone());
        } else {
            // DuckDB's row id: the rank.
            arrays.push(Arc::new(arrow::array::Int64Array::from_iter_values(
                0..found.len() as i64,
            )));
            fields.push(Field::new("rowid", DataType::Int64, true));
        }
    }
    let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(found.len()));
    RecordBatch::try_new_with_options(Arc::new(ArrowSchema::new(fields)), arrays, &options)
        .map_err(|e| e.to_string())
}

/// The Arrow type of each view column: lake's types as lake writes them,
/// DuckDB's other types as text.
fn column_types(columns: &[ViewColumn]) -> Vec<DataType> {
    columns
        .iter()
        .map(|c| {
            c.sql_type
                .parse::<ColumnType>()
                .map_or(DataType::Utf8, |t| arrow_type(&t))
        })
        .collect()
}

/// Rows `rows` (ascending) of one object, with the view's columns: only
/// the pages holding them are read (the objects' page indexes say where).
fn read_rows(
    file: &SearchFile,
    rows: &[u32],
    columns: &[ViewColumn],
    types: &[DataType],
) -> Result<RecordBatch, String> {
    let error = |e: &dyn std::fmt::Display| format!("vector_search: {}: {e}", file.path.display());
    let reader = File::open(&file.path).map_err(|e| error(&e))?;
    let options = ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional);
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(reader, options)
        .map_err(|e| error(&e))?;
    let schema = builder.schema().clone();
    let mut roots: Vec<usize> = columns
        .iter()
        .filter_map(|c| schema.index_of(file.names.get(&c.column_id)?).ok())
        .collect();
    roots.sort_unstable();
    roots.dedup();
    let mut selectors = Vec::new();
    let mut next = 0usize;
    for &row in rows {
        let row = row as usize;
        if row > next {
            selectors.push(RowSelector::skip(row - next));
        }
        selectors.push(RowSelector::select(1));
        next = row + 1;
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_row_selection(RowSelection::from(selectors))
        .build()
        .map_err(|e| error(&e))?;
    let read_schema = arrow::record_batch::RecordBatchReader::schema(&reader);
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(&e))?;
    let batch = concat_batches(&read_schema, &batches).map_err(|e| error(&e))?;
    if batch.num_rows() != rows.len() {
        return Err(error(&format!(
            "{} of the {} rows found were read",
            batch.num_rows(),
            rows.len()
        )));
    }
    let options = CastOptions::default();
    let arrays = columns
        .iter()
        .zip(types)
        .map(|(c, t)| {
            let source = file
                .names
                .get(&c.column_id)
                .and_then(|name| batch.column_by_name(name));
            match (source, &c.default) {
                (Some(a), _) if a.data_type() == t => Ok(a.clone()),
                (Some(a), _) => cast_with_options(a, t, &options).map_err(|e| error(&e)),
                (None, Some(text)) => {
                    let texts = StringArray::from(vec![text.as_str(); rows.len()]);
                    cast_with_options(&texts, t, &options).map_err(|e| error(&e))
                }
                (None, None) => Ok(new_null_array(t, rows.len())),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let fields: Vec<Field> = columns
        .iter()
        .zip(types)
        .map(|(c, t)| Field::new(&c.name, t.clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays).map_err(|e| error(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_types_have_their_length() {
        assert_eq!(vector_length("FLOAT[384]"), Some(384));
        assert_eq!(vector_length("FLOAT[]"), None);
    }
}
