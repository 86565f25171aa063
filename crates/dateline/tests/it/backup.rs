//! `dateline backup` and `dateline restore`: a backup taken while editors publish holds a
//! moment of the newsroom, whole, and restores into a newsroom that works.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dateline_core::import::parse_object;
use serde_json::json;

use crate::helpers::{on_postgres, TestApp};

fn dateline(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dateline"))
        .args(args)
        .env("DATELINE_LOG", "warn")
        .output()
        .expect("run dateline");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_publishing_restores_whole() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("dir");
    let backup = dir.path().join("backup.db");
    let database = app.config.database.clone();
    if on_postgres() {
        // PostgreSQL's own tools back it up; the command says which.
        let (ok, out) = dateline(&[
            "backup".as_ref(),
            "--database".as_ref(),
            database.as_os_str(),
            "--out".as_ref(),
            backup.as_os_str(),
        ]);
        assert!(!ok && out.contains("pg_dump"), "{out}");
        return;
    }
    // Stories are published one after another, each acknowledged once committed.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let (store, options) = (app.store.clone(), app.import_options());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("bulletin-{n}");
                let record = json!({"id": key, "headline": format!("Bulletin {n}"),
                                    "published": "2024-05-01T00:00:00Z", "body": "<p>Text.</p>"});
                let article =
                    parse_object(record.as_object().expect("object"), &options).expect("valid");
                let outcome = store
                    .import_articles(&[article], jiff::Timestamp::now())
                    .await
                    .expect("stored");
                assert!(outcome[0].is_ok());
                acknowledged.lock().expect("lock").push(key);
                n += 1;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = acknowledged.lock().expect("lock").len();
    let (ok, out) = {
        let (database, backup) = (database.clone(), backup.clone());
        tokio::task::spawn_blocking(move || {
            dateline(&[
                "backup".as_ref(),
                "--database".as_ref(),
                database.as_os_str(),
                "--out".as_ref(),
                backup.as_os_str(),
            ])
        })
        .await
        .expect("backup")
    };
    let after = acknowledged.lock().expect("lock").len();
    assert!(ok, "{out}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    publisher.await.expect("publisher");
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() > after,
        "publishing went on after the backup"
    );

    // Restored into a new file: checked, copied, counted.
    let restored = dir.path().join("restored.db");
    let (ok, out) = dateline(&[
        "restore".as_ref(),
        "--from".as_ref(),
        backup.as_os_str(),
        "--database".as_ref(),
        restored.as_os_str(),
    ]);
    assert!(ok && out.contains("every count matches"), "{out}");
    let store = dateline_storage::open(restored.to_str().expect("UTF-8"))
        .await
        .expect("restored store");
    // One moment of the newsroom: every story acknowledged before the backup began, the first
    // ones in publishing order, none half there.
    let count = usize::try_from(store.article_count().await.expect("count")).expect("count");
    assert!(
        (before..=after).contains(&count),
        "{count} stories, {before} acknowledged before the backup and {after} after it"
    );
    for key in &acknowledged[..count] {
        let key = dateline_core::ArticleKey::parse(key).expect("key");
        assert!(
            store.article_id(&key).await.expect("read").is_some(),
            "{key:?} is missing"
        );
    }
    let stream = store.changes_after(0, u32::MAX).await.expect("stream");
    assert_eq!(
        stream
            .iter()
            .filter(|c| c.article.is_some()
                && c.kind != dateline_core::change::ChangeKind::ArticleThreaded)
            .count(),
        count,
        "one record of the stream a story"
    );
    // The restored newsroom takes new writes, after the stream it restored.
    let end = store.stream_end().await.expect("end");
    let record = json!({"id": "after-restore", "headline": "After the restore",
                        "published": "2024-06-01T00:00:00Z"});
    let article =
        parse_object(record.as_object().expect("object"), &app.import_options()).expect("valid");
    store
        .import_articles(&[article], jiff::Timestamp::now())
        .await
        .expect("written");
    assert_eq!(store.changes_after(end, 10).await.expect("stream").len(), 1);

    // A backup that was damaged is refused before anything is written.
    let damaged = dir.path().join("damaged.db");
    let bytes = std::fs::read(&backup).expect("read");
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).expect("write");
    let target = dir.path().join("from-damaged.db");
    let (ok, out) = dateline(&[
        "restore".as_ref(),
        "--from".as_ref(),
        damaged.as_os_str(),
        "--database".as_ref(),
        target.as_os_str(),
    ]);
    assert!(!ok && out.contains("cannot be restored"), "{out}");
    assert!(!target.exists(), "nothing was made from a damaged backup");
    // And a backup is never written over a file.
    let (ok, out) = dateline(&[
        "backup".as_ref(),
        "--database".as_ref(),
        database.as_os_str(),
        "--out".as_ref(),
        backup.as_os_str(),
    ]);
    assert!(!ok && out.contains("exists"), "{out}");
}
