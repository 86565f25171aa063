//! The search index through the real server: what readers may see is found within a second,
//! what they may not never is, Chinese and Russian are searched as they are written, and an
//! index that was down catches up from its place in the stream.

use std::time::{Duration, Instant};

use dateline_core::account::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;

const PASSWORD: &str = "a searching password";

async fn search(app: &TestApp, query: &str) -> Value {
    let url = format!(
        "/api/v1/search?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", query)
            .finish()
    );
    let (status, body) = app.api(Method::GET, &url, None, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn keys(found: &Value) -> Vec<String> {
    found["hits"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter_map(|x| x["key"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `ok` holds of the search for `query`; answers how long it took.
async fn until(app: &TestApp, query: &str, ok: impl Fn(&[String]) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if ok(&keys(&search(app, query).await)) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{query}: {:?}",
            keys(&search(app, query).await)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn act(app: &TestApp, token: &str, id: i64, body: Value) {
    let (status, answer) = app
        .api(
            Method::POST,
            &format!("/api/v1/articles/{id}/actions"),
            Some(token),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
}

async fn draft(
    app: &TestApp,
    token: &str,
    key: &str,
    lang: &str,
    headline: &str,
    body: &str,
) -> i64 {
    let (status, a) = app
        .api(
            Method::POST,
            "/api/v1/articles",
            Some(token),
            Some(json!({"key": key, "headline": headline, "section": "news", "lang": lang, "body": body})),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    a["id"].as_i64().expect("id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_find_what_is_published_in_its_own_language_and_nothing_else() {
    let app =
        TestApp::spawn_with(|c| c.languages = vec!["en".into(), "zh".into(), "ru".into()]).await;
    app.section("news", 1, "News").await;
    app.account("chief", &[Role::ChiefEditor], &[], PASSWORD)
        .await;
    let token = app.token("chief", PASSWORD).await;
    let en = draft(
        &app,
        &token,
        "ferry",
        "en",
        "Island ferries sail again",
        "<p>The harbour authority reopened the ferry lines to the outer islands on Monday.</p>",
    )
    .await;
    let zh = draft(
        &app,
        &token,
        "ferry-zh",
        "zh",
        "海岛渡轮恢复航行",
        "<p>港务局周一重新开放了通往外岛的渡轮航线。</p>",
    )
    .await;
    let ru = draft(&app, &token, "ferry-ru", "ru", "Паромы к островам снова ходят",
        "<p>Портовое управление в понедельник возобновило паромное сообщение с дальними островами.</p>").await;
    let secret = draft(
        &app,
        &token,
        "secret",
        "en",
        "Lighthouse keepers strike",
        "<p>The lighthouse keepers walk out at dawn.</p>",
    )
    .await;

    // Published: found at the follower's next step, in each language's own way of writing.
    for id in [en, zh, ru] {
        act(&app, &token, id, json!({"action": "publish"})).await;
    }
    // How soon is printed, not asserted: speed is measured by benchmarks, and a test on a
    // loaded machine must not fail for it. `until` gives up after five seconds.
    let took = until(&app, "ferries", |k| k == ["ferry"]).await;
    println!("found {took:?} after publishing");
    // Each publish is its own change: the follower may take them in separate steps.
    until(&app, "港务局", |k| k == ["ferry-zh"]).await;
    until(&app, "паромное сообщение", |k| {
        !k.is_empty()
    })
    .await;
    assert_eq!(
        keys(&search(&app, "reopening harbours").await),
        ["ferry"],
        "English is stemmed"
    );
    assert_eq!(keys(&search(&app, "渡轮航线").await), ["ferry-zh"]);
    assert_eq!(keys(&search(&app, "港务局").await), ["ferry-zh"]);
    assert_eq!(
        keys(&search(&app, "паромное сообщение").await),
        ["ferry-ru"]
    );
    assert_eq!(keys(&search(&app, "островам").await), ["ferry-ru"]);
    assert_eq!(
        keys(&search(&app, "острова").await),
        ["ferry-ru"],
        "Russian is stemmed"
    );
    let found = search(&app, "ferry").await;
    let snippet = &found["hits"][0]["snippet"];
    assert!(
        snippet
            .as_array()
            .is_some_and(|s| s.iter().any(|p| p["mark"] == true && p["text"] == "ferry")),
        "{snippet}"
    );

    // A draft is never found; nor is a published story under embargo.
    assert!(keys(&search(&app, "lighthouse").await).is_empty());
    act(
        &app,
        &token,
        secret,
        json!({"action": "embargo", "at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    act(&app, &token, secret, json!({"action": "publish"})).await;
    let marker = draft(
        &app,
        &token,
        "marker",
        "en",
        "Marker story",
        "<p>Marker.</p>",
    )
    .await;
    act(&app, &token, marker, json!({"action": "publish"})).await;
    until(&app, "marker", |k| k == ["marker"]).await;
    assert!(
        keys(&search(&app, "lighthouse").await).is_empty(),
        "an embargoed story was found"
    );

    // Unpublished: gone.
    act(&app, &token, en, json!({"action": "unpublish"})).await;
    let took = until(&app, "ferries", |k| k.is_empty()).await;
    println!("gone {took:?} after unpublishing");

    // The reader's page: results with the match marked, and "did you mean".
    let page = app.page("/zh/search?q=%E6%B8%A1%E8%BD%AE").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.texts(".search-results .headline a"),
        ["海岛渡轮恢复航行"]
    );
    assert!(
        page.texts(".snippet mark").iter().any(|m| m == "渡轮"),
        "{:?}",
        page.texts(".snippet mark")
    );
    let page = app.page("/search?q=markre").await;
    assert_eq!(page.texts(".did-you-mean a"), ["marker"]);
    let bad = app.page("/search?q=x&from=yesterday").await;
    assert!(
        bad.text(".problem").contains("from is not a date"),
        "{}",
        bad.text(".problem")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_that_was_down_catches_up_from_its_place_in_the_stream() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dateline::config::Config {
        database: crate::helpers::test_database(dir.path()).await,
        data_dir: Some(dir.path().to_path_buf()),
        listen: "127.0.0.1:0".parse().expect("address"),
        ..dateline::config::Config::default()
    };
    let (store, _, stop, running) = crate::helpers::start_server(&config).await;
    stop.send(()).expect("stop");
    running.await.expect("task").expect("stopped");
    // While the server is down, an import publishes two stories.
    let options = crate::helpers::import_options(&config);
    let articles: Vec<_> = [("a", "Glacier retreat measured"), ("b", "Glacier museum opens")]
        .iter()
        .map(|(k, h)| {
            dateline_core::import::parse_object(
                json!({"id": k, "headline": h, "body": "Text about the glacier.", "published": "2026-01-01T00:00:00Z"})
                    .as_object()
                    .expect("object"),
                &options,
            )
            .expect("article")
        })
        .collect();
    store
        .import_articles(&articles, jiff::Timestamp::now())
        .await
        .expect("import");
    drop(store);
    let (_store, address, stop, running) = crate::helpers::start_server(&config).await;
    let client = reqwest::Client::new();
    let mut found = Vec::new();
    for _ in 0..50 {
        let body: Value = client
            .get(format!("{address}/api/v1/search?q=glacier"))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        found = keys(&body);
        if found.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found.sort();
    assert_eq!(found, ["a", "b"]);
    stop.send(()).expect("stop");
    running.await.expect("task").expect("stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn related_stories_are_suggested_explained_and_blockable() {
    let app = TestApp::spawn().await;
    app.section("news", 1, "News").await;
    app.account("chief", &[Role::ChiefEditor], &[], PASSWORD)
        .await;
    let token = app.token("chief", PASSWORD).await;
    let stories = [
        ("dam-1", "Valley dam breach floods three villages", "<p>The valley dam breached overnight and flood water reached three villages; rescuers evacuated residents by boat.</p>"),
        ("dam-2", "Rescuers reach villages cut off by dam breach", "<p>Rescuers with boats reached the villages the dam breach flooded, and the valley's residents were evacuated.</p>"),
        ("dam-3", "Engineers inspect the breached valley dam", "<p>Engineers inspected the breached dam above the flooded valley villages as the water fell.</p>"),
        ("chess", "Chess olympiad opens in the capital", "<p>Teams from ninety countries sat down for the first round of the chess olympiad.</p>"),
    ];
    let mut ids = Vec::new();
    for (key, headline, body) in stories {
        let id = draft(&app, &token, key, "en", headline, body).await;
        act(&app, &token, id, json!({"action": "publish"})).await;
        ids.push(id);
    }
    until(&app, "olympiad", |k| k == ["chess"]).await;
    until(&app, "dam", |k| k.len() == 3).await;

    // Under the first story, the rest of the story; never the chess.
    let address = app.address_of(ids[0]).await;
    let page = app.page(&address).await;
    let related = page.texts(".related .headline a");
    assert!(related.len() >= 2, "{related:?}");
    assert!(
        related
            .iter()
            .any(|h| h.contains("Rescuers reach villages")),
        "{related:?}"
    );
    assert!(!related.iter().any(|h| h.contains("Chess")), "{related:?}");

    // Why each was suggested: the words they share.
    let (status, suggested) = app
        .api(
            Method::GET,
            &format!("/api/v1/articles/{}/suggestions", ids[0]),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{suggested}");
    let first = &suggested["suggestions"][0];
    assert!(
        first["key"] == "dam-2" || first["key"] == "dam-3",
        "{suggested}"
    );
    let words = first["shared_terms"].as_array().expect("terms");
    // Stems, the rarest in the archive first; every one is a word both stories have.
    let story = [
        "dam", "breach", "villag", "valley", "rescuer", "boat", "evacu", "resid", "flood", "reach",
        "inspect", "breach", "engin",
    ];
    assert!(
        !words.is_empty() && words.iter().all(|w| story.iter().any(|s| w == s)),
        "{first}"
    );

    // An editor blocks one: it is gone from the page, and the stream says the page changed.
    let end = app.store.stream_end().await.expect("end");
    let (status, _) = app
        .api(
            Method::POST,
            &format!("/api/v1/articles/{}/suggestions/dam-2/block", ids[0]),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let related = app.page(&address).await.texts(".related .headline a");
    assert!(
        !related
            .iter()
            .any(|h| h.contains("Rescuers reach villages")),
        "{related:?}"
    );
    let told = app.store.changes_after(end, 10).await.expect("changes");
    assert!(told
        .iter()
        .any(|c| c.kind == dateline_core::change::ChangeKind::ArticleUpdated));

    // A draft, not in the index, gets suggestions for its text too.
    let new = draft(
        &app,
        &token,
        "dam-4",
        "en",
        "Dam breach: villages count the damage",
        "<p>The flooded villages below the breached dam counted the damage.</p>",
    )
    .await;
    let (status, suggested) = app
        .api(
            Method::GET,
            &format!("/api/v1/articles/{new}/suggestions"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{suggested}");
    let keys: Vec<&str> = suggested["suggestions"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["key"].as_str())
        .collect();
    assert!(
        keys.len() >= 3 && keys[..3].iter().all(|k| k.starts_with("dam-")),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_beside_a_running_server_asks_it_to_rebuild() {
    let app = TestApp::spawn().await;
    app.section("world", 90000, "World").await;
    app.publish(&[json!({"id": "ferry-1", "headline": "Ferries return to the outer islands",
                         "body": "<p>The ferry lines reopened after the storm.</p>", "section": "world",
                         "published": "2021-10-22T01:00:00Z"})])
        .await;
    until(&app, "ferries", |k| k == ["ferry-1"]).await;
    // The server holds the index: the command asks it to rebuild, and waits until it has.
    let rebuilt = tokio::time::timeout(
        Duration::from_secs(60),
        dateline::reindex::run(&app.config, app.store.clone()),
    )
    .await
    .expect("the rebuild ends")
    .expect("the rebuild runs");
    assert_eq!(rebuilt, None, "the running server did the rebuild");
    until(&app, "ferries", |k| k == ["ferry-1"]).await;
}
