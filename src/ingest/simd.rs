//! Byte searches 16 at a time with SSE2's compares (every x86-64 has them;
//! elsewhere, the same answers a byte at a time): where a CSV field or a
//! JSON string may end. memchr starts each search anew, which costs more
//! than the search on fields of a few bytes.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
    _mm_set1_epi8,
};

/// Bit `i`: `bytes[i]` is one of `of` (for up to 64 bytes).
pub(crate) fn mask_of(bytes: &[u8], of: [u8; 4]) -> u64 {
    bytes
        .iter()
        .enumerate()
        .fold(0, |mask, (i, x)| mask | (u64::from(of.contains(x)) << i))
}

/// [`mask_of`] 64 bytes.
#[cfg(target_arch = "x86_64")]
pub(crate) fn mask_of_64(bytes: &[u8; 64], of: [u8; 4]) -> u64 {
    let mut mask = 0;
    // SAFETY: SSE2 is part of x86-64; each load reads the 16 bytes of
    // `part`, and needs no alignment.
    unsafe {
        let [a, b, c, d] = of.map(|x| _mm_set1_epi8(x as i8));
        for (k, part) in bytes.chunks_exact(16).enumerate() {
            let v = _mm_loadu_si128(part.as_ptr().cast::<__m128i>());
            let hits = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, a), _mm_cmpeq_epi8(v, b)),
                _mm_or_si128(_mm_cmpeq_epi8(v, c), _mm_cmpeq_epi8(v, d)),
            );
            mask |= u64::from(_mm_movemask_epi8(hits) as u16) << (16 * k);
        }
    }
    mask
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn mask_of_64(bytes: &[u8; 64], of: [u8; 4]) -> u64 {
    mask_of(bytes, of)
}

/// Whether a byte ends the plain run of a JSON string: its closing quote,
/// a backslash, or a control character (which JSON refuses there).
fn ends_string(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// The first byte at or after `from` that ends the plain run of a JSON
/// string, or the length of `bytes`.
#[inline]
pub(crate) fn string_run_end(bytes: &[u8], mut from: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = bytes.get(from..from + 16) {
        // SAFETY: SSE2 is part of x86-64; the load reads the 16 bytes of
        // `block`, and needs no alignment.
        let mask = unsafe {
            let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            _mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash)))
        };
        if mask != 0 {
            return from + mask.trailing_zeros() as usize;
        }
        from += 16;
    }
    bytes[from.min(bytes.len())..]
        .iter()
        .position(|&b| ends_string(b))
        .map_or(bytes.len(), |i| from + i)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The vector compares mark the bytes that the plain loop marks.
        #[test]
        fn vector_masks_are_plain_ones(
            bytes in proptest::collection::vec(
                proptest::sample::select(b",;\"\n\rab\xff\x80".to_vec()), 64),
        ) {
            let block: &[u8; 64] = bytes.as_slice().try_into().unwrap();
            let of = [b',', b'"', b'\n', b'\r'];
            prop_assert_eq!(mask_of_64(block, of), mask_of(block, of));
        }

        /// A string's run ends where a byte-at-a-time search ends it.
        #[test]
        fn string_runs_end_where_plain_search_ends_them(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"\"\\\x00\x1f\x20ab\x7f\x80\xff".to_vec()), 0..80),
            from in 0usize..90,
        ) {
            let plain = bytes
                .iter()
                .enumerate()
                .skip(from)
                .find(|&(_, &b)| ends_string(b))
                .map_or(bytes.len(), |(i, _)| i);
            prop_assert_eq!(string_run_end(&bytes, from), plain);
        }
    }
}
