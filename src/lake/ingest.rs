//! A file into the lake: read it (`ingest::reading`), write its Parquet
//! object, stage it in the store, and record the version in the catalog
//! (write, then commit); the default dataset name of a file.

use std::path::Path;

use crate::catalog::{
    CatalogError, Commit, CommitStatus, NewObject, ObjectRef, SnapshotId, WriteMode, refused_change,
};
use crate::ingest::csv::dialect::DialectFlags;
use crate::ingest::error::ConvertError;
use crate::ingest::progress::Progress;
use crate::ingest::reading::Reading;
use crate::ingest::rejects::{rejects_schema, write_rejects};
use crate::ingest::source::Source;
use crate::ingest::writer::Written;
use crate::ingest::writer::stats::object_stats;
use crate::schema::{self, Schema};
use crate::store::Store;

use super::Lake;
use super::error::LakeError;

/// What to ingest and how.
#[derive(Debug, Clone)]
pub struct IngestRequest {
    /// The dataset; by default the file's stem.
    pub name: Option<String>,
    pub mode: WriteMode,
    /// Accept added, removed and widened columns.
    pub evolve: bool,
    /// The CSV dialect as far as the user fixed it; the rest is sniffed.
    pub dialect: DialectFlags,
    /// Column types given by the user, by name; the rest are inferred.
    pub types: Vec<(String, crate::schema::ColumnType)>,
}

/// What an ingest did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestReport {
    pub name: String,
    pub dataset_id: String,
    pub version: u64,
    /// The DuckLake snapshot of this version.
    pub snapshot: SnapshotId,
    /// Rows in the ingested file.
    pub rows: u64,
    /// Bytes of the Parquet object.
    pub bytes: u64,
    pub key: String,
    pub fingerprint: String,
    pub status: CommitStatus,
    /// What `--evolve` changed in the schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evolved: Option<crate::schema::EvolvePlan>,
    /// Rows set aside (with `--rejects`).
    pub rejects: u64,
    /// The dataset they were written to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_dataset: Option<String>,
}

/// The dataset name a source gets by default: its file stem, without
/// `.gz` and the CSV extension.
pub fn default_name(source: &Source) -> Result<String, LakeError> {
    let path = source
        .path()
        .ok_or_else(|| LakeError::Usage("reading standard input needs --name".to_owned()))?;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(name_for_file(&file))
}

/// The dataset name for a file name: `Sales 2024.csv.gz` is `sales_2024`.
pub fn name_for_file(file: &str) -> String {
    let file = file.rsplit('/').next().unwrap_or(file);
    let mut stem = [".gz", ".zst", ".zstd"]
        .into_iter()
        .find_map(|ext| file.strip_suffix(ext))
        .unwrap_or(file);
    for ext in [
        ".csv", ".tsv", ".tab", ".txt", ".jsonl", ".ndjson", ".json", ".parquet",
    ] {
        if let Some(s) = stem.strip_suffix(ext) {
            stem = s;
            break;
        }
    }
    schema::name_from_stem(stem)
}

/// The delimiter a file name implies: tab for `.tsv` and `.tab`, else comma.
pub fn default_delimiter(path: Option<&Path>) -> u8 {
    let name = path
        .and_then(|p| p.file_name())
        .map(|f| f.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".tsv") || name.ends_with(".tab") {
        b'\t'
    } else {
        b','
    }
}

impl Lake {
    /// Ingests a CSV source as a new version of a dataset: infer, write the
    /// Parquet object, make it durable, then commit the catalog. Counted in
    /// the metrics by status, with the input's bytes.
    pub fn ingest(
        &mut self,
        source: &Source,
        req: &IngestRequest,
        progress: &dyn Progress,
    ) -> Result<IngestReport, LakeError> {
        let result = self.ingest_uncounted(source, req, progress);
        if let Ok(report) = &result {
            self.index_new_objects(&report.name, progress);
        }
        let m = crate::metrics::metrics();
        let (dataset, status) = match &result {
            Ok(report) => {
                m.bytes_ingested.inc_by(source.len());
                (report.name.as_str(), report.status.as_str())
            }
            Err(_) => (req.name.as_deref().unwrap_or_default(), "failed"),
        };
        m.ingests.with_label_values(&[status]).inc();
        tracing::info!(dataset, status, "ingest");
        result
    }

    pub(super) fn ingest_uncounted(
        &mut self,
        source: &Source,
        req: &IngestRequest,
        progress: &dyn Progress,
    ) -> Result<IngestReport, LakeError> {
        let name = match &req.name {
            Some(name) => name.clone(),
            None => default_name(source)?,
        };
        schema::check_name(&name).map_err(|reason| LakeError::InvalidName {
            name: name.clone(),
            reason,
        })?;
        let reading = Reading::of(
            source,
            &req.dialect,
            req.types.clone(),
            default_delimiter(source.path()),
        )?;
        let rejects_name = format!("{name}_rejects");
        if req.dialect.rejects {
            schema::check_name(&rejects_name).map_err(|reason| LakeError::InvalidName {
                name: rejects_name.clone(),
                reason,
            })?;
        }
        let out = |store: &Store| -> Result<_, LakeError> {
            Ok(std::io::BufWriter::with_capacity(
                1 << 20,
                store.temp_file()?,
            ))
        };
        // One pass where the input allows, else two: the schema from every
        // row, then the object. A schema the mode does not accept is refused
        // before anything is published (and checked again in the commit,
        // which decides).
        let (mut scan, mut written, (name, dataset_id)) =
            match reading.convert(source, out(&self.store)?, progress)? {
                Some((scan, written)) => {
                    let named = self.name_and_id(&name, &scan.schema, req.mode, req.evolve)?;
                    (scan, written, named)
                }
                None => {
                    let scan = reading.scan(source, progress)?;
                    let named = self.name_and_id(&name, &scan.schema, req.mode, req.evolve)?;
                    let written =
                        reading.write_parquet(source, &scan, out(&self.store)?, progress)?;
                    (scan, written, named)
                }
            };
        // Columns the file holds in a narrower type than the dataset's
        // (BIGINT in a DOUBLE column, anything in a VARCHAR one) are written
        // in the dataset's type, read again from the text: engines other
        // than DuckDB expect a file's types to be its table's.
        if req.evolve && !matches!(reading, Reading::Parquet) {
            let wider = self.wider_types(&name, &scan.schema, req.mode);
            if !wider.is_empty() {
                for (i, t) in wider {
                    scan.schema.columns[i].column_type = t;
                }
                written = reading.write_parquet(source, &scan, out(&self.store)?, progress)?;
            }
        }
        let mut report = self.record(
            &name,
            &dataset_id,
            &scan.schema,
            written,
            req.mode,
            req.evolve,
        )?;
        // The rows set aside, as their own dataset: written when there are
        // any, and emptied when a run has none.
        if req.dialect.rejects
            && (!scan.rejects.is_empty() || self.catalog.dataset(&rejects_name).is_ok())
        {
            let schema = rejects_schema();
            let (rejects_name, id) =
                self.name_and_id(&rejects_name, &schema, WriteMode::Replace, false)?;
            let written = write_rejects(&scan.rejects, out(&self.store)?)?;
            self.record(
                &rejects_name,
                &id,
                &schema,
                written,
                WriteMode::Replace,
                false,
            )?;
            report.rejects_dataset = Some(rejects_name);
        }
        report.rejects = scan.rejects.len() as u64;
        Ok(report)
    }

    /// The columns of `file` (by position) whose type the dataset `name`
    /// holds wider, with that type; none for a new dataset or a replace.
    pub(super) fn wider_types(
        &self,
        name: &str,
        file: &Schema,
        mode: WriteMode,
    ) -> Vec<(usize, schema::ColumnType)> {
        let current = match self.catalog.dataset(name) {
            Ok(ds) if mode != WriteMode::Replace => ds.current.schema(),
            _ => return Vec::new(),
        };
        let Ok(current) = current else {
            return Vec::new();
        };
        file.columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let t = &current
                    .columns
                    .iter()
                    .find(|d| d.name == c.name)?
                    .column_type;
                (!t.is_nested() && schema::widens(&c.column_type, t)).then(|| (i, t.clone()))
            })
            .collect()
    }

    /// The dataset's name as the catalog spells it and its id (new ones
    /// for a new dataset), refusing a schema change the mode does not
    /// accept before anything is written (the commit checks again, and
    /// decides).
    pub(super) fn name_and_id(
        &self,
        name: &str,
        schema: &Schema,
        mode: WriteMode,
        evolve: bool,
    ) -> Result<(String, String), LakeError> {
        match self.catalog.dataset(name) {
            Ok(ds) => {
                if let Some(err) = refused_change(&ds.name, &ds.current, schema, mode, evolve) {
                    return Err(err.into());
                }
                Ok((ds.name, ds.dataset_id))
            }
            Err(CatalogError::NotFound { .. }) => {
                Ok((name.to_owned(), schema::dataset_id(name).to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Publishes a Parquet object just written to a temporary file and
    /// commits it as a new version of `name`.
    pub(super) fn record(
        &mut self,
        name: &str,
        dataset_id: &str,
        schema: &Schema,
        (written, tmp): (Written, std::io::BufWriter<tempfile::NamedTempFile>),
        mode: WriteMode,
        evolve: bool,
    ) -> Result<IngestReport, LakeError> {
        let tmp = tmp
            .into_inner()
            .map_err(|e| ConvertError::Write(e.into_error()))?;
        let prefix = self.catalog.object_prefix(name)?;
        let object = self.stage(&prefix, schema, &written, tmp)?;
        let key = object.object.key.clone();
        // The commit checks, under the catalog's write lock, that the object
        // is still there.
        let store = &self.store;
        let present = || store.exists(&key).unwrap_or(false);
        let committed = self.catalog.commit(&Commit {
            name,
            dataset_id,
            schema,
            object,
            mode,
            evolve,
            object_present: Some(&present),
        });
        let _ = self.catalog.unpend(&key);
        let committed = committed?;
        Ok(IngestReport {
            name: committed.name,
            dataset_id: dataset_id.to_owned(),
            version: committed.version.version,
            snapshot: committed.version.snapshot,
            rows: written.rows,
            bytes: written.bytes,
            key,
            fingerprint: committed.version.fingerprint,
            status: committed.status,
            evolved: committed.plan,
            rejects: 0,
            rejects_dataset: None,
        })
    }

    /// Makes an object just written to `file` (of `schema`) ready for a
    /// commit: announced to gc first, then published under `prefix` unless
    /// the same bytes are there already, with the statistics DuckDB prunes
    /// files by. The caller ends the announcement ([`Catalog::unpend`]) once
    /// its commit is done.
    pub(super) fn stage(
        &mut self,
        prefix: &str,
        schema: &Schema,
        written: &Written,
        file: tempfile::NamedTempFile,
    ) -> Result<NewObject, LakeError> {
        let stats = object_stats(file.as_file(), schema).ok();
        let key = format!("{prefix}{}.parquet", written.sha256);
        self.catalog.pend(&key)?;
        let published = match self.store.exists(&key) {
            Ok(true) => Ok(()),
            Ok(false) => self.store.publish(&key, file),
            Err(e) => Err(e),
        };
        if let Err(e) = published {
            let _ = self.catalog.unpend(&key);
            return Err(e.into());
        }
        Ok(NewObject {
            object: ObjectRef {
                key,
                rows: written.rows,
                bytes: written.bytes,
            },
            sha256: written.sha256.clone(),
            footer_size: stats.as_ref().map(|s| s.footer_size),
            stats: stats.map(|s| s.columns).unwrap_or_default(),
        })
    }
}
