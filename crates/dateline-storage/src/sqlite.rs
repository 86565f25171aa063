//! The SQLite implementation of [`Store`], the default engine: one file, embedded.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use dateline_core::collections::name_from_key;
use dateline_core::{
    Article, ArticleId, ArticleKey, ArticleLink, Lang, Localized, NewArticle, SafeHtml, Section,
    Series, SeriesEpisode, Slug, Topic,
};
use jiff::Timestamp;
use serde_json::json;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection, SqlitePool};

use crate::{stable_digest, Filter, Listing, StorageError, Store, Upserted};

/// The newsroom in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

const LINK_COLUMNS: &str = "a.id, a.key, a.headline, a.summary, a.lang, s.key, s.code, a.credit, \
     a.published_at, a.updated_at, a.episode";
const LINK_FROM: &str = "articles a JOIN sections s ON s.id = a.section_id";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore, StorageError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        tracing::debug!(path = %path.display(), "opened SQLite store");
        Ok(SqliteStore { pool })
    }

    /// Opens a database from a URL such as `sqlite:///var/lib/dateline/news.db`.
    pub async fn open_url(url: &str) -> Result<SqliteStore, StorageError> {
        let options = SqliteConnectOptions::from_str(url)?;
        let path = options.get_filename().to_path_buf();
        SqliteStore::open(&path).await
    }
}

fn ts(seconds: i64) -> Result<Timestamp, StorageError> {
    Timestamp::from_second(seconds)
        .map_err(|e| StorageError::Corrupt(format!("time {seconds}: {e}")))
}

fn localized(text: &str) -> Result<Localized, StorageError> {
    serde_json::from_str(text)
        .map_err(|e| StorageError::Corrupt(format!("localized text {text:?}: {e}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serializing maps of strings and lists of strings cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

fn slug(text: String) -> Result<Slug, StorageError> {
    Slug::parse(&text).map_err(|e| StorageError::Corrupt(e.to_string()))
}

fn link_from_row(row: &SqliteRow) -> Result<ArticleLink, StorageError> {
    let lang: String = row.try_get(4)?;
    let key: String = row.try_get(1)?;
    Ok(ArticleLink {
        id: ArticleId(row.try_get(0)?),
        key: ArticleKey::parse(&key).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        headline: row.try_get(2)?,
        summary: row.try_get(3)?,
        lang: Lang::parse(&lang).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        section_key: slug(row.try_get(5)?)?,
        section_code: u32::try_from(row.try_get::<i64, _>(6)?)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
        credit: row.try_get(7)?,
        published: ts(row.try_get(8)?)?,
        updated: row.try_get::<Option<i64>, _>(9)?.map(ts).transpose()?,
        episode: row
            .try_get::<Option<i64>, _>(10)?
            .and_then(|e| u32::try_from(e).ok()),
    })
}

fn links(rows: &[SqliteRow]) -> Result<Vec<ArticleLink>, StorageError> {
    rows.iter().map(link_from_row).collect()
}

/// The digest of everything an import sets, to recognise an unchanged article.
fn content_hash(a: &NewArticle) -> String {
    let canonical = json!([
        a.headline,
        a.summary,
        a.body.as_str(),
        a.lang.as_str(),
        a.section.as_str(),
        a.byline,
        a.credit,
        a.web_editors,
        a.published.as_second(),
        a.updated.map(|t| t.as_second()),
        a.related.iter().map(ArticleKey::as_str).collect::<Vec<_>>(),
        a.translation_of.as_ref().map(ArticleKey::as_str),
        a.series.as_ref().map(|s| (s.series.as_str(), s.episode)),
        a.topics.iter().map(Slug::as_str).collect::<Vec<_>>(),
    ]);
    stable_digest(canonical.to_string().as_bytes())
}

/// Ids of sections, series and topics looked up or created during one import batch.
#[derive(Default)]
struct KeyIds {
    sections: HashMap<String, i64>,
    series: HashMap<String, i64>,
    topics: HashMap<String, i64>,
}

/// The id of the section, series or topic with `key`, created (named after its key) if an
/// import names one that does not exist yet.
async fn collection_id(
    conn: &mut SqliteConnection,
    cache: &mut HashMap<String, i64>,
    table: &'static str,
    key: &Slug,
) -> Result<i64, StorageError> {
    if let Some(id) = cache.get(key.as_str()) {
        return Ok(*id);
    }
    let found: Option<i64> = sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE key = $1"))
        .bind(key.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let id = match found {
        Some(id) => id,
        None => {
            tracing::info!(table, key = %key, "creating what an import names");
            let insert = match table {
                "sections" => {
                    "INSERT INTO sections (key, name, code, position) \
                     VALUES ($1, $2, (SELECT COALESCE(MAX(code), 9999) + 1 FROM sections), \
                             (SELECT COALESCE(MAX(position), 0) + 1 FROM sections)) RETURNING id"
                }
                "series" => "INSERT INTO series (key, title, description, partners) VALUES ($1, $2, '{}', '[]') RETURNING id",
                _ => "INSERT INTO topics (key, title, intro) VALUES ($1, $2, '{}') RETURNING id",
            };
            sqlx::query_scalar(insert)
                .bind(key.as_str())
                .bind(to_json(&Localized::new("en", name_from_key(key))))
                .fetch_one(&mut *conn)
                .await?
        }
    };
    cache.insert(key.to_string(), id);
    Ok(id)
}

async fn upsert_article(
    conn: &mut SqliteConnection,
    ids: &mut KeyIds,
    a: &NewArticle,
) -> Result<Upserted, StorageError> {
    let hash = content_hash(a);
    let existing: Option<(i64, String)> =
        sqlx::query_as("SELECT id, content_hash FROM articles WHERE key = $1")
            .bind(a.key.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    if let Some((id, old_hash)) = &existing {
        if *old_hash == hash {
            return Ok(Upserted::Unchanged(ArticleId(*id)));
        }
    }
    let section = collection_id(conn, &mut ids.sections, "sections", &a.section).await?;
    let series = match &a.series {
        Some(s) => Some(collection_id(conn, &mut ids.series, "series", &s.series).await?),
        None => None,
    };
    // Translations share the group of their original, even when that original is itself a
    // translation.
    let group: String = match &a.translation_of {
        Some(original) => {
            sqlx::query_scalar("SELECT translation_group FROM articles WHERE key = $1")
                .bind(original.as_str())
                .fetch_optional(&mut *conn)
                .await?
                .unwrap_or_else(|| original.to_string())
        }
        None => a.key.to_string(),
    };
    // An article changed by a later import was updated then, unless the source says when.
    let updated = match (a.updated, &existing) {
        (Some(t), _) => Some(t),
        (None, Some(_)) => Some(Timestamp::now().max(a.published)),
        (None, None) => None,
    };
    let query = if existing.is_some() {
        "UPDATE articles SET headline = $2, summary = $3, body_html = $4, lang = $5, section_id = $6, byline = $7, \
         credit = $8, web_editors = $9, published_at = $10, updated_at = $11, translation_group = $12, \
         series_id = $13, episode = $14, content_hash = $15 WHERE key = $1 RETURNING id"
    } else {
        "INSERT INTO articles (key, headline, summary, body_html, lang, section_id, byline, credit, web_editors, \
         published_at, updated_at, translation_group, series_id, episode, content_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id"
    };
    let id: i64 = sqlx::query_scalar(query)
        .bind(a.key.as_str())
        .bind(&a.headline)
        .bind(&a.summary)
        .bind(a.body.as_str())
        .bind(a.lang.as_str())
        .bind(section)
        .bind(&a.byline)
        .bind(&a.credit)
        .bind(to_json(&a.web_editors))
        .bind(a.published.as_second())
        .bind(updated.map(|t| t.as_second()))
        .bind(&group)
        .bind(series)
        .bind(a.series.as_ref().map(|s| i64::from(s.episode)))
        .bind(&hash)
        .fetch_one(&mut *conn)
        .await?;
    // Translations imported before this article joined the group named by its key.
    if group != a.key.as_str() {
        sqlx::query("UPDATE articles SET translation_group = $1 WHERE translation_group = $2")
            .bind(&group)
            .bind(a.key.as_str())
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM article_related WHERE article_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for (position, key) in a.related.iter().enumerate() {
        sqlx::query(
            "INSERT INTO article_related (article_id, position, related_key) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(position as i64)
        .bind(key.as_str())
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("DELETE FROM article_topics WHERE article_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for topic in &a.topics {
        let topic = collection_id(conn, &mut ids.topics, "topics", topic).await?;
        sqlx::query("INSERT INTO article_topics (article_id, topic_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(topic)
            .execute(&mut *conn)
            .await?;
    }
    Ok(if existing.is_some() {
        Upserted::Updated(ArticleId(id))
    } else {
        Upserted::Inserted(ArticleId(id))
    })
}

#[async_trait]
impl Store for SqliteStore {
    #[tracing::instrument(skip_all, fields(section = %section.key))]
    async fn put_section(&self, section: &Section) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await?;
        let taken: Option<String> =
            sqlx::query_scalar("SELECT key FROM sections WHERE code = $1 AND key <> $2")
                .bind(i64::from(section.code))
                .bind(section.key.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(other) = taken {
            return Err(StorageError::Conflict(format!(
                "section code {} already belongs to section {other:?}",
                section.code
            )));
        }
        sqlx::query(
            "INSERT INTO sections (key, code, name, position) \
             VALUES ($1, $2, $3, (SELECT COALESCE(MAX(position), 0) + 1 FROM sections)) \
             ON CONFLICT (key) DO UPDATE SET code = excluded.code, name = excluded.name",
        )
        .bind(section.key.as_str())
        .bind(i64::from(section.code))
        .bind(to_json(&section.name))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(series = %series.key))]
    async fn put_series(&self, series: &Series) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO series (key, title, description, partners) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET title = excluded.title, description = excluded.description, \
             partners = excluded.partners",
        )
        .bind(series.key.as_str())
        .bind(to_json(&series.title))
        .bind(to_json(&series.description))
        .bind(to_json(&series.partners))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(topic = %topic.key))]
    async fn put_topic(&self, topic: &Topic) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO topics (key, title, intro) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET title = excluded.title, intro = excluded.intro",
        )
        .bind(topic.key.as_str())
        .bind(to_json(&topic.title))
        .bind(to_json(&topic.intro))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(articles = batch.len()))]
    async fn import_articles(
        &self,
        batch: &[NewArticle],
    ) -> Result<Vec<Result<Upserted, StorageError>>, StorageError> {
        let mut tx = self.pool.begin().await?;
        let mut ids = KeyIds::default();
        let mut outcomes = Vec::with_capacity(batch.len());
        for article in batch {
            // A savepoint per article: one that fails is rolled back alone.
            let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
            match upsert_article(&mut savepoint, &mut ids, article).await {
                Ok(outcome) => {
                    savepoint.commit().await?;
                    outcomes.push(Ok(outcome));
                }
                Err(e) => {
                    savepoint.rollback().await?;
                    // Ids created inside the rolled-back savepoint are gone with it.
                    ids = KeyIds::default();
                    outcomes.push(Err(e));
                }
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    #[tracing::instrument(skip_all, fields(lang = %lang))]
    async fn set_front(&self, lang: &Lang, keys: &[ArticleKey]) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM front_slots WHERE lang = $1")
            .bind(lang.as_str())
            .execute(&mut *tx)
            .await?;
        for (position, key) in keys.iter().enumerate() {
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM articles WHERE key = $1")
                .bind(key.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let id = id.ok_or_else(|| StorageError::NotFound(format!("article {key:?}")))?;
            sqlx::query("INSERT INTO front_slots (lang, position, article_id) VALUES ($1, $2, $3)")
                .bind(lang.as_str())
                .bind(position as i64)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn sections(&self) -> Result<Vec<Section>, StorageError> {
        let rows = sqlx::query("SELECT key, code, name FROM sections ORDER BY position, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Section {
                    key: slug(row.try_get(0)?)?,
                    code: u32::try_from(row.try_get::<i64, _>(1)?)
                        .map_err(|e| StorageError::Corrupt(e.to_string()))?,
                    name: localized(row.try_get(2)?)?,
                })
            })
            .collect()
    }

    async fn series(&self, key: &Slug) -> Result<Option<Series>, StorageError> {
        let row =
            sqlx::query("SELECT key, title, description, partners FROM series WHERE key = $1")
                .bind(key.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            let partners: String = row.try_get(3)?;
            Ok(Series {
                key: slug(row.try_get(0)?)?,
                title: localized(row.try_get(1)?)?,
                description: localized(row.try_get(2)?)?,
                partners: serde_json::from_str(&partners)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?,
            })
        })
        .transpose()
    }

    async fn topic(&self, key: &Slug) -> Result<Option<Topic>, StorageError> {
        let row = sqlx::query("SELECT key, title, intro FROM topics WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(Topic {
                key: slug(row.try_get(0)?)?,
                title: localized(row.try_get(1)?)?,
                intro: localized(row.try_get(2)?)?,
            })
        })
        .transpose()
    }

    #[tracing::instrument(skip(self))]
    async fn article(&self, id: ArticleId) -> Result<Option<Article>, StorageError> {
        let sql = format!(
            "SELECT {LINK_COLUMNS}, a.body_html, a.byline, a.web_editors, se.key \
             FROM {LINK_FROM} LEFT JOIN series se ON se.id = a.series_id WHERE a.id = $1"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let link = link_from_row(&row)?;
        let editors: String = row.try_get(13)?;
        let series = match (row.try_get::<Option<String>, _>(14)?, link.episode) {
            (Some(key), Some(episode)) => Some(SeriesEpisode {
                series: slug(key)?,
                episode,
            }),
            _ => None,
        };
        let topics: Vec<String> = sqlx::query_scalar(
            "SELECT t.key FROM article_topics at JOIN topics t ON t.id = at.topic_id WHERE at.article_id = $1 ORDER BY t.key",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(Article {
            body: SafeHtml::from_trusted_storage(row.try_get(11)?),
            byline: row.try_get(12)?,
            web_editors: serde_json::from_str(&editors)
                .map_err(|e| StorageError::Corrupt(e.to_string()))?,
            series,
            topics: topics.into_iter().map(slug).collect::<Result<_, _>>()?,
            link,
        }))
    }

    async fn links_by_keys(&self, keys: &[String]) -> Result<Vec<ArticleLink>, StorageError> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!("SELECT {LINK_COLUMNS} FROM {LINK_FROM} WHERE a.key IN (SELECT value FROM json_each($1))");
        let rows = sqlx::query(&sql)
            .bind(to_json(&keys))
            .fetch_all(&self.pool)
            .await?;
        links(&rows)
    }

    async fn related(&self, id: ArticleId) -> Result<Vec<ArticleLink>, StorageError> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM article_related r JOIN articles a ON a.key = r.related_key \
             JOIN sections s ON s.id = a.section_id WHERE r.article_id = $1 AND a.id <> $1 ORDER BY r.position"
        );
        let rows = sqlx::query(&sql).bind(id.0).fetch_all(&self.pool).await?;
        links(&rows)
    }

    async fn translations(&self, id: ArticleId) -> Result<Vec<ArticleLink>, StorageError> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM {LINK_FROM} WHERE a.translation_group = \
             (SELECT translation_group FROM articles WHERE id = $1) AND a.id <> $1 ORDER BY a.lang"
        );
        let rows = sqlx::query(&sql).bind(id.0).fetch_all(&self.pool).await?;
        links(&rows)
    }

    async fn front(&self, lang: &Lang) -> Result<Vec<ArticleLink>, StorageError> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM front_slots f JOIN articles a ON a.id = f.article_id \
             JOIN sections s ON s.id = a.section_id WHERE f.lang = $1 ORDER BY f.position"
        );
        let rows = sqlx::query(&sql)
            .bind(lang.as_str())
            .fetch_all(&self.pool)
            .await?;
        links(&rows)
    }

    #[tracing::instrument(skip_all, fields(lang = %listing.lang, filter = ?listing.filter))]
    async fn list(&self, listing: &Listing) -> Result<Vec<ArticleLink>, StorageError> {
        let newest = "ORDER BY a.published_at DESC, a.id DESC LIMIT $3 OFFSET $4";
        let (sql, key) = match &listing.filter {
            Filter::All => (format!("SELECT {LINK_COLUMNS} FROM {LINK_FROM} WHERE a.lang = $1 AND $2 = '' {newest}"), ""),
            Filter::Section(key) => (
                format!("SELECT {LINK_COLUMNS} FROM {LINK_FROM} WHERE a.lang = $1 AND s.key = $2 {newest}"),
                key.as_str(),
            ),
            Filter::Topic(key) => (
                format!(
                    "SELECT {LINK_COLUMNS} FROM {LINK_FROM} JOIN article_topics at ON at.article_id = a.id \
                     JOIN topics t ON t.id = at.topic_id WHERE a.lang = $1 AND t.key = $2 {newest}"
                ),
                key.as_str(),
            ),
            Filter::Series(key) => (
                format!(
                    "SELECT {LINK_COLUMNS} FROM {LINK_FROM} JOIN series se ON se.id = a.series_id \
                     WHERE a.lang = $1 AND se.key = $2 ORDER BY a.episode, a.published_at, a.id LIMIT $3 OFFSET $4"
                ),
                key.as_str(),
            ),
        };
        let rows = sqlx::query(&sql)
            .bind(listing.lang.as_str())
            .bind(key)
            .bind(i64::from(listing.limit))
            .bind(i64::from(listing.offset))
            .fetch_all(&self.pool)
            .await?;
        links(&rows)
    }

    async fn article_count(&self) -> Result<u64, StorageError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM articles")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }
}
