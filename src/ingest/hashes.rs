//! A set of 64-bit hashes that holds up to a known number of them in
//! little memory: open addressing in one flat table, no hashing again (the
//! values are hashes already), and a last size fitted to the most it will
//! hold rather than the next power of two. The distinct-value sample keeps
//! one per column; on a file of 200 columns a `HashSet<u64>` took 59 MiB.

/// Distinct hashes, at most `most` of them kept (inserts past that are
/// refused and do not count).
#[derive(Debug, Clone)]
pub(crate) struct Hashes {
    /// Slots; `EMPTY` where none is.
    slots: Vec<u64>,
    /// Hashes held (the zero hash among them when `zero`).
    len: usize,
    /// Whether the hash `EMPTY` itself is held (it has no slot).
    zero: bool,
    most: usize,
}

const EMPTY: u64 = 0;

/// Slots of a new table.
const FIRST_SLOTS: usize = 64;

impl Hashes {
    /// A set that will hold at most `most` hashes.
    pub(crate) fn new(most: usize) -> Hashes {
        Hashes {
            slots: Vec::new(),
            len: 0,
            zero: false,
            most,
        }
    }

    /// Hashes held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds `hash`; whether it was new (false too once full).
    pub(crate) fn insert(&mut self, hash: u64) -> bool {
        if hash == EMPTY {
            let new = !self.zero && self.len < self.most;
            self.zero |= new;
            self.len += usize::from(new);
            return new;
        }
        if self.len == self.most {
            return false;
        }
        if self.slots.is_empty() || (self.len + 1) * 5 > self.slots.len() * 4 {
            self.grow();
        }
        match self.find(hash) {
            Ok(_) => false,
            Err(slot) => {
                self.slots[slot] = hash;
                self.len += 1;
                true
            }
        }
    }

    /// The slot holding `hash`, or the empty slot where it would go.
    fn find(&self, hash: u64) -> Result<usize, usize> {
        let n = self.slots.len();
        // The hash's place in 0..n: the high bits of a product, for any n.
        let mut i = ((u128::from(hash) * n as u128) >> 64) as usize;
        loop {
            match self.slots[i] {
                EMPTY => return Err(i),
                h if h == hash => return Ok(i),
                _ => i = if i + 1 == n { 0 } else { i + 1 },
            }
        }
    }

    /// A table twice as large, or just large enough for `most` at the
    /// load the table keeps (4 in 5).
    fn grow(&mut self) {
        let last = (self.most * 5).div_ceil(4) + 1;
        let slots = (self.slots.len() * 2).clamp(FIRST_SLOTS, last.max(FIRST_SLOTS));
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; slots]);
        for hash in old.into_iter().filter(|&h| h != EMPTY) {
            if let Err(slot) = self.find(hash) {
                self.slots[slot] = hash;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The same answers as a `HashSet<u64>` kept to `most` values.
        #[test]
        fn counts_as_a_hash_set_does(
            values in prop::collection::vec(prop_oneof![0u64..40, any::<u64>()], 0..3000),
            most in 1usize..2500,
        ) {
            let mut set = Hashes::new(most);
            let mut reference = HashSet::new();
            for v in values {
                let new = reference.len() < most && reference.insert(v);
                prop_assert_eq!(set.insert(v), new);
                prop_assert_eq!(set.len(), reference.len());
            }
        }
    }

    #[test]
    fn a_full_set_takes_about_ten_bytes_a_hash() {
        let most = 16_385;
        let mut set = Hashes::new(most);
        for h in 1..=100_000u64 {
            set.insert(h.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
        assert_eq!(set.len(), most);
        assert!(set.slots.len() * 8 <= most * 10 + 64, "{}", set.slots.len());
    }
}
