//! Where an ingest reads from: a file (plain, gzip or zstd) or standard
//! input spooled to a temporary file, so that it can be read twice; and what
//! it holds (CSV, JSON or Parquet), told by its content.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

use crate::ingest::progress::Progress;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const PARQUET_MAGIC: [u8; 4] = *b"PAR1";
const BUFFER: usize = 1 << 20;
const BOM: [u8; 3] = *b"\xef\xbb\xbf";

/// How a source's bytes are compressed, told by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// What a source holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Csv,
    /// JSON Lines (one object per line) or a JSON array of objects.
    Json,
    Parquet,
}

impl std::fmt::Display for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Content::Csv => "CSV",
            Content::Json => "JSON",
            Content::Parquet => "Parquet",
        })
    }
}

/// A source that can be opened more than once.
#[derive(Debug)]
pub struct Source {
    path: PathBuf,
    /// How errors name it: the path, or `<stdin>`.
    label: String,
    compression: Compression,
    /// 3 when the file starts with a UTF-8 byte order mark.
    bom: u64,
    /// Compressed size on disk, for progress.
    len: u64,
    /// Keeps a spooled copy of standard input alive.
    _spool: Option<tempfile::TempPath>,
}

impl Source {
    /// A file on disk; gzip is recognised by its magic bytes.
    pub fn file(path: &Path) -> io::Result<Source> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a directory",
            ));
        }
        let mut magic = [0u8; 4];
        let n = read_prefix(&mut file, &mut magic)?;
        let compression = if n >= 2 && magic[..2] == GZIP_MAGIC {
            Compression::Gzip
        } else if n == 4 && magic == ZSTD_MAGIC {
            Compression::Zstd
        } else {
            Compression::None
        };
        let bom = if n >= 3 && magic[..3] == BOM && compression == Compression::None {
            3
        } else {
            0
        };
        Ok(Source {
            path: path.to_owned(),
            label: path.display().to_string(),
            compression,
            bom,
            len: meta.len(),
            _spool: None,
        })
    }

    /// Copies `reader` (standard input) into a temporary file in `dir`.
    pub fn spool(reader: &mut dyn Read, dir: &Path) -> io::Result<Source> {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        io::copy(reader, tmp.as_file_mut())?;
        Source::temp(tmp.into_temp_path(), "<stdin>")
    }

    /// A temporary file (an upload, spooled input), removed with the source;
    /// errors call it `label`.
    pub fn temp(path: tempfile::TempPath, label: &str) -> io::Result<Source> {
        let mut source = Source::file(&path)?;
        source.label = label.to_owned();
        source._spool = Some(path);
        Ok(source)
    }

    /// How errors name this source.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Bytes on disk (compressed, for gzip).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the source is empty on disk.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How the file is compressed.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// What the file holds: Parquet by its magic bytes; JSON when its first
    /// character (after any byte order mark, decompressed) opens an object,
    /// or an array whose first element is an object (or nothing); else CSV.
    pub fn content(&self) -> io::Result<Content> {
        if self.compression == Compression::None {
            let mut file = File::open(&self.path)?;
            let mut magic = [0u8; 4];
            if read_prefix(&mut file, &mut magic)? == 4 && magic == PARQUET_MAGIC {
                return Ok(Content::Parquet);
            }
        }
        let mut head = Vec::new();
        self.open(&|_| {})?.take(4096).read_to_end(&mut head)?;
        let mut chars = head.iter().filter(|b| !b.is_ascii_whitespace());
        Ok(match (chars.next(), chars.next()) {
            (Some(b'{'), Some(b'"' | b'}')) => Content::Json,
            (Some(b'['), Some(b'{' | b']')) => Content::Json,
            _ => Content::Csv,
        })
    }

    /// Bytes of byte order mark at the start of a plain file.
    pub fn bom_len(&self) -> u64 {
        self.bom
    }

    /// Opens a plain file at `offset` bytes past its byte order mark.
    pub fn open_at<'a>(
        &self,
        offset: u64,
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> io::Result<Box<dyn Read + Send + 'a>> {
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.bom + offset))?;
        Ok(Box::new(BufReader::with_capacity(
            BUFFER,
            Counted {
                inner: file,
                progress,
            },
        )))
    }

    /// The offset (past the byte order mark) just after the first line feed
    /// at or after `offset` in a plain file; `None` if none comes soon.
    pub fn next_line_start(&self, offset: u64) -> io::Result<Option<u64>> {
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.bom + offset))?;
        // A line longer than this is no place to split a file.
        let mut reader = BufReader::with_capacity(64 * 1024, file.take(1 << 20));
        let mut skipped = Vec::new();
        let n = reader.read_until(b'\n', &mut skipped)?;
        Ok((n > 0 && skipped.ends_with(b"\n")).then(|| offset + n as u64))
    }

    /// The file on disk (a spool of standard input too).
    pub fn file_path(&self) -> &Path {
        &self.path
    }

    /// The offset (in decompressed bytes, after a byte order mark) where
    /// line `lines` begins: the lines before it are skipped.
    pub fn line_offset(&self, lines: u64) -> io::Result<u64> {
        let mut reader = BufReader::new(self.open(&|_| {})?);
        let mut offset = 0u64;
        let mut line = Vec::new();
        for _ in 0..lines {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            offset += n as u64;
        }
        Ok(offset)
    }

    /// Opens the decompressed bytes from `offset` on (after a byte order
    /// mark): a seek in a plain file, a skip in a compressed one.
    pub fn open_from<'a>(
        &self,
        offset: u64,
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> io::Result<Box<dyn Read + Send + 'a>> {
        if offset == 0 {
            return self.open(progress);
        }
        if self.compression == Compression::None {
            return self.open_at(offset, progress);
        }
        let mut reader = self.open(progress)?;
        io::copy(&mut (&mut reader).take(offset), &mut io::sink())?;
        Ok(reader)
    }

    /// The file name that decides defaults (name, delimiter), if any.
    pub fn path(&self) -> Option<&Path> {
        self._spool.is_none().then_some(self.path.as_path())
    }

    /// Opens the decompressed bytes, UTF-8 byte order mark removed; `progress`
    /// is told how many bytes of the file on disk have been read.
    pub fn open<'a>(
        &self,
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> io::Result<Box<dyn Read + Send + 'a>> {
        let file = File::open(&self.path)?;
        let counted = Counted {
            inner: file,
            progress,
        };
        let mut reader: Box<dyn BufRead + Send + 'a> = match self.compression {
            Compression::Gzip => Box::new(BufReader::with_capacity(
                BUFFER,
                MultiGzDecoder::new(BufReader::with_capacity(BUFFER, counted)),
            )),
            // Every frame, one after another (a file compressed in
            // parallel holds many), skippable frames skipped.
            Compression::Zstd => Box::new(BufReader::with_capacity(
                BUFFER,
                zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(
                    BUFFER, counted,
                ))?,
            )),
            Compression::None => Box::new(BufReader::with_capacity(BUFFER, counted)),
        };
        let buf = reader.fill_buf()?;
        if buf.starts_with(&BOM) {
            reader.consume(3);
        }
        Ok(reader)
    }
}

fn read_prefix(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Tells a callback how far through the underlying file reading has got.
struct Counted<'a, R> {
    inner: R,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}

/// Tells progress of bytes read except the first `skip`: text read a second
/// time, already told.
pub(crate) struct Recount<'a> {
    progress: &'a dyn Progress,
    skip: u64,
    seen: AtomicU64,
}

impl<'a> Recount<'a> {
    pub(crate) fn new(progress: &'a dyn Progress, skip: u64) -> Self {
        Recount {
            progress,
            skip,
            seen: AtomicU64::new(0),
        }
    }

    /// `n` more bytes read.
    pub(crate) fn bytes(&self, n: u64) {
        let before = self.seen.fetch_add(n, Ordering::Relaxed);
        let new = (before + n).saturating_sub(self.skip) - before.saturating_sub(self.skip);
        if new > 0 {
            self.progress.bytes(new);
        }
    }
}
