//! An edition's corrections page: every correction of a live article, newest first.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::Extension;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::render::{Frame, LinkView};
use crate::{AppError, AppState, Edition};

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

#[derive(Serialize)]
struct Item {
    note: String,
    time: String,
    datetime: String,
    story: LinkView,
}

#[derive(Serialize)]
struct CorrectionsView {
    frame: Frame,
    items: Vec<Item>,
    page: u32,
    newer_url: Option<String>,
    older_url: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Extension(Edition(lang)): Extension<Edition>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<(Extension<crate::cache::Tags>, Html<String>), AppError> {
    let Query(query) = query.map_err(|_| AppError::NotFound)?;
    let page = match &query.page {
        None => 1,
        Some(p) => p
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or(AppError::NotFound)?,
    };
    let site = &state.site;
    let now = Timestamp::now();
    let per_page = site.page_size;
    let sections = state.store.sections().await?;
    let mut found = state
        .store
        .corrections(
            &lang,
            per_page + 1,
            (page - 1).saturating_mul(per_page),
            now,
        )
        .await?;
    if found.is_empty() && page > 1 {
        return Err(AppError::NotFound);
    }
    let has_more = found.len() > per_page as usize;
    found.truncate(per_page as usize);
    let path = format!("{}/corrections", site.prefix(&lang));
    let page_url = |n: u32| {
        if n == 1 {
            path.clone()
        } else {
            format!("{path}?page={n}")
        }
    };
    let t = crate::ui::ui(lang.as_str());
    let mut frame = site.frame(
        &lang,
        &sections,
        None,
        format!("{} – {}", t.corrections, site.outlet),
        t.corrections_intro.to_string(),
    );
    frame.canonical = Some(site.absolute(&page_url(page)));
    let items = found
        .iter()
        .map(|(c, link)| Item {
            note: c.note.clone(),
            time: site.dateline.time(c.at, &site.time_zone, &link.lang),
            datetime: c.at.to_string(),
            story: site.link_view(&sections, link),
        })
        .collect();
    let view = CorrectionsView {
        frame,
        items,
        page,
        newer_url: (page > 1).then(|| page_url(page - 1)),
        older_url: has_more.then(|| page_url(page + 1)),
    };
    let mut tags = crate::cache::Tags::page();
    tags.add("lang", lang.as_str());
    Ok((
        Extension(tags),
        Html(state.templates.render("corrections.html", view)?),
    ))
}
