//! `/api/v1/articles/{id}/revisions` and `/diff`: every save of an article, any two compared,
//! and an old one restored as a new revision.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dateline_core::revision::{diff, RevisionInfo};
use dateline_core::workflow::{authorize, Action};
use dateline_storage::StorageError;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::articles::{load, parse_article, refusal, subject, with_url};
use super::{address, record, ApiError, Body, Caller, ClientAddr};
use crate::AppState;

fn info(r: &RevisionInfo) -> Value {
    json!({"revision": r.revision, "by": r.by, "at": r.at.to_string()})
}

fn number(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound(format!("revision {text:?} not found")))
}

async fn content(
    state: &AppState,
    id: dateline_core::ArticleId,
    revision: i64,
) -> Result<(RevisionInfo, Map<String, Value>), ApiError> {
    state
        .store
        .revision(id, revision)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("revision {revision} of article {id} not found")))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let article = load(&state, &id).await?;
    // Earlier revisions may hold what was never published: they are for its editors.
    authorize(&account, Action::Edit, &subject(&article)).map_err(refusal)?;
    let revisions = state.store.revisions(article.id).await?;
    Ok(Json(
        json!({"revisions": revisions.iter().map(info).collect::<Vec<_>>()}),
    ))
}

pub async fn read(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    Path((id, revision)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let article = load(&state, &id).await?;
    // Earlier revisions may hold what was never published: they are for its editors.
    authorize(&account, Action::Edit, &subject(&article)).map_err(refusal)?;
    let (about, record) = content(&state, article.id, number(&revision)?).await?;
    let mut body = info(&about);
    body["article"] = Value::Object(record);
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct Between {
    from: Option<i64>,
    to: Option<i64>,
}

/// `?from=A&to=B`: by default, the current revision against the one before it.
pub async fn compare(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    Path(id): Path<String>,
    Query(between): Query<Between>,
) -> Result<Json<Value>, ApiError> {
    let article = load(&state, &id).await?;
    // Earlier revisions may hold what was never published: they are for its editors.
    authorize(&account, Action::Edit, &subject(&article)).map_err(refusal)?;
    let to = between.to.unwrap_or(article.revision);
    let from = between.from.unwrap_or(to - 1);
    let (_, before) = content(&state, article.id, from).await?;
    let (_, after) = content(&state, article.id, to).await?;
    let d = diff(&before, &after);
    Ok(Json(
        json!({"from": from, "to": to, "fields": d.fields, "body": d.body}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restore {
    base_revision: i64,
}

/// Saves an old revision's article as a new revision, based on the caller's `base_revision`.
pub async fn restore(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path((id, revision)): Path<(String, String)>,
    Body(request): Body<Restore>,
) -> Result<Response, ApiError> {
    let current = load(&state, &id).await?;
    authorize(&account, Action::Edit, &subject(&current)).map_err(refusal)?;
    let (_, old) = content(&state, current.id, number(&revision)?).await?;
    let article = parse_article(&state, old, current.key.as_str())?;
    if super::articles::goes_to_readers(current.state) {
        super::articles::ready_for_readers(current.id, &article)?;
    }
    // Restoring it onto another desk needs the right there too.
    if article.section() != &current.section {
        let moved = dateline_core::workflow::Subject {
            desk: article.section(),
            ..subject(&current)
        };
        authorize(&account, Action::Edit, &moved).map_err(refusal)?;
    }
    let now = Timestamp::now();
    match state
        .store
        .save_article(current.id, &article, request.base_revision, current.state, account.id, now)
        .await
    {
        Ok(saved) => {
            let client = address(addr.as_ref().map(|Extension(a)| a));
            let subject = format!("article {} revision {revision} as {}", saved.id, saved.revision);
            record(&state, Some(&account), account.username.as_str(), "article.restore", subject, client).await;
            Ok(Json(with_url(&state, &saved, now).await?).into_response())
        }
        Err(StorageError::Stale { current: at, by, at: when }) => Ok((
            StatusCode::CONFLICT,
            Json(json!({
                "error": "conflict",
                "message": format!("the article is at revision {at}, saved by {by} at {when}; the restore was based on revision {}", request.base_revision),
                "current_revision": at,
                "saved_by": by,
                "saved_at": when.to_string(),
            })),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}
