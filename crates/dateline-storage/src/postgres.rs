//! The PostgreSQL implementation of [`Store`], for an outlet that outgrows one machine: several
//! Dateline nodes share one database.
//!
//! It is the SQLite engine's code (`engine.rs`) with PostgreSQL's types and dialect. Writes are
//! serialized as SQLite serializes them: every write transaction first takes one
//! transaction-scoped advisory lock. So the stream of changes is appended in commit order, and a
//! follower that has read up to a position never finds a smaller one committed after it.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Postgres};

/// The newsroom in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// This process's commits, and the signal of new changes: see [`Store::commits`] and
    /// [`Store::changes_signal`].
    signals: std::sync::Arc<crate::Signals>,
}

/// The advisory lock every write transaction holds: `dateline` in ASCII.
pub(crate) const WRITE_LOCK: i64 = 0x6461_7465_6c69_6e65;

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/name`) and
    /// applies pending migrations. Nodes starting at once migrate one at a time (sqlx holds an
    /// advisory lock while it migrates).
    pub async fn connect(url: &str) -> Result<PgStore, StorageError> {
        let options: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.application_name("dateline"))
            .await?;
        // A node of the previous release may start on a schema the next one migrated (a
        // rolling upgrade): migrations are additive, and those it does not know are left alone.
        let mut migrator = sqlx::migrate!("migrations/postgres");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        tracing::debug!("connected to the PostgreSQL store");
        let signals: std::sync::Arc<crate::Signals> = Default::default();
        tokio::spawn(listen(pool.clone(), std::sync::Arc::downgrade(&signals)));
        Ok(PgStore { pool, signals })
    }

    /// The store's pool, for a copy of the whole newsroom (`copy.rs`).
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A write transaction that holds the write lock from its first statement.
    async fn write(&self) -> Result<WriteTx, StorageError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(WriteTx {
            tx,
            signals: self.signals.clone(),
        })
    }
}

/// The channel every commit that appends to the stream notifies (`0003_notify.sql`).
const CHANNEL: &str = "dateline_changes";

/// Hears every node's commits to the stream, and moves the store's signal with each, for as
/// long as the store lives. A lost connection is opened again; meanwhile followers poll.
async fn listen(pool: PgPool, signals: std::sync::Weak<crate::Signals>) {
    let mut wait = Duration::from_millis(500);
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for changes; followers poll meanwhile");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "cannot listen for changes; followers poll meanwhile");
            tokio::time::sleep(wait).await;
            continue;
        }
        wait = Duration::from_millis(500);
        loop {
            // `try_recv` answers `None` when the connection was lost (and reconnects itself):
            // what was notified meanwhile is lost, so followers are woken to read anyway.
            let heard = listener.try_recv().await;
            let Some(signals) = signals.upgrade() else {
                return;
            };
            signals.notified();
            if let Err(e) = heard {
                tracing::warn!(error = %e, "lost the connection that hears of changes");
                break;
            }
        }
    }
}

type Engine = PgStore;
type Db = Postgres;
type Conn = PgConnection;
type DbRow = PgRow;

/// Joins a person's rows to their articles.
const PERSON_FIRST: &str = "JOIN";
/// Case-insensitive `LIKE`, as SQLite's is.
const LIKE: &str = "ILIKE";
/// The `t` values of the rows before it in `article_reach` for the article `$1`, as a
/// subquery's `SELECT` list and source.
const REACH_BEFORE: &str =
    "json_array_elements_text(r.reach::json) FROM article_reach r WHERE r.article_id = $1";
/// An article's corrections (`a`) as a JSON array of `[at, note]`, oldest first.
const CORRECTIONS_JSON: &str = "(SELECT json_agg(json_build_array(c.at, c.note) \
     ORDER BY c.at, c.id)::text FROM corrections c WHERE c.article_id = a.id)";
/// The keys of the stories pinned to an article (`a`) as a JSON array, in order.
const PINNED_JSON: &str = "(SELECT json_agg(r.related_key ORDER BY r.position)::text \
     FROM article_related r WHERE r.article_id = a.id)";

/// A JSON array of the column `column`'s values, as text.
fn json_list(column: &str) -> String {
    format!("COALESCE(json_agg({column})::text, '[]')")
}

/// [`Store::backup`]: PostgreSQL's own tools do it.
async fn backup_to(_: &PgPool, _: &std::path::Path) -> Result<(), StorageError> {
    Err(StorageError::NotFound(
        "a backup command for PostgreSQL in Dateline: use pg_dump --format=custom \
         (see docs/deploy.md)"
            .to_string(),
    ))
}

include!("engine.rs");
