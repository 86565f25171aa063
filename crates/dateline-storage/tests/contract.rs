//! The storage contract: what every `Store` engine must do, run here against SQLite.
#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use dateline_core::{ArticleId, ArticleKey, Lang, Localized, NewArticle, SafeHtml, Section, Slug};
use dateline_storage::{Filter, Listing, SqliteStore, StorageError, Store, Upserted};

fn article(key: &str, headline: &str, published: &str) -> NewArticle {
    NewArticle {
        key: ArticleKey::parse(key).unwrap(),
        headline: headline.to_string(),
        summary: None,
        body: SafeHtml::sanitize("<p>Body.</p>"),
        lang: Lang::parse("en").unwrap(),
        section: Slug::parse("world").unwrap(),
        byline: None,
        credit: None,
        web_editors: vec!["Editor".to_string()],
        published: published.parse().unwrap(),
        updated: None,
        related: vec![],
        translation_of: None,
        series: None,
        topics: vec![],
    }
}

async fn sqlite() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("contract.db"))
        .await
        .unwrap();
    (store, dir)
}

fn id(outcome: &Result<Upserted, StorageError>) -> ArticleId {
    match outcome.as_ref().unwrap() {
        Upserted::Inserted(id) | Upserted::Updated(id) | Upserted::Unchanged(id) => *id,
    }
}

#[tokio::test]
async fn importing_the_same_article_twice_changes_nothing_and_a_change_updates_it() {
    let (store, _dir) = sqlite().await;
    let a = article("a", "First", "2024-01-01T00:00:00Z");
    let first = store
        .import_articles(std::slice::from_ref(&a))
        .await
        .unwrap();
    assert!(matches!(first[0], Ok(Upserted::Inserted(_))));
    let again = store
        .import_articles(std::slice::from_ref(&a))
        .await
        .unwrap();
    assert_eq!(
        again[0].as_ref().unwrap(),
        &Upserted::Unchanged(id(&first[0]))
    );
    let changed = NewArticle {
        headline: "Second".to_string(),
        ..a
    };
    let updated = store.import_articles(&[changed]).await.unwrap();
    assert_eq!(
        updated[0].as_ref().unwrap(),
        &Upserted::Updated(id(&first[0]))
    );
    let stored = store.article(id(&first[0])).await.unwrap().unwrap();
    assert_eq!(stored.link.headline, "Second");
    assert_eq!(store.article_count().await.unwrap(), 1);
}

#[tokio::test]
async fn an_article_that_cannot_be_stored_is_rolled_back_alone() {
    let (store, _dir) = sqlite().await;
    let good = article("good", "Good", "2024-01-01T00:00:00Z");
    // The domain never builds an article without a headline; the database refuses one too.
    let bad = NewArticle {
        section: Slug::parse("fresh-section").unwrap(),
        ..article("bad", "", "2024-01-01T00:00:00Z")
    };
    let also_good = article("also-good", "Also good", "2024-01-02T00:00:00Z");
    let outcomes = store
        .import_articles(&[good, bad, also_good])
        .await
        .unwrap();
    assert!(outcomes[0].is_ok());
    assert!(matches!(outcomes[1], Err(StorageError::Database(_))));
    assert!(outcomes[2].is_ok());
    assert_eq!(store.article_count().await.unwrap(), 2);
    // The section the failed article would have created was rolled back with it.
    let sections: Vec<String> = store
        .sections()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.key.to_string())
        .collect();
    assert_eq!(sections, vec!["world"]);
}

#[tokio::test]
async fn related_stories_may_name_articles_imported_later() {
    let (store, _dir) = sqlite().await;
    let main = NewArticle {
        related: vec![
            ArticleKey::parse("later").unwrap(),
            ArticleKey::parse("never").unwrap(),
        ],
        ..article("main", "Main", "2024-01-01T00:00:00Z")
    };
    let outcomes = store.import_articles(&[main]).await.unwrap();
    assert!(store.related(id(&outcomes[0])).await.unwrap().is_empty());
    store
        .import_articles(&[article("later", "Later", "2024-01-02T00:00:00Z")])
        .await
        .unwrap();
    let related: Vec<String> = store
        .related(id(&outcomes[0]))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.headline)
        .collect();
    assert_eq!(related, vec!["Later"]);
}

#[tokio::test]
async fn translations_find_each_other() {
    let (store, _dir) = sqlite().await;
    let en = article("en", "English", "2024-01-01T00:00:00Z");
    let zh = NewArticle {
        lang: Lang::parse("zh").unwrap(),
        translation_of: Some(ArticleKey::parse("en").unwrap()),
        ..article("zh", "中文", "2024-01-01T01:00:00Z")
    };
    let ru = NewArticle {
        lang: Lang::parse("ru").unwrap(),
        translation_of: Some(ArticleKey::parse("en").unwrap()),
        ..article("ru", "Русский", "2024-01-01T02:00:00Z")
    };
    let ids: Vec<ArticleId> = store
        .import_articles(&[en, zh, ru])
        .await
        .unwrap()
        .iter()
        .map(id)
        .collect();
    let langs = |links: Vec<dateline_core::ArticleLink>| {
        links
            .into_iter()
            .map(|l| l.lang.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        langs(store.translations(ids[0]).await.unwrap()),
        vec!["ru", "zh"]
    );
    assert_eq!(
        langs(store.translations(ids[1]).await.unwrap()),
        vec!["en", "ru"]
    );
}

#[tokio::test]
async fn listings_are_newest_first_per_edition_and_page() {
    let (store, _dir) = sqlite().await;
    let mut batch: Vec<NewArticle> = (1..=5)
        .map(|i| {
            article(
                &format!("a{i}"),
                &format!("A{i}"),
                &format!("2024-01-0{i}T00:00:00Z"),
            )
        })
        .collect();
    batch.push(NewArticle {
        lang: Lang::parse("ru").unwrap(),
        ..article("r", "R", "2024-02-01T00:00:00Z")
    });
    store.import_articles(&batch).await.unwrap();
    let page = |offset| Listing {
        lang: Lang::parse("en").unwrap(),
        filter: Filter::Section(Slug::parse("world").unwrap()),
        limit: 2,
        offset,
    };
    let headlines = |links: Vec<dateline_core::ArticleLink>| {
        links.into_iter().map(|l| l.headline).collect::<Vec<_>>()
    };
    assert_eq!(
        headlines(store.list(&page(0)).await.unwrap()),
        vec!["A5", "A4"]
    );
    assert_eq!(headlines(store.list(&page(4)).await.unwrap()), vec!["A1"]);
    let all_ru = Listing {
        lang: Lang::parse("ru").unwrap(),
        filter: Filter::All,
        limit: 10,
        offset: 0,
    };
    assert_eq!(headlines(store.list(&all_ru).await.unwrap()), vec!["R"]);
}

#[tokio::test]
async fn section_codes_are_unique() {
    let (store, _dir) = sqlite().await;
    let section = |key: &str| Section {
        key: Slug::parse(key).unwrap(),
        code: 90000,
        name: Localized::new("en", key),
    };
    store.put_section(&section("world")).await.unwrap();
    store.put_section(&section("world")).await.unwrap();
    let err = store.put_section(&section("china")).await.unwrap_err();
    assert!(
        matches!(err, StorageError::Conflict(ref m) if m.contains("\"world\"")),
        "{err}"
    );
}

#[tokio::test]
async fn sections_series_and_topics_an_import_names_are_created() {
    let (store, _dir) = sqlite().await;
    let a = NewArticle {
        section: Slug::parse("uk-world").unwrap(),
        series: Some(dateline_core::SeriesEpisode {
            series: Slug::parse("new-show").unwrap(),
            episode: 1,
        }),
        topics: vec![Slug::parse("new-thread").unwrap()],
        ..article("a", "A", "2024-01-01T00:00:00Z")
    };
    store.import_articles(&[a]).await.unwrap();
    let sections = store.sections().await.unwrap();
    assert_eq!(sections[0].name.text("en", "en"), "Uk World");
    assert_eq!(sections[0].code, 10000);
    let series = store
        .series(&Slug::parse("new-show").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(series.title.text("en", "en"), "New Show");
    let topic = store
        .topic(&Slug::parse("new-thread").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(topic.title.text("en", "en"), "New Thread");
    let listed = store
        .list(&Listing {
            lang: Lang::parse("en").unwrap(),
            filter: Filter::Topic(topic.key),
            limit: 5,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn a_translation_of_a_translation_joins_the_originals_group_in_any_import_order() {
    let translation = |key: &str, lang: &str, of: &str| NewArticle {
        lang: Lang::parse(lang).unwrap(),
        translation_of: Some(ArticleKey::parse(of).unwrap()),
        ..article(key, key, "2024-01-01T00:00:00Z")
    };
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
        let (store, _dir) = sqlite().await;
        let all = [
            article("a", "a", "2024-01-01T00:00:00Z"),
            translation("b", "zh", "a"),
            translation("c", "ru", "b"),
        ];
        for i in order {
            store
                .import_articles(std::slice::from_ref(&all[i]))
                .await
                .unwrap();
        }
        let c = store
            .links_by_keys(&["c".to_string()])
            .await
            .unwrap()
            .remove(0);
        let mut others: Vec<String> = store
            .translations(c.id)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.key.to_string())
            .collect();
        others.sort();
        assert_eq!(others, vec!["a", "b"], "import order {order:?}");
    }
}

#[tokio::test]
async fn an_import_that_changes_an_article_records_when_unless_the_source_says() {
    let (store, _dir) = sqlite().await;
    let a = article("a", "First", "2024-01-01T00:00:00Z");
    let id = id(&store
        .import_articles(std::slice::from_ref(&a))
        .await
        .unwrap()[0]);
    assert_eq!(store.article(id).await.unwrap().unwrap().link.updated, None);
    let before = jiff::Timestamp::now();
    store
        .import_articles(&[NewArticle {
            headline: "Corrected".to_string(),
            ..a.clone()
        }])
        .await
        .unwrap();
    let updated = store
        .article(id)
        .await
        .unwrap()
        .unwrap()
        .link
        .updated
        .unwrap();
    assert!(updated.as_second() >= before.as_second());
    let stated: jiff::Timestamp = "2024-01-02T00:00:00Z".parse().unwrap();
    store
        .import_articles(&[NewArticle {
            headline: "Again".to_string(),
            updated: Some(stated),
            ..a
        }])
        .await
        .unwrap();
    assert_eq!(
        store.article(id).await.unwrap().unwrap().link.updated,
        Some(stated)
    );
}
