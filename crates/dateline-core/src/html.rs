//! Article bodies and editors' texts as safe HTML: the one trust boundary.
//!
//! Every HTML that reaches a page goes through [`Sanitizer::clean`] on its way into storage;
//! what is stored is [`SafeHtml`], and nothing downstream cleans it again. A [`SafeHtml`] can be
//! made only here: by the sanitizer, by escaping plain text, by resolving inline links in one
//! that already is safe, or by storage reading back what the sanitizer wrote
//! ([`SafeHtml::from_storage`], which only `dateline-storage` calls: a test holds it to that).
//!
//! Editors place inline related headlines with links of the form `<a href="article:KEY"></a>`:
//! the page resolves them to the target's current address and, where the anchor is empty, its
//! current headline.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use ammonia::Builder;
use url::Url;

use crate::text::strip_controls;
use crate::Localized;

/// HTML that went through the sanitizer: no script, event handler, style, `javascript:` URL or
/// image from a host the outlet did not allow.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SafeHtml(String);

/// What the sanitizer lets through beyond its fixed rules: the hosts images may come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlPolicy {
    /// Hosts (such as `media.example.org`) whose images bodies may show, besides the outlet's
    /// own addresses (relative ones, such as `/media/photo.jpg`). Any other image would let a
    /// third party watch who reads the story, so it is removed.
    pub image_hosts: Vec<String>,
}

/// The sanitizer, built once from the outlet's policy.
pub struct Sanitizer {
    builder: Builder<'static>,
}

impl std::fmt::Debug for Sanitizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sanitizer").finish_non_exhaustive()
    }
}

/// The elements a body may hold.
const TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "dd",
    "del",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "u",
    "ul",
];

/// The link scheme of inline related-story links.
pub const ARTICLE_SCHEME: &str = "article:";

impl Sanitizer {
    pub fn new(policy: &HtmlPolicy) -> Sanitizer {
        let hosts: Vec<String> = policy
            .image_hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let mut b = Builder::empty();
        b.add_tags(TAGS)
            .add_generic_attributes(["lang", "dir", "title"])
            .add_tag_attributes("a", ["href"])
            .add_tag_attributes("img", ["src", "alt", "width", "height", "srcset", "sizes"])
            // Images below the fold load when the reader gets there. One forced attribute only:
            // ammonia keeps forced ones in a hash map, and two would come out in any order.
            .set_tag_attribute_value("img", "loading", "lazy")
            .add_tag_attributes("blockquote", ["cite"])
            .add_tag_attributes("q", ["cite"])
            .add_tag_attributes("time", ["datetime"])
            .add_tag_attributes("td", ["colspan", "rowspan"])
            .add_tag_attributes("th", ["colspan", "rowspan", "scope"])
            .add_tag_attributes("ol", ["start"])
            .url_schemes(["http", "https", "mailto", "article"].into_iter().collect())
            // A link to another site must not hand it this page (window.opener) or its address.
            .link_rel(Some("noopener noreferrer"))
            .strip_comments(true)
            .attribute_filter(move |element, attribute, value| {
                let keep = match (element, attribute) {
                    ("img", "src") => image_allowed(value, &hosts),
                    // Every candidate of a responsive image obeys the rule for `src`.
                    ("img", "srcset") => srcset_allowed(value, &hosts),
                    ("img", "sizes") => value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || " (),.-:%".contains(c)),
                    ("img", "width" | "height") => {
                        !value.is_empty()
                            && value.len() <= 5
                            && value.bytes().all(|b| b.is_ascii_digit())
                    }
                    // ammonia checks the schemes of links and images, not of quotations; and an
                    // address that a browser cannot even parse leads nowhere.
                    (_, "cite" | "href") => scheme_allowed(value),
                    _ => true,
                };
                keep.then_some(Cow::Borrowed(value))
            });
        // What these hold is never text a reader should see.
        b.clean_content_tags(["script", "style", "template"].into_iter().collect());
        Sanitizer { builder: b }
    }

    /// Sanitizes untrusted HTML.
    pub fn clean(&self, html: &str) -> SafeHtml {
        let mut clean = self.clean_once(html);
        // What the parser built in a mode of its own (a <select>, SVG, MathML) can serialize,
        // once the sanitizer took the element away, to markup a browser parses differently:
        // a paragraph inside a paragraph, say. Cleaning the output again, until it stays the
        // same, gives what a browser will read; almost always the second pass changes nothing.
        for _ in 0..3 {
            let again = self.clean_once(clean.as_str());
            if again == clean {
                break;
            }
            clean = again;
        }
        clean
    }

    fn clean_once(&self, html: &str) -> SafeHtml {
        // Control characters go from the output, where character references such as `&#1;`
        // have become the characters themselves.
        let cleaned = self.builder.clean(html).to_string();
        let cleaned = strip_controls(&cleaned);
        // A parser reads a carriage return (`&#13;` in the source) as a line feed, so the output
        // holds line feeds only and reads back the same: sanitizing stays idempotent.
        let cleaned = cleaned.replace("\r\n", "\n").replace('\r', "\n");
        SafeHtml(drop_images_without_source(&cleaned).trim().to_string())
    }

    /// Sanitizes each language's text of an editor's HTML, such as a topic's introduction.
    pub fn clean_localized(&self, texts: &Localized) -> LocalizedHtml {
        LocalizedHtml(
            texts
                .iter()
                .map(|(lang, html)| (lang.to_string(), self.clean(html)))
                .collect(),
        )
    }
}

/// Whether an image address is the outlet's own (relative) or on a host it allowed. The address
/// is resolved as a browser would (backslashes, `//host`, spaces and all) before its host is read.
fn image_allowed(src: &str, hosts: &[String]) -> bool {
    const OWN: &str = "own.invalid";
    let Ok(base) = Url::parse("https://own.invalid/") else {
        return false;
    };
    match base.join(src) {
        Ok(url) => match url.host_str() {
            Some(OWN) => true,
            Some(host) => {
                // As the Content-Security-Policy allows them: https, on its own port.
                url.scheme() == "https" && url.port().is_none() && hosts.iter().any(|h| h == host)
            }
            None => false,
        },
        Err(_) => false,
    }
}

/// Whether every candidate of a `srcset` (`ADDRESS WIDTHw, ...`) is an allowed image address
/// with a plain width or density descriptor, as the editor writes them.
fn srcset_allowed(srcset: &str, hosts: &[String]) -> bool {
    srcset.split(',').all(|candidate| {
        let mut parts = candidate.split_whitespace();
        let (Some(url), descriptor, None) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        // Every candidate must carry its descriptor: a comma inside an address
        // (`https://own,@elsewhere/x.jpg 1w`) would otherwise split into pieces that each pass
        // here while a browser reads one address on another host.
        image_allowed(url, hosts)
            && descriptor.is_some_and(|d| {
                let digits = d.trim_end_matches(['w', 'x']);
                d.len() > digits.len()
                    && !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            })
    })
}

/// Whether an address, resolved as a browser would, uses a scheme bodies may link with.
fn scheme_allowed(value: &str) -> bool {
    Url::parse("https://own.invalid/")
        .and_then(|base| base.join(value))
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https" | "mailto" | "article"))
}

/// Removes `<img>` elements whose source the sanitizer took away: an image without one is
/// invalid HTML and shows a broken picture. Sanitized HTML is serialized regularly: attribute
/// values are double-quoted, with `"` escaped.
fn drop_images_without_source(html: &str) -> Cow<'_, str> {
    if !html.contains("<img") {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<img") {
        out.push_str(&rest[..start]);
        let tag_and_after = &rest[start..];
        let mut in_quotes = false;
        let mut end = tag_and_after.len();
        for (i, c) in tag_and_after.char_indices() {
            match c {
                '"' => in_quotes = !in_quotes,
                '>' if !in_quotes => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        let tag = &tag_and_after[..end];
        if tag.contains(" src=\"") {
            out.push_str(tag);
        }
        rest = &tag_and_after[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

impl SafeHtml {
    /// Turns plain text into paragraphs: blank lines separate paragraphs; a text without blank
    /// lines but with line breaks has one paragraph a line.
    pub fn from_text(text: &str) -> SafeHtml {
        let text = strip_controls(text).replace("\r\n", "\n");
        let blocks: Vec<&str> = if text.contains("\n\n") {
            text.split("\n\n").collect()
        } else {
            text.split('\n').collect()
        };
        let mut out = String::new();
        for block in blocks {
            let para = block.split_whitespace().collect::<Vec<_>>().join(" ");
            if !para.is_empty() {
                out.push_str("<p>");
                out.push_str(&escape(&para));
                out.push_str("</p>");
            }
        }
        SafeHtml(out)
    }

    /// Wraps HTML that storage reads back: storage only ever holds what the sanitizer made.
    /// Only `dateline-storage` calls this; `tests/trust_boundary.rs` fails if anything else does.
    #[doc(hidden)]
    pub fn from_storage(html: String) -> SafeHtml {
        SafeHtml(html)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The plain text, for summaries and descriptions.
    pub fn text(&self) -> String {
        plain_text(&self.0)
    }

    /// Splits off the text of a leading paragraph, for sources whose headline is the body's
    /// first line; the rest stays sanitized HTML, as it was.
    pub fn split_first_paragraph(&self) -> Option<(String, SafeHtml)> {
        let html = self.as_str();
        let end = html.find("</p>")?;
        if !html.starts_with("<p>") || html[3..end].contains("<p") {
            return None;
        }
        let first = SafeHtml(html[..end + 4].to_string()).text();
        Some((first, SafeHtml(html[end + 4..].trim().to_string())))
    }

    /// The keys of articles that inline links point to, in order of first appearance.
    pub fn linked_article_keys(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        inline_links(&self.0)
            .filter_map(|link| seen.insert(link.key).then(|| link.key.to_string()))
            .collect()
    }

    /// Replaces inline `article:KEY` links with links to the articles' current addresses.
    /// `lookup` gives the address and headline of a published article; a link to an article
    /// that is not (or no longer) published keeps its text and loses its link.
    pub fn resolve_article_links<'a>(
        &self,
        lookup: impl Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> SafeHtml {
        let mut out = String::with_capacity(self.0.len());
        let mut last = 0;
        for link in inline_links(&self.0) {
            out.push_str(&self.0[last..link.start]);
            let inner = &self.0[link.inner_start..link.inner_end];
            match lookup(link.key) {
                Some((href, headline)) => {
                    out.push_str("<a class=\"inline-related\" href=\"");
                    out.push_str(&escape(href));
                    out.push_str("\">");
                    if inner.trim().is_empty() {
                        out.push_str(&escape(headline));
                    } else {
                        out.push_str(inner);
                    }
                    out.push_str("</a>");
                }
                None => out.push_str(inner),
            }
            last = link.end;
        }
        out.push_str(&self.0[last..]);
        // An editor's related-headline paragraph whose target is gone leaves nothing behind.
        SafeHtml(out.replace("<p></p>", ""))
    }
}

/// Sanitized HTML in one or more languages, such as a topic's introduction. Made by
/// [`Sanitizer::clean_localized`] or read from storage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalizedHtml(BTreeMap<String, SafeHtml>);

impl LocalizedHtml {
    /// Wraps per-language HTML that storage reads back; see [`SafeHtml::from_storage`].
    #[doc(hidden)]
    pub fn from_storage(texts: BTreeMap<String, String>) -> LocalizedHtml {
        LocalizedHtml(
            texts
                .into_iter()
                .map(|(lang, html)| (lang, SafeHtml::from_storage(html)))
                .collect(),
        )
    }

    /// The HTML in `lang`, else in `fallback`, else in any language; empty when there is none.
    pub fn get<'a>(&'a self, lang: &str, fallback: &str) -> Option<&'a SafeHtml> {
        self.0
            .get(lang)
            .or_else(|| self.0.get(fallback))
            .or_else(|| self.0.values().next())
            .filter(|h| !h.is_empty())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &SafeHtml)> {
        self.0.iter().map(|(l, h)| (l.as_str(), h))
    }
}

struct InlineLink<'a> {
    key: &'a str,
    start: usize,
    inner_start: usize,
    inner_end: usize,
    end: usize,
}

/// Finds `<a ... href="article:KEY" ...>inner</a>` in sanitized HTML, whose serialisation is
/// regular: double-quoted attributes, no nested anchors.
fn inline_links(html: &str) -> impl Iterator<Item = InlineLink<'_>> {
    const HREF: &str = " href=\"article:";
    let mut pos = 0;
    std::iter::from_fn(move || loop {
        let start = pos + html[pos..].find("<a ")?;
        let inner_start = start + html[start..].find('>')? + 1;
        pos = inner_start;
        let tag = &html[start..inner_start];
        let Some(href) = tag.find(HREF) else { continue };
        let key_start = start + href + HREF.len();
        let key_end = key_start + html[key_start..].find('"')?;
        let inner_end = inner_start + html[inner_start..].find("</a>")?;
        let end = inner_end + "</a>".len();
        pos = end;
        let key = &html[key_start..key_end];
        if !key.is_empty() {
            return Some(InlineLink {
                key,
                start,
                inner_start,
                inner_end,
                end,
            });
        }
    })
}

/// The text of sanitized HTML: tags dropped, entities read, whitespace collapsed.
pub fn plain_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    unescape(&out.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// Whether a body given without a declared format looks like HTML rather than plain text.
pub fn looks_like_html(body: &str) -> bool {
    const TAGS: &[&str] = &[
        "<p",
        "<div",
        "<br",
        "<h2",
        "<h3",
        "<ul",
        "<ol",
        "<blockquote",
        "<figure",
        "<a ",
        "<em>",
        "<strong>",
        "<table",
    ];
    let lower = body.to_ascii_lowercase();
    TAGS.iter().any(|t| {
        lower.match_indices(t).any(|(i, _)| {
            let after = lower.as_bytes().get(i + t.len()).copied();
            t.ends_with(' ')
                || t.ends_with('>')
                || matches!(after, Some(b'>' | b' ' | b'/' | b'\n'))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(html: &str) -> SafeHtml {
        Sanitizer::new(&HtmlPolicy {
            image_hosts: vec!["media.example.org".to_string()],
        })
        .clean(html)
    }

    #[test]
    fn text_to_paragraphs() {
        assert_eq!(
            SafeHtml::from_text("One\nline.\n\nTwo & <three>").as_str(),
            "<p>One line.</p><p>Two &amp; &lt;three&gt;</p>"
        );
        assert_eq!(SafeHtml::from_text("a\nb\n").as_str(), "<p>a</p><p>b</p>");
        assert_eq!(
            SafeHtml::from_text("nul\u{0}here").as_str(),
            "<p>nulhere</p>"
        );
        assert_eq!(clean("<p>a&#1;b\u{1b}c</p>").as_str(), "<p>abc</p>");
        // Found by the property test: a <select> inside a paragraph left one inside another.
        for foreign in [
            "<p <script>alert(1)</script>><select onfocus=alert(1) autofocus></p>",
            "<p><select onfocus=alert(1) autofocus></p>",
        ] {
            let once = clean(foreign);
            assert!(!once.as_str().contains("<p><p>"), "{}", once.as_str());
            assert_eq!(clean(once.as_str()), once, "{foreign}");
        }
        let carriage = clean("<textarea>x</textarea><a href=\"java&#13;script:alert(1)\">x</a>");
        assert!(!carriage.as_str().contains('\r'));
        assert_eq!(clean(carriage.as_str()), carriage);
    }

    #[test]
    fn resolves_inline_links() {
        let body = clean(
            r#"<p>Before.</p><p><a href="article:other"></a></p><p>See <a title="t" href="article:kept">this story</a> and <a href="article:gone">that one</a>.</p><p><a href="https://example.org/">out</a></p>"#,
        );
        assert_eq!(body.linked_article_keys(), vec!["other", "kept", "gone"]);
        let html = body.resolve_article_links(|key| match key {
            "other" => Some(("/n3/2021/1022/c1-2.html", "A <headline>")),
            "kept" => Some(("/a/3", "Ignored")),
            _ => None,
        });
        assert_eq!(
            html.as_str(),
            r#"<p>Before.</p><p><a class="inline-related" href="/n3/2021/1022/c1-2.html">A &lt;headline&gt;</a></p><p>See <a class="inline-related" href="/a/3">this story</a> and that one.</p><p><a href="https://example.org/" rel="noopener noreferrer">out</a></p>"#
        );
    }

    #[test]
    fn images_come_only_from_the_outlet_and_the_hosts_it_allows() {
        let html = clean(
            r#"<p><img src="/media/own.jpg" alt="own"><img src="https://media.example.org/a.jpg" alt="allowed"><img src="http://tracker.example.com/p.gif" alt="a>b"><img src="//tracker.example.com/p.gif"><img src="/\tracker.example.com/p.gif"><img src="data:image/png;base64,AAAA"></p>"#,
        );
        assert_eq!(
            html.as_str(),
            r#"<p><img src="/media/own.jpg" alt="own" loading="lazy"><img src="https://media.example.org/a.jpg" alt="allowed" loading="lazy"></p>"#
        );
    }

    #[test]
    fn image_removal_reads_tags_not_attribute_values() {
        let html = clean(
            r#"<p title="a <img b> c">x</p><img src="https://tracker.example.com/t.gif" alt="q &quot;>"><p>y</p>"#,
        );
        let doc = html.as_str();
        assert!(doc.starts_with("<p title=\"a "), "{doc}");
        assert!(doc.ends_with("c\">x</p><p>y</p>"), "{doc}");
    }

    #[test]
    fn detects_html() {
        assert!(looks_like_html("<p>Hello</p>"));
        assert!(looks_like_html("Line<br/>two"));
        assert!(!looks_like_html("Profits rose 5% <> expectations; a<b"));
        assert!(!looks_like_html("The <pre-tax> figure"));
    }
}
