//! A blocking reader over a source of byte chunks (a download stream, a
//! request body arriving from async code).

use std::io::{self, Read};

use bytes::Bytes;

/// Reads the chunks `next` yields until it yields `None`.
pub struct ChunkReader<F> {
    next: F,
    current: Bytes,
}

impl<F: FnMut() -> Option<io::Result<Bytes>>> ChunkReader<F> {
    pub fn new(next: F) -> Self {
        ChunkReader {
            next,
            current: Bytes::new(),
        }
    }
}

impl<F: FnMut() -> Option<io::Result<Bytes>>> Read for ChunkReader<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match (self.next)() {
                None => return Ok(0),
                Some(chunk) => self.current = chunk?,
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_across_chunks_and_passes_errors_on() {
        let mut chunks = vec![
            Ok(Bytes::from_static(b"ab")),
            Ok(Bytes::new()),
            Ok(Bytes::from_static(b"cde")),
        ]
        .into_iter();
        let mut out = String::new();
        ChunkReader::new(|| chunks.next())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "abcde");
        let mut failing =
            vec![Ok(Bytes::from_static(b"x")), Err(io::Error::other("cut"))].into_iter();
        let mut out = Vec::new();
        assert!(
            ChunkReader::new(|| failing.next())
                .read_to_end(&mut out)
                .is_err()
        );
    }
}
