//! `/api/v1/articles/{id}/suggestions`: the related stories the archive suggests for an
//! article, with why each was suggested (the telling words and the topics they share), for its
//! editors to pin or block. A draft, not in the index, gets suggestions for its current text.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use dateline_core::workflow::{authorize, Action};
use dateline_core::{ArticleId, ArticleKey};
use jiff::Timestamp;
use serde_json::{json, Value};

use super::articles::{load, refusal, subject};
use super::{address, record, ApiError, Caller, ClientAddr};
use crate::AppState;

/// How many suggestions an editor sees.
const SHOWN: usize = 10;

fn text_of(record: &serde_json::Map<String, Value>, field: &str) -> String {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let worked = load(&state, &id).await?;
    authorize(&account, Action::Edit, &subject(&worked)).map_err(refusal)?;
    let now = Timestamp::now();
    let record = &worked.record;
    let lang = text_of(record, "lang");
    let headline = text_of(record, "headline");
    let body = dateline_core::html::plain_text(&text_of(record, "body"));
    let topics: Vec<String> = record
        .get("topics")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let pinned: Vec<String> = record
        .get("related")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let article = worked.id.get();
    let live = worked.live_from.is_some_and(|from| from <= now);
    let worker = state.clone();
    let (lang_w, headline_w, body_w) = (lang.clone(), headline.clone(), body.clone());
    let ranked = tokio::task::spawn_blocking(move || {
        let ranked = if live {
            worker.neighbours.suggest(&worker.search, article)
        } else {
            Vec::new()
        };
        let ranked = if ranked.is_empty() {
            worker.neighbours.suggest_for_text(
                &worker.search,
                article,
                &lang_w,
                &headline_w,
                &body_w,
            )
        } else {
            ranked
        };
        let top: Vec<(i64, f32)> = ranked.into_iter().take(SHOWN * 2).collect();
        let ids: Vec<i64> = top.iter().map(|(d, _)| *d).collect();
        let keys = worker.search.keys(&ids)?;
        let text = format!("{headline_w} {body_w}");
        let mut out = Vec::new();
        for ((other, score), key) in top.into_iter().zip(keys) {
            if key.is_empty() {
                continue;
            }
            let terms = worker.search.shared_terms_with(&lang_w, &text, other, 6)?;
            out.push((other, score, key, terms));
        }
        Ok::<_, dateline_search::SearchError>(out)
    })
    .await
    .map_err(|e| ApiError::BadRequest(e.to_string()))?
    .map_err(|e| ApiError::Storage(dateline_storage::StorageError::Corrupt(e.to_string())))?;
    let blocked = state.store.related_blocks(worked.id).await?;
    let keys: Vec<String> = ranked.iter().map(|(_, _, k, _)| k.clone()).collect();
    let links = state.store.links_by_keys(&keys, now).await?;
    let site = &state.site;
    let mut suggestions = Vec::new();
    for (other, score, key, terms) in ranked {
        let Some(link) = links.iter().find(|l| l.key.as_str() == key) else {
            continue;
        };
        if key == worked.key.as_str() {
            continue;
        }
        let shared_topics: Vec<String> =
            match state.store.article(ArticleId::new(other), now).await? {
                Some(a) => a
                    .topics
                    .iter()
                    .map(|t| t.to_string())
                    .filter(|t| topics.contains(t))
                    .collect(),
                None => vec![],
            };
        suggestions.push(json!({
            "key": key,
            "headline": link.headline,
            "url": link.address(&site.address, &site.time_zone),
            "published": link.published.to_string(),
            "score": score,
            "shared_terms": terms,
            "shared_topics": shared_topics,
            "pinned": pinned.contains(&key),
            "blocked": blocked.contains(&key),
        }));
        if suggestions.len() >= SHOWN {
            break;
        }
    }
    Ok(Json(
        json!({"suggestions": suggestions, "blocked": blocked}),
    ))
}

async fn set_block(
    state: &AppState,
    account: &dateline_core::account::Account,
    addr: Option<Extension<ClientAddr>>,
    id: &str,
    key: &str,
    blocked: bool,
) -> Result<StatusCode, ApiError> {
    let worked = load(state, id).await?;
    authorize(account, Action::Edit, &subject(&worked)).map_err(refusal)?;
    let key = ArticleKey::parse(key)
        .map_err(|e| ApiError::Unprocessable(format!("{key:?} is not an article's key: {e}")))?;
    state
        .store
        .set_related_block(worked.id, &key, blocked, account.id, Timestamp::now())
        .await?;
    let client = address(addr.as_ref().map(|Extension(a)| a));
    let action = if blocked {
        "article.block_suggestion"
    } else {
        "article.unblock_suggestion"
    };
    record(
        state,
        Some(account),
        account.username.as_str(),
        action,
        format!("article {} suggestion {key}", worked.id),
        client,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn block(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    set_block(&state, &account, addr, &id, &key, true).await
}

pub async fn unblock(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    set_block(&state, &account, addr, &id, &key, false).await
}
