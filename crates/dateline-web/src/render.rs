//! Templates, and the views that pages hand them: plain data, already formatted.

use dateline_core::html::escape;
use dateline_core::{ArticleLink, Lang, SafeHtml, Section};
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use crate::ui::{language_name, ui, Ui};
use crate::Site;

/// The compiled templates, embedded in the binary.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn new() -> Templates {
        let mut env = Environment::new();
        // minijinja's own escaping also writes "/" as "&#x2f;": valid, but it makes every
        // address in the page source hard to read. Strings are escaped as Dateline's body HTML is.
        env.set_formatter(|out, state, value| match value.as_str() {
            Some(s) if state.auto_escape() == AutoEscape::Html && !value.is_safe() => {
                out.write_str(&escape(&markup_chars(s))).map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
                })
            }
            _ => minijinja::escape_formatter(out, state, value),
        });
        let sources = [
            ("base.html", include_str!("../templates/base.html")),
            ("macros.html", include_str!("../templates/macros.html")),
            ("home.html", include_str!("../templates/home.html")),
            ("listing.html", include_str!("../templates/listing.html")),
            ("article.html", include_str!("../templates/article.html")),
            ("error.html", include_str!("../templates/error.html")),
            ("search.html", include_str!("../templates/search.html")),
            (
                "corrections.html",
                include_str!("../templates/corrections.html"),
            ),
            ("feeds/rss.xml", include_str!("../templates/feeds/rss.xml")),
            ("newsml.xml", include_str!("../templates/newsml.xml")),
            (
                "feeds/atom.xml",
                include_str!("../templates/feeds/atom.xml"),
            ),
            (
                "sitemaps/index.xml",
                include_str!("../templates/sitemaps/index.xml"),
            ),
            (
                "sitemaps/urls.xml",
                include_str!("../templates/sitemaps/urls.xml"),
            ),
            (
                "sitemaps/news.xml",
                include_str!("../templates/sitemaps/news.xml"),
            ),
            (
                "admin/base.html",
                include_str!("../templates/admin/base.html"),
            ),
            (
                "admin/login.html",
                include_str!("../templates/admin/login.html"),
            ),
            (
                "admin/forbidden.html",
                include_str!("../templates/admin/forbidden.html"),
            ),
            (
                "admin/password.html",
                include_str!("../templates/admin/password.html"),
            ),
            (
                "admin/desk.html",
                include_str!("../templates/admin/desk.html"),
            ),
            (
                "admin/editor.html",
                include_str!("../templates/admin/editor.html"),
            ),
            (
                "admin/history.html",
                include_str!("../templates/admin/history.html"),
            ),
            (
                "admin/accounts.html",
                include_str!("../templates/admin/accounts.html"),
            ),
            (
                "admin/webhooks.html",
                include_str!("../templates/admin/webhooks.html"),
            ),
            (
                "admin/audit.html",
                include_str!("../templates/admin/audit.html"),
            ),
            (
                "admin/threads.html",
                include_str!("../templates/admin/threads.html"),
            ),
            (
                "admin/thread.html",
                include_str!("../templates/admin/thread.html"),
            ),
        ];
        for (name, source) in sources {
            // The templates are part of the binary and covered by tests: a syntax error is a
            // bug in this build, found by the first test that renders a page.
            if let Err(e) = env.add_template(name, source) {
                panic!("template {name} does not compile: {e:#}");
            }
        }
        Templates { env }
    }

    pub fn render(&self, name: &str, context: impl Serialize) -> Result<String, minijinja::Error> {
        let mut page = self.env.get_template(name)?.render(context)?;
        // A page grows by doubling as it is written: the room left over, up to as much again
        // as the page, would stay with it in the page cache.
        page.shrink_to_fit();
        Ok(page)
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

/// Sanitized HTML, for a template to write as it is. The one place where a page's text is
/// marked safe: only what [`SafeHtml`] holds, made by the sanitizer, may be.
pub fn html(safe: &SafeHtml) -> minijinja::Value {
    minijinja::Value::from_safe_string(safe.as_str().to_string())
}

/// A JSON-LD document, for a template to write inside `<script type="application/ld+json">`.
/// Inside `<script>`, `</script`, `<!--` or `<script` would change how the page parses: every
/// `<` is written as the JSON escape `\u003c` (and `>` and `&` likewise), which parsers read back
/// as the same character.
/// Sanitized HTML as XHTML (for NewsML-G2's `inlineXML`), ready for an XML template.
pub fn xhtml(safe: &SafeHtml, base: &str) -> minijinja::Value {
    minijinja::Value::from_safe_string(crate::newsml::xhtml(safe.as_str(), base))
}

pub fn json_ld(document: &serde_json::Value) -> minijinja::Value {
    let text = document
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    minijinja::Value::from_safe_string(text)
}

/// An article as lists and links show it.
#[derive(Debug, Serialize)]
pub struct LinkView {
    pub url: String,
    pub headline: String,
    pub summary: Option<String>,
    pub lang: String,
    pub dir: &'static str,
    /// The publication time as the outlet writes it.
    pub time: String,
    /// The same time for `<time datetime>`.
    pub datetime: String,
    pub section: String,
    pub section_url: String,
    pub credit: Option<String>,
    pub episode: Option<u32>,
}

/// A section in the navigation.
#[derive(Debug, Serialize)]
pub struct NavItem {
    pub name: String,
    pub url: String,
    pub current: bool,
}

/// An edition in the language switcher, or a translation of an article.
#[derive(Debug, Serialize)]
pub struct EditionView {
    pub lang: String,
    pub name: String,
    pub url: String,
    pub current: bool,
}

/// What every page's frame needs.
#[derive(Debug, Serialize)]
pub struct Frame {
    pub outlet: String,
    pub lang: String,
    pub dir: &'static str,
    pub ui: &'static Ui,
    pub home_url: String,
    pub sections: Vec<NavItem>,
    pub editions: Vec<EditionView>,
    pub title: String,
    pub description: String,
    /// Absolute, for `<link rel="canonical">`.
    pub canonical: Option<String>,
    /// Absolute addresses of the same page in other languages, for `hreflang`.
    pub alternates: Vec<EditionView>,
    /// The feeds of the page, for its `<head>`.
    pub feeds: Vec<crate::pages::feeds::FeedLink>,
    pub year: i16,
}

impl Site {
    pub(crate) fn absolute(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The edition an article in `lang` belongs to: its own, or the primary one for a language
    /// the outlet has no edition in.
    pub(crate) fn edition_for<'a>(&'a self, lang: &'a Lang) -> &'a Lang {
        if self.languages.contains(lang) {
            lang
        } else {
            self.primary()
        }
    }

    pub(crate) fn section_url(&self, lang: &Lang, key: &str) -> String {
        format!("{}/section/{key}", self.prefix(lang))
    }

    pub(crate) fn frame(
        &self,
        lang: &Lang,
        sections: &[Section],
        current_section: Option<&str>,
        title: String,
        description: String,
    ) -> Frame {
        let primary = self.primary().as_str();
        Frame {
            outlet: self.outlet.clone(),
            lang: lang.to_string(),
            dir: lang.dir(),
            ui: ui(lang.as_str()),
            home_url: format!("{}/", self.prefix(lang)),
            sections: sections
                .iter()
                .map(|s| NavItem {
                    name: s.name.text(lang.as_str(), primary).to_string(),
                    url: self.section_url(lang, s.key.as_str()),
                    current: current_section == Some(s.key.as_str()),
                })
                .collect(),
            editions: self
                .languages
                .iter()
                .map(|l| EditionView {
                    lang: l.to_string(),
                    name: language_name(l.as_str()).to_string(),
                    url: format!("{}/", self.prefix(l)),
                    current: l == lang,
                })
                .collect(),
            title,
            description,
            canonical: None,
            alternates: vec![],
            feeds: vec![],
            year: jiff::Timestamp::now()
                .to_zoned(self.time_zone.clone())
                .year(),
        }
    }

    pub(crate) fn link_view(&self, sections: &[Section], link: &ArticleLink) -> LinkView {
        let section = sections.iter().find(|s| s.key == link.section_key);
        let section_name = section
            .map(|s| {
                s.name
                    .text(link.lang.as_str(), self.primary().as_str())
                    .to_string()
            })
            .unwrap_or_else(|| link.section_key.to_string());
        LinkView {
            url: link.address(&self.address, &self.time_zone),
            headline: link.headline.clone(),
            summary: link.summary.clone(),
            lang: link.lang.to_string(),
            dir: link.lang.dir(),
            time: self
                .dateline
                .time(link.published, &self.time_zone, &link.lang),
            datetime: link.published.to_string(),
            section: section_name,
            section_url: self.section_url(self.edition_for(&link.lang), link.section_key.as_str()),
            credit: link.credit.clone(),
            episode: link.episode,
        }
    }
}

/// Text without the characters XML 1.0 forbids and HTML calls errors (control characters
/// other than tab and line breaks, and the non-characters U+FFFE and U+FFFF): a feed with one
/// is not XML at all.
pub fn markup_chars(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
    };
    if text.contains(bad) {
        std::borrow::Cow::Owned(text.chars().filter(|c| !bad(*c)).collect())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Cuts text to about `max` characters at a word boundary, for meta descriptions.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 => &cut[..i],
        _ => &cut,
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', ' ']))
}
