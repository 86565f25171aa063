//! `/api/v1/accounts`: the newsroom's accounts, for admins.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use dateline_core::account::{Account, Grants, Password, Role, Username};
use dateline_core::Slug;
use dateline_storage::StorageError;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{address, record, ApiError, Body, Caller, ClientAddr};
use crate::AppState;

fn admin(account: &Account) -> Result<(), ApiError> {
    if account.grants.has(Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "{} may not manage accounts: that is for admins",
            account.username
        )))
    }
}

/// Roles and desks as an admin names them, checked into grants; what is wrong is a 422.
fn grants(roles: &[String], desks: &[String]) -> Result<Grants, ApiError> {
    let invalid = |e: String| ApiError::Unprocessable(e);
    let roles = roles
        .iter()
        .map(|r| Role::parse(r).map_err(|e| invalid(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let desks = desks
        .iter()
        .map(|d| Slug::parse(d).map_err(|e| invalid(format!("desks: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Grants::new(roles, desks).map_err(|e| invalid(e.to_string()))
}

fn view(a: &Account) -> Value {
    json!({
        "id": a.id,
        "username": a.username.as_str(),
        "roles": a.grants.roles().map(Role::name).collect::<Vec<_>>(),
        "desks": a.grants.desks().map(Slug::as_str).collect::<Vec<_>>(),
        "disabled": a.disabled,
    })
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
) -> Result<Json<Value>, ApiError> {
    admin(&account)?;
    let accounts = state.store.accounts().await?;
    Ok(Json(
        json!({"accounts": accounts.iter().map(view).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    username: String,
    roles: Vec<String>,
    #[serde(default)]
    desks: Vec<String>,
    /// Generated and shown once when absent.
    password: Option<String>,
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Body(request): Body<NewAccount>,
) -> Result<impl IntoResponse, ApiError> {
    admin(&account)?;
    let invalid = |e: String| ApiError::Unprocessable(e);
    let username = Username::parse(&request.username).map_err(|e| invalid(e.to_string()))?;
    let grants = grants(&request.roles, &request.desks)?;
    let (password, generated) = match request.password {
        Some(p) => (
            Password::parse(&p).map_err(|e| invalid(e.to_string()))?,
            false,
        ),
        None => (
            Password::generate().map_err(|e| ApiError::BadRequest(e.to_string()))?,
            true,
        ),
    };
    let hash = password
        .hash()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let created = match state
        .store
        .create_account(&username, &grants, &hash, Timestamp::now())
        .await
    {
        Err(StorageError::NotFound(what)) => {
            return Err(invalid(format!("desks: there is no {what}")))
        }
        other => other?,
    };
    let client = address(addr.as_ref().map(|Extension(a)| a));
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "account.create",
        format!("account {username}"),
        client,
    )
    .await;
    let mut body = view(&created);
    if generated {
        body["password"] = json!(password.expose());
    }
    Ok((StatusCode::CREATED, Json(body)))
}

async fn set_disabled(
    state: &AppState,
    account: &Account,
    addr: Option<Extension<ClientAddr>>,
    name: &str,
    disabled: bool,
) -> Result<Json<Value>, ApiError> {
    admin(account)?;
    let username = Username::parse(name)
        .map_err(|_| ApiError::NotFound(format!("account {name:?} not found")))?;
    if disabled && username == account.username {
        return Err(ApiError::Conflict(
            "an admin may not disable their own account".into(),
        ));
    }
    state
        .store
        .set_disabled(&username, disabled, Timestamp::now())
        .await?;
    let action = if disabled {
        "account.disable"
    } else {
        "account.enable"
    };
    let client = address(addr.as_ref().map(|Extension(a)| a));
    record(
        state,
        Some(account),
        account.username.as_str(),
        action,
        format!("account {username}"),
        client,
    )
    .await;
    let changed = state
        .store
        .account(&username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("account {name:?} not found")))?;
    Ok(Json(view(&changed)))
}

pub async fn disable(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_disabled(&state, &account, addr, &name, true).await
}

pub async fn enable(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_disabled(&state, &account, addr, &name, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGrants {
    roles: Vec<String>,
    #[serde(default)]
    desks: Vec<String>,
}

/// Gives an account new roles and desks. An admin keeps their own admin role.
pub async fn update(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(name): Path<String>,
    Body(request): Body<NewGrants>,
) -> Result<Json<Value>, ApiError> {
    admin(&account)?;
    let invalid = |e: String| ApiError::Unprocessable(e);
    let username = Username::parse(&name)
        .map_err(|_| ApiError::NotFound(format!("account {name:?} not found")))?;
    let grants = grants(&request.roles, &request.desks)?;
    if username == account.username && !grants.has(Role::Admin) {
        return Err(ApiError::Conflict(
            "an admin may not take away their own admin role".into(),
        ));
    }
    match state
        .store
        .set_grants(&username, &grants, Timestamp::now())
        .await
    {
        Err(StorageError::NotFound(what)) if what.starts_with("section") => {
            return Err(invalid(format!("desks: there is no {what}")))
        }
        other => other?,
    }
    let client = address(addr.as_ref().map(|Extension(a)| a));
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "account.grants",
        format!("account {username}"),
        client,
    )
    .await;
    let changed = state
        .store
        .account(&username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("account {name:?} not found")))?;
    Ok(Json(view(&changed)))
}
