//! Building an HNSW graph on every core: nodes are inserted by several
//! threads at once, each neighbour list behind its own lock (as hnswlib
//! does), then the graph is written as an [`IndexFile`](super::IndexFile).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use super::Metric;
use super::file;
use super::search::{Graph, Near, Visited, greedy, search_layer};

/// How a graph is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub metric: Metric,
    /// Neighbours per node on the upper levels (twice as many on level 0).
    pub m: usize,
    /// Candidates considered for each insertion.
    pub ef_construction: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            metric: Metric::Cosine,
            m: 16,
            ef_construction: 200,
        }
    }
}

/// A graph being built.
struct Building {
    metric: Metric,
    dim: usize,
    m: usize,
    m0: usize,
    vectors: Vec<f32>,
    levels: Vec<u8>,
    /// Per node, its neighbour list of each level from 0 to its own.
    links: Vec<Vec<Mutex<Vec<u32>>>>,
    /// The entry point and the top level.
    top: RwLock<(u32, usize)>,
}

impl Graph for Building {
    fn metric(&self) -> Metric {
        self.metric
    }

    #[inline]
    fn vector(&self, node: u32) -> &[f32] {
        let at = node as usize * self.dim;
        &self.vectors[at..at + self.dim]
    }

    fn neighbors(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        out.clear();
        if let Some(list) = self.links[node as usize].get(level) {
            out.extend_from_slice(&list.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    fn with_neighbors(&self, node: u32, level: usize, _: &mut Vec<u32>, f: &mut dyn FnMut(&[u32])) {
        if let Some(list) = self.links[node as usize].get(level) {
            f(&list.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }
}

/// A deterministic level for each node: floor(-ln(U) / ln(m)), from a
/// fixed-seed generator (splitmix64).
fn levels(n: usize, m: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let ml = 1.0 / (m.max(2) as f64).ln();
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            let u = ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            ((-u.ln() * ml) as usize).min(15) as u8
        })
        .collect()
}

/// Builds the graph of `vectors` (`dim` floats each; node i is `rows[i]`
/// of its object) with `threads` threads, calling `progress` with the
/// nodes inserted so far; returns the index file's bytes.
pub fn build(
    vectors: Vec<f32>,
    rows: Vec<u32>,
    dim: usize,
    params: Params,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<u8> {
    let n = rows.len();
    assert_eq!(vectors.len(), n * dim, "one vector of {dim} per row");
    let m = params.m.clamp(2, 128);
    let mut vectors = vectors;
    for v in vectors.chunks_exact_mut(dim.max(1)) {
        params.metric.prepare(v);
    }
    let levels = levels(n, m);
    let links = levels
        .iter()
        .map(|&l| {
            (0..=l as usize)
                .map(|level| Mutex::new(Vec::with_capacity(if level == 0 { 2 * m } else { m })))
                .collect()
        })
        .collect();
    let g = Building {
        metric: params.metric,
        dim,
        m,
        m0: 2 * m,
        top: RwLock::new((0, levels.first().copied().unwrap_or(0) as usize)),
        vectors,
        levels,
        links,
    };
    let ef = params.ef_construction.max(m);
    let next = AtomicUsize::new(1);
    let done = AtomicUsize::new(1);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                let mut visited = Visited::new(n);
                loop {
                    let node = next.fetch_add(1, Ordering::Relaxed);
                    if node >= n {
                        break;
                    }
                    insert(&g, node as u32, ef, &mut visited);
                    let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if finished.is_multiple_of(1024) {
                        progress(finished);
                    }
                }
            });
        }
    });
    progress(n);
    let (entry, top) = *g.top.read().unwrap_or_else(|e| e.into_inner());
    let links: Vec<Vec<Vec<u32>>> = g
        .links
        .into_iter()
        .map(|levels| {
            levels
                .into_iter()
                .map(|l| l.into_inner().unwrap_or_else(|e| e.into_inner()))
                .collect()
        })
        .collect();
    file::encode(&file::Parts {
        metric: params.metric,
        dim,
        m,
        ef_construction: params.ef_construction,
        entry,
        top,
        rows: &rows,
        vectors: &g.vectors,
        links: &links,
    })
}

/// Inserts `node` (its vector and level already in place).
fn insert(g: &Building, node: u32, ef: usize, visited: &mut Visited) {
    let q = g.vector(node);
    let level = g.levels[node as usize] as usize;
    // A node above the top holds the write lock for all of its insertion,
    // so that no other becomes the top meanwhile.
    let mut top_guard = None;
    let (entry, top) = {
        let top = *g.top.read().unwrap_or_else(|e| e.into_inner());
        if level > top.1 {
            let guard = g.top.write().unwrap_or_else(|e| e.into_inner());
            let now = *guard;
            if level > now.1 {
                top_guard = Some(guard);
            }
            now
        } else {
            top
        }
    };
    let mut near = Near {
        dist: g.metric.distance(q, g.vector(entry)),
        node: entry,
    };
    for l in (level + 1..=top).rev() {
        near = greedy(g, q, near, l);
    }
    // The node's own lists are set at every level before any other node
    // links to it: until then no search reaches it, so nothing links to
    // it (or reads its lists) while they are still empty.
    let mut entries = vec![near];
    let mut chosen_at = Vec::with_capacity(level.min(top) + 1);
    for l in (0..=level.min(top)).rev() {
        let found = search_layer(g, q, &entries, ef, l, visited, &|_| true);
        let chosen = select(g, &found, g.m);
        *g.links[node as usize][l]
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = chosen.iter().map(|c| c.node).collect();
        chosen_at.push((l, chosen));
        entries = found;
    }
    for (l, chosen) in chosen_at {
        let max = if l == 0 { g.m0 } else { g.m };
        for c in &chosen {
            connect(g, c.node, node, c.dist, l, max);
        }
    }
    if let Some(mut guard) = top_guard {
        *guard = (node, level);
    }
}

/// Adds `node` to `to`'s neighbours at `level`; when full, keeps the
/// heuristic's choice of the old ones and `node`.
fn connect(g: &Building, to: u32, node: u32, dist: f32, level: usize, max: usize) {
    let mut list = g.links[to as usize][level]
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if list.contains(&node) {
        return;
    }
    if list.len() < max {
        list.push(node);
        return;
    }
    let v = g.vector(to);
    let mut candidates: Vec<Near> = list
        .iter()
        .map(|&n| Near {
            dist: g.metric.distance(v, g.vector(n)),
            node: n,
        })
        .collect();
    candidates.push(Near { dist, node });
    candidates.sort_unstable();
    *list = select(g, &candidates, max)
        .into_iter()
        .map(|c| c.node)
        .collect();
}

/// hnswlib's neighbour heuristic: from candidates nearest first, keep one
/// only if it is nearer the node than to every one kept, up to `max`.
fn select(g: &Building, candidates: &[Near], max: usize) -> Vec<Near> {
    let mut kept: Vec<Near> = Vec::with_capacity(max);
    for &c in candidates {
        if kept.len() == max {
            break;
        }
        let v = g.vector(c.node);
        if kept
            .iter()
            .all(|k| g.metric.distance(v, g.vector(k.node)) > c.dist)
        {
            kept.push(c);
        }
    }
    kept
}
