//! Row groups written as parquet's `ArrowWriter` writes them (the same
//! splits by rows and by encoded bytes, so the same bytes), but with the
//! columns of each batch encoded, and of each row group closed (which
//! compresses their last pages), on two threads: on the one thread behind
//! the parsers, encoding was what the whole ingest waited for (200 columns:
//! 3.8 s of CPU on the encoder against 1.7-2.0 s on each parser).

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

/// Values in a batch below which its columns are encoded on this thread
/// alone (a second thread costs more than it saves).
const PARALLEL_VALUES: usize = 16 * 1024;

/// Leaf columns below which a file's columns are encoded on this thread
/// alone: few columns split unevenly between two threads, and the parsers
/// want the second core (on 9 columns two threads made the ingest slower).
const PARALLEL_COLUMNS: usize = 32;

/// A Parquet file being written a row group at a time.
pub(super) struct RowGroups<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    arrow: SchemaRef,
    max_rows: Option<usize>,
    max_bytes: Option<usize>,
    /// The row group being built: a writer per leaf column.
    columns: Option<Vec<ArrowColumnWriter>>,
    buffered: usize,
}

type Result<T> = std::result::Result<T, ParquetError>;

impl<W: Write + Send> RowGroups<W> {
    pub(super) fn new(out: W, arrow: SchemaRef, props: WriterProperties) -> Result<Self> {
        let (max_rows, max_bytes) = (props.max_row_group_row_count(), props.max_row_group_bytes());
        let (file, factory) =
            ArrowWriter::try_new(out, arrow.clone(), Some(props))?.into_serialized_writer()?;
        Ok(RowGroups {
            file,
            factory,
            arrow,
            max_rows,
            max_bytes,
            columns: None,
            buffered: 0,
        })
    }

    /// Bytes written to the file so far.
    pub(super) fn bytes_written(&self) -> usize {
        self.file.bytes_written()
    }

    /// The encoded size the row group being built is expected to have.
    pub(super) fn in_progress_size(&self) -> usize {
        self.columns.as_ref().map_or(0, |columns| {
            columns
                .iter()
                .map(ArrowColumnWriter::get_estimated_total_bytes)
                .sum()
        })
    }

    /// Appends `batch`, in as many row groups as the limits say, where
    /// `ArrowWriter::write` would split it.
    pub(super) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let mut remaining = batch.clone();
        loop {
            if self.columns.is_none() {
                let index = self.file.flushed_row_groups().len();
                self.columns = Some(self.factory.create_column_writers(index)?);
            }
            let buffered = self.buffered;
            let mut split_at = match self.max_rows {
                Some(max) if buffered + remaining.num_rows() > max => Some(max - buffered),
                _ => None,
            };
            let candidate_rows = split_at.unwrap_or_else(|| remaining.num_rows());
            if let Some(max_bytes) = self.max_bytes
                && buffered > 0
            {
                let current = self.in_progress_size();
                if current >= max_bytes {
                    self.flush()?;
                    continue;
                }
                let average = current / buffered;
                if let Some(fit) = (max_bytes - current).checked_div(average)
                    && candidate_rows > fit
                {
                    if fit > 0 {
                        split_at = Some(fit);
                    } else {
                        self.flush()?;
                        continue;
                    }
                }
            }
            let rest = split_at.map(|rows| {
                let rest = remaining.slice(rows, remaining.num_rows() - rows);
                remaining = remaining.slice(0, rows);
                rest
            });
            let columns = self.columns.as_mut().expect("made above");
            encode(columns, &self.arrow, &remaining)?;
            self.buffered += remaining.num_rows();
            let full = self.max_rows.is_some_and(|max| self.buffered >= max)
                || self
                    .max_bytes
                    .is_some_and(|max| self.in_progress_size() >= max);
            if full {
                self.flush()?;
            }
            match rest {
                Some(rest) => remaining = rest,
                None => return Ok(()),
            }
        }
    }

    /// Writes the row group being built.
    fn flush(&mut self) -> Result<()> {
        let Some(columns) = self.columns.take() else {
            return Ok(());
        };
        let two = two_threads(columns.len(), self.buffered);
        self.buffered = 0;
        // Closing a column compresses its last pages: on two threads too.
        let chunks = each_column(columns, two, ArrowColumnWriter::close)?;
        let mut row_group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        Ok(())
    }

    /// Writes the last row group and the footer; the writer.
    pub(super) fn into_inner(mut self) -> Result<W> {
        self.flush()?;
        self.file.into_inner()
    }
}

/// Encodes the columns of `batch` into `columns` (a writer per leaf).
fn encode(columns: &mut [ArrowColumnWriter], arrow: &SchemaRef, batch: &RecordBatch) -> Result<()> {
    let mut leaves = Vec::with_capacity(columns.len());
    for (field, column) in arrow.fields().iter().zip(batch.columns()) {
        leaves.extend(compute_leaves(field, column)?);
    }
    let two = two_threads(leaves.len(), batch.num_rows());
    let jobs: Vec<_> = columns.iter_mut().zip(leaves).collect();
    each_column(jobs, two, |(writer, leaf)| writer.write(&leaf))?;
    Ok(())
}

/// Whether `rows` rows of `columns` leaf columns are worth a second thread.
fn two_threads(columns: usize, rows: usize) -> bool {
    columns >= PARALLEL_COLUMNS && rows * columns >= PARALLEL_VALUES
}

/// `f` of every item, in order; with `two`, the items are taken one after
/// another by this thread and a helper.
fn each_column<T: Send, R: Send>(
    items: Vec<T>,
    two: bool,
    f: impl Fn(T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    if !two {
        return items.into_iter().map(f).collect();
    }
    let panicked = || ParquetError::General("a column encoder panicked".into());
    let jobs: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let done: Vec<Mutex<Option<R>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = || -> Result<()> {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = jobs.get(i) else {
                return Ok(());
            };
            let item = job.lock().map_err(|_| panicked())?.take();
            let result = f(item.ok_or_else(panicked)?)?;
            *done[i].lock().map_err(|_| panicked())? = Some(result);
        }
    };
    std::thread::scope(|scope| {
        let helper = scope.spawn(work);
        let here = work();
        let there = helper.join().unwrap_or_else(|_| Err(panicked()));
        here.and(there)
    })?;
    done.into_iter()
        .map(|r| r.into_inner().ok().flatten().ok_or_else(panicked))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    /// Batches of 40 columns (numbers and strings, some with few values),
    /// `rows` rows each.
    fn batches(schema: &SchemaRef, rows: usize, count: usize) -> Vec<RecordBatch> {
        (0..count)
            .map(|b| {
                let columns = (0..schema.fields().len())
                    .map(|c| {
                        let v = |i: usize| (b * rows + i) * (c + 1) % (97 + 50 * c);
                        if c % 4 == 0 {
                            let s = (0..rows).map(|i| Some(format!("s{}", v(i))));
                            Arc::new(s.collect::<StringArray>()) as ArrayRef
                        } else {
                            let n = (0..rows).map(|i| (i % 13 != 0).then(|| v(i) as i64));
                            Arc::new(n.collect::<Int64Array>()) as ArrayRef
                        }
                    })
                    .collect();
                RecordBatch::try_new(schema.clone(), columns).unwrap()
            })
            .collect()
    }

    #[test]
    fn the_same_bytes_as_arrow_writer_on_two_threads() {
        let fields: Vec<Field> = (0..40)
            .map(|c| {
                let t = if c % 4 == 0 {
                    DataType::Utf8
                } else {
                    DataType::Int64
                };
                Field::new(format!("c{c}"), t, true)
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        // Splits by rows and by bytes, both, within and across batches.
        for (max_rows, max_bytes) in [(3000, 1 << 30), (1 << 20, 120_000), (1700, 300_000)] {
            let props = || {
                WriterProperties::builder()
                    .set_max_row_group_row_count(Some(max_rows))
                    .set_max_row_group_bytes(Some(max_bytes))
                    .build()
            };
            let input = batches(&schema, 500, 14);
            const { assert!(500 * 40 >= PARALLEL_VALUES && 40 >= PARALLEL_COLUMNS) };
            let mut theirs =
                ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props())).unwrap();
            let mut ours = RowGroups::new(Vec::new(), schema.clone(), props()).unwrap();
            for batch in &input {
                theirs.write(batch).unwrap();
                ours.write(batch).unwrap();
            }
            let theirs = theirs.into_inner().unwrap();
            let ours = ours.into_inner().unwrap();
            assert_eq!(ours, theirs, "{max_rows} rows, {max_bytes} bytes");
            let file = SerializedFileReader::new(bytes::Bytes::from(ours)).unwrap();
            let groups = file.metadata().row_groups();
            assert!(groups.len() >= 3, "{max_rows} rows, {max_bytes} bytes");
            let rows: i64 = groups.iter().map(|g| g.num_rows()).sum();
            assert_eq!(rows, 7000);
        }
    }
}
