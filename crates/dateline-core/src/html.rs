//! Article bodies as safe HTML.
//!
//! Every body is sanitized on the way in; what is stored is [`SafeHtml`], and nothing
//! downstream cleans it again. Editors place inline related headlines with links of the
//! form `<a href="article:KEY"></a>`: the page resolves them to the target's current address
//! and, where the anchor is empty, its current headline.

use std::collections::HashSet;
use std::sync::OnceLock;

use ammonia::Builder;

/// HTML that went through the sanitizer: no script, event handler, style or `javascript:` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeHtml(String);

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

fn sanitizer() -> &'static Builder<'static> {
    static BUILDER: OnceLock<Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(|| {
        let mut b = Builder::empty();
        b.add_tags(TAGS)
            .add_generic_attributes(["lang", "dir", "title"])
            .add_tag_attributes("a", ["href"])
            .add_tag_attributes("img", ["src", "alt", "width", "height"])
            .add_tag_attributes("blockquote", ["cite"])
            .add_tag_attributes("q", ["cite"])
            .add_tag_attributes("time", ["datetime"])
            .add_tag_attributes("td", ["colspan", "rowspan"])
            .add_tag_attributes("th", ["colspan", "rowspan", "scope"])
            .add_tag_attributes("ol", ["start"])
            .url_schemes(["http", "https", "mailto", "article"].into_iter().collect())
            .link_rel(None)
            .strip_comments(true);
        // Headings above h2 would compete with the page's one h1: keep their text only.
        b.clean_content_tags(["script", "style", "template"].into_iter().collect());
        b
    })
}

impl SafeHtml {
    /// Sanitizes untrusted HTML.
    pub fn sanitize(html: &str) -> SafeHtml {
        SafeHtml(sanitizer().clean(html).to_string().trim().to_string())
    }

    /// Turns plain text into paragraphs: blank lines separate paragraphs; a text without blank
    /// lines but with line breaks has one paragraph a line.
    pub fn from_text(text: &str) -> SafeHtml {
        let text = text.replace("\r\n", "\n");
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

    /// Wraps HTML read back from storage, which only ever holds sanitized HTML.
    pub fn from_trusted_storage(html: String) -> SafeHtml {
        SafeHtml(html)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The plain text, for summaries and descriptions.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in self.0.chars() {
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
    ) -> String {
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
        out.replace("<p></p>", "")
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
    use proptest::prelude::*;

    #[test]
    fn removes_what_could_run() {
        let dirty = r#"<p onclick="x()">Hi<script>alert(1)</script><a href="javascript:alert(1)">a</a><img src=x onerror=alert(1)><span style="position:fixed">s</span></p><style>p{}</style><iframe src="https://e"></iframe>"#;
        let clean = SafeHtml::sanitize(dirty);
        let s = clean.as_str();
        for bad in [
            "script",
            "onclick",
            "javascript",
            "onerror",
            "style",
            "iframe",
            "alert",
        ] {
            assert!(!s.contains(bad), "{bad} survived in {s}");
        }
        assert!(s.contains("<p>Hi"));
    }

    #[test]
    fn text_to_paragraphs() {
        assert_eq!(
            SafeHtml::from_text("One\nline.\n\nTwo & <three>").as_str(),
            "<p>One line.</p><p>Two &amp; &lt;three&gt;</p>"
        );
        assert_eq!(SafeHtml::from_text("a\nb\n").as_str(), "<p>a</p><p>b</p>");
    }

    #[test]
    fn resolves_inline_links() {
        let body = SafeHtml::sanitize(
            r#"<p>Before.</p><p><a href="article:other"></a></p><p>See <a title="t" href="article:kept">this story</a> and <a href="article:gone">that one</a>.</p><p><a href="https://example.org/">out</a></p>"#,
        );
        assert_eq!(body.linked_article_keys(), vec!["other", "kept", "gone"]);
        let html = body.resolve_article_links(|key| match key {
            "other" => Some(("/n3/2021/1022/c1-2.html", "A <headline>")),
            "kept" => Some(("/a/3", "Ignored")),
            _ => None,
        });
        assert_eq!(
            html,
            r#"<p>Before.</p><p><a class="inline-related" href="/n3/2021/1022/c1-2.html">A &lt;headline&gt;</a></p><p>See <a class="inline-related" href="/a/3">this story</a> and that one.</p><p><a href="https://example.org/">out</a></p>"#
        );
    }

    #[test]
    fn detects_html() {
        assert!(looks_like_html("<p>Hello</p>"));
        assert!(looks_like_html("Line<br/>two"));
        assert!(!looks_like_html("Profits rose 5% <> expectations; a<b"));
        assert!(!looks_like_html("The <pre-tax> figure"));
    }

    fn dangerous_fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("<script>alert(1)</script>".to_string()),
            Just("<img src=x onerror=alert(1)>".to_string()),
            Just("<a href=\"javascript:alert(1)\">x</a>".to_string()),
            Just("<a href=\"JaVaScRiPt:alert(1)\">x</a>".to_string()),
            Just("<a href=\"java&#x09;script:alert(1)\">x</a>".to_string()),
            Just("<p style=\"background:url(x)\">s</p>".to_string()),
            Just("<svg onload=alert(1)>".to_string()),
            Just("<iframe srcdoc=\"<script>\"></iframe>".to_string()),
            Just("<div onmouseover='alert(1)'>".to_string()),
            Just("<scr<script>ipt>alert(1)</script>".to_string()),
            Just("<object data=x></object><embed src=x>".to_string()),
            Just("<form action=x><input onfocus=alert(1) autofocus></form>".to_string()),
            Just("<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>".to_string()),
            Just("<base href=\"javascript:/\">".to_string()),
            "[a-z <>=\"'/]{0,20}",
        ]
    }

    proptest! {
        #[test]
        fn nothing_executable_survives(parts in proptest::collection::vec(dangerous_fragment(), 1..8)) {
            let dirty = parts.concat();
            let clean = SafeHtml::sanitize(&dirty);
            // Parse the output the way a browser would and look at every element and attribute.
            let lower = clean.as_str().to_ascii_lowercase();
            for tag in ["<script", "<style", "<iframe", "<svg", "<object", "<embed", "<form", "<input", "<base", "<math"] {
                prop_assert!(!lower.contains(tag), "{} survived in {}", tag, clean.as_str());
            }
            prop_assert!(!lower.contains("javascript:"), "javascript: survived in {}", clean.as_str());
            prop_assert!(!lower.contains(" on") || !lower.contains('='), "a handler may have survived in {}", clean.as_str());
            prop_assert!(!lower.contains("style="), "style survived in {}", clean.as_str());
            // Sanitizing is idempotent: stored HTML is a fixed point.
            prop_assert_eq!(SafeHtml::sanitize(clean.as_str()), clean.clone());
        }
    }
}
