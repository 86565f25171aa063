//! Feeds: RSS 2.0, Atom 1.0 and JSON Feed 1.1 of each edition's home page and of every
//! section, topic, series and byline, at the page's address with `/feed.rss`, `/feed.atom` or
//! `/feed.json` after it (the home page's at `/feed.rss` and so on). Each carries the outlet's
//! setting of full text or summaries, the first image of each story as an enclosure, and the
//! WebSub hub the outlet names; each answers `If-None-Match` and `If-Modified-Since` with a 304
//! (`headers.rs`). Entries are identified by `tag:` URIs of the article's id, which stay when a
//! headline, and with it the address, changes.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use dateline_core::{Lang, Section, Slug};
use dateline_storage::{FeedEntry, Filter, Listing};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;

use crate::{AppError, AppState, Edition};

/// A feed's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// The last segment of the feed's address.
    pub fn file(self) -> &'static str {
        match self {
            Format::Rss => "feed.rss",
            Format::Atom => "feed.atom",
            Format::Json => "feed.json",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
            Format::Json => "application/feed+json",
        }
    }
}

/// What a feed lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Home,
    Section,
    Topic,
    Series,
    Byline,
    Thread,
}

impl Kind {
    fn segment(self) -> &'static str {
        match self {
            Kind::Home => "",
            Kind::Section => "section",
            Kind::Topic => "topic",
            Kind::Series => "series",
            Kind::Byline => "byline",
            Kind::Thread => "thread",
        }
    }
}

/// The feeds' routes of an edition whose addresses begin with `prefix`.
pub fn routes(prefix: &str) -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for format in Format::ALL {
        router = router.route(
            &format!("{prefix}/{}", format.file()),
            get(
                move |State(state): State<Arc<AppState>>,
                      Extension(Edition(lang)): Extension<Edition>| async move {
                    serve(&state, lang, Kind::Home, None, format).await
                },
            ),
        );
        for kind in [
            Kind::Section,
            Kind::Topic,
            Kind::Series,
            Kind::Byline,
            Kind::Thread,
        ] {
            router = router.route(
                &format!("{prefix}/{}/{{key}}/{}", kind.segment(), format.file()),
                get(
                    move |State(state): State<Arc<AppState>>,
                          Extension(Edition(lang)): Extension<Edition>,
                          path: Result<Path<String>, PathRejection>| async move {
                        let Path(raw) = path.map_err(|_| AppError::NotFound)?;
                        serve(&state, lang, kind, Some(raw), format).await
                    },
                ),
            );
        }
    }
    router
}

/// A feed's own description.
#[derive(Serialize)]
struct Channel {
    title: String,
    description: String,
    lang: String,
    outlet: String,
    /// The page the feed follows, absolute.
    page: String,
    /// The feed's own address, absolute.
    self_url: String,
    hub: Option<String>,
    /// When the newest entry changed, RFC 3339 and RFC 2822; the epoch when there are none.
    updated: String,
    updated_rfc2822: String,
}

#[derive(Serialize)]
struct Enclosure {
    url: String,
    kind: &'static str,
    length: u64,
}

#[derive(Serialize)]
struct EntryView {
    id: String,
    url: String,
    title: String,
    published: String,
    published_rfc2822: String,
    updated: String,
    authors: Vec<String>,
    category: String,
    category_key: String,
    summary: String,
    /// The body, with addresses made absolute, when the outlet's feeds carry full text.
    content: Option<String>,
    enclosure: Option<Enclosure>,
}

/// The links to an edition's or a page's feeds, for the page's `<head>`.
pub fn links(site: &crate::Site, page: &str, title: &str) -> Vec<FeedLink> {
    let base = page.trim_end_matches('/');
    Format::ALL
        .iter()
        .map(|f| FeedLink {
            title: format!("{title} ({})", f.name()),
            url: site.absolute(&format!("{base}/{}", f.file())),
            kind: f.media_type(),
        })
        .collect()
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Rss => "RSS",
            Format::Atom => "Atom",
            Format::Json => "JSON Feed",
        }
    }
}

/// A feed a page names in its `<head>`.
#[derive(Debug, Clone, Serialize)]
pub struct FeedLink {
    pub title: String,
    pub url: String,
    pub kind: &'static str,
}

async fn serve(
    state: &AppState,
    lang: Lang,
    kind: Kind,
    raw: Option<String>,
    format: Format,
) -> Result<Response, AppError> {
    let site = &state.site;
    // A key that does not parse names no page: a person's keeps letters of any script.
    let primary = site.primary().as_str();
    let slug = |raw: &str| Slug::parse(raw).map_err(|_| AppError::NotFound);
    // A topic's or series' feed: its title, and its introduction (or the outlet's name).
    let collection = |title: &dateline_core::Localized, intro: &dateline_core::LocalizedHtml| {
        let name = title.text(lang.as_str(), primary).to_string();
        let about = intro
            .get(lang.as_str(), primary)
            .map(|h| h.text())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| format!("{}: {name}", site.outlet));
        (
            format!("{name} – {}", site.outlet),
            crate::render::truncate(&about, 300),
        )
    };
    let sections = state.store.sections().await?;
    let prefix = site.prefix(&lang);
    let (title, description, filter, page) = match (kind, raw.as_deref()) {
        (Kind::Home, _) => (
            site.outlet.clone(),
            format!("{}: {}", site.outlet, crate::ui::ui(lang.as_str()).latest),
            Filter::All,
            format!("{prefix}/"),
        ),
        (Kind::Section, Some(raw)) => {
            let key = slug(raw)?;
            let section = sections
                .iter()
                .find(|s| s.key == key)
                .ok_or(AppError::NotFound)?;
            let name = section.name.text(lang.as_str(), primary).to_string();
            (
                format!("{name} – {}", site.outlet),
                format!("{}: {name}", site.outlet),
                Filter::Section(key.clone()),
                site.section_url(&lang, key.as_str()),
            )
        }
        (Kind::Topic, Some(raw)) => {
            let key = slug(raw)?;
            let topic = state.store.topic(&key).await?.ok_or(AppError::NotFound)?;
            let (title, about) = collection(&topic.title, &topic.intro);
            let page = format!("{prefix}/topic/{key}");
            (title, about, Filter::Topic(key), page)
        }
        (Kind::Series, Some(raw)) => {
            let key = slug(raw)?;
            let series = state.store.series(&key).await?.ok_or(AppError::NotFound)?;
            let (title, about) = collection(&series.title, &series.description);
            let page = format!("{prefix}/series/{key}");
            (title, about, Filter::SeriesNewest(key), page)
        }
        (Kind::Byline, Some(raw)) => {
            let key = dateline_core::PersonKey::parse(raw).map_err(|_| AppError::NotFound)?;
            let name = state
                .store
                .person(&key, Timestamp::now())
                .await?
                .ok_or(AppError::NotFound)?;
            (
                format!("{name} – {}", site.outlet),
                format!("{}: {name}", site.outlet),
                Filter::Person(key.clone()),
                format!("{prefix}/byline/{}", key.path_segment()),
            )
        }
        (Kind::Thread, Some(raw)) => {
            let id = super::listing::thread_id(raw).ok_or(AppError::NotFound)?;
            let found = state
                .store
                .thread(
                    id,
                    dateline_storage::ThreadLookup::Live {
                        as_of: Timestamp::now(),
                        limit: 0,
                        offset: 0,
                    },
                )
                .await?;
            let Some(dateline_storage::ThreadFound::Thread(thread)) = found else {
                return Err(AppError::NotFound);
            };
            if thread.size == 0 {
                return Err(AppError::NotFound);
            }
            (
                format!("{} – {}", thread.title, site.outlet),
                format!("{}: {}", site.outlet, thread.title),
                Filter::ThreadNewest(id),
                format!("{prefix}/thread/{id}"),
            )
        }
        (_, None) => return Err(AppError::NotFound),
    };
    let tags = crate::cache::Tags::listing(&lang, &filter);
    let entries = state
        .store
        .feed(&Listing {
            lang: lang.clone(),
            filter,
            limit: site.feeds.items,
            offset: 0,
            as_of: Timestamp::now(),
        })
        .await?;
    let newest = entries
        .iter()
        .map(|e| {
            e.link
                .updated
                .unwrap_or(e.link.published)
                .max(e.link.published)
        })
        .max();
    let self_url = site.absolute(&format!("{}/{}", page.trim_end_matches('/'), format.file()));
    let updated_at = newest.unwrap_or(Timestamp::UNIX_EPOCH);
    let channel = Channel {
        title,
        description,
        lang: lang.to_string(),
        outlet: site.outlet.clone(),
        page: site.absolute(&page),
        self_url: self_url.clone(),
        hub: site.feeds.hub.clone(),
        updated: updated_at.to_string(),
        updated_rfc2822: http_date(updated_at),
    };
    let mut views = Vec::with_capacity(entries.len());
    for e in &entries {
        views.push(entry_view(state, &sections, e).await);
    }
    let body = match format {
        Format::Rss | Format::Atom => {
            let template = if format == Format::Rss {
                "feeds/rss.xml"
            } else {
                "feeds/atom.xml"
            };
            state.templates.render(
                template,
                minijinja::context! { c => channel, entries => views },
            )?
        }
        Format::Json => json_feed(&channel, &views).to_string(),
    };
    let mut response = (
        axum::Extension(tags),
        [(
            header::CONTENT_TYPE,
            format!("{}; charset=utf-8", format.media_type()),
        )],
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    if let Some(newest) = newest {
        if let Ok(v) = HeaderValue::from_str(&http_date(newest)) {
            headers.insert(header::LAST_MODIFIED, v);
        }
    }
    let mut link = format!("<{self_url}>; rel=\"self\"");
    if let Some(hub) = &site.feeds.hub {
        link = format!("<{hub}>; rel=\"hub\", {link}");
    }
    if let Ok(v) = HeaderValue::from_str(&link) {
        headers.insert(header::LINK, v);
    }
    Ok(response)
}

/// An HTTP date (RFC 9110), which RSS 2.0's RFC 822 dates also accept.
pub fn http_date(t: Timestamp) -> String {
    jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&t)
        .unwrap_or_default()
}

/// A `tag:` URI (RFC 4151) for an article: the site's host, the day it was first published,
/// and its id; it never changes, whatever happens to the headline and the address.
pub fn tag_uri(site: &crate::Site, id: i64, published: Timestamp) -> String {
    crate::syndication::tag(site, &format!("article-{id}"), published)
}

async fn entry_view(state: &AppState, sections: &[Section], e: &FeedEntry) -> EntryView {
    let site = &state.site;
    let link = &e.link;
    let view = site.link_view(sections, link);
    let url = site.absolute(&view.url);
    let summary = match &link.summary {
        Some(s) if !s.is_empty() => s.clone(),
        _ => crate::render::truncate(&e.body.text(), 300),
    };
    let content = site
        .feeds
        .full_content
        .then(|| absolute_addresses(e.body.as_str(), &site.base_url));
    let enclosure = match first_image(e.body.as_str()) {
        Some(src) => enclosure(state, &src).await,
        None => None,
    };
    let updated = link.updated.unwrap_or(link.published).max(link.published);
    EntryView {
        id: tag_uri(site, link.id.get(), link.published),
        url,
        title: link.headline.clone(),
        published: link.published.to_string(),
        published_rfc2822: http_date(link.published),
        updated: updated.to_string(),
        authors: e
            .byline
            .as_deref()
            .map(dateline_core::article::authors)
            .unwrap_or_default(),
        category: view.section,
        category_key: link.section_key.to_string(),
        summary,
        content,
        enclosure,
    }
}

fn json_feed(c: &Channel, entries: &[EntryView]) -> serde_json::Value {
    let items: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let mut item = json!({
                "id": e.id,
                "url": e.url,
                "title": e.title,
                "summary": e.summary,
                "date_published": e.published,
                "date_modified": e.updated,
                "tags": [e.category],
                "language": c.lang,
            });
            match &e.content {
                Some(html) => item["content_html"] = json!(html),
                None => item["content_text"] = json!(e.summary),
            }
            if !e.authors.is_empty() {
                item["authors"] = e.authors.iter().map(|a| json!({ "name": a })).collect();
            }
            if let Some(img) = &e.enclosure {
                item["image"] = json!(img.url);
                item["attachments"] = json!([{
                    "url": img.url,
                    "mime_type": img.kind,
                    "size_in_bytes": img.length,
                }]);
            }
            item
        })
        .collect();
    let mut feed = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": c.title,
        "home_page_url": c.page,
        "feed_url": c.self_url,
        "description": c.description,
        "language": c.lang,
        "authors": [{ "name": c.outlet }],
        "items": items,
    });
    if let Some(hub) = &c.hub {
        feed["hubs"] = json!([{ "type": "WebSub", "url": hub }]);
    }
    feed
}

/// The address of the first image of a body, as written (entities decoded).
pub(crate) fn first_image(html: &str) -> Option<String> {
    let at = html.find("<img ")?;
    let tag = &html[at..at + html[at..].find('>')?];
    let start = tag.find(" src=\"")? + 6;
    let end = start + tag[start..].find('"')?;
    Some(tag[start..end].replace("&amp;", "&"))
}

/// An image's enclosure: its absolute address, its type by its name, and its size where the
/// image is one this site keeps (RSS asks for a length; 0 says it is not known).
async fn enclosure(state: &AppState, src: &str) -> Option<Enclosure> {
    let lower = src.to_ascii_lowercase();
    let path = lower.split(['?', '#']).next().unwrap_or_default();
    let kind = if path.ends_with(".png") {
        "image/png"
    } else if path.ends_with(".webp") {
        "image/webp"
    } else if path.ends_with(".gif") {
        "image/gif"
    } else if path.ends_with(".avif") {
        "image/avif"
    } else {
        "image/jpeg"
    };
    let (url, length) = if src.starts_with('/') && !src.starts_with("//") {
        (
            state.site.absolute(src),
            state.site.media.stored_size(src).await,
        )
    } else if src.starts_with("https://") || src.starts_with("http://") {
        (src.to_string(), 0)
    } else {
        return None;
    };
    Some(Enclosure { url, kind, length })
}

/// A body with the site's own addresses (`/...` in `href`, `src` and `srcset`) made absolute,
/// as a feed reader elsewhere needs them.
pub fn absolute_addresses(html: &str, base: &str) -> String {
    let mut out = String::with_capacity(html.len() + 256);
    let mut rest = html;
    while let Some(at) = [" href=\"", " src=\"", " srcset=\""]
        .iter()
        .filter_map(|a| rest.find(a).map(|i| (i, a.len())))
        .min()
    {
        let (i, len) = at;
        out.push_str(&rest[..i + len]);
        rest = &rest[i + len..];
        let end = rest.find('"').unwrap_or(rest.len());
        let value = &rest[..end];
        if out.ends_with(" srcset=\"") {
            let parts: Vec<String> = value
                .split(',')
                .map(|c| {
                    let c = c.trim();
                    if c.starts_with('/') && !c.starts_with("//") {
                        format!("{base}{c}")
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            out.push_str(&parts.join(", "));
        } else if value.starts_with('/') && !value.starts_with("//") {
            out.push_str(base);
            out.push_str(value);
        } else {
            out.push_str(value);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_a_body_become_absolute() {
        let html = r#"<p><a href="/n3/x.html">a</a> <a href="https://e.org/">b</a></p><img src="/media/ab/480.jpg" srcset="/media/ab/480.jpg 480w, /media/ab/960.jpg 960w" alt=""><a href="//evil/">c</a>"#;
        let out = absolute_addresses(html, "https://news.example.org");
        assert_eq!(
            out,
            r#"<p><a href="https://news.example.org/n3/x.html">a</a> <a href="https://e.org/">b</a></p><img src="https://news.example.org/media/ab/480.jpg" srcset="https://news.example.org/media/ab/480.jpg 480w, https://news.example.org/media/ab/960.jpg 960w" alt=""><a href="//evil/">c</a>"#
        );
        assert_eq!(first_image(html).as_deref(), Some("/media/ab/480.jpg"));
        assert_eq!(first_image("<p>no image</p>"), None);
    }
}
