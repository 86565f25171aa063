//! WordPress exports (WXR): both of WordPress's own test exports, counted as WordPress counts
//! them, every post imported, old addresses redirected, block markup gone.

use crate::helpers::{shared, TestApp};

#[tokio::test]
async fn wordpress_exports_import_with_wordpress_counts_and_old_addresses() {
    let app = TestApp::spawn().await;
    let owner = app
        .account(
            "migrator",
            &[dateline_core::account::Role::ChiefEditor],
            &[],
            "a long enough password",
        )
        .await;
    let dir = shared().join("standards/wordpress-wxr");
    let classic = dateline::wxr::import_file(
        app.store.as_ref(),
        &dir.join("themeunittestdata.wordpress.xml"),
        &app.import_options(),
        Some(owner.id),
        false,
    )
    .await
    .expect("imported");
    // What WordPress lists for this export: 58 posts (56 published, 1 scheduled, 1 draft),
    // 21 pages, 37 media files, 70 menu items, 33 comments, 68 categories, 110 tags, 2 authors.
    let count = |t: &str| classic.types.get(t).copied().unwrap_or(0);
    assert_eq!(
        (
            count("post"),
            count("page"),
            count("attachment"),
            count("nav_menu_item")
        ),
        (58, 21, 37, 70)
    );
    assert_eq!(classic.statuses.get("publish"), Some(&56));
    assert_eq!(
        (
            classic.comments,
            classic.categories,
            classic.tags,
            classic.authors
        ),
        (33, 68, 110, 2)
    );
    // Every post is in: published, scheduled or a draft (a password-protected one too).
    assert_eq!(
        classic.published + classic.scheduled + classic.drafts,
        58,
        "{classic}"
    );
    assert!(classic.skipped.iter().all(|(what, _)| !what.is_empty()));
    assert_eq!(classic.skipped.len(), 21 + 37 + 70, "{:?}", classic.skipped);
    assert_eq!(
        classic.notes.len(),
        2,
        "the two posts with too many terms: {:?}",
        classic.notes
    );

    let blocks = dateline::wxr::import_file(
        app.store.as_ref(),
        &dir.join("64-block-test-data.xml"),
        &app.import_options(),
        Some(owner.id),
        false,
    )
    .await
    .expect("imported");
    assert_eq!(blocks.types.get("post"), Some(&61));
    // One post is in both exports of the same site: the second export updates it.
    assert_eq!(blocks.published + blocks.updated, 61, "{blocks}");
    for id in app.store.article_ids().await.expect("ids") {
        let worked = app
            .store
            .worked_article(id)
            .await
            .expect("read")
            .expect("there");
        let body = worked.record["body"].as_str().unwrap_or_default();
        assert!(
            !body.contains("<!-- wp:") && !body.contains("[caption"),
            "{}: {body}",
            worked.key
        );
    }

    // The old permalink leads to the new address, which serves the story.
    let old = app.get("/2018/10/20/keyboard-navigation/").await;
    assert_eq!(old.status(), 301);
    let new = old.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let page = app.page(&new).await;
    assert_eq!(page.text("h1"), "Keyboard navigation");
    assert_eq!(app.get("/2018/10/20/no-such-post/").await.status(), 404);

    // Again: nothing changes.
    let again = dateline::wxr::import_file(
        app.store.as_ref(),
        &dir.join("64-block-test-data.xml"),
        &app.import_options(),
        Some(owner.id),
        false,
    )
    .await
    .expect("imported");
    assert_eq!(
        (again.published, again.updated, again.unchanged),
        (0, 0, 61),
        "{again}"
    );
}

#[tokio::test]
async fn a_broken_export_is_refused_whole_with_where_it_breaks() {
    let app = TestApp::spawn().await;
    let whole =
        std::fs::read_to_string(shared().join("standards/wordpress-wxr/64-block-test-data.xml"))
            .expect("export");
    // Cut in the middle of an item, and with an unclosed element at the end.
    let cut = &whole[..whole.len() / 2];
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("broken.xml");
    std::fs::write(&file, format!("{cut}</wp:status></item></channel></rss>")).expect("written");
    let outcome = dateline::wxr::import_file(
        app.store.as_ref(),
        &file,
        &app.import_options(),
        None,
        false,
    )
    .await;
    let error = format!("{:#}", outcome.expect_err("a broken export is refused"));
    assert!(error.contains("not well-formed XML at byte"), "{error}");
    // Nothing of it was stored.
    assert!(app.store.article_ids().await.expect("ids").is_empty());
}
