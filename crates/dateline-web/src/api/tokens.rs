//! `/api/v1/tokens`: a token for a username and password; an account's tokens listed and
//! revoked.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use dateline_core::account::{ApiToken, Password, TokenInfo, Username};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{address, record, ApiError, Body, Caller, ClientAddr};
use crate::AppState;

/// Password checks running at once, in the whole process.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// How long a token works unless asked otherwise, and at most.
const DEFAULT_DAYS: i64 = 30;
const MAX_DAYS: i64 = 365;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    username: String,
    password: String,
    /// Days the token works: 1 to 365 (default 30).
    expires_in_days: Option<i64>,
}

fn info(t: &TokenInfo) -> Value {
    json!({
        "id": t.id,
        "created_at": t.created.to_string(),
        "expires_at": t.expires.to_string(),
        "revoked_at": t.revoked.map(|r| r.to_string()),
    })
}

/// A dummy hash to verify against when the username is unknown, so that an unknown name takes
/// as long to refuse as a wrong password.
pub(super) fn decoy() -> &'static dateline_core::account::PasswordHash {
    static DECOY: std::sync::OnceLock<dateline_core::account::PasswordHash> =
        std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        Password::parse("decoy password for unknown accounts")
            .and_then(|p| p.hash())
            .unwrap_or_else(|_| dateline_core::account::PasswordHash::from_stored(String::new()))
    })
}

/// The account a username and password name, checked against the login limits; every failure
/// is counted, logged and audited.
pub(super) async fn check_login(
    state: &AppState,
    name: &str,
    password: &str,
    addr: Option<std::net::IpAddr>,
    client: Option<String>,
) -> Result<dateline_core::account::Account, ApiError> {
    let refused = || ApiError::Unauthorized("wrong username or password".to_string());
    // No username is longer than 64 bytes: a longer one is refused before it is counted,
    // logged or hashed.
    if name.len() > 64 || password.len() > dateline_core::account::MAX_PASSWORD_BYTES {
        return Err(refused());
    }
    if let Err(wait) = state.logins.check(name, addr) {
        return Err(ApiError::TooManyRequests {
            message: format!("too many failed logins; try again in {wait} seconds"),
            retry_after: wait,
        });
    }
    state.logins.attempt(name, addr);
    let username = Username::parse(name).ok();
    let stored = match &username {
        Some(name) => state.store.password_hash(name).await?,
        None => None,
    };
    // Argon2 is slow on purpose: it runs off the async workers.
    let attempt = password.to_string();
    let hash = stored.clone().unwrap_or_else(|| decoy().clone());
    // At most a few checks at once: each takes tens of megabytes for a moment.
    let matches = match HASHING.acquire().await {
        Ok(_permit) => tokio::task::spawn_blocking(move || hash.verify(&attempt))
            .await
            .unwrap_or(false),
        Err(_) => false,
    };
    let (Some(username), true, true) = (username, stored.is_some(), matches) else {
        tracing::warn!(username = ?name, client = ?addr, "a login failed");
        record(
            state,
            None,
            name,
            "login.failed",
            format!("account {name:?}"),
            client,
        )
        .await;
        return Err(refused());
    };
    let account = state.store.account(&username).await?.ok_or_else(refused)?;
    if account.disabled {
        return Err(ApiError::Forbidden(format!(
            "the account {username} is disabled"
        )));
    }
    state.logins.succeeded(name, addr);
    Ok(account)
}

#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    Body(login): Body<Login>,
) -> Result<impl IntoResponse, ApiError> {
    let client = address(addr.as_ref().map(|Extension(a)| a));
    let addr = addr.map(|Extension(ClientAddr(a))| a.ip());
    let days = login.expires_in_days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::Unprocessable(format!(
            "expires_in_days is {days}: use 1 to {MAX_DAYS}"
        )));
    }
    let account = check_login(
        &state,
        &login.username,
        &login.password,
        addr,
        client.clone(),
    )
    .await?;
    let token = ApiToken::generate().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let now = Timestamp::now();
    let expires = now
        .checked_add(SignedDuration::from_hours(24 * days))
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let saved = state
        .store
        .create_token(account.id, &token.digest(), now, expires)
        .await?;
    tracing::info!(username = %account.username, token = saved.id, "issued an API token");
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "token.create",
        format!("token {}", saved.id),
        client,
    )
    .await;
    let mut body = info(&saved);
    body["token"] = json!(token.expose());
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
) -> Result<Json<Value>, ApiError> {
    let tokens = state.store.tokens(account.id).await?;
    Ok(Json(
        json!({"tokens": tokens.iter().map(info).collect::<Vec<_>>()}),
    ))
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("token {id:?} not found")))?;
    state
        .store
        .revoke_token(account.id, id, Timestamp::now())
        .await?;
    let client = address(addr.as_ref().map(|Extension(a)| a));
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "token.revoke",
        format!("token {id}"),
        client,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
