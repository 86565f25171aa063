//! IPTC NewsML-G2: an article as a NewsItem (the XML wire services and Superdesk exchange),
//! valid against the NewsML-G2 2.35 schema, for `GET /api/v1/articles/{id}/newsml` and
//! `dateline export --format newsml`. The body travels as XHTML in `inlineXML`; the key, the
//! dateline's source and the web editors in the properties NewsML-G2 has for them (`altId`,
//! `infoSource`, `contributor`); related stories as `link`s to their items' GUIDs.

use dateline_storage::{Store, Worked};
use serde::Serialize;

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

/// The article as a NewsML-G2 NewsItem.
pub async fn document(
    store: &dyn Store,
    site: &Site,
    templates: &crate::render::Templates,
    worked: &Worked,
) -> Result<String, crate::AppError> {
    let f = crate::syndication::facts(store, site, worked).await?;
    let dateline_lang =
        dateline_core::Lang::parse(&f.lang).unwrap_or_else(|_| site.primary().clone());
    let dateline = format!(
        "({}) {}",
        f.source,
        site.dateline
            .time(f.published, &site.time_zone, &dateline_lang)
    );
    let (section, section_name) = &f.section;
    let subjects: Vec<Subject> = std::iter::once(Subject {
        kind: "cpnat:abstract",
        literal: format!("section:{section}"),
        name: section_name.clone(),
    })
    .chain(f.topics.iter().map(|(topic, name)| Subject {
        kind: "cpnat:abstract",
        literal: format!("topic:{topic}"),
        name: name.clone(),
    }))
    .collect();
    let links: Vec<Link> = f
        .related
        .iter()
        .map(|(_, id, headline)| Link {
            guid: id.clone(),
            title: headline.clone(),
        })
        .collect();
    // Stored bodies are the sanitizer's output; cleaning one again changes nothing, and gives
    // the rendering module the safe HTML it turns into XHTML.
    let body = site.sanitizer.clean(f.body);
    let authors = f
        .byline
        .map(dateline_core::article::authors)
        .unwrap_or_default();
    Ok(templates.render(
        "newsml.xml",
        minijinja::context! {
            guid => crate::ninjs::uri(site, f.key, f.published),
            version => worked.revision.max(1),
            lang => f.lang,
            outlet => site.outlet.clone(),
            provider => site.host(),
            version_created => f.updated.unwrap_or(f.published).to_string(),
            first_created => f.published.to_string(),
            embargoed => worked.embargo_until.map(|t| t.to_string()),
            status => f.status,
            generator_version => env!("CARGO_PKG_VERSION"),
            links,
            modified => f.updated.map(|t| t.to_string()),
            source => f.source,
            authors,
            editors => f.web_editors,
            key => f.key,
            subjects,
            headline => f.headline,
            dateline,
            byline => f.byline,
            summary => f.summary,
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
