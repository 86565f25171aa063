//! `dateline import --format wxr`: a WordPress export (WXR) into the newsroom. Posts become
//! articles: published ones go live at their own time, scheduled ones are scheduled, drafts
//! and pending ones are drafts (owned by the account `--owner` names), each post's first
//! category is its section and its other categories and tags its topics (made with their
//! WordPress names where they do not exist), its author its byline, its excerpt its summary,
//! its featured image the body's lead figure; classic content gets WordPress's paragraphs and
//! its captions, block content loses its block comments, and all of it goes through the
//! outlet's sanitizer. Each post's old address is kept as a redirect to the new one.
//!
//! Pages, attachments, menus and anything else are counted, as WordPress counts them, and
//! reported as skipped with the reason. An import is idempotent: keys are
//! `wp-{site}-{post id}`, a
//! post imported before is updated if it changed, and a draft imported before is left to the
//! newsroom.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use dateline_core::import::{parse_object, ImportOptions};
use dateline_core::{ArticleKey, Localized, Section, Slug, Topic};
use dateline_storage::{StateChange, Store, Upserted};
use jiff::Timestamp;
use quick_xml::events::Event;
use serde_json::{json, Map};

/// The most bytes of an export read.
const MAX_FILE: u64 = 2 << 30;

/// One `<item>` of an export.
#[derive(Debug, Default, Clone)]
pub struct Item {
    pub fields: HashMap<String, String>,
    /// `(domain, nicename, name)` of each category and tag.
    pub terms: Vec<(String, String, String)>,
    pub meta: HashMap<String, String>,
    pub comments: usize,
}

impl Item {
    fn get(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }
}

/// An export: its site's facts and its items.
#[derive(Debug, Default)]
pub struct Export {
    pub link: String,
    pub language: String,
    /// Author login to display name.
    pub authors: HashMap<String, String>,
    /// Category nicename to name.
    pub categories: HashMap<String, String>,
    /// Tag slug to name.
    pub tags: HashMap<String, String>,
    pub items: Vec<Item>,
}

/// Reads an export.
pub fn parse(path: &Path) -> anyhow::Result<Export> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("failed to open {}", path.display()))?
        .len();
    if size > MAX_FILE {
        anyhow::bail!(
            "{} is {size} bytes, over the limit of {MAX_FILE}",
            path.display()
        );
    }
    let file =
        std::fs::File::open(path).with_context(|| format!("failed to open {}", path.display()))?;
    let mut reader = quick_xml::Reader::from_reader(std::io::BufReader::new(file));
    let mut export = Export::default();
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut item: Option<Item> = None;
    let mut term_attrs: Option<(String, String)> = None;
    let mut pending: HashMap<String, String> = HashMap::new();
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).with_context(|| {
            format!(
                "{}: not well-formed XML at byte {}",
                path.display(),
                reader.buffer_position()
            )
        })?;
        match event {
            Event::Start(e) => {
                let name = e.name().as_ref().to_string();
                if name == "item" {
                    item = Some(Item::default());
                }
                if name == "category" && item.is_some() {
                    let attr = |key: &str| {
                        e.try_get_attribute(key)
                            .ok()
                            .flatten()
                            .and_then(|a| {
                                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .ok()
                                    .map(|v| v.to_string())
                            })
                            .unwrap_or_default()
                    };
                    term_attrs = Some((attr("domain"), attr("nicename")));
                }
                stack.push(name);
                text.clear();
            }
            Event::Empty(_) => {}
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(c) => text.push_str(&c.into_inner()),
            Event::GeneralRef(r) => {
                let name = r.into_inner().to_string();
                let entity = format!("&{name};");
                match quick_xml::escape::unescape(&entity) {
                    Ok(s) => text.push_str(&s),
                    Err(_) => text.push_str(&entity),
                }
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                let value = std::mem::take(&mut text);
                let parent = stack.last().map(String::as_str).unwrap_or("");
                match (&mut item, name.as_str()) {
                    (Some(_), "item") => {
                        if let Some(done) = item.take() {
                            export.items.push(done);
                        }
                    }
                    (Some(it), "category") => {
                        let (domain, nicename) = term_attrs.take().unwrap_or_default();
                        it.terms.push((domain, nicename, value));
                    }
                    (Some(it), "wp:meta_key" | "wp:meta_value") => {
                        pending.insert(name.clone(), value);
                        if name == "wp:meta_value" {
                            if let Some(k) = pending.remove("wp:meta_key") {
                                it.meta
                                    .insert(k, pending.remove("wp:meta_value").unwrap_or_default());
                            }
                        }
                    }
                    (Some(it), "wp:comment") => it.comments += 1,
                    (Some(it), _) if parent == "item" => {
                        it.fields.insert(name, value);
                    }
                    (Some(_), _) => {}
                    (None, "link") if parent == "channel" => export.link = value,
                    (None, "language") if parent == "channel" => export.language = value,
                    (
                        None,
                        "wp:author_login"
                        | "wp:author_display_name"
                        | "wp:category_nicename"
                        | "wp:cat_name"
                        | "wp:tag_slug"
                        | "wp:tag_name",
                    ) => {
                        pending.insert(name, value);
                    }
                    (None, "wp:author") => {
                        if let Some(login) = pending.remove("wp:author_login") {
                            let shown =
                                pending.remove("wp:author_display_name").unwrap_or_default();
                            export.authors.insert(login, shown);
                        }
                    }
                    (None, "wp:category") => {
                        if let Some(n) = pending.remove("wp:category_nicename") {
                            export
                                .categories
                                .insert(n, pending.remove("wp:cat_name").unwrap_or_default());
                        }
                    }
                    (None, "wp:tag") => {
                        if let Some(n) = pending.remove("wp:tag_slug") {
                            export
                                .tags
                                .insert(n, pending.remove("wp:tag_name").unwrap_or_default());
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(export)
}

/// What an import of an export did, counted as WordPress counts an export.
#[derive(Debug, Default, Clone)]
pub struct WxrReport {
    /// Items by post type (`post`, `page`, `attachment`, ...).
    pub types: std::collections::BTreeMap<String, usize>,
    /// Posts by status (`publish`, `future`, `draft`, ...).
    pub statuses: std::collections::BTreeMap<String, usize>,
    pub comments: usize,
    pub categories: usize,
    pub tags: usize,
    pub authors: usize,
    pub published: usize,
    pub scheduled: usize,
    pub drafts: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub redirects: usize,
    /// Each item not imported: its id and title, and why.
    pub skipped: Vec<(String, String)>,
    /// What was changed on the way in (an item and what), for the record.
    pub notes: Vec<(String, String)>,
}

impl std::fmt::Display for WxrReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let types: Vec<String> = self.types.iter().map(|(t, n)| format!("{n} {t}")).collect();
        write!(
            f,
            "{} items ({}), {} comments, {} categories, {} tags, {} authors; imported: {} published, {} scheduled, {} drafts, {} updated, {} unchanged; {} old addresses redirected; {} skipped",
            self.types.values().sum::<usize>(),
            types.join(", "),
            self.comments,
            self.categories,
            self.tags,
            self.authors,
            self.published,
            self.scheduled,
            self.drafts,
            self.updated,
            self.unchanged,
            self.redirects,
            self.skipped.len()
        )
    }
}

/// WordPress's time of a post: its GMT time where the export has one, otherwise its local time
/// in the outlet's zone.
fn post_time(item: &Item, zone: &jiff::tz::TimeZone) -> Option<Timestamp> {
    let parse = |s: &str| jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", s).ok();
    let gmt = item.get("wp:post_date_gmt");
    if !gmt.is_empty() && !gmt.starts_with("0000") {
        return parse(gmt)
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp());
    }
    parse(item.get("wp:post_date"))
        .and_then(|d| d.to_zoned(zone.clone()).ok())
        .map(|z| z.timestamp())
}

/// The block-level elements a classic post's paragraph may begin with.
const BLOCKS: [&str; 22] = [
    "<p",
    "<div",
    "<h1",
    "<h2",
    "<h3",
    "<h4",
    "<h5",
    "<h6",
    "<ul",
    "<ol",
    "<li",
    "<blockquote",
    "<pre",
    "<table",
    "<figure",
    "<hr",
    "<dl",
    "<address",
    "<!--",
    "<iframe",
    "<form",
    "<section",
];

/// WordPress content as article HTML (before the sanitizer): block comments dropped, and for
/// classic content, paragraphs where WordPress would put them (its `wpautop`), captions as
/// figures, and other shortcodes' brackets removed.
pub fn body_html(content: &str) -> String {
    let content = content.replace("\r\n", "\n");
    let content = captions(&content);
    let content = shortcodes(&content);
    if content.contains("<!-- wp:") {
        return content;
    }
    let mut out = String::new();
    for block in content.split("\n\n") {
        let block = block.trim();
        if block.is_empty() {
            continue;
        }
        let lower = block.to_ascii_lowercase();
        if BLOCKS.iter().any(|b| lower.starts_with(b)) {
            out.push_str(block);
        } else {
            out.push_str("<p>");
            out.push_str(&block.replace('\n', "<br>\n"));
            out.push_str("</p>");
        }
        out.push('\n');
    }
    out
}

/// `[caption ...]<img ...> The caption[/caption]` as a figure with its caption.
fn captions(content: &str) -> String {
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(start) = rest.find("[caption") {
        let Some(open_end) = rest[start..].find(']').map(|i| start + i + 1) else {
            break;
        };
        let Some(close) = rest[open_end..].find("[/caption]").map(|i| open_end + i) else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = &rest[open_end..close];
        // The image (possibly in a link) ends at its last '>'; the caption follows.
        let cut = inner.rfind('>').map_or(0, |i| i + 1);
        let (media, caption) = inner.split_at(cut);
        out.push_str("<figure>");
        out.push_str(media.trim());
        if !caption.trim().is_empty() {
            out.push_str("<figcaption>");
            out.push_str(caption.trim());
            out.push_str("</figcaption>");
        }
        out.push_str("</figure>");
        rest = &rest[close + "[/caption]".len()..];
    }
    out.push_str(rest);
    out
}

/// The brackets of WordPress's media shortcodes removed (what they wrap stays), and an embed's
/// address made a link.
fn shortcodes(content: &str) -> String {
    const NAMES: [&str; 8] = [
        "gallery",
        "embed",
        "audio",
        "video",
        "playlist",
        "code",
        "sourcecode",
        "wp_caption",
    ];
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(at) = rest.find('[') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let name: String = tail
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        match tail.find(']') {
            Some(end) if NAMES.contains(&name.as_str()) => {
                if name == "embed" && !tail.starts_with('/') {
                    if let Some(close) = tail[end + 1..].find("[/embed]") {
                        let url = tail[end + 1..end + 1 + close].trim();
                        out.push_str(&format!("<p><a href=\"{url}\">{url}</a></p>"));
                        rest = &tail[end + 1 + close + "[/embed]".len()..];
                        continue;
                    }
                }
                rest = &tail[end + 1..];
            }
            _ => {
                out.push('[');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A slug for a WordPress term: its nicename where Dateline can keep it, else one made of its
/// name.
fn term_slug(nicename: &str, name: &str) -> Option<Slug> {
    Slug::parse(nicename)
        .ok()
        .or_else(|| Slug::from_text(name))
        .or_else(|| Slug::from_text(&percent_decode(nicename)))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| {
            if v.is_empty() {
                k.to_string()
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Imports an export. `owner` owns the drafts and scheduled posts (without one they are
/// skipped, with that reason).
pub async fn import_file(
    store: &dyn Store,
    path: &Path,
    options: &ImportOptions,
    owner: Option<i64>,
    progress: bool,
) -> anyhow::Result<WxrReport> {
    let export = parse(path)?;
    let mut report = WxrReport {
        categories: export.categories.len(),
        tags: export.tags.len(),
        authors: export.authors.len(),
        ..WxrReport::default()
    };
    let base = export.link.trim_end_matches('/').to_string();
    // Keys name the site as well as the post: two WordPress sites have posts of the same id.
    let site: String = base
        .split("://")
        .nth(1)
        .unwrap_or(&base)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    let attachments: HashMap<&str, &str> = export
        .items
        .iter()
        .filter(|i| i.get("wp:post_type") == "attachment")
        .map(|i| (i.get("wp:post_id"), i.get("wp:attachment_url")))
        .collect();
    let lang = export
        .language
        .split(['-', '_'])
        .next()
        .filter(|l| !l.is_empty())
        .map(str::to_ascii_lowercase);
    let bar = crate::progress_bar(
        export.items.len() as u64,
        "{msg} [{bar:30}] {pos}/{len} items eta {eta}",
        progress,
    );
    bar.set_message(path.display().to_string());
    let mut made: std::collections::HashSet<String> = std::collections::HashSet::new();
    for item in &export.items {
        bar.inc(1);
        let kind = item.get("wp:post_type").to_string();
        *report.types.entry(kind.clone()).or_default() += 1;
        report.comments += item.comments;
        let id = item.get("wp:post_id");
        let title = item.get("title").to_string();
        let skip = |report: &mut WxrReport, why: String| {
            report.skipped.push((format!("post {id} {title:?}"), why));
        };
        if kind != "post" {
            let why = match kind.as_str() {
                "page" => "a page: Dateline keeps articles, not static pages".to_string(),
                "attachment" => {
                    "a media file: featured images are read from it; uploads are not copied"
                        .to_string()
                }
                other => format!("a WordPress {other}, not an article"),
            };
            skip(&mut report, why);
            continue;
        }
        let status = item.get("wp:status").to_string();
        *report.statuses.entry(status.clone()).or_default() += 1;
        let protected = !item.get("wp:post_password").is_empty();
        let overdue = status == "future"
            && post_time(item, &options.time_zone).is_some_and(|t| t <= Timestamp::now());
        let target = match (status.as_str(), protected) {
            ("publish", false) => Target::Live,
            // WordPress would have published it by now.
            ("future", false) if overdue => Target::Live,
            ("publish", true) => Target::Draft,
            ("future", _) => Target::Scheduled,
            ("draft" | "pending" | "auto-draft", _) => Target::Draft,
            (other, _) => {
                skip(&mut report, format!("its status is {other:?}: only published, scheduled, pending and draft posts are imported"));
                continue;
            }
        };
        if target != Target::Live && owner.is_none() {
            skip(
                &mut report,
                format!(
                    "a {} post: name the account that will own drafts and schedules with --owner",
                    if protected {
                        "password-protected"
                    } else {
                        &status
                    }
                ),
            );
            continue;
        }
        let Some(when) = post_time(item, &options.time_zone) else {
            skip(&mut report, "it has no date".into());
            continue;
        };
        // The record.
        let mut r = Map::new();
        r.insert("id".into(), json!(format!("wp-{site}-{id}")));
        let mut headline = options.sanitizer.clean(&title).text();
        let mut body = body_html(item.get("content:encoded"));
        if let Some(url) = item
            .meta
            .get("_thumbnail_id")
            .and_then(|t| attachments.get(t.as_str()))
            .filter(|u| !u.is_empty())
        {
            body = format!("<figure><img src=\"{url}\" alt=\"\"></figure>\n{body}");
        }
        if headline.trim().is_empty() {
            // WordPress shows "(no title)"; Dateline needs a headline: the body's first words.
            let text = options.sanitizer.clean(&body).text();
            let words: Vec<&str> = text.split_whitespace().take(10).collect();
            headline = if words.is_empty() {
                "(no title)".to_string()
            } else {
                format!("{}…", words.join(" "))
            };
        }
        r.insert("headline".into(), json!(headline));
        r.insert("body".into(), json!(body));
        let excerpt = options.sanitizer.clean(item.get("excerpt:encoded")).text();
        if !excerpt.trim().is_empty() {
            r.insert("summary".into(), json!(excerpt.trim()));
        }
        if let Some(l) = &lang {
            r.insert("lang".into(), json!(l));
        }
        let creator = item.get("dc:creator");
        let shown = export
            .authors
            .get(creator)
            .filter(|n| !n.is_empty())
            .map_or(creator, String::as_str);
        if !shown.is_empty() {
            r.insert("byline".into(), json!(format!("By {shown}")));
        }
        r.insert("published".into(), json!(when.to_string()));
        let mut section: Option<(Slug, String)> = None;
        let mut topics: Vec<(Slug, String)> = Vec::new();
        for (domain, nicename, name) in &item.terms {
            let Some(slug) = term_slug(nicename, name) else {
                continue;
            };
            let name = match domain.as_str() {
                "category" => export
                    .categories
                    .get(nicename)
                    .cloned()
                    .unwrap_or_else(|| name.clone()),
                "post_tag" => export
                    .tags
                    .get(nicename)
                    .cloned()
                    .unwrap_or_else(|| name.clone()),
                _ => continue,
            };
            if domain == "category" && section.is_none() {
                section = Some((slug, name));
            } else if !topics.iter().any(|(s, _)| *s == slug)
                && section.as_ref().is_none_or(|(s, _)| *s != slug)
            {
                topics.push((slug, name));
            }
        }
        if let Some((s, _)) = &section {
            r.insert("section".into(), json!(s.as_str()));
        }
        let most = dateline_core::article::limits::TOPICS;
        if topics.len() > most {
            report.notes.push((
                format!("post {id} {title:?}"),
                format!("has {} categories and tags beside its section; the first {most} are its topics", topics.len()),
            ));
            topics.truncate(most);
        }
        if !topics.is_empty() {
            r.insert(
                "topics".into(),
                json!(topics.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>()),
            );
        }
        let article = match parse_object(&r, options) {
            Ok(a) => a,
            Err(e) => {
                skip(&mut report, e.0);
                continue;
            }
        };
        let article_lang = article.lang().as_str().to_string();
        // The collections it names, with their WordPress names.
        let sections = store.sections().await?;
        if let Some((key, name)) = &section {
            if !sections.iter().any(|s| s.key == *key) && made.insert(format!("s:{key}")) {
                let code = sections.iter().map(|s| s.code).max().unwrap_or(90_000) + 1;
                store
                    .put_section(&Section {
                        key: key.clone(),
                        code,
                        name: Localized::new(&article_lang, name.as_str()),
                    })
                    .await?;
            }
        }
        for (key, name) in &topics {
            if made.insert(format!("t:{key}")) && store.topic(key).await?.is_none() {
                store
                    .put_topic(&Topic {
                        key: key.clone(),
                        title: Localized::new(&article_lang, name.as_str()),
                        intro: Default::default(),
                    })
                    .await?;
            }
        }
        let key = ArticleKey::parse(&format!("wp-{site}-{id}")).context("a post id")?;
        let now = Timestamp::now();
        let stored = match target {
            Target::Live => {
                let outcome = store.import_articles(&[article], now).await?;
                match outcome.into_iter().next() {
                    Some(Ok(Upserted::Inserted(id))) => {
                        report.published += 1;
                        Some(id)
                    }
                    Some(Ok(Upserted::Updated(id))) => {
                        tracing::debug!(post = %key, "updated");
                        report.updated += 1;
                        Some(id)
                    }
                    Some(Ok(Upserted::Unchanged(id))) => {
                        report.unchanged += 1;
                        Some(id)
                    }
                    Some(Err(e)) => {
                        skip(&mut report, e.to_string());
                        None
                    }
                    None => None,
                }
            }
            Target::Draft | Target::Scheduled => {
                if let Some(existing) = store.article_id(&key).await? {
                    // Imported before: the newsroom may have worked on it since.
                    report.notes.push((
                        format!("post {id} {title:?}"),
                        format!("is {status} in WordPress; Dateline's copy, imported before, is left as the newsroom has it"),
                    ));
                    report.unchanged += 1;
                    Some(existing)
                } else {
                    let owner = owner.unwrap_or_default();
                    let worked = store.create_draft(&article, owner, now).await?;
                    if target == Target::Scheduled && when > now {
                        store
                            .change_state(worked.id, worked.state, StateChange::Schedule(when), now)
                            .await?;
                        report.scheduled += 1;
                    } else {
                        report.drafts += 1;
                    }
                    Some(worked.id)
                }
            }
        };
        // The old address, kept as a redirect.
        if let Some(article_id) = stored {
            // The path of the old permalink, whatever its scheme and host (http or https,
            // with www or without); a `?p=ID` address of a draft is none.
            let old = url::Url::parse(item.get("link"))
                .ok()
                .filter(|u| u.query().is_none())
                .map(|u| dateline_core::address::normalize_path(u.path()))
                .filter(|p| p.len() > 1);
            if let Some(old) = old {
                store.put_redirect(&old, article_id).await?;
                report.redirects += 1;
            }
        }
    }
    bar.finish_and_clear();
    tracing::info!(file = %path.display(), %report, "imported a WordPress export");
    Ok(report)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Live,
    Draft,
    Scheduled,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_content_gets_paragraphs_and_figures() {
        let html = body_html(
            "First line\nsecond line\n\nNext paragraph.\n\n<ul><li>a</li></ul>\n\n[caption id=\"attachment_1\" align=\"alignnone\" width=\"300\"]<img src=\"x.jpg\" /> A harbour[/caption]\n\n[gallery ids=\"1,2\"]\n\n[embed]https://example.org/v[/embed]",
        );
        assert_eq!(
            html,
            "<p>First line<br>\nsecond line</p>\n<p>Next paragraph.</p>\n<ul><li>a</li></ul>\n<figure><img src=\"x.jpg\" /><figcaption>A harbour</figcaption></figure>\n<p><a href=\"https://example.org/v\">https://example.org/v</a></p>\n"
        );
        let blocks = "<!-- wp:paragraph -->\n<p>Block [1] text.</p>\n<!-- /wp:paragraph -->";
        assert_eq!(body_html(blocks), blocks);
    }
}
