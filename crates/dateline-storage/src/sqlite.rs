//! The SQLite implementation of [`Store`], the default engine: one file, embedded.
//!
//! Every write transaction begins with `BEGIN IMMEDIATE`, taking the write lock before it reads:
//! a deferred transaction that reads first and then needs the lock fails at once when another
//! writer holds it, whatever the busy timeout. A batch that still meets a busy database is
//! retried whole.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

use crate::Workload;

/// The newsroom in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// This process's commits, and the signal of new changes: see [`Store::commits`] and
    /// [`Store::changes_signal`].
    signals: std::sync::Arc<crate::Signals>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations, for
    /// a server ([`Workload::Serving`]).
    pub async fn open(path: &Path) -> Result<SqliteStore, StorageError> {
        SqliteStore::open_for(path, Workload::Serving).await
    }

    /// [`SqliteStore::open`], for `workload`: it sets the pages each connection keeps.
    pub async fn open_for(path: &Path, workload: Workload) -> Result<SqliteStore, StorageError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", workload.sqlite_cache_size())
            // The log is copied into the database every 128 MB rather than every 4 MB: a page an
            // import writes again and again (a topic's, a reporter's index page) is copied once
            // for many batches (1,000,000 generated articles: 98 s at 16 MB, 92 s at 128 MB).
            .pragma("wal_autocheckpoint", "32000");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        // Two processes may open a new file at once: each migration is a transaction, and the
        // one that loses the race fails on the tables the other made, then finds them applied.
        let mut attempt: u64 = 0;
        loop {
            attempt += 1;
            // A node of the previous release may start on a schema the next one migrated
            // (a rolling upgrade): migrations are additive, and those it does not know are
            // left alone.
            let mut migrator = sqlx::migrate!("migrations/sqlite");
            migrator.set_ignore_missing(true);
            match migrator.run(&pool).await {
                Ok(()) => break,
                Err(e) if attempt < 5 => {
                    tracing::info!(error = %e, attempt, "another process is migrating the database; trying again");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let store = SqliteStore {
            pool,
            signals: Default::default(),
        };
        // Another process may hold the write lock a while (an import): the backfill waits.
        let mut attempt: u64 = 0;
        loop {
            attempt += 1;
            match store.backfill_people().await {
                Ok(()) => break,
                Err(e) if e.is_transient() && attempt < ATTEMPTS.into() => {
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
        tracing::debug!(path = %path.display(), "opened SQLite store");
        Ok(store)
    }

    /// Fills `article_people` for the articles stored before it existed, once, in batches.
    async fn backfill_people(&self) -> Result<(), StorageError> {
        let done: Option<String> =
            sqlx::query_scalar("SELECT name FROM backfills WHERE name = 'people'")
                .fetch_optional(&self.pool)
                .await?;
        if done.is_some() {
            return Ok(());
        }
        let mut last = 0i64;
        loop {
            let mut tx = self.write().await?;
            let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
                "SELECT id, byline FROM articles WHERE id > $1 ORDER BY id LIMIT 2000",
            )
            .bind(last)
            .fetch_all(&mut *tx)
            .await?;
            let Some((end, _)) = rows.last() else {
                sqlx::query(
                    "INSERT INTO backfills (name) VALUES ('people') ON CONFLICT (name) DO NOTHING",
                )
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(());
            };
            last = *end;
            for (id, byline) in &rows {
                write_people(&mut tx, *id, byline.as_deref(), true).await?;
            }
            tx.commit().await?;
        }
    }

    /// Opens the SQLite database `database` names: a `sqlite:` URL or a file's path.
    pub async fn open_named(
        database: &str,
        workload: Workload,
    ) -> Result<SqliteStore, StorageError> {
        if database.starts_with("sqlite:") {
            SqliteStore::open_url(database, workload).await
        } else {
            SqliteStore::open_for(Path::new(database), workload).await
        }
    }

    /// Opens a database from a URL such as `sqlite:///var/lib/dateline/news.db`.
    pub async fn open_url(url: &str, workload: Workload) -> Result<SqliteStore, StorageError> {
        let options = SqliteConnectOptions::from_str(url)?;
        let path = options.get_filename().to_path_buf();
        SqliteStore::open_for(&path, workload).await
    }

    /// The store's pool, for a copy of the whole newsroom (`copy.rs`).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction that holds the write lock from its first statement.
    async fn write(&self) -> Result<WriteTx, StorageError> {
        Ok(WriteTx {
            tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
            signals: self.signals.clone(),
            replica: None,
        })
    }

    /// Where the pages' reads go: the one file.
    fn reader(&self) -> &SqlitePool {
        &self.pool
    }
}

// The engine's SQL and the [`Store`] implementation, shared with PostgreSQL (`engine.rs`), for
// these types and this dialect.
type Engine = SqliteStore;
type Db = Sqlite;
type Conn = SqliteConnection;
type DbRow = SqliteRow;

/// Joins a person's rows to their articles in that order (SQLite's planner keeps a CROSS
/// JOIN's order): one person's few stories, not a walk through a whole edition to find them.
const PERSON_FIRST: &str = "CROSS JOIN";
/// Case-insensitive `LIKE` (SQLite's `LIKE` is, for ASCII).
const LIKE: &str = "LIKE";
/// The `t` values of the rows before it in `article_reach` for the article `$1`, as a
/// subquery's `SELECT` list and source.
const REACH_BEFORE: &str = "value FROM article_reach r, json_each(r.reach) WHERE r.article_id = $1";
/// An article's corrections (`a`) as a JSON array of `[at, note]`, oldest first.
const CORRECTIONS_JSON: &str = "(SELECT json_group_array(json_array(c.at, c.note)) FROM \
     (SELECT at, note FROM corrections WHERE article_id = a.id ORDER BY at, id) c)";
/// The keys of the stories pinned to an article (`a`) as a JSON array, in order.
const PINNED_JSON: &str = "(SELECT json_group_array(related_key) FROM \
     (SELECT related_key FROM article_related WHERE article_id = a.id ORDER BY position))";

/// The database's clock, in Unix milliseconds.
const NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

/// A JSON array of the column `column`'s values, as text.
fn json_list(column: &str) -> String {
    format!("json_group_array({column})")
}

/// [`Store::backup`]: `VACUUM INTO` writes the database as one read transaction sees it, so a
/// backup taken while editors publish holds every commit before it and none after.
async fn backup_to(pool: &SqlitePool, to: &Path) -> Result<(), StorageError> {
    if to.exists() {
        return Err(StorageError::Conflict(format!(
            "{} exists: a backup is written to a new file",
            to.display()
        )));
    }
    let target = to
        .to_str()
        .ok_or_else(|| StorageError::NotFound(format!("a UTF-8 path for {}", to.display())))?;
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(pool)
        .await?;
    // It holds password and token digests and webhook secrets: for its owner only.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StorageError::Corrupt(format!("{}: {e}", to.display())))?;
    }
    Ok(())
}

include!("engine.rs");

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_keeps_fewer_pages_a_connection_than_an_import() {
        let dir = tempfile::tempdir().unwrap();
        for (workload, kib) in [(Workload::Serving, -8192i64), (Workload::Bulk, -32768)] {
            let store = SqliteStore::open_for(&dir.path().join("pages.db"), workload)
                .await
                .unwrap();
            // Every connection of the pool, not only the first one made.
            let mut held = Vec::new();
            for _ in 0..3 {
                let mut conn = store.pool.acquire().await.unwrap();
                let size: i64 = sqlx::query_scalar("PRAGMA cache_size")
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
                assert_eq!(size, kib, "{workload:?}");
                held.push(conn);
            }
        }
    }

    #[tokio::test]
    async fn the_sitemap_index_reads_an_index_and_not_the_articles() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("plan.db"))
            .await
            .unwrap();
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {}", SITEMAP_SPANS))
                .bind(crate::SITEMAP_SPAN)
                .bind(0i64)
                .fetch_all(&store.pool)
                .await
                .unwrap();
        let plan: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        assert!(
            plan.iter()
                .any(|step| step.contains("COVERING INDEX articles_sitemap")),
            "{plan:?}"
        );
    }
}
