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
