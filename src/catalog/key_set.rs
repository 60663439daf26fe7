//! A set of store keys (with the sizes the catalog records) kept on disk
//! instead of in memory: a private temporary SQLite database, which SQLite
//! deletes when it closes. gc and doctor look each listed object up in it,
//! so their memory is a listing page and a small page cache however many
//! objects a lake has.

use super::db::{Db, OptionalExtension, params};
use super::{CatalogError, sql};

/// What of the set stays in memory; the rest waits in the temporary file.
const CACHE_KIB: u32 = 4096;

/// Store keys and their recorded sizes, on disk.
pub struct KeySet {
    db: Db,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySet")
    }
}

impl KeySet {
    /// An empty set in a new temporary file.
    pub(super) fn new() -> Result<KeySet, CatalogError> {
        let context = "making a temporary set of keys";
        let db = Db::open_temporary(CACHE_KIB).map_err(sql(context))?;
        db.execute_batch(
            "CREATE TABLE key_set (key TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;",
        )
        .map_err(sql(context))?;
        Ok(KeySet { db })
    }

    /// Fills the set in one transaction: `fill` gets a function that adds
    /// a key (a key added twice keeps its first size).
    pub(super) fn fill<T>(
        &self,
        fill: impl FnOnce(&mut dyn FnMut(&str, u64) -> Result<(), CatalogError>) -> T,
    ) -> Result<T, CatalogError> {
        let context = "filling a temporary set of keys";
        self.db.execute_batch("BEGIN").map_err(sql(context))?;
        let out = {
            let mut insert = self
                .db
                .prepare("INSERT OR IGNORE INTO key_set (key, bytes) VALUES (?1, ?2)")
                .map_err(sql(context))?;
            fill(&mut |key, bytes| {
                insert
                    .execute(params![key, bytes])
                    .map(drop)
                    .map_err(sql(context))
            })
        };
        self.db.execute_batch("COMMIT").map_err(sql(context))?;
        Ok(out)
    }

    /// Whether `key` is in the set.
    pub fn contains(&self, key: &str) -> Result<bool, CatalogError> {
        Ok(self.size(key)?.is_some())
    }

    /// The recorded size of `key`, if it is in the set.
    pub fn size(&self, key: &str) -> Result<Option<u64>, CatalogError> {
        self.db
            .prepare_cached("SELECT bytes FROM key_set WHERE key = ?1")
            .and_then(|mut stmt| stmt.query_row([key], |r| r.get::<_, i64>(0)).optional())
            .map(|bytes| bytes.map(|b| b.max(0) as u64))
            .map_err(sql("looking up a key"))
    }

    /// Removes `key`, returning its recorded size if it was there.
    pub fn take(&self, key: &str) -> Result<Option<u64>, CatalogError> {
        self.db
            .prepare_cached("DELETE FROM key_set WHERE key = ?1 RETURNING bytes")
            .and_then(|mut stmt| stmt.query_row([key], |r| r.get::<_, i64>(0)).optional())
            .map(|bytes| bytes.map(|b| b.max(0) as u64))
            .map_err(sql("removing a key"))
    }

    /// How many keys the set holds, and the sum of their sizes.
    pub fn totals(&self) -> Result<(u64, u64), CatalogError> {
        self.db
            .query_row(
                "SELECT count(*), coalesce(sum(bytes), 0) FROM key_set",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u64,
                        r.get::<_, i64>(1)?.max(0) as u64,
                    ))
                },
            )
            .map_err(sql("counting keys"))
    }

    /// Calls `each` with every key in the set, in order.
    pub fn for_each(&self, mut each: impl FnMut(&str)) -> Result<(), CatalogError> {
        let mut stmt = self
            .db
            .prepare("SELECT key FROM key_set ORDER BY key")
            .map_err(sql("reading keys"))?;
        let mut rows = stmt.query([]).map_err(sql("reading keys"))?;
        while let Some(row) = rows.next().map_err(sql("reading keys"))? {
            each(&row.get::<_, String>(0).map_err(sql("reading keys"))?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_keys_on_disk() {
        let set = KeySet::new().unwrap();
        set.fill(|add| {
            for i in (0..5000u64).rev() {
                add(&format!("datasets/d{i}/x.parquet"), i)?;
            }
            add("datasets/d7/x.parquet", 99)
        })
        .unwrap()
        .unwrap();
        assert_eq!(set.totals().unwrap(), (5000, (0..5000).sum()));
        assert!(set.contains("datasets/d42/x.parquet").unwrap());
        assert!(!set.contains("datasets/d5000/x.parquet").unwrap());
        assert_eq!(set.size("datasets/d7/x.parquet").unwrap(), Some(7));
        assert_eq!(set.take("datasets/d7/x.parquet").unwrap(), Some(7));
        assert_eq!(set.take("datasets/d7/x.parquet").unwrap(), None);
        let mut keys = Vec::new();
        set.for_each(|k| keys.push(k.to_owned())).unwrap();
        assert_eq!(keys.len(), 4999);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(!keys.contains(&"datasets/d7/x.parquet".to_owned()));
    }
}
