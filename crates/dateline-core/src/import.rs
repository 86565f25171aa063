//! Parsing one line of a JSON Lines import into a [`NewArticle`].
//!
//! Field names differ between sources; a [`FieldMap`] says where each of Dateline's fields is
//! found in the source, so no data file needs editing.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{civil::DateTime, tz::TimeZone, Timestamp};
use serde_json::{Map, Value};

use crate::article::{clean_line, limits, time_in_range, ArticleDraft, SeriesEpisode};
use crate::html::looks_like_html;
use crate::{ArticleKey, Lang, NewArticle, SafeHtml, Sanitizer, Slug};

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
    /// The outlet's sanitizer, which every HTML body goes through.
    pub sanitizer: Arc<Sanitizer>,
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
        match text.trim().parse::<Timestamp>() {
            Ok(t) if time_in_range(t) => Ok(Some(t)),
            Ok(_) => err(out_of_range(source, &text)),
            // A well-formed time beyond what a timestamp holds (year 9999, say) is a range
            // problem, not a format one.
            Err(_) if well_formed_with_offset(&text) || long_year(&text) => {
                err(out_of_range(source, &text))
            }
            Err(_) => err(format!(
                "{source:?} is not an RFC 3339 time such as 2021-10-22T09:37:00Z: {text:?}"
            )),
        }
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
        match civil.to_zoned(self.opts.time_zone.clone()) {
            Ok(z) if time_in_range(z.timestamp()) => Ok(Some(z.timestamp())),
            Ok(_) => err(out_of_range(source, &text)),
            Err(_) => err(out_of_range(source, &text)),
        }
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

/// Whether a time is written as RFC 3339 asks, with an offset, whatever its year.
fn well_formed_with_offset(text: &str) -> bool {
    jiff::fmt::temporal::Pieces::parse(text.trim()).is_ok_and(|p| p.offset().is_some())
}

/// Whether a time is written with a year of five digits or more, such as `+012345-01-01`.
fn long_year(text: &str) -> bool {
    let t = text.trim().trim_start_matches(['+', '-']);
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    digits >= 5 && t.as_bytes().get(digits) == Some(&b'-')
}

fn out_of_range(source: &str, text: &str) -> String {
    format!(
        "{source:?} {:?} is out of range: a publication time falls from {} to before {}",
        text.trim(),
        &limits::EARLIEST[..10],
        &limits::LATEST[..10]
    )
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

/// An article as an import record: the same fields, by Dateline's names, that [`parse_object`]
/// reads back to the same article. The API speaks it, and revisions keep it.
pub fn to_record(a: &NewArticle) -> Map<String, Value> {
    let mut record = to_record_but_body(a);
    record.insert("body".to_string(), Value::from(a.body().as_str()));
    record
}

/// [`to_record`] without the body: what a revision stores while its body is the article's.
pub fn to_record_but_body(a: &NewArticle) -> Map<String, Value> {
    let mut record = Map::new();
    let mut put = |field: &str, value: Value| {
        if !value.is_null() {
            record.insert(field.to_string(), value);
        }
    };
    put("id", Value::from(a.key().as_str()));
    put("headline", Value::from(a.headline()));
    put(
        "summary",
        a.summary().map(Value::from).unwrap_or(Value::Null),
    );
    put("lang", Value::from(a.lang().as_str()));
    put("section", Value::from(a.section().as_str()));
    put("byline", a.byline().map(Value::from).unwrap_or(Value::Null));
    put("credit", a.credit().map(Value::from).unwrap_or(Value::Null));
    put("web_editors", Value::from(a.web_editors().to_vec()));
    put("published", Value::from(a.published().to_string()));
    put(
        "updated",
        a.updated()
            .map(|t| Value::from(t.to_string()))
            .unwrap_or(Value::Null),
    );
    put(
        "related",
        Value::from(
            a.related()
                .iter()
                .map(ArticleKey::to_string)
                .collect::<Vec<_>>(),
        ),
    );
    put(
        "translation_of",
        a.translation_of()
            .map(|k| Value::from(k.as_str()))
            .unwrap_or(Value::Null),
    );
    if let Some(s) = a.series() {
        put("series", Value::from(s.series.as_str()));
        put("episode", Value::from(s.episode));
    }
    put(
        "topics",
        Value::from(a.topics().iter().map(Slug::to_string).collect::<Vec<_>>()),
    );
    record
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
        opts.sanitizer.clean(&body_text)
    } else {
        SafeHtml::from_text(&body_text)
    };

    let headline = match line.string("headline")? {
        Some(h) => h,
        None if opts.headline_from_body => match body.split_first_paragraph() {
            Some((first, rest)) => {
                body = rest;
                first
            }
            None => String::new(),
        },
        None => String::new(),
    };

    let lang = match line.string("lang")? {
        Some(l) => Lang::parse(&l).or_else(|e| err(format!("{:?}: {e}", fields.source("lang"))))?,
        None => opts.default_lang.clone(),
    };
    let section = match line.string("section")? {
        Some(s) => Slug::from_text(&s).unwrap_or_else(|| opts.default_section.clone()),
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

    let related = line
        .strings("related")?
        .iter()
        .map(|k| line.key("related", k))
        .collect::<Result<Vec<_>, _>>()?;
    let translation_of = match line.string("translation_of")? {
        Some(k) => Some(line.key("translation_of", &k)?),
        None => None,
    };
    let series = match line.string("series")? {
        Some(s) => {
            let series = line.slug("series", &s)?;
            let episode = match line.get("episode") {
                Some((_, Value::Number(n))) => n.as_u64(),
                Some((_, Value::String(s))) => s.trim().parse().ok(),
                _ => None,
            };
            let Some(episode) = episode
                .filter(|n| (1..=u64::from(limits::EPISODE)).contains(n))
                .and_then(|n| u32::try_from(n).ok())
            else {
                return err(format!(
                    "{:?} must be a whole number from 1 to {} for an article in a series",
                    fields.source("episode"),
                    limits::EPISODE
                ));
            };
            Some(SeriesEpisode { series, episode })
        }
        None => None,
    };
    let topics = line
        .strings("topics")?
        .iter()
        .map(|t| line.slug("topics", t))
        .collect::<Result<Vec<_>, _>>()?;

    NewArticle::new(ArticleDraft {
        key,
        headline,
        summary: line.string("summary")?,
        body,
        lang,
        section,
        byline: line.string("byline")?,
        credit: line.string("credit")?,
        web_editors: line.strings("web_editors")?,
        published,
        updated,
        related,
        translation_of,
        series,
        topics,
    })
    // The rule is the domain's; the name of the field is the source's.
    .or_else(|e| err(format!("{:?} {}", fields.source(e.field.name()), e.problem)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ImportOptions {
        ImportOptions {
            fields: FieldMap::default(),
            sanitizer: Arc::new(Sanitizer::new(&crate::HtmlPolicy::default())),
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
        assert_eq!(a.headline(), "FM hopes");
        assert_eq!(a.section().as_str(), "world");
        assert_eq!(a.credit(), Some("chinadaily"));
        assert_eq!(a.published().to_string(), "2022-03-07T09:49:00Z");
        assert_eq!(a.body().as_str(), "");
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
        assert_eq!(
            reason(r#"{"id":"a","headline":"x","published":"9999-12-31T23:59:59Z"}"#),
            "\"published\" \"9999-12-31T23:59:59Z\" is out of range: a publication time falls from 1800-01-01 to before 2200-01-01"
        );
        assert!(
            reason(r#"{"id":"a","headline":"x","published":"-000001-01-01T00:00:00Z"}"#)
                .contains("out of range")
        );
        assert!(
            reason(r#"{"id":"a","headline":"x","published":"+012345-01-01T00:00:00Z"}"#)
                .contains("out of range")
        );
        assert!(
            reason(r#"{"id":"a","headline":"x","published_local":"2500-01-01T00:00:00"}"#)
                .contains("out of range")
        );
        assert_eq!(
            reason(
                r#"{"id":"a","headline":"x","published":"2020-01-01T00:00:00Z","byline":"BYLINE"}"#
                    .replace("BYLINE", &"b".repeat(400))
                    .as_str()
            ),
            "\"byline\" is 400 characters, over the limit of 300"
        );
        for no_offset in ["2021-10-22T09:37:00", "2021-10-22"] {
            assert!(
                reason(&format!(
                    r#"{{"id":"a","headline":"x","published":"{no_offset}"}}"#
                ))
                .contains("is not an RFC 3339 time"),
                "{no_offset}"
            );
        }
        let mut small = opts();
        small.max_line_bytes = 10;
        assert!(parse_line(r#"{"id":"abcdefgh"}"#, &small)
            .unwrap_err()
            .0
            .contains("over the limit"));
    }

    #[test]
    fn a_record_reads_back_as_the_same_article() {
        let o = opts();
        let a = parse_line(
            r#"{"id":"r1","headline":"H","summary":"S","body":"<p>B <a href=\"article:x\"></a></p>","lang":"zh","section":"world","byline":"By A","credit":"Wire","web_editors":["E1","E2"],"published":"2024-01-01T00:00:00Z","updated":"2024-01-02T00:00:00Z","related":["x","y"],"translation_of":"o","series":"talks","episode":3,"topics":["t1"]}"#,
            &o,
        )
        .unwrap();
        let again = parse_object(&to_record(&a), &o).unwrap();
        assert_eq!(again, a);
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
        assert_eq!(a.headline(), "Big news");
        assert_eq!(a.body().as_str(), "<p>First paragraph.</p>");
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
