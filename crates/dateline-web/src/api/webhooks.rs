//! `/api/v1/webhooks`: the webhooks that receive the stream of changes, for admins.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use dateline_core::account::{Account, Role};
use dateline_core::change::{generate_secret, Webhook, WebhookUrl};
use dateline_storage::webhook_consumer;
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
            "{} may not manage webhooks: that is for admins",
            account.username
        )))
    }
}

async fn view(state: &AppState, hook: &Webhook) -> Result<Value, ApiError> {
    let position = state
        .store
        .stream_position(&webhook_consumer(hook.id))
        .await?;
    Ok(json!({"id": hook.id, "url": hook.url.as_str(), "position": position}))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
) -> Result<Json<Value>, ApiError> {
    admin(&account)?;
    let mut hooks = Vec::new();
    for hook in state.store.webhooks().await? {
        hooks.push(view(&state, &hook).await?);
    }
    let end = state.store.stream_end().await?;
    Ok(Json(json!({"webhooks": hooks, "stream_end": end})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    url: String,
    secret: Option<String>,
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Body(request): Body<NewWebhook>,
) -> Result<impl IntoResponse, ApiError> {
    admin(&account)?;
    let url = WebhookUrl::parse(&request.url).map_err(ApiError::Unprocessable)?;
    let (secret, generated) = match request.secret {
        Some(s) if s.chars().count() >= 16 => (s, false),
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "secret must be at least 16 characters".into(),
            ))
        }
        None => (generate_secret().map_err(ApiError::BadRequest)?, true),
    };
    let hook = state
        .store
        .add_webhook(&url, &secret, Timestamp::now())
        .await?;
    let client = address(addr.as_ref().map(|Extension(a)| a));
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "webhook.create",
        format!("webhook {} to {}", hook.id, hook.url),
        client,
    )
    .await;
    let mut body = view(&state, &hook).await?;
    if generated {
        // Shown once, as a token is.
        body["secret"] = json!(secret);
    }
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn remove(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    admin(&account)?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("webhook {id:?} not found")))?;
    state.store.remove_webhook(id).await?;
    let client = address(addr.as_ref().map(|Extension(a)| a));
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "webhook.remove",
        format!("webhook {id}"),
        client,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
