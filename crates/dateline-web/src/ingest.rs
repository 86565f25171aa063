//! Partner ingest: Dateline follows each partner feed the outlet names (`[[partners]]`: an
//! RSS, Atom or ninjs feed), on its own schedule, and takes in what is new: as drafts for the
//! desk, or straight to publication, as that partner's setting says. Every item is credited to
//! the partner, so the dateline reads `(Xinhua) 09:05, ...`. An item is known by the partner and
//! its id (its guid, Atom id or ninjs uri): it is never imported twice. Published copy takes the
//! partner's later versions, unless an editor changed it since; a draft is the desk's; a ninjs
//! item the partner cancels is taken down. Fetches are conditional (ETag, Last-Modified), bounded in size
//! and time, and a feed that fails is tried again at its next turn.

use std::sync::Arc;
use std::time::Duration;

use dateline_core::import::{parse_object, BodyFormat, FieldMap, ImportOptions};
use dateline_core::{ArticleKey, Lang, Slug};
use dateline_storage::{Store, Upserted};
use jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::Site;

/// Marks a record of an item the partner killed.
const KILLED: &str = "\u{0}killed";
/// Marks a record of an item that cannot be read, with why.
const REFUSED: &str = "\u{0}refused";
/// The most bytes of a feed read.
const MAX_FEED: usize = 16 << 20;
const TIMEOUT: Duration = Duration::from_secs(20);

/// What a partner sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerFormat {
    /// RSS or Atom, whichever the feed is.
    Feed,
    /// ninjs documents: an array, one document, or one a line.
    Ninjs,
}

/// A partner feed the outlet follows.
#[derive(Debug, Clone)]
pub struct Partner {
    /// The partner's name, as the dateline credits it.
    pub name: String,
    pub url: String,
    pub format: PartnerFormat,
    /// How long between two reads of the feed.
    pub every: Duration,
    /// Publish what arrives (true), or make it a draft for the desk.
    pub publish: bool,
    pub section: Slug,
    pub lang: Lang,
    /// The account drafts are made for (needed when `publish` is false).
    pub owner: Option<String>,
}

/// What one read of a feed did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Taken {
    pub new: usize,
    pub known: usize,
    /// Published copy the partner sent a new version of.
    pub corrected: usize,
    /// Published copy the partner killed (ninjs `pubStatus` `canceled`), taken down.
    pub killed: usize,
    pub refused: Vec<String>,
}

/// Follows every partner feed until the task is dropped, each on its own schedule.
pub async fn follow(store: Arc<dyn Store>, site: Site, partners: Vec<Partner>) {
    // A redirect is followed only within the feed's own origin: a partner's server must not
    // send Dateline to read (and publish) an address inside the outlet's network.
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        let next = attempt.url();
        let same = attempt.previous().first().is_some_and(|first| {
            first.scheme() == next.scheme()
                && first.host_str() == next.host_str()
                && first.port_or_known_default() == next.port_or_known_default()
        });
        if attempt.previous().len() > 5 {
            attempt.error("more than 5 redirects")
        } else if same {
            attempt.follow()
        } else {
            attempt.error("a redirect to another host")
        }
    });
    let client = match reqwest::Client::builder()
        .redirect(redirects)
        .timeout(TIMEOUT)
        .user_agent(concat!(
            "Dateline/",
            env!("CARGO_PKG_VERSION"),
            " partner ingest"
        ))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for partner feeds; none will be read");
            return;
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    for partner in partners {
        tasks.spawn(follow_one(
            store.clone(),
            site.clone(),
            client.clone(),
            partner,
        ));
    }
    while tasks.join_next().await.is_some() {}
}

async fn follow_one(store: Arc<dyn Store>, site: Site, client: reqwest::Client, partner: Partner) {
    let mut validators: (Option<String>, Option<String>) = (None, None);
    // Of several nodes, the one holding the partner's lease reads its feed.
    // It lasts from one turn to the next, and a turn (a read and its import) within it.
    let mut lease = crate::webhooks::Lease::new(
        format!("ingest:{}", partner.name),
        partner.every + TIMEOUT * 3,
        TIMEOUT * 2,
    );
    loop {
        if !lease.held(store.as_ref()).await {
            tokio::time::sleep(partner.every).await;
            continue;
        }
        match turn(store.as_ref(), &site, &client, &partner, &mut validators).await {
            Ok(Some(taken)) => {
                tracing::info!(partner = %partner.name, new = taken.new, known = taken.known, corrected = taken.corrected, killed = taken.killed, refused = taken.refused.len(), "read a partner feed");
                for why in &taken.refused {
                    tracing::warn!(partner = %partner.name, %why, "an item was not taken");
                }
            }
            Ok(None) => {
                tracing::debug!(partner = %partner.name, "the partner feed has not changed")
            }
            Err(e) => {
                tracing::warn!(partner = %partner.name, url = %partner.url, error = %e, "a partner feed could not be taken in; it is tried again at its next turn")
            }
        }
        tokio::time::sleep(partner.every).await;
    }
}

/// One read of a partner's feed: nothing when it has not changed.
async fn turn(
    store: &dyn Store,
    site: &Site,
    client: &reqwest::Client,
    partner: &Partner,
    validators: &mut (Option<String>, Option<String>),
) -> Result<Option<Taken>, String> {
    // The owner is looked up at each turn: an account made or disabled later counts.
    let owner = match &partner.owner {
        None => None,
        Some(name) => {
            let username =
                dateline_core::account::Username::parse(name).map_err(|e| e.to_string())?;
            match store.account(&username).await.map_err(|e| e.to_string())? {
                Some(a) => Some(a.id),
                None => return Err(format!("the owner of its drafts, {name:?}, has no account")),
            }
        }
    };
    let mut next = validators.clone();
    let Some(body) = read(client, partner, &mut next).await? else {
        return Ok(None);
    };
    let taken = take(store, site, partner, owner, &body).await?;
    // Only a feed that was taken in whole is not read again until it changes.
    *validators = next;
    Ok(Some(taken))
}

/// Reads a feed, conditionally: nothing when it has not changed since the last read.
async fn read(
    client: &reqwest::Client,
    partner: &Partner,
    validators: &mut (Option<String>, Option<String>),
) -> Result<Option<Vec<u8>>, String> {
    let mut request = client.get(&partner.url);
    if let Some(etag) = &validators.0 {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    if let Some(modified) = &validators.1 {
        request = request.header(reqwest::header::IF_MODIFIED_SINCE, modified);
    }
    let mut response = request.send().await.map_err(|e| e.to_string())?;
    if response.status() == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    if !response.status().is_success() {
        return Err(format!("the feed answered {}", response.status()));
    }
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let next = (
        header(reqwest::header::ETAG),
        header(reqwest::header::LAST_MODIFIED),
    );
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_FEED {
            return Err(format!("the feed is over the limit of {MAX_FEED} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    *validators = next;
    Ok(Some(body))
}

/// The import options of a partner's items.
fn options(site: &Site, partner: &Partner) -> ImportOptions {
    ImportOptions {
        fields: FieldMap::default(),
        sanitizer: site.sanitizer.clone(),
        default_lang: partner.lang.clone(),
        default_section: partner.section.clone(),
        time_zone: site.time_zone.clone(),
        undated_at: Some(Timestamp::now()),
        headline_from_body: true,
        body_format: BodyFormat::Auto,
        max_line_bytes: MAX_FEED,
    }
}

/// A partner's key for an item: the partner and a digest of the item's own id.
fn key(partner: &Partner, id: &str) -> String {
    let slug =
        Slug::from_text(&partner.name).map_or_else(|| "partner".to_string(), |s| s.to_string());
    let slug: String = slug.chars().take(60).collect();
    format!(
        "{slug}-{}",
        dateline_core::digest::stable_digest(id.as_bytes())
    )
}

/// A feed item's own id, and its import record.
type Item = (String, Map<String, Value>);

/// The records of a feed's items, each with its own id.
fn records(partner: &Partner, body: &[u8]) -> Result<Vec<Item>, String> {
    match partner.format {
        PartnerFormat::Feed => {
            let feed = feed_rs::parser::parse(body)
                .map_err(|e| format!("not an RSS or Atom feed: {e}"))?;
            Ok(feed
                .entries
                .into_iter()
                .map(|e| {
                    let mut r = Map::new();
                    if let Some(t) = &e.title {
                        r.insert("headline".into(), json!(t.content));
                    }
                    let body = e
                        .content
                        .as_ref()
                        .and_then(|c| c.body.clone())
                        .or_else(|| e.summary.as_ref().map(|s| s.content.clone()));
                    if let Some(b) = body {
                        r.insert("body".into(), json!(b));
                    }
                    if e.content.is_some() {
                        if let Some(s) = &e.summary {
                            r.insert("summary".into(), json!(s.content));
                        }
                    }
                    let names: Vec<String> = e
                        .authors
                        .iter()
                        .filter_map(|a| a.name.clone())
                        .filter(|n| !n.is_empty())
                        .collect();
                    if !names.is_empty() {
                        r.insert(
                            "byline".into(),
                            json!(format!("By {}", names.join(" and "))),
                        );
                    }
                    if let Some(p) = e.published.or(e.updated) {
                        r.insert("published".into(), json!(p.to_rfc3339()));
                    }
                    (e.id, r)
                })
                .collect())
        }
        PartnerFormat::Ninjs => {
            let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
            let docs: Vec<Value> = match serde_json::from_str::<Value>(text) {
                Ok(Value::Array(d)) => d,
                Ok(d) => vec![d],
                Err(_) => text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect(),
            };
            Ok(docs
                .iter()
                .filter_map(Value::as_object)
                .filter_map(|d| {
                    let id = d.get("uri").and_then(Value::as_str)?.to_string();
                    let status = d
                        .get("pubStatus")
                        .or_else(|| d.get("pubstatus"))
                        .and_then(Value::as_str);
                    if status.is_some_and(|s| !s.eq_ignore_ascii_case("usable")) {
                        // The partner killed or withheld it: what was taken of it goes.
                        let mut kill = Map::new();
                        kill.insert(KILLED.into(), json!(true));
                        return Some((id, kill));
                    }
                    let read = match dateline_core::ninjs::read(d) {
                        Ok(r) => r,
                        Err(why) => {
                            let mut refused = Map::new();
                            refused.insert(REFUSED.into(), json!(why));
                            return Some((id, refused));
                        }
                    };
                    let mut r = read.record;
                    // The partner's own key and section are not the outlet's.
                    r.remove("section");
                    r.remove("topics");
                    r.remove("series");
                    r.remove("episode");
                    r.remove("related");
                    r.remove("translation_of");
                    Some((id, r))
                })
                .collect())
        }
    }
}

/// Takes in a feed's new items; answers what it did.
pub async fn take(
    store: &dyn Store,
    site: &Site,
    partner: &Partner,
    owner: Option<i64>,
    body: &[u8],
) -> Result<Taken, String> {
    let options = options(site, partner);
    let mut taken = Taken::default();
    for (id, mut record) in records(partner, body)? {
        let key = key(partner, &id);
        let parsed_key = ArticleKey::parse(&key).map_err(|e| e.to_string())?;
        let known = store
            .article_id(&parsed_key)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(why) = record.get(REFUSED).and_then(Value::as_str) {
            taken.refused.push(format!("{id}: {why}"));
            continue;
        }
        if record.contains_key(KILLED) {
            if let Some(article) = known {
                let worked = store
                    .worked_article(article)
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some(w) =
                    worked.filter(|w| w.state == dateline_core::workflow::State::Published)
                {
                    store
                        .change_state(
                            w.id,
                            w.state,
                            dateline_storage::StateChange::Unpublish,
                            Timestamp::now(),
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                    taken.killed += 1;
                }
            }
            continue;
        }
        // A draft the desk has is the desk's; published copy takes the partner's corrections
        // (an import never overwrites what an editor changed since, and says so). An item
        // that gives no time of its own is taken once: its time would be each read's.
        if known.is_some() && (!partner.publish || !record.contains_key("published")) {
            taken.known += 1;
            continue;
        }
        record.insert("id".into(), json!(key));
        record.insert("credit".into(), json!(partner.name));
        record.remove("web_editors");
        let article = match parse_object(&record, &options) {
            Ok(a) => a,
            Err(e) => {
                taken.refused.push(format!("{id}: {}", e.0));
                continue;
            }
        };
        if partner.publish {
            let outcome = store
                .import_articles(&[article], Timestamp::now())
                .await
                .map_err(|e| e.to_string())?;
            match outcome.into_iter().next() {
                Some(Ok(Upserted::Inserted(_))) => taken.new += 1,
                Some(Ok(Upserted::Updated(_))) => taken.corrected += 1,
                Some(Ok(Upserted::Unchanged(_))) => taken.known += 1,
                Some(Err(e)) => taken.refused.push(format!("{id}: {e}")),
                None => {}
            }
        } else {
            let Some(owner) = owner else {
                return Err("drafts need an owner: name one in the partner's settings".into());
            };
            store
                .create_draft(&article, owner, Timestamp::now())
                .await
                .map_err(|e| e.to_string())?;
            taken.new += 1;
        }
    }
    Ok(taken)
}
