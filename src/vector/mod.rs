//! Vector search: HNSW graphs (Malkov and Yashunin) over the `FLOAT[N]`
//! column of one Parquet object, built on every core, stored as one
//! immutable file that is searched in place (memory-mapped).
//!
//! `distance` holds the metrics, `build` makes a graph, `file` is the
//! stored form and its search, `parquet` reads an object's vectors.

pub mod build;
pub mod distance;
pub mod file;
pub mod parquet;
mod search;

pub use build::{Params, build};
pub use distance::Metric;
pub use file::{Hit, IndexFile};

#[cfg(test)]
mod tests {
    use super::*;

    /// Clustered vectors from a fixed seed.
    fn clustered(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let centres: Vec<f32> = (0..50 * dim).map(|_| next() * 4.0).collect();
        (0..n)
            .flat_map(|i| {
                let c = (i * 7919) % 50;
                (0..dim)
                    .map(|d| centres[c * dim + d] + next())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn exact(vectors: &[f32], dim: usize, q: &[f32], k: usize, metric: Metric) -> Vec<u32> {
        let mut q = q.to_vec();
        metric.prepare(&mut q);
        let mut all: Vec<(f32, u32)> = vectors
            .chunks_exact(dim)
            .enumerate()
            .map(|(i, v)| {
                let mut v = v.to_vec();
                metric.prepare(&mut v);
                (metric.distance(&q, &v), i as u32)
            })
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        all.into_iter().take(k).map(|(_, i)| i).collect()
    }

    #[test]
    fn finds_the_nearest_rows_of_clustered_vectors() {
        let (n, dim) = (5000, 32);
        // The last 100 (not indexed) are the queries: near the same
        // clusters, as real queries are.
        let mut vectors = clustered(n + 100, dim, 42);
        let queries = vectors.split_off(n * dim);
        for metric in [Metric::Cosine, Metric::L2, Metric::Ip] {
            let params = Params {
                metric,
                ..Params::default()
            };
            let rows: Vec<u32> = (0..n as u32).map(|r| r * 2).collect();
            let bytes = build(vectors.clone(), rows, dim, params, 2, &|_| {});
            let index = IndexFile::from_bytes(&bytes).unwrap();
            assert_eq!(index.len(), n);
            let mut found = 0;
            for q in queries.chunks_exact(dim) {
                let truth = exact(&vectors, dim, q, 10, metric);
                let hits = index.search(q, 10, 64, &|_| true).unwrap();
                assert!(hits.windows(2).all(|w| w[0].distance <= w[1].distance));
                found += hits.iter().filter(|h| truth.contains(&(h.row / 2))).count();
            }
            let recall = found as f64 / 1000.0;
            assert!(recall >= 0.95, "{metric}: recall {recall}");
        }
    }

    #[test]
    fn rows_not_kept_are_never_returned_and_sizes_are_checked() {
        let dim = 8;
        let vectors = clustered(500, dim, 3);
        let bytes = build(
            vectors.clone(),
            (0..500).collect(),
            dim,
            Params::default(),
            1,
            &|_| {},
        );
        let index = IndexFile::from_bytes(&bytes).unwrap();
        let q = &vectors[..dim];
        let hits = index.search(q, 10, 40, &|row| row % 2 == 0).unwrap();
        assert_eq!(hits.len(), 10);
        assert!(hits.iter().all(|h| h.row % 2 == 0));
        assert_eq!(hits[0].row, 0);
        assert!(index.search(&q[..3], 10, 40, &|_| true).is_err());
        assert!(IndexFile::from_bytes(&bytes[..bytes.len() - 4]).is_err());
        let empty = build(Vec::new(), Vec::new(), dim, Params::default(), 2, &|_| {});
        let empty = IndexFile::from_bytes(&empty).unwrap();
        assert!(empty.search(q, 3, 10, &|_| true).unwrap().is_empty());
    }
}
