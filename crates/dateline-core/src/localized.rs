//! Text given in several languages, such as a section's name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::text::clean_line;

/// A one-line text in one or more languages, keyed by language tag, such as a section's name:
/// control characters removed and whitespace collapsed however it is made. Reading it in a
/// language that it lacks falls back to the outlet's primary language, then to any language it
/// has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "BTreeMap<String, String>")]
pub struct Localized(BTreeMap<String, String>);

impl From<BTreeMap<String, String>> for Localized {
    fn from(texts: BTreeMap<String, String>) -> Localized {
        Localized(
            texts
                .into_iter()
                .map(|(lang, text)| (lang, clean_line(&text)))
                .collect(),
        )
    }
}

impl Localized {
    pub fn new(lang: &str, text: impl Into<String>) -> Localized {
        Localized(BTreeMap::from([(
            lang.to_string(),
            clean_line(&text.into()),
        )]))
    }

    pub fn insert(&mut self, lang: &str, text: impl Into<String>) {
        self.0.insert(lang.to_string(), clean_line(&text.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(|v| v.trim().is_empty())
    }

    /// The text in `lang`, else in `fallback`, else in any language; with the language it is in.
    pub fn get<'a>(&'a self, lang: &str, fallback: &'a str) -> (&'a str, &'a str) {
        self.0
            .get_key_value(lang)
            .or_else(|| self.0.get_key_value(fallback))
            .or_else(|| self.0.iter().next())
            .map(|(l, t)| (t.as_str(), l.as_str()))
            .unwrap_or(("", fallback))
    }

    pub fn text<'a>(&'a self, lang: &str, fallback: &'a str) -> &'a str {
        self.get(lang, fallback).0
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(l, t)| (l.as_str(), t.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back() {
        let mut name = Localized::new("en", "World");
        name.insert("zh", "国际");
        assert_eq!(name.get("zh", "en"), ("国际", "zh"));
        assert_eq!(name.get("ru", "en"), ("World", "en"));
        assert_eq!(
            Localized::new("fr", "Monde").get("ru", "en"),
            ("Monde", "fr")
        );
        let read: Localized = serde_json::from_str(r#"{"en": " World\u0000 \n news"}"#).unwrap();
        assert_eq!(read.text("en", "en"), "World news");
    }
}
