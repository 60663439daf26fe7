//! Text to Parquet on every core. The text is cut into chunks at record
//! ends (where, each input says: CSV follows quotes as its parser does and
//! cuts after about [`CHUNK_BYTES`]; JSON counts objects); worker threads
//! parse the chunks into Arrow batches, and the encoder writes them in file
//! order. Where the cuts fall depends only on the text, so the same rows
//! give the same batches, and the same Parquet bytes, however the file is
//! read (plain, compressed, piped).

use std::io::{self, Read, Write};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::ingest::error::ConvertError;

use crate::ingest::progress::Progress;

use crate::ingest::batch::{BATCH_ROWS, Builder, batch_of, builders};
use crate::ingest::scan::Scan;
use crate::ingest::writer::{Written, encode};

/// About how much text one chunk holds: cut at the first record end after.
/// Unit tests cut small chunks, so their tables cross many cuts.
pub(crate) const CHUNK_BYTES: usize = if cfg!(test) { 256 } else { 1 << 20 };
/// How much more text is read when a chunk has no record end yet.
const READ_BYTES: usize = 128 << 10;
/// Chunks read ahead of the encoder: with the text and the batches of each,
/// what bounds memory.
const CHUNKS_IN_FLIGHT: usize = 4;

/// The batches of one chunk's rows: one every [`BATCH_ROWS`] rows.
pub(crate) struct ChunkBatches<'a> {
    /// One per column: append a field to each, then call
    /// [`ChunkBatches::row_done`].
    pub(crate) builders: Vec<Builder>,
    arrow: &'a SchemaRef,
    batches: Vec<RecordBatch>,
    in_batch: usize,
}

impl<'a> ChunkBatches<'a> {
    /// Batches of `scan`'s schema (as `arrow`) for a chunk of `lines`
    /// line feeds.
    pub(crate) fn new(scan: &Scan, arrow: &'a SchemaRef, lines: u64) -> Self {
        ChunkBatches {
            // A row ends on each line but the last, at most.
            builders: builders(scan, lines as usize + 1),
            arrow,
            batches: Vec::new(),
            in_batch: 0,
        }
    }

    /// One more row is in the builders.
    pub(crate) fn row_done(&mut self) -> Result<(), ConvertError> {
        self.in_batch += 1;
        if self.in_batch == BATCH_ROWS {
            self.batches.push(batch_of(self.arrow, &mut self.builders)?);
            self.in_batch = 0;
        }
        Ok(())
    }

    /// The batches of all the rows.
    pub(crate) fn finish(mut self) -> Result<Vec<RecordBatch>, ConvertError> {
        if self.in_batch > 0 {
            self.batches.push(batch_of(self.arrow, &mut self.builders)?);
        }
        Ok(self.batches)
    }
}

/// Finds where a chunk may end.
pub(crate) trait Cut: Send {
    /// Where the chunk `text` (which begins at a record start) ends: just
    /// past a record end, about `target` bytes in (CSV: the first at
    /// `target` or later) or after as many records as the cutter counts
    /// (JSON). `None` when `text` holds no such end yet: called again with
    /// `text` extended, as it grows.
    fn cut(&mut self, text: &[u8], target: usize) -> Option<usize>;
    /// The next chunk begins.
    fn restart(&mut self);
}

/// How the chunks of one input are cut and parsed.
pub(crate) trait Chunking: Sync {
    /// What parsing a chunk counts besides its batches.
    type Tally: Send;
    /// The schema written.
    fn scan(&self) -> &Scan;
    /// The input's name, for errors.
    fn label(&self) -> &str;
    fn cutter(&self) -> impl Cut;
    /// The tally of no rows.
    fn tally(&self) -> Self::Tally;
    /// Adds the tally of the chunk that follows.
    fn merge(&self, tally: &mut Self::Tally, later: Self::Tally);
    /// Parses one chunk beginning at `at`, of `lines` line feeds.
    fn parse(&self, text: &[u8], at: csv::Position, lines: u64) -> Parsed<Self::Tally>;
}

/// One chunk of text for a worker: the text, where it begins, its number of
/// lines, and where its result goes.
type Job<T> = (Vec<u8>, csv::Position, u64, SyncSender<Parsed<T>>);

/// What a worker made of a chunk: its batches in order, and the tally of
/// its rows.
pub(crate) type Parsed<T> = Result<(Vec<RecordBatch>, T), Stop>;

/// Why a chunk stopped the conversion.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The input is wrong, or a write failed.
    Failed(ConvertError),
    /// A value does not fit its column's type (with a guessed schema, the
    /// guess was wrong).
    Misfit(ConvertError),
}

impl From<ConvertError> for Stop {
    fn from(e: ConvertError) -> Self {
        Stop::Failed(e)
    }
}

/// Converts `text` (records only, from `at`: a header already read) to
/// Parquet of the schema of `rows` into `out`, chunks parsed on worker
/// threads; the tally of all rows. The first chunk (in file order) to stop
/// stops the conversion.
pub(crate) fn write_chunks<W: Write + Send, C: Chunking>(
    out: W,
    progress: &dyn Progress,
    text: impl Read + Send,
    at: csv::Position,
    rows: &C,
) -> Result<((Written, W), C::Tally), Stop> {
    let (work_tx, work_rx) = sync_channel::<Job<C::Tally>>(CHUNKS_IN_FLIGHT);
    let work_rx = Mutex::new(work_rx);
    let (order_tx, order_rx) = sync_channel::<Receiver<Parsed<C::Tally>>>(CHUNKS_IN_FLIGHT);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    std::thread::scope(|scope| {
        let cutter = rows.cutter();
        let cutter = scope.spawn(move || cut_chunks(text, at, cutter, &work_tx, &order_tx));
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = work_rx
                        .lock()
                        .map_err(|_| ())
                        .and_then(|rx| rx.recv().map_err(|_| ()));
                    let Ok((chunk, at, lines, done)) = job else {
                        break;
                    };
                    // The encoder may have stopped: nobody to tell.
                    let _ = done.send(rows.parse(&chunk, at, lines));
                }
            });
        }
        let mut tally = rows.tally();
        let mut stopped = None;
        let batches = order_rx.iter().map_while(|done| {
            let parsed = done.recv().unwrap_or_else(|_| {
                Err(Stop::Failed(ConvertError::Write(io::Error::other(
                    "a parser thread panicked",
                ))))
            });
            match parsed {
                Ok((batches, more)) => {
                    rows.merge(&mut tally, more);
                    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                    progress.rows(rows as u64);
                    Some(batches)
                }
                Err(stop) => {
                    stopped = Some(stop);
                    None
                }
            }
        });
        let written = encode(rows.scan(), out, batches.flatten().map(Ok));
        // The cutter and the workers end once the channels close.
        drop(order_rx);
        let cut = cutter
            .join()
            .map_err(|_| ConvertError::Write(io::Error::other("the reader thread panicked")))?;
        if let Some(stop) = stopped {
            return Err(stop);
        }
        cut.map_err(|source| ConvertError::Read {
            file: rows.label().to_owned(),
            source,
        })?;
        Ok((written?, tally))
    })
}

/// Reads `text` and hands it out in chunks cut at record ends, each job to
/// the workers and its result's receiver to the encoder, in order.
fn cut_chunks<T>(
    text: impl Read,
    at: csv::Position,
    cutter: impl Cut,
    work: &SyncSender<Job<T>>,
    order: &SyncSender<Receiver<Parsed<T>>>,
) -> io::Result<()> {
    let mut chunks = ChunkReader::new(text, at, cutter);
    while let Some((chunk, at, lines)) = chunks.next_chunk()? {
        let (done_tx, done_rx) = sync_channel(1);
        // Closed channels: the encoder stopped; its reason is reported.
        if order.send(done_rx).is_err() || work.send((chunk, at, lines, done_tx)).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Text read in chunks cut at record ends.
pub(crate) struct ChunkReader<R, C> {
    text: R,
    at: csv::Position,
    cutter: C,
    /// Read past the last cut.
    chunk: Vec<u8>,
    eof: bool,
}

impl<R: Read, C: Cut> ChunkReader<R, C> {
    /// Chunks of `text`, which begins at `at`.
    pub(crate) fn new(text: R, at: csv::Position, cutter: C) -> Self {
        ChunkReader {
            text,
            at,
            cutter,
            chunk: Vec::with_capacity(CHUNK_BYTES + READ_BYTES),
            eof: false,
        }
    }

    /// The next chunk, where it begins, and its number of line feeds;
    /// `None` at the end of the text.
    pub(crate) fn next_chunk(&mut self) -> io::Result<Option<(Vec<u8>, csv::Position, u64)>> {
        let cut = loop {
            // Asked as the chunk grows: a cutter may cut by rows, before
            // the target.
            if let Some(cut) = self.cutter.cut(&self.chunk, CHUNK_BYTES) {
                break cut;
            }
            if self.eof {
                break self.chunk.len();
            }
            let had = self.chunk.len();
            self.chunk.resize(had + READ_BYTES, 0);
            let n = loop {
                match self.text.read(&mut self.chunk[had..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            self.chunk.truncate(had + n);
            self.eof = n == 0;
        };
        if cut == 0 {
            return Ok(None);
        }
        let mut rest = Vec::with_capacity(CHUNK_BYTES + READ_BYTES);
        rest.extend_from_slice(&self.chunk[cut..]);
        self.chunk.truncate(cut);
        let lines = memchr::memchr_iter(b'\n', &self.chunk).count() as u64;
        let at = self.at.clone();
        self.at.set_byte(at.byte() + cut as u64);
        self.at.set_line(at.line() + lines);
        self.cutter.restart();
        Ok(Some((std::mem::replace(&mut self.chunk, rest), at, lines)))
    }
}

impl Stop {
    /// The error, whatever stopped the conversion.
    pub(crate) fn into_error(self) -> ConvertError {
        match self {
            Stop::Failed(e) | Stop::Misfit(e) => e,
        }
    }
}

/// What a reader can tell of the text it has read: the byte at an offset
/// from where it began, while at hand.
pub(crate) trait Peek {
    fn peek(&self, offset: u64) -> Option<u8>;
}

/// A reader that keeps what it reads: all of it when asked to (the text
/// read ahead while the head is parsed is then read again as records),
/// else the last [`WINDOW`] bytes, for [`Peek`].
pub(crate) struct Kept<R> {
    inner: R,
    kept: Vec<u8>,
    /// Where `kept` begins in the text.
    start: u64,
    all: bool,
}

/// Bytes a reader keeps at least when not keeping all: more than the csv
/// reader's buffer, so a record's start is still at hand after reading it.
const WINDOW: usize = 2 << 20;

impl<R: Read> Kept<R> {
    pub(crate) fn new(inner: R, all: bool) -> Self {
        Kept {
            inner,
            kept: Vec::new(),
            start: 0,
            all,
        }
    }

    /// The text from byte `from` on (of what was kept), then the rest.
    pub(crate) fn text_from(self, from: u64) -> Replay<R> {
        Replay {
            pos: usize::try_from(from.saturating_sub(self.start))
                .unwrap_or(usize::MAX)
                .min(self.kept.len()),
            kept: self.kept,
            inner: self.inner,
        }
    }
}

impl<R: Read> Read for Kept<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.kept.extend_from_slice(&buf[..n]);
        if !self.all && self.kept.len() > 2 * WINDOW {
            let gone = self.kept.len() - WINDOW;
            self.kept.drain(..gone);
            self.start += gone as u64;
        }
        Ok(n)
    }
}

impl<R> Peek for Kept<R> {
    fn peek(&self, offset: u64) -> Option<u8> {
        let i = usize::try_from(offset.checked_sub(self.start)?).ok()?;
        self.kept.get(i).copied()
    }
}

/// A chunk's text, read from where it begins in the file.
pub(crate) struct ChunkText<'a> {
    text: io::Cursor<&'a [u8]>,
    base: u64,
}

impl<'a> ChunkText<'a> {
    pub(crate) fn new(text: &'a [u8], at: &csv::Position) -> Self {
        ChunkText {
            text: io::Cursor::new(text),
            base: at.byte(),
        }
    }
}

impl Read for ChunkText<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.text.read(buf)
    }
}

impl io::Seek for ChunkText<'_> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        self.text.seek(to)
    }
}

impl Peek for ChunkText<'_> {
    fn peek(&self, offset: u64) -> Option<u8> {
        let i = usize::try_from(offset.checked_sub(self.base)?).ok()?;
        self.text.get_ref().get(i).copied()
    }
}

/// Kept text read again, then the rest; the kept text is freed once read.
pub(crate) struct Replay<R> {
    kept: Vec<u8>,
    pos: usize,
    inner: R,
}

impl<R: Read> Read for Replay<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.kept.len() {
            let n = buf.len().min(self.kept.len() - self.pos);
            buf[..n].copy_from_slice(&self.kept[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        if !self.kept.is_empty() {
            self.kept = Vec::new();
            self.pos = 0;
        }
        self.inner.read(buf)
    }
}
