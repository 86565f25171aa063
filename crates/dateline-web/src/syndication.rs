//! What the industry's formats say of an article, read once for all of them: ninjs
//! (`ninjs.rs`) and NewsML-G2 (`newsml.rs`) write the same facts in their own shapes.

use dateline_core::workflow::State;
use dateline_core::Slug;
use dateline_storage::{StorageError, Store, Worked};
use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::Site;

/// An article as partners receive it.
pub(crate) struct Facts<'a> {
    pub key: &'a str,
    pub lang: String,
    pub published: Timestamp,
    /// When it changed after its first publication, if it did.
    pub updated: Option<Timestamp>,
    /// ninjs's and NewsML-G2's publication status: usable, withheld or canceled.
    pub status: &'static str,
    pub headline: &'a str,
    pub summary: Option<&'a str>,
    /// The body as stored: the sanitizer's output.
    pub body: &'a str,
    pub byline: Option<&'a str>,
    /// The dateline's source: the wire credit, else the outlet.
    pub source: &'a str,
    pub web_editors: Vec<&'a str>,
    /// Key and name, in the article's language.
    pub section: (&'a str, String),
    pub topics: Vec<(&'a str, String)>,
    pub series: Option<(&'a str, String)>,
    pub episode: Option<i64>,
    pub translation_of: Option<&'a str>,
    /// The related stories readers can see, in the editors' order: key, identifier, headline.
    pub related: Vec<(String, String, String)>,
}

fn text<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn strings<'a>(record: &'a Map<String, Value>, field: &str) -> Vec<&'a str> {
    record
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// An article's identifier for partners: `tag:{host},{day of first publication}:{name}`,
/// the same wherever the article is stored.
pub fn tag(site: &Site, name: &str, published: Timestamp) -> String {
    let day = published.to_zoned(jiff::tz::TimeZone::UTC).date();
    format!("tag:{},{day}:{name}", site.host())
}

/// Reads what the formats say of an article: its record, and the names of its collections
/// and the related stories it links (a query each).
pub(crate) async fn facts<'a>(
    store: &dyn Store,
    site: &'a Site,
    worked: &'a Worked,
) -> Result<Facts<'a>, StorageError> {
    let r = &worked.record;
    let primary = site.primary().as_str();
    let lang = text(r, "lang").unwrap_or(primary).to_string();
    let time = |field| text(r, field).and_then(|t| t.parse::<Timestamp>().ok());
    let published = time("published").unwrap_or(Timestamp::UNIX_EPOCH);
    let section = worked.section.as_str();
    let section_name = store
        .sections()
        .await?
        .iter()
        .find(|s| s.key.as_str() == section)
        .map_or_else(
            || section.to_string(),
            |s| s.name.text(&lang, primary).to_string(),
        );
    let mut topics = Vec::new();
    for topic in strings(r, "topics") {
        let name = match Slug::parse(topic) {
            Ok(slug) => store
                .topic(&slug)
                .await?
                .map(|t| t.title.text(&lang, primary).to_string()),
            Err(_) => None,
        };
        topics.push((topic, name.unwrap_or_else(|| topic.to_string())));
    }
    let series = match text(r, "series") {
        Some(key) => {
            let name = match Slug::parse(key) {
                Ok(slug) => store
                    .series(&slug)
                    .await?
                    .map(|s| s.title.text(&lang, primary).to_string()),
                Err(_) => None,
            };
            Some((key, name.unwrap_or_else(|| key.to_string())))
        }
        None => None,
    };
    let keys: Vec<String> = strings(r, "related")
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut related = Vec::new();
    if !keys.is_empty() {
        let links = store.links_by_keys(&keys, Timestamp::now()).await?;
        for k in keys {
            if let Some(l) = links.iter().find(|l| l.key.as_str() == k) {
                related.push((k.clone(), tag(site, &k, l.published), l.headline.clone()));
            }
        }
    }
    Ok(Facts {
        key: worked.key.as_str(),
        lang,
        published,
        updated: time("updated").filter(|u| *u > published),
        status: match worked.state {
            State::Published => "usable",
            State::Unpublished => "canceled",
            State::Draft | State::Submitted | State::Scheduled => "withheld",
        },
        headline: text(r, "headline").unwrap_or_default(),
        summary: text(r, "summary"),
        body: text(r, "body").unwrap_or_default(),
        byline: text(r, "byline"),
        source: text(r, "credit").unwrap_or(&site.outlet),
        web_editors: strings(r, "web_editors"),
        section: (section, section_name),
        topics,
        series,
        episode: r.get("episode").and_then(Value::as_i64),
        translation_of: text(r, "translation_of"),
        related,
    })
}
