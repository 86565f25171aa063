//! Partner ingest: a partner's RSS, Atom and ninjs feeds on loopback, followed on a schedule,
//! credited in the dateline, drafts or publication as each partner's setting says, and never
//! taken twice.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use dateline::config::PartnerConfig;

use crate::helpers::TestApp;

#[derive(Default)]
struct Feeds {
    rss_items: Mutex<Vec<(String, String)>>,
    ninjs_killed: std::sync::atomic::AtomicBool,
}

fn rss(items: &[(String, String)]) -> String {
    let items: String = items
        .iter()
        .map(|(guid, title)| {
            // An item may give no time of its own.
            let date = if guid.starts_with("undated") {
                String::new()
            } else {
                "<pubDate>Fri, 22 Oct 2021 01:05:00 GMT</pubDate>".to_string()
            };
            format!(
                "<item><title>{title}</title><link>https://partner.example.org/{guid}</link><guid isPermaLink=\"false\">{guid}</guid>\
                 {date}<description>Summary of {title}.</description>\
                 <content:encoded><![CDATA[<p>Body of {title}.</p><script>alert(1)</script>]]></content:encoded></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel>\
         <title>Partner wire</title><link>https://partner.example.org/</link><description>Wire</description>{items}</channel></rss>"
    )
}

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Agency</title>
<id>urn:agency</id><updated>2021-10-22T03:00:00Z</updated>
<entry><title>Agency story for the desk</title><id>urn:agency:1</id><updated>2021-10-22T03:00:00Z</updated>
<author><name>Li Wei</name></author><content type="html">&lt;p&gt;Agency text.&lt;/p&gt;</content></entry></feed>"#;

const NINJS: &str = r#"[{"uri": "urn:ninjs-wire:77", "standard": {"name": "ninjs", "version": "3.1"},
 "firstCreated": "2021-10-22T04:00:00Z", "language": "en",
 "headlines": [{"role": "main", "value": "A ninjs wire story"}],
 "bodies": [{"role": "main", "contentType": "text/html", "value": "<p>Wire text.</p>"}]}]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_feeds_are_followed_credited_and_never_taken_twice() {
    let feeds = Arc::new(Feeds::default());
    feeds.rss_items.lock().expect("lock").extend([
        ("wire-1".to_string(), "First wire story".to_string()),
        ("wire-2".to_string(), "Second &amp; last".to_string()),
        ("undated-1".to_string(), "An undated wire story".to_string()),
    ]);
    let router = axum::Router::new()
        .route(
            "/rss",
            get(|State(f): State<Arc<Feeds>>| async move {
                let items = f.rss_items.lock().expect("lock").clone();
                ([("content-type", "application/rss+xml")], rss(&items))
            }),
        )
        .route(
            "/atom",
            get(|| async { ([("content-type", "application/atom+xml")], ATOM) }),
        )
        .route(
            "/ninjs",
            get(|State(f): State<Arc<Feeds>>| async move {
                let body = if f.ninjs_killed.load(std::sync::atomic::Ordering::SeqCst) {
                    NINJS.replace("\"language\"", "\"pubStatus\": \"canceled\", \"language\"")
                } else {
                    NINJS.to_string()
                };
                ([("content-type", "application/json")], body)
            }),
        )
        .with_state(feeds.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let partner = |name: &str, path: &str, format: &str, publish: bool| PartnerConfig {
        name: name.into(),
        url: format!("{base}{path}"),
        format: format.into(),
        every_secs: 1,
        publish,
        section: "world".into(),
        lang: None,
        owner: (!publish).then(|| "desk".to_string()),
    };
    let partners = vec![
        partner("Xinhua", "/rss", "feed", true),
        partner("Agency", "/atom", "feed", false),
        partner("Ninjs Wire", "/ninjs", "ninjs", true),
    ];
    // The desk's account must exist before the server reads its partners' settings.
    let app = TestApp::spawn_with(move |c| c.partners = partners).await;
    app.section("world", 90000, "World").await;
    app.account(
        "desk",
        &[dateline_core::account::Role::Editor],
        &["world"],
        "a long enough password",
    )
    .await;

    let wait_for = |n: usize| {
        let app = &app;
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let ids = app.store.article_ids().await.expect("ids");
                if ids.len() >= n || Instant::now() > deadline {
                    return ids;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let ids = wait_for(5).await;
    assert_eq!(
        ids.len(),
        5,
        "three RSS items, one Atom draft, one ninjs item"
    );
    let mut by_headline = std::collections::HashMap::new();
    for id in &ids {
        let w = app
            .store
            .worked_article(*id)
            .await
            .expect("read")
            .expect("there");
        by_headline.insert(
            w.record["headline"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            w,
        );
    }
    let first = &by_headline["First wire story"];
    assert_eq!(first.record["credit"], "Xinhua");
    assert_eq!(first.state, dateline_core::workflow::State::Published);
    assert!(!first.record["body"]
        .as_str()
        .unwrap_or_default()
        .contains("script"));
    assert!(by_headline.contains_key("Second & last"));
    assert_eq!(
        by_headline["Agency story for the desk"].state,
        dateline_core::workflow::State::Draft
    );
    assert_eq!(
        by_headline["Agency story for the desk"].record["byline"],
        "By Li Wei"
    );
    assert_eq!(
        by_headline["A ninjs wire story"].record["credit"],
        "Ninjs Wire"
    );
    // The reader sees the partner in the dateline.
    let page = app.page(&app.address_of(first.id.get()).await).await;
    assert_eq!(page.text(".dateline"), "(Xinhua) 01:05, October 22, 2021");

    // A new item arrives; those already taken are not taken again.
    feeds
        .rss_items
        .lock()
        .expect("lock")
        .push(("wire-3".to_string(), "Third wire story".to_string()));
    let ids = wait_for(6).await;
    assert_eq!(ids.len(), 6);
    // An item with no time of its own was taken once, not again at every read.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let undated = app
        .store
        .worked_article(by_headline["An undated wire story"].id)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        undated.revision,
        by_headline["An undated wire story"].revision
    );
    // The partner corrects a published story: the copy takes the new version.
    feeds.rss_items.lock().expect("lock")[0].1 = "First wire story, corrected".to_string();
    // And kills its ninjs story: the copy is taken down.
    feeds
        .ninjs_killed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let wire = by_headline["A ninjs wire story"].id;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let first_now = app
            .store
            .worked_article(first.id)
            .await
            .expect("read")
            .expect("there");
        let wire_now = app
            .store
            .worked_article(wire)
            .await
            .expect("read")
            .expect("there");
        if first_now.record["headline"] == "First wire story, corrected"
            && wire_now.state == dateline_core::workflow::State::Unpublished
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the correction and the kill did not arrive: {} {}",
            first_now.record["headline"],
            wire_now.state
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        app.store.article_ids().await.expect("ids").len(),
        6,
        "nothing was taken twice"
    );
}
