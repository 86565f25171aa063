//! `dateline migrate-store`: a newsroom with real corpora copied to the other engine and back
//! keeps every row and serves the same pages.

use std::path::Path;
use std::process::Command;

use dateline::config::Config;
use dateline::import::import_file;
use dateline::server::{open_store, Server};
use dateline_core::import::FieldMap;
use tokio::sync::oneshot;

use crate::helpers::{on_postgres, shared, without_related, TestApp};

const BASE: &str = "https://news.example";

/// Runs `dateline migrate-store`; answers its exit code and standard output and error.
fn migrate(from: &Path, to: &Path) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dateline"))
        .args(["migrate-store", "--from"])
        .arg(from)
        .arg("--to")
        .arg(to)
        .env("DATELINE_LOG", "warn")
        .output()
        .expect("run dateline migrate-store");
    (
        output.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// A database of the engine the suite is not running on.
async fn other_engine(dir: &Path, name: &str) -> std::path::PathBuf {
    if on_postgres() {
        dir.join(name)
    } else {
        dateline_storage::fresh_postgres_database()
            .await
            .expect("a PostgreSQL database")
            .into()
    }
}

/// Serves `database` as the original is served; answers its address and what stops it.
async fn serve(original: &Config, database: &Path, data: &Path) -> (String, oneshot::Sender<()>) {
    let config = Config {
        database: database.to_path_buf(),
        data_dir: Some(data.to_path_buf()),
        ..original.clone()
    };
    let store = open_store(&config).await.expect("store");
    let server = Server::bind(&config, store).await.expect("bind");
    let address = format!("http://{}", server.address);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    (address, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newsroom_copied_to_the_other_engine_and_back_has_the_same_rows_and_pages() {
    let app = TestApp::demo_with(|c| c.base_url = Some(BASE.to_string())).await;
    dateline::demo::accounts(app.store.as_ref())
        .await
        .expect("accounts");
    let demo = app.store.article_count().await.expect("count");
    let mut options = app.import_options();
    options.fields =
        FieldMap::parse(["headline=title", "section=category", "credit=source"]).expect("map");
    options.undated_at = Some("2005-01-01T00:00:00Z".parse().expect("time"));
    let bbc = import_file(
        app.store.as_ref(),
        &shared().join("data/bbc-news/bbc.jsonl"),
        &options,
        false,
    )
    .await
    .expect("import");
    assert_eq!(bbc.inserted, 2225, "{bbc}");
    // Every story is in its thread before the copies: the newsroom is still.
    app.threaded().await;

    let dir = tempfile::tempdir().expect("dir");
    let there = other_engine(dir.path(), "there.db").await;
    let back = if on_postgres() {
        crate::helpers::test_database(dir.path()).await
    } else {
        dir.path().join("back.db")
    };
    let (code, out) = migrate(&app.config.database, &there);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("every count matches"), "{out}");
    assert!(out.contains("articles"), "{out}");
    let (code, out) = migrate(&there, &back);
    assert_eq!(code, Some(0), "{out}");
    // A copy into a newsroom that holds anything is refused, and changes nothing.
    let (code, out) = migrate(&app.config.database, &there);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("already holds"), "{out}");

    // Every table has the same rows at each end, the round trip's included.
    let count = |database: &Path| {
        let database = database.to_str().expect("UTF-8").to_string();
        async move {
            let store = dateline_storage::open(&database).await.expect("store");
            (
                store.article_count().await.expect("count"),
                store
                    .changes_after(0, u32::MAX)
                    .await
                    .expect("stream")
                    .len(),
                store.accounts().await.expect("accounts").len(),
                store.audit_log(None, u32::MAX).await.expect("audit").len(),
            )
        }
    };
    let want = count(&app.config.database).await;
    assert_eq!(want.0, demo + 2225, "the demo's articles and the BBC's");
    assert_eq!(count(&there).await, want);
    assert_eq!(count(&back).await, want);

    // And the same pages: every listing, and articles from across the archive.
    let mut paths = vec![
        "/".to_string(),
        "/feed.atom".to_string(),
        "/sitemap.xml".to_string(),
    ];
    for section in app.store.sections().await.expect("sections") {
        paths.push(format!("/section/{}", section.key));
    }
    let ids = app.store.article_ids().await.expect("ids");
    for id in ids.iter().step_by(ids.len() / 40) {
        paths.push(app.address_of(id.get()).await);
    }
    let client = reqwest::Client::new();
    let get = |address: String, path: String| {
        let client = client.clone();
        async move {
            let response = client
                .get(format!("{address}{path}"))
                .send()
                .await
                .expect("request");
            // Suggested related stories are each node's index's, which builds as it goes: they
            // are left out, and with them the blank lines they leave.
            let status = response.status().as_u16();
            let page = without_related(&response.text().await.expect("body"));
            (
                status,
                page.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        }
    };
    let (there_at, _stop_there) = serve(&app.config, &there, &dir.path().join("there")).await;
    let (back_at, _stop_back) = serve(&app.config, &back, &dir.path().join("back")).await;
    for path in &paths {
        let want = get(app.address.clone(), path.clone()).await;
        assert_eq!(want.0, 200, "{path}");
        assert!(
            get(there_at.clone(), path.clone()).await == want,
            "{path} differs in the copy"
        );
        assert!(
            get(back_at.clone(), path.clone()).await == want,
            "{path} differs after the round trip"
        );
    }
}
