//! One module per kind of page. Handlers extract, load, build a view and render.

use std::collections::HashSet;

use axum::http::StatusCode;
use dateline_core::{ArticleId, Lang};
use dateline_storage::PageFrame;
use jiff::Timestamp;
use serde::Serialize;

use crate::render::{Frame, LinkView};
use crate::ui::ui;
use crate::{AppError, AppState};

pub mod article;
pub mod corrections;
pub mod feeds;
pub mod home;
pub mod listing;
pub mod search;
pub mod sitemaps;

#[derive(Serialize)]
struct ErrorView {
    frame: Frame,
    heading: &'static str,
    text: &'static str,
    latest: Vec<LinkView>,
}

/// The page for a 404 or a 5xx: what happened, and where the reader can go next.
pub async fn error_page(
    state: &AppState,
    lang: &Lang,
    status: StatusCode,
) -> Result<String, AppError> {
    // One query: a flood of bad addresses costs the database little.
    let frame = state
        .store
        .page_frame(lang, LATEST_ON_ERROR_PAGES, Timestamp::now(), None)
        .await?;
    error_page_with(state, lang, status, &frame)
}

/// How many of the latest stories an error page offers.
pub(crate) const LATEST_ON_ERROR_PAGES: u32 = 6;

/// The error page, from a frame already read.
pub(crate) fn error_page_with(
    state: &AppState,
    lang: &Lang,
    status: StatusCode,
    data: &PageFrame,
) -> Result<String, AppError> {
    let t = ui(lang.as_str());
    let (heading, text) = if status == StatusCode::NOT_FOUND {
        (t.not_found_title, t.not_found_text)
    } else {
        (t.error_title, t.error_text)
    };
    let site = &state.site;
    let view = ErrorView {
        frame: site.frame(
            lang,
            &data.sections,
            None,
            format!("{heading} – {}", site.outlet),
            text.to_string(),
        ),
        heading,
        text,
        latest: data
            .latest
            .iter()
            .map(|l| site.link_view(&data.sections, l))
            .collect(),
    };
    Ok(state.templates.render("error.html", view)?)
}

/// Keeps the first appearance of each article, so that no story shows twice on a page.
#[derive(Default)]
struct Seen(HashSet<ArticleId>);

impl Seen {
    fn fresh(&mut self, id: ArticleId) -> bool {
        self.0.insert(id)
    }
}
