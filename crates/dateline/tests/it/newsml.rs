//! NewsML-G2: every article's NewsItem validated with xmllint against IPTC's 2.35 schema.

use std::process::Command;

use crate::helpers::{shared, TestApp};

#[tokio::test]
async fn every_article_exports_as_a_valid_newsml_g2_news_item() {
    let app = TestApp::demo().await;
    let site = app
        .config
        .site(
            app.address
                .trim_start_matches("http://")
                .parse()
                .expect("addr"),
        )
        .expect("site");
    // A body with what HTML writes and XML does not: void elements, a non-breaking space.
    app.publish(&[serde_json::json!({"id": "xhtml-body", "headline": "Harbour & \"quay\" <reopen>",
        "body": "<p>One&nbsp;two<br>three &amp; four</p><figure><img src=\"/media/0123456789abcdef0123456789abcdef/480.jpg\" alt=\"A quay > a pier\"><figcaption>The quay</figcaption></figure><hr>",
        "byline": "By Ana Ruiz and Bo Lin", "section": "world", "published": "2021-10-22T09:37:00Z"})])
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let mut sink = Vec::new();
    let n = dateline::export::newsml(
        app.store.as_ref(),
        &site,
        &[],
        Some(dir.path()),
        &mut sink,
        false,
    )
    .await
    .expect("exported");
    assert_eq!(
        n as usize,
        app.store.article_ids().await.expect("ids").len()
    );
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len() as u64, n);
    let schema =
        shared().join("standards/newsml-g2/specification/NewsML-G2_2.35-spec-All-Power.xsd");
    let output = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .args(&files)
        .output()
        .expect("xmllint runs (scripts/test installs libxml2-utils)");
    assert!(
        output.status.success(),
        "NewsML-G2 not valid: {}",
        String::from_utf8_lossy(&output.stderr)
            .lines()
            .filter(|l| !l.ends_with(" validates"))
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let item = std::fs::read_to_string(dir.path().join("xhtml-body.xml")).expect("item");
    assert!(item.contains("<br/>") && item.contains("&#160;"), "{item}");
    assert!(
        item.contains("<creator role=\"crol:author\"><name>Ana Ruiz</name></creator>"),
        "{item}"
    );
    // The API gives the same item.
    app.account(
        "newsml-reader",
        &[dateline_core::account::Role::ChiefEditor],
        &[],
        "a long enough password",
    )
    .await;
    let token = app.token("newsml-reader", "a long enough password").await;
    let id = app.store.article_ids().await.expect("ids")[0].get();
    let response = app
        .client
        .get(app.url(&format!("/api/v1/articles/{id}/newsml")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .expect("type")
        .starts_with("application/vnd.iptc.g2.newsitem+xml"));
    let mut one = Vec::new();
    dateline::export::newsml(app.store.as_ref(), &site, &[id], None, &mut one, false)
        .await
        .expect("one");
    assert_eq!(
        response.text().await.expect("body"),
        String::from_utf8(one).expect("utf-8")
    );
}
