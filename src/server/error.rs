//! Every failure as a JSON body with the right status, decided in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::catalog::CatalogError;
use crate::ingest::error::ConvertError;
use crate::lake::{ErrorClass, LakeError};
use crate::query::QueryError;
use crate::store::{RemoteKind, StoreError};

/// An error answer: `{"error":{"code":...,"message":...}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn too_large(limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("body over the limit of {limit} bytes"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            json!({"error": {"code": self.code, "message": crate::store::redact(&self.message)}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<LakeError> for ApiError {
    fn from(err: LakeError) -> ApiError {
        let (status, code) = match (&err, err.class()) {
            (_, ErrorClass::NotFound) => (StatusCode::NOT_FOUND, "not_found"),
            (_, ErrorClass::Conflict) => (StatusCode::CONFLICT, "schema_conflict"),
            (_, ErrorClass::Usage) => (StatusCode::BAD_REQUEST, "bad_request"),
            // A query that fails is the client's SQL, not the server.
            (LakeError::Query(QueryError::Sql(_) | QueryError::Dataset { .. }), _) => {
                (StatusCode::BAD_REQUEST, "sql_error")
            }
            // A full disk is the server's trouble, not the input's.
            _ if storage_full(&err) => (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage"),
            (LakeError::Convert(ConvertError::Write(_)), _) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
            (LakeError::Convert(_), _) => (StatusCode::BAD_REQUEST, "bad_input"),
            // Only what trying again can mend invites a retry (503).
            (LakeError::Store(StoreError::Remote { kind, .. }), _) => match kind {
                RemoteKind::Transient => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
                RemoteKind::Denied => (StatusCode::BAD_GATEWAY, "store_denied"),
                RemoteKind::NoBucket => (StatusCode::BAD_GATEWAY, "store_missing"),
                RemoteKind::Config => (StatusCode::INTERNAL_SERVER_ERROR, "store_config"),
                RemoteKind::Other => (StatusCode::BAD_GATEWAY, "store_error"),
            },
            (LakeError::Catalog(CatalogError::Sql { .. }), _) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, format!("{:#}", anyhow::Error::from(err)))
    }
}

/// Whether an error comes from a full disk (or an exhausted quota).
fn storage_full(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_507_and_permanent_store_errors_invite_no_retry() {
        let full = LakeError::Convert(ConvertError::Write(std::io::Error::from(
            std::io::ErrorKind::StorageFull,
        )));
        assert_eq!(
            ApiError::from(full).status,
            StatusCode::INSUFFICIENT_STORAGE
        );
        let remote = |kind| {
            ApiError::from(LakeError::Store(StoreError::Remote {
                action: "reading",
                key: "s3://b/k".into(),
                message: "m".into(),
                kind,
            }))
            .status
        };
        assert_eq!(
            remote(RemoteKind::Transient),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(remote(RemoteKind::Denied), StatusCode::BAD_GATEWAY);
        assert_eq!(remote(RemoteKind::NoBucket), StatusCode::BAD_GATEWAY);
    }
}
