//! Storage: the one [`Store`] trait through which Dateline reads and writes its newsroom, and
//! its SQLite implementation. This is the only crate that writes SQL.
//!
//! Callers hold an `Arc<dyn Store>`, so a PostgreSQL implementation can follow without
//! touching them.

use async_trait::async_trait;
use dateline_core::{
    Article, ArticleId, ArticleKey, ArticleLink, Lang, NewArticle, Section, Series, Slug, Topic,
};

mod sqlite;

pub use sqlite::SqliteStore;

/// What went wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("the database holds a value Dateline cannot read: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// What importing one article did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Inserted(ArticleId),
    Updated(ArticleId),
    Unchanged(ArticleId),
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
}

/// A page of a listing in one language edition.
#[derive(Debug, Clone)]
pub struct Listing {
    pub lang: Lang,
    pub filter: Filter,
    pub limit: u32,
    pub offset: u32,
}

/// The newsroom's storage.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates or replaces a section, by key.
    async fn put_section(&self, section: &Section) -> Result<(), StorageError>;
    /// Creates or replaces a series, by key.
    async fn put_series(&self, series: &Series) -> Result<(), StorageError>;
    /// Creates or replaces a topic, by key.
    async fn put_topic(&self, topic: &Topic) -> Result<(), StorageError>;

    /// Stores a batch of articles in one transaction, each inserted or updated by key.
    /// Sections, series and topics an article names that do not exist yet are created.
    /// An article that cannot be stored is rolled back alone and reported in its slot.
    async fn import_articles(
        &self,
        batch: &[NewArticle],
    ) -> Result<Vec<Result<Upserted, StorageError>>, StorageError>;

    /// Places top stories on an edition's home page, replacing the ones there.
    async fn set_front(&self, lang: &Lang, keys: &[ArticleKey]) -> Result<(), StorageError>;

    async fn sections(&self) -> Result<Vec<Section>, StorageError>;
    async fn series(&self, key: &Slug) -> Result<Option<Series>, StorageError>;
    async fn topic(&self, key: &Slug) -> Result<Option<Topic>, StorageError>;

    async fn article(&self, id: ArticleId) -> Result<Option<Article>, StorageError>;
    /// The published articles with these keys, in no particular order.
    async fn links_by_keys(&self, keys: &[String]) -> Result<Vec<ArticleLink>, StorageError>;
    /// The related stories an editor pinned to an article, in order.
    async fn related(&self, id: ArticleId) -> Result<Vec<ArticleLink>, StorageError>;
    /// The same story in other languages.
    async fn translations(&self, id: ArticleId) -> Result<Vec<ArticleLink>, StorageError>;
    /// An edition's top stories, in the editors' order.
    async fn front(&self, lang: &Lang) -> Result<Vec<ArticleLink>, StorageError>;
    async fn list(&self, listing: &Listing) -> Result<Vec<ArticleLink>, StorageError>;
    async fn article_count(&self) -> Result<u64, StorageError>;
}

/// A digest that stays the same across Rust versions (FNV-1a, 64 bits), to tell whether an
/// imported article changed.
pub(crate) fn stable_digest(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}
