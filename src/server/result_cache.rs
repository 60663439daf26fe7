//! Answers of `/v1/sql` kept by (SQL text, snapshot, format): exact, because
//! the objects a snapshot names never change, and bounded in bytes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;

use crate::catalog::SnapshotId;

/// What identifies one answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct AnswerKey {
    pub sql: String,
    pub snapshot: SnapshotId,
    pub format: &'static str,
}

/// A finished answer: its body and the entity tag of that body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub body: Bytes,
    pub content_type: &'static str,
    pub etag: String,
    /// Rows in the answer.
    pub rows: u64,
}

/// The entity tag of a body: a hash of its bytes, quoted.
pub(crate) fn etag_of(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..12]))
}

struct Entry {
    answer: Arc<Answer>,
    used: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<AnswerKey, Entry>,
    /// Last use -> key: the least recently used first.
    order: BTreeMap<u64, AnswerKey>,
    bytes: u64,
    clock: u64,
}

/// A least-recently-used cache bounded by the bytes of its answers.
pub(crate) struct ResultCache {
    inner: Mutex<Inner>,
    max_bytes: u64,
}

impl ResultCache {
    pub fn new(max_bytes: u64) -> ResultCache {
        ResultCache {
            inner: Mutex::new(Inner::default()),
            max_bytes,
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether an answer of `bytes` is worth keeping: at most an eighth of
    /// the bound, so that one answer cannot flush the rest.
    pub fn admits(&self, bytes: usize) -> bool {
        (bytes as u64).saturating_mul(8) <= self.max_bytes
    }

    pub fn get(&self, key: &AnswerKey) -> Option<Arc<Answer>> {
        let mut inner = self.inner();
        inner.clock += 1;
        let now = inner.clock;
        let entry = inner.entries.get_mut(key)?;
        let before = std::mem::replace(&mut entry.used, now);
        let answer = entry.answer.clone();
        inner.order.remove(&before);
        inner.order.insert(now, key.clone());
        Some(answer)
    }

    pub fn insert(&self, key: AnswerKey, answer: Arc<Answer>) {
        let size = answer.body.len() as u64;
        if !self.admits(answer.body.len()) {
            return;
        }
        let mut inner = self.inner();
        inner.clock += 1;
        let now = inner.clock;
        if let Some(old) = inner
            .entries
            .insert(key.clone(), Entry { answer, used: now })
        {
            inner.order.remove(&old.used);
            inner.bytes -= old.answer.body.len() as u64;
        }
        inner.order.insert(now, key);
        inner.bytes += size;
        let m = crate::metrics::metrics();
        while inner.bytes > self.max_bytes {
            let Some((_, oldest)) = inner.order.pop_first() else {
                break;
            };
            if let Some(gone) = inner.entries.remove(&oldest) {
                inner.bytes -= gone.answer.body.len() as u64;
                m.cache_evictions
                    .with_label_values(&[crate::metrics::ANSWER_CACHE])
                    .inc();
            }
        }
        m.cache_bytes
            .with_label_values(&[crate::metrics::ANSWER_CACHE])
            .set(i64::try_from(inner.bytes).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(sql: &str) -> AnswerKey {
        AnswerKey {
            sql: sql.to_owned(),
            snapshot: 1,
            format: "json",
        }
    }

    fn answer(bytes: usize) -> Arc<Answer> {
        let body = Bytes::from(vec![b'x'; bytes]);
        Arc::new(Answer {
            etag: etag_of(&body),
            body,
            content_type: "application/json",
            rows: 0,
        })
    }

    #[test]
    fn least_recently_used_answers_go_first() {
        let cache = ResultCache::new(80);
        cache.insert(key("a"), answer(10));
        cache.insert(key("b"), answer(10));
        assert!(cache.get(&key("a")).is_some()); // a is now newer than b
        for i in 0..6 {
            cache.insert(key(&format!("c{i}")), answer(10));
        }
        // 80 bytes: a, b and six more make 80; one more pushes out b.
        cache.insert(key("d"), answer(10));
        assert!(cache.get(&key("b")).is_none());
        assert!(cache.get(&key("a")).is_some());
        assert!(cache.get(&key("d")).is_some());
        // Too big to keep.
        cache.insert(key("big"), answer(11));
        assert!(cache.get(&key("big")).is_none());
    }
}
