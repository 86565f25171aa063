//! The JSON API at `/api/v1`: errors as `{"error": CODE, "message": ...}`, bearer tokens, and one
//! module per resource.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use dateline_core::account::{Account, TokenDigest};
use dateline_storage::StorageError;
use jiff::Timestamp;
use serde_json::json;

use crate::AppState;

mod accounts;
mod articles;
mod audit;
mod limiter;
mod media;
mod newsroom;
mod revisions;
mod session;
mod suggestions;
mod threads;
mod tokens;
mod webhooks;

pub(crate) use articles::{
    load as load_article, may_read as may_read_article, parse_article as parse_article_record,
    public_url, subject as subject_of,
};
pub use limiter::LoginLimiter;
pub(crate) use session::cookie as session_cookie;

/// The address a request came from, put on each request by the server.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// The largest request body the API reads.
const MAX_BODY: usize = 1 << 20;

/// The API's routes, under `/api/v1`.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/articles", post(articles::create).get(articles::list))
        .route("/articles/{id}", get(articles::read).put(articles::save))
        .route("/articles/{id}/actions", post(articles::act))
        .route("/articles/{id}/open", post(articles::open))
        .route("/articles/{id}/ninjs", get(articles::ninjs))
        .route("/articles/{id}/newsml", get(articles::newsml))
        .route("/articles/{id}/suggestions", get(suggestions::list))
        .route(
            "/articles/{id}/suggestions/{key}/block",
            post(suggestions::block).delete(suggestions::unblock),
        )
        .route("/articles/{id}/thread", put(threads::move_article))
        .route("/threads", get(threads::list))
        .route("/threads/{id}", get(threads::read))
        .route("/threads/{id}/title", put(threads::rename))
        .route("/threads/{id}/topic", put(threads::pin))
        .route("/threads/{id}/merge", post(threads::merge))
        .route("/threads/{id}/split", post(threads::split))
        .route("/articles/{id}/revisions", get(revisions::list))
        .route("/articles/{id}/revisions/{revision}", get(revisions::read))
        .route(
            "/articles/{id}/revisions/{revision}/restore",
            post(revisions::restore),
        )
        .route("/articles/{id}/diff", get(revisions::compare))
        .route("/accounts", get(accounts::list).post(accounts::create))
        .route("/accounts/{username}", put(accounts::update))
        .route("/accounts/{username}/disable", post(accounts::disable))
        .route("/accounts/{username}/enable", post(accounts::enable))
        .route(
            "/media",
            post(media::upload).layer(axum::extract::DefaultBodyLimit::max(
                crate::media::MAX_UPLOAD,
            )),
        )
        .route("/links", get(articles::find))
        .route("/search", get(crate::pages::search::api))
        .route("/audit", get(audit::list))
        .route("/corrections", get(newsroom::corrections))
        .route("/sections", get(newsroom::sections))
        .route("/sections/{key}", put(newsroom::put_section))
        .route(
            "/series/{key}",
            get(newsroom::series).put(newsroom::put_series),
        )
        .route(
            "/topics/{key}",
            get(newsroom::topic).put(newsroom::put_topic),
        )
        .route(
            "/session",
            post(session::login)
                .get(session::current)
                .delete(session::logout),
        )
        .route("/session/password", post(session::change_password))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", delete(webhooks::remove))
        .route("/tokens", post(tokens::create).get(tokens::list))
        .route("/tokens/{id}", delete(tokens::revoke))
        .fallback(|| async { ApiError::NotFound("no such API route".to_string()) })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(no_store))
        .with_state(state)
}

/// The OpenAPI 3.1 document of every route here.
const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// API answers are never cached: they depend on who asks.
async fn no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What an API request can fail with; each becomes its status and a JSON body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    /// The article cannot be published as it is: each problem says what to fix, and where.
    #[error("{message}")]
    NotReady {
        message: String,
        problems: Vec<String>,
    },
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error(transparent)]
    Storage(StorageError),
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        match e {
            StorageError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StorageError::Conflict(what) => ApiError::Conflict(what),
            stale @ StorageError::Stale { .. } => ApiError::Conflict(stale.to_string()),
            other => ApiError::Storage(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::NotReady { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "not_ready"),
            ApiError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = match &self {
            ApiError::Storage(e) => {
                // The cause goes to the log, never to the client.
                tracing::error!(error = %e, "an API request failed");
                "the server could not do that; it has been logged".to_string()
            }
            other => other.to_string(),
        };
        let mut body = json!({"error": code, "message": message});
        if let ApiError::NotReady { problems, .. } = &self {
            body["problems"] = json!(problems);
        }
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests { retry_after, .. } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The account a request acts as, from its `Authorization: Bearer TOKEN`.
#[derive(Debug, Clone)]
pub struct Caller(pub Account);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Caller, ApiError> {
        let now = Timestamp::now();
        let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
            // A browser: its session cookie, and for a change, the session's CSRF token.
            let Some(value) = session::cookie(&parts.headers) else {
                return Err(ApiError::Unauthorized(
                    "this needs an API token (Authorization: Bearer TOKEN, from POST /api/v1/tokens) or a session (POST /api/v1/session)"
                        .to_string(),
                ));
            };
            let (account, csrf) = state
                .store
                .session(&TokenDigest::of(value), now)
                .await?
                .ok_or_else(|| {
                    ApiError::Unauthorized(
                        "the session has ended or expired, or its account is disabled: log in again"
                            .to_string(),
                    )
                })?;
            let safe = matches!(
                parts.method,
                axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
            );
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !safe && !same(sent.as_bytes(), csrf.as_bytes()) {
                return Err(ApiError::Forbidden(
                    "a change made with a session cookie must send the session's X-CSRF-Token"
                        .to_string(),
                ));
            }
            return Ok(Caller(account));
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header must be Bearer TOKEN".to_string())
            })?;
        let account = state
            .store
            .account_by_token(&TokenDigest::of(token), now)
            .await?
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "the token is unknown, expired or revoked, or its account is disabled"
                        .to_string(),
                )
            })?;
        Ok(Caller(account))
    }
}

/// Whether two secrets are equal, taking as long whatever their first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The client address of a request, as text, when the server put it there.
pub(crate) fn address(addr: Option<&ClientAddr>) -> Option<String> {
    addr.map(|ClientAddr(a)| a.ip().to_string())
}

/// Records an action in the audit log, after it committed. A failure to record is logged
/// loudly; the action itself stands.
pub(crate) async fn record(
    state: &AppState,
    account: Option<&Account>,
    actor: &str,
    action: &str,
    subject: String,
    addr: Option<String>,
) {
    let entry = dateline_core::audit::AuditEntry {
        id: 0,
        at: Timestamp::now(),
        account: account.map(|a| a.id),
        actor: actor.to_string(),
        action: action.to_string(),
        subject,
        address: addr,
    };
    if let Err(e) = state.store.audit(&entry).await {
        tracing::error!(error = %e, action, "could not record an action in the audit log");
    }
}

/// A JSON body, or a 400 that says what is wrong with it.
pub struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Body<T>, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Every route the router has, read from its definition above, is in the document, and the
    /// document names no route the router lacks.
    #[test]
    fn the_document_describes_every_route() {
        let source = include_str!("mod.rs");
        let start = source.find("pub fn router").unwrap_or(0);
        let end = source[start..]
            .find("\n}\n")
            .map_or(source.len(), |e| start + e);
        let mut routed = BTreeSet::new();
        for call in source[start..end].split(".route(").skip(1) {
            let call = call.trim_start().trim_start_matches('"');
            let (path, rest) = call.split_once('"').unwrap_or_default();
            let handlers = rest.split_once("))").map_or(rest, |(h, _)| h);
            for method in ["get", "post", "put", "delete", "patch"] {
                if handlers.contains(&format!("{method}(")) {
                    routed.insert((path.to_string(), method.to_string()));
                }
            }
        }
        assert!(routed.len() >= 8, "the routes were not read: {routed:?}");
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).unwrap_or_default();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
                if method != "parameters" {
                    documented.insert((path.clone(), method.clone()));
                }
            }
        }
        assert_eq!(routed, documented);
    }
}
