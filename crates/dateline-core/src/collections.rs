//! Sections, series and topics: the ways a newsroom groups its articles.

use crate::html::LocalizedHtml;
use crate::{Localized, Slug};

/// A desk's part of the site, such as World; its numeric code appears in addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub key: Slug,
    pub code: u32,
    pub name: Localized,
}

/// A run of episodes, such as a talk show, possibly co-produced with partner outlets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub key: Slug,
    pub title: Localized,
    pub description: LocalizedHtml,
    /// The outlets that co-produce the series, credited on its pages.
    pub partners: Vec<String>,
}

/// A story thread, such as one country's relations with another, collecting every article on
/// it over the years under an editor's introduction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub key: Slug,
    pub title: Localized,
    pub intro: LocalizedHtml,
}

/// Title-cases a key for a section, series or topic that an import created by name only.
pub fn name_from_key(key: &Slug) -> String {
    key.as_str()
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}
