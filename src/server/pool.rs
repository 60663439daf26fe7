//! A pool of things that are costly to open and used by one request at a
//! time: catalog connections, DuckDB connections with their views.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

/// Idle items, taken by a request and given back when its guard drops.
pub(crate) struct Pool<T> {
    idle: Mutex<Vec<T>>,
    /// Idle items kept at most; more are closed when given back.
    keep: usize,
}

impl<T> Pool<T> {
    pub fn new(keep: usize) -> Arc<Pool<T>> {
        Arc::new(Pool {
            idle: Mutex::new(Vec::new()),
            keep,
        })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<T>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An idle item, or a new one from `open`.
    pub fn take<E>(self: &Arc<Self>, open: impl FnOnce() -> Result<T, E>) -> Result<Pooled<T>, E> {
        let item = match self.idle().pop() {
            Some(item) => item,
            None => open()?,
        };
        Ok(Pooled {
            item: Some(item),
            pool: self.clone(),
        })
    }
}

/// An item taken from a [`Pool`]; it goes back when dropped, unless
/// [`Pooled::discard`]ed.
pub(crate) struct Pooled<T> {
    item: Option<T>,
    pool: Arc<Pool<T>>,
}

impl<T> Pooled<T> {
    /// Closes the item instead of giving it back (it may be broken).
    pub fn discard(mut self) {
        self.item = None;
    }
}

impl<T> Deref for Pooled<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.item.as_ref().expect("taken until dropped")
    }
}

impl<T> DerefMut for Pooled<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.item.as_mut().expect("taken until dropped")
    }
}

impl<T> Drop for Pooled<T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            let mut idle = self.pool.idle();
            if idle.len() < self.pool.keep {
                idle.push(item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_reused_and_bounded() {
        let pool = Pool::new(1);
        let mut opened = 0;
        let mut open = || -> Result<u32, ()> {
            opened += 1;
            Ok(opened)
        };
        let a = pool.take(&mut open).unwrap();
        let b = pool.take(&mut open).unwrap();
        assert_eq!((*a, *b), (1, 2));
        drop(a);
        drop(b); // over the bound of one idle item: closed
        assert_eq!(*pool.take(&mut open).unwrap(), 1);
        pool.take(&mut open).unwrap().discard();
        assert_eq!(*pool.take(&mut open).unwrap(), 3);
    }
}
