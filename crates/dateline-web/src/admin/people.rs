//! The admin's pages about people and the system: logging in, changing one's password, and for
//! admins the accounts, the webhooks and the audit log.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use dateline_core::account::Role;
use dateline_storage::webhook_consumer;
use serde::{Deserialize, Serialize};

use super::{forbidden, local, page, Chrome, Desk};
use crate::{AppError, AppState};

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

#[derive(Serialize)]
struct LoginView {
    title: &'static str,
    outlet: String,
    next: String,
}

/// The login form; the script posts it to `/api/v1/session`.
pub async fn login(
    State(state): State<Arc<AppState>>,
    Query(next): Query<Next>,
) -> Result<Response, AppError> {
    // Only a path on this site: a login must never send the browser elsewhere.
    let next = next
        .next
        .filter(|n| super::is_admin(n.split(['?', '#']).next().unwrap_or_default()))
        .filter(|n| !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/admin".to_string());
    page(
        &state,
        "admin/login.html",
        LoginView {
            title: "Log in",
            outlet: state.site.outlet.clone(),
            next,
        },
    )
}

#[derive(Serialize)]
struct Plain {
    chrome: Chrome,
}

pub async fn password(
    State(state): State<Arc<AppState>>,
    desk: Desk,
) -> Result<Response, AppError> {
    let chrome = Chrome::new(&state, &desk, "Change your password", "password");
    page(&state, "admin/password.html", Plain { chrome })
}

fn admin_only(state: &AppState, desk: &Desk, chrome: Chrome) -> Option<Result<Response, AppError>> {
    (!desk.account.grants.has(Role::Admin)).then(|| {
        forbidden(
            state,
            chrome,
            format!(
                "{} is not an admin: this page is for admins",
                desk.account.username
            ),
        )
    })
}

#[derive(Serialize)]
struct AccountRow {
    username: String,
    roles: String,
    desks: String,
    disabled: bool,
    me: bool,
}

#[derive(Serialize)]
struct AccountsView {
    chrome: Chrome,
    accounts: Vec<AccountRow>,
    sections: Vec<String>,
}

pub async fn accounts(
    State(state): State<Arc<AppState>>,
    desk: Desk,
) -> Result<Response, AppError> {
    let chrome = Chrome::new(&state, &desk, "Accounts", "accounts");
    if let Some(refused) = admin_only(&state, &desk, chrome) {
        return refused;
    }
    let chrome = Chrome::new(&state, &desk, "Accounts", "accounts");
    let accounts = state
        .store
        .accounts()
        .await?
        .iter()
        .map(|a| AccountRow {
            username: a.username.to_string(),
            roles: a
                .grants
                .roles()
                .map(Role::name)
                .collect::<Vec<_>>()
                .join(", "),
            desks: a
                .grants
                .desks()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            disabled: a.disabled,
            me: a.id == desk.account.id,
        })
        .collect();
    let sections = state
        .store
        .sections()
        .await?
        .iter()
        .map(|s| s.key.to_string())
        .collect();
    page(
        &state,
        "admin/accounts.html",
        AccountsView {
            chrome,
            accounts,
            sections,
        },
    )
}

#[derive(Serialize)]
struct HookRow {
    id: i64,
    url: String,
    behind: i64,
}

#[derive(Serialize)]
struct WebhooksView {
    chrome: Chrome,
    webhooks: Vec<HookRow>,
}

pub async fn webhooks(
    State(state): State<Arc<AppState>>,
    desk: Desk,
) -> Result<Response, AppError> {
    let chrome = Chrome::new(&state, &desk, "Webhooks", "webhooks");
    if let Some(refused) = admin_only(&state, &desk, chrome) {
        return refused;
    }
    let chrome = Chrome::new(&state, &desk, "Webhooks", "webhooks");
    let end = state.store.stream_end().await?;
    let mut webhooks = Vec::new();
    for hook in state.store.webhooks().await? {
        let position = state
            .store
            .stream_position(&webhook_consumer(hook.id))
            .await?;
        webhooks.push(HookRow {
            id: hook.id,
            url: hook.url.as_str().to_string(),
            behind: (end - position).max(0),
        });
    }
    page(
        &state,
        "admin/webhooks.html",
        WebhooksView { chrome, webhooks },
    )
}

#[derive(Deserialize)]
pub struct Before {
    before: Option<i64>,
}

#[derive(Serialize)]
struct EntryRow {
    time: String,
    datetime: String,
    actor: String,
    action: String,
    subject: String,
    address: String,
}

#[derive(Serialize)]
struct AuditView {
    chrome: Chrome,
    entries: Vec<EntryRow>,
    older: Option<i64>,
}

/// The most audit entries a page shows.
const AUDIT_PAGE: u32 = 100;

pub async fn audit(
    State(state): State<Arc<AppState>>,
    desk: Desk,
    Query(before): Query<Before>,
) -> Result<Response, AppError> {
    let chrome = Chrome::new(&state, &desk, "Audit log", "audit");
    if let Some(refused) = admin_only(&state, &desk, chrome) {
        return refused;
    }
    let chrome = Chrome::new(&state, &desk, "Audit log", "audit");
    let entries = state.store.audit_log(before.before, AUDIT_PAGE).await?;
    let older = (entries.len() == AUDIT_PAGE as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    let entries = entries
        .iter()
        .map(|e| EntryRow {
            time: local(&state, e.at),
            datetime: e.at.to_string(),
            actor: e.actor.clone(),
            action: e.action.clone(),
            subject: e.subject.clone(),
            address: e.address.clone().unwrap_or_default(),
        })
        .collect();
    page(
        &state,
        "admin/audit.html",
        AuditView {
            chrome,
            entries,
            older,
        },
    )
}
