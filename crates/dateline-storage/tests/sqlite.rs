//! The storage contract against SQLite, and what only SQLite's engine can be asked directly.
#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod contract;

use std::sync::Arc;
use std::time::Duration;

use contract::{article, import, later};
use dateline_core::{ArticleDraft, Lang, NewArticle, Slug};
use dateline_storage::{Filter, Listing, SqliteStore, StorageError, Store};
use jiff::Timestamp;
use sqlx::{Connection, SqliteConnection};

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("contract.db"))
        .await
        .unwrap();
    (Arc::new(store), dir)
}

contract_tests!(sqlite);

/// A second connection to the store's file, as another process would have.
async fn raw(dir: &tempfile::TempDir) -> SqliteConnection {
    let url = format!("sqlite://{}", dir.path().join("contract.db").display());
    SqliteConnection::connect(&url).await.unwrap()
}

#[tokio::test]
async fn an_article_that_cannot_be_stored_is_rolled_back_alone() {
    let (store, dir) = sqlite().await;
    // The domain builds no article that breaks a rule; a trigger stands in for a database
    // that refuses one all the same.
    sqlx::query(
        "CREATE TRIGGER refuse BEFORE INSERT ON articles WHEN NEW.key = 'bad' \
         BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END",
    )
    .execute(&mut raw(&dir).await)
    .await
    .unwrap();
    let in_fresh_section = |key: &str| {
        let mut d: ArticleDraft = contract::draft(key, key, "2024-01-01T00:00:00Z");
        d.section = Slug::parse("fresh-section").unwrap();
        d.topics = vec![Slug::parse("fresh-topic").unwrap()];
        NewArticle::new(d).unwrap()
    };
    let outcomes = store
        .import_articles(
            &[
                article("good", "Good", "2024-01-01T00:00:00Z"),
                in_fresh_section("bad"),
                article("also-good", "Also good", "2024-01-02T00:00:00Z"),
                // In the same batch, after the failure: what the failed article created must
                // be created anew, not taken from what the batch remembered.
                in_fresh_section("fine"),
            ],
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert!(outcomes[0].is_ok());
    assert!(
        matches!(&outcomes[1], Err(StorageError::Database(e)) if e.to_string().contains("refused by a test trigger")),
        "{:?}",
        outcomes[1]
    );
    assert!(outcomes[2].is_ok());
    assert!(outcomes[3].is_ok(), "{:?}", outcomes[3]);
    assert_eq!(store.article_count().await.unwrap(), 3);
    let sections: Vec<String> = store
        .sections()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.key.to_string())
        .collect();
    assert_eq!(sections, vec!["world", "fresh-section"]);
    let fine = store
        .links_by_keys(&["fine".to_string()], later())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(fine.section_key.as_str(), "fresh-section");
    let page = store.article_page(fine.id, later()).await.unwrap().unwrap();
    assert_eq!(page.topics.len(), 1, "the topic was created anew");
}

#[tokio::test]
async fn an_unreadable_row_fails_only_its_own_article() {
    let (store, dir) = sqlite().await;
    let ids = import(
        &*store,
        &[
            article("fine", "Fine", "2024-01-01T00:00:00Z"),
            article("broken", "Broken", "2024-01-02T00:00:00Z"),
        ],
    )
    .await;
    let en = Lang::parse("en").unwrap();
    let all = Listing {
        lang: en.clone(),
        filter: Filter::All,
        limit: 10,
        offset: 0,
        as_of: later(),
    };
    sqlx::query("UPDATE articles SET published_at = -999999999999 WHERE key = 'broken'")
        .execute(&mut raw(&dir).await)
        .await
        .unwrap();
    let listed: Vec<String> = store
        .list(&all)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.headline)
        .collect();
    assert_eq!(listed, vec!["Fine"]);
    let frame = store.page_frame(&en, 5, later(), None).await.unwrap();
    assert_eq!(frame.latest.len(), 1);
    assert!(store.article(ids[0], later()).await.unwrap().is_some());
    assert!(store.article(ids[1], later()).await.is_err());
}

#[tokio::test]
async fn an_import_waits_for_another_writer_instead_of_rejecting_lines() {
    let (store, dir) = sqlite().await;
    // Another process takes the write lock and holds it for three seconds.
    let mut other = raw(&dir).await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("INSERT INTO topics (key, title, intro) VALUES ('held', '{}', '{}')")
        .execute(&mut other)
        .await
        .unwrap();
    let holder = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    });
    let batch: Vec<NewArticle> = (0..300)
        .map(|i| article(&format!("k{i}"), "Story", "2024-01-01T00:00:00Z"))
        .collect();
    let outcomes = store
        .import_articles(&batch, Timestamp::now())
        .await
        .unwrap();
    assert!(
        outcomes.iter().all(Result::is_ok),
        "{:?}",
        outcomes.iter().find(|o| o.is_err())
    );
    holder.await.unwrap();
    assert_eq!(store.article_count().await.unwrap(), 300);
}

#[tokio::test]
async fn bylines_name_people_and_a_store_of_before_fills_them_in() {
    let (store, dir) = sqlite().await;
    let with_byline = |key: &str, byline: &str| {
        let mut d: ArticleDraft = contract::draft(key, key, "2024-01-01T00:00:00Z");
        d.byline = Some(byline.to_string());
        NewArticle::new(d).unwrap()
    };
    import(
        store.as_ref(),
        &[
            with_byline("one", "By Mara Lindqvist and Tomas Ek"),
            with_byline("two", "By Tomas Ek"),
        ],
    )
    .await;
    let listed = |store: Arc<dyn Store>| async move {
        store
            .list(&Listing {
                lang: Lang::parse("en").unwrap(),
                filter: Filter::Person(dateline_core::PersonKey::parse("tomas-ek").unwrap()),
                limit: 10,
                offset: 0,
                as_of: later(),
            })
            .await
            .unwrap()
            .len()
    };
    assert_eq!(listed(store.clone()).await, 2);
    let tomas = dateline_core::PersonKey::parse("tomas-ek").unwrap();
    assert_eq!(
        store.person(&tomas, later()).await.unwrap().as_deref(),
        Some("Tomas Ek")
    );
    // A store from before people were kept: the table is empty and the backfill not done.
    drop(store);
    let mut conn = raw(&dir).await;
    sqlx::query("DELETE FROM article_people")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM backfills")
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("contract.db"))
            .await
            .unwrap(),
    );
    assert_eq!(listed(store.clone()).await, 2);
    let mara = dateline_core::PersonKey::parse("mara-lindqvist").unwrap();
    assert_eq!(
        store.person(&mara, later()).await.unwrap().as_deref(),
        Some("Mara Lindqvist")
    );
}

/// Everything an import writes, as rows to compare, by key (ids aside).
async fn written(dir: &tempfile::TempDir) -> Vec<String> {
    let mut conn = raw(dir).await;
    let mut out = Vec::new();
    for sql in [
        "SELECT a.key || '|' || a.headline || '|' || COALESCE(a.summary, '') || '|' || a.body_html \
         || '|' || a.lang || '|' || s.key || '|' || COALESCE(a.byline, '') || '|' || a.web_editors \
         || '|' || a.published_at || '|' || COALESCE(a.updated_at, '') || '|' || a.translation_group \
         || '|' || COALESCE(a.series_id, '') || '|' || COALESCE(a.episode, '') || '|' \
         || a.content_hash || '|' || a.state || '|' || COALESCE(a.live_from, '') || '|' \
         || COALESCE(a.live_pending, '') || '|' || a.revision \
         FROM articles a JOIN sections s ON s.id = a.section_id ORDER BY a.key",
        "SELECT a.key || '|' || r.revision || '|' || COALESCE(r.account_id, '') || '|' || r.content \
         FROM revisions r JOIN articles a ON a.id = r.article_id ORDER BY a.key, r.revision",
        "SELECT a.key || '|' || t.key FROM article_topics x JOIN articles a ON a.id = x.article_id \
         JOIN topics t ON t.id = x.topic_id ORDER BY a.key, t.key",
        "SELECT a.key || '|' || r.position || '|' || r.related_key FROM article_related r \
         JOIN articles a ON a.id = r.article_id ORDER BY a.key, r.position",
        "SELECT a.key || '|' || p.slug || '|' || p.name FROM article_people p \
         JOIN articles a ON a.id = p.article_id ORDER BY a.key, p.slug",
        // The articles' records in order; each collection's record comes before the articles
        // that name it (which these compare), in either order among the articles.
        "SELECT c.kind || '|' || c.subject || '|' || (SELECT json_group_array(value) FROM \
         (SELECT value FROM json_each(c.reach) ORDER BY value)) FROM changes c \
         WHERE c.article_id IS NOT NULL ORDER BY c.position",
        "SELECT c.kind || '|' || c.subject FROM changes c WHERE c.article_id IS NULL \
         ORDER BY c.kind, c.subject",
        "SELECT c.subject FROM changes c WHERE c.article_id IS NULL AND c.position > \
         (SELECT MIN(d.position) FROM changes d JOIN articles a ON a.id = d.article_id \
          JOIN article_topics x ON x.article_id = a.id JOIN topics t ON t.id = x.topic_id \
          WHERE t.key = c.subject AND c.kind = 'topic.changed')",
        "SELECT a.key || '|' || (SELECT json_group_array(value) FROM \
         (SELECT value FROM json_each(r.reach) ORDER BY value)) FROM article_reach r \
         JOIN articles a ON a.id = r.article_id ORDER BY a.key",
    ] {
        let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap();
        out.push(format!("-- {sql}"));
        out.extend(rows.into_iter().map(|(r,)| r));
    }
    out
}

#[tokio::test]
async fn a_batch_of_new_articles_is_written_as_one_by_one_would_be() {
    use dateline_core::{ArticleKey, SeriesEpisode};
    let now: Timestamp = "2024-06-01T00:00:00Z".parse().unwrap();
    let key = |k: &str| ArticleKey::parse(k).unwrap();
    let slug = |s: &str| Slug::parse(s).unwrap();
    let batch = vec![
        contract::with("a", "Talks open", "2024-01-01T00:00:00Z", |d| {
            d.byline = Some("By Ann Lee and Bo Chen".into());
            d.topics = vec![slug("talks"), slug("geneva")];
            d.series = Some(SeriesEpisode {
                series: slug("visits"),
                episode: 1,
            });
            d.related = vec![key("b"), key("not-yet")];
            d.summary = Some("The first day.".into());
        }),
        contract::with("b", "Ministers meet", "2024-01-02T00:00:00Z", |d| {
            d.section = slug("politics");
            d.byline = Some("By Ann Lee".into());
            d.updated = Some("2024-01-03T00:00:00Z".parse().unwrap());
        }),
        // Published later than the import: announced when it goes live.
        contract::with("future", "Tomorrow", "2024-07-01T00:00:00Z", |d| {
            d.topics = vec![slug("talks")];
        }),
        // A translation of one in the same batch, and a key given twice: written one by one.
        contract::with("a-zh", "会谈开幕", "2024-01-01T00:00:00Z", |d| {
            d.lang = Lang::parse("zh").unwrap();
            d.translation_of = Some(key("a"));
        }),
        contract::with("twice", "Once", "2024-01-04T00:00:00Z", |_| {}),
        contract::with("twice", "Twice", "2024-01-04T00:00:00Z", |_| {}),
    ];
    let (together, together_dir) = sqlite().await;
    let (alone, alone_dir) = sqlite().await;
    let outcomes = together.import_articles(&batch, now).await.unwrap();
    for a in &batch {
        alone
            .import_articles(std::slice::from_ref(a), now)
            .await
            .unwrap();
    }
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(written(&together_dir).await, written(&alone_dir).await);
    // What pages and feeds read agrees too.
    let listing = |filter| Listing {
        lang: Lang::parse("en").unwrap(),
        filter,
        limit: 10,
        offset: 0,
        as_of: now,
    };
    for filter in [
        Filter::All,
        Filter::Topic(slug("talks")),
        Filter::Section(slug("politics")),
    ] {
        let keys = |links: Vec<dateline_core::ArticleLink>| {
            links
                .into_iter()
                .map(|l| l.key.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(together.list(&listing(filter.clone())).await.unwrap()),
            keys(alone.list(&listing(filter)).await.unwrap())
        );
    }
}
