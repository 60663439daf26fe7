//! The web UI at `/`: a small application whose files are compiled into the
//! binary (no request leaves the server), over the same JSON routes as
//! every other client. With a token, `/` first shows a login form; the
//! token then lives in an HttpOnly, SameSite=Strict cookie that the guard
//! accepts in place of the bearer header.

mod assets;
mod session;

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;

pub(crate) use session::{authorised_by_cookie, is_public};

/// What the UI's pages may load and call: the server itself, nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
     style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
     form-action 'self'; base-uri 'none'";

/// The headers every UI answer carries.
fn page_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// `GET /`: the application, or the login form when a token is set and the
/// browser holds no session.
pub(crate) async fn index(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let signed_in = match &state.opts.token {
        None => true,
        Some(token) => session::cookie_matches(&headers, token),
    };
    if signed_in {
        assets::serve("index.html", &headers)
    } else {
        login_page(StatusCode::OK, None)
    }
}

/// `GET /ui/{file}`: one of the embedded files (code and styles, no data).
pub(crate) async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    assets::serve(&file, &headers)
}

#[derive(Deserialize)]
pub(crate) struct Login {
    token: String,
}

/// `POST /ui/login`: the token from the form; right, a session cookie and
/// back to `/`; wrong, the form again with 401.
pub(crate) async fn login(
    State(state): State<Arc<AppState>>,
    Form(login): Form<Login>,
) -> Response {
    let Some(token) = &state.opts.token else {
        return redirect_home(None);
    };
    if super::secret::constant_time_eq(login.token.as_bytes(), token.as_bytes()) {
        redirect_home(Some(session::set_cookie(token)))
    } else {
        login_page(
            StatusCode::UNAUTHORIZED,
            Some("That token is not this server's."),
        )
    }
}

/// `POST /ui/logout`: forgets the session.
pub(crate) async fn logout() -> Response {
    redirect_home(Some(session::clear_cookie()))
}

fn redirect_home(cookie: Option<String>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    if let Some(cookie) = cookie
        && let Ok(value) = HeaderValue::from_str(&cookie)
    {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    page_headers(response.headers_mut());
    response
}

/// The login form: plain HTML, no script.
fn login_page(status: StatusCode, problem: Option<&str>) -> Response {
    let problem = problem
        .map(|p| format!("<p class=\"error\" role=\"alert\">{p}</p>"))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>lake: sign in</title><link rel=\"stylesheet\" href=\"/ui/app.css\">\
<link rel=\"icon\" href=\"/ui/favicon.svg\"></head>\
<body><main class=\"login\"><h1>lake</h1>\
<form method=\"post\" action=\"/ui/login\"><label for=\"token\">Token</label>\
<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
<button type=\"submit\">Sign in</button>{problem}</form>\
<p class=\"hint\">The token <code>lake serve</code> was started with (<code>--token</code> or <code>LAKE_TOKEN</code>).</p>\
</main></body></html>"
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    page_headers(response.headers_mut());
    response
}
