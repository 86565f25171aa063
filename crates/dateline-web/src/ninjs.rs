//! IPTC ninjs, the news industry's JSON: an article as a ninjs 3.1 document (or 2.2, for
//! partners on the older version), for `GET /api/v1/articles/{id}/ninjs` and `dateline export`.
//!
//! Where Dateline keeps what ninjs has no field of its own for, it uses fields the schema
//! allows: the article's key is an `altIds` entry (role `key`), the dateline's source (the wire
//! credit, or the outlet) an `infoSources` entry with role `source`, each web editor one with
//! role `webEditor`; the section, topics and series are `subjects` with `rel` `section`,
//! `topic` and `series` and the key as `literal`; related stories and the body's images are
//! `associations`. Identifiers are `tag:` URIs of the site's host, the day of first publication
//! and the key, which stay the same wherever the article is stored.

use dateline_storage::{StorageError, Store, Worked};
use jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::Site;

/// The ninjs versions Dateline writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V3_1,
    V2_2,
}

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        match text {
            "3.1" | "3" => Some(Version::V3_1),
            "2.2" | "2" => Some(Version::V2_2),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Version::V3_1 => "3.1",
            Version::V2_2 => "2.2",
        }
    }
}

/// The host a site's identifiers are minted under.
fn host(site: &Site) -> &str {
    site.base_url
        .split("://")
        .nth(1)
        .unwrap_or(&site.base_url)
        .split(['/', ':'])
        .next()
        .unwrap_or("localhost")
}

/// An article's ninjs identifier: `tag:{host},{day of first publication}:{key}`.
pub fn uri(site: &Site, key: &str, published: Timestamp) -> String {
    let day = published.to_zoned(jiff::tz::TimeZone::UTC).date();
    format!("tag:{},{day}:{key}", host(site))
}

fn text<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn time(record: &Map<String, Value>, field: &str) -> Option<Timestamp> {
    text(record, field).and_then(|t| t.parse().ok())
}

/// The article as a ninjs document of `version`.
pub async fn document(
    store: &dyn Store,
    site: &Site,
    worked: &Worked,
    version: Version,
) -> Result<Value, StorageError> {
    let r = &worked.record;
    let key = worked.key.as_str();
    let lang = text(r, "lang").unwrap_or(site.primary().as_str());
    let primary = site.primary().as_str();
    let published = time(r, "published").unwrap_or(Timestamp::UNIX_EPOCH);
    let updated = time(r, "updated").filter(|u| *u > published);
    let mut doc = Map::new();
    doc.insert("uri".into(), json!(uri(site, key, published)));
    doc.insert(
        "standard".into(),
        json!({
            "name": "ninjs",
            "version": version.name(),
            "schema": format!("http://www.iptc.org/std/ninjs/ninjs-schema_{}.json", version.name()),
        }),
    );
    doc.insert("type".into(), json!("text"));
    doc.insert("representationType".into(), json!("full"));
    doc.insert("firstCreated".into(), json!(published.to_string()));
    doc.insert(
        "versionCreated".into(),
        json!(updated.unwrap_or(published).to_string()),
    );
    if let Some(until) = worked.embargo_until {
        doc.insert("embargoedUntil".into(), json!(until.to_string()));
    }
    use dateline_core::workflow::State;
    let status = match worked.state {
        State::Published => "usable",
        State::Unpublished => "canceled",
        State::Draft | State::Submitted | State::Scheduled => "withheld",
    };
    doc.insert("pubStatus".into(), json!(status));
    doc.insert("language".into(), json!(lang));
    doc.insert(
        "headlines".into(),
        json!([{"role": "main", "contentType": "text/plain", "value": text(r, "headline").unwrap_or_default()}]),
    );
    if let Some(summary) = text(r, "summary") {
        doc.insert(
            "descriptions".into(),
            json!([{"role": "summary", "contentType": "text/plain", "value": summary}]),
        );
    }
    let body = text(r, "body").unwrap_or_default();
    let plain = site.sanitizer.clean(body).text();
    doc.insert(
        "bodies".into(),
        json!([{
            "role": "main",
            "contentType": "text/html",
            "charCount": plain.chars().count(),
            "wordCount": plain.split_whitespace().count(),
            "value": body,
        }]),
    );
    if let Some(by) = text(r, "byline") {
        doc.insert("by".into(), json!(by));
    }
    let mut sources =
        vec![json!({"name": text(r, "credit").unwrap_or(&site.outlet), "role": "source"})];
    for editor in r
        .get("web_editors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        sources.push(json!({"name": editor, "role": "webEditor"}));
    }
    doc.insert("infoSources".into(), Value::Array(sources));

    let mut subjects = Vec::new();
    let sections = store.sections().await?;
    let section = worked.section.as_str();
    let section_name = sections
        .iter()
        .find(|s| s.key.as_str() == section)
        .map(|s| s.name.text(lang, primary).to_string())
        .unwrap_or_else(|| section.to_string());
    subjects.push(json!({"name": section_name, "rel": "section", "literal": section}));
    for topic in r
        .get("topics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let name = match dateline_core::Slug::parse(topic) {
            Ok(slug) => store
                .topic(&slug)
                .await?
                .map(|t| t.title.text(lang, primary).to_string()),
            Err(_) => None,
        };
        subjects.push(json!({"name": name.unwrap_or_else(|| topic.to_string()), "rel": "topic", "literal": topic}));
    }
    let mut alt_ids = vec![json!({"role": "key", "value": key})];
    if let Some(series) = text(r, "series") {
        let name = match dateline_core::Slug::parse(series) {
            Ok(slug) => store
                .series(&slug)
                .await?
                .map(|s| s.title.text(lang, primary).to_string()),
            Err(_) => None,
        };
        subjects.push(json!({"name": name.unwrap_or_else(|| series.to_string()), "rel": "series", "literal": series}));
        if let Some(episode) = r.get("episode").and_then(Value::as_i64) {
            alt_ids.push(json!({"role": "episode", "value": episode.to_string()}));
        }
    }
    doc.insert("subjects".into(), Value::Array(subjects));
    if let Some(original) = text(r, "translation_of") {
        alt_ids.push(json!({"role": "translationOf", "value": original}));
    }
    doc.insert("altIds".into(), Value::Array(alt_ids));

    let mut associations = Vec::new();
    let related: Vec<String> = r
        .get("related")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if !related.is_empty() {
        let links = store.links_by_keys(&related, Timestamp::now()).await?;
        // In the editors' order.
        for k in &related {
            if let Some(l) = links.iter().find(|l| l.key.as_str() == k) {
                associations.push(json!({
                    "name": format!("related-{}", associations.len() + 1),
                    "rel": "related",
                    "uri": uri(site, k, l.published),
                    "type": "text",
                    "altIds": [{"role": "key", "value": k}],
                    "headlines": [{"role": "main", "value": l.headline}],
                }));
            }
        }
    }
    for (n, src) in images(body).into_iter().enumerate() {
        let href = if src.starts_with('/') && !src.starts_with("//") {
            site.absolute(&src)
        } else {
            src
        };
        associations.push(json!({
            "name": format!("image-{}", n + 1),
            "rel": "image",
            "uri": href,
            "type": "picture",
            "renditions": [{"name": "original", "href": href}],
        }));
    }
    if !associations.is_empty() {
        doc.insert("associations".into(), Value::Array(associations));
    }
    let doc = Value::Object(doc);
    Ok(match version {
        Version::V3_1 => doc,
        Version::V2_2 => to_v2(doc, false),
    })
}

/// A 3.1 document as 2.2 writes it: the same fields in lower case, `embargoed` for
/// `embargoedUntil`, and no `rel` on associations (2.2 has none there).
fn to_v2(value: Value, association: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !(association && k == "rel"))
                .map(|(k, v)| {
                    let inner = k == "associations";
                    let k = if k == "embargoedUntil" {
                        "embargoed".to_string()
                    } else {
                        k.to_lowercase()
                    };
                    let v = match v {
                        Value::Array(items) if inner => {
                            Value::Array(items.into_iter().map(|i| to_v2(i, true)).collect())
                        }
                        other => to_v2(other, false),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(|i| to_v2(i, false)).collect()),
        other => other,
    }
}

/// The addresses of every image of a body, in order.
fn images(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("<img ") {
        let tail = &rest[at..];
        match crate::pages::feeds::first_image(tail) {
            Some(src) => out.push(src),
            None => break,
        }
        rest = &tail[5..];
    }
    out
}
