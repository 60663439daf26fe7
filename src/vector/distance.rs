//! Distances between vectors, as DuckDB's array functions define them
//! (`array_cosine_distance`, `array_distance`,
//! `array_negative_inner_product`), computed with the widest SIMD the CPU
//! has.

use std::fmt;
use std::str::FromStr;

/// How near two vectors are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// `1 - cos(a, b)`: vectors are normalised once, then `1 - a.b`.
    Cosine,
    /// Euclidean distance (searched squared, reported as DuckDB does).
    L2,
    /// The negative inner product.
    Ip,
}

impl Metric {
    /// The number stored in an index file.
    pub fn code(self) -> u32 {
        match self {
            Metric::Cosine => 0,
            Metric::L2 => 1,
            Metric::Ip => 2,
        }
    }

    pub fn from_code(code: u32) -> Option<Metric> {
        [Metric::Cosine, Metric::L2, Metric::Ip]
            .into_iter()
            .find(|m| m.code() == code)
    }

    /// DuckDB's function of the same distance, for exact scans.
    pub fn sql_function(self) -> &'static str {
        match self {
            Metric::Cosine => "array_cosine_distance",
            Metric::L2 => "array_distance",
            Metric::Ip => "array_negative_inner_product",
        }
    }

    /// Makes a vector ready to be stored or searched for (unit length
    /// for cosine; a zero vector stays zero).
    pub fn prepare(self, v: &mut [f32]) {
        if self == Metric::Cosine {
            let norm = dot(v, v).sqrt();
            if norm > 0.0 {
                v.iter_mut().for_each(|x| *x /= norm);
            }
        }
    }

    /// The distance the search orders by, of prepared vectors.
    #[inline]
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::Cosine => 1.0 - dot(a, b),
            Metric::L2 => squared_l2(a, b),
            Metric::Ip => -dot(a, b),
        }
    }

    /// The distance as DuckDB's function reports it.
    pub fn reported(self, d: f32) -> f32 {
        match self {
            Metric::L2 => d.max(0.0).sqrt(),
            _ => d,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Metric::Cosine => "cosine",
            Metric::L2 => "l2",
            Metric::Ip => "ip",
        })
    }
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cosine" => Ok(Metric::Cosine),
            "l2" | "euclidean" => Ok(Metric::L2),
            "ip" | "dot" | "inner_product" => Ok(Metric::Ip),
            other => Err(format!("unknown metric {other:?} (cosine, l2 or ip)")),
        }
    }
}

/// Lanes summed apart, so that the compiler can keep them in one SIMD
/// register (a float sum in order cannot be vectorised).
const LANES: usize = 16;

#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn squared_l2_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;

    /// The sum of a register's eight lanes.
    #[target_feature(enable = "avx2,fma")]
    fn sum(v: __m256) -> f32 {
        let quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
        _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps::<1>(pair, pair)))
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (mut x, mut y) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        // SAFETY: every load reads 8 floats at i < n - 15 (or n - 7) of
        // slices at least n long.
        unsafe {
            while i + 16 <= n {
                x = _mm256_fmadd_ps(
                    _mm256_loadu_ps(a.as_ptr().add(i)),
                    _mm256_loadu_ps(b.as_ptr().add(i)),
                    x,
                );
                y = _mm256_fmadd_ps(
                    _mm256_loadu_ps(a.as_ptr().add(i + 8)),
                    _mm256_loadu_ps(b.as_ptr().add(i + 8)),
                    y,
                );
                i += 16;
            }
            if i + 8 <= n {
                x = _mm256_fmadd_ps(
                    _mm256_loadu_ps(a.as_ptr().add(i)),
                    _mm256_loadu_ps(b.as_ptr().add(i)),
                    x,
                );
                i += 8;
            }
        }
        let tail: f32 = a[i..n].iter().zip(&b[i..n]).map(|(p, q)| p * q).sum();
        sum(_mm256_add_ps(x, y)) + tail
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (mut x, mut y) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        // SAFETY: as in `dot`.
        unsafe {
            while i + 16 <= n {
                let d = _mm256_sub_ps(
                    _mm256_loadu_ps(a.as_ptr().add(i)),
                    _mm256_loadu_ps(b.as_ptr().add(i)),
                );
                x = _mm256_fmadd_ps(d, d, x);
                let e = _mm256_sub_ps(
                    _mm256_loadu_ps(a.as_ptr().add(i + 8)),
                    _mm256_loadu_ps(b.as_ptr().add(i + 8)),
                );
                y = _mm256_fmadd_ps(e, e, y);
                i += 16;
            }
            if i + 8 <= n {
                let d = _mm256_sub_ps(
                    _mm256_loadu_ps(a.as_ptr().add(i)),
                    _mm256_loadu_ps(b.as_ptr().add(i)),
                );
                x = _mm256_fmadd_ps(d, d, x);
                i += 8;
            }
        }
        let tail: f32 = a[i..n]
            .iter()
            .zip(&b[i..n])
            .map(|(p, q)| (p - q) * (p - q))
            .sum();
        sum(_mm256_add_ps(x, y)) + tail
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (mut x, mut y) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let mut i = 0;
        // SAFETY: every load reads 16 floats below n of slices at least n long.
        unsafe {
            while i + 32 <= n {
                x = _mm512_fmadd_ps(
                    _mm512_loadu_ps(a.as_ptr().add(i)),
                    _mm512_loadu_ps(b.as_ptr().add(i)),
                    x,
                );
                y = _mm512_fmadd_ps(
                    _mm512_loadu_ps(a.as_ptr().add(i + 16)),
                    _mm512_loadu_ps(b.as_ptr().add(i + 16)),
                    y,
                );
                i += 32;
            }
            if i + 16 <= n {
                x = _mm512_fmadd_ps(
                    _mm512_loadu_ps(a.as_ptr().add(i)),
                    _mm512_loadu_ps(b.as_ptr().add(i)),
                    x,
                );
                i += 16;
            }
        }
        let tail: f32 = a[i..n].iter().zip(&b[i..n]).map(|(p, q)| p * q).sum();
        _mm512_reduce_add_ps(_mm512_add_ps(x, y)) + tail
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (mut x, mut y) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let mut i = 0;
        // SAFETY: as in `dot`.
        unsafe {
            while i + 32 <= n {
                let d = _mm512_sub_ps(
                    _mm512_loadu_ps(a.as_ptr().add(i)),
                    _mm512_loadu_ps(b.as_ptr().add(i)),
                );
                x = _mm512_fmadd_ps(d, d, x);
                let e = _mm512_sub_ps(
                    _mm512_loadu_ps(a.as_ptr().add(i + 16)),
                    _mm512_loadu_ps(b.as_ptr().add(i + 16)),
                );
                y = _mm512_fmadd_ps(e, e, y);
                i += 32;
            }
            if i + 16 <= n {
                let d = _mm512_sub_ps(
                    _mm512_loadu_ps(a.as_ptr().add(i)),
                    _mm512_loadu_ps(b.as_ptr().add(i)),
                );
                x = _mm512_fmadd_ps(d, d, x);
                i += 16;
            }
        }
        let tail: f32 = a[i..n]
            .iter()
            .zip(&b[i..n])
            .map(|(p, q)| (p - q) * (p - q))
            .sum();
        _mm512_reduce_add_ps(_mm512_add_ps(x, y)) + tail
    }
}

/// The widest SIMD the CPU has: 2 for AVX-512, 1 for AVX2 with FMA, 0.
#[cfg(target_arch = "x86_64")]
fn simd() -> u8 {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<u8> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        if is_x86_feature_detected!("avx512f") {
            2
        } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            1
        } else {
            0
        }
    })
}

/// Asks the CPU to start loading the vector at `v` (the next one a search
/// will measure), as hnswlib does: searches wait on memory, not on sums.
#[inline]
pub fn prefetch(v: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = v.as_ptr().cast::<i8>();
        for line in (0..v.len() * 4).step_by(64).take(4) {
            // SAFETY: prefetching is a hint; the address is inside `v`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(line)) };
        }
    }
}

/// The inner product.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    match simd() {
        // SAFETY: the CPU has AVX-512 (checked by `simd`).
        2 => return unsafe { avx512::dot(a, b) },
        // SAFETY: the CPU has AVX2 and FMA (checked by `simd`).
        1 => return unsafe { avx::dot(a, b) },
        _ => {}
    }
    dot_portable(a, b)
}

/// The squared Euclidean distance.
#[inline]
pub fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    match simd() {
        // SAFETY: the CPU has AVX-512 (checked by `simd`).
        2 => return unsafe { avx512::squared_l2(a, b) },
        // SAFETY: the CPU has AVX2 and FMA (checked by `simd`).
        1 => return unsafe { avx::squared_l2(a, b) },
        _ => {}
    }
    squared_l2_portable(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_duckdbs() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..37).map(|i| (37 - i) as f32).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-2 * naive.abs());
        let l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((squared_l2(&a, &b) - l2).abs() < 1e-2 * l2);
        let (mut pa, mut pb) = (a.clone(), b.clone());
        Metric::Cosine.prepare(&mut pa);
        Metric::Cosine.prepare(&mut pb);
        let cos = naive / (dot(&a, &a).sqrt() * dot(&b, &b).sqrt());
        assert!((Metric::Cosine.distance(&pa, &pb) - (1.0 - cos)).abs() < 1e-5);
        assert_eq!(Metric::L2.reported(16.0), 4.0);
        assert_eq!("L2".parse(), Ok(Metric::L2));
        assert!("manhattan".parse::<Metric>().is_err());
    }
}
