//! The storage contract: what every `Store` engine must do. Each engine's test file calls
//! [`contract_tests!`] with a function that makes a fresh, empty store of that engine.

use std::sync::Arc;

use dateline_core::{
    ArticleDraft, ArticleId, ArticleKey, ArticleLink, Lang, Localized, NewArticle, SafeHtml,
    Section, SeriesEpisode, Slug,
};
use dateline_storage::{Filter, Listing, StorageError, Store, Upserted};
use jiff::Timestamp;

/// Runs every contract test against the engine that `$make` opens: an async function that
/// returns a fresh store and whatever must live as long as it (a temporary directory, say).
#[macro_export]
macro_rules! contract_tests {
    ($make:path) => {
        $crate::contract_tests!(@each $make;
            importing_the_same_article_twice_changes_nothing_and_a_change_updates_it,
            related_stories_may_name_articles_imported_later,
            translations_find_each_other,
            listings_are_newest_first_per_edition_and_page,
            section_codes_are_unique_and_a_conflict_names_the_holder,
            sections_series_and_topics_an_import_names_are_created,
            a_translation_of_a_translation_joins_the_originals_group_in_any_import_order,
            a_chain_of_translations_in_one_batch_shares_one_group,
            the_caller_says_when_an_imported_change_happened,
            an_article_published_later_is_not_live_until_then,
            the_frame_of_every_page_comes_in_one_read,
            the_latest_of_each_section_come_in_one_read,
            long_key_lists_are_read_whole,
            two_writers_creating_the_same_sections_both_succeed,
            the_front_keeps_the_editors_order,
            accounts_are_kept_with_their_roles_desks_and_passwords,
            every_visible_write_appends_to_the_stream_in_its_transaction,
            webhooks_follow_the_stream_from_when_they_are_added,
            tokens_work_until_they_expire_or_are_revoked,
            a_draft_moves_through_the_workflow_and_is_live_only_when_published,
            a_save_based_on_an_old_revision_is_refused,
            copy_that_goes_live_later_is_told_of_when_it_does,
            an_editors_article_names_only_sections_that_exist,
            an_import_never_overwrites_an_editors_change_nor_their_decision,
            editors_preview_drafts_find_headlines_and_see_who_has_what_open,
            an_uploaded_image_is_kept_once,
            a_blocked_suggestion_is_never_shown,
            a_lease_has_one_holder_until_it_runs_out,
            threads_keep_what_the_threader_and_editors_decided,
            every_revision_keeps_the_body_it_was_saved_with,
        );
    };
    (@each $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (store, _guard) = $make().await;
                $crate::contract::$name(store).await;
            }
        )*
    };
}

pub fn draft(key: &str, headline: &str, published: &str) -> ArticleDraft {
    ArticleDraft {
        key: ArticleKey::parse(key).unwrap(),
        headline: headline.to_string(),
        summary: None,
        body: SafeHtml::from_text("Body."),
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

pub fn article(key: &str, headline: &str, published: &str) -> NewArticle {
    NewArticle::new(draft(key, headline, published)).unwrap()
}

pub fn with(
    key: &str,
    headline: &str,
    published: &str,
    change: impl FnOnce(&mut ArticleDraft),
) -> NewArticle {
    let mut d = draft(key, headline, published);
    change(&mut d);
    NewArticle::new(d).unwrap()
}

/// A time after everything the tests publish.
pub fn later() -> Timestamp {
    "2100-01-01T00:00:00Z".parse().unwrap()
}

pub async fn import(store: &dyn Store, batch: &[NewArticle]) -> Vec<ArticleId> {
    store
        .import_articles(batch, Timestamp::now())
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.unwrap().id())
        .collect()
}

fn en() -> Lang {
    Lang::parse("en").unwrap()
}

fn headlines(links: Vec<ArticleLink>) -> Vec<String> {
    links.into_iter().map(|l| l.headline).collect()
}

pub async fn importing_the_same_article_twice_changes_nothing_and_a_change_updates_it(
    store: Arc<dyn Store>,
) {
    let a = article("a", "First", "2024-01-01T00:00:00Z");
    let now = Timestamp::now();
    let first = store
        .import_articles(std::slice::from_ref(&a), now)
        .await
        .unwrap();
    let id = match first[0].as_ref().unwrap() {
        Upserted::Inserted(id) => *id,
        other => panic!("{other:?}"),
    };
    let again = store
        .import_articles(std::slice::from_ref(&a), now)
        .await
        .unwrap();
    assert_eq!(again[0].as_ref().unwrap(), &Upserted::Unchanged(id));
    let changed = with("a", "Second", "2024-01-01T00:00:00Z", |_| {});
    let updated = store.import_articles(&[changed], now).await.unwrap();
    assert_eq!(updated[0].as_ref().unwrap(), &Upserted::Updated(id));
    let stored = store.article(id, later()).await.unwrap().unwrap();
    assert_eq!(stored.link.headline, "Second");
    assert_eq!(store.article_count().await.unwrap(), 1);
    // An import is a write like any other: each change is a revision, by no account.
    let revisions: Vec<(i64, Option<String>)> = store
        .revisions(id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.revision, r.by))
        .collect();
    assert_eq!(revisions, vec![(2, None), (1, None)]);
    let (_, first) = store.revision(id, 1).await.unwrap().unwrap();
    assert_eq!(first["headline"], "First");
}

pub async fn related_stories_may_name_articles_imported_later(store: Arc<dyn Store>) {
    let main = with("main", "Main", "2024-01-01T00:00:00Z", |d| {
        d.related = vec![
            ArticleKey::parse("later").unwrap(),
            ArticleKey::parse("never").unwrap(),
            ArticleKey::parse("earlier").unwrap(),
        ];
    });
    let id = import(&*store, &[main]).await[0];
    let page = store.article_page(id, later()).await.unwrap().unwrap();
    assert!(page.related.is_empty());
    import(
        &*store,
        &[
            article("later", "Later", "2024-01-02T00:00:00Z"),
            article("earlier", "Earlier", "2023-01-02T00:00:00Z"),
        ],
    )
    .await;
    let page = store.article_page(id, later()).await.unwrap().unwrap();
    assert_eq!(headlines(page.related), vec!["Later", "Earlier"]);
}

pub async fn translations_find_each_other(store: Arc<dyn Store>) {
    let translation = |key: &str, lang: &str, headline: &str, at: &str| {
        with(key, headline, at, |d| {
            d.lang = Lang::parse(lang).unwrap();
            d.translation_of = Some(ArticleKey::parse("en").unwrap());
        })
    };
    let ids = import(
        &*store,
        &[
            article("en", "English", "2024-01-01T00:00:00Z"),
            translation("zh", "zh", "中文", "2024-01-01T01:00:00Z"),
            translation("ru", "ru", "Русский", "2024-01-01T02:00:00Z"),
        ],
    )
    .await;
    let langs = |links: Vec<ArticleLink>| {
        links
            .into_iter()
            .map(|l| l.lang.to_string())
            .collect::<Vec<_>>()
    };
    let page = |id| {
        let store = store.clone();
        async move { store.article_page(id, later()).await.unwrap().unwrap() }
    };
    assert_eq!(langs(page(ids[0]).await.translations), vec!["ru", "zh"]);
    assert_eq!(langs(page(ids[1]).await.translations), vec!["en", "ru"]);
}

pub async fn listings_are_newest_first_per_edition_and_page(store: Arc<dyn Store>) {
    let mut batch: Vec<NewArticle> = (1..=5)
        .map(|i| {
            article(
                &format!("a{i}"),
                &format!("A{i}"),
                &format!("2024-01-0{i}T00:00:00Z"),
            )
        })
        .collect();
    batch.push(with("r", "R", "2024-02-01T00:00:00Z", |d| {
        d.lang = Lang::parse("ru").unwrap()
    }));
    import(&*store, &batch).await;
    let page = |offset| Listing {
        lang: en(),
        filter: Filter::Section(Slug::parse("world").unwrap()),
        limit: 2,
        offset,
        as_of: later(),
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
        as_of: later(),
    };
    assert_eq!(headlines(store.list(&all_ru).await.unwrap()), vec!["R"]);
}

pub async fn section_codes_are_unique_and_a_conflict_names_the_holder(store: Arc<dyn Store>) {
    let section = |key: &str| Section {
        key: Slug::parse(key).unwrap(),
        code: 90000,
        name: Localized::new("en", key),
    };
    store.put_section(&section("world")).await.unwrap();
    store.put_section(&section("world")).await.unwrap();
    let err = store.put_section(&section("china")).await.unwrap_err();
    assert!(
        matches!(err, StorageError::Conflict(ref m) if m.contains("90000") && m.contains("\"world\"")),
        "{err}"
    );
    let keys: Vec<String> = store
        .sections()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.key.to_string())
        .collect();
    assert_eq!(keys, ["world"]);
}

pub async fn sections_series_and_topics_an_import_names_are_created(store: Arc<dyn Store>) {
    let a = with("a", "A", "2024-01-01T00:00:00Z", |d| {
        d.section = Slug::parse("uk-world").unwrap();
        d.series = Some(SeriesEpisode {
            series: Slug::parse("new-show").unwrap(),
            episode: 1,
        });
        d.topics = vec![Slug::parse("new-thread").unwrap()];
    });
    import(&*store, &[a]).await;
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
            lang: en(),
            filter: Filter::Topic(topic.key),
            limit: 5,
            offset: 0,
            as_of: later(),
        })
        .await
        .unwrap();
    assert_eq!(headlines(listed), vec!["A"]);
}

pub async fn a_translation_of_a_translation_joins_the_originals_group_in_any_import_order(
    store: Arc<dyn Store>,
) {
    let translation = |key: &str, lang: &str, of: &str| {
        with(key, key, "2024-01-01T00:00:00Z", |d| {
            d.lang = Lang::parse(lang).unwrap();
            d.translation_of = Some(ArticleKey::parse(of).unwrap());
        })
    };
    // Three groups of the same shape, each imported in another order.
    for (n, order) in [[0, 1, 2], [2, 1, 0], [1, 2, 0]].into_iter().enumerate() {
        let k = |s: &str| format!("{s}{n}");
        let all = [
            article(&k("a"), "a", "2024-01-01T00:00:00Z"),
            translation(&k("b"), "zh", &k("a")),
            translation(&k("c"), "ru", &k("b")),
        ];
        for i in order {
            import(&*store, std::slice::from_ref(&all[i])).await;
        }
        let c = store
            .links_by_keys(&[k("c")], later())
            .await
            .unwrap()
            .remove(0);
        let mut others: Vec<String> = store
            .article_page(c.id, later())
            .await
            .unwrap()
            .unwrap()
            .translations
            .into_iter()
            .map(|l| l.key.to_string())
            .collect();
        others.sort();
        assert_eq!(others, vec![k("a"), k("b")], "import order {order:?}");
    }
}

pub async fn a_chain_of_translations_in_one_batch_shares_one_group(store: Arc<dyn Store>) {
    let translation = |key: &str, lang: &str, of: &str| {
        with(key, key, "2024-01-01T00:00:00Z", |d| {
            d.lang = Lang::parse(lang).unwrap();
            d.translation_of = Some(ArticleKey::parse(of).unwrap());
        })
    };
    // Each names one that comes later in the batch, or after it.
    import(
        &*store,
        &[
            translation("a", "zh", "b"),
            translation("b", "ru", "c"),
            translation("d", "fr", "a"),
        ],
    )
    .await;
    import(&*store, &[article("c", "c", "2024-01-01T00:00:00Z")]).await;
    for key in ["a", "b", "c", "d"] {
        let link = store
            .links_by_keys(&[key.to_string()], later())
            .await
            .unwrap()
            .remove(0);
        let mut others: Vec<String> = store
            .article_page(link.id, later())
            .await
            .unwrap()
            .unwrap()
            .translations
            .into_iter()
            .map(|l| l.key.to_string())
            .collect();
        others.sort();
        let expected: Vec<&str> = ["a", "b", "c", "d"]
            .into_iter()
            .filter(|k| *k != key)
            .collect();
        assert_eq!(others, expected, "{key}");
    }
}

pub async fn the_caller_says_when_an_imported_change_happened(store: Arc<dyn Store>) {
    let a = article("a", "First", "2024-01-01T00:00:00Z");
    let id = import(&*store, std::slice::from_ref(&a)).await[0];
    assert_eq!(
        store
            .article(id, later())
            .await
            .unwrap()
            .unwrap()
            .link
            .updated,
        None
    );
    // Storage reads no clock: the time of the change is the caller's.
    let then: Timestamp = "2024-06-01T12:00:00Z".parse().unwrap();
    store
        .import_articles(
            &[with("a", "Corrected", "2024-01-01T00:00:00Z", |_| {})],
            then,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .article(id, later())
            .await
            .unwrap()
            .unwrap()
            .link
            .updated,
        Some(then)
    );
    let stated: Timestamp = "2024-01-02T00:00:00Z".parse().unwrap();
    store
        .import_articles(
            &[with("a", "Again", "2024-01-01T00:00:00Z", |d| {
                d.updated = Some(stated)
            })],
            then,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .article(id, later())
            .await
            .unwrap()
            .unwrap()
            .link
            .updated,
        Some(stated)
    );
}

pub async fn an_article_published_later_is_not_live_until_then(store: Arc<dyn Store>) {
    let ids = import(
        &*store,
        &[
            with("now", "Now", "2024-01-01T00:00:00Z", |d| {
                d.related = vec![ArticleKey::parse("soon").unwrap()];
                d.body = SafeHtml::from_text("x");
            }),
            article("soon", "Soon", "2024-06-01T00:00:00Z"),
        ],
    )
    .await;
    store
        .set_front(
            &en(),
            &[
                ArticleKey::parse("soon").unwrap(),
                ArticleKey::parse("now").unwrap(),
            ],
        )
        .await
        .unwrap();
    let before: Timestamp = "2024-03-01T00:00:00Z".parse().unwrap();
    let after: Timestamp = "2024-07-01T00:00:00Z".parse().unwrap();
    assert!(store.article(ids[1], before).await.unwrap().is_none());
    assert!(store.article_page(ids[1], before).await.unwrap().is_none());
    assert!(store.article(ids[1], after).await.unwrap().is_some());
    let listing = |as_of| Listing {
        lang: en(),
        filter: Filter::All,
        limit: 10,
        offset: 0,
        as_of,
    };
    assert_eq!(
        headlines(store.list(&listing(before)).await.unwrap()),
        vec!["Now"]
    );
    assert_eq!(
        headlines(store.list(&listing(after)).await.unwrap()),
        vec!["Soon", "Now"]
    );
    assert_eq!(
        headlines(store.front(&en(), before).await.unwrap()),
        vec!["Now"]
    );
    assert_eq!(
        headlines(
            store
                .links_by_keys(&["soon".to_string()], before)
                .await
                .unwrap()
        ),
        Vec::<String>::new()
    );
    assert!(store
        .article_page(ids[0], before)
        .await
        .unwrap()
        .unwrap()
        .related
        .is_empty());
    assert_eq!(
        headlines(
            store
                .page_frame(&en(), 5, before, None)
                .await
                .unwrap()
                .latest
        ),
        vec!["Now"]
    );
    assert_eq!(
        headlines(store.section_latest(&en(), 5, before).await.unwrap()),
        vec!["Now"]
    );
}

pub async fn the_frame_of_every_page_comes_in_one_read(store: Arc<dyn Store>) {
    for (key, code) in [("world", 1), ("china", 2), ("empty", 3)] {
        store
            .put_section(&Section {
                key: Slug::parse(key).unwrap(),
                code,
                name: Localized::new("en", key),
            })
            .await
            .unwrap();
    }
    let ids = import(
        &*store,
        &[
            article("w1", "W1", "2024-01-01T00:00:00Z"),
            with("c1", "C1", "2024-01-02T00:00:00Z", |d| {
                d.section = Slug::parse("china").unwrap()
            }),
            article("w2", "W2", "2024-01-03T00:00:00Z"),
            article("w3", "W3", "2024-01-04T00:00:00Z"),
            article("soon", "Soon", "2099-01-01T00:00:00Z"),
        ],
    )
    .await;
    let now: Timestamp = "2050-01-01T00:00:00Z".parse().unwrap();
    // Whether an article is live comes with the frame: a live one, one not yet, none at all.
    assert!(
        store
            .page_frame(&en(), 0, now, Some(ids[3]))
            .await
            .unwrap()
            .probe_live
    );
    assert!(
        !store
            .page_frame(&en(), 0, now, Some(ids[4]))
            .await
            .unwrap()
            .probe_live
    );
    let missing = ArticleId::new(ids[4].get() + 1000);
    assert!(
        !store
            .page_frame(&en(), 0, now, Some(missing))
            .await
            .unwrap()
            .probe_live
    );
    let frame = store.page_frame(&en(), 3, now, None).await.unwrap();
    assert!(!frame.probe_live);
    let (sections, latest) = (frame.sections, frame.latest);
    let keys: Vec<String> = sections.iter().map(|s| s.key.to_string()).collect();
    assert_eq!(keys, ["world", "china", "empty"]);
    assert_eq!(headlines(latest), vec!["W3", "W2", "C1"]);
}

pub async fn the_latest_of_each_section_come_in_one_read(store: Arc<dyn Store>) {
    for (key, code) in [("world", 1), ("china", 2)] {
        store
            .put_section(&Section {
                key: Slug::parse(key).unwrap(),
                code,
                name: Localized::new("en", key),
            })
            .await
            .unwrap();
    }
    let mut batch = Vec::new();
    for i in 1..=4 {
        batch.push(article(
            &format!("w{i}"),
            &format!("W{i}"),
            &format!("2024-01-0{i}T00:00:00Z"),
        ));
        batch.push(with(
            &format!("c{i}"),
            &format!("C{i}"),
            &format!("2024-02-0{i}T00:00:00Z"),
            |d| d.section = Slug::parse("china").unwrap(),
        ));
    }
    import(&*store, &batch).await;
    let latest = store.section_latest(&en(), 2, later()).await.unwrap();
    assert_eq!(headlines(latest), vec!["W4", "W3", "C4", "C3"]);
}

pub async fn long_key_lists_are_read_whole(store: Arc<dyn Store>) {
    let batch: Vec<NewArticle> = (0..1200)
        .map(|i| article(&format!("k{i}"), &format!("K{i}"), "2024-01-01T00:00:00Z"))
        .collect();
    import(&*store, &batch).await;
    let mut keys: Vec<String> = (0..1300).map(|i| format!("k{i}")).collect();
    keys.push("quote'\"; DROP TABLE articles; --".to_string());
    assert_eq!(
        store.links_by_keys(&keys, later()).await.unwrap().len(),
        1200
    );
    assert_eq!(store.article_count().await.unwrap(), 1200);
}

pub async fn two_writers_creating_the_same_sections_both_succeed(store: Arc<dyn Store>) {
    let batch = |writer: usize| -> Vec<NewArticle> {
        (0..200)
            .map(|i| {
                with(
                    &format!("w{writer}-{i}"),
                    "Story",
                    "2024-01-01T00:00:00Z",
                    |d| {
                        d.section = Slug::parse(&format!("desk-{}", i % 7)).unwrap();
                        d.topics = vec![Slug::parse(&format!("thread-{}", i % 5)).unwrap()];
                    },
                )
            })
            .collect()
    };
    let (one, two) = (batch(1), batch(2));
    let (a, b) = tokio::join!(
        store.import_articles(&one, Timestamp::now()),
        store.import_articles(&two, Timestamp::now())
    );
    for outcome in a.unwrap().into_iter().chain(b.unwrap()) {
        assert!(matches!(outcome, Ok(Upserted::Inserted(_))), "{outcome:?}");
    }
    let sections = store.sections().await.unwrap();
    assert_eq!(sections.len(), 7);
    let mut codes: Vec<u32> = sections.iter().map(|s| s.code).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 7);
    assert_eq!(store.article_count().await.unwrap(), 400);
}

pub async fn the_front_keeps_the_editors_order(store: Arc<dyn Store>) {
    import(
        &*store,
        &[
            article("a", "A", "2024-01-01T00:00:00Z"),
            article("b", "B", "2024-01-02T00:00:00Z"),
            article("c", "C", "2024-01-03T00:00:00Z"),
        ],
    )
    .await;
    let keys = |ks: &[&str]| {
        ks.iter()
            .map(|k| ArticleKey::parse(k).unwrap())
            .collect::<Vec<_>>()
    };
    store
        .set_front(&en(), &keys(&["b", "c", "a"]))
        .await
        .unwrap();
    assert_eq!(
        headlines(store.front(&en(), later()).await.unwrap()),
        vec!["B", "C", "A"]
    );
    let err = store
        .set_front(&en(), &keys(&["a", "missing"]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::NotFound(ref m) if m.contains("missing")),
        "{err}"
    );
    // A refused change leaves the front as it was.
    assert_eq!(
        headlines(store.front(&en(), later()).await.unwrap()),
        vec!["B", "C", "A"]
    );
}

pub async fn accounts_are_kept_with_their_roles_desks_and_passwords(store: Arc<dyn Store>) {
    use dateline_core::account::{Grants, Password, Role, Username};
    store
        .put_section(&Section {
            key: Slug::parse("world").unwrap(),
            code: 1,
            name: Localized::new("en", "World"),
        })
        .await
        .unwrap();
    let name = |s: &str| Username::parse(s).unwrap();
    let world = || Slug::parse("world").unwrap();
    let password = Password::parse("correct horse battery").unwrap();
    let grants = Grants::new([Role::Editor, Role::Admin], [world()]).unwrap();
    let mara = store
        .create_account(
            &name("mara"),
            &grants,
            &password.hash().unwrap(),
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert_eq!(mara.grants, grants);
    let taken = store
        .create_account(
            &name("mara"),
            &grants,
            &password.hash().unwrap(),
            Timestamp::now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(taken, StorageError::Conflict(ref m) if m.contains("mara")),
        "{taken}"
    );
    let nowhere = Grants::new([Role::Editor], [Slug::parse("nowhere").unwrap()]).unwrap();
    let missing = store
        .create_account(
            &name("li"),
            &nowhere,
            &password.hash().unwrap(),
            Timestamp::now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(missing, StorageError::NotFound(ref m) if m.contains("nowhere")),
        "{missing}"
    );
    assert_eq!(store.accounts().await.unwrap(), vec![mara.clone()]);

    let hash = store.password_hash(&name("mara")).await.unwrap().unwrap();
    assert!(hash.verify("correct horse battery"));
    let next = Password::parse("a new and longer one").unwrap();
    store
        .set_password(&name("mara"), &next.hash().unwrap(), Timestamp::now())
        .await
        .unwrap();
    let hash = store.password_hash(&name("mara")).await.unwrap().unwrap();
    assert!(!hash.verify("correct horse battery") && hash.verify("a new and longer one"));

    store
        .set_disabled(&name("mara"), true, Timestamp::now())
        .await
        .unwrap();
    assert!(
        store
            .account(&name("mara"))
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert!(matches!(
        store
            .set_disabled(&name("nobody"), true, Timestamp::now())
            .await,
        Err(StorageError::NotFound(_))
    ));
    assert!(store.account(&name("nobody")).await.unwrap().is_none());
}

pub async fn every_visible_write_appends_to_the_stream_in_its_transaction(store: Arc<dyn Store>) {
    use dateline_core::change::ChangeKind as K;
    assert_eq!(store.stream_end().await.unwrap(), 0);
    store
        .put_section(&Section {
            key: Slug::parse("world").unwrap(),
            code: 1,
            name: Localized::new("en", "World"),
        })
        .await
        .unwrap();
    let a = article("a", "A", "2024-01-01T00:00:00Z");
    let ids = import(
        &*store,
        &[a.clone(), article("b", "B", "2024-01-02T00:00:00Z")],
    )
    .await;
    // Unchanged, nothing to tell; changed, an update.
    import(&*store, &[a]).await;
    import(
        &*store,
        &[with("a", "A again", "2024-01-01T00:00:00Z", |_| {})],
    )
    .await;
    store
        .set_front(&en(), &[ArticleKey::parse("b").unwrap()])
        .await
        .unwrap();
    // A refused write tells nothing.
    let taken = Section {
        key: Slug::parse("other").unwrap(),
        code: 1,
        name: Localized::new("en", "Other"),
    };
    assert!(store.put_section(&taken).await.is_err());

    let changes = store.changes_after(0, 100).await.unwrap();
    let seen: Vec<(K, &str, Option<ArticleId>)> = changes
        .iter()
        .map(|c| (c.kind, c.subject.as_str(), c.article))
        .collect();
    assert_eq!(
        seen,
        vec![
            (K::SectionChanged, "world", None),
            (K::ArticlePublished, "a", Some(ids[0])),
            (K::ArticlePublished, "b", Some(ids[1])),
            (K::ArticleUpdated, "a", Some(ids[0])),
            (K::FrontChanged, "en", None),
        ]
    );
    assert!(changes.windows(2).all(|w| w[0].position < w[1].position));
    assert_eq!(store.stream_end().await.unwrap(), changes[4].position);
    // Read forward from a position, a page at a time.
    let rest = store.changes_after(changes[1].position, 2).await.unwrap();
    assert_eq!(rest, changes[2..4].to_vec());
    // A section an import names into being is a change too, before the article's.
    let end = store.stream_end().await.unwrap();
    import(
        &*store,
        &[with("c", "C", "2024-01-03T00:00:00Z", |d| {
            d.section = Slug::parse("sport").unwrap()
        })],
    )
    .await;
    let more: Vec<(K, String)> = store
        .changes_after(end, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.subject))
        .collect();
    assert_eq!(
        more,
        vec![
            (K::SectionChanged, "sport".to_string()),
            (K::ArticlePublished, "c".to_string())
        ]
    );
    // A follower's position is kept.
    assert_eq!(store.stream_position("cache").await.unwrap(), 0);
    store
        .set_stream_position("cache", changes[2].position)
        .await
        .unwrap();
    assert_eq!(
        store.stream_position("cache").await.unwrap(),
        changes[2].position
    );
}

pub async fn webhooks_follow_the_stream_from_when_they_are_added(store: Arc<dyn Store>) {
    use dateline_core::change::WebhookUrl;
    import(
        &*store,
        &[article("before", "Before", "2024-01-01T00:00:00Z")],
    )
    .await;
    let url = WebhookUrl::parse("https://partner.example/hook").unwrap();
    let hook = store
        .add_webhook(&url, "s3cret", Timestamp::now())
        .await
        .unwrap();
    assert_eq!(store.webhooks().await.unwrap(), vec![hook.clone()]);
    let consumer = dateline_storage::webhook_consumer(hook.id);
    assert_eq!(
        store.stream_position(&consumer).await.unwrap(),
        store.stream_end().await.unwrap(),
        "a new webhook starts at the end of the stream"
    );
    store.remove_webhook(hook.id).await.unwrap();
    assert!(store.webhooks().await.unwrap().is_empty());
    assert!(matches!(
        store.remove_webhook(hook.id).await,
        Err(StorageError::NotFound(_))
    ));
}

pub async fn tokens_work_until_they_expire_or_are_revoked(store: Arc<dyn Store>) {
    use dateline_core::account::{ApiToken, Grants, Password, Role, TokenDigest, Username};
    let hash = Password::parse("a long enough secret")
        .unwrap()
        .hash()
        .unwrap();
    let grants = Grants::new([Role::Contributor], []).unwrap();
    let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let ana = store
        .create_account(&Username::parse("ana").unwrap(), &grants, &hash, now)
        .await
        .unwrap();
    let bo = store
        .create_account(&Username::parse("bo").unwrap(), &grants, &hash, now)
        .await
        .unwrap();
    let token = ApiToken::generate().unwrap();
    let expires: Timestamp = "2026-02-01T00:00:00Z".parse().unwrap();
    let info = store
        .create_token(ana.id, &token.digest(), now, expires)
        .await
        .unwrap();
    let holder = |at: &str| {
        let store = store.clone();
        let digest = token.digest();
        let at: Timestamp = at.parse().unwrap();
        async move {
            store
                .account_by_token(&digest, at)
                .await
                .unwrap()
                .map(|a| a.username.to_string())
        }
    };
    assert_eq!(holder("2026-01-15T00:00:00Z").await.as_deref(), Some("ana"));
    assert_eq!(holder("2026-02-01T00:00:00Z").await, None, "expired");
    assert!(store
        .account_by_token(&TokenDigest::of("dl_forged"), now)
        .await
        .unwrap()
        .is_none());
    // Only its holder revokes it.
    assert!(matches!(
        store.revoke_token(bo.id, info.id, now).await,
        Err(StorageError::NotFound(_))
    ));
    store.revoke_token(ana.id, info.id, now).await.unwrap();
    assert_eq!(holder("2026-01-15T00:00:00Z").await, None, "revoked");
    assert!(store.tokens(ana.id).await.unwrap()[0].revoked.is_some());
    assert!(store.tokens(bo.id).await.unwrap().is_empty());
    // A disabled account's tokens stop working.
    let other = ApiToken::generate().unwrap();
    store
        .create_token(ana.id, &other.digest(), now, expires)
        .await
        .unwrap();
    store
        .set_disabled(&Username::parse("ana").unwrap(), true, now)
        .await
        .unwrap();
    assert!(store
        .account_by_token(&other.digest(), now)
        .await
        .unwrap()
        .is_none());
}

async fn writer(store: &dyn Store, name: &str) -> i64 {
    use dateline_core::account::{Grants, Password, Role, Username};
    // An editor's article names a section that exists.
    store
        .put_section(&Section {
            key: Slug::parse("world").unwrap(),
            code: 1,
            name: Localized::new("en", "World"),
        })
        .await
        .unwrap();
    store
        .create_account(
            &Username::parse(name).unwrap(),
            &Grants::new([Role::ChiefEditor], []).unwrap(),
            &Password::parse("a long enough secret")
                .unwrap()
                .hash()
                .unwrap(),
            Timestamp::now(),
        )
        .await
        .unwrap()
        .id
}

pub async fn a_draft_moves_through_the_workflow_and_is_live_only_when_published(
    store: Arc<dyn Store>,
) {
    use dateline_core::change::ChangeKind as K;
    use dateline_core::workflow::State;
    use dateline_storage::StateChange;
    let me = writer(&*store, "mara").await;
    let t = |s: &str| -> Timestamp { s.parse().unwrap() };
    let begun = t("2026-03-01T08:00:00Z");
    let draft = store
        .create_draft(&article("d", "Draft", "2026-03-01T08:00:00Z"), me, begun)
        .await
        .unwrap();
    assert_eq!(
        (draft.state, draft.revision, draft.author),
        (State::Draft, 1, Some(me))
    );
    assert_eq!(draft.record["headline"], "Draft");
    let live = |at: &str| {
        let store = store.clone();
        let at = t(at);
        async move { store.article(draft.id, at).await.unwrap().is_some() }
    };
    assert!(!live("2026-03-02T00:00:00Z").await, "a draft is not live");
    let end = store.stream_end().await.unwrap();

    let submitted = store
        .change_state(draft.id, State::Draft, StateChange::Submit, begun)
        .await
        .unwrap();
    assert_eq!(submitted.state, State::Submitted);
    // A change from a state the article is no longer in is refused.
    assert!(matches!(
        store
            .change_state(draft.id, State::Draft, StateChange::Submit, begun)
            .await,
        Err(StorageError::Conflict(_))
    ));
    let scheduled = store
        .change_state(
            draft.id,
            State::Submitted,
            StateChange::Schedule(t("2026-03-01T12:00:00Z")),
            begun,
        )
        .await
        .unwrap();
    assert_eq!(scheduled.scheduled_at, Some(t("2026-03-01T12:00:00Z")));
    assert_eq!(
        store.next_schedule().await.unwrap(),
        Some(t("2026-03-01T12:00:00Z"))
    );
    assert!(store
        .fire_schedules(t("2026-03-01T11:59:59Z"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .fire_schedules(t("2026-03-01T12:00:01Z"))
            .await
            .unwrap(),
        vec![draft.id]
    );
    assert!(
        store
            .fire_schedules(t("2026-03-01T12:00:02Z"))
            .await
            .unwrap()
            .is_empty(),
        "once"
    );
    assert_eq!(store.next_schedule().await.unwrap(), None);
    let fired = store.worked_article(draft.id).await.unwrap().unwrap();
    assert_eq!(fired.state, State::Published);
    assert_eq!(
        fired.record["published"], "2026-03-01T12:00:00Z",
        "first published when scheduled"
    );
    assert!(live("2026-03-01T12:00:00Z").await);

    // Later that day, as the newsroom's clock says.
    let after = t("2026-03-01T13:00:00Z");
    // An embargo hides it from every public read until it lifts, published or not.
    store
        .change_state(
            draft.id,
            State::Published,
            StateChange::Embargo(Some(t("2026-03-05T00:00:00Z"))),
            after,
        )
        .await
        .unwrap();
    assert!(!live("2026-03-04T00:00:00Z").await);
    assert!(live("2026-03-05T00:00:00Z").await);
    store
        .change_state(
            draft.id,
            State::Published,
            StateChange::Embargo(None),
            after,
        )
        .await
        .unwrap();
    assert!(live("2026-03-02T00:00:00Z").await);

    store
        .change_state(draft.id, State::Published, StateChange::Unpublish, after)
        .await
        .unwrap();
    assert!(!live("2026-03-06T00:00:00Z").await);
    let told: Vec<K> = store
        .changes_after(end, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(
        told,
        vec![
            K::ArticlePublished,
            K::ArticleWithdrawn,
            K::ArticlePublished,
            K::ArticleWithdrawn
        ]
    );
}

/// The newest revision holds its body by reference to the article's; each write that replaces
/// the body first writes it into that revision, and a refused save changes nothing.
pub async fn every_revision_keeps_the_body_it_was_saved_with(store: Arc<dyn Store>) {
    use dateline_core::import::to_record;
    use dateline_core::workflow::State;
    let story = |text: &str| {
        with("r", "Story", "2026-03-01T08:00:00Z", |d| {
            d.body = SafeHtml::from_text(text)
        })
    };
    let now = Timestamp::now();
    let imported = story("As first imported.");
    let id = import(&*store, std::slice::from_ref(&imported)).await[0];
    let reimported = story("As a later import changed it.");
    import(&*store, std::slice::from_ref(&reimported)).await;
    let mara = writer(&*store, "mara").await;
    let refused = store
        .save_article(
            id,
            &story("From revision 1."),
            1,
            State::Published,
            mara,
            now,
        )
        .await;
    assert!(
        matches!(refused, Err(StorageError::Stale { .. })),
        "{refused:?}"
    );
    let saved = story("As an editor saved it.");
    store
        .save_article(id, &saved, 2, State::Published, mara, now)
        .await
        .unwrap();
    for (revision, article) in [(1, &imported), (2, &reimported), (3, &saved)] {
        let (_, content) = store.revision(id, revision).await.unwrap().unwrap();
        assert_eq!(content, to_record(article), "revision {revision}");
    }
    let stored = store.article(id, later()).await.unwrap().unwrap();
    assert_eq!(stored.body, *saved.body());
}

pub async fn a_save_based_on_an_old_revision_is_refused(store: Arc<dyn Store>) {
    let mara = writer(&*store, "mara").await;
    let li = writer(&*store, "li").await;
    let now = Timestamp::now();
    let draft = store
        .create_draft(&article("d", "First", "2026-03-01T08:00:00Z"), mara, now)
        .await
        .unwrap();
    let second = store
        .save_article(
            draft.id,
            &article("d", "Second", "2026-03-01T08:00:00Z"),
            1,
            dateline_core::workflow::State::Draft,
            li,
            now,
        )
        .await
        .unwrap();
    assert_eq!(second.revision, 2);
    let refused = store
        .save_article(
            draft.id,
            &article("d", "Third, from revision 1", "2026-03-01T08:00:00Z"),
            1,
            dateline_core::workflow::State::Draft,
            mara,
            now,
        )
        .await
        .unwrap_err();
    match refused {
        StorageError::Stale { current, by, .. } => assert_eq!((current, by.as_str()), (2, "li")),
        other => panic!("{other}"),
    }
    // A save allowed on a draft does not land on what was published meanwhile.
    store
        .change_state(
            draft.id,
            dateline_core::workflow::State::Draft,
            dateline_storage::StateChange::Publish,
            now,
        )
        .await
        .unwrap();
    let late = store
        .save_article(
            draft.id,
            &article("d", "Late", "2026-03-01T08:00:00Z"),
            2,
            dateline_core::workflow::State::Draft,
            mara,
            now,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(late, StorageError::Conflict(ref m) if m.contains("published now")),
        "{late}"
    );
    let kept = store.worked_article(draft.id).await.unwrap().unwrap();
    assert_eq!(
        (kept.revision, kept.record["headline"].as_str()),
        (2, Some("Second"))
    );
}

pub async fn copy_that_goes_live_later_is_told_of_when_it_does(store: Arc<dyn Store>) {
    use dateline_core::change::ChangeKind as K;
    let t = |s: &str| -> Timestamp { s.parse().unwrap() };
    store
        .import_articles(
            &[article("soon", "Soon", "2030-01-01T00:00:00Z")],
            t("2029-12-31T00:00:00Z"),
        )
        .await
        .unwrap();
    let told = |store: Arc<dyn Store>| async move {
        store
            .changes_after(0, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.subject == "soon")
            .map(|c| c.kind)
            .collect::<Vec<_>>()
    };
    assert!(
        told(store.clone()).await.is_empty(),
        "not live yet, not told yet"
    );
    assert_eq!(
        store.next_schedule().await.unwrap(),
        Some(t("2030-01-01T00:00:00Z"))
    );
    store
        .fire_schedules(t("2029-12-31T12:00:00Z"))
        .await
        .unwrap();
    assert!(told(store.clone()).await.is_empty());
    store
        .fire_schedules(t("2030-01-01T00:00:00Z"))
        .await
        .unwrap();
    store
        .fire_schedules(t("2030-01-01T00:00:01Z"))
        .await
        .unwrap();
    assert_eq!(
        told(store.clone()).await,
        vec![K::ArticlePublished],
        "told once, when it went live"
    );
    assert_eq!(store.next_schedule().await.unwrap(), None);
}

pub async fn an_editors_article_names_only_sections_that_exist(store: Arc<dyn Store>) {
    let me = writer(&*store, "mara").await;
    let nowhere = with("d", "D", "2026-01-01T00:00:00Z", |d| {
        d.section = Slug::parse("made-up").unwrap()
    });
    let refused = store
        .create_draft(&nowhere, me, Timestamp::now())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, StorageError::NotFound(ref m) if m.contains("made-up")),
        "{refused}"
    );
    let topical = with("d", "D", "2026-01-01T00:00:00Z", |d| {
        d.topics = vec![Slug::parse("new-thread").unwrap()]
    });
    assert!(store
        .create_draft(&topical, me, Timestamp::now())
        .await
        .is_err());
    let keys: Vec<String> = store
        .sections()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.key.to_string())
        .collect();
    assert_eq!(keys, ["world"], "nothing was made");
    assert!(store
        .topic(&Slug::parse("new-thread").unwrap())
        .await
        .unwrap()
        .is_none());
}

pub async fn an_import_never_overwrites_an_editors_change_nor_their_decision(
    store: Arc<dyn Store>,
) {
    use dateline_core::workflow::State;
    use dateline_storage::StateChange;
    let me = writer(&*store, "mara").await;
    let now = Timestamp::now();
    let ids = import(
        &*store,
        &[
            article("wire", "Wire copy", "2024-01-01T00:00:00Z"),
            article("other", "Other", "2024-01-01T00:00:00Z"),
        ],
    )
    .await;
    // An editor improves one; the wire sends a new version of it.
    store
        .save_article(
            ids[0],
            &article("wire", "Wire copy, edited", "2024-01-01T00:00:00Z"),
            2,
            State::Published,
            me,
            now,
        )
        .await
        .unwrap_err();
    let current = store.worked_article(ids[0]).await.unwrap().unwrap();
    store
        .save_article(
            ids[0],
            &article("wire", "Wire copy, edited", "2024-01-01T00:00:00Z"),
            current.revision,
            State::Published,
            me,
            now,
        )
        .await
        .unwrap();
    let outcome = store
        .import_articles(
            &[article(
                "wire",
                "Wire copy, version 2",
                "2024-01-01T00:00:00Z",
            )],
            now,
        )
        .await
        .unwrap();
    assert!(
        matches!(&outcome[0], Err(StorageError::Conflict(m)) if m.contains("edited in the newsroom")),
        "{:?}",
        outcome[0]
    );
    assert_eq!(
        store.worked_article(ids[0]).await.unwrap().unwrap().record["headline"],
        "Wire copy, edited"
    );
    // An editor unpublishes the other; a new version of it stays unpublished.
    store
        .change_state(ids[1], State::Published, StateChange::Unpublish, now)
        .await
        .unwrap();
    let outcome = store
        .import_articles(
            &[article("other", "Other, version 2", "2024-01-01T00:00:00Z")],
            now,
        )
        .await
        .unwrap();
    assert!(matches!(outcome[0], Ok(Upserted::Updated(_))));
    let other = store.worked_article(ids[1]).await.unwrap().unwrap();
    assert_eq!((other.state, other.live_from), (State::Unpublished, None));
    assert!(store.article(ids[1], later()).await.unwrap().is_none());
}

pub async fn editors_preview_drafts_find_headlines_and_see_who_has_what_open(
    store: Arc<dyn Store>,
) {
    let me = writer(&*store, "mara").await;
    let now = later();
    import(
        &*store,
        &[
            article(
                "a",
                "Harbour reopens after the storm",
                "2021-01-01T00:00:00Z",
            ),
            article("b", "Storm closes the harbour", "2021-01-02T00:00:00Z"),
            article("c", "A 100% rise_in rents", "2021-01-03T00:00:00Z"),
        ],
    )
    .await;
    let draft = store
        .create_draft(
            &article("d", "A draft on the harbour", "2021-01-04T00:00:00Z"),
            me,
            now,
        )
        .await
        .unwrap();
    assert!(store.article_page(draft.id, now).await.unwrap().is_none());
    let preview = store.article_preview(draft.id, now).await.unwrap().unwrap();
    assert_eq!(preview.article.link.headline, "A draft on the harbour");

    let found = |words: &'static str| {
        let store = store.clone();
        async move {
            store
                .find_links(words, now, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|l| l.key.as_str().to_string())
                .collect::<Vec<_>>()
        }
    };
    // Every word, in any case, newest first; drafts are never found.
    assert_eq!(found("harbour STORM").await, ["b", "a"]);
    assert_eq!(found("reopens").await, ["a"]);
    // LIKE's wildcards are words like any other.
    assert_eq!(found("100%").await, ["c"]);
    assert_eq!(found("%").await, ["c"]);
    assert_eq!(found("e_i").await, ["c"]);

    store.mark_open(draft.id, me, now).await.unwrap();
    let opens = store.opens(&[draft.id], now).await.unwrap();
    assert_eq!(opens, [(draft.id, "mara".to_string())]);
    let gone = store
        .opens(&[draft.id], now + jiff::SignedDuration::from_secs(1))
        .await
        .unwrap();
    assert!(gone.is_empty());
}

pub async fn an_uploaded_image_is_kept_once(store: Arc<dyn Store>) {
    use dateline_core::media::{Media, MediaFormat, MediaId};
    let me = writer(&*store, "mara").await;
    let media = Media {
        id: MediaId::of(b"pixels"),
        format: MediaFormat::Png,
        width: 700,
        height: 400,
        widths: Media::widths_for(700),
    };
    assert_eq!(store.media(&media.id).await.unwrap(), None);
    store.add_media(&media, me, later()).await.unwrap();
    store.add_media(&media, me, later()).await.unwrap();
    assert_eq!(store.media(&media.id).await.unwrap(), Some(media));
}

pub async fn a_blocked_suggestion_is_never_shown(store: Arc<dyn Store>) {
    let me = writer(&*store, "mara").await;
    let ids = import(
        &*store,
        &[
            article("a", "Storm hits the coast", "2021-01-01T00:00:00Z"),
            article("b", "Storm damage counted", "2021-01-02T00:00:00Z"),
            article("c", "Storm season ends", "2021-01-03T00:00:00Z"),
        ],
    )
    .await;
    let suggested = vec!["c".to_string(), "b".to_string()];
    let article = ids[0];
    let shown = |store: Arc<dyn Store>| {
        let suggested = suggested.clone();
        async move {
            store
                .article_page_with(article, later(), &suggested)
                .await
                .unwrap()
                .unwrap()
                .suggested
                .iter()
                .map(|l| l.key.as_str().to_string())
                .collect::<Vec<_>>()
        }
    };
    // In the order asked, not the order of the table.
    assert_eq!(shown(store.clone()).await, ["c", "b"]);
    let end = store.stream_end().await.unwrap();
    let key = dateline_core::ArticleKey::parse("c").unwrap();
    store
        .set_related_block(ids[0], &key, true, me, later())
        .await
        .unwrap();
    store
        .set_related_block(ids[0], &key, true, me, later())
        .await
        .unwrap();
    assert_eq!(shown(store.clone()).await, ["b"]);
    assert_eq!(store.related_blocks(ids[0]).await.unwrap(), ["c"]);
    // The page changed once: the stream says so once.
    let told = store.changes_after(end, 10).await.unwrap();
    assert_eq!(told.len(), 1);
    assert_eq!(
        told[0].kind,
        dateline_core::change::ChangeKind::ArticleUpdated
    );
    store
        .set_related_block(ids[0], &key, false, me, later())
        .await
        .unwrap();
    assert_eq!(shown(store.clone()).await, ["c", "b"]);
}

pub async fn a_lease_has_one_holder_until_it_runs_out(store: Arc<dyn Store>) {
    use std::time::Duration;
    let ttl = Duration::from_millis(400);
    assert!(store.lease("hook", "one", ttl).await.unwrap());
    // Another node is refused while it runs; its holder renews it.
    assert!(!store.lease("hook", "two", ttl).await.unwrap());
    assert!(store.lease("hook", "one", ttl).await.unwrap());
    assert!(!store.lease("hook", "two", ttl).await.unwrap());
    // Leases are kept apart by name.
    assert!(store.lease("purge", "two", ttl).await.unwrap());
    // Once it runs out, another takes it, and the first is refused.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(store.lease("hook", "two", ttl).await.unwrap());
    assert!(!store.lease("hook", "one", ttl).await.unwrap());
    // Two nodes asking at once: exactly one holds it.
    let (a, b) = tokio::join!(store.lease("race", "a", ttl), store.lease("race", "b", ttl),);
    assert!(a.unwrap() ^ b.unwrap());
}

pub async fn threads_keep_what_the_threader_and_editors_decided(store: Arc<dyn Store>) {
    use dateline_storage::{PinTo, ThreadEdit, ThreadFound, ThreadLookup, ThreadName, ThreadOp};
    let ids = import(
        &*store,
        &[
            article(
                "a1",
                "Ferries stop as the storm nears",
                "2021-01-01T00:00:00Z",
            ),
            article("a2", "Storm closes the harbour", "2021-01-02T00:00:00Z"),
            article("a3", "Budget passes", "2021-01-03T00:00:00Z"),
            article(
                "a4",
                "Storm closes the harbour (copy)",
                "2021-01-04T00:00:00Z",
            ),
        ],
    )
    .await;
    let now = Timestamp::now();
    let place =
        |article: ArticleId, thread: ThreadName, duplicate_of: Option<ArticleId>| ThreadOp::Place {
            article,
            thread,
            digest: format!("d{article}"),
            simhash: 7,
            duplicate_of,
        };
    let made = store
        .apply_threading(
            &[
                place(ids[0], ThreadName::New(0), None),
                ThreadOp::Title {
                    thread: ThreadName::New(0),
                    title: "The storm".to_string(),
                },
                place(ids[1], ThreadName::New(0), None),
                place(ids[2], ThreadName::New(1), None),
                ThreadOp::Title {
                    thread: ThreadName::New(1),
                    title: "Budget".to_string(),
                },
            ],
            now,
        )
        .await
        .unwrap();
    let (storm, budget) = (made[0], made[1]);
    let live = ThreadLookup::Live {
        as_of: later(),
        limit: 50,
        offset: 0,
    };
    let shown = |found: Option<ThreadFound>| match found {
        Some(ThreadFound::Thread(t)) => (
            t.title,
            t.articles
                .iter()
                .map(|a| a.link.key.as_str().to_string())
                .collect::<Vec<_>>(),
        ),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        shown(store.thread(storm, live.clone()).await.unwrap()),
        (
            "The storm".to_string(),
            vec!["a1".to_string(), "a2".to_string()]
        )
    );
    let page = store.article_page(ids[0], later()).await.unwrap().unwrap();
    assert_eq!(page.thread, Some((storm, "The storm".to_string())));
    assert_eq!(headlines(page.thread_latest), ["Storm closes the harbour"]);

    // A copy is in the thread, and shown once: not on the timeline, nor in listings.
    store
        .apply_threading(
            &[place(ids[3], ThreadName::Stored(storm), Some(ids[1]))],
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        shown(store.thread(storm, live.clone()).await.unwrap()).1,
        ["a1", "a2"]
    );
    let listing = Listing {
        lang: en(),
        filter: Filter::All,
        limit: 10,
        offset: 0,
        as_of: later(),
    };
    assert_eq!(store.list(&listing).await.unwrap().len(), 3);
    // Nor in the home page's blocks and every page's latest stories.
    let copy = "Storm closes the harbour (copy)".to_string();
    assert!(!headlines(store.section_latest(&en(), 10, later()).await.unwrap()).contains(&copy));
    let frame = store.page_frame(&en(), 10, later(), None).await.unwrap();
    assert_eq!(frame.latest.len(), 3);
    assert!(!headlines(frame.latest).contains(&copy));
    // While the story it copies is withdrawn, the copy is shown in its place.
    use dateline_core::workflow::State;
    use dateline_storage::StateChange;
    store
        .change_state(ids[1], State::Published, StateChange::Unpublish, now)
        .await
        .unwrap();
    assert!(headlines(store.list(&listing).await.unwrap())
        .contains(&"Storm closes the harbour (copy)".to_string()));
    assert_eq!(
        shown(store.thread(storm, live.clone()).await.unwrap()).1,
        ["a1", "a4"]
    );
    store
        .change_state(ids[1], State::Unpublished, StateChange::Publish, now)
        .await
        .unwrap();
    assert_eq!(store.list(&listing).await.unwrap().len(), 3);
    match store.thread(storm, ThreadLookup::Whole).await.unwrap() {
        Some(ThreadFound::Thread(t)) => {
            assert_eq!(t.articles.len(), 3);
            assert_eq!(t.articles[2].duplicate_of, Some(ids[1]));
        }
        other => panic!("{other:?}"),
    }
    let input = store.thread_input(ids[3], later()).await.unwrap().unwrap();
    assert!(input.live);
    assert_eq!(input.membership.unwrap().thread, storm);

    // An editor moves the budget story to a thread of its own: the threader's later placing
    // of it is refused, and its old thread is frozen against the threader's merges.
    let own = store
        .edit_threads(
            &ThreadEdit::Move {
                article: ids[2],
                to: None,
            },
            now,
        )
        .await
        .unwrap();
    assert_ne!(own, budget);
    store
        .apply_threading(
            &[
                place(ids[2], ThreadName::Stored(storm), None),
                ThreadOp::Absorb {
                    gone: ThreadName::Stored(budget),
                    into: ThreadName::Stored(storm),
                },
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        shown(store.thread(own, live.clone()).await.unwrap()).1,
        ["a3"]
    );
    assert!(matches!(
        store.thread(budget, live.clone()).await.unwrap(),
        Some(ThreadFound::Thread(_))
    ));

    // A split takes a2 out; the copy of a2 left behind is no copy of anything in its thread.
    let split = store
        .edit_threads(
            &ThreadEdit::Split {
                from: storm,
                articles: vec![ids[1]],
                title: Some("Harbour".to_string()),
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        shown(store.thread(split, live.clone()).await.unwrap()),
        ("Harbour".to_string(), vec!["a2".to_string()])
    );
    assert_eq!(
        shown(store.thread(storm, live.clone()).await.unwrap()).1,
        ["a1", "a4"]
    );
    assert!(matches!(
        store
            .edit_threads(
                &ThreadEdit::Split {
                    from: storm,
                    articles: vec![ids[2]],
                    title: None,
                },
                now,
            )
            .await,
        Err(StorageError::Conflict(_))
    ));

    // Pinned to a topic made from it: the topic lists its articles.
    let topic = dateline_core::Topic {
        key: Slug::parse("the-storm").unwrap(),
        title: Localized::new("en", "The storm"),
        intro: Default::default(),
    };
    store
        .edit_threads(
            &ThreadEdit::Pin {
                thread: storm,
                to: PinTo::NewTopic(topic),
            },
            now,
        )
        .await
        .unwrap();
    let on_topic = Listing {
        filter: Filter::Topic(Slug::parse("the-storm").unwrap()),
        ..listing.clone()
    };
    assert_eq!(
        headlines(store.list(&on_topic).await.unwrap()),
        [
            "Storm closes the harbour (copy)",
            "Ferries stop as the storm nears"
        ]
    );

    // Merged, renamed; the merged thread leads to the one it went into.
    let into = store
        .edit_threads(
            &ThreadEdit::Merge {
                from: split,
                into: storm,
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(into, storm);
    assert!(matches!(
        store.thread(split, live.clone()).await.unwrap(),
        Some(ThreadFound::MergedInto(t)) if t == storm
    ));
    store
        .edit_threads(
            &ThreadEdit::Rename {
                thread: storm,
                title: "Winter storm".to_string(),
            },
            now,
        )
        .await
        .unwrap();
    store
        .apply_threading(
            &[ThreadOp::Title {
                thread: ThreadName::Stored(storm),
                title: "Threader's choice".to_string(),
            }],
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        shown(store.thread(storm, live.clone()).await.unwrap()),
        (
            "Winter storm".to_string(),
            vec!["a1".to_string(), "a2".to_string(), "a4".to_string()]
        )
    );
    for refused in [
        ThreadEdit::Merge {
            from: storm,
            into: storm,
        },
        ThreadEdit::Rename {
            thread: split,
            title: "x".to_string(),
        },
    ] {
        assert!(matches!(
            store.edit_threads(&refused, now).await,
            Err(StorageError::Conflict(_))
        ));
    }
    assert!(matches!(
        store
            .edit_threads(
                &ThreadEdit::Rename {
                    thread: 999_999,
                    title: "x".to_string()
                },
                now
            )
            .await,
        Err(StorageError::NotFound(_))
    ));
    let summaries = store.threads(Some("winter"), 10, 0).await.unwrap();
    assert_eq!(summaries.len(), 1);
    assert_eq!((summaries[0].id, summaries[0].size), (storm, 3));
    assert_eq!(
        summaries[0].topic.as_ref().map(Slug::as_str),
        Some("the-storm")
    );
    // The stream told of each placing and each change, with the threads they reached.
    let changes = store.changes_after(0, 1000).await.unwrap();
    let threaded: Vec<_> = changes
        .iter()
        .filter(|c| c.kind == dateline_core::change::ChangeKind::ArticleThreaded)
        .collect();
    assert_eq!(
        threaded.len(),
        6,
        "a1, a2, a3, a4 placed, a3 moved by an editor, a4 no copy after the split"
    );
    // A placing reaches the thread; only one that makes or unmakes a copy reaches the
    // listings the article is in (a copy is listed once), and the pages that link to it.
    let reach = |c: &dateline_core::change::Change| c.reach.to_vec();
    assert_eq!(
        reach(threaded[0]),
        [format!("thread:{storm}")],
        "{:?}",
        threaded[0]
    );
    let listed = |c: &dateline_core::change::Change| {
        c.reach.contains(&"lang:en".to_string()) && c.reach.contains(&"a:a4".to_string())
    };
    assert_eq!(
        threaded
            .iter()
            .map(|c| (c.subject.as_str(), listed(c)))
            .collect::<Vec<_>>(),
        [
            ("a1", false),
            ("a2", false),
            ("a3", false),
            ("a4", true),
            ("a3", false),
            ("a4", true)
        ]
    );
    assert!(reach(threaded[4]).contains(&format!("thread:{budget}")));
    assert!(reach(threaded[4]).contains(&format!("thread:{own}")));
    assert!(changes.iter().any(|c| {
        c.kind == dateline_core::change::ChangeKind::ThreadChanged
            && c.reach.contains(&format!("thread:{split}"))
            && c.reach.contains(&"topic:the-storm".to_string())
    }));
    let texts = store
        .threaded_texts(Some(storm), ArticleId::new(0), 10)
        .await
        .unwrap();
    assert_eq!(texts.len(), 3);
    assert!(texts.iter().all(|t| t.frozen && t.thread == storm));
}
