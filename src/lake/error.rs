//! What can go wrong in a lake operation, and the class of each error: the
//! exit code of the CLI and the status of the server follow from it.

use thiserror::Error;

use crate::catalog::CatalogError;
use crate::ingest::error::ConvertError;
use crate::query::QueryError;
use crate::store::{KeyError, StoreError};

/// Errors of lake operations.
#[derive(Debug, Error)]
pub enum LakeError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Convert(#[from] ConvertError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("invalid dataset name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("{0}")]
    Usage(String),
    #[error("lake home {path}")]
    Home {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the store {store} overlaps this lake's home {home}: its catalog, WAL or cache would be objects anyone could read or delete; use a store outside the home, or the default {home}/store"
    )]
    StoreHoldsHome { store: String, home: String },
    #[error("this lake already uses the store {current}; it cannot be changed to {requested}")]
    StoreChange { current: String, requested: String },
    #[error(
        "this lake's catalog is {current}; it cannot be changed to {requested} (a new home can use it)"
    )]
    CatalogChange { current: String, requested: String },
}

/// What a process exit code says about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Anything else: 1.
    Failure,
    /// A bad argument: 2.
    Usage,
    /// A schema conflict: 3.
    Conflict,
    /// A dataset or key that does not exist: 4.
    NotFound,
}

impl ErrorClass {
    /// The exit code of the class.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorClass::Failure => 1,
            ErrorClass::Usage => 2,
            ErrorClass::Conflict => 3,
            ErrorClass::NotFound => 4,
        }
    }

    /// The class of the first typed error in a chain.
    pub fn of(err: &anyhow::Error) -> ErrorClass {
        err.chain()
            .find_map(|cause| {
                if let Some(e) = cause.downcast_ref::<LakeError>() {
                    Some(e.class())
                } else if let Some(e) = cause.downcast_ref::<CatalogError>() {
                    Some(catalog_class(e))
                } else if let Some(e) = cause.downcast_ref::<StoreError>() {
                    Some(store_class(e))
                } else if cause.downcast_ref::<KeyError>().is_some() {
                    Some(ErrorClass::Usage)
                } else {
                    cause.downcast_ref::<ConvertError>().map(convert_class)
                }
            })
            .unwrap_or(ErrorClass::Failure)
    }
}

fn catalog_class(e: &CatalogError) -> ErrorClass {
    match e {
        CatalogError::NotFound { .. }
        | CatalogError::NotAtSnapshot { .. }
        | CatalogError::NoSnapshot(_) => ErrorClass::NotFound,
        CatalogError::SchemaConflict { .. }
        | CatalogError::ForeignSchema { .. }
        | CatalogError::Changed { .. } => ErrorClass::Conflict,
        _ => ErrorClass::Failure,
    }
}

fn store_class(e: &StoreError) -> ErrorClass {
    match e {
        StoreError::NotFound { .. } => ErrorClass::NotFound,
        StoreError::Key(_) | StoreError::BadUrl { .. } => ErrorClass::Usage,
        StoreError::Io { .. } | StoreError::Remote { .. } | StoreError::Cache { .. } => {
            ErrorClass::Failure
        }
    }
}

fn convert_class(e: &ConvertError) -> ErrorClass {
    match e {
        ConvertError::SchemaOverride(_) | ConvertError::Flag(_) => ErrorClass::Usage,
        _ => ErrorClass::Failure,
    }
}

impl LakeError {
    /// The exit-code class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            LakeError::Catalog(e) => catalog_class(e),
            LakeError::Store(e) => store_class(e),
            LakeError::Convert(e) => convert_class(e),
            LakeError::InvalidName { .. }
            | LakeError::Usage(_)
            | LakeError::StoreChange { .. }
            | LakeError::CatalogChange { .. }
            | LakeError::StoreHoldsHome { .. } => ErrorClass::Usage,
            LakeError::Query(_) | LakeError::Home { .. } => ErrorClass::Failure,
        }
    }
}
