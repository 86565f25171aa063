//! An edition's home page: the editors' top stories, then the latest, then each section.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use axum::Extension;
use dateline_storage::{Filter, Listing};
use serde::Serialize;

use super::Seen;
use crate::render::{Frame, LinkView};
use crate::{AppError, AppState, Edition};

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
) -> Result<Html<String>, AppError> {
    let site = &state.site;
    let store = &state.store;
    let sections = store.sections().await?;
    let mut seen = Seen::default();

    let front = store.front(&lang).await?;
    let mut top: Vec<LinkView> = front
        .iter()
        .filter(|l| seen.fresh(l.id))
        .map(|l| site.link_view(&sections, l))
        .collect();
    let latest_links = store
        .list(&Listing {
            lang: lang.clone(),
            filter: Filter::All,
            limit: 10 + top.len().max(4) as u32,
            offset: 0,
        })
        .await?;
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
        let links = store
            .list(&Listing {
                lang: lang.clone(),
                filter: Filter::Section(section.key.clone()),
                limit: 8,
                offset: 0,
            })
            .await?;
        let stories: Vec<LinkView> = links
            .iter()
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
    Ok(Html(state.templates.render("home.html", view)?))
}
