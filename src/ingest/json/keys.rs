//! Object keys to columns: the order they were first met, and the fast path
//! for objects that hold their keys in that order.

use std::collections::HashMap;

/// The columns seen so far, by key in order of first appearance.
#[derive(Debug, Default, Clone)]
pub(super) struct Keys {
    pub(super) index: HashMap<String, usize>,
    pub(super) raw: Vec<String>,
}

impl Keys {
    /// Keys already known, in column order.
    pub(super) fn of(raw: &[String]) -> Keys {
        let mut keys = Keys::default();
        for (position, key) in raw.iter().enumerate() {
            keys.column(key, position);
        }
        keys
    }

    /// The column of `key`, the `position`th of its object, adding it if
    /// new. Objects mostly hold their keys in one order: the key at the
    /// column of that number is tried before the lookup.
    pub(super) fn column(&mut self, key: &str, position: usize) -> usize {
        if self.raw.get(position).is_some_and(|k| k == key) {
            return position;
        }
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        let i = self.raw.len();
        self.index.insert(key.to_owned(), i);
        self.raw.push(key.to_owned());
        i
    }
}
