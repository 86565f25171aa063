//! An edition's home page: the editors' top stories, then the latest, then each section.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use axum::Extension;
use jiff::Timestamp;
use serde::Serialize;

use super::Seen;
use crate::cache::Tags;
use crate::render::{Frame, LinkView};
use crate::{AppError, AppState, Edition};

/// How many of each section's latest stories are read, so that three remain after the ones
/// already shown above.
const PER_SECTION: u32 = 8;

#[derive(Serialize)]
struct SectionBlock {
    name: String,
    url: String,
    stories: Vec<LinkView>,
}

#[derive(Serialize)]
struct HomeView {
    frame: Frame,
    lead: Option<LinkView>,
    top: Vec<LinkView>,
    latest: Vec<LinkView>,
    blocks: Vec<SectionBlock>,
}

#[tracing::instrument(skip_all, fields(lang = %lang))]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Extension(Edition(lang)): Extension<Edition>,
) -> Result<(Extension<Tags>, Html<String>), AppError> {
    let site = &state.site;
    let store = &state.store;
    let now = Timestamp::now();
    let mut seen = Seen::default();

    // Three queries whatever the number of sections and stories.
    let front = store.front(&lang, now).await?;
    let frame = store
        .page_frame(&lang, 10 + front.len().max(4) as u32, now, None)
        .await?;
    let (sections, latest_links) = (frame.sections, frame.latest);
    let by_section = store.section_latest(&lang, PER_SECTION, now).await?;
    let mut top: Vec<LinkView> = front
        .iter()
        .filter(|l| seen.fresh(l.id))
        .map(|l| site.link_view(&sections, l))
        .collect();
    // Without editors' picks, the newest story leads.
    let mut latest_iter = latest_links.iter().filter(|l| seen.fresh(l.id));
    if top.is_empty() {
        top.extend(
            latest_iter
                .by_ref()
                .take(4)
                .map(|l| site.link_view(&sections, l)),
        );
    }
    let latest: Vec<LinkView> = latest_iter
        .take(10)
        .map(|l| site.link_view(&sections, l))
        .collect();

    let mut blocks = Vec::new();
    for section in &sections {
        let stories: Vec<LinkView> = by_section
            .iter()
            .filter(|l| l.section_key == section.key)
            .filter(|l| seen.fresh(l.id))
            .take(3)
            .map(|l| site.link_view(&sections, l))
            .collect();
        if !stories.is_empty() {
            blocks.push(SectionBlock {
                name: section
                    .name
                    .text(lang.as_str(), site.primary().as_str())
                    .to_string(),
                url: site.section_url(&lang, section.key.as_str()),
                stories,
            });
        }
    }

    let lead = if top.is_empty() {
        None
    } else {
        Some(top.remove(0))
    };
    let description = lead
        .as_ref()
        .and_then(|l| l.summary.clone())
        .unwrap_or_else(|| format!("{}: news and analysis.", site.outlet));
    let mut frame = site.frame(&lang, &sections, None, site.outlet.clone(), description);
    frame.canonical = Some(site.absolute(&frame.home_url));
    frame.feeds = super::feeds::links(site, &frame.home_url, &site.outlet);
    frame.alternates = frame
        .editions
        .iter()
        .map(|e| crate::render::EditionView {
            lang: e.lang.clone(),
            name: e.name.clone(),
            url: site.absolute(&e.url),
            current: e.current,
        })
        .collect();
    let view = HomeView {
        frame,
        lead,
        top,
        latest,
        blocks,
    };
    let mut tags = Tags::page();
    tags.add("lang", lang.as_str()).add("front", lang.as_str());
    // A front story may be of another edition: each story shown is named.
    for link in front.iter().chain(&latest_links).chain(&by_section) {
        tags.article(link.key.as_str());
    }
    Ok((
        Extension(tags),
        Html(state.templates.render("home.html", view)?),
    ))
}
