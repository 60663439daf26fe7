//! The stored form of an HNSW graph: one file of little-endian 32-bit
//! words, searched in place (memory-mapped, so that only the pages a
//! search touches are read).
//!
//! Layout, in words: a header of [`HEADER`] (magic, version, metric, dim,
//! nodes, m, ef_construction, entry, top, upper words); the row of each
//! node in its object; the vectors (prepared for the metric); level 0's
//! lists, `2m + 1` words per node (count, then neighbours); per node the
//! word where its upper levels start (or `u32::MAX`); the upper levels,
//! per node with any: its level count, then `m + 1` words per level.

use std::fs::File;
use std::path::Path;

use super::Metric;
use super::search::{Graph, Near, Visited, greedy, search_layer};

const MAGIC: u32 = u32::from_le_bytes(*b"LKHN");
const VERSION: u32 = 1;
const HEADER: usize = 16;

/// What [`encode`] writes.
pub(crate) struct Parts<'a> {
    pub metric: Metric,
    pub dim: usize,
    pub m: usize,
    pub ef_construction: usize,
    pub entry: u32,
    pub top: usize,
    pub rows: &'a [u32],
    pub vectors: &'a [f32],
    /// Per node, its neighbours at each of its levels.
    pub links: &'a [Vec<Vec<u32>>],
}

/// The file's bytes.
pub(crate) fn encode(p: &Parts<'_>) -> Vec<u8> {
    let n = p.rows.len();
    let m0 = 2 * p.m;
    let mut upper: Vec<u32> = Vec::new();
    let mut starts = Vec::with_capacity(n);
    for levels in p.links {
        if levels.len() <= 1 {
            starts.push(u32::MAX);
            continue;
        }
        starts.push(upper.len() as u32);
        upper.push(levels.len() as u32 - 1);
        for list in &levels[1..] {
            upper.push(list.len() as u32);
            upper.extend(list.iter().copied());
            upper.extend(std::iter::repeat_n(0, p.m - list.len()));
        }
    }
    let mut words: Vec<u32> = Vec::with_capacity(HEADER + n * (2 + p.dim + m0 + 1) + upper.len());
    words.extend([
        MAGIC,
        VERSION,
        p.metric.code(),
        p.dim as u32,
        n as u32,
        p.m as u32,
        p.ef_construction as u32,
        p.entry,
        p.top as u32,
        upper.len() as u32,
    ]);
    words.resize(HEADER, 0);
    words.extend_from_slice(p.rows);
    words.extend(p.vectors.iter().map(|f| f.to_bits()));
    for levels in p.links {
        let list = levels.first().map_or(&[][..], Vec::as_slice);
        words.push(list.len() as u32);
        words.extend_from_slice(list);
        words.extend(std::iter::repeat_n(0, m0 - list.len()));
    }
    words.extend_from_slice(&starts);
    words.extend_from_slice(&upper);
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// One nearest row of a search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The row's position in its object.
    pub row: u32,
    /// The distance as DuckDB's function of the metric reports it.
    pub distance: f32,
}

enum Words {
    Mapped(memmap2::Mmap),
    Owned(Vec<u32>),
}

/// A stored graph, ready to search.
pub struct IndexFile {
    words: Words,
    metric: Metric,
    dim: usize,
    nodes: usize,
    m: usize,
    entry: u32,
    top: usize,
    // Word offsets of the sections.
    rows: usize,
    vectors: usize,
    level0: usize,
    starts: usize,
    upper: usize,
}

impl IndexFile {
    /// Maps the file at `path` (it must not change while mapped: index
    /// objects never do).
    pub fn open(path: &Path) -> Result<IndexFile, String> {
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // SAFETY: objects are immutable once written; the cache replaces a
        // file by renaming a new one over it, never by writing into it.
        let map =
            unsafe { memmap2::Mmap::map(&file) }.map_err(|e| format!("{}: {e}", path.display()))?;
        if !map.len().is_multiple_of(4) || cfg!(target_endian = "big") {
            return Err(format!("{}: not a vector index", path.display()));
        }
        IndexFile::from_words(Words::Mapped(map))
    }

    /// An index from its bytes (kept in memory).
    pub fn from_bytes(bytes: &[u8]) -> Result<IndexFile, String> {
        if !bytes.len().is_multiple_of(4) {
            return Err("not a vector index".into());
        }
        let words = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        IndexFile::from_words(Words::Owned(words))
    }

    fn from_words(words: Words) -> Result<IndexFile, String> {
        let mut index = IndexFile {
            words,
            metric: Metric::Cosine,
            dim: 0,
            nodes: 0,
            m: 0,
            entry: 0,
            top: 0,
            rows: HEADER,
            vectors: 0,
            level0: 0,
            starts: 0,
            upper: 0,
        };
        let w = index.words();
        let bad = || "not a vector index (or one of another version)".to_owned();
        if w.len() < HEADER || w[0] != MAGIC || w[1] != VERSION {
            return Err(bad());
        }
        let metric = Metric::from_code(w[2]).ok_or_else(bad)?;
        let (dim, nodes, m) = (w[3] as usize, w[4] as usize, w[5] as usize);
        let (entry, top, upper_len) = (w[7], w[8] as usize, w[9] as usize);
        let vectors = HEADER + nodes;
        let level0 = vectors + nodes * dim;
        let starts = level0 + nodes * (2 * m + 1);
        let upper = starts + nodes;
        if upper + upper_len != w.len() || (nodes > 0 && entry as usize >= nodes) {
            return Err(bad());
        }
        index.metric = metric;
        index.dim = dim;
        index.nodes = nodes;
        index.m = m;
        index.entry = entry;
        index.top = top;
        index.vectors = vectors;
        index.level0 = level0;
        index.starts = starts;
        index.upper = upper;
        Ok(index)
    }

    fn words(&self) -> &[u32] {
        match &self.words {
            // SAFETY: a map is page-aligned and its length a multiple of 4
            // (checked when opened).
            Words::Mapped(map) => unsafe {
                std::slice::from_raw_parts(map.as_ptr().cast::<u32>(), map.len() / 4)
            },
            Words::Owned(words) => words,
        }
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The length of the vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The rows indexed (non-NULL vectors).
    pub fn len(&self) -> usize {
        self.nodes
    }

    pub fn is_empty(&self) -> bool {
        self.nodes == 0
    }

    /// The `k` rows nearest `query` among those `keep` takes (by row),
    /// considering `ef` candidates (at least `k`), nearest first.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: &dyn Fn(u32) -> bool,
    ) -> Result<Vec<Hit>, String> {
        if query.len() != self.dim {
            return Err(format!(
                "the query vector has {} numbers; the index's vectors have {}",
                query.len(),
                self.dim
            ));
        }
        if self.nodes == 0 || k == 0 {
            return Ok(Vec::new());
        }
        let mut q = query.to_vec();
        self.metric.prepare(&mut q);
        let rows = &self.words()[self.rows..self.rows + self.nodes];
        let mut near = Near {
            dist: self.metric.distance(&q, self.vector(self.entry)),
            node: self.entry,
        };
        for level in (1..=self.top).rev() {
            near = greedy(self, &q, near, level);
        }
        let mut visited = Visited::new(self.nodes);
        let found = search_layer(self, &q, &[near], ef.max(k), 0, &mut visited, &|node| {
            keep(rows[node as usize])
        });
        Ok(found
            .into_iter()
            .take(k)
            .map(|n| Hit {
                row: rows[n.node as usize],
                distance: self.metric.reported(n.dist),
            })
            .collect())
    }
}

impl Graph for IndexFile {
    fn metric(&self) -> Metric {
        self.metric
    }

    #[inline]
    fn vector(&self, node: u32) -> &[f32] {
        let at = self.vectors + node as usize * self.dim;
        let words = &self.words()[at..at + self.dim];
        // SAFETY: f32 and u32 have the same size and alignment, and every
        // bit pattern is a valid f32.
        unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<f32>(), words.len()) }
    }

    fn neighbors(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        out.clear();
        let w = self.words();
        let list = if level == 0 {
            self.level0 + node as usize * (2 * self.m + 1)
        } else {
            let start = w[self.starts + node as usize];
            if start == u32::MAX {
                return;
            }
            let at = self.upper + start as usize;
            if level > w[at] as usize {
                return;
            }
            at + 1 + (level - 1) * (self.m + 1)
        };
        let count = (w[list] as usize).min(if level == 0 { 2 * self.m } else { self.m });
        out.extend(
            w[list + 1..list + 1 + count]
                .iter()
                .copied()
                .filter(|&n| (n as usize) < self.nodes),
        );
    }
}
