//! The browser's session: a cookie derived from the server's token, so the
//! cookie never holds the token itself, and which routes need none.

use axum::http::{HeaderMap, Method, header};
use sha2::{Digest, Sha256};

/// The cookie's name.
const COOKIE: &str = "lake_session";

/// The header the UI's own script sends on every call: a page of another
/// site cannot send it without the server's consent (CORS), so a write
/// authorised by the cookie alone needs it.
pub(crate) const UI_HEADER: &str = "x-lake-ui";

/// The session value for a token: a hash, not the token.
fn session_value(token: &str) -> String {
    hex::encode(Sha256::digest(
        format!("lake ui session\0{token}").as_bytes(),
    ))
}

pub(super) fn set_cookie(token: &str) -> String {
    format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        session_value(token)
    )
}

pub(super) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Whether the request's cookies hold this token's session.
pub(super) fn cookie_matches(headers: &HeaderMap, token: &str) -> bool {
    let expected = session_value(token);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| {
            name == COOKIE
                && super::super::secret::constant_time_eq(value.as_bytes(), expected.as_bytes())
        })
}

/// Whether the cookie authorises this request: the session matches, and a
/// request that changes something comes from the UI's own script.
pub(crate) fn authorised_by_cookie(method: &Method, headers: &HeaderMap, token: &str) -> bool {
    let reads = matches!(*method, Method::GET | Method::HEAD);
    cookie_matches(headers, token) && (reads || headers.contains_key(UI_HEADER))
}

/// The UI's own routes: the page (which asks for the token itself), its
/// files and the login form. They hold no data.
pub(crate) fn is_public(path: &str) -> bool {
    path == "/" || path.starts_with("/ui/")
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_cookie(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        headers
    }

    #[test]
    fn the_cookie_is_a_hash_of_the_token_and_only_that_token_matches() {
        let set = set_cookie("s3cret");
        assert!(!set.contains("s3cret"), "{set}");
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        let pair = set.split(';').next().unwrap();
        let headers = with_cookie(&format!("other=1; {pair}"));
        assert!(cookie_matches(&headers, "s3cret"));
        assert!(!cookie_matches(&headers, "s3cret2"));
        assert!(!cookie_matches(
            &with_cookie("lake_session=s3cret"),
            "s3cret"
        ));
    }

    #[test]
    fn a_write_by_cookie_needs_the_ui_header() {
        let pair = set_cookie("t").split(';').next().unwrap().to_owned();
        let mut headers = with_cookie(&pair);
        assert!(authorised_by_cookie(&Method::GET, &headers, "t"));
        assert!(!authorised_by_cookie(&Method::POST, &headers, "t"));
        headers.insert(UI_HEADER, HeaderValue::from_static("1"));
        assert!(authorised_by_cookie(&Method::POST, &headers, "t"));
    }
}
