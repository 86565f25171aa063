//! `/api/v1/threads`: the story threads the threader made, and editors' decisions about them:
//! rename, merge, split, move an article, pin to a topic (or promote to one). Editors and chief
//! editors decide; every decision is audited, and the threader never undoes it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dateline_core::account::{Account, Role};
use dateline_core::{ArticleId, Slug, Topic};
use dateline_storage::{PinTo, Thread, ThreadEdit, ThreadFound, ThreadLookup};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{address, record, ApiError, Body, Caller, ClientAddr};
use crate::AppState;

/// The most characters of a thread's title.
pub const MAX_TITLE: usize = 300;
/// The most articles one split moves.
const MAX_SPLIT: usize = 1_000;

/// Threads span desks: editors and chief editors decide about them.
fn decider(account: &Account) -> Result<(), ApiError> {
    if account.grants.has(Role::Editor) || account.grants.has(Role::ChiefEditor) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "{} may not change story threads: that is for editors and chief editors",
            account.username
        )))
    }
}

fn thread_id(text: &str) -> Result<i64, ApiError> {
    crate::pages::listing::thread_id(text)
        .ok_or_else(|| ApiError::NotFound(format!("thread {text:?} not found")))
}

/// A thread's title: one line, present, within [`MAX_TITLE`].
pub(crate) fn title(text: &str) -> Result<String, ApiError> {
    let title = dateline_core::text::clean_line(text);
    let chars = title.chars().count();
    if chars == 0 {
        return Err(ApiError::Unprocessable("title is missing or empty".into()));
    }
    if chars > MAX_TITLE {
        return Err(ApiError::Unprocessable(format!(
            "title is {chars} characters, over the limit of {MAX_TITLE}"
        )));
    }
    Ok(title)
}

fn view(state: &AppState, t: &Thread) -> Value {
    let site = &state.site;
    json!({
        "id": t.id,
        "title": t.title,
        "title_by_editor": t.title_by_editor,
        "frozen": t.frozen,
        "topic": t.topic.as_ref().map(|t| t.key.as_str()),
        "created": t.created.to_string(),
        "updated": t.updated.to_string(),
        "size": t.size,
        "url": site.absolute(&format!("/thread/{}", t.id)),
        "articles": t.articles.iter().map(|a| json!({
            "id": a.link.id.get(),
            "key": a.link.key.as_str(),
            "headline": a.link.headline,
            "lang": a.link.lang.as_str(),
            "state": a.state.name(),
            "published": a.link.published.to_string(),
            "by_editor": a.by_editor,
            "duplicate_of": a.duplicate_of.map(ArticleId::get),
        })).collect::<Vec<_>>(),
    })
}

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Caller(_): Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let found = state
        .store
        .threads(query.q.as_deref(), limit, query.offset.unwrap_or(0))
        .await?;
    Ok(Json(json!({"threads": found.iter().map(|t| json!({
        "id": t.id,
        "title": t.title,
        "size": t.size,
        "frozen": t.frozen,
        "topic": t.topic.as_ref().map(Slug::as_str),
        "updated": t.updated.to_string(),
    })).collect::<Vec<_>>()})))
}

/// A thread, or, for one merged into another, a redirect to that one.
pub async fn read(
    State(state): State<Arc<AppState>>,
    Caller(_): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = thread_id(&id)?;
    match state.store.thread(id, ThreadLookup::Whole).await? {
        None => Err(ApiError::NotFound(format!("thread {id} not found"))),
        Some(ThreadFound::MergedInto(into)) => Ok((
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, format!("/api/v1/threads/{into}"))],
            Json(json!({"id": id, "merged_into": into})),
        )
            .into_response()),
        Some(ThreadFound::Thread(t)) => Ok(Json(view(&state, &t)).into_response()),
    }
}

/// Does an editor's decision, audits it, and answers the thread it leaves the articles in.
async fn decide(
    state: &AppState,
    account: &Account,
    addr: Option<Extension<ClientAddr>>,
    edit: ThreadEdit,
    action: &str,
    subject: String,
) -> Result<Json<Value>, ApiError> {
    decider(account)?;
    let thread = state.store.edit_threads(&edit, Timestamp::now()).await?;
    record(
        state,
        Some(account),
        account.username.as_str(),
        action,
        subject,
        address(addr.as_ref().map(|Extension(a)| a)),
    )
    .await;
    match state.store.thread(thread, ThreadLookup::Whole).await? {
        Some(ThreadFound::Thread(t)) => Ok(Json(view(state, &t))),
        _ => Err(ApiError::NotFound(format!("thread {thread} not found"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TitleBody {
    title: String,
}

pub async fn rename(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<String>,
    Body(body): Body<TitleBody>,
) -> Result<Json<Value>, ApiError> {
    let thread = thread_id(&id)?;
    let title = title(&body.title)?;
    let subject = format!("thread {thread}: {title:?}");
    decide(
        &state,
        &account,
        addr,
        ThreadEdit::Rename { thread, title },
        "thread.rename",
        subject,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    into: i64,
}

pub async fn merge(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<String>,
    Body(body): Body<MergeBody>,
) -> Result<Json<Value>, ApiError> {
    let from = thread_id(&id)?;
    decide(
        &state,
        &account,
        addr,
        ThreadEdit::Merge {
            from,
            into: body.into,
        },
        "thread.merge",
        format!("thread {from} into thread {}", body.into),
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitBody {
    articles: Vec<i64>,
    title: Option<String>,
}

pub async fn split(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<String>,
    Body(body): Body<SplitBody>,
) -> Result<Json<Value>, ApiError> {
    let from = thread_id(&id)?;
    if body.articles.is_empty() {
        return Err(ApiError::Unprocessable(
            "articles names the articles that leave the thread, and is empty".into(),
        ));
    }
    if body.articles.len() > MAX_SPLIT {
        return Err(ApiError::Unprocessable(format!(
            "articles names {} articles, over the limit of {MAX_SPLIT}",
            body.articles.len()
        )));
    }
    let title = body.title.as_deref().map(title).transpose()?;
    let mut articles: Vec<ArticleId> = body.articles.iter().map(|a| ArticleId::new(*a)).collect();
    articles.sort_unstable_by_key(|a| a.get());
    articles.dedup();
    let subject = format!(
        "thread {from}: articles {}",
        body.articles
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    decide(
        &state,
        &account,
        addr,
        ThreadEdit::Split {
            from,
            articles,
            title,
        },
        "thread.split",
        subject,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    /// The thread it goes to; `null` for a new thread of its own.
    thread: Option<i64>,
}

/// `PUT /articles/{id}/thread`: an article goes to a thread, or to a new one of its own.
pub async fn move_article(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<String>,
    Body(body): Body<MoveBody>,
) -> Result<Json<Value>, ApiError> {
    let worked = super::load_article(&state, &id).await?;
    let subject = match body.thread {
        Some(t) => format!("article {} to thread {t}", worked.key),
        None => format!("article {} to a new thread", worked.key),
    };
    decide(
        &state,
        &account,
        addr,
        ThreadEdit::Move {
            article: worked.id,
            to: body.thread,
        },
        "thread.move",
        subject,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteBody {
    key: String,
    /// The topic's title by language; the thread's title in the primary language if absent.
    title: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinBody {
    /// The topic it is pinned to; `null` unpins it.
    topic: Option<String>,
    /// Instead: a topic made from the thread, which it is pinned to.
    promote: Option<PromoteBody>,
}

/// `PUT /threads/{id}/topic`: pins a thread to a topic, promotes it to a new one, or unpins it.
pub async fn pin(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<String>,
    Body(body): Body<PinBody>,
) -> Result<Json<Value>, ApiError> {
    let thread = thread_id(&id)?;
    let slug =
        |text: &str| Slug::parse(text).map_err(|e| ApiError::Unprocessable(format!("topic: {e}")));
    let (to, subject) = match (body.topic, body.promote) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Unprocessable(
                "give topic or promote, not both".into(),
            ))
        }
        (Some(key), None) => {
            let key = slug(&key)?;
            let subject = format!("thread {thread} to topic {key}");
            (PinTo::Topic(key), subject)
        }
        (None, Some(promote)) => {
            let key = slug(&promote.key)?;
            let title = match promote.title {
                Some(texts) => super::newsroom::localized("title", texts)?,
                None => {
                    let current = match state.store.thread(thread, ThreadLookup::Whole).await? {
                        Some(ThreadFound::Thread(t)) => t.title,
                        _ => return Err(ApiError::NotFound(format!("thread {thread} not found"))),
                    };
                    dateline_core::Localized::new(state.site.primary().as_str(), current)
                }
            };
            let subject = format!("thread {thread} promoted to topic {key}");
            (
                PinTo::NewTopic(Topic {
                    key,
                    title,
                    intro: Default::default(),
                }),
                subject,
            )
        }
        (None, None) => (PinTo::Nothing, format!("thread {thread} unpinned")),
    };
    decide(
        &state,
        &account,
        addr,
        ThreadEdit::Pin { thread, to },
        "thread.pin",
        subject,
    )
    .await
}
