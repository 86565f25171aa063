//! Slugs: the keys of sections, series and topics, and the words of an address.

use std::fmt;

/// A lowercase ASCII slug such as `world` or `ambassador-talks`: letters, digits and single
/// hyphens, at most 80 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a slug: use lowercase letters, digits and hyphens, such as \"world-news\"")]
pub struct SlugError(pub String);

impl Slug {
    pub fn parse(s: &str) -> Result<Slug, SlugError> {
        let ok = !s.is_empty()
            && s.len() <= 80
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--");
        if ok {
            Ok(Slug(s.to_string()))
        } else {
            Err(SlugError(s.to_string()))
        }
    }

    /// Makes a slug out of free text such as a headline or a category name; `None` for text
    /// with no ASCII letters or digits (a Chinese headline, say), where the caller has a
    /// fallback slug of its own.
    pub fn from_text(text: &str) -> Option<Slug> {
        let mut out = String::new();
        for c in text.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            if out.len() >= 60 {
                break;
            }
        }
        Slug::parse(out.trim_matches('-')).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's key, for their byline page: their name in lower case, letters and digits of any
/// script, words joined by hyphens ("mara-lindqvist", "josé-pérez", "林晓", "анна-соколова").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonKey(String);

impl PersonKey {
    /// The most characters of a key.
    pub const MAX: usize = 80;

    /// The key of a person's name; `None` for a name with no letter or digit.
    pub fn from_name(name: &str) -> Option<PersonKey> {
        let mut out = String::new();
        let mut chars = 0;
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_alphanumeric() {
                out.push(c);
                chars += 1;
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
                chars += 1;
            }
            if chars >= Self::MAX {
                break;
            }
        }
        let out = out.trim_matches('-');
        (!out.is_empty()).then(|| PersonKey(out.to_string()))
    }

    /// A key as an address gives it: only what [`PersonKey::from_name`] makes.
    pub fn parse(s: &str) -> Result<PersonKey, SlugError> {
        match PersonKey::from_name(s) {
            Some(k) if k.0 == s => Ok(k),
            _ => Err(SlugError(s.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as a path segment: every byte outside ASCII percent-encoded.
    pub fn path_segment(&self) -> String {
        let mut out = String::with_capacity(self.0.len() * 3);
        for b in self.0.bytes() {
            if b.is_ascii() {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
}

impl fmt::Display for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses() {
        assert!(Slug::parse("world").is_ok());
        assert!(Slug::parse("ambassador-talks-2").is_ok());
        for bad in ["", "World", "a--b", "-a", "a-", "a b", "日本"] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn from_text() {
        let slug = |s| Slug::from_text(s).map(|s| s.to_string());
        assert_eq!(
            slug("Ad sales boost Time Warner profit").as_deref(),
            Some("ad-sales-boost-time-warner-profit")
        );
        assert_eq!(slug("中俄关系"), None);
        assert_eq!(slug(" -- !"), None);
        assert_eq!(
            slug("  UK: it's -- over!  ").as_deref(),
            Some("uk-it-s-over")
        );
    }

    /// Text that is mostly or wholly without ASCII letters and digits, so that many cases reach
    /// the no-slug branch.
    fn headline_like() -> impl Strategy<Value = String> {
        prop_oneof![
            ".*",
            "[^a-zA-Z0-9]*",
            "[-_ !?。中文Ünï\\-]{0,40}",
            "[a-zA-Z0-9 -]{0,200}",
        ]
    }

    proptest! {
        #[test]
        fn from_text_gives_a_parsed_slug_or_none(s in headline_like()) {
            match Slug::from_text(&s) {
                Some(slug) => {
                    prop_assert_eq!(Slug::parse(slug.as_str()), Ok(slug.clone()));
                    prop_assert!(slug.as_str().len() <= 60);
                }
                None => prop_assert!(
                    !s.chars().any(|c| c.to_lowercase().any(|l| l.is_ascii_alphanumeric())),
                    "{:?} has letters or digits but gave no slug", s
                ),
            }
        }
    }
}
