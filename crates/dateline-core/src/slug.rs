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

    /// Makes a slug out of free text such as a headline or a category name. Text with no
    /// ASCII letters or digits (a Chinese headline, say) gives `fallback`.
    pub fn from_text(text: &str, fallback: &str) -> Slug {
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
        let trimmed = out.trim_matches('-');
        match Slug::parse(trimmed) {
            Ok(slug) => slug,
            Err(_) => Slug(fallback.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
        assert_eq!(
            Slug::from_text("Ad sales boost Time Warner profit", "x").as_str(),
            "ad-sales-boost-time-warner-profit"
        );
        assert_eq!(Slug::from_text("中俄关系", "article").as_str(), "article");
        assert_eq!(
            Slug::from_text("  UK: it's -- over!  ", "x").as_str(),
            "uk-it-s-over"
        );
    }

    proptest! {
        #[test]
        fn from_text_always_gives_a_valid_slug(s in ".*") {
            let slug = Slug::from_text(&s, "article");
            prop_assert!(Slug::parse(slug.as_str()).is_ok());
        }
    }
}
