//! The content address of an object: the SHA-256 of its bytes, taken as
//! they are written. The ingest's Parquet writer names objects by it, and
//! the store's cache checks what it fetched against it.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

/// A writer that hashes and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The SHA-256 (hex) and length of everything written, and the writer.
    pub fn finish(mut self) -> io::Result<(String, u64, W)> {
        self.inner.flush()?;
        Ok((hex::encode(self.hasher.finalize()), self.bytes, self.inner))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
