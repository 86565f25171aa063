//! The page cache: never stale, whatever changes and whoever reads meanwhile; one render for
//! many readers; compressed forms; surrogate keys and the purge hook.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dateline_core::account::Role;
use dateline_core::change::ChangeKind;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

use crate::helpers::without_related;
use crate::helpers::TestApp;

const PASSWORD: &str = "correct horse battery staple";

/// Every public page whose content these tests change.
fn listing_pages() -> Vec<String> {
    let mut pages: Vec<String> = [
        "/",
        "/section/world",
        "/section/sport",
        "/topic/talks",
        "/series/visits",
        "/byline/ann-lee",
        "/corrections",
        "/sitemap.xml",
        "/sitemaps/news.xml",
        "/sitemaps/articles-0.xml",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    for page in [
        "",
        "/section/world",
        "/topic/talks",
        "/series/visits",
        "/byline/ann-lee",
    ] {
        for feed in ["feed.rss", "feed.atom", "feed.json"] {
            pages.push(format!("{page}/{feed}"));
        }
    }
    pages
}

/// The same address with a query no reader sends: never kept before, so rendered now from the
/// database, as a cache-less server would. The parameter is the search page's, which the cache
/// keeps in a page's key (it drops those no page reads) and these pages do not read.
fn fresh(path: &str, n: u64) -> String {
    format!("{path}?q=uncached-{n}")
}

struct Reference {
    app: TestApp,
    n: AtomicU64,
}

impl Reference {
    async fn get(&self, path: &str) -> (u16, String) {
        let response = self.app.get(path).await;
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
        )
    }

    /// The page at `path` rendered now, never read from the cache.
    async fn rendered(&self, path: &str) -> (u16, String) {
        let n = self.n.fetch_add(1, Ordering::Relaxed);
        let response = self.app.get(&fresh(path, n)).await;
        assert_ne!(
            response.headers().get("x-cache").map(|v| v.as_bytes()),
            Some(&b"hit"[..]),
            "the reference render of {path} came from the cache"
        );
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
        )
    }

    /// Every page as the cache serves it equals the page rendered now from the database; the
    /// headlines an article page links to are the current ones.
    async fn assert_fresh(
        &self,
        articles: &[String],
        headlines: &HashMap<String, String>,
        what: &str,
    ) {
        for path in listing_pages().iter().chain(articles) {
            let (want_status, want) = self.rendered(path).await;
            let (status, got) = self.get(path).await;
            assert_eq!(status, want_status, "after {what}: {path}");
            if articles.contains(path) {
                assert_eq!(
                    without_related(&got),
                    without_related(&want),
                    "after {what}: {path} is stale"
                );
                // Related stories name each story by its current headline.
                let page = scraper::Html::parse_document(&got);
                let links = scraper::Selector::parse(".related .headline a").expect("selector");
                for a in page.select(&links) {
                    let text: String = a.text().collect::<String>().trim().to_string();
                    let href = a.value().attr("href").unwrap_or_default();
                    if let Some(current) = headlines.get(href) {
                        // A series' episode number may come before the headline.
                        assert!(
                            text.ends_with(current.as_str()),
                            "after {what}: {path} links {href} as {text:?}, not {current:?}"
                        );
                    } else {
                        panic!("after {what}: {path} links {href} ({text}), which is not live");
                    }
                }
            } else {
                assert_eq!(got, want, "after {what}: {path} is stale");
            }
        }
    }
}

/// Readers that ask for every page over and over, so that renders overlap every change.
fn readers(
    app: &TestApp,
    pages: Vec<String>,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<u64>> {
    (0..6)
        .map(|i| {
            let client = app.client.clone();
            let base = app.address.clone();
            let pages = pages.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut read = 0;
                let mut at = i;
                while !stop.load(Ordering::Relaxed) {
                    let path = &pages[at % pages.len()];
                    at += 1;
                    if let Ok(r) = client.get(format!("{base}{path}")).send().await {
                        let _ = r.bytes().await;
                        read += 1;
                    }
                }
                read
            })
        })
        .collect()
}

#[tokio::test]
async fn no_page_is_ever_stale_under_concurrent_readers() {
    let app = TestApp::spawn().await;
    app.section("world", 1, "World").await;
    app.section("sport", 2, "Sport").await;
    app.account("ed", &[Role::Editor], &["world", "sport"], PASSWORD)
        .await;
    let token = app.token("ed", PASSWORD).await;
    let record = |id: &str, headline: &str, section: &str| {
        json!({
            "id": id, "headline": headline, "section": section,
            "published": "2026-11-20T08:00:00Z",
            "body": format!("<p>{headline}: the talks went on into the night.</p>"),
        })
    };
    let mut a = record("a", "Talks open in Geneva", "world");
    a["topics"] = json!(["talks"]);
    a["series"] = json!("visits");
    a["episode"] = json!(1);
    a["byline"] = json!("By Ann Lee");
    let mut b = record("b", "Ministers meet again", "world");
    b["body"] = json!("<p>See <a href=\"article:a\"></a> for the first day.</p>");
    b["topics"] = json!(["talks"]);
    let mut c = record("c", "Cup final tonight", "sport");
    // Pinned: one that exists, one that is published later.
    c["related"] = json!(["a", "later"]);
    let ids = app.publish(&[a.clone(), b, c]).await;
    let mut articles = Vec::new();
    for id in &ids {
        articles.push(app.address_of(*id).await);
    }
    let mut headlines: HashMap<String, String> = HashMap::new();
    for (id, h) in ids.iter().zip([
        "Talks open in Geneva",
        "Ministers meet again",
        "Cup final tonight",
    ]) {
        headlines.insert(app.address_of(*id).await, h.to_string());
    }
    let reference = Reference {
        app,
        n: AtomicU64::new(0),
    };
    let app = &reference.app;
    let stop = Arc::new(AtomicBool::new(false));
    let mut all: Vec<String> = listing_pages();
    all.extend(articles.iter().cloned());
    let readers = readers(app, all, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    reference
        .assert_fresh(&articles, &headlines, "the import")
        .await;

    // An update of a story other pages link to (inline, pinned) and list.
    a["headline"] = json!("Talks open in Geneva after a delay");
    app.publish(&[a.clone()]).await;
    headlines.insert(
        articles[0].clone(),
        "Talks open in Geneva after a delay".into(),
    );
    reference
        .assert_fresh(&articles, &headlines, "an update")
        .await;
    let b_page = app.page(&articles[1]).await;
    assert!(
        b_page
            .texts(".body a")
            .contains(&"Talks open in Geneva after a delay".to_string()),
        "the inline link names the new headline"
    );

    // A story published that another one pinned before it existed.
    let later = app
        .publish(&[record("later", "A later story", "world")])
        .await;
    let later_address = app.address_of(later[0]).await;
    headlines.insert(later_address.clone(), "A later story".into());
    articles.push(later_address.clone());
    reference
        .assert_fresh(&articles, &headlines, "a publication")
        .await;
    assert!(
        app.page(&articles[2])
            .await
            .texts(".related .headline")
            .contains(&"A later story".to_string()),
        "the pinned story shows as soon as it is published"
    );

    // Through the API: a story written, published, corrected, then taken down.
    let (status, created) = app
        .api(
            reqwest::Method::POST,
            "/api/v1/articles",
            Some(&token),
            Some(json!({"headline": "Breaking: a storm", "section": "world", "body": "Wind."})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let actions = format!("/api/v1/articles/{}/actions", created["id"]);
    let act = |body: Value| {
        let actions = actions.clone();
        let token = token.clone();
        let reference = &reference;
        async move {
            let (status, answer) = reference
                .app
                .api(reqwest::Method::POST, &actions, Some(&token), Some(body))
                .await;
            assert_eq!(status, 200, "{answer}");
            answer
        }
    };
    let published = act(json!({"action": "publish"})).await;
    let storm = published["url"]
        .as_str()
        .expect("an address")
        .trim_start_matches(&app.address)
        .to_string();
    headlines.insert(storm.clone(), "Breaking: a storm".into());
    articles.push(storm.clone());
    reference
        .assert_fresh(&articles, &headlines, "a publish")
        .await;
    assert_eq!(
        app.page("/").await.texts(".lead .headline"),
        vec!["Breaking: a storm"]
    );
    act(json!({"action": "correct", "note": "The storm reached the coast at noon, not at dawn."}))
        .await;
    reference
        .assert_fresh(&articles, &headlines, "a correction")
        .await;
    act(json!({"action": "unpublish"})).await;
    headlines.remove(&storm);
    articles.retain(|a| a != &storm);
    reference
        .assert_fresh(&articles, &headlines, "an unpublish")
        .await;
    assert_eq!(app.get(&storm).await.status().as_u16(), 404);

    // An embargo that lifts, and a schedule that fires, by the clock.
    let soon = |s: i64| Timestamp::now() + SignedDuration::from_secs(s);
    let until = soon(2);
    act(json!({"action": "embargo", "at": until.to_string()})).await;
    act(json!({"action": "publish"})).await;
    let (_, second) = app
        .api(
            reqwest::Method::POST,
            "/api/v1/articles",
            Some(&token),
            Some(json!({"headline": "Scheduled: the vote", "section": "world", "body": "Votes."})),
        )
        .await;
    let (status, scheduled) = app
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/articles/{}/actions", second["id"]),
            Some(&token),
            Some(json!({"action": "schedule", "at": soon(3).to_string()})),
        )
        .await;
    assert_eq!(status, 200, "{scheduled}");
    reference
        .assert_fresh(&articles, &headlines, "an embargo and a schedule set")
        .await;
    // Until both are live, and then once more: the cache shows each as soon as the database
    // does.
    let mut rounds = 0;
    loop {
        let home = reference.get(&fresh("/", 10_000 + rounds)).await.1;
        let both = home.contains("Breaking: a storm") && home.contains("Scheduled: the vote");
        let (_, cached) = reference.get("/").await;
        for headline in ["Breaking: a storm", "Scheduled: the vote"] {
            if home.contains(headline) {
                assert!(
                    cached.contains(headline),
                    "{headline} is live but the kept home page lacks it"
                );
            }
        }
        if both {
            break;
        }
        rounds += 1;
        assert!(
            rounds < 100,
            "the embargo and the schedule never took effect"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (headline, id) in [
        ("Breaking: a storm", &created["id"]),
        ("Scheduled: the vote", &second["id"]),
    ] {
        let (_, worked) = app
            .api(
                reqwest::Method::GET,
                &format!("/api/v1/articles/{id}"),
                Some(&token),
                None,
            )
            .await;
        let address = worked["url"]
            .as_str()
            .expect("live")
            .trim_start_matches(&app.address)
            .to_string();
        headlines.insert(address.clone(), headline.to_string());
        articles.push(address);
    }
    reference
        .assert_fresh(&articles, &headlines, "the embargo's lift and the schedule")
        .await;

    stop.store(true, Ordering::Relaxed);
    let mut read = 0;
    for r in readers {
        read += r.await.expect("reader");
    }
    let stats = app.state.cache.stats();
    assert!(read > 100, "the readers read {read} pages");
    assert!(stats.hits > 0, "{stats:?}");
}

#[tokio::test]
async fn a_thousand_readers_of_a_page_not_kept_cause_one_render() {
    let app = TestApp::demo_with(|c| {
        c.limits.max_connections = 2_000;
        c.limits.max_connections_per_client = 2_000;
    })
    .await;
    // Kept pages are read once the cache follows the stream.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = app.state.cache.stats();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut asks = Vec::new();
    for _ in 0..1_000 {
        let client = client.clone();
        let url = app.url("/section/world");
        asks.push(tokio::spawn(async move {
            let r = client.get(url).send().await.expect("request");
            (r.status().as_u16(), r.text().await.expect("body"))
        }));
    }
    let mut bodies = std::collections::HashSet::new();
    for ask in asks {
        let (status, body) = ask.await.expect("reader");
        assert_eq!(status, 200);
        bodies.insert(body);
    }
    let after = app.state.cache.stats();
    assert_eq!(bodies.len(), 1, "every reader got the same page");
    assert_eq!(after.renders - before.renders, 1, "{before:?} {after:?}");
    assert_eq!(after.hits - before.hits, 999, "{before:?} {after:?}");
}

#[tokio::test]
async fn a_shared_link_s_tracking_parameters_read_the_kept_page() {
    let app = TestApp::demo().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cache = |r: &reqwest::Response| {
        r.headers()
            .get("x-cache")
            .map(|v| v.to_str().expect("ascii").to_string())
    };
    let first = app.get("/section/world").await;
    assert_eq!(cache(&first).as_deref(), Some("miss"));
    let page = first.text().await.expect("body");
    // Every click from a social network carries its own parameters: each reads the kept page.
    for query in [
        "?utm_source=social&utm_medium=share",
        "?fbclid=IwAR0a1b2c3",
        "?fbclid=IwAR9z8y7x6&utm_campaign=breaking",
        "?",
    ] {
        let r = app.get(&format!("/section/world{query}")).await;
        assert_eq!(r.status().as_u16(), 200, "{query}");
        assert_eq!(cache(&r).as_deref(), Some("hit"), "{query}");
        assert_eq!(r.text().await.expect("body"), page, "{query}");
    }
    // A parameter a page reads is its own page, however its name is spelled, and never
    // stands for the page without it.
    // (The demo's section has one page: the second is not found.)
    let second = app.get("/section/world?p%61ge=2&utm_source=x").await;
    let second = (second.status().as_u16(), second.text().await.expect("body"));
    assert_eq!(second.0, 404);
    let again = app.get("/section/world?page=2").await;
    assert_eq!(
        (again.status().as_u16(), again.text().await.expect("body")),
        second
    );
    let r = app.get("/section/world").await;
    assert_eq!(cache(&r).as_deref(), Some("hit"));
    assert_eq!(r.text().await.expect("body"), page);
    // The search page reads its words, with the tracking parameters left out.
    let plain = app.get("/search?q=talks").await.text().await.expect("body");
    let shared = app
        .get("/search?utm_source=x&q=talks")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(shared, plain);
}

#[tokio::test]
async fn kept_pages_are_compressed_validated_and_tagged() {
    let app = TestApp::demo().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let plain = app.get("/").await;
    assert_eq!(plain.status().as_u16(), 200);
    let etag = plain.headers()["etag"].to_str().expect("ascii").to_string();
    assert_eq!(plain.headers()["vary"], "Accept-Encoding");
    assert_eq!(
        plain.headers()["x-cache"],
        "miss",
        "the first reader renders"
    );
    assert_eq!(app.get("/").await.headers()["x-cache"], "hit");
    assert!(
        plain.headers().get("surrogate-key").is_none(),
        "no CDN is purged"
    );
    assert!(
        plain.headers().get("cdn-cache-control").is_none(),
        "no CDN is purged"
    );
    let text = plain.text().await.expect("body");
    for (coding, decode) in [
        (
            "br",
            Box::new(|b: &[u8]| {
                let mut out = Vec::new();
                brotli::BrotliDecompress(&mut &b[..], &mut out).expect("brotli");
                out
            }) as Box<dyn Fn(&[u8]) -> Vec<u8>>,
        ),
        (
            "gzip",
            Box::new(|b: &[u8]| {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(b), &mut out)
                    .expect("gzip");
                out
            }),
        ),
    ] {
        let r = app
            .client
            .get(app.url("/"))
            .header("accept-encoding", format!("{coding}, identity;q=0.5"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.headers()["content-encoding"], coding);
        let tag = r.headers()["etag"].to_str().expect("ascii").to_string();
        assert_ne!(tag, etag, "each encoding has its own entity tag");
        let bytes = r.bytes().await.expect("body");
        assert!(
            bytes.len() * 3 < text.len(),
            "{coding}: {} of {}",
            bytes.len(),
            text.len()
        );
        assert_eq!(String::from_utf8(decode(&bytes)).expect("utf-8"), text);
        let again = app
            .client
            .get(app.url("/"))
            .header("accept-encoding", coding)
            .header("if-none-match", &tag)
            .send()
            .await
            .expect("request");
        assert_eq!(again.status().as_u16(), 304);
    }
    // The admin and the API are never kept.
    let api = app.get("/api/v1/openapi.json").await;
    assert!(api.headers().get("x-cache").is_none());
}

#[tokio::test]
async fn the_purge_hook_hears_the_keys_of_every_change() {
    let heard: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!("http://{}/purge", listener.local_addr().expect("address"));
    let sink = heard.clone();
    let router = axum::Router::new().route(
        "/purge",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
                let sink = sink.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    sink.lock().expect("lock").push((auth, body.0));
                    "ok"
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = TestApp::spawn_with(|c| {
        c.cache.purge_url = Some(hook.clone());
        c.cache.purge_token = Some("cdn-secret".into());
    })
    .await;
    app.section("world", 1, "World").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let ids = app
        .publish(&[json!({
            "id": "storm", "headline": "A storm", "section": "world", "byline": "By Ann Lee",
            "body": "<p>Wind.</p>", "topics": ["weather"], "published": "2026-11-20T08:00:00Z",
        })])
        .await;
    assert!(ids.len() == 1);
    let page = app.get("/").await;
    assert!(
        page.headers().contains_key("cdn-cache-control"),
        "a purged CDN may keep pages"
    );
    let tags = page.headers()["surrogate-key"]
        .to_str()
        .expect("ascii")
        .to_string();
    for key in ["frame", "lang:en", "front:en"] {
        assert!(tags.split(' ').any(|k| k == key), "{tags}");
    }
    assert_eq!(
        page.headers()["cache-tag"].to_str().expect("ascii"),
        tags.replace(' ', ",")
    );
    let mut keys: Vec<String> = Vec::new();
    for _ in 0..50 {
        keys = heard
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|(auth, body)| {
                assert_eq!(auth, "Bearer cdn-secret");
                body["tags"].as_array().cloned().unwrap_or_default()
            })
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        if keys.contains(&dateline_web::cache::header_tag("a:storm")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A story's key is sent as a digest: a page may name one not yet published.
    assert!(keys.iter().all(|k| !k.contains("storm")), "{keys:?}");
    for key in [
        dateline_web::cache::header_tag("a:storm").as_str(),
        "section:world",
        "topic:weather",
        "byline:ann-lee",
        "lang:en",
    ] {
        assert!(
            keys.contains(&key.to_string()),
            "{key} not purged: {keys:?}"
        );
    }
    // Threaded, the story reaches its own page and its thread's pages; the listings it is in
    // were purged for its publication, and are not a second time.
    app.threaded().await;
    let changes = app.store.changes_after(0, 1000).await.expect("stream");
    let threaded = changes
        .iter()
        .find(|c| c.kind == ChangeKind::ArticleThreaded && c.subject == "storm")
        .expect("the story was threaded");
    let reached = dateline_web::cache::reached(threaded);
    assert!(reached.contains(&"placed:storm".to_string()), "{reached:?}");
    assert!(
        reached.iter().any(|t| t.starts_with("thread:")),
        "{reached:?}"
    );
    for listing in ["a:storm", "lang:en", "section:world", "byline:ann-lee"] {
        assert!(!reached.contains(&listing.to_string()), "{reached:?}");
    }
    // A story page is kept once the index suggests related stories for it.
    app.publish(&[json!({
        "id": "storm-2", "headline": "The storm grows", "section": "world",
        "body": "<p>Wind and storm.</p>", "topics": ["weather"],
        "published": "2026-11-20T09:00:00Z",
    })])
    .await;
    let address = app.address_of(ids[0]).await;
    let placed = dateline_web::cache::header_tag("placed:storm");
    let mut story_keys = String::new();
    for _ in 0..100 {
        let story = app.get(&address).await;
        if let Some(keys) = story.headers().get("surrogate-key") {
            story_keys = keys.to_str().expect("ascii").to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(story_keys.split(' ').any(|k| k == placed), "{story_keys}");
    for _ in 0..50 {
        let purged = heard.lock().expect("lock").iter().any(|(_, body)| {
            body["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|k| k.as_str() == Some(placed.as_str())))
        });
        if purged {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the story's page was not purged when it was threaded");
}
