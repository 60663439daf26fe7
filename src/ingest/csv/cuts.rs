//! Where a CSV chunk may end: record ends found by a state machine that
//! follows quotes, escapes and comments as the csv crate's parser does,
//! without building fields. Pass two cuts its chunks here, and pass one
//! asks it whether a file ends inside a quote.

use super::CsvOptions;
use crate::ingest::chunks::Cut;

/// Where the csv crate's parser is, as far as records go.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum State {
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
    pub(crate) fn next(self, b: u8, opts: &CsvOptions) -> State {
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

    /// How many bytes at the start of `rest` leave the state as it is and
    /// end no record: inside quotes everything but a quote or the escape,
    /// in an unquoted field everything but a delimiter or a terminator, in
    /// a comment everything but a line feed. Found with memchr, so the
    /// cutter steps byte by byte only where something can happen.
    pub(crate) fn unchanged_run(self, rest: &[u8], opts: &CsvOptions) -> usize {
        let found = match self {
            State::Quoted => match opts.escape {
                Some(escape) => memchr::memchr2(opts.quote, escape, rest),
                None => memchr::memchr(opts.quote, rest),
            },
            State::Unquoted => memchr::memchr3(opts.delimiter, b'\n', b'\r', rest),
            State::Comment => memchr::memchr(b'\n', rest),
            _ => Some(0),
        };
        found.unwrap_or(rest.len())
    }

    /// Inside a quoted field: a quote here was never closed.
    pub(crate) fn in_quotes(self) -> bool {
        matches!(self, State::Quoted | State::Escaped)
    }
}

/// Finds the first record end at or after a target offset in a chunk that
/// begins at a record start, resuming where it left off as the chunk grows.
pub(crate) struct Cutter<'a> {
    opts: &'a CsvOptions,
    state: State,
    /// How far into the chunk `state` holds.
    pos: usize,
}

impl<'a> Cutter<'a> {
    pub(crate) fn new(opts: &'a CsvOptions) -> Self {
        Cutter {
            opts,
            state: State::RecordStart,
            pos: 0,
        }
    }
}

impl Cut for Cutter<'_> {
    /// Where the chunk `text` ends: just past the terminator of the first
    /// record (not a blank or comment line) that ends at index `target` or
    /// later. `None` when `text` holds none yet: call again with `text`
    /// extended, and [`Cutter::restart`] for the next chunk. The cut falls
    /// where the csv crate's reader stands after that record, so lines are
    /// numbered alike on both sides: after the CR of a CRLF (its LF is
    /// counted when the next record is read), before blank lines.
    fn cut(&mut self, text: &[u8], target: usize) -> Option<usize> {
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
            self.pos += self.state.unchanged_run(&text[self.pos..], self.opts);
            if self.pos == text.len() {
                break;
            }
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

    fn restart(&mut self) {
        self.state = State::RecordStart;
        self.pos = 0;
    }
}
