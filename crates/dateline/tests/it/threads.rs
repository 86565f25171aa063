//! Story threads on the real server: imported articles in English, Chinese and Russian form
//! their threads as they arrive; a translation joins its original's; a wire copy is marked and
//! shown once; the timeline page and its feed show the thread in order; editors' merge, split,
//! move and rename survive further arrivals and a restart.

use std::collections::HashMap;
use std::time::Duration;

use dateline_core::account::Role;
use dateline_core::ArticleId;
use dateline_storage::Store;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{account_in, repo_root, TestApp};

const PASSWORD: &str = "a threading passphrase";

/// The fixture written for these tests: four stories over three days, in three languages.
pub(crate) fn fixture() -> Vec<Value> {
    let text = std::fs::read_to_string(
        repo_root().join("crates/dateline/tests/fixtures/story-threads.jsonl"),
    )
    .expect("fixture");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

pub(crate) fn three_editions(c: &mut dateline::config::Config) {
    c.languages = vec!["en".into(), "zh".into(), "ru".into()];
}

/// Each article's thread, by key, once every one of `ids` is threaded (ten seconds at most).
pub(crate) async fn threads_of(
    store: &dyn Store,
    ids: &HashMap<String, i64>,
) -> HashMap<String, i64> {
    let started = std::time::Instant::now();
    loop {
        let mut found = HashMap::new();
        for (key, id) in ids {
            let input = store
                .thread_input(ArticleId::new(*id), jiff::Timestamp::now())
                .await
                .expect("read");
            if let Some(m) = input.and_then(|i| i.membership) {
                found.insert(key.clone(), m.thread);
            }
        }
        if found.len() == ids.len() {
            return found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not every article was threaded: {found:?} of {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The id of the newsroom's thread with the most articles, once the threader read the stream.
pub(crate) async fn longest_thread(app: &TestApp) -> i64 {
    app.threaded().await;
    let threads = app.store.threads(None, 200, 0).await.expect("threads");
    let longest = threads.iter().max_by_key(|t| t.size).expect("a thread");
    assert!(
        longest.size > 1,
        "the demo has a story told in several articles: {threads:?}"
    );
    longest.id
}

async fn publish_fixture(app: &TestApp, records: &[Value]) -> HashMap<String, i64> {
    let ids = app.publish(records).await;
    records
        .iter()
        .zip(ids)
        .map(|(r, id)| (r["id"].as_str().expect("id").to_string(), id))
        .collect()
}

#[tokio::test]
async fn arriving_articles_form_their_threads_and_a_translation_joins_its_original() {
    let app = TestApp::spawn_with(three_editions).await;
    app.section("news", 1, "News").await;
    let records = fixture();
    // One at a time, as the wire brings them.
    let mut ids = HashMap::new();
    for record in &records {
        ids.extend(publish_fixture(&app, std::slice::from_ref(record)).await);
    }
    let t = threads_of(app.store.as_ref(), &ids).await;
    let same = |keys: &[&str]| {
        let threads: Vec<i64> = keys.iter().map(|k| t[*k]).collect();
        assert!(
            threads.iter().all(|x| *x == threads[0]),
            "{keys:?} in {threads:?}"
        );
        threads[0]
    };
    let ferries = same(&["ferry-1", "ferry-2", "ferry-3", "ferry-1-zh"]);
    let budget = same(&["budget-1", "budget-2", "budget-1-wire"]);
    let quake = same(&["quake-1", "quake-2"]);
    let vote = same(&["vote-1", "vote-2"]);
    let museum = t["museum-1"];
    let mut all = vec![ferries, budget, quake, vote, museum];
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 5, "five stories, five threads: {t:?}");

    // The wire copy is marked, and shown once: not on the section front nor the timeline.
    let copy = app
        .store
        .thread_input(ArticleId::new(ids["budget-1-wire"]), jiff::Timestamp::now())
        .await
        .expect("read")
        .and_then(|i| i.membership)
        .expect("threaded");
    assert_eq!(copy.duplicate_of, Some(ArticleId::new(ids["budget-1"])));
    let front = app.page("/section/news").await;
    let listed = front.texts(".story-list .headline");
    assert_eq!(
        listed
            .iter()
            .filter(|h| h.contains("Parliament approves the budget"))
            .count(),
        1,
        "{listed:?}"
    );

    // The timeline: oldest first, every language, each with its dateline; the copy once.
    let timeline = app.page(&format!("/thread/{ferries}")).await;
    assert_eq!(timeline.status, 200);
    assert_eq!(
        timeline.texts(".timeline .headline"),
        [
            "Storm halts ferries to the outer islands",
            "风暴导致前往离岛的渡轮全部停航",
            "Islanders stock up as the ferries stay in port",
            "Ferries sail to the outer islands again as the storm passes",
        ]
    );
    assert_eq!(timeline.attrs(".timeline li[lang]", "lang"), ["zh"]);
    let datelines = timeline.texts(".timeline .dateline");
    assert_eq!(datelines.len(), 4);
    assert!(
        datelines.iter().all(|d| d.starts_with('(')),
        "{datelines:?}"
    );
    assert_eq!(
        timeline.text("h1"),
        // Its title is its most representative headline.
        timeline
            .texts(".timeline .headline")
            .into_iter()
            .find(|h| *h == timeline.text("h1"))
            .unwrap_or_default()
    );
    let budget_timeline = app.page(&format!("/thread/{budget}")).await;
    assert_eq!(budget_timeline.texts(".timeline .headline").len(), 2);

    // An article page shows more on its story, newest first, with the way to the timeline.
    let address = app.address_of(ids["ferry-1"]).await;
    let page = app.page(&address).await;
    assert_eq!(
        page.texts(".story-thread .story-list .headline"),
        [
            "Ferries sail to the outer islands again as the storm passes",
            "Islanders stock up as the ferries stay in port",
            "风暴导致前往离岛的渡轮全部停航",
        ]
    );
    assert_eq!(
        page.attrs(".story-thread .whole-story a", "href"),
        [format!("/thread/{ferries}")]
    );

    // Its feed, read by feedparser: newest first.
    let feeds = crate::feeds::feedparser(vec![
        app.url(&format!("/thread/{ferries}/feed.atom")),
        app.url(&format!("/thread/{ferries}/feed.json")),
    ])
    .await;
    for feed in &feeds {
        assert_eq!(feed["bozo"], false, "{feed}");
        let titles: Vec<&str> = feed["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|e| e["title"].as_str())
            .collect();
        assert_eq!(titles.len(), 4, "{feed}");
        assert_eq!(
            titles[0],
            "Ferries sail to the outer islands again as the storm passes"
        );
    }
    // A story whose text changes is placed again: the museum story, rewritten as one about the
    // ferries, leaves its thread for theirs.
    let mut rewritten = records
        .iter()
        .find(|r| r["id"] == "museum-1")
        .cloned()
        .expect("museum story");
    rewritten["headline"] =
        json!("Museum boat joins the ferries to the outer islands after the storm");
    rewritten["body"] = json!("The harbour authority said the museum's old steam boat would sail with the ferries to the outer islands, as crossings resume after the storm that kept them in port.");
    app.publish(&[rewritten]).await;
    let now = threads_of(app.store.as_ref(), &ids).await;
    assert_eq!(now["museum-1"], ferries, "{now:?}");
    assert_eq!(now["ferry-1"], ferries, "{now:?}");
    assert_eq!(app.page(&format!("/thread/{museum}")).await.status, 404);

    // Addresses that name no thread.
    for path in ["/thread/0", "/thread/abc", "/thread/999999", "/thread/01"] {
        assert_eq!(app.page(path).await.status, 404, "{path}");
    }
}

#[tokio::test]
async fn editors_merge_split_and_move_survive_new_arrivals_and_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = dateline::config::Config {
        database: crate::helpers::test_database(dir.path()).await,
        data_dir: Some(dir.path().to_path_buf()),
        listen: "127.0.0.1:0".parse().expect("address"),
        ..dateline::config::Config::default()
    };
    three_editions(&mut config);
    let (store, base, stop, running) = crate::helpers::start_server(&config).await;
    store
        .put_section(&dateline_core::Section {
            key: dateline_core::Slug::parse("news").expect("slug"),
            code: 1,
            name: dateline_core::Localized::new("en", "News"),
        })
        .await
        .expect("section");
    account_in(store.as_ref(), "desk", &[Role::Editor], &["news"], PASSWORD).await;
    account_in(
        store.as_ref(),
        "writer",
        &[Role::Contributor],
        &[],
        PASSWORD,
    )
    .await;
    let records = fixture();
    let import = |store: std::sync::Arc<dyn Store>, records: Vec<Value>| {
        let config = config.clone();
        async move {
            let options = crate::helpers::import_options(&config);
            let articles: Vec<_> = records
                .iter()
                .map(|r| {
                    dateline_core::import::parse_object(r.as_object().expect("object"), &options)
                        .expect("valid")
                })
                .collect();
            let stored = store
                .import_articles(&articles, jiff::Timestamp::now())
                .await
                .expect("stored");
            records
                .iter()
                .zip(stored)
                .map(|(r, o)| {
                    (
                        r["id"].as_str().expect("id").to_string(),
                        o.expect("ok").id().get(),
                    )
                })
                .collect::<HashMap<String, i64>>()
        }
    };
    let mut ids = import(store.clone(), records).await;
    let t = threads_of(store.as_ref(), &ids).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let token = |base: String, name: &'static str| {
        let client = client.clone();
        async move {
            let r: Value = client
                .post(format!("{base}/api/v1/tokens"))
                .json(&json!({"username": name, "password": PASSWORD}))
                .send()
                .await
                .expect("request")
                .json()
                .await
                .expect("json");
            r["token"].as_str().expect("token").to_string()
        }
    };
    let call = |base: String, token: String, method: Method, path: String, body: Option<Value>| {
        let client = client.clone();
        async move {
            let mut request = client
                .request(method, format!("{base}/api/v1{path}"))
                .bearer_auth(token);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let desk = token(base.clone(), "desk").await;
    let writer = token(base.clone(), "writer").await;

    // A contributor may read threads but not decide about them.
    let (status, body) = call(
        base.clone(),
        writer.clone(),
        Method::POST,
        format!("/threads/{}/merge", t["vote-1"]),
        Some(json!({"into": t["quake-1"]})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = call(
        base.clone(),
        writer.clone(),
        Method::GET,
        format!("/threads/{}", t["vote-1"]),
        None,
    )
    .await;
    assert_eq!(status, 200);

    // Merge: the Russian election thread into the museum's (an editor's call, however odd).
    let (status, body) = call(
        base.clone(),
        desk.clone(),
        Method::POST,
        format!("/threads/{}/merge", t["vote-1"]),
        Some(json!({"into": t["museum-1"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["size"], 3);
    let merged = client
        .get(format!("{base}/thread/{}", t["vote-1"]))
        .send()
        .await
        .expect("request");
    assert_eq!(merged.status(), 301);
    assert_eq!(
        merged.headers()["location"],
        format!("/thread/{}", t["museum-1"]).as_str()
    );
    // Split: the storm's last ferry story into a thread of its own, titled.
    let (status, body) = call(
        base.clone(),
        desk.clone(),
        Method::POST,
        format!("/threads/{}/split", t["ferry-1"]),
        Some(json!({"articles": [ids["ferry-3"]], "title": "Crossings resume"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let resumed = body["id"].as_i64().expect("id");
    assert_eq!(body["title"], "Crossings resume");
    // Move: the budget explainer to a new thread.
    let (status, body) = call(
        base.clone(),
        desk.clone(),
        Method::PUT,
        format!("/articles/{}/thread", ids["budget-2"]),
        Some(json!({"thread": null})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let explainer = body["id"].as_i64().expect("id");
    // Rename.
    let (status, body) = call(
        base.clone(),
        desk.clone(),
        Method::PUT,
        format!("/threads/{}/title", t["quake-1"]),
        Some(json!({"title": "山区地震"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Refusals name what is wrong.
    for (method, path, body, want) in [
        (
            Method::POST,
            format!("/threads/{}/merge", t["vote-1"]),
            json!({"into": t["quake-1"]}),
            409,
        ),
        (
            Method::POST,
            format!("/threads/{}/merge", t["quake-1"]),
            json!({"into": t["quake-1"]}),
            409,
        ),
        (
            Method::POST,
            format!("/threads/{}/split", t["quake-1"]),
            json!({"articles": [ids["ferry-2"]]}),
            409,
        ),
        (
            Method::POST,
            format!("/threads/{}/split", t["quake-1"]),
            json!({"articles": []}),
            422,
        ),
        (
            Method::PUT,
            format!("/threads/{}/title", t["quake-1"]),
            json!({"title": "  "}),
            422,
        ),
        (
            Method::PUT,
            format!("/threads/{}/title", t["quake-1"]),
            json!({"name": "x"}),
            400,
        ),
        (
            Method::PUT,
            "/threads/999999/title".to_string(),
            json!({"title": "x"}),
            404,
        ),
        (
            Method::PUT,
            format!("/threads/{}/topic", t["quake-1"]),
            json!({"topic": "no-such-topic"}),
            404,
        ),
    ] {
        let (status, answer) =
            call(base.clone(), desk.clone(), method, path.clone(), Some(body)).await;
        assert_eq!(status, want, "{path}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
    // Promoted to a topic: the topic's page lists the thread's articles.
    let (status, body) = call(
        base.clone(),
        desk.clone(),
        Method::PUT,
        format!("/threads/{}/topic", t["ferry-1"]),
        Some(json!({"promote": {"key": "island-storm"}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let topic = reqwest::get(format!("{base}/topic/island-storm"))
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    assert!(
        topic.contains("Islanders stock up as the ferries stay in port"),
        "{topic}"
    );

    // Every decision is in the audit log.
    let audit = store.audit_log(None, 100).await.expect("audit log");
    let actions: Vec<&str> = audit
        .iter()
        .filter(|e| e.actor == "desk")
        .map(|e| e.action.as_str())
        .collect();
    for action in [
        "thread.merge",
        "thread.split",
        "thread.move",
        "thread.rename",
        "thread.pin",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }

    // Further arrivals: what editors placed stays placed.
    let museum = t["museum-1"];
    let storm = t["ferry-1"];
    let check = |store: std::sync::Arc<dyn Store>, ids: HashMap<String, i64>| async move {
        let now = threads_of(store.as_ref(), &ids).await;
        assert_eq!(now["ferry-3"], resumed, "{now:?}");
        assert_eq!(now["budget-2"], explainer, "{now:?}");
        assert_eq!(now["vote-1"], museum, "{now:?}");
        assert_eq!(now["vote-2"], museum, "{now:?}");
        assert_eq!(now["ferry-1"], storm, "{now:?}");
        now
    };
    let more = vec![
        json!({"id": "ferry-4", "lang": "en", "section": "news", "published": "2026-03-04T12:00:00Z", "headline": "Ferries to the outer islands run a full timetable again", "body": "The harbour authority said every ferry to the outer islands would run on the full timetable from Thursday, after the storm that stopped crossings for three days."}),
        json!({"id": "budget-3", "lang": "en", "section": "news", "published": "2026-03-04T13:00:00Z", "headline": "Regions protest the budget cuts parliament approved", "body": "Leaders of the regions said the budget parliament approved leaves them short of money for schools and hospitals, and asked the finance minister to meet them."}),
    ];
    ids.extend(import(store.clone(), more).await);
    check(store.clone(), ids.clone()).await;

    // A restart: the threader is built again from storage and goes on from where it was.
    stop.send(()).expect("stop");
    running.await.expect("task").expect("stopped");
    drop(store);
    let (store, base, _stop, _running) = crate::helpers::start_server(&config).await;
    let later = vec![
        json!({"id": "budget-4", "lang": "en", "section": "news", "published": "2026-03-05T08:00:00Z", "headline": "Finance minister defends the budget parliament approved", "body": "The finance minister defended the budget parliament approved this week, saying the spending plan protects schools and hospitals while the deficit falls."}),
    ];
    ids.extend(import(store.clone(), later).await);
    let now = check(store.clone(), ids.clone()).await;
    assert!(
        [t["budget-1"], explainer].contains(&now["budget-4"]),
        "the new budget story joins a budget thread: {now:?}"
    );
    // The split-off thread's timeline and the merged address still answer after the restart.
    let timeline = reqwest::get(format!("{base}/thread/{resumed}"))
        .await
        .expect("request");
    assert_eq!(timeline.status(), 200);
    let body = timeline.text().await.expect("body");
    assert!(body.contains("Crossings resume"), "{body}");
}
