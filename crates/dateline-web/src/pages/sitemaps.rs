//! Sitemaps: `/sitemap.xml`, an index of the Google News sitemap (the articles of the last
//! two days, at most 1,000) and of the archive's sitemaps, each listing the live articles of
//! one span of 50,000 ids, so that a file changes only when one of its own articles does.
//! robots.txt names the index. A sitemap with nothing to list is not served (the protocol asks
//! for at least one address) and not named in the index.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use dateline_storage::SITEMAP_SPAN;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::cache::Tags;
use crate::{AppError, AppState};

/// How far back the news sitemap reaches, and how many articles it lists at most: Google's
/// rules for a news sitemap.
const NEWS_REACH: SignedDuration = SignedDuration::from_hours(48);
const NEWS_MOST: u32 = 1_000;

#[derive(Serialize)]
struct MapEntry {
    loc: String,
    lastmod: Option<String>,
}

#[derive(Serialize)]
struct UrlEntry {
    loc: String,
    lastmod: String,
    lang: String,
    published: String,
    title: String,
}

fn xml(body: String, tags: Tags) -> Response {
    (
        Extension(tags),
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A language as the news sitemap names it: an ISO 639 code, with a region where there is one.
fn news_language(lang: &str) -> String {
    let lower = lang.to_ascii_lowercase();
    let mut parts = lower.split('-');
    let primary = parts.next().unwrap_or("en");
    match parts.next() {
        Some(region) if region.len() == 2 => format!("{primary}-{region}"),
        _ => primary.to_string(),
    }
}

/// `/sitemap.xml`: the index.
pub async fn index(State(state): State<Arc<AppState>>) -> Result<Response, AppError> {
    let now = Timestamp::now();
    let site = &state.site;
    let mut maps = Vec::new();
    let mut tags = Tags::every_article();
    let news = state
        .store
        .published_since(now - NEWS_REACH, now, 1)
        .await?;
    if let Some(newest) = news.first() {
        // The news sitemap leaves the index when its newest story is two days old.
        tags.until(newest.published + NEWS_REACH);
        maps.push(MapEntry {
            loc: site.absolute("/sitemaps/news.xml"),
            lastmod: Some(newest.published.to_string()),
        });
    }
    for (span, changed) in state.store.sitemap_spans(now).await? {
        maps.push(MapEntry {
            loc: site.absolute(&format!("/sitemaps/articles-{span}.xml")),
            lastmod: Some(changed.to_string()),
        });
    }
    Ok(xml(
        state
            .templates
            .render("sitemaps/index.xml", minijinja::context! { maps })?,
        tags,
    ))
}

/// `/sitemaps/news.xml` and `/sitemaps/articles-N.xml`.
pub async fn file(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let now = Timestamp::now();
    let site = &state.site;
    let (news, links) = if name == "news.xml" {
        (
            true,
            state
                .store
                .published_since(now - NEWS_REACH, now, NEWS_MOST)
                .await?,
        )
    } else {
        let span: i64 = name
            .strip_prefix("articles-")
            .and_then(|n| n.strip_suffix(".xml"))
            .filter(|n| !n.starts_with('0') || *n == "0")
            .and_then(|n| n.parse().ok())
            .filter(|n| (0..i64::MAX / SITEMAP_SPAN - 1).contains(n))
            .ok_or(AppError::NotFound)?;
        let first = span * SITEMAP_SPAN + 1;
        (
            false,
            state
                .store
                .live_in(first..=first + SITEMAP_SPAN - 1, now)
                .await?,
        )
    };
    if links.is_empty() {
        return Err(AppError::NotFound);
    }
    let mut tags = Tags::every_article();
    if news {
        // The oldest story leaves the news sitemap when it is two days old.
        if let Some(oldest) = links.iter().map(|l| l.published).min() {
            tags.until(oldest + NEWS_REACH);
        }
    }
    let urls: Vec<UrlEntry> = links
        .iter()
        .map(|l| UrlEntry {
            loc: site.absolute(&l.address(&site.address, &site.time_zone)),
            lastmod: l
                .updated
                .unwrap_or(l.published)
                .max(l.published)
                .to_string(),
            lang: news_language(l.lang.as_str()),
            published: l.published.to_string(),
            title: l.headline.clone(),
        })
        .collect();
    let template = if news {
        "sitemaps/news.xml"
    } else {
        "sitemaps/urls.xml"
    };
    Ok(xml(
        state.templates.render(
            template,
            minijinja::context! { urls, outlet => site.outlet.clone() },
        )?,
        tags,
    ))
}

/// robots.txt: everything public may be crawled, the newsroom's own pages not; the sitemap
/// index is named.
pub async fn robots(State(state): State<Arc<AppState>>) -> Response {
    (
        Extension(Tags::settings()),
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!(
            "User-agent: *\nAllow: /\nDisallow: /admin\nDisallow: /api/\n\nSitemap: {}\n",
            state.site.absolute("/sitemap.xml")
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_as_news_sitemaps_name_them() {
        assert_eq!(news_language("en"), "en");
        assert_eq!(news_language("zh-CN"), "zh-cn");
        assert_eq!(news_language("zh-Hans"), "zh");
    }
}
