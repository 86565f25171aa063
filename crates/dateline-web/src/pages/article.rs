//! The article page, found by its dated address.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use dateline_core::{ArticleId, Lang, Section};
use dateline_storage::ArticlePage;
use jiff::Timestamp;
use serde::Serialize;

use crate::cache::Tags;
use crate::render::{EditionView, Frame, LinkView};
use crate::ui::language_name;
use crate::{AppError, AppState};

#[derive(Serialize)]
struct SeriesBox {
    title: String,
    url: String,
    episode: u32,
    partners: Vec<String>,
}

#[derive(Serialize)]
struct TopicLink {
    title: String,
    url: String,
}

#[derive(Serialize)]
struct ArticleView {
    frame: Frame,
    link: LinkView,
    dateline_source: String,
    updated_time: Option<String>,
    updated_datetime: Option<String>,
    byline: Option<String>,
    /// The byline in parts, each person's name linked to their page.
    byline_parts: Vec<BylinePart>,
    body: minijinja::Value,
    web_editors: String,
    series: Option<SeriesBox>,
    topics: Vec<TopicLink>,
    translations: Vec<EditionView>,
    related: Vec<LinkView>,
    /// More on this story: its thread's title and timeline, and its newest other articles.
    thread: Option<ThreadBox>,
    corrections: Vec<CorrectionView>,
    json_ld: minijinja::Value,
    section_name: Option<String>,
    /// When it last changed (its publication, when it never did), for `article:modified_time`.
    updated_iso: String,
    /// The first image of the body, absolute, for link previews.
    image: Option<String>,
}

#[derive(Serialize)]
struct ThreadBox {
    title: String,
    url: String,
    stories: Vec<LinkView>,
}

#[derive(Serialize)]
struct BylinePart {
    text: String,
    url: Option<String>,
}

/// A byline as printed, each person it names linked to their page (`/byline/{slug}`).
fn byline_parts(byline: &str, prefix: &str) -> Vec<BylinePart> {
    let mut parts = Vec::new();
    let mut rest = byline;
    for name in dateline_core::article::authors(byline) {
        let Some(slug) = dateline_core::PersonKey::from_name(&name) else {
            continue;
        };
        let Some(at) = rest.find(&name) else {
            continue;
        };
        if at > 0 {
            parts.push(BylinePart {
                text: rest[..at].to_string(),
                url: None,
            });
        }
        parts.push(BylinePart {
            text: name.clone(),
            url: Some(format!("{prefix}/byline/{}", slug.path_segment())),
        });
        rest = &rest[at + name.len()..];
    }
    if !rest.is_empty() {
        parts.push(BylinePart {
            text: rest.to_string(),
            url: None,
        });
    }
    parts
}

/// People as schema.org writes them; nothing when there are none.
fn people(names: &[String]) -> serde_json::Value {
    if names.is_empty() {
        return serde_json::Value::Null;
    }
    names
        .iter()
        .map(|n| serde_json::json!({"@type": "Person", "name": n}))
        .collect()
}

/// A correction as the article shows it.
#[derive(Serialize)]
pub(crate) struct CorrectionView {
    pub note: String,
    /// When, as the outlet writes dates.
    pub time: String,
    pub datetime: String,
}

/// Every path no other route claims: an article address, current or stale, or a 404.
#[tracing::instrument(skip_all, fields(path = %uri.path()))]
pub async fn by_address(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
) -> Result<Response, AppError> {
    if method != Method::GET && method != Method::HEAD {
        return Ok((
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response());
    }
    let site = &state.site;
    let now = Timestamp::now();
    let Some(id) = site.address.match_id(uri.path()) else {
        // Not an address of this site's pattern: an old one (a WordPress permalink, say) kept
        // as a redirect, or nothing; either way, one query.
        let edition = site.edition_of(uri.path()).clone();
        let frame = state
            .store
            .page_frame_at(
                &edition,
                super::LATEST_ON_ERROR_PAGES,
                now,
                &dateline_core::address::normalize_path(uri.path()),
            )
            .await?;
        if let Some(target) = frame.redirect {
            if let Some(article) = state.store.article(target, now).await? {
                let current = article.link.address(&site.address, &site.time_zone);
                return Ok(
                    (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, current)]).into_response(),
                );
            }
        }
        let html = super::error_page_with(&state, &edition, StatusCode::NOT_FOUND, &frame)?;
        return Ok((StatusCode::NOT_FOUND, Html(html)).into_response());
    };
    let id = ArticleId::new(id);
    // The frame the page needs, and whether the article is live, in one query: an address
    // that names no live article costs only that.
    let edition = site.edition_of(uri.path()).clone();
    let frame = state
        .store
        .page_frame(&edition, super::LATEST_ON_ERROR_PAGES, now, Some(id))
        .await?;
    if !frame.probe_live {
        let html = super::error_page_with(&state, &edition, StatusCode::NOT_FOUND, &frame)?;
        return Ok((StatusCode::NOT_FOUND, Html(html)).into_response());
    }
    // The stories the index suggests, read with the page in the same query.
    let suggested = suggested_keys(&state, id.get()).await;
    let page = state
        .store
        .article_page_with(id, now, suggested.as_deref().unwrap_or_default())
        .await?
        .ok_or(AppError::NotFound)?;
    let current = page.article.link.address(&site.address, &site.time_zone);
    if current != uri.path() {
        // A headline or section changed since this address was given out: send the reader,
        // and search engines, to where the story lives now.
        return Ok((StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, current)]).into_response());
    }
    let tags = tags(&page);
    let html = Html(render(&state, page, &frame.sections, current)?);
    // A page whose related stories the index could not give (it was busy, or does not hold
    // the story yet) is shown, not kept.
    Ok(match suggested {
        Some(found) if !found.is_empty() => (Extension(tags), html).into_response(),
        _ => html.into_response(),
    })
}

/// What an article page shows: the story, its translations, every story it links to (pinned,
/// inline, suggested; a pinned or inline one that is not live yet, too), its series and topics.
fn tags(page: &ArticlePage) -> Tags {
    let mut tags = Tags::page();
    tags.article(page.article.link.key.as_str())
        .add("group", &page.group);
    for key in &page.pinned {
        tags.article(key);
    }
    for key in page.article.body.linked_article_keys() {
        tags.article(&key);
    }
    for link in related_shown(page) {
        tags.article(link.key.as_str());
    }
    if let Some(series) = &page.article.series {
        tags.add("about-series", series.series.as_str());
    }
    for topic in &page.topics {
        tags.add("about-topic", topic.key.as_str());
    }
    // Where it is threaded, whether it is yet or not.
    tags.add("placed", page.article.link.key.as_str());
    if let Some((thread, _)) = &page.thread {
        tags.add("thread", &thread.to_string());
    }
    for link in &page.thread_latest {
        tags.article(link.key.as_str());
    }
    tags
}

/// How many related stories a page shows, pinned and suggested together.
const RELATED_SHOWN: usize = 6;

/// The keys of the stories the search index suggests for an article, best first; `None` when
/// the index could not say.
async fn suggested_keys(state: &Arc<AppState>, id: i64) -> Option<Vec<String>> {
    // A ranking whose lists are not in memory costs dozens of index queries: at most two run
    // at once, and a page that finds both places taken shows its pinned stories only, rather
    // than let a flood of cold pages queue up behind the index.
    let Ok(permit) = state.rankings.clone().try_acquire_owned() else {
        tracing::debug!(article = id, "related stories skipped: the index is busy");
        return None;
    };
    let worker = state.clone();
    let found = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let ranked = worker.neighbours.suggest(&worker.search, id);
        let ids: Vec<i64> = ranked
            .iter()
            .take(RELATED_SHOWN * 3)
            .map(|(d, _)| *d)
            .collect();
        worker.search.keys(&ids)
    })
    .await;
    match found {
        Ok(Ok(keys)) => Some(keys.into_iter().filter(|k| !k.is_empty()).collect()),
        Ok(Err(e)) => {
            tracing::warn!(article = id, error = %e, "no related stories from the index");
            None
        }
        Err(e) => {
            tracing::warn!(article = id, error = %e, "no related stories from the index");
            None
        }
    }
}

/// The related stories a page shows: the editors' pins first, then the index's suggestions
/// that are neither pinned, nor this story in another language, nor a copy of one already
/// shown (the same headline).
fn related_shown(page: &ArticlePage) -> Vec<&dateline_core::ArticleLink> {
    let norm = |h: &str| {
        h.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let mut seen: std::collections::HashSet<String> =
        std::iter::once(norm(&page.article.link.headline)).collect();
    let mut out = Vec::new();
    for link in page.related.iter() {
        seen.insert(norm(&link.headline));
        out.push(link);
    }
    // Being in the same story thread is a signal: such a suggestion counts as if it ranked
    // half as far down.
    let mut suggested: Vec<(usize, &dateline_core::ArticleLink)> = page
        .suggested
        .iter()
        .enumerate()
        .map(|(rank, link)| {
            let in_thread = page.suggested_in_thread.contains(&link.id);
            (if in_thread { rank } else { rank * 2 + 1 }, link)
        })
        .collect();
    suggested.sort_by_key(|(score, _)| *score);
    for (_, link) in suggested {
        if out.len() >= RELATED_SHOWN.max(page.related.len()) {
            break;
        }
        let translation = page.translations.iter().any(|t| t.id == link.id);
        if !translation && !out.iter().any(|l| l.id == link.id) && seen.insert(norm(&link.headline))
        {
            out.push(link);
        }
    }
    out
}

pub(crate) fn render(
    state: &AppState,
    page: ArticlePage,
    sections: &[Section],
    path: String,
) -> Result<String, AppError> {
    let site = &state.site;
    let article = &page.article;
    let link = &article.link;
    let edition: Lang = if site.languages.contains(&link.lang) {
        link.lang.clone()
    } else {
        site.primary().clone()
    };
    let primary = site.primary().as_str();
    let lang = link.lang.as_str();

    let targets: HashMap<&str, (String, &str)> = page
        .inline
        .iter()
        .map(|l| {
            (
                l.key.as_str(),
                (
                    l.address(&site.address, &site.time_zone),
                    l.headline.as_str(),
                ),
            )
        })
        .collect();
    let body = article
        .body
        .resolve_article_links(|key| targets.get(key).map(|(url, h)| (url.as_str(), *h)));

    let series = match (&article.series, &page.series) {
        (Some(s), Some(series)) => Some(SeriesBox {
            title: series.title.text(lang, primary).to_string(),
            url: format!("{}/series/{}", site.prefix(&edition), series.key),
            episode: s.episode,
            partners: series.partners.clone(),
        }),
        _ => None,
    };
    let topics: Vec<TopicLink> = page
        .topics
        .iter()
        .map(|topic| TopicLink {
            title: topic.title.text(lang, primary).to_string(),
            url: format!("{}/topic/{}", site.prefix(&edition), topic.key),
        })
        .collect();

    let translation_views: Vec<EditionView> = page
        .translations
        .iter()
        .map(|t| EditionView {
            lang: t.lang.to_string(),
            name: language_name(t.lang.as_str()).to_string(),
            url: t.address(&site.address, &site.time_zone),
            current: false,
        })
        .collect();
    let canonical = site.absolute(&path);
    let description = link
        .summary
        .clone()
        .unwrap_or_else(|| crate::render::truncate(&article.body.text(), 160));
    let description = if description.is_empty() {
        link.headline.clone()
    } else {
        description
    };
    let mut frame = site.frame(
        &edition,
        sections,
        Some(link.section_key.as_str()),
        format!("{} – {}", link.headline, site.outlet),
        description.clone(),
    );
    frame.lang = lang.to_string();
    frame.dir = link.lang.dir();
    frame.canonical = Some(canonical.clone());
    if !translation_views.is_empty() {
        frame.alternates = std::iter::once(EditionView {
            lang: lang.to_string(),
            name: String::new(),
            url: canonical.clone(),
            current: true,
        })
        .chain(translation_views.iter().map(|t| EditionView {
            lang: t.lang.clone(),
            name: t.name.clone(),
            url: site.absolute(&t.url),
            current: false,
        }))
        .collect();
    }

    let updated = link.updated.filter(|_| link.was_updated());
    let source = article.source(&site.outlet).to_string();
    let image = super::feeds::first_image(body.as_str()).and_then(|src| {
        if src.starts_with('/') && !src.starts_with("//") {
            Some(site.absolute(&src))
        } else if src.starts_with("https://") || src.starts_with("http://") {
            Some(src)
        } else {
            None
        }
    });
    let json_ld = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": link.headline,
        "description": description,
        "inLanguage": lang,
        "datePublished": link.published.to_string(),
        "dateModified": updated.unwrap_or(link.published).to_string(),
        "mainEntityOfPage": canonical,
        "articleSection": sections.iter().find(|s| s.key == link.section_key).map(|s| s.name.text(lang, primary)),
        "url": canonical,
        // One person each, without the printed "By".
        "author": people(&article.byline.as_deref().map(dateline_core::article::authors).unwrap_or_default()),
        "editor": people(&article.web_editors),
        "dateline": format!("({source}) {}", site.dateline.time(link.published, &site.time_zone, &link.lang)),
        "image": image.clone(),
        "publisher": {"@type": "NewsMediaOrganization", "name": site.outlet, "url": site.absolute("/")},
        "sourceOrganization": link.credit.as_ref().map(|c| serde_json::json!({"@type": "Organization", "name": c})),
        "correction": (!article.corrections.is_empty()).then(|| article.corrections.iter().map(|c| serde_json::json!({
            "@type": "CorrectionComment", "text": c.note, "datePublished": c.at.to_string()
        })).collect::<Vec<_>>()),
    });
    // Absent facts are left out rather than written as null.
    let json_ld = match json_ld {
        serde_json::Value::Object(map) => {
            serde_json::Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    };

    let view = ArticleView {
        frame,
        link: site.link_view(sections, link),
        dateline_source: source,
        updated_time: updated.map(|u| site.dateline.time(u, &site.time_zone, &link.lang)),
        updated_datetime: updated.map(|u| u.to_string()),
        byline: article.byline.clone(),
        byline_parts: article
            .byline
            .as_deref()
            .map(|b| byline_parts(b, &site.prefix(&edition)))
            .unwrap_or_default(),
        body: crate::render::html(&body),
        web_editors: article.web_editors.join(", "),
        series,
        topics,
        translations: translation_views,
        related: related_shown(&page)
            .into_iter()
            .map(|l| site.link_view(sections, l))
            .collect(),
        thread: page
            .thread
            .as_ref()
            .filter(|_| !page.thread_latest.is_empty())
            .map(|(id, title)| ThreadBox {
                title: title.clone(),
                url: format!("{}/thread/{id}", site.prefix(&edition)),
                stories: page
                    .thread_latest
                    .iter()
                    .map(|l| site.link_view(sections, l))
                    .collect(),
            }),
        corrections: article
            .corrections
            .iter()
            .map(|c| CorrectionView {
                note: c.note.clone(),
                time: site.dateline.time(c.at, &site.time_zone, &link.lang),
                datetime: c.at.to_string(),
            })
            .collect(),
        json_ld: crate::render::json_ld(&json_ld),
        section_name: sections
            .iter()
            .find(|s| s.key == link.section_key)
            .map(|s| s.name.text(lang, primary).to_string()),
        updated_iso: updated.unwrap_or(link.published).to_string(),
        image,
    };
    Ok(state.templates.render("article.html", view)?)
}
