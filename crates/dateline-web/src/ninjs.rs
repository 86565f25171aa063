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

/// An article's ninjs identifier: `tag:{host},{day of first publication}:{key}`.
pub fn uri(site: &Site, key: &str, published: Timestamp) -> String {
    crate::syndication::tag(site, key, published)
}

/// The article as a ninjs document of `version`.
pub async fn document(
    store: &dyn Store,
    site: &Site,
    worked: &Worked,
    version: Version,
) -> Result<Value, StorageError> {
    let f = crate::syndication::facts(store, site, worked).await?;
    let mut doc = Map::new();
    doc.insert("uri".into(), json!(uri(site, f.key, f.published)));
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
    doc.insert("firstCreated".into(), json!(f.published.to_string()));
    doc.insert(
        "versionCreated".into(),
        json!(f.updated.unwrap_or(f.published).to_string()),
    );
    if let Some(until) = worked.embargo_until {
        doc.insert("embargoedUntil".into(), json!(until.to_string()));
    }
    doc.insert("pubStatus".into(), json!(f.status));
    doc.insert("language".into(), json!(f.lang));
    doc.insert(
        "headlines".into(),
        json!([{"role": "main", "contentType": "text/plain", "value": f.headline}]),
    );
    if let Some(summary) = f.summary {
        doc.insert(
            "descriptions".into(),
            json!([{"role": "summary", "contentType": "text/plain", "value": summary}]),
        );
    }
    let plain = site.sanitizer.clean(f.body).text();
    doc.insert(
        "bodies".into(),
        json!([{
            "role": "main",
            "contentType": "text/html",
            "charCount": plain.chars().count(),
            "wordCount": plain.split_whitespace().count(),
            "value": f.body,
        }]),
    );
    if let Some(by) = f.byline {
        doc.insert("by".into(), json!(by));
    }
    let sources: Vec<Value> = std::iter::once(json!({"name": f.source, "role": "source"}))
        .chain(
            f.web_editors
                .iter()
                .map(|e| json!({"name": e, "role": "webEditor"})),
        )
        .collect();
    doc.insert("infoSources".into(), Value::Array(sources));

    let (section, section_name) = &f.section;
    let mut subjects = vec![json!({"name": section_name, "rel": "section", "literal": section})];
    for (topic, name) in &f.topics {
        subjects.push(json!({"name": name, "rel": "topic", "literal": topic}));
    }
    let mut alt_ids = vec![json!({"role": "key", "value": f.key})];
    if let Some((series, name)) = &f.series {
        subjects.push(json!({"name": name, "rel": "series", "literal": series}));
        if let Some(episode) = f.episode {
            alt_ids.push(json!({"role": "episode", "value": episode.to_string()}));
        }
    }
    doc.insert("subjects".into(), Value::Array(subjects));
    if let Some(original) = f.translation_of {
        alt_ids.push(json!({"role": "translationOf", "value": original}));
    }
    doc.insert("altIds".into(), Value::Array(alt_ids));

    let mut associations: Vec<Value> = f
        .related
        .iter()
        .enumerate()
        .map(|(n, (key, id, headline))| {
            json!({
                "name": format!("related-{}", n + 1),
                "rel": "related",
                "uri": id,
                "type": "text",
                "altIds": [{"role": "key", "value": key}],
                "headlines": [{"role": "main", "value": headline}],
            })
        })
        .collect();
    for (n, src) in images(f.body).into_iter().enumerate() {
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
