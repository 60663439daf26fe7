//! The search of one layer of an HNSW graph, shared by the graph being
//! built and the stored one.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::Metric;

/// A graph to search: vectors and each node's neighbours per level.
pub(crate) trait Graph {
    fn metric(&self) -> Metric;
    fn vector(&self, node: u32) -> &[f32];
    /// The neighbours of `node` at `level`, into `out` (cleared first).
    fn neighbors(&self, node: u32, level: usize, out: &mut Vec<u32>);

    /// Calls `f` with the neighbours of `node` at `level` (`scratch` may
    /// hold a copy; a graph being built lends its list, locked, instead).
    fn with_neighbors(
        &self,
        node: u32,
        level: usize,
        scratch: &mut Vec<u32>,
        f: &mut dyn FnMut(&[u32]),
    ) {
        self.neighbors(node, level, scratch);
        f(scratch);
    }
}

/// A node and its distance to the query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Near {
    pub dist: f32,
    pub node: u32,
}

impl PartialEq for Near {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Near {}

impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Near {
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist
            .total_cmp(&other.dist)
            .then(self.node.cmp(&other.node))
    }
}

/// The nodes one search has seen: a mark per node, cleared in O(1) by
/// moving to the next epoch.
pub(crate) struct Visited {
    marks: Vec<u32>,
    epoch: u32,
}

impl Visited {
    pub fn new(nodes: usize) -> Visited {
        Visited {
            marks: vec![0; nodes],
            epoch: 0,
        }
    }

    pub fn clear(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Whether `node` is seen for the first time.
    #[inline]
    pub fn insert(&mut self, node: u32) -> bool {
        let mark = &mut self.marks[node as usize];
        let first = *mark != self.epoch;
        *mark = self.epoch;
        first
    }
}

/// Walks `level` from `entry` to the node nearest `query` (a search with
/// one candidate, as the upper levels are searched).
pub(crate) fn greedy<G: Graph + ?Sized>(
    g: &G,
    query: &[f32],
    mut entry: Near,
    level: usize,
) -> Near {
    let metric = g.metric();
    let mut links = Vec::new();
    loop {
        let mut moved = false;
        g.neighbors(entry.node, level, &mut links);
        for &n in &links {
            let dist = metric.distance(query, g.vector(n));
            if dist < entry.dist {
                entry = Near { dist, node: n };
                moved = true;
            }
        }
        if !moved {
            return entry;
        }
    }
}

/// The `ef` nodes of `level` nearest `query` that `accept` takes, found
/// from `entries`, nearest first. Nodes not taken are walked through but
/// never returned (rows deleted since the index was built).
pub(crate) fn search_layer<G: Graph + ?Sized>(
    g: &G,
    query: &[f32],
    entries: &[Near],
    ef: usize,
    level: usize,
    visited: &mut Visited,
    accept: &dyn Fn(u32) -> bool,
) -> Vec<Near> {
    let metric = g.metric();
    visited.clear();
    let mut candidates = BinaryHeap::new();
    let mut results: BinaryHeap<Near> = BinaryHeap::new();
    for &e in entries {
        if visited.insert(e.node) {
            candidates.push(Reverse(e));
            if accept(e.node) {
                results.push(e);
            }
        }
    }
    let mut links = Vec::new();
    while let Some(Reverse(c)) = candidates.pop() {
        if results.len() >= ef && results.peek().is_some_and(|w| c.dist > w.dist) {
            break;
        }
        g.with_neighbors(c.node, level, &mut links, &mut |links| {
            if let Some(&first) = links.first() {
                super::distance::prefetch(g.vector(first));
            }
            for (j, &n) in links.iter().enumerate() {
                if let Some(&next) = links.get(j + 1) {
                    super::distance::prefetch(g.vector(next));
                }
                if !visited.insert(n) {
                    continue;
                }
                let dist = metric.distance(query, g.vector(n));
                let near = Near { dist, node: n };
                if results.len() < ef || results.peek().is_some_and(|w| dist < w.dist) {
                    candidates.push(Reverse(near));
                    if accept(n) {
                        results.push(near);
                        if results.len() > ef {
                            results.pop();
                        }
                    }
                }
            }
        });
    }
    results.into_sorted_vec()
}
