//! `gc`: expire snapshots, then delete the objects of datasets that no kept
//! snapshot names. The catalog is changed first and objects deleted after,
//! so a kill at any point leaves only orphans, which the next gc removes;
//! each batch is checked again and deleted under the catalog's write lock,
//! which every commit takes to check its object is there.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{Lake, LakeError};
use crate::catalog::{DATASETS_PREFIX, Keep};
use crate::store::ObjectInfo;

/// Objects listed (and deleted) at a time: memory follows a page.
const PAGE: usize = 1000;

/// What `gc` is asked to do.
#[derive(Debug, Clone)]
pub struct GcOptions {
    pub keep: Keep,
    /// Unreferenced objects younger than this are kept (another writer may
    /// not have committed one yet), and so are the snapshots that were the
    /// newest this long ago or since (a query may still read them).
    pub grace: Duration,
    /// Report, remove nothing.
    pub dry_run: bool,
}

impl GcOptions {
    /// The options of `--keep N`, `--older-than AGE`, `--grace AGE` and
    /// `--dry-run` (the same fields over HTTP).
    pub fn from_flags(
        keep: Option<u64>,
        older_than: Option<&str>,
        grace: &str,
        dry_run: bool,
    ) -> Result<GcOptions, LakeError> {
        let keep = match (keep, older_than) {
            (Some(_), Some(_)) => {
                return Err(LakeError::Usage(
                    "--keep and --older-than cannot be used together".into(),
                ));
            }
            (Some(0), _) => return Err(LakeError::Usage("--keep must be at least 1".into())),
            (Some(n), None) => Keep::Newest(n),
            (None, Some(age)) => {
                let age = parse_duration(age)
                    .map_err(|e| LakeError::Usage(format!("--older-than: {e}")))?;
                let cutoff = chrono::Duration::from_std(age)
                    .ok()
                    .and_then(|age| chrono::Utc::now().checked_sub_signed(age))
                    .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
                Keep::Since(cutoff.format("%Y-%m-%d %H:%M:%S").to_string())
            }
            (None, None) => Keep::All,
        };
        Ok(GcOptions {
            keep,
            grace: parse_duration(grace).map_err(|e| LakeError::Usage(format!("--grace: {e}")))?,
            dry_run,
        })
    }
}

/// What `gc` removed (or would have, in a dry run).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    /// Snapshots expired.
    pub snapshots: u64,
    /// The oldest snapshot kept.
    pub oldest_kept: i64,
    /// Catalog rows of files only expired snapshots saw.
    pub files: u64,
    /// Objects removed from the store.
    pub objects: u64,
    pub bytes: u64,
    /// Unreferenced objects kept because they are younger than the grace
    /// period.
    pub young: u64,
}

impl Lake {
    /// Expires snapshots and removes the objects no kept snapshot names.
    /// `progress` is told of each page of objects looked at.
    pub fn gc(
        &mut self,
        opts: &GcOptions,
        progress: &mut dyn FnMut(&GcReport, u64),
    ) -> Result<GcReport, LakeError> {
        let old_before = SystemTime::now()
            .checked_sub(opts.grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let (expired, referenced) = self.catalog.expire(&opts.keep, old_before, opts.dry_run)?;
        let mut report = GcReport {
            dry_run: opts.dry_run,
            snapshots: expired.snapshots,
            oldest_kept: expired.oldest_kept,
            files: expired.files,
            ..GcReport::default()
        };
        let mut after: Option<String> = None;
        let mut seen = 0u64;
        loop {
            let page = self.store.list(DATASETS_PREFIX, after.as_deref(), PAGE)?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.key.clone());
            seen += page.len() as u64;
            let mut unreferenced = Vec::new();
            for object in page {
                if !referenced.keys.contains(&object.key)? {
                    unreferenced.push(object);
                }
            }
            let (old, young): (Vec<ObjectInfo>, Vec<ObjectInfo>) = unreferenced
                .into_iter()
                // An object whose age is unknown is young.
                .partition(|o| o.modified.is_some_and(|m| m <= old_before));
            report.young += young.len() as u64;
            if opts.dry_run {
                report.objects += old.len() as u64;
                report.bytes += old.iter().map(|o| o.size).sum::<u64>();
            } else if !old.is_empty() {
                let store = &self.store;
                let removed = self.catalog.with_new_references(&referenced, |new| {
                    let doomed: Vec<&ObjectInfo> =
                        old.iter().filter(|o| !new.contains(&o.key)).collect();
                    let keys: Vec<String> = doomed.iter().map(|o| o.key.clone()).collect();
                    store.delete_dataset_objects(&keys).map(|()| {
                        (
                            keys.len() as u64,
                            doomed.iter().map(|o| o.size).sum::<u64>(),
                        )
                    })
                })??;
                report.objects += removed.0;
                report.bytes += removed.1;
            }
            progress(&report, seen);
        }
        Ok(report)
    }
}

/// A duration as people write it: `90s`, `15m`, `1h`, `7d`, `2w` (`0` is
/// none).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (like 90s, 15m, 1h, 7d)"))?;
    let seconds = match unit.trim() {
        "" if n == 0 => 0,
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "{text:?} is not a duration (like 90s, 15m, 1h, 7d)"
            ));
        }
    };
    n.checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "7", "d", "1y", "-1h", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
