//! Column statistics of a Parquet object, read from its footer, in the text
//! form DuckLake records (so DuckDB can skip files that cannot match).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::statistics::Statistics;

use crate::schema::{ColumnStats, ColumnType, Schema};

/// The footer length and per-column statistics of one Parquet file.
#[derive(Debug, Clone)]
pub struct ObjectStats {
    /// The length of the Parquet footer (the little-endian u32 before the
    /// final `PAR1`).
    pub footer_size: u64,
    /// One per column of `schema`, in order; a nested column's hold only
    /// its size (DuckLake keeps the statistics of its children, which lake
    /// does not record).
    pub columns: Vec<ColumnStats>,
}

/// A min or max of one row group as DuckLake text; `None` when unknown.
fn text(stats: &Statistics, t: &ColumnType, max: bool) -> Option<String> {
    fn pick<T: Clone>(s: &parquet::file::statistics::ValueStatistics<T>, max: bool) -> Option<T> {
        if max { s.max_opt() } else { s.min_opt() }.cloned()
    }
    match (stats, t) {
        (Statistics::Boolean(s), ColumnType::Boolean) => {
            pick(s, max).map(|b| u8::from(b).to_string())
        }
        (Statistics::Int64(s), ColumnType::Bigint) => pick(s, max).map(|v| v.to_string()),
        // Infinities as DuckDB writes them; NaN is never a bound.
        (Statistics::Double(s), ColumnType::Double) => pick(s, max).and_then(|v| match v {
            f64::INFINITY => Some("inf".to_owned()),
            f64::NEG_INFINITY => Some("-inf".to_owned()),
            v if v.is_nan() => None,
            v => Some(v.to_string()),
        }),
        (Statistics::Int32(s), ColumnType::Date) => pick(s, max).and_then(|days| {
            chrono::NaiveDate::from_num_days_from_ce_opt(days.checked_add(719_163)?)
                .map(|d| d.format("%Y-%m-%d").to_string())
        }),
        (Statistics::Int64(s), ColumnType::Timestamp) => pick(s, max).and_then(|micros| {
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string())
        }),
        (Statistics::Int64(s), ColumnType::Timestamptz) => pick(s, max).and_then(|micros| {
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f+00").to_string())
        }),
        (Statistics::Int64(s), ColumnType::Time) => pick(s, max).and_then(|micros| {
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|t| t.naive_utc().format("%H:%M:%S%.f").to_string())
        }),
        (Statistics::ByteArray(s), ColumnType::Varchar) => {
            pick(s, max).and_then(|b| String::from_utf8(b.data().to_vec()).ok())
        }
        _ => None,
    }
}

/// Whether `a` is before `b` as values of type `t`.
fn less(t: &ColumnType, a: &str, b: &str) -> bool {
    match t {
        ColumnType::Bigint => a.parse::<i64>().ok() < b.parse::<i64>().ok(),
        ColumnType::Double => {
            a.parse::<f64>().unwrap_or(f64::NAN) < b.parse::<f64>().unwrap_or(f64::NAN)
        }
        _ => a < b,
    }
}

/// Reads the statistics of the Parquet file `file`, written for `schema`.
pub fn object_stats(file: &File, schema: &Schema) -> parquet::errors::Result<ObjectStats> {
    let meta = ParquetMetaDataReader::new().parse_and_finish(file)?;
    let mut f = file;
    f.seek(SeekFrom::End(-8))?;
    let mut tail = [0u8; 8];
    f.read_exact(&mut tail)?;
    let footer_size = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    // The Parquet columns (leaves) of each column: a nested one has many.
    let descr = meta.file_metadata().schema_descr();
    let mut leaves = vec![Vec::new(); schema.columns.len()];
    for leaf in 0..descr.num_columns() {
        if let Some(of) = leaves.get_mut(descr.get_column_root_idx(leaf)) {
            of.push(leaf);
        }
    }
    let mut columns = Vec::with_capacity(schema.columns.len());
    for (col, leaves) in schema.columns.iter().zip(leaves) {
        let t = &col.column_type;
        // Integers are never NaN (an integer file may be read as DOUBLE).
        let mut out = ColumnStats {
            contains_nan: matches!(t, ColumnType::Double | ColumnType::Bigint).then_some(false),
            bounds_exact: true,
            ..ColumnStats::default()
        };
        let [i] = leaves[..] else {
            for rg in meta.row_groups() {
                for &leaf in &leaves {
                    out.size_bytes += rg.column(leaf).compressed_size().max(0) as u64;
                }
            }
            columns.push(out);
            continue;
        };
        // `None` once any row group with values has no bound.
        let (mut min, mut max): (Option<Option<String>>, Option<Option<String>>) = (None, None);
        for rg in meta.row_groups() {
            let Some(chunk) = rg.columns().get(i) else {
                continue;
            };
            out.size_bytes += chunk.compressed_size().max(0) as u64;
            let rows = rg.num_rows().max(0) as u64;
            let Some(stats) = chunk.statistics() else {
                // Unknown nulls and bounds: say nothing rather than guess.
                return Err(parquet::errors::ParquetError::General(format!(
                    "column {} has a row group without statistics",
                    col.name
                )));
            };
            let nulls = stats.null_count_opt().unwrap_or(0).min(rows);
            out.null_count += nulls;
            out.value_count += rows - nulls;
            if rows == nulls {
                continue; // only NULLs: no bound to merge
            }
            let (lo, hi) = (text(stats, t, false), text(stats, t, true));
            if *t == ColumnType::Double {
                // Parquet's NaN count, where the writer gives one (lake's
                // does). Values without bounds may all be NaN.
                out.contains_nan = match (out.contains_nan, stats.nan_count_opt()) {
                    (_, Some(n)) if n > 0 => Some(true),
                    (Some(true), _) => Some(true),
                    (Some(false), Some(0)) if lo.is_some() && hi.is_some() => Some(false),
                    _ => None,
                };
            }
            // Parquet says whether a bound was cut; a numeric one never is.
            if *t == ColumnType::Varchar && !(stats.min_is_exact() && stats.max_is_exact()) {
                out.bounds_exact = false;
            }
            min = Some(match (min, lo) {
                (None, lo) => lo,
                (Some(Some(a)), Some(b)) => Some(if less(t, &b, &a) { b } else { a }),
                _ => None,
            });
            max = Some(match (max, hi) {
                (None, hi) => hi,
                (Some(Some(a)), Some(b)) => Some(if less(t, &a, &b) { b } else { a }),
                _ => None,
            });
        }
        out.min = min.flatten();
        out.max = max.flatten();
        columns.push(out);
    }
    Ok(ObjectStats {
        footer_size,
        columns,
    })
}
