//! Feeds and sitemaps, read by consumers nobody here wrote: Python's feedparser for every RSS
//! and Atom feed, jsonfeed-util for JSON Feeds (no released feedparser reads them), xmllint
//! with the sitemaps.org and Google News schemas for every sitemap.

use std::process::Command;

use dateline_core::{Lang, Slug};
use dateline_storage::{Filter, Listing};
use reqwest::header;
use serde_json::{json, Value};

use crate::helpers::{shared, TestApp};

/// Fetches and reads each address with feedparser: whether it was bozo (malformed) and why, and each
/// entry's title, link, id, authors, publication time (seconds) and enclosures.
const READ_FEEDS: &str = r#"
import calendar, datetime, json, sys, urllib.request
import feedparser, jsonfeed

def json_feed(url):
    # No released feedparser reads JSON Feed: jsonfeed-util parses it, and the spec's own
    # rules are checked here (version, an id and a content for each item, RFC 3339 dates).
    text = urllib.request.urlopen(url).read().decode("utf-8")
    raw = json.loads(text)
    why = ""
    try:
        feed = jsonfeed.Feed.parse_string(text)
        if raw.get("version") != "https://jsonfeed.org/version/1.1":
            why = "version is " + str(raw.get("version"))
        for item in raw.get("items", []):
            if "content_html" not in item and "content_text" not in item:
                why = "an item has no content"
            for d in ("date_published", "date_modified"):
                if d in item:
                    datetime.datetime.fromisoformat(item[d].replace("Z", "+00:00"))
    except Exception as e:
        return {"bozo": True, "why": repr(e), "entries": []}
    def seconds(d):
        return int(datetime.datetime.fromisoformat(d.replace("Z", "+00:00")).timestamp()) if d else None
    return {
        "bozo": bool(why), "why": why, "version": "json11", "title": feed.title,
        "hub": [h.url for h in feed.hubs if h.type == "WebSub"],
        "entries": [{
            "title": i.title, "link": i.url, "id": i.id,
            "authors": [a.name for a in (i.authors or [])],
            "published": seconds(i.date_published),
            "content": [i.content_html] if i.content_html else [],
            "enclosures": [a.url for a in i.attachments],
        } for i in feed.items],
    }

out = []
for url in sys.argv[1:]:
    if url.endswith(".json"):
        out.append(json_feed(url))
        continue
    d = feedparser.parse(url)
    out.append({
        "bozo": bool(d.bozo),
        "why": str(d.get("bozo_exception", "")),
        "version": d.version,
        "title": d.feed.get("title"),
        "hub": [l.get("href") for l in d.feed.get("links", []) if l.get("rel") == "hub"],
        "entries": [{
            "title": e.get("title"),
            "link": e.get("link"),
            "id": e.get("id"),
            "authors": [a.get("name") for a in e.get("authors", [])],
            "published": calendar.timegm(e.published_parsed) if e.get("published_parsed") else None,
            "content": [c.get("value") for c in e.get("content", [])],
            "enclosures": [x.get("href") for x in e.get("enclosures", [])],
        } for e in d.entries],
    })
print(json.dumps(out))
"#;

pub(crate) async fn feedparser(urls: Vec<String>) -> Vec<Value> {
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg("-c")
            .arg(READ_FEEDS)
            .args(urls)
            .output()
    })
    .await
    .expect("joined")
    .expect("python3 runs");
    assert!(
        output.status.success(),
        "feedparser failed (scripts/test installs it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&output.stdout).expect("feedparser's report")
}

async fn fetch_to(app: &TestApp, path: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let name = path.trim_start_matches('/').replace('/', "_");
    let file = dir.join(name);
    std::fs::write(&file, response.bytes().await.expect("body")).expect("written");
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_feed_parses_with_the_right_titles_dates_and_links() {
    let app = TestApp::demo_with(|c| c.feeds.hub = Some("https://hub.example.org/".into())).await;
    let site = app
        .config
        .site("127.0.0.1:1".parse().expect("addr"))
        .expect("site");
    let en = Lang::parse("en").expect("lang");
    let zh = Lang::parse("zh").expect("lang");
    let key = |k: &str| Slug::parse(k).expect("slug");
    let pages: Vec<(&str, Lang, Filter)> = vec![
        ("", en.clone(), Filter::All),
        ("/zh", zh.clone(), Filter::All),
        (
            "/section/diplomacy",
            en.clone(),
            Filter::Section(key("diplomacy")),
        ),
        ("/section/world", en.clone(), Filter::Section(key("world"))),
        (
            "/topic/veldania-amaru-relations",
            en.clone(),
            Filter::Topic(key("veldania-amaru-relations")),
        ),
        (
            "/series/ambassador-talks",
            en.clone(),
            Filter::SeriesNewest(key("ambassador-talks")),
        ),
        (
            "/byline/noor-castellane",
            en.clone(),
            Filter::Person(dateline_core::PersonKey::parse("noor-castellane").expect("key")),
        ),
        // A person whose name is in Chinese ("记者 林晓": the reporter 林晓).
        (
            "/zh/byline/%E6%9E%97%E6%99%93",
            zh.clone(),
            Filter::Person(dateline_core::PersonKey::parse("林晓").expect("key")),
        ),
    ];
    let mut checked = 0;
    for (page, lang, filter) in pages {
        let expected = app
            .store
            .list(&Listing {
                lang,
                filter,
                limit: 20,
                offset: 0,
                as_of: jiff::Timestamp::now(),
            })
            .await
            .expect("listing");
        assert!(!expected.is_empty(), "{page} lists something");
        // The page names its feeds.
        let front = match page {
            "" => "/".to_string(),
            "/zh" => "/zh/".to_string(),
            other => other.to_string(),
        };
        let html = app.page(&front).await;
        let named = html.attrs("link[rel='alternate'][type='application/atom+xml']", "href");
        assert_eq!(named, [app.url(&format!("{page}/feed.atom"))], "{page}");
        let files: Vec<String> = ["feed.rss", "feed.atom", "feed.json"]
            .iter()
            .map(|f| app.url(&format!("{page}/{f}")))
            .collect();
        let parsed = feedparser(files.clone()).await;
        for (feed, what) in parsed.iter().zip(&files) {
            assert_eq!(feed["bozo"], false, "{what}: {}", feed["why"]);
            assert_eq!(feed["hub"], json!(["https://hub.example.org/"]), "{what}");
            let entries = feed["entries"].as_array().expect("entries");
            assert_eq!(entries.len(), expected.len(), "{what}");
            for (entry, link) in entries.iter().zip(&expected) {
                assert_eq!(entry["title"], link.headline.as_str(), "{what}");
                assert_eq!(
                    entry["link"],
                    app.url(&link.address(&site.address, &site.time_zone)),
                    "{what}"
                );
                assert_eq!(entry["published"], link.published.as_second(), "{what}");
                let id = entry["id"].as_str().expect("id");
                assert!(
                    id.starts_with("tag:127.0.0.1,")
                        && id.ends_with(&format!(":article-{}", link.id)),
                    "{what}: {id}"
                );
                // Full text, as the default setting says.
                assert!(
                    !entry["content"].as_array().expect("content").is_empty(),
                    "{what}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 24);
    // Unknown keys are not feeds.
    for path in [
        "/section/nowhere/feed.rss",
        "/topic/nothing/feed.atom",
        "/series/none/feed.json",
        "/section/Bad%20Key/feed.rss",
        "/byline/nobody-here/feed.rss",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_escape_what_they_carry_and_answer_304s() {
    let app = TestApp::spawn_with(|c| c.feeds.full_content = false).await;
    app.section("world", 90000, "World").await;
    let headline = r#"Tariffs <b>&</b> "quotas" 'now' ]]> end"#;
    app.publish(&[
        json!({"id": "tricky", "headline": headline, "summary": "A summary with a bell\u{7} and <tags>.",
               "body": "<p>Body with <a href=\"/n3/elsewhere.html\">a link</a> & an ampersand.</p><img src=\"/media/0123456789abcdef0123456789abcdef/480.jpg\" alt=\"A harbour\">",
               "byline": "By Mara Lindqvist and Tomas Ek", "section": "world", "published": "2021-10-22T09:37:00Z"}),
    ])
    .await;
    let files: Vec<String> = ["feed.rss", "feed.atom", "feed.json"]
        .iter()
        .map(|f| app.url(&format!("/section/world/{f}")))
        .collect();
    for (feed, what) in feedparser(files.clone()).await.iter().zip(&files) {
        assert_eq!(feed["bozo"], false, "{what}: {}", feed["why"]);
        let entry = &feed["entries"][0];
        assert_eq!(entry["title"], headline, "{what}");
        assert_eq!(
            entry["authors"],
            json!(["Mara Lindqvist", "Tomas Ek"]),
            "{what}"
        );
        // Summaries only, as this outlet's setting says.
        assert_eq!(entry["content"], json!([]), "{what}");
        let enclosures = entry["enclosures"].as_array().expect("enclosures");
        assert_eq!(enclosures.len(), 1, "{what}");
        assert!(
            enclosures[0]
                .as_str()
                .expect("href")
                .starts_with("http://127.0.0.1:"),
            "{what}"
        );
    }
    // A feed reader that polls again gets a 304, by ETag or by date.
    let first = app.get("/section/world/feed.atom").await;
    let etag = first.headers()[header::ETAG].clone();
    let modified = first.headers()[header::LAST_MODIFIED].clone();
    assert_eq!(modified, "Fri, 22 Oct 2021 09:37:00 GMT");
    let again = app
        .client
        .get(app.url("/section/world/feed.atom"))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status(), 304);
    let by_date = app
        .client
        .get(app.url("/section/world/feed.rss"))
        .header(header::IF_MODIFIED_SINCE, "Sat, 23 Oct 2021 00:00:00 GMT")
        .send()
        .await
        .expect("sent");
    assert_eq!(by_date.status(), 304);
    assert_eq!(
        by_date.headers()[header::LAST_MODIFIED],
        "Fri, 22 Oct 2021 09:37:00 GMT"
    );
    let older = app
        .client
        .get(app.url("/section/world/feed.rss"))
        .header(header::IF_MODIFIED_SINCE, "Thu, 21 Oct 2021 00:00:00 GMT")
        .send()
        .await
        .expect("sent");
    assert_eq!(older.status(), 200);
}

fn xmllint(schema: &std::path::Path, file: &std::path::Path) {
    let output = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(schema)
        .arg(file)
        .output()
        .expect("xmllint runs (scripts/test installs libxml2-utils)");
    assert!(
        output.status.success(),
        "{} is not valid against {}: {}",
        file.display(),
        schema.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn sitemaps_are_valid_and_name_what_readers_can_read() {
    let app = TestApp::demo().await;
    let now = jiff::Timestamp::now();
    let ids = app
        .publish(&[
            json!({"id": "fresh", "headline": "Fresh & new", "body": "<p>Today.</p>", "section": "world",
                   "published": (now - jiff::SignedDuration::from_hours(3)).to_string()}),
            json!({"id": "stale", "headline": "Three days old", "body": "<p>Then.</p>", "section": "world",
                   "published": (now - jiff::SignedDuration::from_hours(72)).to_string()}),
        ])
        .await;
    let schemas = shared().join("standards/sitemaps");
    let dir = tempfile::tempdir().expect("dir");
    let robots = app.get("/robots.txt").await.text().await.expect("robots");
    let index_url = app.url("/sitemap.xml");
    assert!(
        robots.lines().any(|l| l == format!("Sitemap: {index_url}")),
        "{robots}"
    );
    let index = fetch_to(&app, "/sitemap.xml", dir.path()).await;
    xmllint(&schemas.join("siteindex.xsd"), &index);
    let text = std::fs::read_to_string(&index).expect("index");
    let maps: Vec<String> = text
        .split("<loc>")
        .skip(1)
        .map(|s| s.split("</loc>").next().expect("loc").to_string())
        .collect();
    assert_eq!(maps[0], app.url("/sitemaps/news.xml"));
    assert!(maps.len() >= 2, "{maps:?}");
    let mut listed = Vec::new();
    for map in &maps {
        let path = map.strip_prefix(&app.address).expect("own address");
        let file = fetch_to(&app, path, dir.path()).await;
        let schema = if path.ends_with("news.xml") {
            "news-sitemap.xsd"
        } else {
            "sitemap.xsd"
        };
        xmllint(&schemas.join(schema), &file);
        listed.push((
            path.to_string(),
            std::fs::read_to_string(&file).expect("sitemap"),
        ));
    }
    let fresh = app.url(&app.address_of(ids[0]).await);
    let stale = app.url(&app.address_of(ids[1]).await);
    let news = &listed[0].1;
    assert!(news.contains(&format!("<loc>{fresh}</loc>")), "{news}");
    assert!(!news.contains(&format!("<loc>{stale}</loc>")));
    assert!(news.contains("<news:title>Fresh &amp; new</news:title>"));
    let archive: String = listed[1..].iter().map(|(_, t)| t.as_str()).collect();
    assert!(archive.contains(&format!("<loc>{stale}</loc>")));
    assert!(archive.contains(&format!("<loc>{fresh}</loc>")));
    for href in app.page("/").await.attrs(".headline a", "href") {
        assert!(
            archive.contains(&format!("<loc>{}</loc>", app.url(&href))),
            "{href}"
        );
    }
    // Past the archive, or not a sitemap's name: nothing.
    for path in [
        "/sitemaps/articles-9999.xml",
        "/sitemaps/articles-01.xml",
        "/sitemaps/other.xml",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
}

/// A WebSub hub on loopback that refuses its first `refuse` requests, then takes the rest.
#[derive(Default)]
struct Hub {
    refuse: std::sync::atomic::AtomicUsize,
    taken: std::sync::Mutex<Vec<String>>,
}

async fn hub_receive(
    axum::extract::State(hub): axum::extract::State<std::sync::Arc<Hub>>,
    body: String,
) -> axum::http::StatusCode {
    use std::sync::atomic::Ordering;
    if hub
        .refuse
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
    }
    hub.taken.lock().expect("lock").push(body);
    axum::http::StatusCode::NO_CONTENT
}

#[tokio::test]
async fn the_hub_hears_of_every_feed_a_publish_changes_even_after_failing() {
    let hub = std::sync::Arc::new(Hub::default());
    hub.refuse.store(2, std::sync::atomic::Ordering::SeqCst);
    let router = axum::Router::new()
        .route("/hub", axum::routing::post(hub_receive))
        .with_state(hub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hub_url = format!("http://{}/hub", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = TestApp::spawn_with(|c| c.feeds.hub = Some(hub_url.clone())).await;
    app.section("world", 90000, "World").await;
    // The hub is named in the feed, in its head and in a Link header.
    let feed = app.get("/section/world/feed.atom").await;
    let link = feed.headers()[header::LINK]
        .to_str()
        .expect("text")
        .to_string();
    assert!(
        link.contains(&format!("<{hub_url}>; rel=\"hub\"")),
        "{link}"
    );
    // Let the follower take its place in the stream, then publish.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    app.publish(&[
        json!({"id": "hubbed", "headline": "A story the hub hears of", "body": "<p>Text.</p>",
                         "section": "world", "published": "2021-10-22T09:37:00Z"}),
    ])
    .await;
    let wanted: Vec<String> = [
        "/feed.rss",
        "/feed.atom",
        "/feed.json",
        "/section/world/feed.rss",
        "/section/world/feed.atom",
        "/section/world/feed.json",
    ]
    .iter()
    .map(|p| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("hub.mode", "publish")
            .append_pair("hub.url", &app.url(p))
            .finish()
    })
    .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let taken = hub.taken.lock().expect("lock").clone();
        if wanted.iter().all(|w| taken.contains(w)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the hub heard only {taken:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        hub.refuse.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the refusals were met and retried"
    );
}
