//! `/api/v1/session`: browser sessions. Logging in sets an HttpOnly, SameSite=Lax cookie
//! (Secure when the site is served over https) and answers the session's CSRF token, which every
//! unsafe request made with the cookie must send back as `X-CSRF-Token`. Sessions are kept in
//! storage and can be ended: by logging out, or by a password change, which ends the others.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dateline_core::account::{Account, ApiToken, Password, Role, TokenDigest};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::json;

use super::tokens::check_login;
use super::{address, record, ApiError, Body, Caller, ClientAddr};
use crate::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "dateline_session";
/// How long a session lasts.
const LIFETIME_HOURS: i64 = 12;

/// The session cookie's value in a request, if it carries one.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

fn set_cookie(state: &AppState, value: &str, max_age: i64) -> Result<HeaderValue, ApiError> {
    let secure = if state.site.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .map_err(|e| ApiError::BadRequest(e.to_string()))
}

fn describe(account: &Account, csrf: &str) -> serde_json::Value {
    json!({
        "username": account.username.as_str(),
        "roles": account.grants.roles().map(Role::name).collect::<Vec<_>>(),
        "desks": account.grants.desks().map(|d| d.as_str()).collect::<Vec<_>>(),
        "csrf_token": csrf,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    username: String,
    password: String,
}

pub async fn login(
    State(state): State<Arc<AppState>>,
    addr: Option<Extension<ClientAddr>>,
    Body(login): Body<Login>,
) -> Result<Response, ApiError> {
    let client = address(addr.as_ref().map(|Extension(a)| a));
    let ip = addr.map(|Extension(ClientAddr(a))| a.ip());
    let account = check_login(&state, &login.username, &login.password, ip, client.clone()).await?;
    let secret = ApiToken::generate().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let csrf = dateline_core::change::generate_secret().map_err(ApiError::BadRequest)?;
    let now = Timestamp::now();
    let expires = now + SignedDuration::from_hours(LIFETIME_HOURS);
    state
        .store
        .create_session(account.id, &secret.digest(), &csrf, now, expires)
        .await?;
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "session.create",
        format!("account {}", account.username),
        client,
    )
    .await;
    let mut response = (StatusCode::CREATED, Json(describe(&account, &csrf))).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(&state, secret.expose(), LIFETIME_HOURS * 3600)?,
    );
    Ok(response)
}

pub async fn current(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Caller(account): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let csrf = match cookie(&headers) {
        Some(value) => state
            .store
            .session(&TokenDigest::of(value), Timestamp::now())
            .await?
            .map(|(_, csrf)| csrf),
        None => None,
    };
    Ok(Json(describe(
        &account,
        csrf.as_deref().unwrap_or_default(),
    )))
}

pub async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
) -> Result<Response, ApiError> {
    let value = cookie(&headers)
        .ok_or_else(|| ApiError::BadRequest("there is no session cookie to end".into()))?;
    state
        .store
        .revoke_session(&TokenDigest::of(value), Timestamp::now())
        .await?;
    let client = address(addr.as_ref().map(|Extension(a)| a));
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "session.end",
        format!("account {}", account.username),
        client,
    )
    .await;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&state, "", 0)?);
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the caller's password, given the current one, and ends their other sessions.
pub async fn change_password(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Body(change): Body<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let client = address(addr.as_ref().map(|Extension(a)| a));
    let ip = addr.map(|Extension(ClientAddr(a))| a.ip());
    check_login(
        &state,
        account.username.as_str(),
        &change.current_password,
        ip,
        client.clone(),
    )
    .await?;
    let password = Password::parse(&change.new_password)
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let hash = tokio::task::spawn_blocking(move || password.hash())
        .await
        .map_err(|e| ApiError::BadRequest(e.to_string()))?
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let now = Timestamp::now();
    state
        .store
        .set_password(&account.username, &hash, now)
        .await?;
    let keep = TokenDigest::of(cookie(&headers).unwrap_or_default());
    state
        .store
        .revoke_other_sessions(account.id, &keep, now)
        .await?;
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "account.password",
        format!("account {}", account.username),
        client,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
