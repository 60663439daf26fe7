//! How far a pass has got, for the progress bar: the ingest reports, the
//! command line draws (or not).

/// Reports how far a pass has got.
pub trait Progress: Sync {
    /// A pass begins; `total` is the source's size on disk.
    fn start(&self, _pass: &'static str, _total: u64) {}
    /// `bytes` more of the source were read.
    fn bytes(&self, _bytes: u64) {}
    /// `rows` more rows were read.
    fn rows(&self, _rows: u64) {}
}

/// No progress reporting.
pub struct NoProgress;

impl Progress for NoProgress {}
