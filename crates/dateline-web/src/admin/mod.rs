//! The editor's desk at `/admin`: server-rendered pages for the newsroom, with one small script
//! (`/assets/admin.js`) that calls the JSON API for every change. Pages need a browser session;
//! without one they send the browser to the login page. Every change goes through the API's
//! handlers, so the admin can do nothing the API would refuse.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use dateline_core::account::{Account, Role, TokenDigest};
use jiff::Timestamp;
use serde::Serialize;

use crate::{AppError, AppState};

mod desk;
mod editor;
mod people;
mod threads;

/// The admin's pages, under `/admin`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin", get(desk::show))
        .route("/admin/login", get(people::login))
        .route("/admin/password", get(people::password))
        .route("/admin/accounts", get(people::accounts))
        .route("/admin/webhooks", get(people::webhooks))
        .route("/admin/audit", get(people::audit))
        .route("/admin/articles/new", get(editor::new))
        .route("/admin/articles/{id}", get(editor::edit))
        .route("/admin/articles/{id}/preview", get(editor::preview))
        .route("/admin/articles/{id}/history", get(editor::history))
        .route("/admin/threads", get(threads::list))
        .route("/admin/threads/{id}", get(threads::show))
}

/// Whether a path is the admin's: its pages run scripts and are never cached.
pub fn is_admin(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// The signed-in account of an admin page, from its session cookie, and the session's CSRF
/// token, which the page hands its script.
pub struct Desk {
    pub account: Account,
    pub csrf: String,
}

impl FromRequestParts<Arc<AppState>> for Desk {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Desk, Response> {
        let to_login = |parts: &Parts| {
            // Admin routes are not nested: the URI is the one the browser asked for.
            let here = parts.uri.to_string();
            let next = url::form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>();
            Redirect::to(&format!("/admin/login?next={next}")).into_response()
        };
        let Some(value) = crate::api::session_cookie(&parts.headers) else {
            return Err(to_login(parts));
        };
        match state
            .store
            .session(&TokenDigest::of(value), Timestamp::now())
            .await
        {
            Ok(Some((account, csrf))) => Ok(Desk { account, csrf }),
            Ok(None) => Err(to_login(parts)),
            Err(e) => Err(AppError::from(e).into_response()),
        }
    }
}

/// What every admin page shows: who is signed in, and what they may reach.
#[derive(Serialize)]
pub struct Chrome {
    pub title: String,
    pub outlet: String,
    pub username: String,
    pub csrf: String,
    /// Whether the account writes or edits: the desk and the editor are theirs.
    pub editorial: bool,
    pub admin: bool,
    /// The outlet's time zone, in which every time here is shown and chosen.
    pub zone: String,
    /// Which entry of the navigation is this page's.
    pub current: &'static str,
}

impl Chrome {
    pub fn new(
        state: &AppState,
        desk: &Desk,
        title: impl Into<String>,
        current: &'static str,
    ) -> Chrome {
        let grants = &desk.account.grants;
        Chrome {
            title: title.into(),
            outlet: state.site.outlet.clone(),
            username: desk.account.username.to_string(),
            csrf: desk.csrf.clone(),
            editorial: grants.has(Role::Contributor)
                || grants.has(Role::Editor)
                || grants.has(Role::ChiefEditor),
            admin: grants.has(Role::Admin),
            zone: state
                .site
                .time_zone
                .iana_name()
                .unwrap_or("UTC")
                .to_string(),
            current,
        }
    }
}

/// A page of the admin, rendered; or the reason it cannot be shown.
pub fn page(state: &AppState, template: &str, view: impl Serialize) -> Result<Response, AppError> {
    let html = state.templates.render(template, view)?;
    Ok(Html(html).into_response())
}

/// The page for an account that may not see what it asked for.
pub fn forbidden(state: &AppState, chrome: Chrome, why: String) -> Result<Response, AppError> {
    #[derive(Serialize)]
    struct View {
        chrome: Chrome,
        why: String,
    }
    let html = state
        .templates
        .render("admin/forbidden.html", View { chrome, why })?;
    Ok((StatusCode::FORBIDDEN, Html(html)).into_response())
}

/// A time as the newsroom reads it: in the outlet's zone, to the minute.
pub fn local(state: &AppState, t: Timestamp) -> String {
    t.to_zoned(state.site.time_zone.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// A time for a `datetime-local` field, in the outlet's zone.
pub fn local_field(state: &AppState, t: Timestamp) -> String {
    t.to_zoned(state.site.time_zone.clone())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

/// Admin pages are for one person: never kept by a browser or a cache in front.
pub async fn no_store(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response.headers_mut().insert(
        header::HeaderName::from_static("x-robots-tag"),
        header::HeaderValue::from_static("noindex"),
    );
    response
}
