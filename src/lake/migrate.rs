//! `lake catalog migrate --to URL`: the home's catalog copied, every
//! snapshot, into a new catalog on PostgreSQL or SQLite, and the home
//! pointed at it. The objects stay where they are; the old catalog is left
//! as it was (nothing is deleted).

use serde::Serialize;

use super::{CatalogLocation, Lake, LakeError, data_path_of};
use crate::catalog::Relocation;

/// What a migration did.
#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    /// The catalog before and after (without passwords).
    pub from: String,
    pub to: String,
    pub tables: u64,
    pub rows: u64,
    pub snapshots: u64,
}

impl Lake {
    /// Copies the catalog into the new catalog `to` names
    /// (`postgres://...` or `sqlite:PATH`) in one transaction there, then
    /// makes the home use it. A shared catalog records the store by its
    /// absolute path or URL.
    pub fn migrate_catalog(&mut self, to: &str) -> Result<Migration, LakeError> {
        let target = CatalogLocation::parse(&self.home, to)?;
        if target == self.location {
            return Err(LakeError::Usage(format!(
                "the catalog is {} already",
                target.display()
            )));
        }
        let mut catalog = target.open()?;
        let data_path = data_path_of(&self.store_url);
        let store = self.store_url.to_string();
        let relocation = if target.is_shared() {
            Relocation {
                data_path: Some(&data_path),
                store: Some(&store),
            }
        } else {
            Relocation::default()
        };
        let copied = self.catalog.copy_into(&mut catalog, &relocation)?;
        target.point_home_at(&self.home)?;
        let from = std::mem::replace(&mut self.location, target);
        self.catalog = catalog;
        Ok(Migration {
            from: from.display(),
            to: self.location.display(),
            tables: copied.tables,
            rows: copied.rows,
            snapshots: copied.snapshots,
        })
    }
}
