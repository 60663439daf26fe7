//! CSV to Parquet on every core. The text is cut into chunks of about
//! [`CHUNK_BYTES`] at record ends, found by a state machine that follows
//! quotes, escapes and comments as the csv crate's parser does, without
//! building fields. Worker threads parse the chunks into Arrow batches;
//! the encoder writes them in file order. Where the cuts fall depends only
//! on the text, so the same rows give the same batches, and the same
//! Parquet bytes, however the file is read (plain, compressed, piped).

use std::io::{self, Read, Write};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::convert::{
    ConvertError, CsvOptions, Head, Next, Progress, Scan, Tally, check_record, csv_reader, fields,
    next_record, parse_error, value_error,
};
use super::parquet_writer::{BATCH_ROWS, Written, arrow_schema, batch_of, builders, encode};
use super::source::Source;

/// About how much text one chunk holds: cut at the first record end after.
/// Unit tests cut small chunks, so their tables cross many cuts.
const CHUNK_BYTES: usize = if cfg!(test) { 256 } else { 1 << 20 };
/// How much more text is read when a chunk has no record end yet.
const READ_BYTES: usize = 128 << 10;
/// Chunks read ahead of the encoder: with the text and the batches of each,
/// what bounds memory.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Where the csv crate's parser is, as far as records go.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum State {
    RecordStart,
    FieldStart,
    Unquoted,
    Quoted,
    /// After the escape character inside quotes.
    Escaped,
    /// After a quote inside quotes: closed, or the first of a doubled one.
    QuoteInQuoted,
    Comment,
}

impl State {
    /// The state after byte `b`, as `csv_core` moves (CRLF terminators,
    /// doubled quotes).
    pub(super) fn next(self, b: u8, opts: &CsvOptions) -> State {
        use State::*;
        let term = b == b'\n' || b == b'\r';
        match self {
            RecordStart if term => RecordStart,
            RecordStart if Some(b) == opts.comment => Comment,
            RecordStart | FieldStart if b == opts.quote => Quoted,
            RecordStart | FieldStart | Unquoted | QuoteInQuoted if b == opts.delimiter => {
                FieldStart
            }
            RecordStart | FieldStart | Unquoted | QuoteInQuoted if term => RecordStart,
            RecordStart | FieldStart | Unquoted => Unquoted,
            Quoted if b == opts.quote => QuoteInQuoted,
            Quoted if Some(b) == opts.escape => Escaped,
            Quoted | Escaped => Quoted,
            QuoteInQuoted if b == opts.quote => Quoted,
            QuoteInQuoted => Unquoted,
            Comment if b == b'\n' => RecordStart,
            Comment => Comment,
        }
    }

    /// Inside a quoted field: a quote here was never closed.
    pub(super) fn in_quotes(self) -> bool {
        matches!(self, State::Quoted | State::Escaped)
    }
}

/// Finds the first record end at or after a target offset in a chunk that
/// begins at a record start, resuming where it left off as the chunk grows.
pub(super) struct Cutter<'a> {
    opts: &'a CsvOptions,
    state: State,
    /// How far into the chunk `state` holds.
    pos: usize,
}

impl<'a> Cutter<'a> {
    pub(super) fn new(opts: &'a CsvOptions) -> Self {
        Cutter {
            opts,
            state: State::RecordStart,
            pos: 0,
        }
    }

    /// Where the chunk `text` ends: just past the terminator of the first
    /// record (not a blank or comment line) that ends at index `target` or
    /// later. `None` when `text` holds none yet: call again with `text`
    /// extended, and [`Cutter::restart`] for the next chunk. The cut falls
    /// where the csv crate's reader stands after that record, so lines are
    /// numbered alike on both sides: after the CR of a CRLF (its LF is
    /// counted when the next record is read), before blank lines.
    pub(super) fn cut(&mut self, text: &[u8], target: usize) -> Option<usize> {
        let outside = matches!(
            self.state,
            State::RecordStart | State::FieldStart | State::Unquoted
        );
        let term = |b: u8| b == b'\n' || b == b'\r';
        if outside
            && self.opts.comment.is_none()
            && memchr::memchr(self.opts.quote, &text[self.pos..]).is_none()
        {
            // No quote ahead: a terminator ends a record unless it ends a
            // blank line (follows another, or begins the chunk).
            let mut from = self.pos.max(target);
            while let Some(i) = memchr::memchr2(b'\n', b'\r', text.get(from..).unwrap_or(&[])) {
                let i = from + i;
                if i > 0 && !term(text[i - 1]) {
                    return Some(i + 1);
                }
                from = i + 1;
            }
            if let Some(&last) = text.get(self.pos..).and_then(<[u8]>::last) {
                self.state = if term(last) {
                    State::RecordStart
                } else if last == self.opts.delimiter {
                    State::FieldStart
                } else {
                    State::Unquoted
                };
            }
            self.pos = text.len();
            return None;
        }
        while self.pos < text.len() {
            let before = self.state;
            self.state = before.next(text[self.pos], self.opts);
            self.pos += 1;
            let ends_record = self.state == State::RecordStart
                && matches!(
                    before,
                    State::FieldStart | State::Unquoted | State::QuoteInQuoted
                );
            if ends_record && self.pos > target {
                return Some(self.pos);
            }
        }
        None
    }

    /// The next chunk begins (at a record start).
    fn restart(&mut self) {
        self.state = State::RecordStart;
        self.pos = 0;
    }
}

/// One chunk of text for a worker: the text, where it begins, its number of
/// lines, and where its result goes.
type Job = (Vec<u8>, csv::Position, u64, SyncSender<Parsed>);

/// What a worker made of a chunk: its batches in order, and the tally of
/// its rows.
type Parsed = Result<(Vec<RecordBatch>, Tally), Stop>;

/// Why a chunk stopped the conversion.
#[derive(Debug)]
pub(super) enum Stop {
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

/// Converts `text` (records only, from `at`: the header already read) to
/// Parquet of the schema of `rows` into `out`, chunks parsed on worker
/// threads; the tally of all rows. The first chunk (in file order) to stop
/// stops the conversion.
pub(super) fn write_chunks<W: Write + Send>(
    out: W,
    progress: &dyn Progress,
    text: impl Read + Send,
    at: csv::Position,
    rows: &Rows<'_>,
) -> Result<((Written, W), Tally), Stop> {
    let (work_tx, work_rx) = sync_channel::<Job>(CHUNKS_IN_FLIGHT);
    let work_rx = Mutex::new(work_rx);
    let (order_tx, order_rx) = sync_channel::<Receiver<Parsed>>(CHUNKS_IN_FLIGHT);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    std::thread::scope(|scope| {
        let opts = &rows.opts;
        let cutter = scope.spawn(move || cut_chunks(text, at, opts, &work_tx, &order_tx));
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
        let mut tally = Tally::new(rows.head, false, rows.base);
        let mut stopped = None;
        let batches = order_rx.iter().map_while(|done| {
            let parsed = done.recv().unwrap_or_else(|_| {
                Err(Stop::Failed(ConvertError::Write(io::Error::other(
                    "a parser thread panicked",
                ))))
            });
            match parsed {
                Ok((batches, more)) => {
                    tally.merge(more);
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
        let written = encode(rows.scan, out, batches.flatten().map(Ok));
        // The cutter and the workers end once the channels close.
        drop(order_rx);
        let cut = cutter
            .join()
            .map_err(|_| ConvertError::Write(io::Error::other("the reader thread panicked")))?;
        if let Some(stop) = stopped {
            return Err(stop);
        }
        cut.map_err(|source| ConvertError::Read {
            file: rows.source.label().to_owned(),
            source,
        })?;
        Ok((written?, tally))
    })
}

/// Reads `text` and hands it out in chunks cut at record ends, each job to
/// the workers and its result's receiver to the encoder, in order.
fn cut_chunks(
    mut text: impl Read,
    mut at: csv::Position,
    opts: &CsvOptions,
    work: &SyncSender<Job>,
    order: &SyncSender<Receiver<Parsed>>,
) -> io::Result<()> {
    let mut cutter = Cutter::new(opts);
    let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + READ_BYTES);
    let mut eof = false;
    loop {
        let cut = loop {
            if chunk.len() >= CHUNK_BYTES || eof {
                if let Some(cut) = cutter.cut(&chunk, CHUNK_BYTES) {
                    break cut;
                }
                if eof {
                    break chunk.len();
                }
            }
            let had = chunk.len();
            chunk.resize(had + READ_BYTES, 0);
            let n = loop {
                match text.read(&mut chunk[had..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            chunk.truncate(had + n);
            eof = n == 0;
        };
        if cut == 0 {
            return Ok(());
        }
        let rest = chunk[cut..].to_vec();
        chunk.truncate(cut);
        let lines = memchr::memchr_iter(b'\n', &chunk).count() as u64;
        let (done_tx, done_rx) = sync_channel(1);
        let job = (
            std::mem::replace(&mut chunk, rest),
            at.clone(),
            lines,
            done_tx,
        );
        at.set_byte(at.byte() + cut as u64);
        at.set_line(at.line() + lines);
        cutter.restart();
        // Closed channels: the encoder stopped; its reason is reported.
        if order.send(done_rx).is_err() || work.send(job).is_err() {
            return Ok(());
        }
        chunk.reserve(CHUNK_BYTES + READ_BYTES);
    }
}

impl Stop {
    /// The error, whatever stopped the conversion.
    pub(super) fn into_error(self) -> ConvertError {
        match self {
            Stop::Failed(e) | Stop::Misfit(e) => e,
        }
    }
}

/// How every chunk of one file is parsed.
pub(super) struct Rows<'a> {
    source: &'a Source,
    /// The dialect, with no header (a chunk holds only records).
    opts: CsvOptions,
    head: &'a Head,
    scan: &'a Scan,
    arrow: SchemaRef,
    /// Lines (counted after the skipped ones) that pass one set aside.
    rejected: &'a [u64],
    /// Columns of a guessed schema with no value in the head: what the
    /// rest holds decides their type.
    unseen: &'a [usize],
    /// Where the text after the skipped lines begins in the source.
    base: u64,
}

impl<'a> Rows<'a> {
    pub(super) fn new(
        source: &'a Source,
        opts: &CsvOptions,
        head: &'a Head,
        scan: &'a Scan,
        rejected: &'a [u64],
        unseen: &'a [usize],
        base: u64,
    ) -> Self {
        Rows {
            source,
            opts: CsvOptions {
                header: false,
                ..opts.clone()
            },
            head,
            scan,
            arrow: arrow_schema(&scan.schema),
            rejected,
            unseen,
            base,
        }
    }

    /// Parses one chunk of records beginning at `at`, of `lines` lines:
    /// checks every row (as pass one does), leaves out the rejected ones,
    /// and builds the batches; the tally of the rows.
    pub(super) fn parse(&self, text: &[u8], at: csv::Position, lines: u64) -> Parsed {
        let (source, head) = (self.source, self.head);
        let to_error = |e| parse_error(source, e, &head.names);
        let mut rdr = csv_reader(&self.opts, io::Cursor::new(text), 64 << 10);
        let line = at.line();
        rdr.seek_raw(io::SeekFrom::Start(0), at).map_err(to_error)?;
        let mut tally = Tally::new(head, false, self.base);
        // A row ends on each line but the last, at most.
        let mut builders = builders(self.scan, lines as usize + 1);
        let mut batches = Vec::new();
        let mut in_batch = 0;
        let mut record = csv::StringRecord::new();
        let columns = head.names.len();
        let first = self.rejected.partition_point(|&l| l < line);
        let mut rejected = self.rejected[first..].iter().copied().peekable();
        loop {
            match next_record(&mut rdr, &mut record, &self.opts).map_err(to_error)? {
                Next::End => break,
                Next::Bad(_) => continue,
                Next::Row => {}
            }
            if rejected.peek().is_some() {
                let line = record.position().map_or(0, |p| p.line());
                while rejected.next_if(|&r| r < line).is_some() {}
                if rejected.next_if_eq(&line).is_some() {
                    continue;
                }
            }
            check_record(&record, head, source)?;
            tally.observe(&record, head, self.unseen);
            for (i, field) in fields(&record, columns, &head.nulls).enumerate() {
                if !builders[i].append(field) {
                    let t = self.scan.schema.columns[i].column_type;
                    let e = value_error(source, &record, i, &head.names, t, field);
                    return Err(Stop::Misfit(e));
                }
            }
            in_batch += 1;
            if in_batch == BATCH_ROWS {
                batches.push(batch_of(&self.arrow, &mut builders).map_err(ConvertError::from)?);
                in_batch = 0;
            }
        }
        if in_batch > 0 {
            batches.push(batch_of(&self.arrow, &mut builders).map_err(ConvertError::from)?);
        }
        Ok((batches, tally))
    }
}

/// A reader that keeps a copy of what it reads, when asked to: the text
/// read ahead while the head is parsed is then read again as records.
pub(super) struct Kept<R> {
    inner: R,
    kept: Option<Vec<u8>>,
}

impl<R: Read> Kept<R> {
    pub(super) fn new(inner: R, keep: bool) -> Self {
        Kept {
            inner,
            kept: keep.then(Vec::new),
        }
    }

    /// Bytes kept so far.
    pub(super) fn len(&self) -> usize {
        self.kept.as_ref().map_or(0, Vec::len)
    }

    /// The text from byte `from` on (of what was kept), then the rest.
    pub(super) fn text_from(self, from: u64) -> Replay<R> {
        let kept = self.kept.unwrap_or_default();
        Replay {
            pos: (from as usize).min(kept.len()),
            kept,
            inner: self.inner,
        }
    }
}

impl<R: Read> Read for Kept<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(kept) = &mut self.kept {
            kept.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

/// Kept text read again, then the rest; the kept text is freed once read.
pub(super) struct Replay<R> {
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Every record of `text` read from `at`: its fields and its line.
    fn records(text: &[u8], at: csv::Position, opts: &CsvOptions) -> Vec<(Vec<Vec<u8>>, u64)> {
        let mut rdr = csv_reader(opts, io::Cursor::new(text), 1 << 10);
        rdr.seek_raw(io::SeekFrom::Start(0), at).unwrap();
        rdr.byte_records()
            .map(|r| {
                let r = r.unwrap();
                let line = r.position().unwrap().line();
                (r.iter().map(<[u8]>::to_vec).collect(), line)
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Wherever the cutter cuts (the text handed to it in pieces of any
        /// size), the records on either side are exactly the records of
        /// the whole, on the same lines.
        #[test]
        fn cuts_fall_between_records(
            text in proptest::collection::vec(
                proptest::sample::select(b"ab,;\"'\\#\r\n\n".to_vec()), 0..160),
            target in 0usize..160,
            step in 1usize..40,
            quote in proptest::sample::select(vec![b'"', b'\'']),
            escape in proptest::option::of(Just(b'\\')),
            comment in proptest::option::of(Just(b'#')),
            delimiter in proptest::sample::select(vec![b',', b';']),
        ) {
            let opts = CsvOptions {
                header: false,
                delimiter,
                quote,
                escape,
                comment,
                null_padding: true,
                ..CsvOptions::default()
            };
            let mut cutter = Cutter::new(&opts);
            let mut len = 0;
            let cut = loop {
                len = (len + step).min(text.len());
                let eof = len == text.len();
                if let Some(cut) = cutter.cut(&text[..len], target) {
                    break cut;
                }
                if eof {
                    break text.len();
                }
            };
            prop_assert!(cut >= target.min(text.len()));
            let mut at = csv::Position::new();
            let mut parts = records(&text[..cut], at.clone(), &opts);
            let lines = text[..cut].iter().filter(|&&b| b == b'\n').count() as u64;
            at.set_byte(cut as u64).set_line(1 + lines);
            parts.extend(records(&text[cut..], at, &opts));
            prop_assert_eq!(parts, records(&text, csv::Position::new(), &opts));
        }
    }
}
