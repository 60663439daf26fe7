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

/// `p * q` for the inner product, `(p - q)^2` for the squared distance.
#[inline(always)]
fn term<const L2: bool>(p: f32, q: f32) -> f32 {
    if L2 { (p - q) * (p - q) } else { p * q }
}

/// The sum of `term` over the two vectors, without SIMD intrinsics.
#[inline(always)]
fn portable<const L2: bool>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&p, &q)| term::<L2>(p, q))
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += term::<L2>(x[i], y[i]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The same sum with one width of x86 SIMD: `$lanes` floats a register,
/// two registers a step, the rest as `portable` does.
macro_rules! simd_sum {
    ($module:ident, $feature:literal, $lanes:literal, $reg:ty, $zero:ident, $load:ident,
     $fmadd:ident, $sub:ident, $add:ident, $reduce:path) => {
        #[cfg(target_arch = "x86_64")]
        mod $module {
            use std::arch::x86_64::*;

            #[target_feature(enable = $feature)]
            fn step<const L2: bool>(p: $reg, q: $reg, acc: $reg) -> $reg {
                if L2 {
                    let d = $sub(p, q);
                    $fmadd(d, d, acc)
                } else {
                    $fmadd(p, q, acc)
                }
            }

            #[target_feature(enable = $feature)]
            pub(super) fn sum<const L2: bool>(a: &[f32], b: &[f32]) -> f32 {
                let n = a.len().min(b.len());
                let (mut x, mut y) = ($zero(), $zero());
                let mut i = 0;
                // SAFETY: every load reads `$lanes` floats below n, of
                // slices at least n long.
                unsafe {
                    let at = |v: &[f32], i: usize| $load(v.as_ptr().add(i));
                    while i + 2 * $lanes <= n {
                        x = step::<L2>(at(a, i), at(b, i), x);
                        y = step::<L2>(at(a, i + $lanes), at(b, i + $lanes), y);
                        i += 2 * $lanes;
                    }
                    if i + $lanes <= n {
                        x = step::<L2>(at(a, i), at(b, i), x);
                        i += $lanes;
                    }
                }
                let tail: f32 = a[i..n]
                    .iter()
                    .zip(&b[i..n])
                    .map(|(&p, &q)| super::term::<L2>(p, q))
                    .sum();
                $reduce($add(x, y)) + tail
            }
        }
    };
}

/// The sum of an AVX register's eight lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn sum256(v: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps::<1>(pair, pair)))
}

simd_sum!(
    avx,
    "avx2,fma",
    8,
    __m256,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_fmadd_ps,
    _mm256_sub_ps,
    _mm256_add_ps,
    super::sum256
);
simd_sum!(
    avx512,
    "avx512f",
    16,
    __m512,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_sub_ps,
    _mm512_add_ps,
    _mm512_reduce_add_ps
);

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

/// The sum of `term` with the widest SIMD the CPU has.
#[inline]
fn sum<const L2: bool>(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    match simd() {
        // SAFETY: the CPU has AVX-512 (checked by `simd`).
        2 => return unsafe { avx512::sum::<L2>(a, b) },
        // SAFETY: the CPU has AVX2 and FMA (checked by `simd`).
        1 => return unsafe { avx::sum::<L2>(a, b) },
        _ => {}
    }
    portable::<L2>(a, b)
}

/// The inner product.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    sum::<false>(a, b)
}

/// The squared Euclidean distance.
#[inline]
pub fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
    sum::<true>(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_duckdbs() {
        let a: Vec<f32> = (0..128).map(|i| (i % 37) as f32 * 0.5).collect();
        let b: Vec<f32> = (0..128).map(|i| (37 - i % 37) as f32).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3 * naive.abs());
        let l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((squared_l2(&a, &b) - l2).abs() < 1e-3 * l2);
        let (mut pa, mut pb) = (a.clone(), b.clone());
        Metric::Cosine.prepare(&mut pa);
        Metric::Cosine.prepare(&mut pb);
        let cos = naive / (dot(&a, &a).sqrt() * dot(&b, &b).sqrt());
        assert!((Metric::Cosine.distance(&pa, &pb) - (1.0 - cos)).abs() < 1e-5);
        assert_eq!(Metric::L2.reported(16.0), 4.0);
        // Every width this CPU has gives the same sums.
        for n in [0, 7, 8, 16, 37, 128] {
            let (x, y) = (&a[..n], &b[..n]);
            let want = (portable::<false>(x, y), portable::<true>(x, y));
            #[cfg(target_arch = "x86_64")]
            {
                let near = |got: (f32, f32)| {
                    (got.0 - want.0).abs() <= 1e-3 * want.0.abs().max(1.0)
                        && (got.1 - want.1).abs() <= 1e-3 * want.1.abs().max(1.0)
                };
                if simd() >= 1 {
                    // SAFETY: the CPU has AVX2 and FMA.
                    let got = unsafe { (avx::sum::<false>(x, y), avx::sum::<true>(x, y)) };
                    assert!(near(got), "avx {n}: {got:?} {want:?}");
                }
                if simd() == 2 {
                    // SAFETY: the CPU has AVX-512.
                    let got = unsafe { (avx512::sum::<false>(x, y), avx512::sum::<true>(x, y)) };
                    assert!(near(got), "avx512 {n}: {got:?} {want:?}");
                }
            }
        }
        assert_eq!("L2".parse(), Ok(Metric::L2));
        assert!("manhattan".parse::<Metric>().is_err());
    }
}
