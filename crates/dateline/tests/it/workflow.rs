//! The newsroom at work through the API, on the real server: a contributor writes and submits,
//! an editor schedules, the story appears on its own at its time, an update shows, a stale save
//! is refused, and a contributor cannot publish.

use std::time::Duration;

use dateline_core::account::{Grants, Password, Role, Username};
use dateline_core::{Localized, Section, Slug};
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

use crate::helpers::TestApp;

const PASSWORD: &str = "a newsroom password";

struct Newsroom {
    app: TestApp,
    contributor: String,
    editor: String,
    sport_editor: String,
}

async fn newsroom() -> Newsroom {
    let app = TestApp::spawn().await;
    for (key, code) in [("world", 1), ("sport", 2)] {
        app.store
            .put_section(&Section {
                key: Slug::parse(key).expect("slug"),
                code,
                name: Localized::new("en", key),
            })
            .await
            .expect("section");
    }
    let mut tokens = Vec::new();
    for (name, role, desks) in [
        ("cara", Role::Contributor, &[][..]),
        ("ed", Role::Editor, &["world"][..]),
        ("sam", Role::Editor, &["sport"][..]),
    ] {
        app.account(name, &[role], desks, PASSWORD).await;
        tokens.push(app.token(name, PASSWORD).await);
    }
    let mut tokens = tokens.into_iter();
    Newsroom {
        app,
        contributor: tokens.next().expect("token"),
        editor: tokens.next().expect("token"),
        sport_editor: tokens.next().expect("token"),
    }
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    app.api(method, path, Some(token), body).await
}

#[tokio::test]
async fn a_story_goes_from_a_contributor_to_the_site_on_schedule() {
    let n = newsroom().await;
    let app = &n.app;
    let (status, created) = call(app, reqwest::Method::POST, "/api/v1/articles", &n.contributor, Some(json!({
        "headline": "Talks resume in the capital", "section": "world",
        "body": "<p>Delegations met on Monday.</p><script>alert(1)</script>", "byline": "By Cara"
    }))).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (created["state"].as_str(), created["revision"].as_i64()),
        (Some("draft"), Some(1))
    );
    assert_eq!(
        created["body"], "<p>Delegations met on Monday.</p>",
        "sanitized as any body"
    );
    assert!(
        created.get("url").is_none(),
        "a draft has no public address"
    );
    let id = created["id"].as_i64().expect("id");
    let path = format!("/api/v1/articles/{id}");
    let actions = format!("{path}/actions");

    // The contributor may not publish, nor may an editor of another desk touch it.
    let (status, refused) = call(
        app,
        reqwest::Method::POST,
        &actions,
        &n.contributor,
        Some(json!({"action": "publish"})),
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (403, Some("forbidden")),
        "{refused}"
    );
    let (status, _) = call(app, reqwest::Method::GET, &path, &n.sport_editor, None).await;
    assert_eq!(status, 403);
    let (status, submitted) = call(
        app,
        reqwest::Method::POST,
        &actions,
        &n.contributor,
        Some(json!({"action": "submit"})),
    )
    .await;
    assert_eq!(
        (status, submitted["state"].as_str()),
        (200, Some("submitted"))
    );

    // The desk's editor schedules it four seconds ahead.
    let at = Timestamp::now()
        .checked_add(SignedDuration::from_secs(4))
        .expect("time");
    let (status, scheduled) = call(
        app,
        reqwest::Method::POST,
        &actions,
        &n.editor,
        Some(json!({"action": "schedule", "at": at.to_string()})),
    )
    .await;
    assert_eq!(
        (status, scheduled["state"].as_str()),
        (200, Some("scheduled")),
        "{scheduled}"
    );
    assert_eq!(
        app.page("/").await.texts(".story .headline"),
        Vec::<String>::new()
    );

    // Nobody asks for anything until it is time (and a little more); then it is there.
    let wait = at.duration_since(Timestamp::now()) + SignedDuration::from_millis(2500);
    tokio::time::sleep(Duration::try_from(wait).unwrap_or(Duration::ZERO)).await;
    let home = app.page("/").await;
    assert_eq!(
        home.texts(".lead .headline"),
        vec!["Talks resume in the capital"]
    );
    let (_, published) = call(app, reqwest::Method::GET, &path, &n.editor, None).await;
    assert_eq!(published["state"], "published");
    let url = published["url"]
        .as_str()
        .expect("a public address")
        .to_string();
    let address = url.trim_start_matches(&app.address).to_string();
    let page = app.page(&address).await;
    assert_eq!(page.texts("h1"), vec!["Talks resume in the capital"]);
    assert!(page.texts(".updated").is_empty());
    // Published without web editors, it credits the editor who scheduled it.
    assert_eq!(page.text(".credits"), "(Web editor: ed)");

    // An editor's update shows; a save based on the old revision is refused with the current.
    let revision = published["revision"].as_i64().expect("revision");
    let mut edited = published.clone();
    edited["headline"] = json!("Talks resume in the capital after a year");
    edited["base_revision"] = json!(revision);
    let (status, saved) = call(
        app,
        reqwest::Method::PUT,
        &path,
        &n.editor,
        Some(edited.clone()),
    )
    .await;
    assert_eq!(
        (status, saved["revision"].as_i64()),
        (200, Some(revision + 1)),
        "{saved}"
    );
    // The address does not change with the headline: the id is what identifies it.
    assert_eq!(saved["url"].as_str(), Some(url.as_str()));
    let current = app.page(&address).await;
    assert_eq!(
        current.texts("h1"),
        vec!["Talks resume in the capital after a year"]
    );
    assert_eq!(current.texts(".updated").len(), 1, "an update shows");
    edited["headline"] = json!("A stale save");
    let (status, stale) = call(
        app,
        reqwest::Method::PUT,
        &path,
        &n.contributor,
        Some(edited.clone()),
    )
    .await;
    assert_eq!(
        status, 403,
        "the contributor's draft is no longer theirs to edit: {stale}"
    );
    let (status, stale) = call(app, reqwest::Method::PUT, &path, &n.editor, Some(edited)).await;
    assert_eq!(status, 409, "{stale}");
    assert_eq!(stale["current_revision"], revision + 1);
    assert_eq!(stale["saved_by"], "ed");
    assert_eq!(
        stale["current"]["headline"],
        "Talks resume in the capital after a year"
    );
}

#[tokio::test]
async fn parallel_saves_are_each_stored_or_refused_never_lost() {
    let n = newsroom().await;
    let app = &n.app;
    let (_, created) = call(
        app,
        reqwest::Method::POST,
        "/api/v1/articles",
        &n.editor,
        Some(json!({
            "headline": "Version 0", "section": "world", "body": "Text."
        })),
    )
    .await;
    let path = format!("/api/v1/articles/{}", created["id"]);
    let saves = (1..=8).map(|i| {
        let mut body = created.clone();
        body["headline"] = json!(format!("Version {i}"));
        body["base_revision"] = json!(1);
        call(app, reqwest::Method::PUT, &path, &n.editor, Some(body))
    });
    let outcomes = futures_util::future::join_all(saves).await;
    let stored: Vec<&Value> = outcomes
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert!(
        outcomes.iter().all(|(s, _)| *s == 200 || *s == 409),
        "{outcomes:?}"
    );
    assert_eq!(
        stored.len(),
        1,
        "every save was based on revision 1: one wins, the rest are told"
    );
    let (_, last) = call(app, reqwest::Method::GET, &path, &n.editor, None).await;
    assert_eq!(last["revision"], 2);
    assert_eq!(last["headline"], stored[0]["headline"]);
}

#[tokio::test]
async fn a_schedule_that_passed_while_the_server_was_down_fires_once_at_start() {
    use dateline_storage::StateChange;
    let n = newsroom().await;
    let app = &n.app;
    let (_, created) = call(
        app,
        reqwest::Method::POST,
        "/api/v1/articles",
        &n.editor,
        Some(json!({
            "headline": "Overnight story", "section": "world", "body": "Text."
        })),
    )
    .await;
    let id = dateline_core::ArticleId::new(created["id"].as_i64().expect("id"));
    // As if set before a restart, for a time that has passed.
    let past = Timestamp::now() - SignedDuration::from_hours(1);
    app.store
        .change_state(
            id,
            dateline_core::workflow::State::Draft,
            StateChange::Schedule(past),
            Timestamp::now(),
        )
        .await
        .expect("scheduled");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, now) = call(
            app,
            reqwest::Method::GET,
            &format!("/api/v1/articles/{}", id.get()),
            &n.editor,
            None,
        )
        .await;
        if now["state"] == "published" {
            assert_eq!(
                now["published"].as_str(),
                Some(
                    Timestamp::from_second(past.as_second())
                        .expect("time")
                        .to_string()
                        .as_str()
                ),
                "published as of its schedule"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {}",
            now["state"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let published: Vec<_> = app
        .store
        .changes_after(0, 100)
        .await
        .expect("stream")
        .into_iter()
        .filter(|c| c.kind == dateline_core::change::ChangeKind::ArticlePublished)
        .collect();
    assert_eq!(published.len(), 1, "fired once");
}

#[tokio::test]
async fn an_embargoed_story_is_on_no_public_route_until_it_lifts() {
    let n = newsroom().await;
    let app = &n.app;
    let (_, created) = call(
        app,
        reqwest::Method::POST,
        "/api/v1/articles",
        &n.editor,
        Some(json!({
            "headline": "Under embargo", "section": "world", "body": "Text."
        })),
    )
    .await;
    let actions = format!("/api/v1/articles/{}/actions", created["id"]);
    let until = Timestamp::now() + SignedDuration::from_hours(5);
    let (status, _) = call(
        app,
        reqwest::Method::POST,
        &actions,
        &n.editor,
        Some(json!({"action": "embargo", "at": until.to_string()})),
    )
    .await;
    assert_eq!(status, 200);
    // Published early, all the same.
    let (status, published) = call(
        app,
        reqwest::Method::POST,
        &actions,
        &n.editor,
        Some(json!({"action": "publish"})),
    )
    .await;
    assert_eq!(
        (status, published["state"].as_str()),
        (200, Some("published"))
    );
    assert!(
        published.get("url").is_none(),
        "no public address under embargo"
    );
    // Nor can another desk read it through the API until it lifts.
    let path = format!("/api/v1/articles/{}", created["id"]);
    let (status, _) = call(app, reqwest::Method::GET, &path, &n.sport_editor, None).await;
    assert_eq!(status, 403);
    for path in ["/", "/section/world", "/no/such/page"] {
        let page = app.page(path).await;
        assert!(
            !page
                .texts(".story .headline")
                .contains(&"Under embargo".to_string()),
            "{path}"
        );
    }
    let (status, lifted) = call(
        app,
        reqwest::Method::POST,
        &actions,
        &n.editor,
        Some(json!({"action": "embargo"})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(lifted["url"].is_string(), "{lifted}");
    let (status, _) = call(app, reqwest::Method::GET, &path, &n.sport_editor, None).await;
    assert_eq!(status, 200, "lifted, it is anyone's to read");
    assert_eq!(
        app.page("/").await.texts(".lead .headline"),
        vec!["Under embargo"]
    );
}

#[tokio::test]
async fn every_save_is_kept_compared_and_can_be_restored() {
    let n = newsroom().await;
    let app = &n.app;
    let (_, created) = call(
        app,
        reqwest::Method::POST,
        "/api/v1/articles",
        &n.editor,
        Some(json!({
            "headline": "Talks resume", "section": "world",
            "body": "<p>Delegations met on Monday.</p><p>No agreement yet.</p>"
        })),
    )
    .await;
    let path = format!("/api/v1/articles/{}", created["id"]);
    let mut second = created.clone();
    second["headline"] = json!("Talks resume in the capital");
    second["base_revision"] = json!(1);
    let (status, _) = call(app, reqwest::Method::PUT, &path, &n.editor, Some(second)).await;
    assert_eq!(status, 200);
    let mut third = created.clone();
    third["headline"] = json!("Talks resume in the capital");
    third["body"] = json!("<p>Delegations met on Monday.</p><p>An agreement is near.</p>");
    third["base_revision"] = json!(2);
    let (status, _) = call(app, reqwest::Method::PUT, &path, &n.editor, Some(third)).await;
    assert_eq!(status, 200);

    let (status, listed) = call(
        app,
        reqwest::Method::GET,
        &format!("{path}/revisions"),
        &n.editor,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let numbers: Vec<i64> = listed["revisions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["revision"].as_i64().expect("n"))
        .collect();
    assert_eq!(numbers, vec![3, 2, 1]);
    assert_eq!(listed["revisions"][0]["by"], "ed");
    let (_, first) = call(
        app,
        reqwest::Method::GET,
        &format!("{path}/revisions/1"),
        &n.editor,
        None,
    )
    .await;
    assert_eq!(first["article"]["headline"], "Talks resume");

    let (status, d) = call(
        app,
        reqwest::Method::GET,
        &format!("{path}/diff?from=1&to=3"),
        &n.editor,
        None,
    )
    .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(
        d["fields"],
        json!([{"field": "headline", "before": "Talks resume", "after": "Talks resume in the capital"}])
    );
    assert_eq!(
        d["body"][0],
        json!({"op": "same", "text": "Delegations met on Monday."})
    );
    assert_eq!(d["body"][1]["op"], "changed");
    assert!(d["body"][1]["words"]
        .as_array()
        .expect("words")
        .contains(&json!({"op": "added", "text": "An"})));

    // A save based on revision 1 is refused with what changed since.
    let mut stale = created.clone();
    stale["base_revision"] = json!(1);
    let (status, refused) = call(app, reqwest::Method::PUT, &path, &n.editor, Some(stale)).await;
    assert_eq!(status, 409);
    assert_eq!(refused["diff"]["fields"][0]["field"], "headline");

    // Revision 1 restored becomes revision 4.
    let (status, restored) = call(
        app,
        reqwest::Method::POST,
        &format!("{path}/revisions/1/restore"),
        &n.editor,
        Some(json!({"base_revision": 3})),
    )
    .await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(
        (restored["revision"].as_i64(), restored["headline"].as_str()),
        (Some(4), Some("Talks resume"))
    );
    let (status, _) = call(
        app,
        reqwest::Method::POST,
        &format!("{path}/revisions/1/restore"),
        &n.editor,
        Some(json!({"base_revision": 3})),
    )
    .await;
    assert_eq!(
        status, 409,
        "a restore based on an old revision is refused too"
    );
}

#[tokio::test]
async fn a_correction_shows_on_the_story_and_the_corrections_page() {
    let n = newsroom().await;
    let app = &n.app;
    let (_, created) = call(
        app,
        reqwest::Method::POST,
        "/api/v1/articles",
        &n.editor,
        Some(json!({
            "headline": "Envoy arrives", "section": "world", "body": "Text."
        })),
    )
    .await;
    let actions = format!("/api/v1/articles/{}/actions", created["id"]);
    let note =
        json!({"action": "correct", "note": "An earlier version misspelt the envoy's name."});
    let (status, refused) = call(
        app,
        reqwest::Method::POST,
        &actions,
        &n.editor,
        Some(note.clone()),
    )
    .await;
    assert_eq!(
        status, 409,
        "only a published article is corrected: {refused}"
    );
    let (_, published) = call(
        app,
        reqwest::Method::POST,
        &actions,
        &n.editor,
        Some(json!({"action": "publish"})),
    )
    .await;
    let (status, _) = call(
        app,
        reqwest::Method::POST,
        &actions,
        &n.contributor,
        Some(note.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, empty) = call(
        app,
        reqwest::Method::POST,
        &actions,
        &n.editor,
        Some(json!({"action": "correct", "note": "  "})),
    )
    .await;
    assert_eq!(status, 422, "{empty}");
    // Times are kept to the second: let the correction come a second after the publication.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = call(app, reqwest::Method::POST, &actions, &n.editor, Some(note)).await;
    assert_eq!(status, 200);

    let address = published["url"]
        .as_str()
        .expect("url")
        .trim_start_matches(&app.address)
        .to_string();
    let page = app.page(&address).await;
    let shown = page.text(".correction");
    assert!(shown.starts_with("Correction, "), "{shown}");
    assert!(
        shown.ends_with(": An earlier version misspelt the envoy's name."),
        "{shown}"
    );
    assert_eq!(
        page.texts(".updated").len(),
        1,
        "a correction marks the story updated"
    );
    let json_ld: Value =
        serde_json::from_str(&page.text("script[type='application/ld+json']")).expect("JSON-LD");
    assert_eq!(
        json_ld["correction"][0]["text"],
        "An earlier version misspelt the envoy's name."
    );

    let corrections = app.page("/corrections").await;
    assert_eq!(corrections.status, 200);
    assert_eq!(
        corrections.texts(".corrections-list .headline"),
        vec!["Envoy arrives"]
    );
    assert_eq!(corrections.attr(".corrections-list a", "href"), address);
    assert_eq!(app.page("/corrections?page=2").await.status, 404);
}

/// A real restart: the server stops, a schedule's time passes, a new server starts on the same
/// database and publishes it, once.
#[tokio::test]
async fn schedules_that_pass_while_the_server_is_stopped_fire_once_at_start() {
    use dateline::server::{open_store, Server};
    let dir = tempfile::tempdir().expect("dir");
    let config = dateline::config::Config {
        database: crate::helpers::test_database(dir.path()).await,
        data_dir: Some(dir.path().to_path_buf()),
        listen: "127.0.0.1:0".parse().expect("address"),
        ..dateline::config::Config::default()
    };
    let start = || async {
        let store = open_store(&config).await.expect("store");
        let server = Server::bind(&config, store.clone()).await.expect("bind");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        (store, stop, running)
    };
    // First run: a chief editor writes a story, and the server stops.
    let (store, stop, running) = start().await;
    store
        .put_section(&dateline_core::Section {
            key: Slug::parse("world").expect("slug"),
            code: 1,
            name: dateline_core::Localized::new("en", "World"),
        })
        .await
        .expect("section");
    let chief = store
        .create_account(
            &Username::parse("chief").expect("name"),
            &Grants::new([Role::ChiefEditor], []).expect("grants"),
            &Password::parse(PASSWORD)
                .expect("password")
                .hash()
                .expect("hash"),
            Timestamp::now(),
        )
        .await
        .expect("account");
    let article = dateline_core::NewArticle::new(dateline_core::ArticleDraft {
        key: dateline_core::ArticleKey::parse("overnight").expect("key"),
        headline: "Overnight".into(),
        summary: None,
        body: dateline_core::SafeHtml::from_text("Text."),
        lang: dateline_core::Lang::parse("en").expect("lang"),
        section: Slug::parse("world").expect("slug"),
        byline: None,
        credit: None,
        web_editors: vec![],
        published: Timestamp::now(),
        updated: None,
        related: vec![],
        translation_of: None,
        series: None,
        topics: vec![],
    })
    .expect("article");
    let draft = store
        .create_draft(&article, chief.id, Timestamp::now())
        .await
        .expect("draft");
    stop.send(()).expect("stop");
    running.await.expect("task").expect("stopped");
    // While nothing runs, it is scheduled a second ahead, and its time passes.
    let at = Timestamp::now() + SignedDuration::from_secs(1);
    store
        .change_state(
            draft.id,
            dateline_core::workflow::State::Draft,
            dateline_storage::StateChange::Schedule(at),
            Timestamp::now(),
        )
        .await
        .expect("scheduled");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        store
            .worked_article(draft.id)
            .await
            .expect("read")
            .expect("there")
            .state,
        dateline_core::workflow::State::Scheduled
    );
    drop(store);
    // Second run: it is published at start-up, once.
    let (store, stop, running) = start().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while store
        .worked_article(draft.id)
        .await
        .expect("read")
        .expect("there")
        .state
        != dateline_core::workflow::State::Published
    {
        assert!(
            std::time::Instant::now() < deadline,
            "not published at start-up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fired = store
        .changes_after(0, 100)
        .await
        .expect("stream")
        .into_iter()
        .filter(|c| c.kind == dateline_core::change::ChangeKind::ArticlePublished)
        .count();
    assert_eq!(fired, 1);
    stop.send(()).expect("stop");
    running.await.expect("task").expect("stopped");
}

#[tokio::test]
async fn an_editor_sees_who_else_has_the_story_open() {
    let n = newsroom().await;
    let app = &n.app;
    let (_, created) = call(
        app,
        reqwest::Method::POST,
        "/api/v1/articles",
        &n.contributor,
        Some(json!({
            "headline": "Shared story", "section": "world", "body": "Text."
        })),
    )
    .await;
    let path = format!("/api/v1/articles/{}", created["id"]);
    let (status, first) = call(
        app,
        reqwest::Method::POST,
        &format!("{path}/open"),
        &n.contributor,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(first["open_by"][0]["username"], "cara");
    let (status, second) = call(
        app,
        reqwest::Method::POST,
        &format!("{path}/open"),
        &n.editor,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = second["open_by"]
        .as_array()
        .expect("list")
        .iter()
        .map(|o| o["username"].as_str().expect("name"))
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["cara", "ed"]);
    let (_, read) = call(app, reqwest::Method::GET, &path, &n.contributor, None).await;
    assert_eq!(read["open_by"].as_array().expect("list").len(), 2);
    // Opening is editing: another desk's editor may not.
    let (status, _) = call(
        app,
        reqwest::Method::POST,
        &format!("{path}/open"),
        &n.sport_editor,
        None,
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn each_desk_lists_what_it_works_on_by_state_desk_and_author() {
    let n = newsroom().await;
    let app = &n.app;
    let new = |token: String, headline: &'static str, section: &'static str| {
        let app = &n.app;
        async move {
            let (status, a) = call(
                app,
                reqwest::Method::POST,
                "/api/v1/articles",
                &token,
                Some(json!({
                    "headline": headline, "section": section, "body": "Text."
                })),
            )
            .await;
            assert_eq!(status, 201, "{a}");
            a["id"].as_i64().expect("id")
        }
    };
    let mine = new(n.contributor.clone(), "Cara's world draft", "world").await;
    new(n.editor.clone(), "Ed's world draft", "world").await;
    new(n.sport_editor.clone(), "Sam's sport draft", "sport").await;
    let (status, _) = call(
        app,
        reqwest::Method::POST,
        &format!("/api/v1/articles/{mine}/actions"),
        &n.contributor,
        Some(json!({"action": "submit"})),
    )
    .await;
    assert_eq!(status, 200);
    let headlines = |v: &Value| -> Vec<String> {
        let mut h: Vec<String> = v["articles"]
            .as_array()
            .expect("list")
            .iter()
            .map(|a| a["headline"].as_str().expect("h").to_string())
            .collect();
        h.sort();
        h
    };
    let (_, cara) = call(
        app,
        reqwest::Method::GET,
        "/api/v1/articles",
        &n.contributor,
        None,
    )
    .await;
    assert_eq!(
        headlines(&cara),
        vec!["Cara's world draft"],
        "a contributor sees their own"
    );
    let (_, ed) = call(
        app,
        reqwest::Method::GET,
        "/api/v1/articles",
        &n.editor,
        None,
    )
    .await;
    assert_eq!(
        headlines(&ed),
        vec!["Cara's world draft", "Ed's world draft"],
        "an editor sees their desk"
    );
    let (_, submitted) = call(
        app,
        reqwest::Method::GET,
        "/api/v1/articles?state=submitted",
        &n.editor,
        None,
    )
    .await;
    assert_eq!(headlines(&submitted), vec!["Cara's world draft"]);
    let (_, by_cara) = call(
        app,
        reqwest::Method::GET,
        "/api/v1/articles?author=cara",
        &n.editor,
        None,
    )
    .await;
    assert_eq!(headlines(&by_cara), vec!["Cara's world draft"]);
    let (_, sport) = call(
        app,
        reqwest::Method::GET,
        "/api/v1/articles?desk=sport",
        &n.editor,
        None,
    )
    .await;
    assert!(
        headlines(&sport).is_empty(),
        "another desk's drafts are not this editor's"
    );
    let (status, bad) = call(
        app,
        reqwest::Method::GET,
        "/api/v1/articles?state=lost",
        &n.editor,
        None,
    )
    .await;
    assert_eq!((status, bad["error"].as_str()), (422, Some("invalid")));
}
