//! Copies a whole newsroom from one store to another, SQLite to PostgreSQL or back
//! (`dateline migrate-store`): every table, row for row, ids and the stream's positions kept,
//! into an empty target, in one transaction of the target (a failed copy leaves it as empty as
//! it was), then counted on both sides.

use futures_util::TryStreamExt;
use sqlx::{PgPool, QueryBuilder, Row, SqlitePool};

use crate::StorageError;

/// The tables copied, each after those it refers to. `_sqlx_migrations` is each engine's own;
/// `backfills` says what a store made before a table existed needs, which a fresh target's
/// migrations settle; `leases` are held by running nodes, which a copy has none of.
pub const TABLES: &[&str] = &[
    "sections",
    "series",
    "topics",
    "accounts",
    "articles",
    "article_related",
    "article_topics",
    "front_slots",
    "changes",
    "stream_positions",
    "webhooks",
    "api_tokens",
    "revisions",
    "corrections",
    "audit_log",
    "sessions",
    "article_opens",
    "media",
    "related_blocks",
    "redirects",
    "article_people",
    "article_reach",
    "threads",
    "article_threads",
];

/// Rows one insert statement writes at most.
const ROWS: usize = 500;

/// One end of a copy: a store's own pool.
#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    /// Opens the database `database` names to read it: as it is, never made, migrated nor
    /// written (a SQLite file is opened read-only).
    async fn open_source(database: &str) -> Result<Pool, StorageError> {
        if crate::is_postgres(database) {
            let options: sqlx::postgres::PgConnectOptions = database.parse()?;
            return Ok(Pool::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect_with(options.application_name("dateline migrate-store"))
                    .await?,
            ));
        }
        let options = match database.strip_prefix("sqlite:") {
            Some(_) => database.parse::<sqlx::sqlite::SqliteConnectOptions>()?,
            None => sqlx::sqlite::SqliteConnectOptions::new().filename(database),
        };
        let path = options.get_filename().to_path_buf();
        if !path.is_file() {
            return Err(StorageError::NotFound(format!(
                "the database file {}",
                path.display()
            )));
        }
        Ok(Pool::Sqlite(
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options.read_only(true).create_if_missing(false))
                .await?,
        ))
    }

    /// Opens the store `database` names (migrating it), for its pool.
    async fn open(database: &str) -> Result<Pool, StorageError> {
        Ok(if crate::is_postgres(database) {
            Pool::Postgres(crate::PgStore::connect(database).await?.pool().clone())
        } else {
            let store = crate::SqliteStore::open_named(database, crate::Workload::Bulk).await?;
            Pool::Sqlite(store.pool().clone())
        })
    }
}

/// A value of a row: every column of Dateline's schema is an integer or text.
#[derive(Debug, Clone)]
enum Value {
    Null,
    Int(i64),
    Text(String),
}

/// What a copy did: the rows of each table, as counted in the source and then in the target.
#[derive(Debug, Clone, Default)]
pub struct CopyReport {
    pub tables: Vec<(String, u64, u64)>,
}

impl CopyReport {
    /// Whether every table has as many rows in the target as in the source.
    pub fn verified(&self) -> bool {
        self.tables.iter().all(|(_, from, to)| from == to)
    }
}

/// Copies everything in the database `from` names into the one `to` names (each a SQLite path
/// or a `postgres://` URL, as [`crate::open`] takes them). The source is read, never changed
/// nor migrated, as one transaction sees it; the target is made or migrated first, and must
/// hold no article, account, change or section. `progress` hears what is copied.
pub async fn copy_store(
    from: &str,
    to: &str,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<CopyReport, StorageError> {
    let source = Pool::open_source(from).await?;
    let target = Pool::open(to).await?;
    for table in ["articles", "accounts", "changes", "sections"] {
        if count(&target, table).await? > 0 {
            return Err(StorageError::Conflict(format!(
                "the target already holds {table}: migrate-store copies into an empty newsroom only"
            )));
        }
    }
    let mut columns = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        columns.push(columns_of(&source, &target, table).await?);
    }
    let mut read = read(source, columns.clone());
    let totals = match read.recv().await {
        Some(Read::Counts(totals)) => totals,
        Some(Read::Failed(e)) => return Err(e),
        _ => {
            return Err(StorageError::Corrupt(
                "the source's reader stopped".to_string(),
            ))
        }
    };
    progress(Progress::Begin {
        rows: totals.iter().sum(),
    });
    let mut writing = match &target {
        Pool::Sqlite(pool) => Writing::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        Pool::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            // As every write: under the write lock (see `postgres.rs`).
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(crate::postgres::WRITE_LOCK)
                .execute(&mut *tx)
                .await?;
            Writing::Postgres(tx)
        }
    };
    let mut at = usize::MAX;
    let mut whole = false;
    while let Some(message) = read.recv().await {
        match message {
            Read::Rows(table, batch) => {
                if table != at {
                    at = table;
                    progress(Progress::Table {
                        table: TABLES[table],
                        rows: totals[table],
                    });
                }
                let (name, columns) = (TABLES[table], &columns[table]);
                match &mut writing {
                    Writing::Sqlite(tx) => insert_sqlite(tx, name, columns, &batch).await?,
                    Writing::Postgres(tx) => insert_postgres(tx, name, columns, &batch).await?,
                }
                progress(Progress::Rows(batch.len() as u64));
            }
            Read::Failed(e) => return Err(e),
            Read::Done => {
                whole = true;
                break;
            }
            Read::Counts(_) => {
                return Err(StorageError::Corrupt(
                    "the source's reader counted twice".to_string(),
                ))
            }
        }
    }
    // Nothing is committed of a copy the reader did not finish: the target stays empty.
    if !whole {
        return Err(StorageError::Corrupt(
            "the source's reader stopped before the end".to_string(),
        ));
    }
    match writing {
        Writing::Sqlite(tx) => tx.commit().await?,
        Writing::Postgres(mut tx) => {
            // Ids the target gives from now on follow the copied ones.
            for (table, columns) in TABLES.iter().zip(&columns) {
                for column in columns.iter().filter(|c| c.identity) {
                    sqlx::query(&format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', '{name}'), \
                         COALESCE(MAX({name}), 0) + 1, false) FROM {table}",
                        name = column.name
                    ))
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
        }
    }
    let mut report = CopyReport::default();
    for (table, total) in TABLES.iter().zip(totals) {
        report
            .tables
            .push((table.to_string(), total, count(&target, table).await?));
    }
    Ok(report)
}

/// The target's transaction, of its engine.
enum Writing {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// What the source's reader sends: every table's count, then each table's rows in batches,
/// all as one read transaction sees the source.
enum Read {
    Counts(Vec<u64>),
    Rows(usize, Vec<Vec<Value>>),
    Failed(StorageError),
    Done,
}

/// Reads the whole source in one read transaction (PostgreSQL: repeatable read), on a task of
/// its own while the target writes: the copy is of one moment, even while the source is used.
fn read(source: Pool, columns: Vec<Vec<Column>>) -> tokio::sync::mpsc::Receiver<Read> {
    let (send, receive) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let outcome = match &source {
            Pool::Sqlite(pool) => {
                let work = async {
                    let mut tx = pool.begin().await?;
                    read_all_sqlite(&mut tx, &columns, &send).await
                };
                work.await
            }
            Pool::Postgres(pool) => {
                let work = async {
                    let mut tx = pool.begin().await?;
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        .execute(&mut *tx)
                        .await?;
                    read_all_postgres(&mut tx, &columns, &send).await
                };
                work.await
            }
        };
        let _ = send
            .send(match outcome {
                Ok(()) => Read::Done,
                Err(e) => Read::Failed(e),
            })
            .await;
    });
    receive
}

/// The reading itself, on one connection in a transaction (for each engine: sqlx's executors
/// are typed by it).
macro_rules! read_all_for {
    ($name:ident, $db:ty) => {
        async fn $name(
            conn: &mut sqlx::Transaction<'_, $db>,
            columns: &[Vec<Column>],
            send: &tokio::sync::mpsc::Sender<Read>,
        ) -> Result<(), StorageError> {
            let mut totals = Vec::with_capacity(TABLES.len());
            for table in TABLES {
                let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                    .fetch_one(&mut **conn)
                    .await?;
                totals.push(u64::try_from(n).unwrap_or(0));
            }
            if send.send(Read::Counts(totals)).await.is_err() {
                return Ok(());
            }
            for (at, (table, columns)) in TABLES.iter().zip(columns).enumerate() {
                let list: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                let sql = format!("SELECT {} FROM {table}", list.join(", "));
                let mut rows = sqlx::query(&sql).fetch(&mut **conn);
                let mut batch = Vec::with_capacity(ROWS);
                while let Some(row) = rows.try_next().await? {
                    batch.push(values(&row, columns.len())?);
                    if batch.len() == ROWS {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(ROWS));
                        if send.send(Read::Rows(at, full)).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                if !batch.is_empty() && send.send(Read::Rows(at, batch)).await.is_err() {
                    return Ok(());
                }
            }
            Ok(())
        }
    };
}

read_all_for!(read_all_sqlite, sqlx::Sqlite);
read_all_for!(read_all_postgres, sqlx::Postgres);

/// Checks a SQLite file (a backup, before it is restored) page by page and rule by rule:
/// SQLite's `integrity_check` and `foreign_key_check`, without changing it.
pub async fn check_sqlite_file(path: &std::path::Path) -> Result<(), StorageError> {
    use sqlx::{ConnectOptions, Connection};
    if !path.is_file() {
        return Err(StorageError::NotFound(format!(
            "the file {}",
            path.display()
        )));
    }
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await?;
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await?;
    if integrity != ["ok"] {
        return Err(StorageError::Corrupt(format!(
            "{} fails SQLite's integrity check: {}",
            path.display(),
            integrity.join("; ")
        )));
    }
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut conn)
        .await?;
    if let Some(row) = broken.first() {
        let table: String = row.try_get(0)?;
        return Err(StorageError::Corrupt(format!(
            "{} has {} rows that name what is not there (the first in {table})",
            path.display(),
            broken.len()
        )));
    }
    conn.close().await?;
    Ok(())
}

/// What a copy is doing, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// The copy begins, of this many rows in all.
    Begin { rows: u64 },
    /// A table's copy begins.
    Table { table: &'a str, rows: u64 },
    /// These many more rows were copied.
    Rows(u64),
}

/// A column of a table, as both ends have it.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    /// Whether the target keeps integers in it (a NULL is bound with the column's type).
    integer: bool,
    /// Whether the target numbers it itself (PostgreSQL's identity columns).
    identity: bool,
}

/// The columns of `table`, which must be the same at both ends.
async fn columns_of(
    source: &Pool,
    target: &Pool,
    table: &str,
) -> Result<Vec<Column>, StorageError> {
    let from = describe(source, table).await?;
    let to = describe(target, table).await?;
    let names = |c: &[Column]| {
        let mut n: Vec<String> = c.iter().map(|c| c.name.clone()).collect();
        n.sort();
        n
    };
    if names(&from) != names(&to) {
        return Err(StorageError::Corrupt(format!(
            "table {table} has the columns {:?} in the source and {:?} in the target: \
             are both at the same version of Dateline?",
            names(&from),
            names(&to)
        )));
    }
    Ok(to)
}

async fn describe(pool: &Pool, table: &str) -> Result<Vec<Column>, StorageError> {
    let columns = match pool {
        Pool::Sqlite(pool) => {
            sqlx::query("SELECT name, type, pk FROM pragma_table_info($1) ORDER BY cid")
                .bind(table)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(Column {
                        name: r.try_get(0)?,
                        integer: r.try_get::<String, _>(1)?.eq_ignore_ascii_case("INTEGER"),
                        identity: false,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        }
        Pool::Postgres(pool) => sqlx::query(
            "SELECT column_name::text, data_type::text, is_identity::text \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Column {
                name: r.try_get(0)?,
                integer: r.try_get::<String, _>(1)? == "bigint",
                identity: r.try_get::<String, _>(2)? == "YES",
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?,
    };
    if columns.is_empty() {
        return Err(StorageError::NotFound(format!("table {table}")));
    }
    Ok(columns)
}

async fn count(pool: &Pool, table: &str) -> Result<u64, StorageError> {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let n: i64 = match pool {
        Pool::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await?,
        Pool::Postgres(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await?,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// A row's values: NULL, an integer, or text, as the source holds each.
fn values<R: Row>(row: &R, width: usize) -> Result<Vec<Value>, StorageError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    use sqlx::ValueRef;
    (0..width)
        .map(|i| {
            if row.try_get_raw(i)?.is_null() {
                return Ok(Value::Null);
            }
            Ok(match row.try_get::<i64, _>(i) {
                Ok(n) => Value::Int(n),
                Err(_) => Value::Text(row.try_get(i)?),
            })
        })
        .collect()
}

/// Writes `rows` into `table` of the target, in one statement (for each engine: sqlx's
/// query builder is typed by it).
macro_rules! insert_for {
    ($name:ident, $db:ty) => {
        async fn $name(
            conn: &mut sqlx::Transaction<'_, $db>,
            table: &str,
            columns: &[Column],
            rows: &[Vec<Value>],
        ) -> Result<(), StorageError> {
            if rows.is_empty() {
                return Ok(());
            }
            check(table, columns, rows)?;
            let list: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            let mut q =
                QueryBuilder::<$db>::new(format!("INSERT INTO {table} ({}) ", list.join(", ")));
            q.push_values(rows, |mut b, row| {
                for (value, column) in row.iter().zip(columns) {
                    match (value, column.integer) {
                        (Value::Int(n), true) => b.push_bind(*n),
                        (Value::Int(n), false) => b.push_bind(n.to_string()),
                        (Value::Text(t), false) => b.push_bind(t.clone()),
                        (Value::Text(t), true) => b.push_bind(t.parse::<i64>().unwrap_or_default()),
                        (Value::Null, true) => b.push_bind(None::<i64>),
                        (Value::Null, false) => b.push_bind(None::<String>),
                    };
                }
            });
            q.build().execute(&mut **conn).await?;
            Ok(())
        }
    };
}

insert_for!(insert_sqlite, sqlx::Sqlite);
insert_for!(insert_postgres, sqlx::Postgres);

/// SQLite may hold text in an integer column: the target's type decides, and what it cannot
/// hold is refused, naming the table and column.
fn check(table: &str, columns: &[Column], rows: &[Vec<Value>]) -> Result<(), StorageError> {
    for row in rows {
        for (value, column) in row.iter().zip(columns) {
            if let (Value::Text(t), true) = (value, column.integer) {
                if t.parse::<i64>().is_err() {
                    return Err(StorageError::Corrupt(format!(
                        "{table}.{} holds {t:?}, which is not an integer",
                        column.name
                    )));
                }
            }
        }
    }
    Ok(())
}
