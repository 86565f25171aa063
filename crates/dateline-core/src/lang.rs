//! Language tags of articles and editions.

use std::fmt;

/// A BCP 47 language tag such as `en`, `zh`, `zh-Hans` or `ru`, normalised to lowercase
/// primary subtag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lang(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a language tag such as \"en\", \"zh\" or \"pt-BR\"")]
pub struct LangError(pub String);

/// Primary languages written right to left.
const RTL: &[&str] = &[
    "ar", "arc", "dv", "fa", "he", "ks", "ku", "ps", "sd", "ug", "ur", "yi",
];

impl Lang {
    pub fn parse(s: &str) -> Result<Lang, LangError> {
        let s = s.trim();
        let mut parts = s.split(['-', '_']);
        let primary = parts.next().unwrap_or_default();
        let primary_ok =
            (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic());
        let rest: Vec<&str> = parts.collect();
        let rest_ok = rest
            .iter()
            .all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if !primary_ok || !rest_ok {
            return Err(LangError(s.to_string()));
        }
        let mut tag = primary.to_ascii_lowercase();
        for part in rest {
            tag.push('-');
            // Regions are upper case, scripts title case, anything else as given.
            match part.len() {
                2 => tag.push_str(&part.to_ascii_uppercase()),
                4 => {
                    tag.push_str(&part[..1].to_ascii_uppercase());
                    tag.push_str(&part[1..].to_ascii_lowercase());
                }
                _ => tag.push_str(part),
            }
        }
        Ok(Lang(tag))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The primary subtag: `zh` for `zh-Hans`.
    pub fn primary(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }

    /// The writing direction for the `dir` attribute: `rtl` or `ltr`.
    pub fn dir(&self) -> &'static str {
        if RTL.contains(&self.primary()) {
            "rtl"
        } else {
            "ltr"
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_rejects() {
        assert_eq!(Lang::parse("EN").unwrap().as_str(), "en");
        assert_eq!(Lang::parse("zh_hans").unwrap().as_str(), "zh-Hans");
        assert_eq!(Lang::parse("pt-br").unwrap().as_str(), "pt-BR");
        assert!(Lang::parse("english").is_err());
        assert!(Lang::parse("").is_err());
        assert!(Lang::parse("e1").is_err());
    }

    #[test]
    fn direction() {
        assert_eq!(Lang::parse("ar").unwrap().dir(), "rtl");
        assert_eq!(Lang::parse("he-IL").unwrap().dir(), "rtl");
        assert_eq!(Lang::parse("ru").unwrap().dir(), "ltr");
    }
}
