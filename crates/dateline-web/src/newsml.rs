//! IPTC NewsML-G2: an article as a NewsItem (the XML wire services and Superdesk exchange),
//! valid against the NewsML-G2 2.35 schema, for `GET /api/v1/articles/{id}/newsml` and
//! `dateline export --format newsml`. The body travels as XHTML in `inlineXML`; the key, the
//! dateline's source and the web editors in the properties NewsML-G2 has for them (`altId`,
//! `infoSource`, `contributor`); related stories as `link`s to their items' GUIDs.

use dateline_storage::{Store, Worked};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::Site;

#[derive(Serialize)]
struct Subject {
    kind: &'static str,
    literal: String,
    name: String,
}

#[derive(Serialize)]
struct Link {
    guid: String,
    title: String,
}

fn text<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The article as a NewsML-G2 NewsItem.
pub async fn document(
    store: &dyn Store,
    site: &Site,
    templates: &crate::render::Templates,
    worked: &Worked,
) -> Result<String, crate::AppError> {
    let r = &worked.record;
    let key = worked.key.as_str();
    let lang = text(r, "lang")
        .unwrap_or(site.primary().as_str())
        .to_string();
    let primary = site.primary().as_str();
    let published: Timestamp = text(r, "published")
        .and_then(|t| t.parse().ok())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let updated = text(r, "updated")
        .and_then(|t| t.parse::<Timestamp>().ok())
        .filter(|u| *u > published);
    use dateline_core::workflow::State;
    let status = match worked.state {
        State::Published => "usable",
        State::Unpublished => "canceled",
        State::Draft | State::Submitted | State::Scheduled => "withheld",
    };
    let source = text(r, "credit").unwrap_or(&site.outlet).to_string();
    let dateline_lang =
        dateline_core::Lang::parse(&lang).unwrap_or_else(|_| site.primary().clone());
    let dateline = format!(
        "({source}) {}",
        site.dateline
            .time(published, &site.time_zone, &dateline_lang)
    );
    let sections = store.sections().await?;
    let section = worked.section.as_str();
    let mut subjects = vec![Subject {
        kind: "cpnat:abstract",
        literal: format!("section:{section}"),
        name: sections
            .iter()
            .find(|s| s.key.as_str() == section)
            .map(|s| s.name.text(&lang, primary).to_string())
            .unwrap_or_else(|| section.to_string()),
    }];
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
                .map(|t| t.title.text(&lang, primary).to_string()),
            Err(_) => None,
        };
        subjects.push(Subject {
            kind: "cpnat:abstract",
            literal: format!("topic:{topic}"),
            name: name.unwrap_or_else(|| topic.to_string()),
        });
    }
    let related: Vec<String> = r
        .get("related")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let mut links = Vec::new();
    if !related.is_empty() {
        let found = store.links_by_keys(&related, Timestamp::now()).await?;
        for k in &related {
            if let Some(l) = found.iter().find(|l| l.key.as_str() == k) {
                links.push(Link {
                    guid: crate::ninjs::uri(site, k, l.published),
                    title: l.headline.clone(),
                });
            }
        }
    }
    // Stored bodies are the sanitizer's output; cleaning one again changes nothing, and gives
    // the rendering module the safe HTML it turns into XHTML.
    let body = site.sanitizer.clean(text(r, "body").unwrap_or_default());
    let authors = text(r, "byline")
        .map(dateline_core::article::authors)
        .unwrap_or_default();
    let editors: Vec<&str> = r
        .get("web_editors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let provider = site
        .base_url
        .split("://")
        .nth(1)
        .unwrap_or(&site.base_url)
        .to_string();
    Ok(templates.render(
        "newsml.xml",
        minijinja::context! {
            guid => crate::ninjs::uri(site, key, published),
            version => worked.revision.max(1),
            lang,
            outlet => site.outlet.clone(),
            provider,
            version_created => updated.unwrap_or(published).to_string(),
            first_created => published.to_string(),
            embargoed => worked.embargo_until.map(|t| t.to_string()),
            status,
            generator_version => env!("CARGO_PKG_VERSION"),
            links,
            modified => updated.map(|t| t.to_string()),
            source,
            authors,
            editors,
            key,
            subjects,
            headline => text(r, "headline").unwrap_or_default(),
            dateline,
            byline => text(r, "byline"),
            summary => text(r, "summary"),
            body => crate::render::xhtml(&body, &site.base_url),
        },
    )?)
}

/// The elements HTML writes without an end tag.
const VOID: [&str; 6] = ["br", "hr", "img", "source", "wbr", "col"];

/// A body the sanitizer wrote, as XHTML: void elements closed (`<br/>`), `&nbsp;` (which XML
/// does not define) as a number, any other stray `&` escaped, and the site's own addresses
/// made absolute.
pub fn xhtml(html: &str, base: &str) -> String {
    let html = crate::pages::feeds::absolute_addresses(html, base);
    let mut out = String::with_capacity(html.len() + 64);
    let mut chars = html.char_indices().peekable();
    let bytes = html.as_str();
    while let Some((i, c)) = chars.next() {
        match c {
            '<' => {
                // A tag: copy it to its end, minding quoted values, closing it if void.
                let name: String = bytes[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                let mut quote: Option<char> = None;
                out.push('<');
                while let Some((j, c)) = chars.next() {
                    match (quote, c) {
                        // In an attribute's value as in text, XML knows no `&nbsp;`.
                        (_, '&') if bytes[j..].starts_with("&nbsp;") => {
                            out.push_str("&#160;");
                            for _ in 1.."&nbsp;".len() {
                                chars.next();
                            }
                        }
                        (None, '>') => {
                            if VOID.contains(&name.as_str()) && !out.ends_with('/') {
                                out.push('/');
                            }
                            out.push('>');
                            break;
                        }
                        (None, '"' | '\'') => {
                            quote = Some(c);
                            out.push(c);
                        }
                        (Some(q), c) if c == q => {
                            quote = None;
                            out.push(c);
                        }
                        (_, '<') => out.push_str("&lt;"),
                        _ => out.push(c),
                    }
                }
            }
            '&' => {
                let rest = &bytes[i..];
                let entity = rest
                    .find(';')
                    .filter(|end| *end <= 10)
                    .map(|end| &rest[..=end]);
                match entity {
                    Some("&amp;" | "&lt;" | "&gt;" | "&quot;" | "&apos;") | None => {
                        if entity.is_none() {
                            out.push_str("&amp;");
                        } else {
                            out.push('&');
                        }
                    }
                    Some(e) if e.starts_with("&#") => out.push('&'),
                    Some("&nbsp;") => {
                        // The one named reference the sanitizer writes that XML lacks.
                        out.push_str("&#160;");
                        for _ in 1.."&nbsp;".len() {
                            chars.next();
                        }
                    }
                    Some(_) => out.push_str("&amp;"),
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_xhtml() {
        assert_eq!(
            xhtml(
                r#"<p>A&nbsp;b &amp; c<br>d</p><img src="/media/a/1.jpg" alt="x > y&nbsp;z"><p>&#160;</p>"#,
                "https://n.example.org"
            ),
            r#"<p>A&#160;b &amp; c<br/>d</p><img src="https://n.example.org/media/a/1.jpg" alt="x > y&#160;z"/><p>&#160;</p>"#
        );
    }
}
