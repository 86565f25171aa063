//! `/search` in each edition: the archive's published articles by words, with filters,
//! snippets, pages and "did you mean"; and `GET /api/v1/search`, the same as JSON.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use dateline_search::{Part, SearchQuery};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::render::{Frame, LinkView};
use crate::{AppError, AppState, Edition};

/// Results a page shows.
const PER_PAGE: usize = 10;
/// The furthest page: deeper than this, a reader narrows the search.
const MAX_PAGE: usize = 100;

#[derive(Deserialize, Default)]
pub struct Params {
    q: Option<String>,
    section: Option<String>,
    lang: Option<String>,
    tag: Option<String>,
    byline: Option<String>,
    /// `YYYY-MM-DD`, in the outlet's zone, from the start of that day.
    from: Option<String>,
    /// `YYYY-MM-DD`, in the outlet's zone, to the end of that day.
    to: Option<String>,
    page: Option<usize>,
}

#[derive(Serialize)]
struct HitView {
    link: LinkView,
    snippet: Vec<Part>,
}

#[derive(Serialize)]
struct SearchView {
    frame: Frame,
    q: String,
    total: usize,
    exact: bool,
    hits: Vec<HitView>,
    did_you_mean: Option<(String, String)>,
    problem: Option<String>,
    newer_url: Option<String>,
    older_url: Option<String>,
}

fn blank(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Reads the request into a query for the index, or says what is wrong with it.
fn query(state: &AppState, p: &Params) -> Result<SearchQuery, String> {
    let tz = &state.site.time_zone;
    let day = |name: &str, v: &Option<String>, end: bool| -> Result<Option<Timestamp>, String> {
        let Some(text) = blank(v) else {
            return Ok(None);
        };
        let date: jiff::civil::Date = text
            .parse()
            .map_err(|_| format!("{name} is not a date such as 2026-11-29: {text:?}"))?;
        let date = if end {
            date.tomorrow().map_err(|e| e.to_string())?
        } else {
            date
        };
        date.to_zoned(tz.clone())
            .map(|z| Some(z.timestamp()))
            .map_err(|e| e.to_string())
    };
    let page = p.page.unwrap_or(1);
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(format!("page is {page}: use 1 to {MAX_PAGE}"));
    }
    let text = blank(&p.q).unwrap_or_default();
    if text.chars().count() > 200 {
        return Err("the words are over 200 characters".into());
    }
    Ok(SearchQuery {
        text,
        section: blank(&p.section),
        lang: blank(&p.lang),
        topic: blank(&p.tag),
        byline: blank(&p.byline),
        from: day("from", &p.from, false)?,
        to: day("to", &p.to, true)?,
        limit: PER_PAGE,
        offset: (page - 1) * PER_PAGE,
    })
}

/// Runs a search off the async threads, keeping only what is live now.
async fn run(
    state: &Arc<AppState>,
    q: SearchQuery,
) -> Result<
    (
        dateline_search::SearchResults,
        Vec<dateline_core::ArticleLink>,
    ),
    AppError,
> {
    let index = state.search.clone();
    let now = Timestamp::now();
    let found = tokio::task::spawn_blocking(move || index.search(&q, now))
        .await
        .map_err(|e| AppError::Storage(dateline_storage::StorageError::Corrupt(e.to_string())))?
        .map_err(|e| AppError::Storage(dateline_storage::StorageError::Corrupt(e.to_string())))?;
    let keys: Vec<String> = found.hits.iter().map(|h| h.key.clone()).collect();
    // The index follows the stream within a second; what left the site meanwhile is not shown.
    let live = state.store.links_by_keys(&keys, now).await?;
    Ok((found, live))
}

pub async fn page(
    State(state): State<Arc<AppState>>,
    Extension(Edition(lang)): Extension<Edition>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, AppError> {
    // A query string that does not parse (a page number that is no number) is no search.
    let Query(params) = params.map_err(|_| AppError::NotFound)?;
    let data = state
        .store
        .page_frame(&lang, 0, Timestamp::now(), None)
        .await?;
    let t = crate::ui::ui(lang.as_str());
    let site = &state.site;
    let q = blank(&params.q).unwrap_or_default();
    let title = if q.is_empty() {
        format!("{} – {}", t.search, site.outlet)
    } else {
        format!("{q} – {} – {}", t.search, site.outlet)
    };
    let frame = site.frame(&lang, &data.sections, None, title, t.search.to_string());
    let base = format!("{}/search", site.prefix(&lang));
    let mut view = SearchView {
        frame,
        q: q.clone(),
        total: 0,
        exact: true,
        hits: vec![],
        did_you_mean: None,
        problem: None,
        newer_url: None,
        older_url: None,
    };
    match query(&state, &params) {
        Err(problem) => view.problem = Some(problem),
        Ok(sq) if !q.is_empty() => {
            let page = params.page.unwrap_or(1);
            let (found, live) = run(&state, sq).await?;
            view.total = found.total;
            view.exact = found.exact;
            view.hits = found
                .hits
                .iter()
                .filter_map(|h| {
                    let link = live.iter().find(|l| l.key.as_str() == h.key)?;
                    Some(HitView {
                        link: site.link_view(&data.sections, link),
                        snippet: h.snippet.clone(),
                    })
                })
                .collect();
            view.did_you_mean = found.did_you_mean.map(|d| {
                let url = format!(
                    "{base}?q={}",
                    url::form_urlencoded::byte_serialize(d.as_bytes()).collect::<String>()
                );
                (d, url)
            });
            let with_page = |n: usize| {
                let mut s = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in [
                    ("q", blank(&params.q)),
                    ("section", blank(&params.section)),
                    ("lang", blank(&params.lang)),
                    ("tag", blank(&params.tag)),
                    ("byline", blank(&params.byline)),
                    ("from", blank(&params.from)),
                    ("to", blank(&params.to)),
                ] {
                    if let Some(v) = v {
                        s.append_pair(k, &v);
                    }
                }
                s.append_pair("page", &n.to_string());
                format!("{base}?{}", s.finish())
            };
            if page > 1 {
                view.newer_url = Some(with_page(page - 1));
            }
            if (!found.exact || page * PER_PAGE < found.total) && page < MAX_PAGE {
                view.older_url = Some(with_page(page + 1));
            }
        }
        Ok(_) => {}
    }
    let html = state.templates.render("search.html", view)?;
    Ok(Html(html).into_response())
}

/// `GET /api/v1/search`: the same search, as JSON; anyone may ask, and only published
/// articles are found.
pub async fn api(
    State(state): State<Arc<AppState>>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, crate::api::ApiError> {
    let Query(params) = params.map_err(|e| crate::api::ApiError::BadRequest(e.body_text()))?;
    let sq = query(&state, &params).map_err(crate::api::ApiError::Unprocessable)?;
    let (found, live) = run(&state, sq).await.map_err(|e| match e {
        AppError::Storage(s) => crate::api::ApiError::Storage(s),
        other => crate::api::ApiError::BadRequest(other.to_string()),
    })?;
    let site = &state.site;
    let hits: Vec<_> = found
        .hits
        .iter()
        .filter_map(|h| {
            let link = live.iter().find(|l| l.key.as_str() == h.key)?;
            Some(json!({
                "id": h.id,
                "key": h.key,
                "headline": link.headline,
                "lang": h.lang,
                "section": h.section,
                "published": link.published.to_string(),
                "url": site.absolute(&link.address(&site.address, &site.time_zone)),
                "snippet": h.snippet,
                "score": h.score,
            }))
        })
        .collect();
    Ok(Json(json!({
        "total": found.total,
        "total_is_exact": found.exact,
        "page": params.page.unwrap_or(1),
        "hits": hits,
        "did_you_mean": found.did_you_mean,
    }))
    .into_response())
}
