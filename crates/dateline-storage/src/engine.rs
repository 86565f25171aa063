// The engine: the SQL and the `Store` implementation that SQLite (`sqlite.rs`) and PostgreSQL
// (`postgres.rs`) share. Each of those modules includes this file after naming its types
// (`Engine`, the store; `Db`, `Conn` and `DbRow`, sqlx's) and the few pieces of SQL that differ
// between the two dialects (`PERSON_FIRST`, `LIKE`, `REACH_BEFORE`, `CORRECTIONS_JSON`,
// `PINNED_JSON`, `json_list`). Everything else here is SQL both engines read alike: `$N`
// parameters, `ON CONFLICT`, `RETURNING`, `CAST(... AS BIGINT)` for literals read as integers.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use dateline_core::account::{
    Account, Grants, PasswordHash, Role, TokenDigest, TokenInfo, Username,
};
use dateline_core::audit::AuditEntry;
use dateline_core::change::{Change, ChangeKind, Webhook, WebhookUrl};
use dateline_core::collections::name_from_key;
use dateline_core::media::{Media, MediaFormat, MediaId};
use dateline_core::revision::RevisionInfo;
use dateline_core::workflow::State;
use dateline_core::{
    Article, ArticleId, ArticleKey, ArticleLink, Correction, Lang, Localized, LocalizedHtml,
    NewArticle, SafeHtml, Section, Series, SeriesEpisode, Slug, Topic,
};
use jiff::Timestamp;
use serde_json::json;
use sqlx::{Connection, QueryBuilder, Row, Transaction};

use crate::{
    ArticlePage, DeskFilter, FeedEntry, Filter, Listing, Membership, PageFrame, PinTo, StateChange,
    StorageError, Store, Thread, ThreadArticle, ThreadEdit, ThreadFound, ThreadInput, ThreadLookup,
    ThreadName, ThreadOp, ThreadSummary, ThreadedText, Upserted, Worked, WorkedSummary,
};

/// A write transaction: committing it counts it in [`Store::commits`], so that this process's
/// page cache knows to read the stream before it answers again.
struct WriteTx {
    tx: Transaction<'static, Db>,
    signals: std::sync::Arc<crate::Signals>,
    /// A read replica (PostgreSQL) that reads go to: the commit is acknowledged once it holds it.
    replica: Option<std::sync::Arc<crate::postgres::Replica>>,
}

impl WriteTx {
    async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await?;
        if let Some(replica) = &self.replica {
            replica.catch_up().await;
        }
        self.signals.committed();
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.tx
    }
}

const LINK_COLUMNS: &str = "a.id, a.key, a.headline, a.summary, a.lang, s.key, s.code, a.credit, \
     a.published_at, a.updated_at, a.episode";
/// How many columns [`LINK_COLUMNS`] has.
const LINK_WIDTH: usize = 11;
const LINK_FROM: &str = "articles a JOIN sections s ON s.id = a.section_id";
/// Each span of article ids the sitemap index lists, and when its live articles last changed:
/// read from the `articles_sitemap` index, not the articles' rows.
const SITEMAP_SPANS: &str =
    "SELECT (id - 1) / $1, MAX(COALESCE(updated_at, published_at)) FROM articles \
     WHERE live_from <= $2 GROUP BY 1 ORDER BY 1";
/// The most keys bound in one `IN (...)` list.
const KEY_CHUNK: usize = 500;
/// How often a batch that meets a busy database is tried before the import gives up.
const ATTEMPTS: u32 = 6;

fn ts(seconds: i64) -> Result<Timestamp, StorageError> {
    Timestamp::from_second(seconds)
        .map_err(|e| StorageError::Corrupt(format!("time {seconds}: {e}")))
}

fn localized(text: &str) -> Result<Localized, StorageError> {
    serde_json::from_str(text)
        .map_err(|e| StorageError::Corrupt(format!("localized text {text:?}: {e}")))
}

fn localized_html(text: &str) -> Result<LocalizedHtml, StorageError> {
    let map: BTreeMap<String, String> = serde_json::from_str(text)
        .map_err(|e| StorageError::Corrupt(format!("localized HTML {text:?}: {e}")))?;
    // Only the sanitizer's output is ever written to these columns.
    Ok(LocalizedHtml::from_storage(map))
}

fn html_json(html: &LocalizedHtml) -> String {
    let map: BTreeMap<&str, &str> = html.iter().map(|(l, h)| (l, h.as_str())).collect();
    to_json(&map)
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serializing maps of strings and lists of strings cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

fn slug(text: String) -> Result<Slug, StorageError> {
    Slug::parse(&text).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// Reads the link columns that start at `at`.
fn link_at(row: &DbRow, at: usize) -> Result<ArticleLink, StorageError> {
    let lang: String = row.try_get(at + 4)?;
    let key: String = row.try_get(at + 1)?;
    Ok(ArticleLink {
        id: ArticleId::new(row.try_get(at)?),
        key: ArticleKey::parse(&key).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        headline: row.try_get(at + 2)?,
        summary: row.try_get(at + 3)?,
        lang: Lang::parse(&lang).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        section_key: slug(row.try_get(at + 5)?)?,
        section_code: u32::try_from(row.try_get::<i64, _>(at + 6)?)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
        credit: row.try_get(at + 7)?,
        published: ts(row.try_get(at + 8)?)?,
        updated: row.try_get::<Option<i64>, _>(at + 9)?.map(ts).transpose()?,
        episode: row
            .try_get::<Option<i64>, _>(at + 10)?
            .and_then(|e| u32::try_from(e).ok()),
    })
}

/// A row that cannot be read fails only its own article: it is logged and left out of the
/// list, so that one bad row never takes down the pages that list it.
fn readable(row: &DbRow, at: usize) -> Option<ArticleLink> {
    match link_at(row, at) {
        Ok(link) => Some(link),
        Err(e) => {
            let id = row.try_get::<i64, _>(at).ok();
            tracing::error!(article = ?id, error = %e, "left an unreadable article out of a list");
            None
        }
    }
}

/// The start of the condition that the article `alias` is no near-duplicate copy of a story
/// live at the time the caller puts after it, and a closing parenthesis: a copy is listed once,
/// as the first copy, while that one is live (a copy of a withdrawn story takes its place).
fn not_a_copy(alias: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM article_threads d JOIN articles o ON o.id = d.duplicate_of \
         WHERE d.article_id = {alias}.id AND o.live_from <= "
    )
}

/// A listing's query, with `extra` columns after the link's, and the key it binds.
fn listing_sql<'a>(listing: &'a Listing, extra: &str) -> (String, std::borrow::Cow<'a, str>) {
    let live = format!(
        "a.lang = $1 AND a.live_from <= $5 AND {}$5)",
        not_a_copy("a")
    );
    let newest = "ORDER BY a.published_at DESC, a.id DESC LIMIT $3 OFFSET $4";
    match &listing.filter {
        Filter::All => (
            format!("SELECT {LINK_COLUMNS}{extra} FROM {LINK_FROM} WHERE {live} AND $2 = '' {newest}"),
            "".into(),
        ),
        Filter::Section(key) => (
            format!("SELECT {LINK_COLUMNS}{extra} FROM {LINK_FROM} WHERE {live} AND s.key = $2 {newest}"),
            key.as_str().into(),
        ),
        Filter::Topic(key) => (
            format!(
                "SELECT {LINK_COLUMNS}{extra} FROM {LINK_FROM} WHERE {live} AND a.id IN \
                 (SELECT at.article_id FROM article_topics at JOIN topics t ON t.id = at.topic_id WHERE t.key = $2 \
                  UNION SELECT x.article_id FROM article_threads x JOIN threads th ON th.id = x.thread_id \
                  JOIN topics t ON t.id = th.topic_id WHERE t.key = $2) {newest}"
            ),
            key.as_str().into(),
        ),
        Filter::Series(key) => (
            format!(
                "SELECT {LINK_COLUMNS}{extra} FROM {LINK_FROM} JOIN series se ON se.id = a.series_id \
                 WHERE {live} AND se.key = $2 ORDER BY a.episode, a.published_at, a.id LIMIT $3 OFFSET $4"
            ),
            key.as_str().into(),
        ),
        // From the person's rows out (CROSS JOIN keeps that order): one person's few stories,
        // not a walk through a whole edition to find them.
        Filter::Person(key) => (
            format!(
                "SELECT {LINK_COLUMNS}{extra} FROM article_people p {PERSON_FIRST} articles a ON a.id = p.article_id \
                 JOIN sections s ON s.id = a.section_id WHERE {live} AND p.slug = $2 {newest}"
            ),
            key.as_str().into(),
        ),
        Filter::SeriesNewest(key) => (
            format!(
                "SELECT {LINK_COLUMNS}{extra} FROM {LINK_FROM} JOIN series se ON se.id = a.series_id \
                 WHERE {live} AND se.key = $2 {newest}"
            ),
            key.as_str().into(),
        ),
        // A story thread: every edition's articles (the language bound is only compared with
        // itself, for its type).
        Filter::Thread(id) | Filter::ThreadNewest(id) => {
            let live = live.replace("a.lang = $1", "(a.lang = $1 OR a.lang <> $1)");
            let order = if matches!(listing.filter, Filter::Thread(_)) {
                "ORDER BY a.published_at, a.id LIMIT $3 OFFSET $4"
            } else {
                newest
            };
            (
                format!(
                    "SELECT {LINK_COLUMNS}{extra} FROM article_threads x JOIN articles a ON a.id = x.article_id \
                     JOIN sections s ON s.id = a.section_id \
                     WHERE {live} AND x.thread_id = CAST($2 AS BIGINT) {order}"
                ),
                id.to_string().into(),
            )
        }
    }
}

fn bind_listing<'q>(
    sql: &'q str,
    key: &'q str,
    listing: &'q Listing,
) -> sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>> {
    sqlx::query(sql)
        .bind(listing.lang.as_str())
        .bind(key)
        .bind(i64::from(listing.limit))
        .bind(i64::from(listing.offset))
        .bind(listing.as_of.as_second())
}

fn links(rows: &[DbRow]) -> Vec<ArticleLink> {
    rows.iter().filter_map(|r| readable(r, 0)).collect()
}

fn section_from_row(row: &DbRow) -> Result<Section, StorageError> {
    Ok(Section {
        key: slug(row.try_get(0)?)?,
        code: u32::try_from(row.try_get::<i64, _>(1)?)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
        name: localized(row.try_get(2)?)?,
    })
}

/// The ways a newsroom groups articles, which an import may name before they exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Collection {
    Section,
    Series,
    Topic,
}

impl Collection {
    fn select_by_keys(self) -> &'static str {
        match self {
            Collection::Section => "SELECT key, id FROM sections WHERE key IN (",
            Collection::Series => "SELECT key, id FROM series WHERE key IN (",
            Collection::Topic => "SELECT key, id FROM topics WHERE key IN (",
        }
    }

    fn select_one(self) -> &'static str {
        match self {
            Collection::Section => "SELECT id FROM sections WHERE key = $1",
            Collection::Series => "SELECT id FROM series WHERE key = $1",
            Collection::Topic => "SELECT id FROM topics WHERE key = $1",
        }
    }

    /// Creates one named after its key; no row comes back if another writer created it first.
    fn insert(self) -> &'static str {
        match self {
            // A new section takes the next free code (from 10000; an operator's codes are
            // usually lower); a writer that loses a race for it tries the next one.
            Collection::Section => {
                "INSERT INTO sections (key, name, code, position) \
                 SELECT $1, $2, c.code, c.code FROM \
                 (SELECT COALESCE(MAX(code), 9999) + 1 AS code FROM sections) c WHERE true \
                 ON CONFLICT (key) DO NOTHING RETURNING id"
            }
            Collection::Series => {
                "INSERT INTO series (key, title, description, partners) VALUES ($1, $2, '{}', '[]') \
                 ON CONFLICT (key) DO NOTHING RETURNING id"
            }
            Collection::Topic => {
                "INSERT INTO topics (key, title, intro) VALUES ($1, $2, '{}') \
                 ON CONFLICT (key) DO NOTHING RETURNING id"
            }
        }
    }

    /// The kind of change its creation is.
    fn change(self) -> ChangeKind {
        match self {
            Collection::Section => ChangeKind::SectionChanged,
            Collection::Series => ChangeKind::SeriesChanged,
            Collection::Topic => ChangeKind::TopicChanged,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Collection::Section => "section",
            Collection::Series => "series",
            Collection::Topic => "topic",
        }
    }
}

/// Where an article is now, as `kind:key` rows (see `0016_reach.sql`); `$1` is its id.
const REACH_NOW: &str = "SELECT 'lang:' || a.lang AS t FROM articles a WHERE a.id = $1 \
     UNION SELECT 'group:' || a.translation_group FROM articles a WHERE a.id = $1 \
     UNION SELECT 'group:' || a.key FROM articles a WHERE a.id = $1 \
     UNION SELECT 'section:' || s.key FROM articles a JOIN sections s ON s.id = a.section_id WHERE a.id = $1 \
     UNION SELECT 'series:' || r.key FROM articles a JOIN series r ON r.id = a.series_id WHERE a.id = $1 \
     UNION SELECT 'topic:' || t.key FROM article_topics x JOIN topics t ON t.id = x.topic_id \
           WHERE x.article_id = $1 \
     UNION SELECT 'byline:' || p.slug FROM article_people p WHERE p.article_id = $1 \
     UNION SELECT 'thread:' || x.thread_id FROM article_threads x WHERE x.article_id = $1 \
     UNION SELECT 'topic:' || t.key FROM article_threads x JOIN threads th ON th.id = x.thread_id \
           JOIN topics t ON t.id = th.topic_id WHERE x.article_id = $1";

/// An article's row: the article, its translation group, its series, and the keys of the
/// related stories pinned to it (live or not), in order.
type ArticleRow = (
    Article,
    String,
    Option<Series>,
    Vec<String>,
    Option<(i64, String)>,
);

/// Appends a record to the stream of changes, inside the caller's transaction. A change of an
/// article carries its reach: where it was at its last change and where it is now, so that a
/// follower keeping pages knows every listing it left or joined.
async fn append_change(
    conn: &mut Conn,
    kind: ChangeKind,
    subject: &str,
    article: Option<i64>,
) -> Result<(), StorageError> {
    let Some(id) = article else {
        sqlx::query("INSERT INTO changes (kind, subject, article_id) VALUES ($1, $2, NULL)")
            .bind(kind.name())
            .bind(subject)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    };
    sqlx::query(&format!(
        "INSERT INTO changes (kind, subject, article_id, reach) \
         SELECT $2, $3, $1, {agg} FROM ({REACH_NOW} \
         UNION SELECT {before}) reach",
        agg = json_list("t"),
        before = REACH_BEFORE,
    ))
    .bind(id)
    .bind(kind.name())
    .bind(subject)
    .execute(&mut *conn)
    .await?;
    remember_reach(conn, id).await
}

/// Keeps where an article is now, for the reach of its next change.
async fn remember_reach(conn: &mut Conn, id: i64) -> Result<(), StorageError> {
    sqlx::query(&format!(
        "INSERT INTO article_reach (article_id, reach) \
         SELECT $1, {agg} FROM ({REACH_NOW}) reach WHERE true \
         ON CONFLICT (article_id) DO UPDATE SET reach = excluded.reach",
        agg = json_list("t"),
    ))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The keys of an account's desks, each checked to name a section; one that names none is
/// [`StorageError::NotFound`].
async fn existing_desks(conn: &mut Conn, grants: &Grants) -> Result<Vec<String>, StorageError> {
    let desks: Vec<String> = grants.desks().map(Slug::to_string).collect();
    if desks.is_empty() {
        return Ok(desks);
    }
    let mut q = QueryBuilder::new("SELECT key FROM sections WHERE key IN (");
    push_keys(&mut q, &desks);
    let found: HashSet<String> = q
        .build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if let Some(missing) = desks.iter().find(|d| !found.contains(*d)) {
        return Err(StorageError::NotFound(format!("section {missing:?}")));
    }
    Ok(desks)
}

/// A `LIKE` pattern that finds `word` anywhere, its own `%`, `_` and backslash taken literally
/// (with a backslash as the `ESCAPE` character).
fn like_anywhere(word: &str) -> String {
    format!(
        "%{}%",
        word.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// Adds `IN` list items for `keys` to a query that ends with `IN (`, and closes it.
fn push_keys<'a>(q: &mut QueryBuilder<'a, Db>, keys: &'a [String]) {
    let mut items = q.separated(", ");
    for key in keys {
        items.push_bind(key.as_str());
    }
    items.push_unseparated(")");
}

/// What a batch knows about stored articles and collections while it runs.
#[derive(Default)]
struct BatchState {
    /// Stored articles by key: id, content digest, translation group.
    articles: HashMap<String, (i64, String, String)>,
    /// Stored articles whose current revision an editor saved (not an import), by key, with
    /// that revision.
    edited: HashMap<String, i64>,
    collections: HashMap<(Collection, String), i64>,
}

impl BatchState {
    /// Reads, in a few queries, the stored articles and collections a batch names.
    async fn load(conn: &mut Conn, batch: &[NewArticle]) -> Result<BatchState, StorageError> {
        let mut state = BatchState::default();
        let mut keys: Vec<String> = Vec::with_capacity(batch.len() * 2);
        let mut seen = HashSet::new();
        for a in batch {
            for key in std::iter::once(a.key()).chain(a.translation_of()) {
                if seen.insert(key.as_str()) {
                    keys.push(key.to_string());
                }
            }
        }
        for chunk in keys.chunks(KEY_CHUNK) {
            let mut q = QueryBuilder::new(
                "SELECT key, id, content_hash, translation_group FROM articles WHERE key IN (",
            );
            push_keys(&mut q, chunk);
            for row in q.build().fetch_all(&mut *conn).await? {
                state.articles.insert(
                    row.try_get(0)?,
                    (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?),
                );
            }
            let mut q = QueryBuilder::new(
                "SELECT a.key, a.revision FROM articles a JOIN revisions r \
                 ON r.article_id = a.id AND r.revision = a.revision \
                 WHERE r.account_id IS NOT NULL AND a.key IN (",
            );
            push_keys(&mut q, chunk);
            for row in q.build().fetch_all(&mut *conn).await? {
                state.edited.insert(row.try_get(0)?, row.try_get(1)?);
            }
        }
        let mut named: HashMap<Collection, Vec<String>> = HashMap::new();
        for a in batch {
            named
                .entry(Collection::Section)
                .or_default()
                .push(a.section().to_string());
            if let Some(s) = a.series() {
                named
                    .entry(Collection::Series)
                    .or_default()
                    .push(s.series.to_string());
            }
            for t in a.topics() {
                named
                    .entry(Collection::Topic)
                    .or_default()
                    .push(t.to_string());
            }
        }
        for (kind, mut keys) in named {
            keys.sort();
            keys.dedup();
            for chunk in keys.chunks(KEY_CHUNK) {
                let mut q = QueryBuilder::new(kind.select_by_keys());
                push_keys(&mut q, chunk);
                for row in q.build().fetch_all(&mut *conn).await? {
                    state
                        .collections
                        .insert((kind, row.try_get(0)?), row.try_get(1)?);
                }
            }
        }
        Ok(state)
    }
}

/// The id of a collection the batch names, created if it does not exist yet. Its creation is
/// part of the article's savepoint: `created` lists it, to forget if that is rolled back.
async fn collection_id(
    conn: &mut Conn,
    state: &mut BatchState,
    created: &mut Vec<(Collection, String)>,
    kind: Collection,
    key: &Slug,
) -> Result<i64, StorageError> {
    let entry = (kind, key.to_string());
    if let Some(id) = state.collections.get(&entry) {
        return Ok(*id);
    }
    let name = to_json(&Localized::new("en", name_from_key(key)));
    let mut attempt = 0;
    let id = loop {
        attempt += 1;
        let mut sp = conn.begin().await?;
        let inserted: Result<Option<i64>, StorageError> = sqlx::query_scalar(kind.insert())
            .bind(key.as_str())
            .bind(&name)
            .fetch_optional(&mut *sp)
            .await
            .map_err(StorageError::from);
        match inserted {
            Ok(Some(id)) => {
                append_change(&mut sp, kind.change(), key.as_str(), None).await?;
                sp.commit().await?;
                tracing::info!(kind = kind.name(), key = %key, "created what an import names");
                break id;
            }
            Ok(None) => {
                sp.commit().await?;
                break sqlx::query_scalar(kind.select_one())
                    .bind(key.as_str())
                    .fetch_one(&mut *conn)
                    .await?;
            }
            // Another writer took the same section code: take the next.
            Err(StorageError::Conflict(_)) if attempt < 5 => sp.rollback().await?,
            Err(e) => return Err(e),
        }
    };
    state.collections.insert(entry.clone(), id);
    created.push(entry);
    Ok(id)
}

/// An import stores a published article, live from its publication time (or the end of an
/// embargo an editor set on it); a later import changes its text but never its state, which is
/// the editors' (an unpublished story stays unpublished).
const UPSERT: &str = "INSERT INTO articles (key, headline, summary, body_html, lang, section_id, byline, \
     credit, web_editors, published_at, updated_at, translation_group, series_id, episode, content_hash, \
     state, live_from) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'published', $10) \
     ON CONFLICT (key) DO UPDATE SET headline = excluded.headline, summary = excluded.summary, \
     body_html = excluded.body_html, lang = excluded.lang, section_id = excluded.section_id, \
     byline = excluded.byline, credit = excluded.credit, web_editors = excluded.web_editors, \
     published_at = excluded.published_at, updated_at = $16, \
     translation_group = excluded.translation_group, series_id = excluded.series_id, \
     episode = excluded.episode, content_hash = excluded.content_hash, \
     revision = articles.revision + 1, \
     live_from = CASE WHEN articles.state <> 'published' THEN NULL \
                      WHEN articles.embargo_until > excluded.published_at \
                      THEN articles.embargo_until ELSE excluded.published_at END \
     RETURNING id";

/// How an article is written.
#[derive(Debug, Clone, Copy)]
enum Write {
    /// An import: a published article, inserted or updated by key.
    Import,
    /// A new draft, by an account.
    Draft { author: i64 },
    /// A save of a stored article, based on the revision the writer read.
    /// The writer was allowed to save it in state `seen`.
    Edit { id: i64, base: i64, seen: State },
}

const DRAFT: &str = "INSERT INTO articles (key, headline, summary, body_html, lang, section_id, byline, \
     credit, web_editors, published_at, updated_at, translation_group, series_id, episode, content_hash, \
     state, live_from, author_id, revision, ever_published) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'draft', NULL, $16, 1, 0) \
     RETURNING id";

/// A save: the fields, a new revision, and for a published article the time it was updated.
const EDIT: &str = "UPDATE articles SET headline = $2, summary = $3, body_html = $4, lang = $5, \
     section_id = $6, byline = $7, credit = $8, web_editors = $9, \
     updated_at = CASE WHEN state = 'published' THEN $16 ELSE updated_at END, \
     translation_group = $12, series_id = $13, episode = $14, content_hash = $15, \
     revision = revision + 1 \
     WHERE id = $17 AND revision = $18 AND key = $1 AND state = $19 \
     RETURNING id";

async fn upsert_article(
    conn: &mut Conn,
    state: &mut BatchState,
    created: &mut Vec<(Collection, String)>,
    a: &NewArticle,
    now: Timestamp,
) -> Result<Upserted, StorageError> {
    write_article(conn, state, created, a, now, Write::Import).await
}

async fn write_article(
    conn: &mut Conn,
    state: &mut BatchState,
    created: &mut Vec<(Collection, String)>,
    a: &NewArticle,
    now: Timestamp,
    mode: Write,
) -> Result<Upserted, StorageError> {
    let existed = match mode {
        Write::Import => state.articles.contains_key(a.key().as_str()),
        Write::Draft { .. } => false,
        Write::Edit { .. } => true,
    };
    // Only an import brings sections, series and topics into being; an editor's article names
    // ones that exist (chief editors and admins make them).
    if !matches!(mode, Write::Import) {
        let mut named = vec![(Collection::Section, a.section())];
        named.extend(a.series().map(|s| (Collection::Series, &s.series)));
        named.extend(a.topics().iter().map(|t| (Collection::Topic, t)));
        for (kind, key) in named {
            if !state.collections.contains_key(&(kind, key.to_string())) {
                return Err(StorageError::NotFound(format!(
                    "{} {:?}",
                    kind.name(),
                    key.as_str()
                )));
            }
        }
    }
    let section = collection_id(conn, state, created, Collection::Section, a.section()).await?;
    let series = match a.series() {
        Some(s) => Some(collection_id(conn, state, created, Collection::Series, &s.series).await?),
        None => None,
    };
    let mut topics = Vec::with_capacity(a.topics().len());
    for t in a.topics() {
        topics.push(collection_id(conn, state, created, Collection::Topic, t).await?);
    }
    // Translations share the group of their original, even when that original is itself a
    // translation.
    let group = match a.translation_of() {
        Some(original) => state
            .articles
            .get(original.as_str())
            .map(|(_, _, group)| group.clone())
            .unwrap_or_else(|| original.to_string()),
        None => a.key().to_string(),
    };
    // An article changed by a later import was updated then, unless the source says when.
    let updated_on_change = a.updated().unwrap_or(now.max(a.published()));
    // The body about to be replaced goes into the revision that held it by reference.
    match mode {
        Write::Import if existed => {
            if let Some((id, _, _)) = state.articles.get(a.key().as_str()) {
                keep_body(conn, *id).await?;
            }
        }
        Write::Edit { id, .. } => keep_body(conn, id).await?,
        Write::Import | Write::Draft { .. } => {}
    }
    let sql = match mode {
        Write::Import => UPSERT,
        Write::Draft { .. } => DRAFT,
        Write::Edit { .. } => EDIT,
    };
    let mut query = sqlx::query_scalar(sql)
        .bind(a.key().as_str())
        .bind(a.headline())
        .bind(a.summary())
        .bind(a.body().as_str())
        .bind(a.lang().as_str())
        .bind(section)
        .bind(a.byline())
        .bind(a.credit())
        .bind(to_json(&a.web_editors()))
        .bind(a.published().as_second())
        .bind(a.updated().map(|t| t.as_second()))
        .bind(&group)
        .bind(series)
        .bind(a.series().map(|s| i64::from(s.episode)))
        .bind(a.content_digest());
    query = match mode {
        Write::Import => query.bind(updated_on_change.as_second()),
        Write::Draft { author } => query.bind(author),
        Write::Edit { id, base, seen } => query
            .bind(now.as_second())
            .bind(id)
            .bind(base)
            .bind(seen.name()),
    };
    let id: i64 = match (query.fetch_optional(&mut *conn).await, mode) {
        (Ok(Some(id)), _) => id,
        (Ok(None), Write::Edit { id, seen, .. }) => {
            return Err(match load_worked(conn, id).await? {
                Some(now) if now.state != seen => StorageError::Conflict(format!(
                    "the article is {} now, not {seen}: read it again",
                    now.state
                )),
                _ => stale(conn, id).await,
            })
        }
        (Ok(None), _) => {
            return Err(StorageError::NotFound(format!(
                "article {:?}",
                a.key().as_str()
            )))
        }
        (Err(sqlx::Error::Database(db)), Write::Draft { .. }) if db.is_unique_violation() => {
            return Err(StorageError::Conflict(format!(
                "an article with the key {:?} exists",
                a.key().as_str()
            )))
        }
        (Err(e), _) => return Err(e.into()),
    };
    // Translations imported before this article joined the group named by its key.
    if group != a.key().as_str() {
        sqlx::query("UPDATE articles SET translation_group = $1 WHERE translation_group = $2")
            .bind(&group)
            .bind(a.key().as_str())
            .execute(&mut *conn)
            .await?;
    }
    if existed {
        sqlx::query("DELETE FROM article_related WHERE article_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM article_topics WHERE article_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    if !a.related().is_empty() {
        let mut q = QueryBuilder::<Db>::new(
            "INSERT INTO article_related (article_id, position, related_key) ",
        );
        q.push_values(
            a.related().iter().enumerate(),
            |mut row, (position, key)| {
                row.push_bind(id)
                    .push_bind(position as i64)
                    .push_bind(key.as_str());
            },
        );
        q.build().execute(&mut *conn).await?;
    }
    if !topics.is_empty() {
        let mut q = QueryBuilder::<Db>::new("INSERT INTO article_topics (article_id, topic_id) ");
        q.push_values(&topics, |mut row, topic| {
            row.push_bind(id).push_bind(*topic);
        });
        q.build().execute(&mut *conn).await?;
    }
    write_people(conn, id, a.byline(), existed).await?;
    match mode {
        Write::Import => {
            // An import is a write like any other: its revision is kept, by no account.
            record_revision(conn, id, None, a, now).await?;
            // Copy that goes live later is announced when it does.
            let (pending, live_state) = settle_live_pending(conn, id, now).await?;
            let kind = match (existed, pending.is_some(), live_state == "published") {
                // An editor took it off the site: a new version of it is nothing readers see.
                (_, _, false) => None,
                (false, false, true) => Some(ChangeKind::ArticlePublished),
                // Told of when it goes live.
                (false, true, true) => None,
                (true, false, true) => Some(ChangeKind::ArticleUpdated),
                (true, true, true) => Some(ChangeKind::ArticleWithdrawn),
            };
            if let Some(kind) = kind {
                append_change(conn, kind, a.key().as_str(), Some(id)).await?;
            }
        }
        Write::Draft { .. } => {}
        Write::Edit { .. } => {
            if live_now(conn, id, now).await? {
                append_change(conn, ChangeKind::ArticleUpdated, a.key().as_str(), Some(id)).await?;
            }
        }
    }
    // What the batch remembers changes only once nothing more can fail.
    if group != a.key().as_str() {
        for (_, _, g) in state.articles.values_mut() {
            if g == a.key().as_str() {
                g.clone_from(&group);
            }
        }
    }
    state.articles.insert(
        a.key().to_string(),
        (id, a.content_digest().to_string(), group),
    );
    Ok(if existed {
        Upserted::Updated(ArticleId::new(id))
    } else {
        Upserted::Inserted(ArticleId::new(id))
    })
}

/// The articles at the head of a batch that are new and no one's translation, each key once:
/// those [`insert_new`] writes together.
fn fresh_articles(batch: &[NewArticle], state: &BatchState) -> Vec<usize> {
    let mut seen = HashSet::new();
    let repeated: HashSet<&str> = batch
        .iter()
        .filter(|a| !seen.insert(a.key().as_str()))
        .map(|a| a.key().as_str())
        .collect();
    batch
        .iter()
        .enumerate()
        // Only the batch's first ones, so that ids and the stream keep the batch's order.
        .take_while(|(_, a)| {
            a.translation_of().is_none()
                && !state.articles.contains_key(a.key().as_str())
                && !repeated.contains(a.key().as_str())
        })
        .map(|(at, _)| at)
        .collect()
}

/// Rows a multi-row statement binds at most (SQLite allows 32,766 bound values).
const ROWS_BOUND: usize = 32_000;

/// Inserts `rows` with `head` (`INSERT INTO t (columns) `), one multi-row statement for as
/// many rows of `width` values as SQLite binds at once.
async fn insert_rows<'r, T>(
    conn: &mut Conn,
    head: &str,
    width: usize,
    rows: &'r [T],
    mut bind: impl FnMut(sqlx::query_builder::Separated<'_, 'r, Db, &'static str>, &'r T),
) -> Result<(), StorageError> {
    for chunk in rows.chunks(ROWS_BOUND / width) {
        let mut q = QueryBuilder::<Db>::new(head);
        q.push_values(chunk, &mut bind);
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes new articles (see [`fresh_articles`]) as [`write_article`] writes each, with one
/// statement a table for all of them: the article, its revision, topics, pinned stories and
/// people, and for those live now the record of the stream with its reach. Answers their ids,
/// in order.
async fn insert_new(
    conn: &mut Conn,
    state: &mut BatchState,
    created: &mut Vec<(Collection, String)>,
    batch: &[NewArticle],
    fresh: &[usize],
    now: Timestamp,
) -> Result<Vec<i64>, StorageError> {
    struct Row<'a> {
        a: &'a NewArticle,
        section: i64,
        series: Option<i64>,
        topics: Vec<i64>,
        pending: Option<i64>,
    }
    let mut rows = Vec::with_capacity(fresh.len());
    for &at in fresh {
        let a = &batch[at];
        let section = collection_id(conn, state, created, Collection::Section, a.section()).await?;
        let series = match a.series() {
            Some(s) => {
                Some(collection_id(conn, state, created, Collection::Series, &s.series).await?)
            }
            None => None,
        };
        let mut topics = Vec::with_capacity(a.topics().len());
        for t in a.topics() {
            topics.push(collection_id(conn, state, created, Collection::Topic, t).await?);
        }
        let published = a.published().as_second();
        rows.push(Row {
            a,
            section,
            series,
            topics,
            // Copy that goes live later is announced when it does.
            pending: (published > now.as_second()).then_some(published),
        });
    }
    // The articles, published, live from their publication time.
    let mut ids: HashMap<String, (i64, i64)> = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_BOUND / 17) {
        let mut q = QueryBuilder::<Db>::new(
            "INSERT INTO articles (key, headline, summary, body_html, lang, section_id, byline, \
             credit, web_editors, published_at, updated_at, translation_group, series_id, episode, \
             content_hash, state, live_from, live_pending) ",
        );
        q.push_values(chunk, |mut b, r| {
            let a = r.a;
            b.push_bind(a.key().as_str())
                .push_bind(a.headline())
                .push_bind(a.summary())
                .push_bind(a.body().as_str())
                .push_bind(a.lang().as_str())
                .push_bind(r.section)
                .push_bind(a.byline())
                .push_bind(a.credit())
                .push_bind(to_json(&a.web_editors()))
                .push_bind(a.published().as_second())
                .push_bind(a.updated().map(|t| t.as_second()))
                .push_bind(a.key().as_str())
                .push_bind(r.series)
                .push_bind(a.series().map(|s| i64::from(s.episode)))
                .push_bind(a.content_digest())
                .push("'published'")
                .push_bind(a.published().as_second())
                .push_bind(r.pending);
        });
        q.push(" RETURNING id, key, revision");
        for row in q.build().fetch_all(&mut *conn).await? {
            ids.insert(row.try_get(1)?, (row.try_get(0)?, row.try_get(2)?));
        }
    }
    let id_of = |a: &NewArticle| {
        ids.get(a.key().as_str())
            .copied()
            .ok_or_else(|| StorageError::Corrupt(format!("{:?} was not stored", a.key().as_str())))
    };
    let mut revisions = Vec::with_capacity(rows.len());
    let mut topics = Vec::new();
    let mut related = Vec::new();
    let mut people = Vec::new();
    let mut told = Vec::new();
    for r in &rows {
        let (id, revision) = id_of(r.a)?;
        revisions.push((id, revision, revision_content(r.a)));
        topics.extend(r.topics.iter().map(|t| (id, *t)));
        related.extend(
            r.a.related()
                .iter()
                .enumerate()
                .map(|(position, key)| (id, position as i64, key.as_str())),
        );
        let named = people_of(r.a.byline());
        if r.pending.is_none() {
            // Where it is now; it was nowhere before.
            let mut reach: std::collections::BTreeSet<String> = [
                format!("lang:{}", r.a.lang()),
                format!("group:{}", r.a.key().as_str()),
                format!("section:{}", r.a.section()),
            ]
            .into_iter()
            .collect();
            reach.extend(r.a.series().map(|s| format!("series:{}", s.series)));
            reach.extend(r.a.topics().iter().map(|t| format!("topic:{t}")));
            reach.extend(named.iter().map(|(slug, _)| format!("byline:{slug}")));
            told.push((id, r.a.key().as_str(), to_json(&reach)));
        }
        people.extend(named.into_iter().map(|(slug, name)| (id, slug, name)));
    }
    insert_rows(
        conn,
        "INSERT INTO revisions (article_id, revision, account_id, saved_at, content, body_current) ",
        4,
        &revisions,
        |mut b, (id, revision, content)| {
            b.push_bind(*id)
                .push_bind(*revision)
                .push("NULL")
                .push_bind(now.as_second())
                .push_bind(content.as_str())
                .push("1");
        },
    )
    .await?;
    insert_rows(
        conn,
        "INSERT INTO article_topics (article_id, topic_id) ",
        2,
        &topics,
        |mut b, (id, topic)| {
            b.push_bind(*id).push_bind(*topic);
        },
    )
    .await?;
    insert_rows(
        conn,
        "INSERT INTO article_related (article_id, position, related_key) ",
        3,
        &related,
        |mut b, (id, position, key)| {
            b.push_bind(*id).push_bind(*position).push_bind(*key);
        },
    )
    .await?;
    insert_rows(
        conn,
        "INSERT INTO article_people (article_id, slug, name) ",
        3,
        &people,
        |mut b, (id, slug, name)| {
            b.push_bind(*id)
                .push_bind(slug.as_str())
                .push_bind(name.as_str());
        },
    )
    .await?;
    // The stream is told of those live now, in the batch's order.
    insert_rows(
        conn,
        "INSERT INTO changes (kind, subject, article_id, reach) ",
        4,
        &told,
        |mut b, (id, key, reach)| {
            b.push_bind(ChangeKind::ArticlePublished.name())
                .push_bind(*key)
                .push_bind(*id)
                .push_bind(reach.as_str());
        },
    )
    .await?;
    insert_rows(
        conn,
        "INSERT INTO article_reach (article_id, reach) ",
        2,
        &told,
        |mut b, (id, _, reach)| {
            b.push_bind(*id).push_bind(reach.as_str());
        },
    )
    .await?;
    rows.iter().map(|r| id_of(r.a).map(|(id, _)| id)).collect()
}

/// The people a byline names, as `article_people` keeps them: a slug and a name each.
fn people_of(byline: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for name in byline
        .map(dateline_core::article::authors)
        .unwrap_or_default()
    {
        if let Some(slug) = dateline_core::PersonKey::from_name(&name) {
            if !out.iter().any(|(s, _)| *s == slug.as_str()) {
                out.push((slug.to_string(), name));
            }
        }
    }
    out
}

async fn write_people(
    conn: &mut Conn,
    id: i64,
    byline: Option<&str>,
    existed: bool,
) -> Result<(), StorageError> {
    if existed {
        sqlx::query("DELETE FROM article_people WHERE article_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    let people = people_of(byline);
    if !people.is_empty() {
        let mut q = QueryBuilder::<Db>::new("INSERT INTO article_people (article_id, slug, name) ");
        q.push_values(&people, |mut row, (slug, name)| {
            row.push_bind(id).push_bind(slug).push_bind(name);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Keeps `live_pending` true to `live_from` after a write: the time the article goes live, while
/// that is still to come; with the article's state.
async fn settle_live_pending(
    conn: &mut Conn,
    id: i64,
    now: Timestamp,
) -> Result<(Option<i64>, String), StorageError> {
    Ok(sqlx::query_as(
        "UPDATE articles SET live_pending = CASE WHEN live_from > $2 THEN live_from ELSE NULL END \
         WHERE id = $1 RETURNING live_pending, state",
    )
    .bind(id)
    .bind(now.as_second())
    .fetch_one(&mut *conn)
    .await?)
}

/// Whether readers see an article now, as the stream has told them: live, and not waiting to be
/// announced.
async fn live_now(conn: &mut Conn, id: i64, now: Timestamp) -> Result<bool, StorageError> {
    let live: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM articles WHERE id = $1 AND live_from <= $2 AND live_pending IS NULL",
    )
    .bind(id)
    .bind(now.as_second())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(live.is_some())
}

/// Why a save based on a revision was refused: the current one, and who saved it when.
async fn stale(conn: &mut Conn, id: i64) -> StorageError {
    /// The current revision, who saved it, and when.
    type Current = (i64, Option<String>, Option<i64>);
    let found: Result<Option<Current>, sqlx::Error> = sqlx::query_as(
        "SELECT a.revision, acc.username, r.saved_at FROM articles a \
         LEFT JOIN revisions r ON r.article_id = a.id AND r.revision = a.revision \
         LEFT JOIN accounts acc ON acc.id = r.account_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await;
    match found {
        Ok(Some((current, by, at))) => StorageError::Stale {
            current,
            by: by.unwrap_or_else(|| "an import".to_string()),
            at: at
                .and_then(|t| Timestamp::from_second(t).ok())
                .unwrap_or(Timestamp::UNIX_EPOCH),
        },
        Ok(None) => StorageError::NotFound(format!("article {id}")),
        Err(e) => e.into(),
    }
}

fn parse_state(text: &str) -> Result<State, StorageError> {
    State::ALL
        .into_iter()
        .find(|s| s.name() == text)
        .ok_or_else(|| StorageError::Corrupt(format!("state {text:?}")))
}

/// Keeps a saved revision's content: who, when, and the article as an import record, its body
/// by reference to the article's (see [`keep_body`]).
async fn record_revision(
    conn: &mut Conn,
    id: i64,
    account: Option<i64>,
    a: &NewArticle,
    now: Timestamp,
) -> Result<(), StorageError> {
    let content = revision_content(a);
    sqlx::query(
        "INSERT INTO revisions (article_id, revision, account_id, saved_at, content, body_current) \
         SELECT id, revision, $2, $3, $4, 1 FROM articles WHERE id = $1",
    )
    .bind(id)
    .bind(account)
    .bind(now.as_second())
    .bind(content)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A new revision's content: the article as an import record without its body, which the
/// revision holds by reference to the article's own until a write replaces it ([`keep_body`]).
fn revision_content(a: &NewArticle) -> String {
    serde_json::Value::Object(dateline_core::import::to_record_but_body(a)).to_string()
}

/// Before a write replaces an article's body: writes that body into the revision that holds it
/// by reference (the article's newest), so every revision keeps the body it was saved with.
async fn keep_body(conn: &mut Conn, id: i64) -> Result<(), StorageError> {
    let held: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT r.revision, r.content, a.body_html FROM revisions r \
         JOIN articles a ON a.id = r.article_id WHERE r.article_id = $1 AND r.body_current = 1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((revision, content, body)) = held else {
        return Ok(());
    };
    let content = with_body(&content, body)
        .map_err(|e| StorageError::Corrupt(format!("revision {revision} of article {id}: {e}")))?;
    sqlx::query(
        "UPDATE revisions SET content = $3, body_current = 0 WHERE article_id = $1 AND revision = $2",
    )
    .bind(id)
    .bind(revision)
    .bind(serde_json::Value::Object(content).to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A revision's content with the body it holds by reference put back.
fn with_body(
    content: &str,
    body: String,
) -> Result<serde_json::Map<String, serde_json::Value>, serde_json::Error> {
    let mut record: serde_json::Map<String, serde_json::Value> = serde_json::from_str(content)?;
    record.insert("body".to_string(), serde_json::Value::from(body));
    Ok(record)
}

/// An article in any state, as the newsroom works on it, in three queries.
async fn load_worked(conn: &mut Conn, id: i64) -> Result<Option<Worked>, StorageError> {
    let Some(row) = sqlx::query(
        "SELECT a.id, a.key, a.state, a.revision, a.author_id, s.key, a.scheduled_at, a.embargo_until, \
         a.live_from, a.headline, a.summary, a.body_html, a.lang, a.byline, a.credit, a.web_editors, \
         a.published_at, a.updated_at, a.translation_group, se.key, a.episode \
         FROM articles a JOIN sections s ON s.id = a.section_id \
         LEFT JOIN series se ON se.id = a.series_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let related: Vec<String> = sqlx::query_scalar(
        "SELECT related_key FROM article_related WHERE article_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let topics: Vec<String> = sqlx::query_scalar(
        "SELECT t.key FROM article_topics at JOIN topics t ON t.id = at.topic_id \
         WHERE at.article_id = $1 ORDER BY t.key",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let key: String = row.try_get(1)?;
    let opt_ts = |i: usize| -> Result<Option<Timestamp>, StorageError> {
        row.try_get::<Option<i64>, _>(i)?.map(ts).transpose()
    };
    let mut record = serde_json::Map::new();
    let mut put = |field: &str, value: serde_json::Value| {
        if !value.is_null() {
            record.insert(field.to_string(), value);
        }
    };
    put("id", json!(key));
    put("headline", json!(row.try_get::<String, _>(9)?));
    put("summary", json!(row.try_get::<Option<String>, _>(10)?));
    put("body", json!(row.try_get::<String, _>(11)?));
    put("lang", json!(row.try_get::<String, _>(12)?));
    put("section", json!(row.try_get::<String, _>(5)?));
    put("byline", json!(row.try_get::<Option<String>, _>(13)?));
    put("credit", json!(row.try_get::<Option<String>, _>(14)?));
    let editors: Vec<String> = serde_json::from_str(&row.try_get::<String, _>(15)?)
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    put("web_editors", json!(editors));
    put("published", json!(ts(row.try_get(16)?)?.to_string()));
    put("updated", json!(opt_ts(17)?.map(|t| t.to_string())));
    put("related", json!(related));
    let group: String = row.try_get(18)?;
    put("translation_of", json!((group != key).then_some(group)));
    if let Some(series) = row.try_get::<Option<String>, _>(19)? {
        put("series", json!(series));
        put("episode", json!(row.try_get::<Option<i64>, _>(20)?));
    }
    put("topics", json!(topics));
    Ok(Some(Worked {
        id: ArticleId::new(row.try_get(0)?),
        key: ArticleKey::parse(&key).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        state: parse_state(&row.try_get::<String, _>(2)?)?,
        revision: row.try_get(3)?,
        author: row.try_get(4)?,
        section: slug(row.try_get(5)?)?,
        scheduled_at: opt_ts(6)?,
        embargo_until: opt_ts(7)?,
        live_from: opt_ts(8)?,
        record,
    }))
}

/// The SQL that makes an article live from its (new) publication time or the end of its
/// embargo, whichever is later. `$published` is the expression of its publication time.
fn live_from(published: &str) -> String {
    format!("CASE WHEN embargo_until > {published} THEN embargo_until ELSE {published} END")
}

impl Engine {
    /// One write of one article, in its own transaction.
    async fn write_one(
        &self,
        a: &NewArticle,
        now: Timestamp,
        mode: Write,
        account: i64,
    ) -> Result<Worked, StorageError> {
        let mut tx = self.write().await?;
        let mut state = BatchState::load(&mut tx, std::slice::from_ref(a)).await?;
        let mut created = Vec::new();
        let id = write_article(&mut tx, &mut state, &mut created, a, now, mode)
            .await?
            .id();
        record_revision(&mut tx, id.get(), Some(account), a, now).await?;
        let worked = load_worked(&mut tx, id.get())
            .await?
            .ok_or_else(|| StorageError::NotFound(format!("article {id}")))?;
        tx.commit().await?;
        Ok(worked)
    }

    /// One attempt at a batch: a transient error ends it, for the caller to try again.
    async fn import_once(
        &self,
        batch: &[NewArticle],
        now: Timestamp,
    ) -> Result<Vec<Result<Upserted, StorageError>>, StorageError> {
        let mut tx = self.write().await?;
        let mut state = BatchState::load(&mut tx, batch).await?;
        let mut outcomes: Vec<Option<Result<Upserted, StorageError>>> =
            batch.iter().map(|_| None).collect();
        // The batch's new articles go in together, a statement for each table, in a savepoint;
        // if that fails, each is written alone below, where a failure is its own.
        let fresh = fresh_articles(batch, &state);
        if fresh.len() > 1 {
            let mut savepoint = (*tx).begin().await?;
            let mut created = Vec::new();
            match insert_new(&mut savepoint, &mut state, &mut created, batch, &fresh, now).await {
                Ok(ids) => {
                    savepoint.commit().await?;
                    for (&at, id) in fresh.iter().zip(ids) {
                        let a = &batch[at];
                        state.articles.insert(
                            a.key().to_string(),
                            (id, a.content_digest().to_string(), a.key().to_string()),
                        );
                        outcomes[at] = Some(Ok(Upserted::Inserted(ArticleId::new(id))));
                    }
                }
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    savepoint.rollback().await?;
                    for entry in created {
                        state.collections.remove(&entry);
                    }
                    tracing::debug!(error = %e, "the batch's new articles are written one by one");
                }
            }
        }
        for (at, article) in batch.iter().enumerate() {
            if outcomes[at].is_some() {
                continue;
            }
            let outcome = &mut outcomes[at];
            if let Some((id, old_hash, _)) = state.articles.get(article.key().as_str()) {
                if old_hash == article.content_digest() {
                    *outcome = Some(Ok(Upserted::Unchanged(ArticleId::new(*id))));
                    continue;
                }
            }
            // An article an editor changed since it was imported is theirs now: the import does
            // not overwrite it unseen.
            if let Some(revision) = state.edited.get(article.key().as_str()) {
                *outcome = Some(Err(StorageError::Conflict(format!(
                    "{:?} was edited in the newsroom (revision {revision}) since it was imported; \
                     the import does not overwrite it",
                    article.key().as_str()
                ))));
                continue;
            }
            // A savepoint per article: one that fails is rolled back alone.
            let mut savepoint = (*tx).begin().await?;
            let mut created = Vec::new();
            match upsert_article(&mut savepoint, &mut state, &mut created, article, now).await {
                Ok(done) => {
                    savepoint.commit().await?;
                    *outcome = Some(Ok(done));
                }
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    savepoint.rollback().await?;
                    // What the rolled-back savepoint created is gone with it.
                    for entry in created {
                        state.collections.remove(&entry);
                    }
                    *outcome = Some(Err(e));
                }
            }
        }
        tx.commit().await?;
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| Err(StorageError::Corrupt("an article was not written".into())))
            })
            .collect())
    }
}

#[async_trait]
impl Store for Engine {
    #[tracing::instrument(skip_all, fields(section = %section.key))]
    async fn put_section(&self, section: &Section) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        // A new section is placed by its code; an existing one keeps its place.
        let result = sqlx::query(
            "INSERT INTO sections (key, code, name, position) VALUES ($1, $2, $3, $2) \
             ON CONFLICT (key) DO UPDATE SET code = excluded.code, name = excluded.name",
        )
        .bind(section.key.as_str())
        .bind(i64::from(section.code))
        .bind(to_json(&section.name))
        .execute(&mut *tx)
        .await;
        match result.map_err(StorageError::from) {
            Err(StorageError::Conflict(_)) => {
                drop(tx);
                let holder: Option<String> =
                    sqlx::query_scalar("SELECT key FROM sections WHERE code = $1")
                        .bind(i64::from(section.code))
                        .fetch_optional(&self.pool)
                        .await?;
                return Err(StorageError::Conflict(format!(
                    "section code {} already belongs to section {:?}",
                    section.code,
                    holder.unwrap_or_default()
                )));
            }
            other => other?,
        };
        append_change(
            &mut tx,
            ChangeKind::SectionChanged,
            section.key.as_str(),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(series = %series.key))]
    async fn put_series(&self, series: &Series) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO series (key, title, description, partners) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET title = excluded.title, description = excluded.description, \
             partners = excluded.partners",
        )
        .bind(series.key.as_str())
        .bind(to_json(&series.title))
        .bind(html_json(&series.description))
        .bind(to_json(&series.partners))
        .execute(&mut *tx)
        .await?;
        append_change(
            &mut tx,
            ChangeKind::SeriesChanged,
            series.key.as_str(),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(topic = %topic.key))]
    async fn put_topic(&self, topic: &Topic) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO topics (key, title, intro) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET title = excluded.title, intro = excluded.intro",
        )
        .bind(topic.key.as_str())
        .bind(to_json(&topic.title))
        .bind(html_json(&topic.intro))
        .execute(&mut *tx)
        .await?;
        append_change(&mut tx, ChangeKind::TopicChanged, topic.key.as_str(), None).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(articles = batch.len()))]
    async fn import_articles(
        &self,
        batch: &[NewArticle],
        now: Timestamp,
    ) -> Result<Vec<Result<Upserted, StorageError>>, StorageError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.import_once(batch, now).await {
                Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                    let wait = Duration::from_millis(100 << attempt);
                    tracing::warn!(error = %e, attempt, ?wait, "the database is busy; trying the batch again");
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    #[tracing::instrument(skip_all, fields(lang = %lang))]
    async fn set_front(&self, lang: &Lang, keys: &[ArticleKey]) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM front_slots WHERE lang = $1")
            .bind(lang.as_str())
            .execute(&mut *tx)
            .await?;
        if !keys.is_empty() {
            let keys: Vec<String> = keys.iter().map(ArticleKey::to_string).collect();
            let mut ids: HashMap<String, i64> = HashMap::new();
            for chunk in keys.chunks(KEY_CHUNK) {
                let mut q = QueryBuilder::new("SELECT key, id FROM articles WHERE key IN (");
                push_keys(&mut q, chunk);
                for row in q.build().fetch_all(&mut *tx).await? {
                    ids.insert(row.try_get(0)?, row.try_get(1)?);
                }
            }
            let mut slots = Vec::with_capacity(keys.len());
            for key in &keys {
                let id = ids
                    .get(key)
                    .ok_or_else(|| StorageError::NotFound(format!("article {key:?}")))?;
                slots.push(*id);
            }
            let mut q =
                QueryBuilder::<Db>::new("INSERT INTO front_slots (lang, position, article_id) ");
            q.push_values(slots.iter().enumerate(), |mut row, (position, id)| {
                row.push_bind(lang.as_str())
                    .push_bind(position as i64)
                    .push_bind(*id);
            });
            q.build().execute(&mut *tx).await?;
        }
        append_change(&mut tx, ChangeKind::FrontChanged, lang.as_str(), None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn sections(&self) -> Result<Vec<Section>, StorageError> {
        let rows = sqlx::query("SELECT key, code, name FROM sections ORDER BY position, id")
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(section_from_row).collect()
    }

    async fn page_frame(
        &self,
        lang: &Lang,
        limit: u32,
        as_of: Timestamp,
        probe: Option<ArticleId>,
    ) -> Result<PageFrame, StorageError> {
        self.frame(lang, limit, as_of, probe, None).await
    }

    async fn page_frame_at(
        &self,
        lang: &Lang,
        limit: u32,
        as_of: Timestamp,
        path: &str,
    ) -> Result<PageFrame, StorageError> {
        self.frame(lang, limit, as_of, None, Some(path)).await
    }

    async fn series(&self, key: &Slug) -> Result<Option<Series>, StorageError> {
        let row =
            sqlx::query("SELECT key, title, description, partners FROM series WHERE key = $1")
                .bind(key.as_str())
                .fetch_optional(self.reader())
                .await?;
        row.map(|row| series_at(&row, 0)).transpose()
    }

    async fn person(
        &self,
        slug: &dateline_core::PersonKey,
        as_of: Timestamp,
    ) -> Result<Option<String>, StorageError> {
        Ok(sqlx::query_scalar(
            "SELECT p.name FROM article_people p JOIN articles a ON a.id = p.article_id \
             WHERE p.slug = $1 AND a.live_from <= $2 ORDER BY a.published_at DESC LIMIT 1",
        )
        .bind(slug.as_str())
        .bind(as_of.as_second())
        .fetch_optional(self.reader())
        .await?)
    }

    async fn topic(&self, key: &Slug) -> Result<Option<Topic>, StorageError> {
        let row = sqlx::query("SELECT key, title, intro FROM topics WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(self.reader())
            .await?;
        row.map(|row| topic_from_row(&row)).transpose()
    }

    #[tracing::instrument(skip(self))]
    async fn article(
        &self,
        id: ArticleId,
        as_of: Timestamp,
    ) -> Result<Option<Article>, StorageError> {
        let Some((article, ..)) = self.article_row(id, Some(as_of)).await? else {
            return Ok(None);
        };
        let topics = self.article_topics(id).await?;
        Ok(Some(Article {
            topics: topics.into_iter().map(|t| t.key).collect(),
            ..article
        }))
    }

    #[tracing::instrument(skip(self))]
    async fn article_page(
        &self,
        id: ArticleId,
        as_of: Timestamp,
    ) -> Result<Option<ArticlePage>, StorageError> {
        self.page(id, Some(as_of), as_of, &[]).await
    }

    async fn article_page_with(
        &self,
        id: ArticleId,
        as_of: Timestamp,
        suggested: &[String],
    ) -> Result<Option<ArticlePage>, StorageError> {
        self.page(id, Some(as_of), as_of, suggested).await
    }

    async fn article_preview(
        &self,
        id: ArticleId,
        as_of: Timestamp,
    ) -> Result<Option<ArticlePage>, StorageError> {
        self.page(id, None, as_of, &[]).await
    }

    async fn set_related_block(
        &self,
        id: ArticleId,
        key: &ArticleKey,
        blocked: bool,
        by: i64,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        let live: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT key, live_from FROM articles WHERE id = $1")
                .bind(id.get())
                .fetch_optional(&mut *tx)
                .await?;
        let Some((own_key, live_from)) = live else {
            return Err(StorageError::NotFound(format!("article {id}")));
        };
        let changed = if blocked {
            sqlx::query(
                "INSERT INTO related_blocks (article_id, blocked_key, blocked_by, at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (article_id, blocked_key) DO NOTHING",
            )
            .bind(id.get())
            .bind(key.as_str())
            .bind(by)
            .bind(now.as_second())
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            sqlx::query("DELETE FROM related_blocks WHERE article_id = $1 AND blocked_key = $2")
                .bind(id.get())
                .bind(key.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected()
        };
        // Readers see the page change only where the article is live.
        if changed > 0 && live_from.is_some_and(|from| from <= now.as_second()) {
            append_change(
                &mut tx,
                ChangeKind::ArticleUpdated,
                &own_key,
                Some(id.get()),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn related_blocks(&self, id: ArticleId) -> Result<Vec<String>, StorageError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT blocked_key FROM related_blocks WHERE article_id = $1 ORDER BY blocked_key",
        )
        .bind(id.get())
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(|(k,)| k).collect())
    }

    async fn find_links(
        &self,
        words: &str,
        as_of: Timestamp,
        limit: u32,
    ) -> Result<Vec<ArticleLink>, StorageError> {
        // Each word must be in the headline. LIKE's own wildcards in the words are escaped.
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT {LINK_COLUMNS} FROM {LINK_FROM} WHERE a.live_from <= "
        ));
        q.push_bind(as_of.as_second());
        for word in words.split_whitespace().take(8) {
            q.push(" AND a.headline ")
                .push(LIKE)
                .push(" ")
                .push_bind(like_anywhere(word))
                .push(" ESCAPE '\\'");
        }
        q.push(" ORDER BY a.published_at DESC LIMIT ")
            .push_bind(i64::from(limit));
        Ok(links(&q.build().fetch_all(&self.pool).await?))
    }

    async fn opens(
        &self,
        ids: &[ArticleId],
        since: Timestamp,
    ) -> Result<Vec<(ArticleId, String)>, StorageError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(KEY_CHUNK) {
            let mut q = QueryBuilder::<Db>::new(
                "SELECT o.article_id, acc.username FROM article_opens o \
                 JOIN accounts acc ON acc.id = o.account_id WHERE o.at >= ",
            );
            q.push_bind(since.as_second())
                .push(" AND o.article_id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(id.get());
            }
            q.push(") ORDER BY o.article_id, acc.username");
            let rows: Vec<(i64, String)> = q.build_query_as().fetch_all(&self.pool).await?;
            out.extend(rows.into_iter().map(|(id, who)| (ArticleId::new(id), who)));
        }
        Ok(out)
    }

    async fn add_media(&self, media: &Media, by: i64, now: Timestamp) -> Result<(), StorageError> {
        let widths = serde_json::to_string(&media.widths)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        let mut tx = self.write().await?;
        // The same bytes uploaded twice are one image.
        sqlx::query(
            "INSERT INTO media (id, format, width, height, widths, uploaded_by, uploaded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(media.id.as_str())
        .bind(match media.format {
            MediaFormat::Jpeg => "jpeg",
            MediaFormat::Png => "png",
        })
        .bind(i64::from(media.width))
        .bind(i64::from(media.height))
        .bind(widths)
        .bind(by)
        .bind(now.as_second())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn media(&self, id: &MediaId) -> Result<Option<Media>, StorageError> {
        let row: Option<(String, i64, i64, String)> =
            sqlx::query_as("SELECT format, width, height, widths FROM media WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(self.reader())
                .await?;
        let Some((format, width, height, widths)) = row else {
            return Ok(None);
        };
        let corrupt = |e: String| StorageError::Corrupt(format!("media {id}: {e}"));
        Ok(Some(Media {
            id: id.clone(),
            format: match format.as_str() {
                "jpeg" => MediaFormat::Jpeg,
                "png" => MediaFormat::Png,
                other => return Err(corrupt(format!("format {other:?}"))),
            },
            width: u32::try_from(width).map_err(|e| corrupt(e.to_string()))?,
            height: u32::try_from(height).map_err(|e| corrupt(e.to_string()))?,
            widths: serde_json::from_str(&widths).map_err(|e| corrupt(e.to_string()))?,
        }))
    }

    async fn links_by_keys(
        &self,
        keys: &[String],
        as_of: Timestamp,
    ) -> Result<Vec<ArticleLink>, StorageError> {
        let mut out = Vec::new();
        for chunk in keys.chunks(KEY_CHUNK) {
            let mut q = QueryBuilder::<Db>::new(format!(
                "SELECT {LINK_COLUMNS} FROM {LINK_FROM} WHERE a.live_from <= "
            ));
            q.push_bind(as_of.as_second()).push(" AND a.key IN (");
            push_keys(&mut q, chunk);
            out.extend(links(&q.build().fetch_all(self.reader()).await?));
        }
        Ok(out)
    }

    async fn front(&self, lang: &Lang, as_of: Timestamp) -> Result<Vec<ArticleLink>, StorageError> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM front_slots f JOIN articles a ON a.id = f.article_id \
             JOIN sections s ON s.id = a.section_id WHERE f.lang = $1 AND a.live_from <= $2 \
             ORDER BY f.position"
        );
        let rows = sqlx::query(&sql)
            .bind(lang.as_str())
            .bind(as_of.as_second())
            .fetch_all(self.reader())
            .await?;
        Ok(links(&rows))
    }

    async fn section_latest(
        &self,
        lang: &Lang,
        per_section: u32,
        as_of: Timestamp,
    ) -> Result<Vec<ArticleLink>, StorageError> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM sections s JOIN articles a ON a.id IN \
             (SELECT b.id FROM articles b WHERE b.section_id = s.id AND b.lang = $1 \
              AND b.live_from <= $2 AND {copy}$2) \
              ORDER BY b.published_at DESC, b.id DESC LIMIT $3) \
             ORDER BY s.position, s.id, a.published_at DESC, a.id DESC",
            copy = not_a_copy("b"),
        );
        let rows = sqlx::query(&sql)
            .bind(lang.as_str())
            .bind(as_of.as_second())
            .bind(i64::from(per_section))
            .fetch_all(self.reader())
            .await?;
        Ok(links(&rows))
    }

    #[tracing::instrument(skip_all, fields(lang = %listing.lang, filter = ?listing.filter))]
    async fn list(&self, listing: &Listing) -> Result<Vec<ArticleLink>, StorageError> {
        let (sql, key) = listing_sql(listing, "");
        let rows = bind_listing(&sql, &key, listing)
            .fetch_all(self.reader())
            .await?;
        Ok(links(&rows))
    }

    async fn feed(&self, listing: &Listing) -> Result<Vec<FeedEntry>, StorageError> {
        let (sql, key) = listing_sql(listing, ", a.body_html, a.byline");
        let rows = bind_listing(&sql, &key, listing)
            .fetch_all(self.reader())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(link) = readable(row, 0) else {
                continue;
            };
            out.push(FeedEntry {
                link,
                // Only the sanitizer's output is ever written to this column.
                body: SafeHtml::from_storage(row.try_get(LINK_WIDTH)?),
                byline: row.try_get(LINK_WIDTH + 1)?,
            });
        }
        Ok(out)
    }

    async fn published_since(
        &self,
        since: Timestamp,
        as_of: Timestamp,
        limit: u32,
    ) -> Result<Vec<ArticleLink>, StorageError> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM {LINK_FROM} WHERE a.live_from <= $1 AND a.published_at >= $2 \
             ORDER BY a.published_at DESC, a.id DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(as_of.as_second())
            .bind(since.as_second())
            .bind(i64::from(limit))
            .fetch_all(self.reader())
            .await?;
        Ok(links(&rows))
    }

    async fn sitemap_spans(&self, as_of: Timestamp) -> Result<Vec<(i64, Timestamp)>, StorageError> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(SITEMAP_SPANS)
            .bind(crate::SITEMAP_SPAN)
            .bind(as_of.as_second())
            .fetch_all(self.reader())
            .await?;
        rows.into_iter()
            .map(|(span, at)| Ok((span, ts(at)?)))
            .collect()
    }

    async fn live_in(
        &self,
        ids: std::ops::RangeInclusive<i64>,
        as_of: Timestamp,
    ) -> Result<Vec<ArticleLink>, StorageError> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM {LINK_FROM} WHERE a.id BETWEEN $1 AND $2 AND a.live_from <= $3 \
             ORDER BY a.id"
        );
        let rows = sqlx::query(&sql)
            .bind(*ids.start())
            .bind(*ids.end())
            .bind(as_of.as_second())
            .fetch_all(self.reader())
            .await?;
        Ok(links(&rows))
    }

    async fn article_id(&self, key: &ArticleKey) -> Result<Option<ArticleId>, StorageError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM articles WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.map(ArticleId::new))
    }

    async fn put_redirect(&self, path: &str, article: ArticleId) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO redirects (path, article_id) VALUES ($1, $2) \
             ON CONFLICT (path) DO UPDATE SET article_id = excluded.article_id",
        )
        .bind(path)
        .bind(article.get())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn article_ids(&self) -> Result<Vec<ArticleId>, StorageError> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM articles ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(ids.into_iter().map(ArticleId::new).collect())
    }

    async fn article_count(&self) -> Result<u64, StorageError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM articles")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    #[tracing::instrument(skip_all, fields(username = %username))]
    async fn create_account(
        &self,
        username: &Username,
        grants: &Grants,
        password: &PasswordHash,
        now: Timestamp,
    ) -> Result<Account, StorageError> {
        let mut tx = self.write().await?;
        let desks = existing_desks(&mut tx, grants).await?;
        let roles: Vec<&str> = grants.roles().map(Role::name).collect();
        let result = sqlx::query_scalar(
            "INSERT INTO accounts (username, password_hash, roles, desks, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(username.as_str())
        .bind(password.as_str())
        .bind(to_json(&roles))
        .bind(to_json(&desks))
        .bind(now.as_second())
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match result.map_err(StorageError::from) {
            Err(StorageError::Conflict(_)) => {
                return Err(StorageError::Conflict(format!(
                    "the username {username} is taken"
                )))
            }
            other => other?,
        };
        tx.commit().await?;
        Ok(Account {
            id,
            username: username.clone(),
            grants: grants.clone(),
            disabled: false,
        })
    }

    async fn accounts(&self) -> Result<Vec<Account>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, username, roles, desks, disabled FROM accounts ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn account(&self, username: &Username) -> Result<Option<Account>, StorageError> {
        let row = sqlx::query(
            "SELECT id, username, roles, desks, disabled FROM accounts WHERE username = $1",
        )
        .bind(username.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn password_hash(
        &self,
        username: &Username,
    ) -> Result<Option<PasswordHash>, StorageError> {
        let hash: Option<String> =
            sqlx::query_scalar("SELECT password_hash FROM accounts WHERE username = $1")
                .bind(username.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(hash.map(PasswordHash::from_stored))
    }

    #[tracing::instrument(skip_all, fields(username = %username, disabled))]
    async fn set_grants(
        &self,
        username: &Username,
        grants: &Grants,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        let desks = existing_desks(&mut tx, grants).await?;
        let roles: Vec<&str> = grants.roles().map(Role::name).collect();
        let changed = sqlx::query(
            "UPDATE accounts SET roles = $2, desks = $3, updated_at = $4 WHERE username = $1",
        )
        .bind(username.as_str())
        .bind(to_json(&roles))
        .bind(to_json(&desks))
        .bind(now.as_second())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StorageError::NotFound(format!("account {username:?}")));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_disabled(
        &self,
        username: &Username,
        disabled: bool,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        let changed =
            sqlx::query("UPDATE accounts SET disabled = $2, updated_at = $3 WHERE username = $1")
                .bind(username.as_str())
                .bind(i64::from(disabled))
                .bind(now.as_second())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if changed == 0 {
            return Err(StorageError::NotFound(format!("account {username:?}")));
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(username = %username))]
    async fn set_password(
        &self,
        username: &Username,
        password: &PasswordHash,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE username = $1",
        )
        .bind(username.as_str())
        .bind(password.as_str())
        .bind(now.as_second())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StorageError::NotFound(format!("account {username:?}")));
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(author))]
    async fn create_draft(
        &self,
        article: &NewArticle,
        author: i64,
        now: Timestamp,
    ) -> Result<Worked, StorageError> {
        self.write_one(article, now, Write::Draft { author }, author)
            .await
    }

    #[tracing::instrument(skip_all, fields(article = %id, base))]
    async fn save_article(
        &self,
        id: ArticleId,
        article: &NewArticle,
        base: i64,
        seen: State,
        account: i64,
        now: Timestamp,
    ) -> Result<Worked, StorageError> {
        let mode = Write::Edit {
            id: id.get(),
            base,
            seen,
        };
        self.write_one(article, now, mode, account).await
    }

    async fn revisions(&self, id: ArticleId) -> Result<Vec<RevisionInfo>, StorageError> {
        let rows = sqlx::query(
            "SELECT r.revision, acc.username, r.saved_at FROM revisions r \
             LEFT JOIN accounts acc ON acc.id = r.account_id \
             WHERE r.article_id = $1 ORDER BY r.revision DESC",
        )
        .bind(id.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RevisionInfo {
                    revision: row.try_get(0)?,
                    by: row.try_get(1)?,
                    at: ts(row.try_get(2)?)?,
                })
            })
            .collect()
    }

    async fn revision(
        &self,
        id: ArticleId,
        revision: i64,
    ) -> Result<Option<(RevisionInfo, serde_json::Map<String, serde_json::Value>)>, StorageError>
    {
        let row = sqlx::query(
            "SELECT r.revision, acc.username, r.saved_at, r.content, \
             CASE WHEN r.body_current = 1 THEN a.body_html END FROM revisions r \
             JOIN articles a ON a.id = r.article_id \
             LEFT JOIN accounts acc ON acc.id = r.account_id \
             WHERE r.article_id = $1 AND r.revision = $2",
        )
        .bind(id.get())
        .bind(revision)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let content: String = row.try_get(3)?;
            let held: Option<String> = row.try_get(4)?;
            let content = match held {
                Some(body) => with_body(&content, body),
                None => serde_json::from_str(&content),
            }
            .map_err(|e| StorageError::Corrupt(format!("revision {revision} of {id}: {e}")))?;
            Ok((
                RevisionInfo {
                    revision: row.try_get(0)?,
                    by: row.try_get(1)?,
                    at: ts(row.try_get(2)?)?,
                },
                content,
            ))
        })
        .transpose()
    }

    async fn desk(&self, filter: &DeskFilter) -> Result<Vec<WorkedSummary>, StorageError> {
        let mut q = QueryBuilder::<Db>::new(
            "SELECT a.id, a.key, a.headline, a.state, a.revision, s.key, a.lang, acc.username, \
             a.scheduled_at, a.embargo_until, \
             COALESCE((SELECT MAX(r.saved_at) FROM revisions r WHERE r.article_id = a.id), a.updated_at, a.published_at) AS changed \
             FROM articles a JOIN sections s ON s.id = a.section_id \
             LEFT JOIN accounts acc ON acc.id = a.author_id WHERE 1 = 1",
        );
        if let Some(state) = filter.state {
            q.push(" AND a.state = ").push_bind(state.name());
        }
        if let Some(desk) = &filter.desk {
            q.push(" AND s.key = ").push_bind(desk.as_str());
        }
        if let Some(author) = filter.author {
            q.push(" AND a.author_id = ").push_bind(author);
        }
        if let Some(lang) = &filter.lang {
            q.push(" AND a.lang = ").push_bind(lang.as_str());
        }
        if let Some(words) = &filter.words {
            // An editor's search of their own desk, drafts included: the index holds only what
            // readers see, so this one reads the desk's articles themselves.
            for word in words.split_whitespace().take(8) {
                let like = like_anywhere(word);
                q.push(" AND (a.headline ")
                    .push(LIKE)
                    .push(" ")
                    .push_bind(like.clone())
                    .push(" ESCAPE '\\' OR a.body_html ")
                    .push(LIKE)
                    .push(" ")
                    .push_bind(like)
                    .push(" ESCAPE '\\')");
            }
        }
        if let Some((desks, me)) = &filter.visible_to {
            q.push(" AND (a.author_id = ").push_bind(*me);
            if !desks.is_empty() {
                q.push(" OR s.key IN (");
                let mut items = q.separated(", ");
                for d in desks {
                    items.push_bind(d.as_str());
                }
                items.push_unseparated(")");
            }
            q.push(")");
        }
        q.push(" ORDER BY changed DESC, a.id DESC LIMIT ")
            .push_bind(i64::from(filter.limit))
            .push(" OFFSET ")
            .push_bind(i64::from(filter.offset));
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get(1)?;
                let lang: String = row.try_get(6)?;
                Ok(WorkedSummary {
                    id: ArticleId::new(row.try_get(0)?),
                    key: ArticleKey::parse(&key)
                        .map_err(|e| StorageError::Corrupt(e.to_string()))?,
                    headline: row.try_get(2)?,
                    state: parse_state(&row.try_get::<String, _>(3)?)?,
                    revision: row.try_get(4)?,
                    section: slug(row.try_get(5)?)?,
                    lang: Lang::parse(&lang).map_err(|e| StorageError::Corrupt(e.to_string()))?,
                    author: row.try_get(7)?,
                    scheduled_at: row.try_get::<Option<i64>, _>(8)?.map(ts).transpose()?,
                    embargo_until: row.try_get::<Option<i64>, _>(9)?.map(ts).transpose()?,
                    changed: ts(row.try_get(10)?)?,
                })
            })
            .collect()
    }

    async fn worked_article(&self, id: ArticleId) -> Result<Option<Worked>, StorageError> {
        let mut conn = self.pool.acquire().await?;
        load_worked(&mut conn, id.get()).await
    }

    #[tracing::instrument(skip(self, now))]
    async fn change_state(
        &self,
        id: ArticleId,
        from: State,
        change: StateChange,
        now: Timestamp,
    ) -> Result<Worked, StorageError> {
        let published_now = "CASE WHEN ever_published = 0 THEN $3 ELSE published_at END";
        // Each change's statement, its time parameter, and the state it leads to. Whether readers
        // see a change is decided after it, from whether the article came onto or left the site.
        let (sql, at, to): (String, Option<i64>, State) = match change {
            StateChange::Submit => (
                "UPDATE articles SET state = 'submitted' WHERE id = $1 AND state = $2 AND $3 = $3 AND $4 IS NULL RETURNING key".to_string(),
                None,
                State::Submitted,
            ),
            StateChange::Schedule(at) => (
                "UPDATE articles SET state = 'scheduled', scheduled_at = $4, live_from = NULL \
                 WHERE id = $1 AND state = $2 AND $3 = $3 RETURNING key"
                    .to_string(),
                Some(at.as_second()),
                State::Scheduled,
            ),
            StateChange::Publish => (
                format!(
                    "UPDATE articles SET state = 'published', published_at = {published_now}, \
                     live_from = {}, ever_published = 1, scheduled_at = NULL \
                     WHERE id = $1 AND state = $2 AND $4 IS NULL RETURNING key",
                    live_from(published_now)
                ),
                None,
                State::Published,
            ),
            StateChange::Unpublish => (
                "UPDATE articles SET state = 'unpublished', live_from = NULL, scheduled_at = NULL \
                 WHERE id = $1 AND state = $2 AND $3 = $3 AND $4 IS NULL RETURNING key"
                    .to_string(),
                None,
                State::Unpublished,
            ),
            StateChange::Embargo(until) => (
                "UPDATE articles SET embargo_until = $4, live_from = CASE WHEN state = 'published' \
                 THEN CASE WHEN $4 > published_at THEN $4 ELSE published_at END ELSE NULL END \
                 WHERE id = $1 AND state = $2 AND $3 = $3 RETURNING key"
                    .to_string(),
                until.map(|t| t.as_second()),
                from,
            ),
        };
        let mut tx = self.write().await?;
        let was_live = live_now(&mut tx, id.get(), now).await?;
        let key: Option<String> = sqlx::query_scalar(&sql)
            .bind(id.get())
            .bind(from.name())
            .bind(now.as_second())
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(key) = key else {
            return match load_worked(&mut tx, id.get()).await? {
                Some(w) => Err(StorageError::Conflict(format!(
                    "the article is {} now, not {from}",
                    w.state
                ))),
                None => Err(StorageError::NotFound(format!("article {id}"))),
            };
        };
        // What readers see changed only if the article came onto or left the site; one that goes
        // live later is told of then, by the scheduler.
        settle_live_pending(&mut tx, id.get(), now).await?;
        let is_live = live_now(&mut tx, id.get(), now).await?;
        let told = match (was_live, is_live) {
            (false, true) => Some(ChangeKind::ArticlePublished),
            (true, false) => Some(ChangeKind::ArticleWithdrawn),
            _ => None,
        };
        if let Some(kind) = told {
            append_change(&mut tx, kind, &key, Some(id.get())).await?;
        }
        let worked = load_worked(&mut tx, id.get())
            .await?
            .ok_or_else(|| StorageError::NotFound(format!("article {id}")))?;
        debug_assert_eq!(worked.state, to);
        tx.commit().await?;
        Ok(worked)
    }

    #[tracing::instrument(skip(self, note, now))]
    async fn add_correction(
        &self,
        id: ArticleId,
        note: &str,
        account: i64,
        now: Timestamp,
    ) -> Result<Worked, StorageError> {
        let mut tx = self.write().await?;
        let key: Option<String> = sqlx::query_scalar(
            "UPDATE articles SET updated_at = $2 WHERE id = $1 AND state = 'published' RETURNING key",
        )
        .bind(id.get())
        .bind(now.as_second())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(key) = key else {
            return match load_worked(&mut tx, id.get()).await? {
                Some(w) => Err(StorageError::Conflict(format!(
                    "only a published article is corrected; this one is {}",
                    w.state
                ))),
                None => Err(StorageError::NotFound(format!("article {id}"))),
            };
        };
        sqlx::query(
            "INSERT INTO corrections (article_id, note, at, account_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.get())
        .bind(note)
        .bind(now.as_second())
        .bind(account)
        .execute(&mut *tx)
        .await?;
        if live_now(&mut tx, id.get(), now).await? {
            append_change(&mut tx, ChangeKind::ArticleUpdated, &key, Some(id.get())).await?;
        }
        let worked = load_worked(&mut tx, id.get())
            .await?
            .ok_or_else(|| StorageError::NotFound(format!("article {id}")))?;
        tx.commit().await?;
        Ok(worked)
    }

    async fn corrections(
        &self,
        lang: &Lang,
        limit: u32,
        offset: u32,
        as_of: Timestamp,
    ) -> Result<Vec<(Correction, ArticleLink)>, StorageError> {
        let sql = format!(
            "SELECT c.at, c.note, {LINK_COLUMNS} FROM corrections c \
             JOIN articles a ON a.id = c.article_id JOIN sections s ON s.id = a.section_id \
             WHERE a.lang = $1 AND a.live_from <= $2 ORDER BY c.at DESC, c.id DESC LIMIT $3 OFFSET $4"
        );
        let rows = sqlx::query(&sql)
            .bind(lang.as_str())
            .bind(as_of.as_second())
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(self.reader())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(link) = readable(row, 2) {
                out.push((
                    Correction {
                        at: ts(row.try_get(0)?)?,
                        note: row.try_get(1)?,
                    },
                    link,
                ));
            }
        }
        Ok(out)
    }

    async fn fire_schedules(&self, now: Timestamp) -> Result<Vec<ArticleId>, StorageError> {
        let published = "CASE WHEN ever_published = 0 THEN scheduled_at ELSE published_at END";
        let sql = format!(
            "UPDATE articles SET state = 'published', published_at = {published}, \
             live_from = {live}, live_pending = CASE WHEN {live} > $1 THEN {live} ELSE NULL END, \
             ever_published = 1, scheduled_at = NULL \
             WHERE state = 'scheduled' AND scheduled_at <= $1 RETURNING id, key, live_pending",
            live = live_from(published)
        );
        let mut tx = self.write().await?;
        let fired: Vec<(i64, String, Option<i64>)> = sqlx::query_as(&sql)
            .bind(now.as_second())
            .fetch_all(&mut *tx)
            .await?;
        // An article fired under an embargo is told of when the embargo lifts, later.
        for (id, key, pending) in &fired {
            if pending.is_none() {
                append_change(&mut tx, ChangeKind::ArticlePublished, key, Some(*id)).await?;
            }
        }
        // Published articles whose embargo lifted or whose publication time came.
        let lifted: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE articles SET live_pending = NULL WHERE live_pending <= $1 AND state = 'published' \
             RETURNING id, key",
        )
        .bind(now.as_second())
        .fetch_all(&mut *tx)
        .await?;
        for (id, key) in &lifted {
            append_change(&mut tx, ChangeKind::ArticlePublished, key, Some(*id)).await?;
        }

        tx.commit().await?;
        if !fired.is_empty() {
            tracing::info!(articles = fired.len(), "published what was scheduled");
        }
        Ok(fired
            .into_iter()
            .map(|(id, _, _)| ArticleId::new(id))
            .collect())
    }

    async fn next_schedule(&self) -> Result<Option<Timestamp>, StorageError> {
        // A schedule to fire, or an article to announce as it goes live.
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(t) FROM (SELECT MIN(scheduled_at) AS t FROM articles WHERE state = 'scheduled' \
             UNION ALL SELECT MIN(live_pending) FROM articles WHERE live_pending IS NOT NULL) times",
        )
        .fetch_one(&self.pool)
        .await?;
        next.map(ts).transpose()
    }

    #[tracing::instrument(skip_all, fields(account))]
    async fn create_token(
        &self,
        account: i64,
        digest: &TokenDigest,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<TokenInfo, StorageError> {
        let mut tx = self.write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (account_id, digest, created_at, expires_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(account)
        .bind(digest.as_str())
        .bind(now.as_second())
        .bind(expires.as_second())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(TokenInfo {
            id,
            created: ts(now.as_second())?,
            expires: ts(expires.as_second())?,
            revoked: None,
        })
    }

    async fn account_by_token(
        &self,
        digest: &TokenDigest,
        now: Timestamp,
    ) -> Result<Option<Account>, StorageError> {
        let row = sqlx::query(
            "SELECT a.id, a.username, a.roles, a.desks, a.disabled FROM api_tokens t \
             JOIN accounts a ON a.id = t.account_id \
             WHERE t.digest = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND a.disabled = 0",
        )
        .bind(digest.as_str())
        .bind(now.as_second())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn tokens(&self, account: i64) -> Result<Vec<TokenInfo>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, created_at, expires_at, revoked_at FROM api_tokens \
             WHERE account_id = $1 ORDER BY id DESC",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(TokenInfo {
                    id: row.try_get(0)?,
                    created: ts(row.try_get(1)?)?,
                    expires: ts(row.try_get(2)?)?,
                    revoked: row.try_get::<Option<i64>, _>(3)?.map(ts).transpose()?,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip(self, now))]
    async fn revoke_token(
        &self,
        account: i64,
        token: i64,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE id = $1 AND account_id = $2",
        )
        .bind(token)
        .bind(account)
        .bind(now.as_second())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StorageError::NotFound(format!("token {token}")));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(
        &self,
        account: i64,
        digest: &TokenDigest,
        csrf: &str,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO sessions (account_id, digest, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(account)
        .bind(digest.as_str())
        .bind(csrf)
        .bind(now.as_second())
        .bind(expires.as_second())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(
        &self,
        digest: &TokenDigest,
        now: Timestamp,
    ) -> Result<Option<(Account, String)>, StorageError> {
        let row = sqlx::query(
            "SELECT a.id, a.username, a.roles, a.desks, a.disabled, s.csrf FROM sessions s \
             JOIN accounts a ON a.id = s.account_id \
             WHERE s.digest = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND a.disabled = 0",
        )
        .bind(digest.as_str())
        .bind(now.as_second())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((account_from_row(&row)?, row.try_get(5)?)))
            .transpose()
    }

    async fn revoke_session(
        &self,
        digest: &TokenDigest,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE digest = $1")
            .bind(digest.as_str())
            .bind(now.as_second())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoke_other_sessions(
        &self,
        account: i64,
        keep: &TokenDigest,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE account_id = $1 AND digest <> $2",
        )
        .bind(account)
        .bind(keep.as_str())
        .bind(now.as_second())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn mark_open(
        &self,
        id: ArticleId,
        account: i64,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO article_opens (article_id, account_id, at) VALUES ($1, $2, $3) \
             ON CONFLICT (article_id, account_id) DO UPDATE SET at = excluded.at",
        )
        .bind(id.get())
        .bind(account)
        .bind(now.as_second())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn open_by(
        &self,
        id: ArticleId,
        since: Timestamp,
    ) -> Result<Vec<(String, Timestamp)>, StorageError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT acc.username, o.at FROM article_opens o JOIN accounts acc ON acc.id = o.account_id \
             WHERE o.article_id = $1 AND o.at >= $2 ORDER BY o.at DESC, acc.username",
        )
        .bind(id.get())
        .bind(since.as_second())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(name, at)| Ok((name, ts(at)?)))
            .collect()
    }

    async fn audit(&self, entry: &AuditEntry) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO audit_log (at, account_id, actor, action, subject, address) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(entry.at.as_second())
        .bind(entry.account)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.subject)
        .bind(&entry.address)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_log(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, at, account_id, actor, action, subject, address FROM audit_log \
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get(0)?,
                    at: ts(row.try_get(1)?)?,
                    account: row.try_get(2)?,
                    actor: row.try_get(3)?,
                    action: row.try_get(4)?,
                    subject: row.try_get(5)?,
                    address: row.try_get(6)?,
                })
            })
            .collect()
    }

    async fn changes_after(&self, position: i64, limit: u32) -> Result<Vec<Change>, StorageError> {
        let rows = sqlx::query(
            "SELECT position, kind, subject, article_id, at, reach FROM changes WHERE position > $1 \
             ORDER BY position LIMIT $2",
        )
        .bind(position)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get(1)?;
                let position: i64 = row.try_get(0)?;
                Ok(Change {
                    position,
                    kind: ChangeKind::parse(&kind)
                        .ok_or_else(|| StorageError::Corrupt(format!("change kind {kind:?}")))?,
                    subject: row.try_get(2)?,
                    article: row.try_get::<Option<i64>, _>(3)?.map(ArticleId::new),
                    at: ts(row.try_get(4)?)?,
                    reach: match row.try_get::<Option<String>, _>(5)? {
                        Some(json) => serde_json::from_str(&json).map_err(|e| {
                            StorageError::Corrupt(format!("the reach of change {position}: {e}"))
                        })?,
                        None => Vec::new(),
                    },
                })
            })
            .collect()
    }

    fn commits(&self) -> u64 {
        self.signals.commits()
    }

    fn changes_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.signals.subscribe()
    }

    async fn next_live(&self) -> Result<Option<Timestamp>, StorageError> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(live_pending) FROM articles WHERE live_pending IS NOT NULL",
        )
        .fetch_one(self.reader())
        .await?;
        next.map(ts).transpose()
    }

    async fn stream_end(&self) -> Result<i64, StorageError> {
        let end: Option<i64> = sqlx::query_scalar("SELECT MAX(position) FROM changes")
            .fetch_one(self.reader())
            .await?;
        Ok(end.unwrap_or(0))
    }

    async fn stream_position(&self, consumer: &str) -> Result<i64, StorageError> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM stream_positions WHERE consumer = $1")
                .bind(consumer)
                .fetch_optional(&self.pool)
                .await?;
        Ok(position.unwrap_or(0))
    }

    async fn set_stream_position(&self, consumer: &str, position: i64) -> Result<(), StorageError> {
        // One statement, outside the write lock: a follower's place is no change readers see,
        // and every follower of every node moves its own often.
        sqlx::query(
            "INSERT INTO stream_positions (consumer, position) VALUES ($1, $2) \
             ON CONFLICT (consumer) DO UPDATE SET position = excluded.position",
        )
        .bind(consumer)
        .bind(position)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(url = %url))]
    async fn add_webhook(
        &self,
        url: &WebhookUrl,
        secret: &str,
        now: Timestamp,
    ) -> Result<Webhook, StorageError> {
        let mut tx = self.write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO webhooks (url, secret, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(url.as_str())
        .bind(secret)
        .bind(now.as_second())
        .fetch_one(&mut *tx)
        .await?;
        // It follows the stream from its end as it is now.
        sqlx::query(
            "INSERT INTO stream_positions (consumer, position) \
             SELECT $1, COALESCE(MAX(position), 0) FROM changes WHERE true \
             ON CONFLICT (consumer) DO UPDATE SET position = excluded.position",
        )
        .bind(crate::webhook_consumer(id))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Webhook {
            id,
            url: url.clone(),
            secret: secret.to_string(),
        })
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>, StorageError> {
        let rows = sqlx::query("SELECT id, url, secret FROM webhooks ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let url: String = row.try_get(1)?;
                Ok(Webhook {
                    id: row.try_get(0)?,
                    url: WebhookUrl::parse(&url).map_err(StorageError::Corrupt)?,
                    secret: row.try_get(2)?,
                })
            })
            .collect()
    }

    async fn stream_positions(&self) -> Result<Vec<(String, i64)>, StorageError> {
        Ok(
            sqlx::query_as("SELECT consumer, position FROM stream_positions ORDER BY consumer")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn queues(&self) -> Result<crate::Queues, StorageError> {
        let (scheduled, pending_live): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM articles WHERE state = 'scheduled'), \
             (SELECT COUNT(*) FROM articles WHERE live_pending IS NOT NULL)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(crate::Queues {
            scheduled,
            pending_live,
        })
    }

    async fn backup(&self, to: &std::path::Path) -> Result<(), StorageError> {
        backup_to(&self.pool, to).await
    }

    fn pool_status(&self) -> crate::PoolStatus {
        crate::PoolStatus {
            open: self.pool.size(),
            idle: self.pool.num_idle(),
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StorageError> {
        // One statement, outside the write lock: the row's own lock decides between two nodes,
        // and the database's clock is every node's.
        let held: Option<String> = sqlx::query_scalar(&format!(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, {NOW_MS} + $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
             WHERE leases.holder = excluded.holder OR leases.until <= {NOW_MS} \
             RETURNING holder"
        ))
        .bind(name)
        .bind(holder)
        .bind(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await?;
        Ok(held.is_some())
    }

    #[tracing::instrument(skip(self))]
    async fn remove_webhook(&self, id: i64) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        let removed = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(StorageError::NotFound(format!("webhook {id}")));
        }
        sqlx::query("DELETE FROM stream_positions WHERE consumer = $1")
            .bind(crate::webhook_consumer(id))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn thread_inputs(
        &self,
        ids: &[ArticleId],
        as_of: Timestamp,
    ) -> Result<Vec<ThreadInput>, StorageError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(KEY_CHUNK) {
            let mut q = QueryBuilder::<Db>::new(
                "SELECT a.id, a.key, a.lang, a.headline, a.body_html, \
                 COALESCE(a.live_from <= ",
            );
            q.push_bind(as_of.as_second()).push(
                ", false), x.thread_id, x.by_editor, th.frozen, x.digest, \
                 x.simhash, x.duplicate_of, \
                 (SELECT g.thread_id FROM articles o JOIN article_threads g ON g.article_id = o.id \
                  WHERE o.translation_group = a.translation_group AND o.id <> a.id ORDER BY o.id LIMIT 1), \
                 a.translation_group FROM articles a LEFT JOIN article_threads x ON x.article_id = a.id \
                 LEFT JOIN threads th ON th.id = x.thread_id WHERE a.id IN (",
            );
            let mut items = q.separated(", ");
            for id in chunk {
                items.push_bind(id.get());
            }
            items.push_unseparated(")");
            for row in q.build().fetch_all(&self.pool).await? {
                let key: String = row.try_get(1)?;
                let lang: String = row.try_get(2)?;
                let membership = match row.try_get::<Option<i64>, _>(6)? {
                    Some(thread) => Some(Membership {
                        thread,
                        by_editor: row.try_get::<i64, _>(7)? != 0,
                        frozen: row.try_get::<i64, _>(8)? != 0,
                        digest: row.try_get(9)?,
                        simhash: row.try_get(10)?,
                        duplicate_of: row.try_get::<Option<i64>, _>(11)?.map(ArticleId::new),
                    }),
                    None => None,
                };
                out.push(ThreadInput {
                    id: ArticleId::new(row.try_get(0)?),
                    key: ArticleKey::parse(&key)
                        .map_err(|e| StorageError::Corrupt(e.to_string()))?,
                    lang: Lang::parse(&lang).map_err(|e| StorageError::Corrupt(e.to_string()))?,
                    headline: row.try_get(3)?,
                    // Only the sanitizer's output is ever written to this column.
                    body: SafeHtml::from_storage(row.try_get(4)?),
                    live: row.try_get::<bool, _>(5)?,
                    membership,
                    group: row.try_get(13)?,
                    group_thread: row.try_get(12)?,
                });
            }
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, fields(ops = ops.len()))]
    async fn apply_threading(
        &self,
        ops: &[ThreadOp],
        now: Timestamp,
    ) -> Result<Vec<i64>, StorageError> {
        let mut tx = self.write().await?;
        // No one waits on the threader's writes: they are not held back until a read replica
        // has them (a replica paused or behind is then no reason to leave it), and pages learn
        // of them from the stream as the replica replays it.
        tx.replica = None;
        let mut made: Vec<i64> = Vec::new();
        for op in ops {
            match op {
                ThreadOp::Place {
                    article,
                    thread,
                    digest,
                    simhash,
                    duplicate_of,
                } => {
                    let thread = thread_named(&mut tx, &mut made, *thread, now).await?;
                    let was = placement(&mut tx, *article).await?;
                    let placed = sqlx::query(
                        "INSERT INTO article_threads \
                         (article_id, thread_id, by_editor, duplicate_of, digest, simhash) \
                         VALUES ($1, $2, 0, $3, $4, $5) ON CONFLICT (article_id) DO UPDATE SET \
                         thread_id = excluded.thread_id, duplicate_of = excluded.duplicate_of, \
                         digest = excluded.digest, simhash = excluded.simhash \
                         WHERE article_threads.by_editor = 0 RETURNING article_id",
                    )
                    .bind(article.get())
                    .bind(thread)
                    .bind(duplicate_of.map(ArticleId::get))
                    .bind(digest)
                    .bind(*simhash)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if placed.is_none() {
                        continue;
                    }
                    let topic: Option<String> = sqlx::query_scalar(
                        "UPDATE threads SET updated_at = $2 WHERE id = $1 \
                         RETURNING (SELECT t.key FROM topics t WHERE t.id = threads.topic_id)",
                    )
                    .bind(thread)
                    .bind(now.as_second())
                    .fetch_one(&mut *tx)
                    .await?;
                    let is = Placement {
                        key: was.key.clone(),
                        thread: Some(thread),
                        topic,
                        copy_of: duplicate_of.map(ArticleId::get),
                    };
                    append_threaded(&mut tx, *article, &was, &is).await?;
                }
                ThreadOp::Absorb { gone, into } => {
                    let gone = thread_named(&mut tx, &mut made, *gone, now).await?;
                    let into = thread_named(&mut tx, &mut made, *into, now).await?;
                    let frozen: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM threads WHERE id IN ($1, $2) AND frozen <> 0",
                    )
                    .bind(gone)
                    .bind(into)
                    .fetch_one(&mut *tx)
                    .await?;
                    // An editor decided about one of them meanwhile: theirs stands.
                    if gone == into || frozen > 0 {
                        continue;
                    }
                    sqlx::query("UPDATE article_threads SET thread_id = $2 WHERE thread_id = $1")
                        .bind(gone)
                        .bind(into)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE threads SET merged_into = $2, updated_at = $3 WHERE id = $1",
                    )
                    .bind(gone)
                    .bind(into)
                    .bind(now.as_second())
                    .execute(&mut *tx)
                    .await?;
                    touch_thread(&mut tx, into, now).await?;
                    append_thread_change(
                        &mut tx,
                        gone,
                        &[format!("thread:{gone}"), format!("thread:{into}")],
                    )
                    .await?;
                }
                // No record of its own: a title changes with an article placed or a thread
                // taken in, whose records reach the thread.
                ThreadOp::Title { thread, title } => {
                    let thread = thread_named(&mut tx, &mut made, *thread, now).await?;
                    sqlx::query(
                        "UPDATE threads SET title = $2 WHERE id = $1 AND title_by_editor = 0",
                    )
                    .bind(thread)
                    .bind(title)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(made)
    }

    async fn threaded_texts(
        &self,
        thread: Option<i64>,
        after: ArticleId,
        limit: u32,
    ) -> Result<Vec<ThreadedText>, StorageError> {
        let rows = sqlx::query(
            "SELECT a.id, a.lang, a.headline, a.body_html, x.thread_id, th.frozen, x.simhash \
             FROM article_threads x JOIN articles a ON a.id = x.article_id \
             JOIN threads th ON th.id = x.thread_id \
             WHERE a.id > $1 AND ($2 IS NULL OR x.thread_id = $2) ORDER BY a.id LIMIT $3",
        )
        .bind(after.get())
        .bind(thread)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let lang: String = row.try_get(1)?;
                Ok(ThreadedText {
                    id: ArticleId::new(row.try_get(0)?),
                    lang: Lang::parse(&lang).map_err(|e| StorageError::Corrupt(e.to_string()))?,
                    headline: row.try_get(2)?,
                    // Only the sanitizer's output is ever written to this column.
                    body: SafeHtml::from_storage(row.try_get(3)?),
                    thread: row.try_get(4)?,
                    frozen: row.try_get::<i64, _>(5)? != 0,
                    simhash: row.try_get(6)?,
                })
            })
            .collect()
    }

    async fn thread(
        &self,
        id: i64,
        lookup: ThreadLookup,
    ) -> Result<Option<ThreadFound>, StorageError> {
        let pool = match lookup {
            ThreadLookup::Live { .. } => self.reader(),
            ThreadLookup::Whole => &self.pool,
        };
        let row = sqlx::query(
            "SELECT th.id, th.title, th.title_by_editor, th.frozen, th.merged_into, th.created_at, \
             th.updated_at, t.key, t.title, t.intro FROM threads th \
             LEFT JOIN topics t ON t.id = th.topic_id WHERE th.id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        if let Some(mut into) = row.try_get::<Option<i64>, _>(4)? {
            // A merge leads on; a chain ends within as many steps as there are threads.
            for _ in 0..64 {
                let next: Option<Option<i64>> =
                    sqlx::query_scalar("SELECT merged_into FROM threads WHERE id = $1")
                        .bind(into)
                        .fetch_optional(pool)
                        .await?;
                match next {
                    Some(Some(next)) => into = next,
                    _ => break,
                }
            }
            return Ok(Some(ThreadFound::MergedInto(into)));
        }
        let topic = match row.try_get::<Option<String>, _>(7)? {
            Some(key) => Some(Topic {
                key: slug(key)?,
                title: localized(row.try_get(8)?)?,
                intro: localized_html(row.try_get(9)?)?,
            }),
            None => None,
        };
        let (filter, limit, offset, as_of) = match lookup {
            ThreadLookup::Live {
                as_of,
                limit,
                offset,
            } => (
                format!("AND a.live_from <= $2 AND {}$2)", not_a_copy("a")),
                limit,
                offset,
                as_of.as_second(),
            ),
            ThreadLookup::Whole => ("AND $2 = $2".to_string(), 2_000, 0, 0),
        };
        let size: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM article_threads x JOIN articles a ON a.id = x.article_id \
             WHERE x.thread_id = $1 {filter}"
        ))
        .bind(id)
        .bind(as_of)
        .fetch_one(pool)
        .await?;
        // A page that lists the articles itself (the timeline) asks for none.
        let rows = if limit == 0 {
            Vec::new()
        } else {
            sqlx::query(&format!(
                "SELECT {LINK_COLUMNS}, x.by_editor, x.duplicate_of, a.state FROM article_threads x \
                 JOIN articles a ON a.id = x.article_id JOIN sections s ON s.id = a.section_id \
                 WHERE x.thread_id = $1 {filter} ORDER BY a.published_at, a.id LIMIT $3 OFFSET $4"
            ))
            .bind(id)
            .bind(as_of)
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(pool)
            .await?
        };
        let mut articles = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(link) = readable(row, 0) else {
                continue;
            };
            let state: String = row.try_get(LINK_WIDTH + 2)?;
            articles.push(ThreadArticle {
                link,
                by_editor: row.try_get::<i64, _>(LINK_WIDTH)? != 0,
                duplicate_of: row
                    .try_get::<Option<i64>, _>(LINK_WIDTH + 1)?
                    .map(ArticleId::new),
                state: parse_state(&state)?,
            });
        }
        Ok(Some(ThreadFound::Thread(Thread {
            id,
            title: row.try_get(1)?,
            title_by_editor: row.try_get::<i64, _>(2)? != 0,
            frozen: row.try_get::<i64, _>(3)? != 0,
            topic,
            created: ts(row.try_get(5)?)?,
            updated: ts(row.try_get(6)?)?,
            articles,
            size,
        })))
    }

    async fn threads(
        &self,
        words: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<ThreadSummary>, StorageError> {
        let mut q = QueryBuilder::<Db>::new(
            "SELECT th.id, th.title, th.frozen, t.key, th.updated_at, \
             (SELECT COUNT(*) FROM article_threads x WHERE x.thread_id = th.id) \
             FROM threads th LEFT JOIN topics t ON t.id = th.topic_id WHERE th.merged_into IS NULL",
        );
        for word in words.unwrap_or("").split_whitespace().take(8) {
            q.push(" AND th.title ")
                .push(LIKE)
                .push(" ")
                .push_bind(like_anywhere(word))
                .push(" ESCAPE '\\'");
        }
        q.push(" ORDER BY th.updated_at DESC, th.id DESC LIMIT ")
            .push_bind(i64::from(limit))
            .push(" OFFSET ")
            .push_bind(i64::from(offset));
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(ThreadSummary {
                    id: row.try_get(0)?,
                    title: row.try_get(1)?,
                    frozen: row.try_get::<i64, _>(2)? != 0,
                    topic: row.try_get::<Option<String>, _>(3)?.map(slug).transpose()?,
                    updated: ts(row.try_get(4)?)?,
                    size: row.try_get(5)?,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn edit_threads(&self, edit: &ThreadEdit, now: Timestamp) -> Result<i64, StorageError> {
        let mut tx = self.write().await?;
        let at = now.as_second();
        let mut touched: Vec<i64> = Vec::new();
        let mut topics: Vec<String> = Vec::new();
        let result = match edit {
            ThreadEdit::Rename { thread, title } => {
                topics.extend(open_thread(&mut tx, *thread).await?);
                sqlx::query(
                    "UPDATE threads SET title = $2, title_by_editor = 1, updated_at = $3 WHERE id = $1",
                )
                .bind(thread)
                .bind(title)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                touched.push(*thread);
                *thread
            }
            ThreadEdit::Merge { from, into } => {
                if from == into {
                    return Err(StorageError::Conflict(format!(
                        "thread {from} cannot be merged into itself"
                    )));
                }
                topics.extend(open_thread(&mut tx, *from).await?);
                topics.extend(open_thread(&mut tx, *into).await?);
                sqlx::query("UPDATE article_threads SET thread_id = $2 WHERE thread_id = $1")
                    .bind(from)
                    .bind(into)
                    .execute(&mut *tx)
                    .await?;
                // The thread merged into keeps its topic, or takes the other's.
                sqlx::query(
                    "UPDATE threads SET topic_id = COALESCE(topic_id, \
                     (SELECT f.topic_id FROM threads f WHERE f.id = $2)) WHERE id = $1",
                )
                .bind(into)
                .bind(from)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE threads SET merged_into = $2, topic_id = NULL WHERE id = $1")
                    .bind(from)
                    .bind(into)
                    .execute(&mut *tx)
                    .await?;
                touched.extend([*from, *into]);
                *into
            }
            ThreadEdit::Split {
                from,
                articles,
                title,
            } => {
                topics.extend(open_thread(&mut tx, *from).await?);
                if articles.is_empty() {
                    return Err(StorageError::Conflict(
                        "a split names the articles that leave the thread".to_string(),
                    ));
                }
                let ids: Vec<i64> = articles.iter().map(|a| a.get()).collect();
                let mut q = QueryBuilder::<Db>::new(
                    "SELECT article_id FROM article_threads WHERE thread_id = ",
                );
                q.push_bind(*from).push(" AND article_id IN (");
                let mut items = q.separated(", ");
                for id in &ids {
                    items.push_bind(*id);
                }
                items.push_unseparated(")");
                let found: HashSet<i64> = q
                    .build_query_scalar::<i64>()
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
                if let Some(missing) = ids.iter().find(|id| !found.contains(id)) {
                    return Err(StorageError::Conflict(format!(
                        "article {missing} is not in thread {from}"
                    )));
                }
                let size: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM article_threads WHERE thread_id = $1")
                        .bind(from)
                        .fetch_one(&mut *tx)
                        .await?;
                if size <= found.len() as i64 {
                    return Err(StorageError::Conflict(format!(
                        "a split leaves at least one article in thread {from}: rename it instead"
                    )));
                }
                let first = *ids.iter().min().unwrap_or(&0);
                let new =
                    new_thread_for(&mut tx, ArticleId::new(first), title.as_deref(), now).await?;
                for id in &ids {
                    sqlx::query(
                        "UPDATE article_threads SET thread_id = $2, by_editor = 1 WHERE article_id = $1",
                    )
                    .bind(id)
                    .bind(new)
                    .execute(&mut *tx)
                    .await?;
                }
                touched.extend([*from, new]);
                new
            }
            ThreadEdit::Move { article, to } => {
                let was = placement(&mut tx, *article).await?;
                let old = was.thread;
                let to = match to {
                    Some(to) => {
                        topics.extend(open_thread(&mut tx, *to).await?);
                        *to
                    }
                    None => new_thread_for(&mut tx, *article, None, now).await?,
                };
                if let Some(old) = old {
                    topics.extend(open_thread(&mut tx, old).await.unwrap_or_default());
                    touched.push(old);
                }
                sqlx::query(
                    "INSERT INTO article_threads \
                     (article_id, thread_id, by_editor, duplicate_of, digest, simhash) \
                     VALUES ($1, $2, 1, NULL, '', 0) ON CONFLICT (article_id) DO UPDATE SET \
                     thread_id = excluded.thread_id, by_editor = 1, duplicate_of = NULL",
                )
                .bind(article.get())
                .bind(to)
                .execute(&mut *tx)
                .await?;
                let is = placement(&mut tx, *article).await?;
                append_threaded(&mut tx, *article, &was, &is).await?;
                touched.push(to);
                to
            }
            ThreadEdit::Pin { thread, to } => {
                topics.extend(open_thread(&mut tx, *thread).await?);
                let topic: Option<i64> = match to {
                    PinTo::Nothing => None,
                    PinTo::Topic(key) => Some(
                        sqlx::query_scalar::<_, i64>("SELECT id FROM topics WHERE key = $1")
                            .bind(key.as_str())
                            .fetch_optional(&mut *tx)
                            .await?
                            .ok_or_else(|| StorageError::NotFound(format!("topic {key:?}")))?,
                    ),
                    PinTo::NewTopic(topic) => {
                        let id: Option<i64> = sqlx::query_scalar(
                            "INSERT INTO topics (key, title, intro) VALUES ($1, $2, $3) \
                             ON CONFLICT (key) DO NOTHING RETURNING id",
                        )
                        .bind(topic.key.as_str())
                        .bind(to_json(&topic.title))
                        .bind(html_json(&topic.intro))
                        .fetch_optional(&mut *tx)
                        .await?;
                        let Some(id) = id else {
                            return Err(StorageError::Conflict(format!(
                                "a topic {:?} exists already: pin the thread to it",
                                topic.key.as_str()
                            )));
                        };
                        append_change(&mut tx, ChangeKind::TopicChanged, topic.key.as_str(), None)
                            .await?;
                        Some(id)
                    }
                };
                sqlx::query("UPDATE threads SET topic_id = $2 WHERE id = $1")
                    .bind(thread)
                    .bind(topic)
                    .execute(&mut *tx)
                    .await?;
                topics.extend(open_thread(&mut tx, *thread).await?);
                touched.push(*thread);
                *thread
            }
        };
        touched.sort_unstable();
        touched.dedup();
        for thread in &touched {
            sqlx::query("UPDATE threads SET frozen = 1, updated_at = $2 WHERE id = $1")
                .bind(thread)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        // A copy is one of another article of its own thread: a mark that now points out of
        // the thread is dropped.
        // A copy no longer is one: the listings it is in show it now.
        for thread in &touched {
            let unmarked: Vec<i64> = sqlx::query_scalar(
                "UPDATE article_threads SET duplicate_of = NULL WHERE thread_id = $1 \
                 AND duplicate_of IS NOT NULL AND duplicate_of NOT IN \
                 (SELECT y.article_id FROM article_threads y WHERE y.thread_id = $1) \
                 RETURNING article_id",
            )
            .bind(thread)
            .fetch_all(&mut *tx)
            .await?;
            for article in unmarked {
                let article = ArticleId::new(article);
                let is = placement(&mut tx, article).await?;
                let was = Placement {
                    copy_of: Some(0),
                    ..is.clone()
                };
                append_threaded(&mut tx, article, &was, &is).await?;
            }
        }
        let mut reach: Vec<String> = touched.iter().map(|t| format!("thread:{t}")).collect();
        topics.sort();
        topics.dedup();
        reach.extend(topics.iter().map(|t| format!("topic:{t}")));
        for thread in &touched {
            append_thread_change(&mut tx, *thread, &reach).await?;
        }
        tx.commit().await?;
        Ok(result)
    }
}

/// The stored id of a thread a batch of the threader names, making a new one when the batch
/// first names it (titled later by its [`ThreadOp::Title`]); a stored one merged into another
/// meanwhile leads to it.
async fn thread_named(
    conn: &mut Conn,
    made: &mut Vec<i64>,
    name: ThreadName,
    now: Timestamp,
) -> Result<i64, StorageError> {
    match name {
        ThreadName::New(n) => {
            while made.len() <= n as usize {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO threads (title, created_at, updated_at) VALUES ('', $1, $1) RETURNING id",
                )
                .bind(now.as_second())
                .fetch_one(&mut *conn)
                .await?;
                made.push(id);
            }
            Ok(made[n as usize])
        }
        ThreadName::Stored(mut id) => {
            for _ in 0..64 {
                let into: Option<Option<i64>> =
                    sqlx::query_scalar("SELECT merged_into FROM threads WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *conn)
                        .await?;
                match into {
                    Some(Some(into)) => id = into,
                    Some(None) => return Ok(id),
                    None => return Err(StorageError::NotFound(format!("thread {id}"))),
                }
            }
            Ok(id)
        }
    }
}

async fn touch_thread(conn: &mut Conn, thread: i64, now: Timestamp) -> Result<(), StorageError> {
    sqlx::query("UPDATE threads SET updated_at = $2 WHERE id = $1")
        .bind(thread)
        .bind(now.as_second())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A thread an editor may act on: it exists and was not merged into another. Answers the key
/// of the topic it is pinned to, if any.
async fn open_thread(conn: &mut Conn, thread: i64) -> Result<Option<String>, StorageError> {
    let row: Option<(Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT th.merged_into, t.key FROM threads th LEFT JOIN topics t ON t.id = th.topic_id \
         WHERE th.id = $1",
    )
    .bind(thread)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => Err(StorageError::NotFound(format!("thread {thread}"))),
        Some((Some(into), _)) => Err(StorageError::Conflict(format!(
            "thread {thread} was merged into thread {into}"
        ))),
        Some((None, topic)) => Ok(topic),
    }
}

/// A new thread an editor made, titled `title` or by the headline of `article`.
async fn new_thread_for(
    conn: &mut Conn,
    article: ArticleId,
    title: Option<&str>,
    now: Timestamp,
) -> Result<i64, StorageError> {
    sqlx::query_scalar(
        "INSERT INTO threads (title, title_by_editor, frozen, created_at, updated_at) \
         SELECT COALESCE($2, a.headline), $3, 1, $4, $4 FROM articles a WHERE a.id = $1 \
         RETURNING id",
    )
    .bind(article.get())
    .bind(title)
    .bind(i64::from(title.is_some()))
    .bind(now.as_second())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StorageError::NotFound(format!("article {article}")))
}

/// Where an article is threaded: its key, its thread and the topic the thread is pinned to,
/// and the article it is a copy of.
#[derive(Debug, Clone)]
struct Placement {
    key: String,
    thread: Option<i64>,
    topic: Option<String>,
    copy_of: Option<i64>,
}

/// Where an article is threaded now; [`StorageError::NotFound`] if there is no such article.
async fn placement(conn: &mut Conn, article: ArticleId) -> Result<Placement, StorageError> {
    type Row = (String, Option<i64>, Option<String>, Option<i64>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT a.key, x.thread_id, t.key, x.duplicate_of FROM articles a \
         LEFT JOIN article_threads x ON x.article_id = a.id \
         LEFT JOIN threads th ON th.id = x.thread_id LEFT JOIN topics t ON t.id = th.topic_id \
         WHERE a.id = $1",
    )
    .bind(article.get())
    .fetch_optional(&mut *conn)
    .await?;
    let (key, thread, topic, copy_of) =
        row.ok_or_else(|| StorageError::NotFound(format!("article {article}")))?;
    Ok(Placement {
        key,
        thread,
        topic,
        copy_of,
    })
}

/// Appends the record of an article placed in a thread (`was` there, `is` here now). It
/// reaches the thread the article left and the one it is in, and the topics they are pinned
/// to: their timelines and feeds, and the "More on this story" of their articles; its own page
/// is reached through its subject (`placed:KEY` in the page cache). When it became or ceased to
/// be a copy, which is listed once, it reaches too every page that lists or links to it
/// (`a:KEY`) and every place it is in, as a change of the article does; otherwise a listing
/// that shows it is not dropped again after its publication.
///
/// The article's reach is kept for its next change only then: a thread it is in is in its
/// reach now ([`REACH_NOW`]), and every move between threads tells of both.
async fn append_threaded(
    conn: &mut Conn,
    article: ArticleId,
    was: &Placement,
    is: &Placement,
) -> Result<(), StorageError> {
    let copy_changed = was.copy_of != is.copy_of;
    let mut reach: BTreeSet<String> = BTreeSet::new();
    if copy_changed {
        let places: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT t FROM ({REACH_NOW} UNION SELECT {REACH_BEFORE}) reach"
        ))
        .bind(article.get())
        .fetch_all(&mut *conn)
        .await?;
        reach.extend(places);
        reach.insert(format!("a:{}", is.key));
    }
    for place in [was, is] {
        reach.extend(place.thread.map(|t| format!("thread:{t}")));
        reach.extend(place.topic.as_ref().map(|t| format!("topic:{t}")));
    }
    sqlx::query("INSERT INTO changes (kind, subject, article_id, reach) VALUES ($1, $2, $3, $4)")
        .bind(ChangeKind::ArticleThreaded.name())
        .bind(&is.key)
        .bind(article.get())
        .bind(to_json(&reach))
        .execute(&mut *conn)
        .await?;
    if copy_changed {
        remember_reach(conn, article.get()).await?;
    }
    Ok(())
}

/// Appends a record of a change to a thread, reaching `reach` (threads and topics).
async fn append_thread_change(
    conn: &mut Conn,
    thread: i64,
    reach: &[String],
) -> Result<(), StorageError> {
    sqlx::query("INSERT INTO changes (kind, subject, article_id, reach) VALUES ($1, $2, NULL, $3)")
        .bind(ChangeKind::ThreadChanged.name())
        .bind(thread.to_string())
        .bind(to_json(&reach))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn account_from_row(row: &DbRow) -> Result<Account, StorageError> {
    let corrupt = |e: String| StorageError::Corrupt(e);
    let username: String = row.try_get(1)?;
    let roles: Vec<String> = serde_json::from_str(&row.try_get::<String, _>(2)?)
        .map_err(|e| corrupt(format!("roles of {username:?}: {e}")))?;
    let desks: Vec<String> = serde_json::from_str(&row.try_get::<String, _>(3)?)
        .map_err(|e| corrupt(format!("desks of {username:?}: {e}")))?;
    let roles = roles
        .iter()
        .map(|r| Role::parse(r).map_err(|e| corrupt(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let desks = desks.into_iter().map(slug).collect::<Result<Vec<_>, _>>()?;
    Ok(Account {
        id: row.try_get(0)?,
        username: Username::parse(&username).map_err(|e| corrupt(e.to_string()))?,
        grants: Grants::new(roles, desks).map_err(|e| corrupt(e.to_string()))?,
        disabled: row.try_get::<i64, _>(4)? != 0,
    })
}

/// Corrections as the article's query gives them: a JSON list of `[at, note]`, oldest first.
fn corrections_from(json: Option<String>) -> Result<Vec<Correction>, StorageError> {
    let pairs: Vec<(i64, String)> = match json {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StorageError::Corrupt(format!("corrections {text:?}: {e}")))?,
        None => vec![],
    };
    pairs
        .into_iter()
        .map(|(at, note)| Ok(Correction { note, at: ts(at)? }))
        .collect()
}

fn series_at(row: &DbRow, at: usize) -> Result<Series, StorageError> {
    let partners: String = row.try_get(at + 3)?;
    Ok(Series {
        key: slug(row.try_get(at)?)?,
        title: localized(row.try_get(at + 1)?)?,
        description: localized_html(row.try_get(at + 2)?)?,
        partners: serde_json::from_str(&partners)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
    })
}

fn topic_from_row(row: &DbRow) -> Result<Topic, StorageError> {
    Ok(Topic {
        key: slug(row.try_get(0)?)?,
        title: localized(row.try_get(1)?)?,
        intro: localized_html(row.try_get(2)?)?,
    })
}

impl Engine {
    /// The article's own row, with its translation group and series, in one query.
    /// An article's page: the article live at `as_of` (any state when `None`), with what it
    /// links to that is live at `links_as_of`.
    async fn page(
        &self,
        id: ArticleId,
        article_as_of: Option<Timestamp>,
        as_of: Timestamp,
        suggested: &[String],
    ) -> Result<Option<ArticlePage>, StorageError> {
        let Some((article, group, series, pinned, thread)) =
            self.article_row(id, article_as_of).await?
        else {
            return Ok(None);
        };
        let topics = self.article_topics(id).await?;
        let inline_keys = article.body.linked_article_keys();
        // Pinned related stories, translations and inline links, in one query.
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT CAST(0 AS BIGINT), r.position, {LINK_COLUMNS} FROM article_related r \
             JOIN articles a ON a.key = r.related_key JOIN sections s ON s.id = a.section_id \
             WHERE r.article_id = "
        ));
        q.push_bind(id.get())
            .push(" AND a.id <> ")
            .push_bind(id.get())
            .push(" AND a.live_from <= ")
            .push_bind(as_of.as_second());
        q.push(format!(
            " UNION ALL SELECT CAST(1 AS BIGINT), CAST(0 AS BIGINT), {LINK_COLUMNS} FROM {LINK_FROM} WHERE a.translation_group = "
        ))
        .push_bind(group.clone())
        .push(" AND a.id <> ")
        .push_bind(id.get())
        .push(" AND a.live_from <= ")
        .push_bind(as_of.as_second());
        for chunk in inline_keys.chunks(KEY_CHUNK) {
            q.push(format!(
                " UNION ALL SELECT CAST(2 AS BIGINT), CAST(0 AS BIGINT), {LINK_COLUMNS} FROM {LINK_FROM} WHERE a.live_from <= "
            ))
            .push_bind(as_of.as_second())
            .push(" AND a.key IN (");
            push_keys(&mut q, chunk);
        }
        // The suggestions, in the order asked: their place in the list is their rank.
        for (chunk_at, chunk) in suggested.chunks(KEY_CHUNK).enumerate() {
            // A suggestion in the article's own thread comes as a 5, for the ranking to weigh.
            match &thread {
                Some((thread_id, _)) => {
                    q.push(
                        " UNION ALL SELECT CASE WHEN EXISTS (SELECT 1 FROM article_threads y \
                         WHERE y.article_id = a.id AND y.thread_id = ",
                    )
                    .push_bind(*thread_id)
                    .push(") THEN 5 ELSE 3 END, CASE a.key");
                }
                None => {
                    q.push(" UNION ALL SELECT CAST(3 AS BIGINT), CASE a.key");
                }
            }
            for (i, key) in chunk.iter().enumerate() {
                q.push(" WHEN ")
                    .push_bind(key.clone())
                    .push(" THEN ")
                    .push_bind(i64::try_from(chunk_at * KEY_CHUNK + i).unwrap_or(i64::MAX));
            }
            q.push(format!(
                " END, {LINK_COLUMNS} FROM {LINK_FROM} WHERE a.live_from <= "
            ))
            .push_bind(as_of.as_second())
            .push(" AND a.id <> ")
            .push_bind(id.get())
            .push(" AND a.key NOT IN (SELECT blocked_key FROM related_blocks WHERE article_id = ")
            .push_bind(id.get())
            .push(") AND ")
            .push(not_a_copy("a"))
            .push_bind(as_of.as_second())
            .push(") AND a.key IN (");
            push_keys(&mut q, chunk);
        }
        // More on its story: the newest other live articles of its thread, copies left out.
        if let Some((thread_id, _)) = &thread {
            q.push(format!(
                " UNION ALL SELECT * FROM (SELECT CAST(4 AS BIGINT), \
                 CAST(ROW_NUMBER() OVER (ORDER BY a.published_at DESC, a.id DESC) AS BIGINT), {LINK_COLUMNS} \
                 FROM article_threads x JOIN articles a ON a.id = x.article_id \
                 JOIN sections s ON s.id = a.section_id WHERE x.thread_id = "
            ))
            .push_bind(*thread_id)
            .push(" AND ")
            .push(not_a_copy("a"))
            .push_bind(as_of.as_second())
            .push(") AND a.id <> ")
            .push_bind(id.get())
            .push(" AND a.live_from <= ")
            .push_bind(as_of.as_second())
            .push(" ORDER BY a.published_at DESC, a.id DESC LIMIT ")
            .push_bind(i64::from(crate::THREAD_LATEST))
            .push(") m");
        }
        q.push(" ORDER BY 1, 2, 7");
        let rows = q.build().fetch_all(self.reader()).await?;
        let (mut related, mut translations, mut inline) = (vec![], vec![], vec![]);
        let mut thread_latest = vec![];
        let mut ranked = vec![];
        let mut suggested_in_thread = vec![];
        for row in &rows {
            let Some(link) = readable(row, 2) else {
                continue;
            };
            match row.try_get::<i64, _>(0)? {
                0 => related.push(link),
                1 => translations.push(link),
                2 => inline.push(link),
                4 => thread_latest.push(link),
                kind => {
                    if kind == 5 {
                        suggested_in_thread.push(link.id);
                    }
                    ranked.push((row.try_get::<i64, _>(1)?, link));
                }
            }
        }
        // The suggestions in the order asked, whichever kind they came as.
        ranked.sort_by_key(|(rank, _)| *rank);
        let suggested_links = ranked.into_iter().map(|(_, link)| link).collect();
        Ok(Some(ArticlePage {
            article: Article {
                topics: topics.iter().map(|t| t.key.clone()).collect(),
                ..article
            },
            related,
            translations,
            inline,
            suggested: suggested_links,
            series,
            topics,
            pinned,
            group,
            thread,
            thread_latest,
            suggested_in_thread,
        }))
    }

    /// An article's row: a live one, or with `as_of` of `None`, one in any state (a preview).
    /// The page frame, probing an article's liveness or an old address's redirect.
    async fn frame(
        &self,
        lang: &Lang,
        limit: u32,
        as_of: Timestamp,
        probe: Option<ArticleId>,
        path: Option<&str>,
    ) -> Result<PageFrame, StorageError> {
        // Every section once, joined to those of the latest articles that are in it; and on
        // every row, whether the probed article is live, and where the probed path leads.
        let sql = format!(
            "SELECT s.key, s.code, s.name, \
             a.id, a.key, a.headline, a.summary, a.lang, s.key, s.code, a.credit, a.published_at, a.updated_at, a.episode, \
             EXISTS (SELECT 1 FROM articles p WHERE p.id = $4 AND p.live_from <= $2), \
             (SELECT r.article_id FROM redirects r JOIN articles p ON p.id = r.article_id \
              WHERE r.path = $5 AND p.live_from <= $2) \
             FROM sections s LEFT JOIN (SELECT * FROM articles f WHERE f.lang = $1 AND f.live_from <= $2 \
             AND {copy}$2) ORDER BY f.published_at DESC, f.id DESC LIMIT $3) a ON a.section_id = s.id \
             ORDER BY s.position, s.id",
            copy = not_a_copy("f"),
        );
        let rows = sqlx::query(&sql)
            .bind(lang.as_str())
            .bind(as_of.as_second())
            .bind(i64::from(limit))
            .bind(probe.map(ArticleId::get))
            .bind(path)
            .fetch_all(self.reader())
            .await?;
        let mut frame = PageFrame {
            sections: Vec::new(),
            latest: Vec::new(),
            probe_live: false,
            redirect: None,
        };
        for row in &rows {
            let section = section_from_row(row)?;
            if frame.sections.last().map(|s| &s.key) != Some(&section.key) {
                frame.sections.push(section);
            }
            if row.try_get::<Option<i64>, _>(3)?.is_some() {
                frame.latest.extend(readable(row, 3));
            }
            frame.probe_live = row.try_get(3 + LINK_WIDTH)?;
            frame.redirect = row
                .try_get::<Option<i64>, _>(4 + LINK_WIDTH)?
                .map(ArticleId::new);
        }
        frame
            .latest
            .sort_by_key(|l: &ArticleLink| std::cmp::Reverse((l.published, l.id)));
        Ok(frame)
    }

    async fn article_row(
        &self,
        id: ArticleId,
        as_of: Option<Timestamp>,
    ) -> Result<Option<ArticleRow>, StorageError> {
        let sql = format!(
            "SELECT {LINK_COLUMNS}, a.body_html, a.byline, a.web_editors, a.translation_group, \
             se.key, se.title, se.description, se.partners, \
             {CORRECTIONS_JSON}, {PINNED_JSON}, th.id, th.title \
             FROM {LINK_FROM} LEFT JOIN series se ON se.id = a.series_id \
             LEFT JOIN article_threads x ON x.article_id = a.id \
             LEFT JOIN threads th ON th.id = x.thread_id \
             WHERE a.id = $1 AND ($2 IS NULL OR a.live_from <= $2)"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(id.get())
            .bind(as_of.map(|t| t.as_second()))
            .fetch_optional(self.reader())
            .await?
        else {
            return Ok(None);
        };
        let link = link_at(&row, 0)?;
        let editors: String = row.try_get(LINK_WIDTH + 2)?;
        let group: String = row.try_get(LINK_WIDTH + 3)?;
        let series = match row.try_get::<Option<String>, _>(LINK_WIDTH + 4)? {
            Some(_) => Some(series_at(&row, LINK_WIDTH + 4)?),
            None => None,
        };
        let episode = match (&series, link.episode) {
            (Some(s), Some(episode)) => Some(SeriesEpisode {
                series: s.key.clone(),
                episode,
            }),
            _ => None,
        };
        let article = Article {
            // Only the sanitizer's output is ever written to this column.
            body: SafeHtml::from_storage(row.try_get(LINK_WIDTH)?),
            byline: row.try_get(LINK_WIDTH + 1)?,
            web_editors: serde_json::from_str(&editors)
                .map_err(|e| StorageError::Corrupt(e.to_string()))?,
            series: episode,
            topics: vec![],
            corrections: corrections_from(row.try_get(LINK_WIDTH + 8)?)?,
            link,
        };
        let pinned: Option<String> = row.try_get(LINK_WIDTH + 9)?;
        let pinned = match pinned {
            Some(json) => {
                serde_json::from_str(&json).map_err(|e| StorageError::Corrupt(e.to_string()))?
            }
            None => vec![],
        };
        let thread = match row.try_get::<Option<i64>, _>(LINK_WIDTH + 10)? {
            Some(id) => Some((id, row.try_get::<String, _>(LINK_WIDTH + 11)?)),
            None => None,
        };
        Ok(Some((article, group, series, pinned, thread)))
    }

    async fn article_topics(&self, id: ArticleId) -> Result<Vec<Topic>, StorageError> {
        let rows = sqlx::query(
            "SELECT t.key, t.title, t.intro FROM article_topics at JOIN topics t ON t.id = at.topic_id \
             WHERE at.article_id = $1 ORDER BY t.key",
        )
        .bind(id.get())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(topic_from_row).collect()
    }
}
