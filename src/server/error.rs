//! Every failure as a JSON body with the right status, decided in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::catalog::CatalogError;
use crate::engine::query::QueryError;
use crate::lake::{ErrorClass, LakeError};
use crate::store::StoreError;

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
            (LakeError::Convert(_), _) => (StatusCode::BAD_REQUEST, "bad_input"),
            (LakeError::Store(StoreError::Remote { .. }), _)
            | (LakeError::Catalog(CatalogError::Sql { .. }), _) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, format!("{:#}", anyhow::Error::from(err)))
    }
}
