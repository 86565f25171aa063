//! Section fronts, topic pages and series pages: one list of stories under a heading, with
//! pages.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::Extension;
use dateline_core::{Lang, Localized, LocalizedHtml, SafeHtml, Section, Slug};
use dateline_storage::{Filter, Listing};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::cache::Tags;
use crate::render::{Frame, LinkView};
use crate::{AppError, AppState, Edition};

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

#[derive(Serialize)]
struct ListingView {
    frame: Frame,
    kind: &'static str,
    heading: String,
    /// A topic's introduction or a series' description.
    intro: Option<minijinja::Value>,
    partners: Vec<String>,
    stories: Vec<LinkView>,
    /// A story thread's topic, if an editor pinned it to one: its name and address.
    topic: Option<(String, String)>,
    page: u32,
    newer_url: Option<String>,
    older_url: Option<String>,
}

/// `?page=N`: absent means 1; anything but a whole number from 1 is a bad address.
fn page_number(query: &PageQuery) -> Result<u32, AppError> {
    match &query.page {
        None => Ok(1),
        Some(p) => p
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or(AppError::NotFound),
    }
}

/// The key and page asked for; an address that does not parse is a page that does not exist.
fn parse_request(
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<(Slug, PageQuery), AppError> {
    let Path(raw) = path.map_err(|_| AppError::NotFound)?;
    let Query(query) = query.map_err(|_| AppError::NotFound)?;
    Ok((Slug::parse(&raw).map_err(|_| AppError::NotFound)?, query))
}

struct Heading {
    kind: &'static str,
    title: String,
    intro: Option<SafeHtml>,
    partners: Vec<String>,
    current_section: Option<String>,
    topic: Option<(String, String)>,
}

impl Heading {
    /// The heading of a topic or series page, in the edition's language where it has one.
    fn collection(
        state: &AppState,
        kind: &'static str,
        lang: &Lang,
        title: &Localized,
        intro: &LocalizedHtml,
        partners: Vec<String>,
    ) -> Heading {
        let primary = state.site.primary().as_str();
        Heading {
            kind,
            title: title.text(lang.as_str(), primary).to_string(),
            intro: intro.get(lang.as_str(), primary).cloned(),
            partners,
            current_section: None,
            topic: None,
        }
    }
}

async fn render(
    state: &AppState,
    sections: Vec<Section>,
    lang: Lang,
    path: String,
    filter: Filter,
    heading: Heading,
    query: PageQuery,
) -> Result<Listed, AppError> {
    let tags = Tags::listing(&lang, &filter);
    let site = &state.site;
    let page = page_number(&query)?;
    let per_page = site.page_size;
    let offset = (page - 1).saturating_mul(per_page);
    let mut links = state
        .store
        .list(&Listing {
            lang: lang.clone(),
            filter,
            limit: per_page + 1,
            offset,
            as_of: Timestamp::now(),
        })
        .await?;
    if links.is_empty() && page > 1 {
        return Err(AppError::NotFound);
    }
    let has_more = links.len() > per_page as usize;
    links.truncate(per_page as usize);

    let page_url = |n: u32| {
        if n == 1 {
            path.clone()
        } else {
            format!("{path}?page={n}")
        }
    };
    let title = if page > 1 {
        format!(
            "{} – {} {page} – {}",
            heading.title,
            crate::ui::ui(lang.as_str()).page,
            site.outlet
        )
    } else {
        format!("{} – {}", heading.title, site.outlet)
    };
    let description = heading
        .intro
        .as_ref()
        .map(SafeHtml::text)
        .filter(|t| !t.is_empty())
        .map(|t| crate::render::truncate(&t, 160))
        .unwrap_or_else(|| format!("{}: {}", site.outlet, heading.title));
    let mut frame = site.frame(
        &lang,
        &sections,
        heading.current_section.as_deref(),
        title,
        description,
    );
    frame.canonical = Some(site.absolute(&page_url(page)));
    frame.feeds = super::feeds::links(site, &path, &format!("{} – {}", heading.title, site.outlet));
    let view = ListingView {
        frame,
        kind: heading.kind,
        heading: heading.title,
        intro: heading.intro.as_ref().map(crate::render::html),
        partners: heading.partners,
        topic: heading.topic,
        stories: links.iter().map(|l| site.link_view(&sections, l)).collect(),
        page,
        newer_url: (page > 1).then(|| page_url(page - 1)),
        older_url: has_more.then(|| page_url(page + 1)),
    };
    Ok((
        Extension(tags),
        Html(state.templates.render("listing.html", view)?),
    ))
}

/// A listing page, with what it lists for the page cache.
type Listed = (Extension<Tags>, Html<String>);

#[tracing::instrument(skip_all)]
pub async fn section(
    State(state): State<Arc<AppState>>,
    Extension(Edition(lang)): Extension<Edition>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Listed, AppError> {
    let (key, query) = parse_request(path, query)?;
    let sections = state.store.sections().await?;
    let section = sections
        .iter()
        .find(|s| s.key == key)
        .ok_or(AppError::NotFound)?;
    let heading = Heading {
        kind: "section",
        title: section
            .name
            .text(lang.as_str(), state.site.primary().as_str())
            .to_string(),
        intro: None,
        partners: vec![],
        current_section: Some(key.to_string()),
        topic: None,
    };
    let path = state.site.section_url(&lang, key.as_str());
    render(
        &state,
        sections,
        lang,
        path,
        Filter::Section(key),
        heading,
        query,
    )
    .await
}

#[tracing::instrument(skip_all)]
pub async fn topic(
    State(state): State<Arc<AppState>>,
    Extension(Edition(lang)): Extension<Edition>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Listed, AppError> {
    let (key, query) = parse_request(path, query)?;
    let topic = state.store.topic(&key).await?.ok_or(AppError::NotFound)?;
    let heading = Heading::collection(&state, "topic", &lang, &topic.title, &topic.intro, vec![]);
    let path = format!("{}/topic/{key}", state.site.prefix(&lang));
    let sections = state.store.sections().await?;
    render(
        &state,
        sections,
        lang,
        path,
        Filter::Topic(key),
        heading,
        query,
    )
    .await
}

/// A person's page: the stories whose bylines name them, newest first.
#[tracing::instrument(skip_all)]
pub async fn byline(
    State(state): State<Arc<AppState>>,
    Extension(Edition(lang)): Extension<Edition>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Listed, AppError> {
    let Path(raw) = path.map_err(|_| AppError::NotFound)?;
    let Query(query) = query.map_err(|_| AppError::NotFound)?;
    let key = dateline_core::PersonKey::parse(&raw).map_err(|_| AppError::NotFound)?;
    let name = state
        .store
        .person(&key, Timestamp::now())
        .await?
        .ok_or(AppError::NotFound)?;
    let heading = Heading {
        kind: "byline",
        title: name,
        intro: None,
        partners: vec![],
        current_section: None,
        topic: None,
    };
    let path = format!("{}/byline/{}", state.site.prefix(&lang), key.path_segment());
    let sections = state.store.sections().await?;
    render(
        &state,
        sections,
        lang,
        path,
        Filter::Person(key),
        heading,
        query,
    )
    .await
}

#[tracing::instrument(skip_all)]
pub async fn series(
    State(state): State<Arc<AppState>>,
    Extension(Edition(lang)): Extension<Edition>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Listed, AppError> {
    let (key, query) = parse_request(path, query)?;
    let series = state.store.series(&key).await?.ok_or(AppError::NotFound)?;
    let heading = Heading::collection(
        &state,
        "series",
        &lang,
        &series.title,
        &series.description,
        series.partners,
    );
    let path = format!("{}/series/{key}", state.site.prefix(&lang));
    let sections = state.store.sections().await?;
    render(
        &state,
        sections,
        lang,
        path,
        Filter::Series(key),
        heading,
        query,
    )
    .await
}

/// A story thread's timeline: its articles in every language, oldest first, each with its
/// dateline; copies of one wire story shown once. A thread an editor merged into another leads
/// to it.
#[tracing::instrument(skip_all)]
pub async fn thread(
    State(state): State<Arc<AppState>>,
    Extension(Edition(lang)): Extension<Edition>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    use dateline_storage::{ThreadFound, ThreadLookup};
    let Path(raw) = path.map_err(|_| AppError::NotFound)?;
    let Query(query) = query.map_err(|_| AppError::NotFound)?;
    let id = thread_id(&raw).ok_or(AppError::NotFound)?;
    let prefix = state.site.prefix(&lang);
    let found = state
        .store
        .thread(
            id,
            ThreadLookup::Live {
                as_of: Timestamp::now(),
                limit: 0,
                offset: 0,
            },
        )
        .await?
        .ok_or(AppError::NotFound)?;
    let thread = match found {
        ThreadFound::MergedInto(into) => {
            let to = format!("{prefix}/thread/{into}");
            return Ok((
                axum::http::StatusCode::MOVED_PERMANENTLY,
                [(axum::http::header::LOCATION, to)],
            )
                .into_response());
        }
        ThreadFound::Thread(t) if t.size > 0 => t,
        ThreadFound::Thread(_) => return Err(AppError::NotFound),
    };
    let primary = state.site.primary().as_str();
    let heading = Heading {
        kind: "thread",
        title: thread.title,
        intro: None,
        partners: vec![],
        current_section: None,
        topic: thread.topic.map(|t| {
            (
                t.title.text(lang.as_str(), primary).to_string(),
                format!("{prefix}/topic/{}", t.key),
            )
        }),
    };
    let path = format!("{prefix}/thread/{id}");
    let sections = state.store.sections().await?;
    Ok(render(
        &state,
        sections,
        lang,
        path,
        Filter::Thread(id),
        heading,
        query,
    )
    .await?
    .into_response())
}

/// A thread's id in an address: a whole number from 1, written plainly.
pub(crate) fn thread_id(raw: &str) -> Option<i64> {
    if raw.is_empty()
        || raw.len() > 18
        || !raw.bytes().all(|b| b.is_ascii_digit())
        || raw.starts_with('0')
    {
        return None;
    }
    raw.parse().ok()
}
