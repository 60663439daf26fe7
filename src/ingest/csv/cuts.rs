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
        while self.pos < text.len() {
            let outside = matches!(
                self.state,
                State::RecordStart | State::FieldStart | State::Unquoted
            );
            if outside && self.opts.comment.is_none() {
                if let Some(cut) = self.cut_outside(text, target) {
                    return Some(cut);
                }
                continue;
            }
            // Inside quotes, just after one, or where comments count: one
            // byte at a time, past the runs that change nothing.
            self.pos += self.state.unchanged_run(&text[self.pos..], self.opts);
            if self.pos == text.len() {
                break;
            }
            let before = self.state;
            self.state = before.next(text[self.pos], self.opts);
            self.pos += 1;
            if self.state == State::RecordStart && ends_record(before) && self.pos > target {
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

/// Whether a terminator after this state ends a record (not a blank line).
fn ends_record(before: State) -> bool {
    matches!(
        before,
        State::FieldStart | State::Unquoted | State::QuoteInQuoted
    )
}

impl Cutter<'_> {
    /// Outside quotes (and with no comments), up to the next quote: no byte
    /// but a quote can open one, so the record ends there are the
    /// terminators that do not end a blank line, and the state before any
    /// byte is told by the byte before it. Returns the cut if one is at or
    /// after `target` before the next quote; else moves past that quote (or
    /// to the end of `text`).
    fn cut_outside(&mut self, text: &[u8], target: usize) -> Option<usize> {
        let quote = memchr::memchr(self.opts.quote, &text[self.pos..]).map(|i| self.pos + i);
        let end = quote.unwrap_or(text.len());
        let mut from = self.pos.max(target);
        while from < end {
            let Some(i) = memchr::memchr2(b'\n', b'\r', &text[from..end]) else {
                break;
            };
            let i = from + i;
            if ends_record(self.state_before(text, i)) {
                return Some(i + 1);
            }
            from = i + 1;
        }
        self.state = match quote {
            Some(q) => self.state_before(text, q).next(self.opts.quote, self.opts),
            None => self.state_before(text, text.len()),
        };
        self.pos = quote.map_or(text.len(), |q| q + 1);
        None
    }

    /// The state just before byte `i`, for `i` at or after `self.pos` with
    /// only bytes outside quotes, and no quote, between them.
    fn state_before(&self, text: &[u8], i: usize) -> State {
        if i == self.pos {
            return self.state;
        }
        match text[i - 1] {
            b'\n' | b'\r' => State::RecordStart,
            b if b == self.opts.delimiter => State::FieldStart,
            _ => State::Unquoted,
        }
    }
}
