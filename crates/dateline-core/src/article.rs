//! Articles: what an editor submits, and what a reader is shown.

use std::fmt;

use jiff::{civil::Date, tz::TimeZone, Timestamp};

use crate::{AddressParts, AddressPattern, Lang, SafeHtml, Slug};

/// The numeric id that appears in an article's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArticleId(pub i64);

impl fmt::Display for ArticleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An article's stable key: the id it had in the system it came from, or one given by the
/// newsroom. Imports use it to recognise an article they already hold; editors use it in
/// inline links (`article:KEY`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArticleKey(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an article key: use 1 to 128 letters, digits, '.', '_', ':' or '-'")]
pub struct ArticleKeyError(pub String);

impl ArticleKey {
    pub fn parse(s: &str) -> Result<ArticleKey, ArticleKeyError> {
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if ok {
            Ok(ArticleKey(s.to_string()))
        } else {
            Err(ArticleKeyError(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ArticleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A series and the article's place in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesEpisode {
    pub series: Slug,
    pub episode: u32,
}

/// An article as submitted for publication: every field already parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArticle {
    pub key: ArticleKey,
    pub headline: String,
    pub summary: Option<String>,
    pub body: SafeHtml,
    pub lang: Lang,
    pub section: Slug,
    /// The writers, as printed: `By Mara Lindqvist and Li Wen`.
    pub byline: Option<String>,
    /// The wire or partner that supplied syndicated copy; the dateline names it instead of the
    /// outlet.
    pub credit: Option<String>,
    /// The staff who handled the page: `(Web editor: Hongyu, Bianji)`.
    pub web_editors: Vec<String>,
    pub published: Timestamp,
    pub updated: Option<Timestamp>,
    /// Related stories pinned by an editor, in order.
    pub related: Vec<ArticleKey>,
    /// The article this one translates.
    pub translation_of: Option<ArticleKey>,
    pub series: Option<SeriesEpisode>,
    pub topics: Vec<Slug>,
}

/// What lists, links and addresses need of a published article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleLink {
    pub id: ArticleId,
    pub key: ArticleKey,
    pub headline: String,
    pub summary: Option<String>,
    pub lang: Lang,
    pub section_key: Slug,
    pub section_code: u32,
    pub credit: Option<String>,
    pub published: Timestamp,
    pub updated: Option<Timestamp>,
    /// The episode number, in series listings.
    pub episode: Option<u32>,
}

impl ArticleLink {
    /// The first-publication date in the outlet's time zone, as in the address.
    pub fn local_date(&self, tz: &TimeZone) -> Date {
        self.published.to_zoned(tz.clone()).date()
    }

    /// The article's current address.
    pub fn address(&self, pattern: &AddressPattern, tz: &TimeZone) -> String {
        let slug = Slug::from_text(&self.headline, "article");
        pattern.render(&AddressParts {
            id: self.id.0,
            date: self.local_date(tz),
            section_code: self.section_code,
            section_key: self.section_key.as_str(),
            slug: slug.as_str(),
        })
    }

    /// Whether the article changed after it was first published.
    pub fn was_updated(&self) -> bool {
        self.updated.is_some_and(|u| u > self.published)
    }
}

/// A published article with everything its page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    pub link: ArticleLink,
    pub body: SafeHtml,
    pub byline: Option<String>,
    pub web_editors: Vec<String>,
    pub series: Option<SeriesEpisode>,
    pub topics: Vec<Slug>,
}

impl Article {
    /// The source named in the dateline: the wire credit, else the outlet.
    pub fn source<'a>(&'a self, outlet: &'a str) -> &'a str {
        self.link.credit.as_deref().unwrap_or(outlet)
    }
}

/// Collapses runs of whitespace, for headlines and names.
pub fn clean_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(ArticleKey::parse("bbc-business-001").is_ok());
        assert!(ArticleKey::parse("wcl50-0-L").is_ok());
        assert!(ArticleKey::parse("").is_err());
        assert!(ArticleKey::parse("a b").is_err());
        assert!(ArticleKey::parse(&"x".repeat(129)).is_err());
    }
}
