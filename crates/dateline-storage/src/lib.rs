//! Storage: the one [`Store`] trait through which Dateline reads and writes its newsroom, and
//! its SQLite and PostgreSQL implementations. This is the only crate that writes SQL.
//!
//! Callers hold an `Arc<dyn Store>` that [`open`] chose from the database's name: SQLite, one
//! embedded file (the default), or PostgreSQL, which several nodes share. Both run the same
//! engine code (`engine.rs`). Every write is a transaction that takes the write lock when it
//! begins.

use async_trait::async_trait;
use dateline_core::account::{Account, Grants, PasswordHash, TokenDigest, TokenInfo, Username};
use dateline_core::audit::AuditEntry;
use dateline_core::change::{Change, Webhook, WebhookUrl};
use dateline_core::media::{Media, MediaId};
use dateline_core::revision::RevisionInfo;
use dateline_core::workflow::State;
use dateline_core::{
    Article, ArticleId, ArticleKey, ArticleLink, Correction, Lang, NewArticle, Section, Series,
    Slug, Topic,
};
use jiff::Timestamp;

mod copy;
mod postgres;
mod sqlite;

pub use copy::{check_sqlite_file, copy_store, CopyReport, Progress, TABLES};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// What a store's commits tell this process: how many it made (see [`Store::commits`]), and a
/// signal that moves with each, and with other nodes' on an engine that hears of them.
#[derive(Debug)]
pub(crate) struct Signals {
    commits: std::sync::atomic::AtomicU64,
    changed: tokio::sync::watch::Sender<u64>,
}

impl Default for Signals {
    fn default() -> Signals {
        Signals {
            commits: std::sync::atomic::AtomicU64::new(0),
            changed: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl Signals {
    /// This process committed a write.
    fn committed(&self) {
        self.commits
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.notified();
    }

    /// The stream may have grown.
    fn notified(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn commits(&self) -> u64 {
        self.commits.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

/// What a process opens the store for. On SQLite it sets how many pages each connection keeps
/// in memory (PostgreSQL keeps its pages in its own server).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Workload {
    /// A server: up to eight connections, each reading a page's few rows, with the system's
    /// file cache under them. 8 MB of pages each (SQLite's default is 2 MB).
    #[default]
    Serving,
    /// One long stream of writes (an import, a copy): 32 MB of pages each, so that an
    /// import's index updates stay in memory from one batch to the next.
    Bulk,
}

impl Workload {
    /// SQLite's `cache_size` for it: negative, in KiB.
    fn sqlite_cache_size(self) -> &'static str {
        match self {
            Workload::Serving => "-8192",
            Workload::Bulk => "-32768",
        }
    }
}

/// Opens the newsroom `database` names: a `postgres://` (or `postgresql://`) URL, or else a
/// SQLite file's path (or `sqlite:` URL), created if it does not exist. For a server
/// ([`Workload::Serving`]).
pub async fn open(database: &str) -> Result<std::sync::Arc<dyn Store>, StorageError> {
    open_for(database, Workload::Serving).await
}

/// [`open`], for `workload`.
pub async fn open_for(
    database: &str,
    workload: Workload,
) -> Result<std::sync::Arc<dyn Store>, StorageError> {
    if is_postgres(database) {
        Ok(std::sync::Arc::new(PgStore::connect(database).await?))
    } else {
        Ok(std::sync::Arc::new(
            SqliteStore::open_named(database, workload).await?,
        ))
    }
}

/// [`open_for`], with a read replica for the pages' reads: a PostgreSQL URL of a streaming
/// standby of `database` (see [`PgStore::connect_with_replica`]).
pub async fn open_with_replica(
    database: &str,
    replica: Option<&str>,
    workload: Workload,
) -> Result<std::sync::Arc<dyn Store>, StorageError> {
    match replica {
        None => open_for(database, workload).await,
        Some(replica) if is_postgres(database) && is_postgres(replica) => Ok(std::sync::Arc::new(
            PgStore::connect_with_replica(database, Some(replica)).await?,
        )),
        Some(_) => Err(StorageError::Conflict(
            "a read replica is a postgres:// URL, beside a PostgreSQL database".to_string(),
        )),
    }
}

/// Whether `database` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// What went wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0} not found")]
    NotFound(String),
    /// A write met a unique rule: the text names what conflicted, e.g.
    /// `UNIQUE constraint failed: sections.code`.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A save was based on a revision that is no longer the current one.
    #[error("the article is at revision {current} (saved by {by} at {at}); this save was based on an older one")]
    Stale {
        current: i64,
        by: String,
        at: Timestamp,
    },
    #[error("the database holds a value Dateline cannot read: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> StorageError {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StorageError::Conflict(db.message().to_string())
            }
            _ => StorageError::Database(e),
        }
    }
}

impl StorageError {
    /// Whether the same write may succeed if tried again: the database was busy or locked by
    /// another writer, or no connection was free in time. Such an error is never a fault of the
    /// data, so it is never reported as a rejected article.
    pub fn is_transient(&self) -> bool {
        match self {
            StorageError::Database(sqlx::Error::PoolTimedOut) => true,
            StorageError::Database(sqlx::Error::Database(db)) => {
                if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    let code = db.code().and_then(|c| c.parse::<i64>().ok()).unwrap_or(0);
                    // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
                    matches!(code & 0xff, 5 | 6)
                } else {
                    // PostgreSQL: a serialization failure, a deadlock, a lock not available,
                    // too many connections, or a server shutting down.
                    matches!(
                        db.code().as_deref(),
                        Some("40001" | "40P01" | "55P03" | "53300" | "57P01" | "57P03")
                    )
                }
            }
            // The connection to a database server was lost; a new one may work.
            StorageError::Database(sqlx::Error::Io(_) | sqlx::Error::PoolClosed) => true,
            _ => false,
        }
    }
}

/// What waits on the clock ([`Store::queues`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Queues {
    /// Articles scheduled, waiting for their time.
    pub scheduled: i64,
    /// Published articles that go live later (an embargo, a publication time to come).
    pub pending_live: i64,
}

/// A database pool's connections ([`Store::pool_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    pub open: u32,
    pub idle: usize,
    pub max: u32,
}

/// What importing one article did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Inserted(ArticleId),
    Updated(ArticleId),
    Unchanged(ArticleId),
}

impl Upserted {
    pub fn id(self) -> ArticleId {
        match self {
            Upserted::Inserted(id) | Upserted::Updated(id) | Upserted::Unchanged(id) => id,
        }
    }
}

/// Which articles a listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Every article of the edition, newest first.
    All,
    /// A section's articles, newest first.
    Section(Slug),
    /// A topic's articles, newest first.
    Topic(Slug),
    /// A series' episodes, in order.
    Series(Slug),
    /// A series' episodes, the latest first (its feed).
    SeriesNewest(Slug),
    /// The articles a person's byline names, newest first.
    Person(dateline_core::PersonKey),
    /// A story thread's articles in every language, oldest first (its timeline).
    Thread(i64),
    /// A story thread's articles in every language, newest first (its feed).
    ThreadNewest(i64),
}

/// An article as a feed carries it: its link, its body and its byline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    pub link: ArticleLink,
    pub body: dateline_core::SafeHtml,
    pub byline: Option<String>,
}

/// The most addresses one sitemap file lists (the sitemap protocol's limit): the archive's
/// sitemap `n` lists the live articles whose ids are from `n * SITEMAP_SPAN + 1` to
/// `(n + 1) * SITEMAP_SPAN`, so a file's content depends on its own articles only.
pub const SITEMAP_SPAN: i64 = 50_000;

/// How many other articles of its thread an article's page shows ("More on this story").
pub const THREAD_LATEST: u32 = 6;

/// A page of a listing in one language edition, of what is published by `as_of`.
#[derive(Debug, Clone)]
pub struct Listing {
    pub lang: Lang,
    pub filter: Filter,
    pub limit: u32,
    pub offset: u32,
    /// Articles whose publication time is later are not live yet, and not listed.
    pub as_of: Timestamp,
}

/// An article as the newsroom works on it, in any state.
#[derive(Debug, Clone, PartialEq)]
pub struct Worked {
    pub id: ArticleId,
    pub key: ArticleKey,
    pub state: State,
    pub revision: i64,
    /// The account that created it; `None` for imported copy.
    pub author: Option<i64>,
    pub section: Slug,
    pub scheduled_at: Option<Timestamp>,
    pub embargo_until: Option<Timestamp>,
    /// From when readers see it, while it is published.
    pub live_from: Option<Timestamp>,
    /// Its fields as an import record, as the API shows them.
    pub record: serde_json::Map<String, serde_json::Value>,
}

/// What a desk's list of articles shows of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkedSummary {
    pub id: ArticleId,
    pub key: ArticleKey,
    pub headline: String,
    pub state: State,
    pub revision: i64,
    pub section: Slug,
    pub lang: Lang,
    pub author: Option<String>,
    pub scheduled_at: Option<Timestamp>,
    pub embargo_until: Option<Timestamp>,
    /// When it was last saved or published.
    pub changed: Timestamp,
}

/// Which articles a desk's list shows.
#[derive(Debug, Clone, Default)]
pub struct DeskFilter {
    pub state: Option<State>,
    pub desk: Option<Slug>,
    pub author: Option<i64>,
    pub lang: Option<Lang>,
    /// Only these: articles on these desks, or by this author (`None`: every article).
    pub visible_to: Option<(Vec<Slug>, i64)>,
    /// Only articles whose headline or body holds every one of these words, in any state.
    pub words: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// A change of an article's state that the workflow allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange {
    Submit,
    /// Publish at this time, with no one there.
    Schedule(Timestamp),
    /// Publish now; the first publication sets its publication time.
    Publish,
    Unpublish,
    /// Hide it from every public route until this time, whatever its state; `None` lifts it.
    Embargo(Option<Timestamp>),
}

/// What every page's frame shows.
#[derive(Debug, Clone)]
pub struct PageFrame {
    pub sections: Vec<Section>,
    /// An edition's latest live articles, newest first.
    pub latest: Vec<ArticleLink>,
    /// Whether the article asked about is live.
    pub probe_live: bool,
    /// The live article the address asked about leads to, when it is an old one.
    pub redirect: Option<ArticleId>,
}

/// An article with everything its page shows, read in a fixed, small number of queries.
#[derive(Debug, Clone)]
pub struct ArticlePage {
    pub article: Article,
    /// The related stories an editor pinned, in order.
    pub related: Vec<ArticleLink>,
    /// The same story in other languages.
    pub translations: Vec<ArticleLink>,
    /// The articles that inline related links in the body point to.
    pub inline: Vec<ArticleLink>,
    /// The suggested related stories asked for that are live, in the order asked.
    pub suggested: Vec<ArticleLink>,
    pub series: Option<Series>,
    pub topics: Vec<Topic>,
    /// The keys of the related stories pinned to it, in order, whether live or not: a pin
    /// may name a story that is published later.
    pub pinned: Vec<String>,
    /// Its translation group: the key of the original of its translations.
    pub group: String,
    /// Its story thread: id and title.
    pub thread: Option<(i64, String)>,
    /// More on its story: the newest other live articles of its thread (near-duplicates left
    /// out), newest first.
    pub thread_latest: Vec<ArticleLink>,
    /// The suggested related stories that are in its thread too.
    pub suggested_in_thread: Vec<ArticleId>,
}

/// A story thread's name in a batch of [`ThreadOp`]s: one stored, or the `n`th made by the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThreadName {
    Stored(i64),
    New(u32),
}

/// What the threader decided, written by [`Store::apply_threading`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadOp {
    /// An article is in this thread, placed by the text whose digest is `digest`; an article
    /// an editor placed is left where it is.
    Place {
        article: ArticleId,
        thread: ThreadName,
        digest: String,
        simhash: i64,
        /// The earlier article of the thread it is a near-duplicate copy of.
        duplicate_of: Option<ArticleId>,
    },
    /// A thread grew close to another and was taken into it (neither frozen by an editor).
    Absorb { gone: ThreadName, into: ThreadName },
    /// A thread's most representative headline, its title unless an editor named it.
    Title { thread: ThreadName, title: String },
}

/// What the threader reads of an article to place it ([`Store::thread_input`]).
#[derive(Debug, Clone)]
pub struct ThreadInput {
    pub id: ArticleId,
    pub key: ArticleKey,
    pub lang: Lang,
    pub headline: String,
    pub body: dateline_core::SafeHtml,
    /// Whether readers see it now.
    pub live: bool,
    pub membership: Option<Membership>,
    /// Its translation group (the key of the original of its translations).
    pub group: String,
    /// The thread of another article of its translation group (the earliest placed), which a
    /// translation joins.
    pub group_thread: Option<i64>,
}

/// Where an article is threaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub thread: i64,
    pub by_editor: bool,
    /// Whether its thread is frozen (an editor decided about it).
    pub frozen: bool,
    pub digest: String,
    pub simhash: i64,
    pub duplicate_of: Option<ArticleId>,
}

/// A threaded article with its text, as the threader rebuilds itself from storage.
#[derive(Debug, Clone)]
pub struct ThreadedText {
    pub id: ArticleId,
    pub lang: Lang,
    pub headline: String,
    pub body: dateline_core::SafeHtml,
    pub thread: i64,
    pub frozen: bool,
    pub simhash: i64,
}

/// A story thread as a page, the API and the admin show it.
#[derive(Debug, Clone)]
pub struct Thread {
    pub id: i64,
    pub title: String,
    pub title_by_editor: bool,
    pub frozen: bool,
    pub topic: Option<Topic>,
    pub created: Timestamp,
    pub updated: Timestamp,
    /// Its articles, oldest first.
    pub articles: Vec<ThreadArticle>,
    /// How many articles it has in all (also those not shown).
    pub size: i64,
}

/// An article of a thread.
#[derive(Debug, Clone)]
pub struct ThreadArticle {
    pub link: ArticleLink,
    pub by_editor: bool,
    pub duplicate_of: Option<ArticleId>,
    pub state: State,
}

/// Where a thread is asked for ([`Store::thread`]).
#[derive(Debug, Clone)]
pub enum ThreadLookup {
    /// The thread, with those of its articles live at this time that are not near-duplicates
    /// (a reader's timeline), `limit` of them from `offset`.
    Live {
        as_of: Timestamp,
        limit: u32,
        offset: u32,
    },
    /// The thread with every article, in any state (the newsroom's view).
    Whole,
}

/// What a thread was, if it is no more: the one it was merged into.
#[derive(Debug, Clone)]
pub enum ThreadFound {
    Thread(Thread),
    MergedInto(i64),
}

/// A thread in a list of threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadSummary {
    pub id: i64,
    pub title: String,
    pub size: i64,
    pub frozen: bool,
    pub topic: Option<Slug>,
    pub updated: Timestamp,
}

/// What a thread is pinned to.
#[derive(Debug, Clone)]
pub enum PinTo {
    /// No topic.
    Nothing,
    /// A topic that exists.
    Topic(Slug),
    /// A topic made now from the thread (the thread promoted to one).
    NewTopic(Topic),
}

/// An editor's decision about threads ([`Store::edit_threads`]); each is audited by the caller.
#[derive(Debug, Clone)]
pub enum ThreadEdit {
    Rename {
        thread: i64,
        title: String,
    },
    /// Every article of `from` goes to `into`; `from` leads to `into` from now on.
    Merge {
        from: i64,
        into: i64,
    },
    /// These articles of `from` go to a new thread, titled `title` (or by its first headline).
    Split {
        from: i64,
        articles: Vec<ArticleId>,
        title: Option<String>,
    },
    /// An article goes to a thread, or to a new one of its own.
    Move {
        article: ArticleId,
        to: Option<i64>,
    },
    Pin {
        thread: i64,
        to: PinTo,
    },
}

/// The newsroom's storage. Reads take the time that counts as now, so that an article whose
/// publication time is later is not live; storage never reads the clock to decide that.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates or replaces a section, by key. A code that another section holds is a
    /// [`StorageError::Conflict`].
    async fn put_section(&self, section: &Section) -> Result<(), StorageError>;
    /// Creates or replaces a series, by key.
    async fn put_series(&self, series: &Series) -> Result<(), StorageError>;
    /// Creates or replaces a topic, by key.
    async fn put_topic(&self, topic: &Topic) -> Result<(), StorageError>;

    /// Stores a batch of articles in one transaction, each inserted or updated by key.
    /// Sections, series and topics an article names that do not exist yet are created.
    /// An article that cannot be stored is rolled back alone and reported in its slot; a busy
    /// database is waited for and retried, never reported as an article's fault. `now` is when
    /// an article changed by this import without an update time of its own was updated.
    async fn import_articles(
        &self,
        batch: &[NewArticle],
        now: Timestamp,
    ) -> Result<Vec<Result<Upserted, StorageError>>, StorageError>;

    /// Places top stories on an edition's home page, replacing the ones there.
    async fn set_front(&self, lang: &Lang, keys: &[ArticleKey]) -> Result<(), StorageError>;

    async fn sections(&self) -> Result<Vec<Section>, StorageError>;
    /// What every page's frame and the error pages show, in one query: the sections, an
    /// edition's latest `limit` live articles, and whether the article `probe` is live (so that
    /// an address naming no live article costs this one query).
    async fn page_frame(
        &self,
        lang: &Lang,
        limit: u32,
        as_of: Timestamp,
        probe: Option<ArticleId>,
    ) -> Result<PageFrame, StorageError>;
    /// [`Store::page_frame`] for an address no article's pattern matches: the frame, and the
    /// live article the address leads to if it is an old one kept as a redirect, in one query.
    async fn page_frame_at(
        &self,
        lang: &Lang,
        limit: u32,
        as_of: Timestamp,
        path: &str,
    ) -> Result<PageFrame, StorageError>;
    async fn series(&self, key: &Slug) -> Result<Option<Series>, StorageError>;
    /// The name of the person a byline slug stands for, as a live article's byline writes it.
    async fn person(
        &self,
        key: &dateline_core::PersonKey,
        as_of: Timestamp,
    ) -> Result<Option<String>, StorageError>;
    async fn topic(&self, key: &Slug) -> Result<Option<Topic>, StorageError>;

    /// A live article.
    async fn article(
        &self,
        id: ArticleId,
        as_of: Timestamp,
    ) -> Result<Option<Article>, StorageError>;
    /// A live article with its related stories, translations, inline links, series and topics.
    async fn article_page(
        &self,
        id: ArticleId,
        as_of: Timestamp,
    ) -> Result<Option<ArticlePage>, StorageError>;
    /// A live article's page, with the live ones of `suggested` (keys of related stories the
    /// search index suggests) read in the same query.
    async fn article_page_with(
        &self,
        id: ArticleId,
        as_of: Timestamp,
        suggested: &[String],
    ) -> Result<Option<ArticlePage>, StorageError>;
    /// Blocks (or, with `blocked` false, unblocks) a suggested related story for an article;
    /// a live article's page changes, and the stream says so.
    async fn set_related_block(
        &self,
        id: ArticleId,
        key: &ArticleKey,
        blocked: bool,
        by: i64,
        now: Timestamp,
    ) -> Result<(), StorageError>;
    /// The keys of the suggestions blocked for an article.
    async fn related_blocks(&self, id: ArticleId) -> Result<Vec<String>, StorageError>;
    /// An article in any state, with what its page shows: what editors preview. The related
    /// stories, translations and inline links are those live at `as_of`, as readers would see.
    async fn article_preview(
        &self,
        id: ArticleId,
        as_of: Timestamp,
    ) -> Result<Option<ArticlePage>, StorageError>;
    /// Live articles whose headline holds every one of `words`, newest first: what an editor
    /// finds to link to or pin.
    async fn find_links(
        &self,
        words: &str,
        as_of: Timestamp,
        limit: u32,
    ) -> Result<Vec<ArticleLink>, StorageError>;
    /// Who has each of these articles open, with a sign of life since `since`.
    async fn opens(
        &self,
        ids: &[ArticleId],
        since: Timestamp,
    ) -> Result<Vec<(ArticleId, String)>, StorageError>;
    /// Records an uploaded image whose files are in place; the same image again is a no-op.
    async fn add_media(&self, media: &Media, by: i64, now: Timestamp) -> Result<(), StorageError>;
    async fn media(&self, id: &MediaId) -> Result<Option<Media>, StorageError>;
    /// The live articles with these keys, in no particular order.
    async fn links_by_keys(
        &self,
        keys: &[String],
        as_of: Timestamp,
    ) -> Result<Vec<ArticleLink>, StorageError>;
    /// An edition's top stories, in the editors' order.
    async fn front(&self, lang: &Lang, as_of: Timestamp) -> Result<Vec<ArticleLink>, StorageError>;
    /// The latest `per_section` live articles of each section in an edition, section by
    /// section in the sections' order, in one query.
    async fn section_latest(
        &self,
        lang: &Lang,
        per_section: u32,
        as_of: Timestamp,
    ) -> Result<Vec<ArticleLink>, StorageError>;
    async fn list(&self, listing: &Listing) -> Result<Vec<ArticleLink>, StorageError>;
    /// A listing with each article's body and byline, for feeds, in one query.
    async fn feed(&self, listing: &Listing) -> Result<Vec<FeedEntry>, StorageError>;
    /// The live articles of every edition first published from `since`, newest first, at
    /// most `limit` (a news sitemap).
    async fn published_since(
        &self,
        since: Timestamp,
        as_of: Timestamp,
        limit: u32,
    ) -> Result<Vec<ArticleLink>, StorageError>;
    /// The archive's sitemaps that list anything: for each span of [`SITEMAP_SPAN`] ids with
    /// a live article, its number and when the last of them changed.
    async fn sitemap_spans(&self, as_of: Timestamp) -> Result<Vec<(i64, Timestamp)>, StorageError>;
    /// The live articles of every edition with ids in `ids`, by id (an archive sitemap).
    async fn live_in(
        &self,
        ids: std::ops::RangeInclusive<i64>,
        as_of: Timestamp,
    ) -> Result<Vec<ArticleLink>, StorageError>;
    /// Every stored article, live or not.
    async fn article_count(&self) -> Result<u64, StorageError>;
    /// Every article's id, in any state, in order.
    async fn article_ids(&self) -> Result<Vec<ArticleId>, StorageError>;
    /// The id of the article with this key, in any state.
    async fn article_id(&self, key: &ArticleKey) -> Result<Option<ArticleId>, StorageError>;
    /// Keeps an old address (a path, such as a WordPress permalink's) as a redirect to an
    /// article, replacing what it led to before.
    async fn put_redirect(&self, path: &str, article: ArticleId) -> Result<(), StorageError>;

    /// Creates an account. A taken username is a [`StorageError::Conflict`]; a desk that names
    /// no section is [`StorageError::NotFound`].
    async fn create_account(
        &self,
        username: &Username,
        grants: &Grants,
        password: &PasswordHash,
        now: Timestamp,
    ) -> Result<Account, StorageError>;
    /// Every account, by username.
    async fn accounts(&self) -> Result<Vec<Account>, StorageError>;
    async fn account(&self, username: &Username) -> Result<Option<Account>, StorageError>;
    /// The stored hash of an account's password.
    async fn password_hash(
        &self,
        username: &Username,
    ) -> Result<Option<PasswordHash>, StorageError>;
    /// Disables or enables an account.
    /// Gives an account new roles and desks; a desk that names no section is
    /// [`StorageError::NotFound`], and so is an unknown account.
    async fn set_grants(
        &self,
        username: &Username,
        grants: &Grants,
        now: Timestamp,
    ) -> Result<(), StorageError>;
    async fn set_disabled(
        &self,
        username: &Username,
        disabled: bool,
        now: Timestamp,
    ) -> Result<(), StorageError>;
    async fn set_password(
        &self,
        username: &Username,
        password: &PasswordHash,
        now: Timestamp,
    ) -> Result<(), StorageError>;

    /// Stores a new draft by an account, as revision 1.
    async fn create_draft(
        &self,
        article: &NewArticle,
        author: i64,
        now: Timestamp,
    ) -> Result<Worked, StorageError>;
    /// Saves an article as a new revision, if `base` is its current one; otherwise
    /// [`StorageError::Stale`] says which is, and who saved it when. A saved published article
    /// is marked updated, and the stream tells of it.
    /// `seen` is the state the writer was allowed to save it in: if the article has left it
    /// meanwhile (it was published, say), the save is a [`StorageError::Conflict`].
    async fn save_article(
        &self,
        id: ArticleId,
        article: &NewArticle,
        base: i64,
        seen: State,
        account: i64,
        now: Timestamp,
    ) -> Result<Worked, StorageError>;
    /// An article's saved revisions, newest first.
    async fn revisions(&self, id: ArticleId) -> Result<Vec<RevisionInfo>, StorageError>;
    /// One saved revision, with the article as it was then, as an import record.
    async fn revision(
        &self,
        id: ArticleId,
        revision: i64,
    ) -> Result<Option<(RevisionInfo, serde_json::Map<String, serde_json::Value>)>, StorageError>;
    /// Articles in any state, most recently changed first, as a desk's list shows them.
    async fn desk(&self, filter: &DeskFilter) -> Result<Vec<WorkedSummary>, StorageError>;
    /// An article in any state.
    async fn worked_article(&self, id: ArticleId) -> Result<Option<Worked>, StorageError>;
    /// Moves an article from state `from` as `change` says; if it is no longer in `from`, a
    /// [`StorageError::Conflict`]. A change readers see is told in the stream.
    async fn change_state(
        &self,
        id: ArticleId,
        from: State,
        change: StateChange,
        now: Timestamp,
    ) -> Result<Worked, StorageError>;
    /// Attaches a correction to a published article, marks it updated, and tells the stream;
    /// an article in another state is a [`StorageError::Conflict`].
    async fn add_correction(
        &self,
        id: ArticleId,
        note: &str,
        account: i64,
        now: Timestamp,
    ) -> Result<Worked, StorageError>;
    /// An edition's corrections of live articles, newest first, with the articles they correct.
    async fn corrections(
        &self,
        lang: &Lang,
        limit: u32,
        offset: u32,
        as_of: Timestamp,
    ) -> Result<Vec<(Correction, ArticleLink)>, StorageError>;
    /// Publishes every scheduled article whose time has come, each exactly once however many
    /// callers race, and says which; and tells the stream of every published article that goes
    /// live now (an embargo lifted, a publication time come), once.
    async fn fire_schedules(&self, now: Timestamp) -> Result<Vec<ArticleId>, StorageError>;
    /// The earliest time an article is scheduled for, or goes live.
    async fn next_schedule(&self) -> Result<Option<Timestamp>, StorageError>;

    /// Keeps a new API token's digest for an account; it works until `expires`.
    async fn create_token(
        &self,
        account: i64,
        digest: &TokenDigest,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<TokenInfo, StorageError>;
    /// The active account a presented token belongs to, while the token is neither expired nor
    /// revoked at `now`.
    async fn account_by_token(
        &self,
        digest: &TokenDigest,
        now: Timestamp,
    ) -> Result<Option<Account>, StorageError>;
    /// An account's tokens, newest first.
    async fn tokens(&self, account: i64) -> Result<Vec<TokenInfo>, StorageError>;
    /// Revokes one of an account's tokens; another account's is [`StorageError::NotFound`].
    async fn revoke_token(
        &self,
        account: i64,
        token: i64,
        now: Timestamp,
    ) -> Result<(), StorageError>;

    /// Keeps a new browser session's cookie digest and CSRF token for an account.
    async fn create_session(
        &self,
        account: i64,
        digest: &TokenDigest,
        csrf: &str,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<(), StorageError>;
    /// The active account of a session cookie, and the session's CSRF token, while the session
    /// is neither expired nor revoked at `now`.
    async fn session(
        &self,
        digest: &TokenDigest,
        now: Timestamp,
    ) -> Result<Option<(Account, String)>, StorageError>;
    /// Ends a session (logout).
    async fn revoke_session(
        &self,
        digest: &TokenDigest,
        now: Timestamp,
    ) -> Result<(), StorageError>;
    /// Ends every session of an account but `keep` (after a password change).
    async fn revoke_other_sessions(
        &self,
        account: i64,
        keep: &TokenDigest,
        now: Timestamp,
    ) -> Result<(), StorageError>;

    /// Notes that an account has an article open now.
    async fn mark_open(
        &self,
        id: ArticleId,
        account: i64,
        now: Timestamp,
    ) -> Result<(), StorageError>;
    /// Who has had an article open since `since`, most recent first: usernames and when.
    async fn open_by(
        &self,
        id: ArticleId,
        since: Timestamp,
    ) -> Result<Vec<(String, Timestamp)>, StorageError>;

    /// Appends an entry to the audit log.
    async fn audit(&self, entry: &AuditEntry) -> Result<(), StorageError>;
    /// Up to `limit` entries of the audit log before the entry `before` (all, when `None`),
    /// newest first.
    async fn audit_log(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StorageError>;

    /// Up to `limit` records of the stream of changes after `position`, in order. Every write
    /// that readers can see appends its records in its own transaction.
    async fn changes_after(&self, position: i64, limit: u32) -> Result<Vec<Change>, StorageError>;
    /// The position of the stream's last record (0 while it is empty).
    async fn stream_end(&self) -> Result<i64, StorageError>;
    /// The earliest time a published article goes live that the stream has not told of yet
    /// (an embargo that lifts, a publication time to come): readers see it from that second,
    /// a moment before its record, so what is kept from before must not be served after.
    async fn next_live(&self) -> Result<Option<Timestamp>, StorageError>;
    /// How many write transactions this process committed through this store, counted after
    /// each commit: a reader that saw the count move reads the stream before it answers, so
    /// that a write this process acknowledged is never hidden by something kept from before.
    fn commits(&self) -> u64;
    /// Moves whenever a change may have been appended to the stream: with this process's
    /// commits, and on PostgreSQL with every node's (the database notifies them). Followers
    /// wait on it between polls, never instead of them: a notification can be lost.
    fn changes_signal(&self) -> tokio::sync::watch::Receiver<u64>;
    /// Where a follower of the stream is: the last position it handled (0 when it has none).
    /// Takes or keeps the lease `name` for `holder`, for `ttl` from now by the database's clock
    /// (the nodes' own clocks may differ); answers whether `holder` holds it now (it was free,
    /// had run out, or was `holder`'s already). Of several nodes, the one holding a lease does
    /// what must be done once; another takes over when it stops renewing. A lease is no change
    /// readers see: it is not on the stream.
    async fn lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StorageError>;

    /// Every follower's position kept in storage, by its name.
    async fn stream_positions(&self) -> Result<Vec<(String, i64)>, StorageError>;
    /// What waits on the clock: scheduled articles, and published ones not live yet.
    async fn queues(&self) -> Result<Queues, StorageError>;
    /// The database pool's connections now.
    fn pool_status(&self) -> PoolStatus;
    /// Writes a consistent copy of the whole newsroom, as it is at one moment, to a new SQLite
    /// file at `to`, while the newsroom goes on being read and written. SQLite only: a
    /// PostgreSQL newsroom is backed up with PostgreSQL's own tools (`pg_dump`).
    async fn backup(&self, to: &std::path::Path) -> Result<(), StorageError>;

    async fn stream_position(&self, consumer: &str) -> Result<i64, StorageError>;
    async fn set_stream_position(&self, consumer: &str, position: i64) -> Result<(), StorageError>;

    /// What the threader needs to place an article: its text, whether it is live, where it
    /// is threaded, and its translation group's thread.
    async fn thread_input(
        &self,
        id: ArticleId,
        as_of: Timestamp,
    ) -> Result<Option<ThreadInput>, StorageError> {
        Ok(self.thread_inputs(&[id], as_of).await?.pop())
    }
    /// [`Store::thread_input`] of many articles in one read, in no particular order (an id
    /// that names no article is left out).
    async fn thread_inputs(
        &self,
        ids: &[ArticleId],
        as_of: Timestamp,
    ) -> Result<Vec<ThreadInput>, StorageError>;
    /// Writes what the threader decided, in one transaction, with a record on the stream for
    /// each article placed and each thread taken into another; answers the ids of the threads
    /// the batch made, in the order of their [`ThreadName::New`] numbers.
    async fn apply_threading(
        &self,
        ops: &[ThreadOp],
        now: Timestamp,
    ) -> Result<Vec<i64>, StorageError>;
    /// Threaded articles with their texts, by id from after `after`, at most `limit` (the
    /// threader rebuilding itself); with `thread`, only that thread's.
    async fn threaded_texts(
        &self,
        thread: Option<i64>,
        after: ArticleId,
        limit: u32,
    ) -> Result<Vec<ThreadedText>, StorageError>;
    /// A thread, or the one it was merged into.
    async fn thread(
        &self,
        id: i64,
        lookup: ThreadLookup,
    ) -> Result<Option<ThreadFound>, StorageError>;
    /// Threads, most recently changed first; with `words`, those whose title holds them all.
    async fn threads(
        &self,
        words: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<ThreadSummary>, StorageError>;
    /// Does what an editor decided about threads, in one transaction, freezing every thread it
    /// touches (the threader never merges it again, nor moves an article an editor placed),
    /// with a record on the stream for each thread touched. Answers the thread the decision
    /// leaves the articles in (the new one of a split or a move to a new thread).
    async fn edit_threads(&self, edit: &ThreadEdit, now: Timestamp) -> Result<i64, StorageError>;

    /// Adds a webhook; it receives the changes made from now on.
    async fn add_webhook(
        &self,
        url: &WebhookUrl,
        secret: &str,
        now: Timestamp,
    ) -> Result<Webhook, StorageError>;
    async fn webhooks(&self) -> Result<Vec<Webhook>, StorageError>;
    async fn remove_webhook(&self, id: i64) -> Result<(), StorageError>;
}

/// The stream follower name of a webhook.
pub fn webhook_consumer(id: i64) -> String {
    format!("webhook:{id}")
}

/// For tests: a fresh, empty PostgreSQL database on the cluster that `DATELINE_TEST_POSTGRES`
/// names (a URL of a database there, as `scripts/postgres start` prints), and its URL.
/// `scripts/test` starts a throwaway cluster and sets the variable; without it, this fails with
/// a message that says so.
pub async fn fresh_postgres_database() -> Result<String, StorageError> {
    use sqlx::Connection;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let admin = std::env::var("DATELINE_TEST_POSTGRES").map_err(|_| {
        StorageError::NotFound(
            "DATELINE_TEST_POSTGRES (a PostgreSQL URL for test databases): \
             run scripts/test, which starts a throwaway cluster"
                .to_string(),
        )
    })?;
    let mut url = url_of(&admin)?;
    let name = format!(
        "test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        Timestamp::now().as_nanosecond() % 1_000_000_000
    );
    let mut conn = sqlx::PgConnection::connect(&admin).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    url.set_path(&name);
    Ok(url.to_string())
}

fn url_of(text: &str) -> Result<url::Url, StorageError> {
    url::Url::parse(text)
        .map_err(|e| StorageError::NotFound(format!("a database URL in {text:?}: {e}")))
}
