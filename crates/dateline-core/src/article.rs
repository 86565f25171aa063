//! Articles: what an editor submits, and what a reader is shown.

use std::fmt;

use jiff::{civil::Date, tz::TimeZone, Timestamp};

use crate::{AddressParts, AddressPattern, Lang, SafeHtml, Slug};

/// The numeric id that appears in an article's address, given by storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArticleId(i64);

impl ArticleId {
    pub fn new(id: i64) -> ArticleId {
        ArticleId(id)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for ArticleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An article's stable key: the id it had in the system it came from, or one given by the
/// newsroom. Imports use it to recognise an article they already hold; editors use it in
/// inline links (`article:KEY`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArticleKey(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an article key: use 1 to 128 letters, digits, '.', '_', ':' or '-'")]
pub struct ArticleKeyError(pub String);

impl ArticleKey {
    pub fn parse(s: &str) -> Result<ArticleKey, ArticleKeyError> {
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if ok {
            Ok(ArticleKey(s.to_string()))
        } else {
            Err(ArticleKeyError(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ArticleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A series and the article's place in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesEpisode {
    pub series: Slug,
    pub episode: u32,
}

/// An article as an editor or an import submits it, before the domain's rules are applied:
/// [`NewArticle::new`] applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleDraft {
    pub key: ArticleKey,
    pub headline: String,
    pub summary: Option<String>,
    pub body: SafeHtml,
    pub lang: Lang,
    pub section: Slug,
    /// The writers, as printed: `By Mara Lindqvist and Li Wen`.
    pub byline: Option<String>,
    /// The wire or partner that supplied syndicated copy; the dateline names it instead of the
    /// outlet.
    pub credit: Option<String>,
    /// The staff who handled the page: `(Web editor: Hongyu, Bianji)`.
    pub web_editors: Vec<String>,
    pub published: Timestamp,
    pub updated: Option<Timestamp>,
    /// Related stories pinned by an editor, in order.
    pub related: Vec<ArticleKey>,
    /// The article this one translates.
    pub translation_of: Option<ArticleKey>,
    pub series: Option<SeriesEpisode>,
    pub topics: Vec<Slug>,
}

/// An article that follows every rule of the newsroom, ready to be stored. The only way to make
/// one is [`NewArticle::new`], so no writer (import, editor, API) can skip a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArticle {
    draft: ArticleDraft,
    /// [`NewArticle::content_digest`], computed once where the article is made (an import's
    /// reading thread), not where it is stored.
    digest: String,
}

/// The field of an article a rule is about, named as the import format names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Headline,
    Summary,
    Body,
    Byline,
    Credit,
    WebEditors,
    Published,
    Updated,
    Related,
    TranslationOf,
    Episode,
    Topics,
    Correction,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Headline => "headline",
            Field::Summary => "summary",
            Field::Body => "body",
            Field::Byline => "byline",
            Field::Credit => "credit",
            Field::WebEditors => "web_editors",
            Field::Published => "published",
            Field::Updated => "updated",
            Field::Related => "related",
            Field::TranslationOf => "translation_of",
            Field::Episode => "episode",
            Field::Topics => "topics",
            Field::Correction => "note",
        }
    }
}

/// A rule an article broke: the field, and what is wrong with it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{:?} {problem}", field.name())]
pub struct ArticleError {
    pub field: Field,
    pub problem: String,
}

/// The limits of an article's texts, in characters (the body in bytes of HTML).
pub mod limits {
    pub const HEADLINE: usize = 500;
    pub const SUMMARY: usize = 2_000;
    pub const BYLINE: usize = 300;
    pub const CREDIT: usize = 200;
    pub const WEB_EDITOR: usize = 100;
    pub const WEB_EDITORS: usize = 20;
    pub const BODY_BYTES: usize = 2 << 20;
    pub const RELATED: usize = 50;
    pub const TOPICS: usize = 20;
    pub const EPISODE: u32 = 100_000;
    /// Publication times fall in [EARLIEST, LATEST): an archive reaches back to the first
    /// newspapers' digitised issues, and an address has a four-digit year.
    pub const EARLIEST: &str = "1800-01-01T00:00:00Z";
    pub const LATEST: &str = "2200-01-01T00:00:00Z";
}

/// Whether a publication or update time is within [`limits::EARLIEST`] and [`limits::LATEST`].
pub fn time_in_range(t: Timestamp) -> bool {
    let bound = |s: &str| s.parse::<Timestamp>().unwrap_or(Timestamp::UNIX_EPOCH);
    t >= bound(limits::EARLIEST) && t < bound(limits::LATEST)
}

fn out_of_range(t: Timestamp) -> String {
    format!(
        "{t} is out of range: a publication time falls from {} to before {}",
        &limits::EARLIEST[..10],
        &limits::LATEST[..10]
    )
}

fn bounded(field: Field, text: Option<String>, max: usize) -> Result<Option<String>, ArticleError> {
    let text = text.map(|t| clean_line(&t)).filter(|t| !t.is_empty());
    match text {
        Some(t) if t.chars().count() > max => Err(ArticleError {
            field,
            problem: format!(
                "is {} characters, over the limit of {max}",
                t.chars().count()
            ),
        }),
        other => Ok(other),
    }
}

/// See [`NewArticle::content_digest`]: the fields as one JSON array, digested.
fn content_digest(a: &ArticleDraft) -> String {
    let canonical = (
        &a.headline,
        &a.summary,
        a.body.as_str(),
        a.lang.as_str(),
        a.section.as_str(),
        &a.byline,
        &a.credit,
        &a.web_editors,
        a.published.as_second(),
        a.updated.map(|t| t.as_second()),
        a.related.iter().map(ArticleKey::as_str).collect::<Vec<_>>(),
        a.translation_of.as_ref().map(ArticleKey::as_str),
        a.series.as_ref().map(|s| (s.series.as_str(), s.episode)),
        a.topics.iter().map(Slug::as_str).collect::<Vec<_>>(),
    );
    let text = serde_json::to_string(&canonical).expect("strings and numbers serialize");
    crate::digest::stable_digest(text.as_bytes())
}

impl NewArticle {
    /// Applies the newsroom's rules: texts cleaned of control characters and within their
    /// limits, a headline, times in range and in order, no article its own translation, and
    /// pins, topics and episodes within bounds.
    pub fn new(draft: ArticleDraft) -> Result<NewArticle, ArticleError> {
        let err = |field, problem: String| Err(ArticleError { field, problem });
        let headline = bounded(Field::Headline, Some(draft.headline), limits::HEADLINE)?;
        let Some(headline) = headline else {
            return err(Field::Headline, "is missing or empty".to_string());
        };
        let summary = bounded(Field::Summary, draft.summary, limits::SUMMARY)?;
        let byline = bounded(Field::Byline, draft.byline, limits::BYLINE)?;
        let credit = bounded(Field::Credit, draft.credit, limits::CREDIT)?;
        let mut web_editors = Vec::with_capacity(draft.web_editors.len());
        for name in draft.web_editors {
            if let Some(name) = bounded(Field::WebEditors, Some(name), limits::WEB_EDITOR)? {
                web_editors.push(name);
            }
        }
        if web_editors.len() > limits::WEB_EDITORS {
            return err(
                Field::WebEditors,
                format!(
                    "names {} people, over the limit of {}",
                    web_editors.len(),
                    limits::WEB_EDITORS
                ),
            );
        }
        if draft.body.as_str().len() > limits::BODY_BYTES {
            return err(
                Field::Body,
                format!(
                    "is {} bytes of HTML, over the limit of {}",
                    draft.body.as_str().len(),
                    limits::BODY_BYTES
                ),
            );
        }
        if !time_in_range(draft.published) {
            return err(Field::Published, out_of_range(draft.published));
        }
        if let Some(updated) = draft.updated {
            if !time_in_range(updated) {
                return err(Field::Updated, out_of_range(updated));
            }
            if updated < draft.published {
                return err(
                    Field::Updated,
                    format!(
                        "({updated}) is before the publication time ({})",
                        draft.published
                    ),
                );
            }
        }
        if draft.translation_of.as_ref() == Some(&draft.key) {
            return err(Field::TranslationOf, "names the article itself".to_string());
        }
        let mut related = Vec::with_capacity(draft.related.len());
        for key in draft.related {
            if key != draft.key && !related.contains(&key) {
                related.push(key);
            }
        }
        if related.len() > limits::RELATED {
            return err(
                Field::Related,
                format!(
                    "pins {} stories, over the limit of {}",
                    related.len(),
                    limits::RELATED
                ),
            );
        }
        let mut topics: Vec<Slug> = Vec::with_capacity(draft.topics.len());
        for topic in draft.topics {
            if !topics.contains(&topic) {
                topics.push(topic);
            }
        }
        if topics.len() > limits::TOPICS {
            return err(
                Field::Topics,
                format!(
                    "names {} topics, over the limit of {}",
                    topics.len(),
                    limits::TOPICS
                ),
            );
        }
        if let Some(s) = &draft.series {
            if !(1..=limits::EPISODE).contains(&s.episode) {
                return err(
                    Field::Episode,
                    format!(
                        "must be a whole number from 1 to {}, not {}",
                        limits::EPISODE,
                        s.episode
                    ),
                );
            }
        }
        // Times are kept to the second, as datelines and storage have them.
        let second = |t: Timestamp| Timestamp::from_second(t.as_second()).unwrap_or(t);
        let draft = ArticleDraft {
            published: second(draft.published),
            updated: draft.updated.map(second),
            headline,
            summary,
            byline,
            credit,
            web_editors,
            related,
            topics,
            ..draft
        };
        Ok(NewArticle {
            digest: content_digest(&draft),
            draft,
        })
    }

    /// A digest of every field an import may change, by which a later import of the same article
    /// tells whether it changed. Stored with each article: it must stay the same across releases.
    pub fn content_digest(&self) -> &str {
        &self.digest
    }

    pub fn key(&self) -> &ArticleKey {
        &self.draft.key
    }
    pub fn headline(&self) -> &str {
        &self.draft.headline
    }
    pub fn summary(&self) -> Option<&str> {
        self.draft.summary.as_deref()
    }
    pub fn body(&self) -> &SafeHtml {
        &self.draft.body
    }
    pub fn lang(&self) -> &Lang {
        &self.draft.lang
    }
    pub fn section(&self) -> &Slug {
        &self.draft.section
    }
    pub fn byline(&self) -> Option<&str> {
        self.draft.byline.as_deref()
    }
    pub fn credit(&self) -> Option<&str> {
        self.draft.credit.as_deref()
    }
    pub fn web_editors(&self) -> &[String] {
        &self.draft.web_editors
    }
    pub fn published(&self) -> Timestamp {
        self.draft.published
    }
    pub fn updated(&self) -> Option<Timestamp> {
        self.draft.updated
    }
    pub fn related(&self) -> &[ArticleKey] {
        &self.draft.related
    }
    pub fn translation_of(&self) -> Option<&ArticleKey> {
        self.draft.translation_of.as_ref()
    }
    pub fn series(&self) -> Option<&SeriesEpisode> {
        self.draft.series.as_ref()
    }
    pub fn topics(&self) -> &[Slug] {
        &self.draft.topics
    }

    /// The draft again, to change and check anew.
    pub fn into_draft(self) -> ArticleDraft {
        self.draft
    }
}

/// What lists, links and addresses need of a published article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleLink {
    pub id: ArticleId,
    pub key: ArticleKey,
    pub headline: String,
    pub summary: Option<String>,
    pub lang: Lang,
    pub section_key: Slug,
    pub section_code: u32,
    pub credit: Option<String>,
    pub published: Timestamp,
    pub updated: Option<Timestamp>,
    /// The episode number, in series listings.
    pub episode: Option<u32>,
}

impl ArticleLink {
    /// The first-publication date in the outlet's time zone, as in the address.
    pub fn local_date(&self, tz: &TimeZone) -> Date {
        self.published.to_zoned(tz.clone()).date()
    }

    /// The article's current address.
    pub fn address(&self, pattern: &AddressPattern, tz: &TimeZone) -> String {
        let slug = Slug::from_text(&self.headline);
        pattern.render(&AddressParts {
            id: self.id.0,
            date: self.local_date(tz),
            section_code: self.section_code,
            section_key: self.section_key.as_str(),
            slug: slug.as_ref().map_or("article", Slug::as_str),
        })
    }

    /// Whether the article changed after it was first published.
    pub fn was_updated(&self) -> bool {
        self.updated.is_some_and(|u| u > self.published)
    }
}

/// A published article with everything its page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    pub link: ArticleLink,
    pub body: SafeHtml,
    pub byline: Option<String>,
    pub web_editors: Vec<String>,
    pub series: Option<SeriesEpisode>,
    pub topics: Vec<Slug>,
    /// The corrections editors attached to it, oldest first.
    pub corrections: Vec<Correction>,
}

/// A correction an editor attached to a published article: readers see it on the article and
/// on the corrections page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub note: String,
    pub at: Timestamp,
}

/// The most characters of a correction note.
pub const MAX_CORRECTION: usize = 2_000;

impl Correction {
    /// A correction's note, cleaned and checked: present, one paragraph, within its limit.
    pub fn note(text: &str) -> Result<String, ArticleError> {
        let note = clean_line(text);
        let chars = note.chars().count();
        if chars == 0 {
            return Err(ArticleError {
                field: Field::Correction,
                problem: "is missing or empty".into(),
            });
        }
        if chars > MAX_CORRECTION {
            return Err(ArticleError {
                field: Field::Correction,
                problem: format!("is {chars} characters, over the limit of {MAX_CORRECTION}"),
            });
        }
        Ok(note)
    }
}

impl Article {
    /// The source named in the dateline: the wire credit, else the outlet.
    pub fn source<'a>(&'a self, outlet: &'a str) -> &'a str {
        self.link.credit.as_deref().unwrap_or(outlet)
    }
}

pub use crate::text::clean_line;

/// The people a byline names, one each, without the printed "By": "By Mara Lindqvist and
/// Tomas Ek" names Mara Lindqvist and Tomas Ek.
pub fn authors(byline: &str) -> Vec<String> {
    let text = byline.trim();
    if text.eq_ignore_ascii_case("by") {
        return vec![];
    }
    // "By Mara Lindqvist", "记者 林晓" (reporter), "文/王伟" (text by).
    let text = ["By ", "by ", "BY ", "记者", "文/", "文／"]
        .iter()
        .find_map(|p| text.strip_prefix(p))
        .unwrap_or(text)
        .trim();
    let mut out: Vec<String> = Vec::new();
    for part in text.split([',', ';', '&', '、', '，']) {
        for name in part.split(" and ") {
            let name = clean_line(name.trim_start_matches("and "));
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bylines_name_people() {
        assert_eq!(authors("By Mara Lindqvist"), ["Mara Lindqvist"]);
        assert_eq!(
            authors("By Mara Lindqvist, Tomas Ek and Li Wei"),
            ["Mara Lindqvist", "Tomas Ek", "Li Wei"]
        );
        assert_eq!(authors("Ana Ruiz & Bo Lin"), ["Ana Ruiz", "Bo Lin"]);
        assert_eq!(authors("王伟、李娜"), ["王伟", "李娜"]);
        assert_eq!(authors("记者 林晓"), ["林晓"]);
        assert_eq!(
            crate::PersonKey::from_name("José  Pérez").map(|k| k.to_string()),
            Some("josé-pérez".to_string())
        );
        assert_eq!(
            crate::PersonKey::from_name("Анна Соколова")
                .map(|k| k.path_segment())
                .as_deref(),
            Some("%D0%B0%D0%BD%D0%BD%D0%B0-%D1%81%D0%BE%D0%BA%D0%BE%D0%BB%D0%BE%D0%B2%D0%B0")
        );
        assert!(
            crate::PersonKey::parse("Mara").is_err() && crate::PersonKey::parse("mara").is_ok()
        );
        assert!(authors("  By  ").is_empty());
    }

    #[test]
    fn keys() {
        assert!(ArticleKey::parse("bbc-business-001").is_ok());
        assert!(ArticleKey::parse("wcl50-0-L").is_ok());
        assert!(ArticleKey::parse("").is_err());
        assert!(ArticleKey::parse("a b").is_err());
        assert!(ArticleKey::parse(&"x".repeat(129)).is_err());
    }

    fn draft() -> ArticleDraft {
        ArticleDraft {
            key: ArticleKey::parse("k").unwrap(),
            headline: "Headline".to_string(),
            summary: None,
            body: SafeHtml::default(),
            lang: Lang::parse("en").unwrap(),
            section: Slug::parse("news").unwrap(),
            byline: None,
            credit: None,
            web_editors: vec![],
            published: "2021-10-22T09:37:00Z".parse().unwrap(),
            updated: None,
            related: vec![],
            translation_of: None,
            series: None,
            topics: vec![],
        }
    }

    /// The digest is stored with every article: it is the one earlier releases computed (a JSON
    /// array of the fields, as `serde_json::json!` wrote it), or a re-import would see every
    /// article as changed.
    #[test]
    fn the_content_digest_is_the_one_stored_before() {
        let stored_before = |a: &NewArticle| {
            let canonical = serde_json::json!([
                a.headline(),
                a.summary(),
                a.body().as_str(),
                a.lang().as_str(),
                a.section().as_str(),
                a.byline(),
                a.credit(),
                a.web_editors(),
                a.published().as_second(),
                a.updated().map(|t| t.as_second()),
                a.related()
                    .iter()
                    .map(ArticleKey::as_str)
                    .collect::<Vec<_>>(),
                a.translation_of().map(ArticleKey::as_str),
                a.series().map(|s| (s.series.as_str(), s.episode)),
                a.topics().iter().map(Slug::as_str).collect::<Vec<_>>(),
            ]);
            crate::digest::stable_digest(canonical.to_string().as_bytes())
        };
        let bare = NewArticle::new(draft()).unwrap();
        let full = NewArticle::new(ArticleDraft {
            summary: Some("A \"quoted\" summary\nover lines".to_string()),
            body: SafeHtml::from_text("Body with <angles> & ünïcode 中文"),
            byline: Some("By Mara Lindqvist".to_string()),
            credit: Some("Xinhua".to_string()),
            web_editors: vec!["Hu Ying".to_string(), "Liang Jun".to_string()],
            updated: Some("2021-10-23T09:37:00Z".parse().unwrap()),
            related: vec![ArticleKey::parse("other").unwrap()],
            translation_of: Some(ArticleKey::parse("original").unwrap()),
            series: Some(SeriesEpisode {
                series: Slug::parse("cop26").unwrap(),
                episode: 3,
            }),
            topics: vec![Slug::parse("climate").unwrap(), Slug::parse("un").unwrap()],
            ..draft()
        })
        .unwrap();
        for a in [&bare, &full] {
            assert_eq!(a.content_digest(), stored_before(a));
        }
        assert_ne!(bare.content_digest(), full.content_digest());
    }

    fn problem(change: impl FnOnce(&mut ArticleDraft)) -> String {
        let mut d = draft();
        change(&mut d);
        NewArticle::new(d).unwrap_err().to_string()
    }

    #[test]
    fn the_domain_owns_the_rules() {
        assert_eq!(
            problem(|d| d.headline = " \u{0} ".into()),
            "\"headline\" is missing or empty"
        );
        assert_eq!(
            problem(|d| d.headline = "x".repeat(501)),
            "\"headline\" is 501 characters, over the limit of 500"
        );
        assert_eq!(
            problem(|d| d.byline = Some("b".repeat(1 << 20))),
            "\"byline\" is 1048576 characters, over the limit of 300"
        );
        assert!(
            problem(|d| d.updated = Some("2021-10-21T00:00:00Z".parse().unwrap()))
                .contains("before the publication time")
        );
        assert_eq!(
            problem(|d| d.translation_of = Some(ArticleKey::parse("k").unwrap())),
            "\"translation_of\" names the article itself"
        );
        assert!(
            problem(|d| d.published = "-000001-01-01T00:00:00Z".parse().unwrap())
                .contains("out of range")
        );
        assert!(
            problem(|d| d.published = "2999-01-01T00:00:00Z".parse().unwrap())
                .contains("\"published\" 2999-01-01T00:00:00Z is out of range")
        );
        assert!(problem(|d| d.web_editors = vec!["e".into(); 21]).contains("over the limit of 20"));

        let mut d = draft();
        d.headline = " Two\u{1b}  words\n".into();
        d.byline = Some("\u{0}".into());
        d.related = vec![
            ArticleKey::parse("k").unwrap(),
            ArticleKey::parse("o").unwrap(),
            ArticleKey::parse("o").unwrap(),
        ];
        let a = NewArticle::new(d).unwrap();
        assert_eq!(a.headline(), "Two words");
        assert_eq!(a.byline(), None);
        assert_eq!(a.related(), [ArticleKey::parse("o").unwrap()]);
    }
}
