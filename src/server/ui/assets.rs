//! The UI's files, compiled into the binary and gzipped once, on first use.

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Name, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("static/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("static/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("static/app.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("static/favicon.svg"),
    ),
];

/// One file as served: its bytes gzipped, and their hash as the ETag.
struct Packed {
    name: &'static str,
    content_type: &'static str,
    plain: &'static [u8],
    gzipped: Vec<u8>,
    etag: String,
}

fn packed() -> &'static [Packed] {
    static PACKED: OnceLock<Vec<Packed>> = OnceLock::new();
    PACKED.get_or_init(|| {
        FILES
            .iter()
            .map(|&(name, content_type, plain)| Packed {
                name,
                content_type,
                plain,
                gzipped: gzip(plain),
                etag: format!("\"{}\"", &hex::encode(Sha256::digest(plain))[..16]),
            })
            .collect()
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to memory does not fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// The file, gzipped when the browser takes it, or 404.
pub(super) fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(file) = packed().iter().find(|f| f.name == name) else {
        return super::super::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file")
            .into_response();
    };
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == file.etag);
    let gzip = request
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        let mut response = file.gzipped.clone().into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        file.plain.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&file.etag) {
        headers.insert(header::ETAG, etag);
    }
    super::page_headers(headers);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget of the whole UI, as the browser downloads it.
    const BUDGET: usize = 150 * 1024;

    #[test]
    fn the_whole_ui_gzipped_is_under_its_budget() {
        let total: usize = packed().iter().map(|f| f.gzipped.len()).sum();
        assert!(total > 1000 && total < BUDGET, "{total} bytes gzipped");
    }

    #[test]
    fn no_file_names_another_server() {
        for (name, _, bytes) in FILES {
            // The SVG namespace is a name, not an address to load.
            let text = String::from_utf8_lossy(bytes).replace("http://www.w3.org/2000/svg", "");
            for outside in ["http://", "https://", "//cdn", "@import"] {
                assert!(!text.contains(outside), "{name} names {outside}");
            }
        }
    }
}
