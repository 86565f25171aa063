//! `/api/v1/audit`: the audit log, for admins.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use dateline_core::account::Role;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiError, Caller};
use crate::AppState;

#[derive(Deserialize)]
pub struct Page {
    /// Entries before this one (for the next page).
    before: Option<i64>,
    /// How many: 1 to 500 (default 100).
    limit: Option<u32>,
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    Query(page): Query<Page>,
) -> Result<Json<Value>, ApiError> {
    if !account.grants.has(Role::Admin) {
        return Err(ApiError::Forbidden(format!(
            "{} may not read the audit log: it is for admins",
            account.username
        )));
    }
    let limit = page.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Unprocessable(format!(
            "limit is {limit}: use 1 to 500"
        )));
    }
    let entries = state.store.audit_log(page.before, limit).await?;
    Ok(Json(json!({
        "entries": entries.iter().map(|e| json!({
            "id": e.id,
            "at": e.at.to_string(),
            "account_id": e.account,
            "actor": e.actor,
            "action": e.action,
            "subject": e.subject,
            "address": e.address,
        })).collect::<Vec<_>>()
    })))
}
