//! Reading IPTC ninjs documents (1.x, 2.x and 3.x) as Dateline import records, for
//! `dateline import --format ninjs`. The record then goes through the same checks as any
//! import line ([`crate::import::parse_object`]).
//!
//! What Dateline writes in its own ninjs export (`dateline-web`'s `ninjs.rs`) it reads back
//! the same way: the key from `altIds` (role `key`), the wire credit and web editors from
//! `infoSources`, section, topics and series from `subjects`, related stories from
//! `associations`. Documents from elsewhere get a key made from their `uri`.

use serde_json::{json, Map, Value};

use crate::ArticleKey;

/// A ninjs document read as an import record, with the names of the collections it names
/// (so that an importer can make the sections, topics and series that do not exist yet).
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub record: Map<String, Value>,
    /// The document's major version: 1, 2 or 3.
    pub major: u8,
    pub section: Option<(String, String)>,
    pub topics: Vec<(String, String)>,
    pub series: Option<(String, String)>,
}

/// The ninjs version a document says it is (`standard.version`, or `$standard.version` in
/// 1.x), else the major version its shape shows.
pub fn version(doc: &Map<String, Value>) -> (u8, Option<String>) {
    let declared = doc
        .get("standard")
        .or_else(|| doc.get("$standard"))
        .and_then(|s| s.get("version"))
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(v) = &declared {
        if let Some(major) = v.split('.').next().and_then(|m| m.parse::<u8>().ok()) {
            if (1..=3).contains(&major) {
                return (major, declared);
            }
        }
    }
    let camel = [
        "firstCreated",
        "versionCreated",
        "altIds",
        "infoSources",
        "pubStatus",
        "embargoedUntil",
        "copyrightHolder",
        "representationType",
    ];
    let major = if camel.iter().any(|k| doc.contains_key(*k)) {
        3
    } else if ["headlines", "bodies", "descriptions", "subjects", "people"]
        .iter()
        .any(|k| doc.contains_key(*k))
    {
        2
    } else {
        1
    };
    (major, declared)
}

/// A field by its 3.x name, or its lower-case 1.x and 2.x name.
fn field<'a>(doc: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    doc.get(name).or_else(|| doc.get(&name.to_lowercase()))
}

fn text<'a>(doc: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    field(doc, name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn items<'a>(doc: &'a Map<String, Value>, name: &str) -> Vec<&'a Map<String, Value>> {
    match field(doc, name) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        // 1.x keeps some lists as objects keyed by name.
        Some(Value::Object(m)) => m.values().filter_map(Value::as_object).collect(),
        _ => vec![],
    }
}

fn role_is(item: &Map<String, Value>, role: &str) -> bool {
    item.get("role")
        .or_else(|| item.get("rel"))
        .and_then(Value::as_str)
        .is_some_and(|r| r.eq_ignore_ascii_case(role))
}

/// The value of a list of `{role, value}` (`headlines`, `bodies`, `descriptions`): the one of
/// `role`, else the first; with its content type.
fn valued<'a>(
    doc: &'a Map<String, Value>,
    name: &str,
    role: &str,
) -> Option<(&'a str, Option<&'a str>)> {
    let list = items(doc, name);
    let pick = list
        .iter()
        .find(|i| role_is(i, role))
        .or_else(|| list.first())?;
    let value = pick.get("value").and_then(Value::as_str)?;
    let kind = pick
        .get("contentType")
        .or_else(|| pick.get("contenttype"))
        .and_then(Value::as_str);
    Some((value, kind))
}

/// An alternative id of `role` (a list of `{role, value}` in 2.x and 3.x, an object of
/// role to value in 1.x).
fn alt_id<'a>(doc: &'a Map<String, Value>, role: &str) -> Option<&'a str> {
    match field(doc, "altIds") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_object)
            .find(|i| role_is(i, role))
            .and_then(|i| i.get("value"))
            .and_then(Value::as_str),
        Some(Value::Object(m)) => m.get(role).and_then(Value::as_str),
        _ => None,
    }
}

/// A Dateline key for a document: its own (`altIds` role `key`), else one made from its URI:
/// the URI itself where it is a valid key, otherwise its characters that keys allow, with a
/// digest of the whole URI where that would be ambiguous or long.
pub fn key_of(doc: &Map<String, Value>) -> Option<String> {
    if let Some(k) = alt_id(doc, "key").filter(|k| ArticleKey::parse(k).is_ok()) {
        return Some(k.to_string());
    }
    let uri = field(doc, "uri").and_then(Value::as_str)?;
    if ArticleKey::parse(uri).is_ok() {
        return Some(uri.to_string());
    }
    let kept: String = uri
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let digest = crate::digest::stable_digest(uri.as_bytes());
    let tail: String = kept
        .chars()
        .rev()
        .take(100)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Some(format!("{}-{}", tail.trim_matches('-'), &digest[..12]))
}

/// Reads a document as an import record. Fails, with the reason, for what Dateline cannot
/// keep as an article: a document of another kind than text, or withheld or cancelled copy.
pub fn read(doc: &Map<String, Value>) -> Result<Read, String> {
    let (major, _) = version(doc);
    let kind = text(doc, "type").unwrap_or("text");
    if kind != "text" && kind != "composite" {
        return Err(format!(
            "is a ninjs {kind:?} item; Dateline imports text articles"
        ));
    }
    if let Some(status) = text(doc, "pubStatus") {
        if status != "usable" {
            return Err(format!(
                "has pubStatus {status:?}; Dateline imports usable copy only"
            ));
        }
    }
    let key = key_of(doc).ok_or("has no uri")?;
    let mut r = Map::new();
    r.insert("id".into(), json!(key));
    let headline = if major == 1 {
        text(doc, "headline").map(str::to_string)
    } else {
        valued(doc, "headlines", "main").map(|(v, _)| v.to_string())
    }
    .or_else(|| text(doc, "title").map(str::to_string));
    if let Some(h) = headline {
        r.insert("headline".into(), json!(h));
    }
    let summary = if major == 1 {
        text(doc, "description_text").map(str::to_string)
    } else {
        valued(doc, "descriptions", "summary").map(|(v, _)| v.to_string())
    };
    if let Some(s) = summary {
        r.insert("summary".into(), json!(s));
    }
    let body = if major == 1 {
        text(doc, "body_html")
            .or_else(|| text(doc, "body_xhtml"))
            .map(|b| (b.to_string(), true))
            .or_else(|| text(doc, "body_text").map(|b| (b.to_string(), false)))
    } else {
        let list = items(doc, "bodies");
        let html = list.iter().find(|b| {
            b.get("contentType")
                .or_else(|| b.get("contenttype"))
                .and_then(Value::as_str)
                .is_some_and(|t| t.contains("html"))
        });
        match html {
            Some(b) => b
                .get("value")
                .and_then(Value::as_str)
                .map(|v| (v.to_string(), true)),
            None => valued(doc, "bodies", "main").map(|(v, _)| (v.to_string(), false)),
        }
    };
    if let Some((body, html)) = body {
        let body = if html {
            body
        } else {
            // Plain text: paragraphs at blank lines, as the text importer reads them.
            crate::SafeHtml::from_text(&body).as_str().to_string()
        };
        r.insert("body".into(), json!(body));
    }
    if let Some(lang) = text(doc, "language") {
        r.insert("lang".into(), json!(lang));
    }
    if let Some(by) = text(doc, "by").or_else(|| text(doc, "byline")) {
        r.insert("byline".into(), json!(by));
    }
    let sources = if major == 1 {
        items(doc, "infosource")
    } else {
        items(doc, "infoSources")
    };
    if let Some(source) = sources.iter().find(|s| role_is(s, "source")) {
        if let Some(name) = source.get("name").and_then(Value::as_str) {
            r.insert("credit".into(), json!(name));
        }
    }
    let editors: Vec<&str> = sources
        .iter()
        .filter(|s| role_is(s, "webEditor"))
        .filter_map(|s| s.get("name").and_then(Value::as_str))
        .collect();
    if !editors.is_empty() {
        r.insert("web_editors".into(), json!(editors));
    }
    let first = text(doc, "firstCreated");
    let version = text(doc, "versionCreated");
    // Copy under embargo may be published only when it lifts: that is its publication time,
    // and it is not live before (1.x and 2.x call it `embargoed`).
    let embargo = text(doc, "embargoedUntil").or_else(|| text(doc, "embargoed"));
    if let Some(e) = embargo {
        if e.parse::<jiff::Timestamp>().is_err() {
            // Copy held back until a time nobody can read must not go out at once.
            return Err(format!(
                "has an embargo {e:?} that is not a time with its offset (RFC 3339): it is not taken"
            ));
        }
    }
    let later = |a: &str, b: &str| -> bool {
        match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
            (Ok(a), Ok(b)) => a > b,
            _ => false,
        }
    };
    let published = match (first.or(version), embargo) {
        (Some(p), Some(e)) if later(e, p) => Some(e),
        (None, Some(e)) => Some(e),
        (p, _) => p,
    };
    if let Some(p) = published {
        r.insert("published".into(), json!(p));
    }
    if let (Some(f), Some(v)) = (first, version) {
        if f != v {
            r.insert("updated".into(), json!(v));
        }
    }
    let subjects = if major == 1 {
        items(doc, "subject")
    } else {
        items(doc, "subjects")
    };
    let named = |s: &Map<String, Value>| -> Option<(String, String)> {
        let key = s.get("literal").and_then(Value::as_str)?;
        let name = s.get("name").and_then(Value::as_str).unwrap_or(key);
        Some((key.to_string(), name.to_string()))
    };
    let section = subjects
        .iter()
        .find(|s| role_is(s, "section"))
        .and_then(|s| named(s));
    if let Some((key, _)) = &section {
        r.insert("section".into(), json!(key));
    }
    let topics: Vec<(String, String)> = subjects
        .iter()
        .filter(|s| role_is(s, "topic"))
        .filter_map(|s| named(s))
        .collect();
    if !topics.is_empty() {
        r.insert(
            "topics".into(),
            json!(topics.iter().map(|(k, _)| k).collect::<Vec<_>>()),
        );
    }
    let series = subjects
        .iter()
        .find(|s| role_is(s, "series"))
        .and_then(|s| named(s));
    if let Some((key, _)) = &series {
        r.insert("series".into(), json!(key));
        if let Some(episode) = alt_id(doc, "episode").and_then(|e| e.parse::<u32>().ok()) {
            r.insert("episode".into(), json!(episode));
        }
    }
    if let Some(original) = alt_id(doc, "translationOf") {
        r.insert("translation_of".into(), json!(original));
    }
    let related: Vec<String> = items(doc, "associations")
        .into_iter()
        .filter(|a| {
            role_is(a, "related")
                || a.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.starts_with("related"))
        })
        .filter_map(key_of)
        .collect();
    if !related.is_empty() {
        r.insert("related".into(), json!(related));
    }
    Ok(Read {
        record: r,
        major,
        section,
        topics,
        series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn each_major_version_reads_as_a_record() {
        let v3 = doc(json!({
            "uri": "tag:news.example.org,2021-10-22:pk-1",
            "standard": {"name": "ninjs", "version": "3.1"},
            "firstCreated": "2021-10-22T09:37:00Z", "versionCreated": "2021-10-22T11:00:00Z",
            "language": "en", "by": "By Mara Lindqvist",
            "headlines": [{"role": "main", "value": "Talks resume"}],
            "bodies": [{"role": "main", "contentType": "text/html", "value": "<p>Text.</p>"}],
            "infoSources": [{"name": "Xinhua", "role": "source"}, {"name": "Li", "role": "webEditor"}],
            "subjects": [{"name": "World", "rel": "section", "literal": "world"},
                         {"name": "Trade talks", "rel": "topic", "literal": "trade-talks"}],
            "altIds": [{"role": "key", "value": "pk-1"}],
            "associations": [{"name": "related-1", "rel": "related", "uri": "tag:x,2021-01-01:older",
                              "altIds": [{"role": "key", "value": "older"}]}]
        }));
        let r = read(&v3).expect("read");
        assert_eq!(r.major, 3);
        assert_eq!(
            Value::Object(r.record),
            json!({"id": "pk-1", "headline": "Talks resume", "body": "<p>Text.</p>", "lang": "en",
                   "byline": "By Mara Lindqvist", "credit": "Xinhua", "web_editors": ["Li"],
                   "published": "2021-10-22T09:37:00Z", "updated": "2021-10-22T11:00:00Z",
                   "section": "world", "topics": ["trade-talks"], "related": ["older"]})
        );
        assert_eq!(
            r.topics,
            [("trade-talks".to_string(), "Trade talks".to_string())]
        );
        let v1 = doc(
            json!({"uri": "http://ninjs.example.com/newsitems/20130709med123",
                            "headline": "Captain on trial", "body_text": "One.\n\nTwo.",
                            "versioncreated": "2013-07-09T10:37:00Z"}),
        );
        let r = read(&v1).expect("read");
        assert_eq!(r.major, 1);
        assert_eq!(
            r.record["id"],
            "http:--ninjs.example.com-newsitems-20130709med123-".to_string()
                + &crate::digest::stable_digest(
                    b"http://ninjs.example.com/newsitems/20130709med123"
                )[..12]
        );
        assert_eq!(r.record["body"], "<p>One.</p><p>Two.</p>");
        // Under embargo: published when it lifts.
        let held = read(&doc(
            json!({"uri": "held", "firstCreated": "2021-10-22T01:00:00Z",
                                   "embargoedUntil": "2021-10-22T06:00:00Z",
                                   "headlines": [{"value": "Held"}]}),
        ))
        .expect("read");
        assert_eq!(held.record["published"], "2021-10-22T06:00:00Z");
        assert!(read(&doc(
            json!({"uri": "held", "embargoedUntil": "2021-10-22T06:00:00",
                                  "headlines": [{"value": "Held"}]})
        ))
        .unwrap_err()
        .contains("embargo"));
        assert!(read(&doc(json!({"uri": "x", "type": "picture"}))).is_err());
        assert!(read(&doc(json!({"uri": "x", "pubStatus": "withheld"}))).is_err());
    }
}
