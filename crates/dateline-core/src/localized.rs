//! Text given in several languages, such as a section's name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A text in one or more languages, keyed by language tag. Reading it in a language that it
/// lacks falls back to the outlet's primary language, then to any language it has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Localized(BTreeMap<String, String>);

impl Localized {
    pub fn new(lang: &str, text: impl Into<String>) -> Localized {
        Localized(BTreeMap::from([(lang.to_string(), text.into())]))
    }

    pub fn insert(&mut self, lang: &str, text: impl Into<String>) {
        self.0.insert(lang.to_string(), text.into());
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
    }
}
