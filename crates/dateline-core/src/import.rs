//! Parsing one line of a JSON Lines import into a [`NewArticle`].
//!
//! Field names differ between sources; a [`FieldMap`] says where each of Dateline's fields is
//! found in the source, so no data file needs editing.

use std::collections::BTreeMap;

use jiff::{civil::DateTime, tz::TimeZone, Timestamp};
use serde_json::{Map, Value};

use crate::article::{clean_line, SeriesEpisode};
use crate::html::looks_like_html;
use crate::{ArticleKey, Lang, NewArticle, SafeHtml, Slug};

/// Dateline's import fields, with what each holds.
pub const FIELDS: &[(&str, &str)] = &[
    (
        "id",
        "required: the article's stable key in its source; importing it again updates it",
    ),
    (
        "headline",
        "required (or see --headline-from-body): the headline",
    ),
    ("summary", "a standfirst of a sentence or two"),
    (
        "body",
        "the body: HTML (sanitized) or plain text with blank lines between paragraphs",
    ),
    (
        "lang",
        "the language tag, e.g. en, zh, ru (default: --lang)",
    ),
    (
        "section",
        "the section key; free text such as \"UK/WORLD\" becomes uk-world (default: --section)",
    ),
    ("byline", "the writers, as printed"),
    (
        "credit",
        "the wire or partner of syndicated copy, named in the dateline",
    ),
    (
        "web_editors",
        "the web editors: a list, or names separated by commas",
    ),
    (
        "published",
        "first publication, RFC 3339 (e.g. 2021-10-22T09:37:00Z)",
    ),
    (
        "published_local",
        "first publication in the outlet's time zone, e.g. 2022-03-07T17:49:00",
    ),
    ("updated", "last substantive update, RFC 3339"),
    ("related", "keys of related stories, in order"),
    (
        "translation_of",
        "the key of the article this one translates",
    ),
    (
        "series",
        "the key of the series this article is an episode of",
    ),
    ("episode", "the episode number in that series"),
    (
        "topics",
        "keys of the topics (story threads) this article belongs to",
    ),
];

/// Where each Dateline field is read from in the source: `headline` from `title`, say.
#[derive(Debug, Clone, Default)]
pub struct FieldMap(BTreeMap<String, String>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldMapError {
    #[error("--map {0:?}: write it as FIELD=SOURCE_FIELD, e.g. headline=title")]
    Shape(String),
    #[error("--map {0:?}: {1:?} is not a Dateline field; the fields are {2}")]
    UnknownField(String, String, String),
}

impl FieldMap {
    /// Parses `FIELD=SOURCE` pairs.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = &'a str>) -> Result<FieldMap, FieldMapError> {
        let mut map = BTreeMap::new();
        for pair in pairs {
            let (field, source) = pair
                .split_once('=')
                .filter(|(f, s)| !f.trim().is_empty() && !s.trim().is_empty())
                .ok_or_else(|| FieldMapError::Shape(pair.to_string()))?;
            let field = field.trim();
            if !FIELDS.iter().any(|(f, _)| *f == field) {
                let names = FIELDS
                    .iter()
                    .map(|(f, _)| *f)
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(FieldMapError::UnknownField(
                    pair.to_string(),
                    field.to_string(),
                    names,
                ));
            }
            map.insert(field.to_string(), source.trim().to_string());
        }
        Ok(FieldMap(map))
    }

    fn source<'a>(&'a self, field: &'a str) -> &'a str {
        self.0.get(field).map(String::as_str).unwrap_or(field)
    }
}

/// How the body of a line is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyFormat {
    /// HTML if it contains block or inline tags, else plain text.
    #[default]
    Auto,
    Html,
    Text,
}

/// Settings for a whole import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub fields: FieldMap,
    pub default_lang: Lang,
    pub default_section: Slug,
    /// The outlet's time zone, for `published_local`.
    pub time_zone: TimeZone,
    /// The publication time of lines that give none; without it such lines are rejected.
    pub undated_at: Option<Timestamp>,
    /// Take the first paragraph of the body as the headline when a line has none.
    pub headline_from_body: bool,
    pub body_format: BodyFormat,
    pub max_line_bytes: usize,
}

/// Why one line was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct LineError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, LineError> {
    Err(LineError(msg.into()))
}

struct Line<'a> {
    obj: &'a Map<String, Value>,
    opts: &'a ImportOptions,
}

impl<'a> Line<'a> {
    /// The value of a Dateline field, `None` when absent or null.
    fn get(&self, field: &'a str) -> Option<(&'a str, &'a Value)> {
        let source = self.opts.fields.source(field);
        self.obj
            .get(source)
            .filter(|v| !v.is_null())
            .map(|v| (source, v))
    }

    fn string(&self, field: &'a str) -> Result<Option<String>, LineError> {
        match self.get(field) {
            None => Ok(None),
            Some((_, Value::String(s))) if s.trim().is_empty() => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s.clone())),
            Some((_, Value::Number(n))) => Ok(Some(n.to_string())),
            Some((source, other)) => {
                err(format!("{source:?} must be a string, not {}", kind(other)))
            }
        }
    }

    fn strings(&self, field: &'a str) -> Result<Vec<String>, LineError> {
        match self.get(field) {
            None => Ok(vec![]),
            Some((_, Value::String(s))) => Ok(s
                .split(',')
                .map(clean_line)
                .filter(|s| !s.is_empty())
                .collect()),
            Some((source, Value::Array(items))) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(clean_line(s)),
                    other => err(format!("{source:?} must hold strings, not {}", kind(other))),
                })
                .filter(|r| r.as_ref().map_or(true, |s| !s.is_empty()))
                .collect(),
            Some((source, other)) => err(format!(
                "{source:?} must be a list of strings, not {}",
                kind(other)
            )),
        }
    }

    fn timestamp(&self, field: &'a str) -> Result<Option<Timestamp>, LineError> {
        let Some(text) = self.string(field)? else {
            return Ok(None);
        };
        let source = self.opts.fields.source(field);
        text.trim().parse::<Timestamp>().map(Some).or_else(|_| {
            err(format!(
                "{source:?} is not an RFC 3339 time such as 2021-10-22T09:37:00Z: {text:?}"
            ))
        })
    }

    fn local_timestamp(&self, field: &'a str) -> Result<Option<Timestamp>, LineError> {
        let Some(text) = self.string(field)? else {
            return Ok(None);
        };
        let source = self.opts.fields.source(field);
        let civil: DateTime = text.trim().parse().or_else(|_| {
            err(format!(
                "{source:?} is not a local time such as 2022-03-07T17:49:00: {text:?}"
            ))
        })?;
        civil
            .to_zoned(self.opts.time_zone.clone())
            .map(|z| Some(z.timestamp()))
            .or_else(|e| {
                err(format!(
                    "{source:?} {text:?} has no place in the outlet's time zone: {e}"
                ))
            })
    }

    fn key(&self, field: &'a str, value: &str) -> Result<ArticleKey, LineError> {
        ArticleKey::parse(value.trim())
            .or_else(|e| err(format!("{:?}: {e}", self.opts.fields.source(field))))
    }

    fn slug(&self, field: &'a str, value: &str) -> Result<Slug, LineError> {
        Slug::parse(value.trim())
            .or_else(|e| err(format!("{:?}: {e}", self.opts.fields.source(field))))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Parses one line of a JSON Lines import.
pub fn parse_line(text: &str, opts: &ImportOptions) -> Result<NewArticle, LineError> {
    if text.len() > opts.max_line_bytes {
        return err(format!(
            "the line is {} bytes, over the limit of {} (--max-line-bytes)",
            text.len(),
            opts.max_line_bytes
        ));
    }
    let value: Value =
        serde_json::from_str(text).or_else(|e| err(format!("not valid JSON: {e}")))?;
    let Value::Object(obj) = &value else {
        return err(format!(
            "a line must be a JSON object, not {}",
            kind(&value)
        ));
    };
    parse_object(obj, opts)
}

/// Parses an import record that is already a JSON object.
pub fn parse_object(
    obj: &Map<String, Value>,
    opts: &ImportOptions,
) -> Result<NewArticle, LineError> {
    let line = Line { obj, opts };
    let fields = &opts.fields;

    let key = match line.string("id")? {
        Some(id) => line.key("id", &id)?,
        None => {
            return err(format!(
                "{:?} is missing: every article needs a stable key",
                fields.source("id")
            ))
        }
    };

    let body_text = line.string("body")?.unwrap_or_default();
    let html = match opts.body_format {
        BodyFormat::Html => true,
        BodyFormat::Text => false,
        BodyFormat::Auto => looks_like_html(&body_text),
    };
    let mut body = if html {
        SafeHtml::sanitize(&body_text)
    } else {
        SafeHtml::from_text(&body_text)
    };

    let headline = match line.string("headline")? {
        Some(h) => clean_line(&h),
        None if opts.headline_from_body => {
            let (first, rest) = split_first_paragraph(&body);
            body = rest;
            first
        }
        None => String::new(),
    };
    if headline.is_empty() {
        return err(format!(
            "{:?} is missing or empty",
            fields.source("headline")
        ));
    }
    if headline.chars().count() > 500 {
        return err(format!(
            "{:?} is over 500 characters",
            fields.source("headline")
        ));
    }

    let lang = match line.string("lang")? {
        Some(l) => Lang::parse(&l).or_else(|e| err(format!("{:?}: {e}", fields.source("lang"))))?,
        None => opts.default_lang.clone(),
    };
    let section = match line.string("section")? {
        Some(s) => Slug::from_text(&s, opts.default_section.as_str()),
        None => opts.default_section.clone(),
    };

    let published = match (line.timestamp("published")?, line.local_timestamp("published_local")?) {
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => match opts.undated_at {
            Some(t) => t,
            None => {
                return err(format!(
                    "no publication time: {:?} and {:?} are missing (map a field with --map published=FIELD, or give --undated-at)",
                    fields.source("published"),
                    fields.source("published_local")
                ))
            }
        },
    };
    let updated = line.timestamp("updated")?;
    if let Some(u) = updated {
        if u < published {
            return err(format!(
                "{:?} ({u}) is before the publication time ({published})",
                fields.source("updated")
            ));
        }
    }

    let related = line
        .strings("related")?
        .iter()
        .map(|k| line.key("related", k))
        .collect::<Result<Vec<_>, _>>()?;
    let translation_of = match line.string("translation_of")? {
        Some(k) => Some(line.key("translation_of", &k)?),
        None => None,
    };
    if translation_of.as_ref() == Some(&key) {
        return err(format!(
            "{:?} names the article itself",
            fields.source("translation_of")
        ));
    }
    let series = match line.string("series")? {
        Some(s) => {
            let series = line.slug("series", &s)?;
            let episode = match line.get("episode") {
                Some((_, Value::Number(n))) => n.as_u64().filter(|n| (1..=100_000).contains(n)),
                Some((_, Value::String(s))) => {
                    s.trim().parse().ok().filter(|n| (1..=100_000).contains(n))
                }
                _ => None,
            };
            let Some(episode) = episode else {
                return err(format!(
                    "{:?} must be a whole number from 1 for an article in a series",
                    fields.source("episode")
                ));
            };
            Some(SeriesEpisode {
                series,
                episode: episode as u32,
            })
        }
        None => None,
    };
    let topics = line
        .strings("topics")?
        .iter()
        .map(|t| line.slug("topics", t))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(NewArticle {
        key,
        headline,
        summary: line.string("summary")?.map(|s| clean_line(&s)),
        body,
        lang,
        section,
        byline: line.string("byline")?.map(|s| clean_line(&s)),
        credit: line.string("credit")?.map(|s| clean_line(&s)),
        web_editors: line.strings("web_editors")?,
        published,
        updated,
        related,
        translation_of,
        series,
        topics,
    })
}

/// Splits off the first paragraph's text, for sources whose headline is the body's first line.
fn split_first_paragraph(body: &SafeHtml) -> (String, SafeHtml) {
    let html = body.as_str();
    if let (Some(0), Some(end)) = (html.find("<p>"), html.find("</p>")) {
        let first = SafeHtml::from_trusted_storage(html[..end + 4].to_string()).text();
        let rest = SafeHtml::from_trusted_storage(html[end + 4..].trim().to_string());
        (clean_line(&first), rest)
    } else {
        (String::new(), body.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ImportOptions {
        ImportOptions {
            fields: FieldMap::default(),
            default_lang: Lang::parse("en").unwrap(),
            default_section: Slug::parse("news").unwrap(),
            time_zone: TimeZone::get("Asia/Shanghai").unwrap(),
            undated_at: None,
            headline_from_body: false,
            body_format: BodyFormat::Auto,
            max_line_bytes: 1 << 20,
        }
    }

    #[test]
    fn maps_fields() {
        let mut o = opts();
        o.fields =
            FieldMap::parse(["headline=title", "section=category", "credit=source"]).unwrap();
        let a = parse_line(
            r#"{"id":"sv-1","title":"FM  hopes","body":null,"published_local":"2022-03-07T17:49:00","source":"chinadaily","category":"WORLD"}"#,
            &o,
        )
        .unwrap();
        assert_eq!(a.headline, "FM hopes");
        assert_eq!(a.section.as_str(), "world");
        assert_eq!(a.credit.as_deref(), Some("chinadaily"));
        assert_eq!(a.published.to_string(), "2022-03-07T09:49:00Z");
        assert_eq!(a.body.as_str(), "");
    }

    #[test]
    fn explains_rejections() {
        let o = opts();
        let reason = |line: &str| parse_line(line, &o).unwrap_err().0;
        assert!(reason("{").starts_with("not valid JSON"));
        assert!(reason("[1]").contains("JSON object"));
        assert!(reason(r#"{"headline":"x"}"#).contains("\"id\" is missing"));
        assert!(
            reason(r#"{"id":"a","headline":"x","published":"yesterday"}"#)
                .contains("\"published\" is not an RFC 3339 time")
        );
        assert!(reason(r#"{"id":"a","headline":"x"}"#).contains("no publication time"));
        assert!(reason(r#"{"id":"a b","headline":"x"}"#).contains("is not an article key"));
        assert!(reason(
            r#"{"id":"a","headline":"x","published":"2020-01-01T00:00:00Z","series":"s"}"#
        )
        .contains("\"episode\""));
        let mut small = opts();
        small.max_line_bytes = 10;
        assert!(parse_line(r#"{"id":"abcdefgh"}"#, &small)
            .unwrap_err()
            .0
            .contains("over the limit"));
    }

    #[test]
    fn headline_from_body() {
        let mut o = opts();
        o.headline_from_body = true;
        o.undated_at = Some(Timestamp::UNIX_EPOCH);
        let a = parse_line(
            r#"{"id":"w","title":null,"body":"Big news\n\nFirst paragraph."}"#,
            &o,
        )
        .unwrap();
        assert_eq!(a.headline, "Big news");
        assert_eq!(a.body.as_str(), "<p>First paragraph.</p>");
    }

    #[test]
    fn unknown_map_field() {
        assert!(matches!(
            FieldMap::parse(["title=headline"]),
            Err(FieldMapError::UnknownField(..))
        ));
        assert!(matches!(
            FieldMap::parse(["headline"]),
            Err(FieldMapError::Shape(_))
        ));
    }
}
