//! The formats a `/v1/sql` answer comes in: JSON (whole, with
//! `"truncated"`), NDJSON, CSV and Arrow IPC (streamed, memory bounded by a
//! few chunks in flight), and Parquet (whole, 413 past the limits).

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use axum::body::Bytes;
use axum::http::HeaderMap;
use tokio::sync::mpsc;

use crate::lake::LakeError;
use crate::output::{OutputFormat, RowWriter};
use crate::query::{QueryEngine, QueryError};

/// What a client asked its answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Ndjson,
    Csv,
    Arrow,
    Parquet,
}

const FORMATS: [(Format, &str, &str); 5] = [
    (Format::Json, "json", "application/json"),
    (Format::Ndjson, "ndjson", "application/x-ndjson"),
    (Format::Csv, "csv", "text/csv"),
    (
        Format::Arrow,
        "arrow",
        "application/vnd.apache.arrow.stream",
    ),
    (Format::Parquet, "parquet", "application/vnd.apache.parquet"),
];

impl Format {
    pub fn content_type(self) -> &'static str {
        FORMATS.iter().find(|f| f.0 == self).map_or("", |f| f.2)
    }

    /// `?format=NAME` first, else the first type of `Accept` known here,
    /// else JSON. An unknown `?format=` is an error naming the known ones.
    pub fn negotiate(asked: Option<&str>, accept: Option<&str>) -> Result<Format, String> {
        if let Some(name) = asked {
            return FORMATS
                .iter()
                .find(|f| f.1.eq_ignore_ascii_case(name))
                .map(|f| f.0)
                .ok_or_else(|| {
                    let known: Vec<&str> = FORMATS.iter().map(|f| f.1).collect();
                    format!("format {name:?}: expected one of {}", known.join(", "))
                });
        }
        let accepted = accept.unwrap_or("").split(',').map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        for media in accepted {
            let known = match media.as_str() {
                "application/jsonl" | "application/ndjson" | "application/x-ndjson" => {
                    Some(Format::Ndjson)
                }
                "application/x-parquet" => Some(Format::Parquet),
                "application/*" | "*/*" => Some(Format::Json),
                other => FORMATS.iter().find(|f| f.2 == other).map(|f| f.0),
            };
            if let Some(format) = known {
                return Ok(format);
            }
        }
        Ok(Format::Json)
    }
}

/// What the query's thread sends the response body.
pub(crate) enum Part {
    Data(Bytes),
    /// The last part of a cut answer: `lake-truncated: true`.
    Trailers(HeaderMap),
    Failed(LakeError),
}

/// Chunks of about this size go to the client.
const CHUNK: usize = 256 * 1024;

/// A `Write` that hands the response body chunks to the async side, and
/// waits (up to the deadline) while the client is slow to take them.
pub(crate) struct ChunkSender {
    tx: mpsc::Sender<Part>,
    buf: Vec<u8>,
    /// Bytes of body written so far.
    pub total: usize,
    deadline: Instant,
    runtime: tokio::runtime::Handle,
}

impl ChunkSender {
    pub fn new(tx: mpsc::Sender<Part>, deadline: Instant) -> ChunkSender {
        ChunkSender {
            tx,
            buf: Vec::with_capacity(CHUNK),
            total: 0,
            deadline,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Sends a part; fails when the client went away or took too long.
    pub fn send(&self, part: Part) -> io::Result<()> {
        let wait = self.deadline.saturating_duration_since(Instant::now());
        match self
            .runtime
            .block_on(tokio::time::timeout(wait, self.tx.send(part)))
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client went away",
            )),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read the answer too slowly",
            )),
        }
    }
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        self.total += data.len();
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.send(Part::Data(chunk))
    }
}

/// The writer of one streamed format, made when the schema is known.
enum Streamer<'a> {
    Rows(RowWriter<&'a mut ChunkSender>),
    Arrow(arrow_ipc::writer::StreamWriter<&'a mut ChunkSender>),
}

impl Streamer<'_> {
    /// Bytes of body written so far.
    fn written(&self) -> usize {
        match self {
            Streamer::Rows(w) => w.get_ref().total,
            Streamer::Arrow(w) => w.get_ref().total,
        }
    }
}

fn output(e: impl Into<anyhow::Error>) -> anyhow::Error {
    e.into()
}

/// The writer of `format` for answers of `schema`.
fn streamer<'a>(
    format: Format,
    out: &'a mut ChunkSender,
    schema: &SchemaRef,
) -> anyhow::Result<Streamer<'a>> {
    Ok(match format {
        Format::Arrow => {
            Streamer::Arrow(arrow_ipc::writer::StreamWriter::try_new(out, schema).map_err(output)?)
        }
        _ => {
            let columns = schema.fields().iter().map(|f| f.name().clone()).collect();
            let rows_format = if format == Format::Csv {
                OutputFormat::Csv
            } else {
                OutputFormat::Ndjson
            };
            Streamer::Rows(RowWriter::new(rows_format, out, columns)?)
        }
    })
}

/// Runs untrusted SQL and streams its answer in `format` (NDJSON, CSV or
/// Arrow) into `out`, stopping after `max_rows` rows or `max_bytes` bytes.
/// Returns whether it stopped early, and the rows sent.
pub(crate) fn stream_answer(
    engine: &QueryEngine,
    sql: &str,
    format: Format,
    max_rows: usize,
    max_bytes: usize,
    out: &mut ChunkSender,
) -> Result<(bool, u64), LakeError> {
    let mut out = Some(out);
    let mut writer: Option<Streamer> = None;
    let mut rows = 0usize;
    let mut truncated = false;
    let schema = engine.run_read_only(sql, &mut |schema, batch: &RecordBatch| {
        let writer = match &mut writer {
            Some(w) => w,
            None => writer.insert(streamer(format, out.take().expect("once"), schema)?),
        };
        let mut row = 0;
        while row < batch.num_rows() {
            if rows >= max_rows || writer.written() >= max_bytes {
                truncated = true;
                return Ok(ControlFlow::Break(()));
            }
            match writer {
                // Arrow goes a batch at a time, rows one at a time.
                Streamer::Arrow(w) => {
                    let take = (batch.num_rows() - row).min(max_rows - rows);
                    w.write(&batch.slice(row, take)).map_err(output)?;
                    row += take;
                    rows += take;
                }
                Streamer::Rows(w) => {
                    w.batch(&batch.slice(row, 1))?;
                    row += 1;
                    rows += 1;
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    let writer = match writer {
        Some(w) => w,
        None => streamer(format, out.take().expect("once"), &schema).map_err(QueryError::Output)?,
    };
    let finish = match writer {
        Streamer::Arrow(mut w) => w.finish().map_err(output),
        Streamer::Rows(w) => w.finish().map(|_| ()).map_err(output),
    };
    finish.map_err(QueryError::Output)?;
    Ok((truncated, rows as u64))
}

/// Runs untrusted SQL and writes its whole answer as one Parquet file; an
/// answer past `max_rows` or `max_bytes` is refused (`None`): Parquet cannot
/// be cut short. With the answer, its rows.
pub(crate) fn parquet_answer(
    engine: &QueryEngine,
    sql: &str,
    max_rows: usize,
    max_bytes: usize,
) -> Result<Option<(Bytes, u64)>, LakeError> {
    let mut writer: Option<parquet::arrow::ArrowWriter<Vec<u8>>> = None;
    let mut rows = 0usize;
    let mut over = false;
    let schema = engine.run_read_only(sql, &mut |schema, batch| {
        if writer.is_none() {
            writer = Some(parquet::arrow::ArrowWriter::try_new(
                Vec::new(),
                schema.clone(),
                None,
            )?);
        }
        let Some(w) = writer.as_mut() else {
            unreachable!("made above")
        };
        rows += batch.num_rows();
        w.write(batch)?;
        if rows > max_rows || w.bytes_written() + w.in_progress_size() > max_bytes {
            over = true;
            return Ok(ControlFlow::Break(()));
        }
        Ok(ControlFlow::Continue(()))
    })?;
    if over {
        return Ok(None);
    }
    let writer = match writer {
        Some(w) => w,
        None => parquet::arrow::ArrowWriter::try_new(Vec::new(), Arc::clone(&schema), None)
            .map_err(|e| QueryError::Output(e.into()))?,
    };
    let bytes = writer
        .into_inner()
        .map_err(|e| QueryError::Output(e.into()))?;
    if bytes.len() > max_bytes {
        return Ok(None);
    }
    Ok(Some((Bytes::from(bytes), rows as u64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_asked_by_name_or_by_accept() {
        let pick = |asked, accept| Format::negotiate(asked, accept).unwrap();
        assert_eq!(pick(None, None), Format::Json);
        assert_eq!(pick(Some("CSV"), Some("application/json")), Format::Csv);
        assert_eq!(
            pick(
                None,
                Some("text/html, application/vnd.apache.arrow.stream;q=0.9")
            ),
            Format::Arrow
        );
        assert_eq!(pick(None, Some("application/x-ndjson")), Format::Ndjson);
        assert_eq!(pick(None, Some("*/*")), Format::Json);
        assert!(
            Format::negotiate(Some("xml"), None)
                .unwrap_err()
                .contains("parquet")
        );
    }
}
