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
    /// A read replica the pages' reads go to, while it keeps up.
    replica: Option<std::sync::Arc<Replica>>,
    /// This process's commits, and the signal of new changes: see [`Store::commits`] and
    /// [`Store::changes_signal`].
    signals: std::sync::Arc<crate::Signals>,
}

/// The longest a write waits for the read replica to hold it before the node leaves the replica
/// (a replica that lags this much is failing its readers anyway).
pub(crate) const CATCH_UP: Duration = Duration::from_secs(5);

/// A connection pool to the database at `url`.
async fn pool(url: &str) -> Result<PgPool, StorageError> {
    pool_of(url, false).await
}

async fn pool_of(url: &str, read_only: bool) -> Result<PgPool, StorageError> {
    let options: PgConnectOptions = url.parse()?;
    let mut options = options.application_name("dateline");
    if read_only {
        options = options.options([("default_transaction_read_only", "on")]);
    }
    Ok(PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await?)
}

/// A streaming read replica of the primary, and whether it keeps up.
#[derive(Debug)]
pub(crate) struct Replica {
    pool: PgPool,
    primary: PgPool,
    /// False once it fell [`CATCH_UP`] behind or failed: reads go to the primary from then on.
    healthy: std::sync::atomic::AtomicBool,
}

impl Replica {
    /// Waits until the replica has replayed everything the primary has committed now (a write
    /// of this node's just committed: its commit record is before the log's insert position,
    /// even with `synchronous_commit` off); leaves the replica if that takes longer than
    /// [`CATCH_UP`] or cannot be told.
    pub(crate) async fn catch_up(&self) {
        use std::sync::atomic::Ordering;
        if !self.healthy.load(Ordering::Acquire) {
            return;
        }
        let started = std::time::Instant::now();
        let outcome = async {
            let target: i64 =
                sqlx::query_scalar("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::BIGINT")
                    .fetch_one(&self.primary)
                    .await?;
            // Asked again after 1 ms, then twice as long each time up to 50 ms: a replica that
            // keeps up answers within a few asks, and one that lags is not asked thousands of
            // times a write.
            let mut wait = Duration::from_millis(1);
            while started.elapsed() < CATCH_UP {
                let replayed: Option<i64> =
                    sqlx::query_scalar("SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::BIGINT")
                        .fetch_one(&self.pool)
                        .await?;
                match replayed {
                    Some(replayed) if replayed >= target => return Ok::<bool, sqlx::Error>(true),
                    Some(_) => {}
                    // No longer a standby (promoted): it cannot say.
                    None => return Ok(false),
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(50));
            }
            Ok(false)
        }
        .await;
        match outcome {
            Ok(true) => {}
            Ok(false) => {
                self.healthy.store(false, Ordering::Release);
                tracing::error!(waited = ?CATCH_UP, "the read replica fell behind: this node reads from the primary until it restarts");
            }
            Err(e) => {
                self.healthy.store(false, Ordering::Release);
                tracing::error!(error = %e, "the read replica failed: this node reads from the primary until it restarts");
            }
        }
    }
}

/// The advisory lock every write transaction holds: `dateline` in ASCII.
pub(crate) const WRITE_LOCK: i64 = 0x6461_7465_6c69_6e65;

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/name`) and
    /// applies pending migrations. Nodes starting at once migrate one at a time (sqlx holds an
    /// advisory lock while it migrates).
    pub async fn connect(url: &str) -> Result<PgStore, StorageError> {
        PgStore::connect_with_replica(url, None).await
    }

    /// [`PgStore::connect`], with the pages' reads (articles, listings, feeds, the stream)
    /// going to the read replica at `replica`, a streaming standby of the primary at `url`.
    /// Every write, and what editors and followers read to decide (accounts, sessions, drafts,
    /// positions), goes to the primary. A node acknowledges its write once the replica holds
    /// it, so it never serves a page older than its own acknowledged write; a replica that
    /// falls more than [`CATCH_UP`] behind is left, and reads go to the primary until the node
    /// restarts.
    pub async fn connect_with_replica(
        url: &str,
        replica: Option<&str>,
    ) -> Result<PgStore, StorageError> {
        let pool = pool(url).await?;
        // A node of the previous release may start on a schema the next one migrated (a
        // rolling upgrade): migrations are additive, and those it does not know are left alone.
        let mut migrator = sqlx::migrate!("migrations/postgres");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        tracing::debug!("connected to the PostgreSQL store");
        let signals: std::sync::Arc<crate::Signals> = Default::default();
        tokio::spawn(listen(pool.clone(), std::sync::Arc::downgrade(&signals)));
        let replica = match replica {
            Some(url) => {
                let replica = pool_of(url, true).await?;
                // A server that is not a standby replaying the primary's log (a copy, a logical
                // replica, the primary itself) cannot say when it holds a write.
                let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                    .fetch_one(&replica)
                    .await?;
                if !standby {
                    return Err(StorageError::Conflict(
                        "the read replica is not a standby replaying the primary's log \
                         (pg_is_in_recovery() is false)"
                            .to_string(),
                    ));
                }
                Some(std::sync::Arc::new(Replica {
                    pool: replica,
                    primary: pool.clone(),
                    healthy: std::sync::atomic::AtomicBool::new(true),
                }))
            }
            None => None,
        };
        Ok(PgStore {
            pool,
            replica,
            signals,
        })
    }

    /// Where the pages' reads go: the replica while it keeps up, else the primary.
    fn reader(&self) -> &PgPool {
        match &self.replica {
            Some(replica) if replica.healthy.load(std::sync::atomic::Ordering::Acquire) => {
                &replica.pool
            }
            _ => &self.pool,
        }
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
            replica: self.replica.clone(),
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

/// The database's clock, in Unix milliseconds.
const NOW_MS: &str = "CAST(floor(extract(epoch FROM clock_timestamp()) * 1000) AS BIGINT)";

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
