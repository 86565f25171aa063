//! Stable dated addresses such as `/n3/2021/1022/c90000-9910603.html`.
//!
//! The outlet sets the pattern; the article's numeric id is the only part that identifies it,
//! so an address whose other parts went stale (a changed headline or section) still finds the
//! article, and the site answers it with a redirect to the current address.

use std::fmt::Write;

use jiff::civil::Date;

/// A pattern such as `/n3/{year}/{month}{day}/c{section}-{id}.html`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPattern {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Year,
    Month,
    Day,
    Section,
    SectionKey,
    Id,
    Slug,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Field(Placeholder),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("address pattern {0:?} must start with \"/\"")]
    NoLeadingSlash(String),
    #[error("address pattern {0:?} must contain {{id}} exactly once")]
    IdCount(String),
    #[error("address pattern {pattern:?} has an unknown placeholder {{{name}}}; known ones are {{year}}, {{month}}, {{day}}, {{section}}, {{section_key}}, {{id}} and {{slug}}")]
    UnknownPlaceholder { pattern: String, name: String },
    #[error("address pattern {0:?} has an unclosed \"{{\"")]
    Unclosed(String),
    #[error("address pattern {0:?} puts two variable-length placeholders side by side; separate them with a character such as \"-\"")]
    Ambiguous(String),
    #[error("address pattern {0:?} may not contain \"?\", \"#\" or whitespace")]
    BadCharacter(String),
}

/// What an address is made of.
#[derive(Debug, Clone, Copy)]
pub struct AddressParts<'a> {
    pub id: i64,
    /// The first-publication date in the outlet's time zone.
    pub date: Date,
    pub section_code: u32,
    pub section_key: &'a str,
    pub slug: &'a str,
}

impl Placeholder {
    fn from_name(name: &str) -> Option<Placeholder> {
        Some(match name {
            "year" => Placeholder::Year,
            "month" => Placeholder::Month,
            "day" => Placeholder::Day,
            "section" => Placeholder::Section,
            "section_key" => Placeholder::SectionKey,
            "id" => Placeholder::Id,
            "slug" => Placeholder::Slug,
            _ => return None,
        })
    }

    fn fixed_width(self) -> Option<usize> {
        match self {
            Placeholder::Year => Some(4),
            Placeholder::Month | Placeholder::Day => Some(2),
            _ => None,
        }
    }

    fn accepts(self, b: u8) -> bool {
        match self {
            Placeholder::SectionKey | Placeholder::Slug => {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
            }
            _ => b.is_ascii_digit(),
        }
    }
}

impl AddressPattern {
    pub fn parse(pattern: &str) -> Result<AddressPattern, AddressError> {
        let err_pattern = || pattern.to_string();
        if !pattern.starts_with('/') {
            return Err(AddressError::NoLeadingSlash(err_pattern()));
        }
        if pattern.contains(['?', '#']) || pattern.chars().any(char::is_whitespace) {
            return Err(AddressError::BadCharacter(err_pattern()));
        }
        let mut tokens = Vec::new();
        let mut rest = pattern;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest
                        .find('}')
                        .ok_or_else(|| AddressError::Unclosed(err_pattern()))?;
                    let name = &rest[1..end];
                    let field = Placeholder::from_name(name).ok_or_else(|| {
                        AddressError::UnknownPlaceholder {
                            pattern: err_pattern(),
                            name: name.to_string(),
                        }
                    })?;
                    if let Some(Token::Field(prev)) = tokens.last() {
                        if prev.fixed_width().is_none() {
                            return Err(AddressError::Ambiguous(err_pattern()));
                        }
                    }
                    tokens.push(Token::Field(field));
                    rest = &rest[end + 1..];
                }
                Some(i) => {
                    tokens.push(Token::Literal(rest[..i].to_string()));
                    rest = &rest[i..];
                }
                None => {
                    tokens.push(Token::Literal(rest.to_string()));
                    rest = "";
                }
            }
        }
        let ids = tokens
            .iter()
            .filter(|t| **t == Token::Field(Placeholder::Id))
            .count();
        if ids != 1 {
            return Err(AddressError::IdCount(err_pattern()));
        }
        Ok(AddressPattern { tokens })
    }

    /// The address of an article.
    pub fn render(&self, parts: &AddressParts<'_>) -> String {
        let mut out = String::new();
        for token in &self.tokens {
            // Writing to a String cannot fail.
            let _ = match token {
                Token::Literal(s) => write!(out, "{s}"),
                Token::Field(Placeholder::Year) => write!(out, "{:04}", parts.date.year()),
                Token::Field(Placeholder::Month) => write!(out, "{:02}", parts.date.month()),
                Token::Field(Placeholder::Day) => write!(out, "{:02}", parts.date.day()),
                Token::Field(Placeholder::Section) => write!(out, "{}", parts.section_code),
                Token::Field(Placeholder::SectionKey) => write!(out, "{}", parts.section_key),
                Token::Field(Placeholder::Id) => write!(out, "{}", parts.id),
                Token::Field(Placeholder::Slug) => write!(out, "{}", parts.slug),
            };
        }
        out
    }

    /// The article id in `path`, if `path` has the pattern's shape. The other parts are not
    /// checked against the article: the caller compares `path` with the current address.
    pub fn match_id(&self, path: &str) -> Option<i64> {
        let mut id = None;
        if match_tokens(&self.tokens, path.as_bytes(), &mut id) {
            id.and_then(|digits: &[u8]| std::str::from_utf8(digits).ok()?.parse().ok())
        } else {
            None
        }
    }
}

/// Matches tokens against input, backtracking over the length of variable placeholders.
fn match_tokens<'a>(tokens: &[Token], input: &'a [u8], id: &mut Option<&'a [u8]>) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return input.is_empty();
    };
    match first {
        Token::Literal(lit) => {
            input.starts_with(lit.as_bytes()) && match_tokens(rest, &input[lit.len()..], id)
        }
        Token::Field(field) => {
            let run = input.iter().take_while(|&&b| field.accepts(b)).count();
            let lengths: Vec<usize> = match field.fixed_width() {
                Some(w) if run >= w => vec![w],
                Some(_) => vec![],
                None => (1..=run).rev().collect(),
            };
            for len in lengths {
                if match_tokens(rest, &input[len..], id) {
                    if *field == Placeholder::Id {
                        *id = Some(&input[..len]);
                    }
                    return true;
                }
            }
            false
        }
    }
}

/// A path as old addresses are kept and looked up: percent escapes in upper case
/// (`%c3%a9` and `%C3%A9` name the same path), so a permalink matches however it was encoded.
pub fn normalize_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            for _ in 0..2 {
                match chars.peek() {
                    Some(h) if h.is_ascii_hexdigit() => {
                        out.push(h.to_ascii_uppercase());
                        chars.next();
                    }
                    _ => break,
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const REFERENCE: &str = "/n3/{year}/{month}{day}/c{section}-{id}.html";

    fn parts(id: i64) -> AddressParts<'static> {
        AddressParts {
            id,
            date: jiff::civil::date(2021, 10, 22),
            section_code: 90000,
            section_key: "world",
            slug: "strong-momentum",
        }
    }

    #[test]
    fn reference_shape() {
        let p = AddressPattern::parse(REFERENCE).unwrap();
        assert_eq!(
            p.render(&parts(9910603)),
            "/n3/2021/1022/c90000-9910603.html"
        );
        assert_eq!(
            p.match_id("/n3/2021/1022/c90000-9910603.html"),
            Some(9910603)
        );
        assert_eq!(p.match_id("/n3/2020/0101/c1-9910603.html"), Some(9910603));
        for bad in [
            "/n3/2021/1022/c90000-.html",
            "/n3/21/1022/c9-1.html",
            "/n3/2021/1022/c90000-99x.html",
            "/",
        ] {
            assert_eq!(p.match_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn slug_patterns() {
        let p = AddressPattern::parse("/{section_key}/{year}/{id}-{slug}").unwrap();
        assert_eq!(p.render(&parts(42)), "/world/2021/42-strong-momentum");
        assert_eq!(p.match_id("/world/2021/42-strong-momentum"), Some(42));
        assert_eq!(p.match_id("/world/2021/42-an-old-headline"), Some(42));
        let long = AddressParts {
            slug: "a-headline-long-enough-to-run-past-forty-characters-of-slug",
            section_key: "a-section-key-of-some-length",
            ..parts(7)
        };
        assert_eq!(p.match_id(&p.render(&long)), Some(7));
    }

    #[test]
    fn rejects_bad_patterns() {
        assert!(matches!(
            AddressPattern::parse("n3/{id}"),
            Err(AddressError::NoLeadingSlash(_))
        ));
        assert!(matches!(
            AddressPattern::parse("/a/{year}"),
            Err(AddressError::IdCount(_))
        ));
        assert!(matches!(
            AddressPattern::parse("/{id}/{id}"),
            Err(AddressError::IdCount(_))
        ));
        assert!(matches!(
            AddressPattern::parse("/{idd}"),
            Err(AddressError::UnknownPlaceholder { .. })
        ));
        assert!(matches!(
            AddressPattern::parse("/{section}{id}"),
            Err(AddressError::Ambiguous(_))
        ));
        assert!(matches!(
            AddressPattern::parse("/{id"),
            Err(AddressError::Unclosed(_))
        ));
    }

    proptest! {
        #[test]
        fn every_rendered_address_matches_its_id(id in 1i64..i64::MAX, code in 0u32..1_000_000, y in 1970i16..2100, m in 1i8..=12, d in 1i8..=28) {
            let p = AddressPattern::parse(REFERENCE).unwrap();
            let parts = AddressParts { id, date: jiff::civil::date(y, m, d), section_code: code, section_key: "x", slug: "y" };
            prop_assert_eq!(p.match_id(&p.render(&parts)), Some(id));
        }
    }
}
