//! The story threads at `/admin/threads`: the threads the threader made, most recently changed
//! first, and one thread's page, where an editor renames, pins or promotes it to a topic,
//! merges it into another, splits articles off, or moves one elsewhere. The page's forms call
//! the API (`/api/v1/threads`), which decides, audits, and keeps the threader from undoing it.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use dateline_storage::{ThreadFound, ThreadLookup};
use serde::{Deserialize, Serialize};

use super::{local, page, Chrome, Desk};
use crate::{AppError, AppState};

/// Threads a page of the list shows.
const PER_PAGE: u32 = 50;

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    page: Option<u32>,
}

#[derive(Serialize)]
struct Row {
    id: i64,
    title: String,
    size: i64,
    topic: Option<String>,
    frozen: bool,
    updated: String,
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    q: String,
    threads: Vec<Row>,
    page: u32,
    more: bool,
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    desk: Desk,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let chrome = Chrome::new(&state, &desk, "Story threads", "threads");
    let page_no = query.page.unwrap_or(1).clamp(1, 10_000);
    let q = query.q.unwrap_or_default();
    let mut found = state
        .store
        .threads(
            Some(q.as_str()).filter(|q| !q.trim().is_empty()),
            PER_PAGE + 1,
            (page_no - 1) * PER_PAGE,
        )
        .await?;
    let more = found.len() > PER_PAGE as usize;
    found.truncate(PER_PAGE as usize);
    let threads = found
        .into_iter()
        .map(|t| Row {
            id: t.id,
            title: t.title,
            size: t.size,
            topic: t.topic.map(|k| k.to_string()),
            frozen: t.frozen,
            updated: local(&state, t.updated),
        })
        .collect();
    page(
        &state,
        "admin/threads.html",
        ListView {
            chrome,
            q,
            threads,
            page: page_no,
            more,
        },
    )
}

#[derive(Serialize)]
struct Member {
    id: i64,
    headline: String,
    lang: String,
    state: &'static str,
    published: String,
    by_editor: bool,
    duplicate_of: Option<i64>,
}

#[derive(Serialize)]
struct ThreadView {
    chrome: Chrome,
    id: i64,
    title: String,
    title_by_editor: bool,
    frozen: bool,
    topic: Option<String>,
    public_url: String,
    members: Vec<Member>,
}

pub async fn show(
    State(state): State<Arc<AppState>>,
    desk: Desk,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let id = crate::pages::listing::thread_id(&raw).ok_or(AppError::NotFound)?;
    let thread = match state.store.thread(id, ThreadLookup::Whole).await? {
        None => return Err(AppError::NotFound),
        Some(ThreadFound::MergedInto(into)) => {
            return Ok(Redirect::to(&format!("/admin/threads/{into}")).into_response())
        }
        Some(ThreadFound::Thread(t)) => t,
    };
    let chrome = Chrome::new(
        &state,
        &desk,
        format!("Thread: {}", thread.title),
        "threads",
    );
    let members = thread
        .articles
        .iter()
        .map(|a| Member {
            id: a.link.id.get(),
            headline: a.link.headline.clone(),
            lang: a.link.lang.to_string(),
            state: a.state.name(),
            published: local(&state, a.link.published),
            by_editor: a.by_editor,
            duplicate_of: a.duplicate_of.map(|d| d.get()),
        })
        .collect();
    page(
        &state,
        "admin/thread.html",
        ThreadView {
            chrome,
            id: thread.id,
            title: thread.title,
            title_by_editor: thread.title_by_editor,
            frozen: thread.frozen,
            topic: thread.topic.map(|t| t.key.to_string()),
            public_url: format!("/thread/{id}"),
            members,
        },
    )
}
