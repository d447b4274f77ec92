//! The web console (`/console`): a small single-page front end over this
//! API, served from files compiled into the binary (`host/api/console/`).
//!
//! The pages are static: every datum comes from the API, with the token the
//! user typed, sent in the `Authorization` header. There is no cookie, so a
//! page of another site cannot make a browser act with it (no CSRF), and
//! the same auth and tenant isolation as the API apply because it *is* the
//! API. The Content-Security-Policy allows only this origin's scripts and
//! styles, and the console is never framed.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

/// Each file: its name under `/console/`, its type and its contents.
const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../console/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../console/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/app.js"),
    ),
    (
        "lib.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/lib.js"),
    ),
    (
        "jobs.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/jobs.js"),
    ),
    (
        "new-job.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/new-job.js"),
    ),
    (
        "scenes.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/scenes.js"),
    ),
    (
        "operator.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/operator.js"),
    ),
];

/// Only this origin's files; media and thumbnails from `blob:` URLs (the
/// outputs are fetched with the token, then played from memory).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The console's routes, merged into the API's router.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { file("index.html") }))
        .route("/console/", get(|| async { file("index.html") }))
        .route(
            "/console/{name}",
            get(|Path(name): Path<String>| async move { file(&name) }),
        )
}

/// One of [`FILES`], with the headers that keep it to this origin.
fn file(name: &str) -> Response {
    let Some((_, content_type, body)) = FILES.iter().find(|(n, ..)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such console file").into_response();
    };
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // A new binary serves new files: never a stale script from a cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_served_with_their_type_and_policy_and_nothing_else_is() {
        let page = file("app.js");
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(
            page.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let policy = page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        for name in ["../Cargo.toml", "app", "", "index.html/"] {
            assert_eq!(file(name).status(), StatusCode::NOT_FOUND, "{name}");
        }
    }

    #[test]
    fn every_module_the_pages_import_is_served() {
        for (name, _, body) in FILES {
            for line in body.lines() {
                let Some(rest) = line.split(" from './").nth(1) else {
                    continue;
                };
                let imported = rest.split('\'').next().unwrap_or_default();
                assert!(
                    FILES.iter().any(|(n, ..)| *n == imported),
                    "{name} imports {imported}, which is not served"
                );
            }
        }
    }
}
