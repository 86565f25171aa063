//! One module per kind of page. Handlers extract, load, build a view and render.

use std::collections::HashSet;

use axum::http::StatusCode;
use dateline_core::{ArticleId, Lang};
use jiff::Timestamp;
use serde::Serialize;

use crate::render::{Frame, LinkView};
use crate::ui::ui;
use crate::{AppError, AppState};

pub mod article;
pub mod home;
pub mod listing;

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
    let t = ui(lang.as_str());
    let (heading, text) = if status == StatusCode::NOT_FOUND {
        (t.not_found_title, t.not_found_text)
    } else {
        (t.error_title, t.error_text)
    };
    let site = &state.site;
    // One query: a flood of bad addresses costs the database little.
    let (sections, latest) = state
        .store
        .sections_and_latest(lang, 6, Timestamp::now())
        .await?;
    let view = ErrorView {
        frame: site.frame(
            lang,
            &sections,
            None,
            format!("{heading} – {}", site.outlet),
            text.to_string(),
        ),
        heading,
        text,
        latest: latest
            .iter()
            .map(|l| site.link_view(&sections, l))
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
