//! What readers see: only what is published by now, and every page they can reach even when
//! one stored article cannot be read.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn an_article_published_in_the_future_is_not_live() {
    let app = TestApp::spawn().await;
    let ids = app
        .publish(&[
            json!({"id": "now", "headline": "Out now", "published": "2024-01-01T00:00:00Z",
                   "body": "<p><a href=\"article:later\"></a></p>", "related": ["later"]}),
            json!({"id": "later", "headline": "Not yet", "published": "2150-01-01T00:00:00Z"}),
        ])
        .await;
    let later = app.address_of(ids[1]).await;
    assert_eq!(app.page(&later).await.status, 404);
    let home = app.page("/").await;
    assert_eq!(home.texts(".story .headline"), vec!["Out now"]);
    assert!(app.page("/section/news").await.texts(".listing .headline") == vec!["Out now"]);
    // Nor does a live page link to it.
    let now = app.page(&app.address_of(ids[0]).await).await;
    assert!(now.texts(".related").is_empty());
    assert!(now.texts(".body a").is_empty());
}

#[tokio::test]
async fn an_unreadable_row_fails_only_its_own_page() {
    let app = TestApp::spawn().await;
    let ids = app
        .publish(&[
            json!({"id": "fine", "headline": "Fine story", "published": "2024-01-01T00:00:00Z"}),
            json!({"id": "broken", "headline": "Broken story", "published": "2024-01-02T00:00:00Z"}),
        ])
        .await;
    let broken = app.address_of(ids[1]).await;
    app.raw_sql("UPDATE articles SET published_at = -999999999999 WHERE key = 'broken'")
        .await;
    for path in ["/", "/section/news", "/no/such/page"] {
        let page = app.page(path).await;
        assert!(matches!(page.status, 200 | 404), "{path}: {}", page.status);
        assert!(
            page.texts(".story .headline")
                .contains(&"Fine story".to_string()),
            "{path}"
        );
    }
    assert_eq!(app.page(&broken).await.status, 500);
    assert_eq!(app.page(&app.address_of(ids[0]).await).await.status, 200);
}
