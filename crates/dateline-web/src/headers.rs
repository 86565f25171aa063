//! Headers every response carries, and validation of cached pages.
//!
//! The public site runs no script, so its Content-Security-Policy forbids scripts outright
//! (JSON-LD is data, which browsers never run); it loads styles and images from itself, and
//! images from the hosts the outlet allowed; it may fetch from itself (tools such as Lighthouse
//! read robots.txt from within the page). Pages carry an `ETag` (a digest of their bytes)
//! and `Cache-Control: no-cache`, so a browser or a cache in front may keep a page but asks
//! again each time, and an unchanged page costs a `304` with no body.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// The largest page whose bytes are digested for an `ETag`.
const MAX_DIGESTED: usize = 8 << 20;

/// The Content-Security-Policy for a site whose images may also come from `image_hosts`.
pub fn content_security_policy(image_hosts: &[String]) -> String {
    let mut img = String::from("'self'");
    for host in image_hosts {
        img.push_str(" https://");
        img.push_str(host);
    }
    format!(
        "default-src 'none'; script-src 'none'; style-src 'self'; img-src {img}; font-src 'self'; connect-src 'self'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The admin's Content-Security-Policy: the site's, with scripts from the site itself and
/// nowhere else (no inline script, no `eval`).
pub fn admin_content_security_policy(image_hosts: &[String]) -> String {
    content_security_policy(image_hosts).replace("script-src 'none'", "script-src 'self'")
}

/// Adds the security headers to every response, and the validators to pages.
pub async fn security_and_caching(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    // A HEAD's body is gone before this layer sees it: only a GET's page is digested.
    let get = request.method() == Method::GET;
    let conditional = request.headers().get(header::IF_NONE_MATCH).cloned();
    let since = request.headers().get(header::IF_MODIFIED_SINCE).cloned();
    let admin = crate::admin::is_admin(request.uri().path());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        headers,
        header::REFERRER_POLICY,
        "strict-origin-when-cross-origin",
    );
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    let csp = if admin { &state.admin_csp } else { &state.csp };
    if let Ok(csp) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    // Admin pages are one person's, and never cached: no validators.
    if admin
        || !get
        || response.status() != StatusCode::OK
        || response.headers().contains_key(header::ETAG)
    {
        return response;
    }
    // Pages, feeds and sitemaps: what readers, feed readers and crawlers poll.
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            [
                "text/html",
                "application/rss+xml",
                "application/atom+xml",
                "application/feed+json",
                "application/xml",
            ]
            .iter()
            .any(|k| t.starts_with(k))
        });
    if !is_page {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_DIGESTED).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "could not read a page to digest it");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let etag = format!("\"{}\"", dateline_core::digest::stable_digest(&bytes));
    let Ok(etag_value) = HeaderValue::from_str(&etag) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.insert(header::ETAG, etag_value.clone());
    set(
        &mut parts.headers,
        header::CACHE_CONTROL,
        "public, no-cache",
    );
    // If-Modified-Since counts only without If-None-Match (RFC 9110, 13.1.3).
    let unchanged = match (&conditional, &since) {
        (Some(v), _) => matches_etag(v, &etag),
        (None, Some(since)) => parts
            .headers
            .get(header::LAST_MODIFIED)
            .is_some_and(|modified| not_modified_since(modified, since)),
        (None, None) => false,
    };
    if unchanged {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        let headers = not_modified.headers_mut();
        for name in [
            header::ETAG,
            header::LAST_MODIFIED,
            header::CACHE_CONTROL,
            header::CONTENT_SECURITY_POLICY,
            header::X_CONTENT_TYPE_OPTIONS,
            header::REFERRER_POLICY,
            header::X_FRAME_OPTIONS,
        ] {
            if let Some(v) = parts.headers.get(&name) {
                headers.insert(name, v.clone());
            }
        }
        return not_modified;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The security headers for a response made outside the site's own layers (a timeout's 408),
/// where they are missing.
pub async fn baseline(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
    ] {
        if !headers.contains_key(&name) {
            set(headers, name, value);
        }
    }
    response
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}

/// Whether a response last modified at `modified` is unchanged since `since` (both HTTP
/// dates); a date that does not parse means it may have changed.
pub(crate) fn not_modified_since(modified: &HeaderValue, since: &HeaderValue) -> bool {
    let parse = |v: &HeaderValue| {
        v.to_str().ok().and_then(|t| {
            jiff::fmt::rfc2822::DateTimeParser::new()
                .parse_timestamp(t)
                .ok()
        })
    };
    match (parse(modified), parse(since)) {
        (Some(m), Some(s)) => m <= s,
        _ => false,
    }
}

/// Whether an `If-None-Match` value names `etag`: `*`, or a list of tags compared weakly, as
/// RFC 9110 says a GET's condition is.
pub(crate) fn matches_etag(if_none_match: &HeaderValue, etag: &str) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    list.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists() {
        let v = |s: &'static str| HeaderValue::from_static(s);
        assert!(matches_etag(&v("\"abc\""), "\"abc\""));
        assert!(matches_etag(&v("\"x\", W/\"abc\""), "\"abc\""));
        assert!(matches_etag(&v("*"), "\"abc\""));
        assert!(!matches_etag(&v("\"abd\""), "\"abc\""));
        assert!(!matches_etag(&v("abc"), "\"abc\""));
        let modified = v("Fri, 22 Oct 2021 09:37:00 GMT");
        assert!(not_modified_since(
            &modified,
            &v("Fri, 22 Oct 2021 09:37:00 GMT")
        ));
        assert!(not_modified_since(
            &modified,
            &v("Sat, 23 Oct 2021 00:00:00 GMT")
        ));
        assert!(!not_modified_since(
            &modified,
            &v("Fri, 22 Oct 2021 09:36:59 GMT")
        ));
        assert!(!not_modified_since(&modified, &v("yesterday")));
    }
}
