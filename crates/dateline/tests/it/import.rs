//! Importing JSON Lines: the real corpora in ../shared/data, twice, and broken files.

use std::process::Command;

use dateline::import::import_file;
use dateline_core::import::FieldMap;

use crate::helpers::{blocking_test_database, shared, TestApp};

#[tokio::test]
async fn imports_the_bbc_corpus_once() {
    let app = TestApp::spawn().await;
    let path = shared().join("data/bbc-news/bbc.jsonl");
    let mut options = app.import_options();
    options.fields =
        FieldMap::parse(["headline=title", "section=category", "credit=source"]).expect("map");
    options.undated_at = Some("2005-01-01T00:00:00Z".parse().expect("time"));

    let first = import_file(app.store.as_ref(), &path, &options, false)
        .await
        .expect("import");
    assert_eq!(
        (first.inserted, first.updated, first.unchanged),
        (2225, 0, 0),
        "{first}"
    );
    assert!(first.rejected.is_empty(), "{:?}", first.rejected.first());
    assert_eq!(app.store.article_count().await.expect("count"), 2225);

    let second = import_file(app.store.as_ref(), &path, &options, false)
        .await
        .expect("import");
    assert_eq!(
        (second.inserted, second.updated, second.unchanged),
        (0, 0, 2225),
        "{second}"
    );
    assert_eq!(app.store.article_count().await.expect("count"), 2225);

    // The five categories became sections, and an imported story reads as one.
    let page = app.page("/section/business").await;
    assert_eq!(page.texts(".listing .headline").len(), 20);
    let first_story = page.attrs(".listing .headline a", "href").remove(0);
    let article = app.page(&first_story).await;
    assert_eq!(article.status, 200);
    assert!(article.text(".dateline").starts_with("(BBC News) "));
    assert!(article.texts(".body p").len() > 1);
}

#[tokio::test]
async fn imports_the_china_media_headlines_in_beijing_time() {
    let app = TestApp::spawn_with(|c| c.time_zone = "Asia/Shanghai".to_string()).await;
    let path = shared().join("data/china-media-headlines-2022/headlines.jsonl");
    let mut options = app.import_options();
    options.fields =
        FieldMap::parse(["headline=title", "section=category", "credit=source"]).expect("map");

    let first = import_file(app.store.as_ref(), &path, &options, false)
        .await
        .expect("import");
    assert!(
        first.rejected.is_empty(),
        "{:?}",
        &first.rejected[..first.rejected.len().min(3)]
    );
    assert_eq!(first.inserted, 38_816, "{first}");
    assert_eq!(app.store.article_count().await.expect("count"), 38_816);

    let second = import_file(app.store.as_ref(), &path, &options, false)
        .await
        .expect("import");
    assert_eq!(
        (second.inserted, second.updated, second.unchanged),
        (0, 0, 38_816),
        "{second}"
    );
    assert_eq!(app.store.article_count().await.expect("count"), 38_816);

    // A local time from a Chinese site is read as Beijing time and printed back unchanged.
    let line = std::fs::read_to_string(&path).expect("read");
    let record: serde_json::Value =
        serde_json::from_str(line.lines().next().expect("line")).expect("json");
    let local = record["published_local"].as_str().expect("local time");
    let links = app
        .store
        .links_by_keys(
            &[record["id"].as_str().expect("id").to_string()],
            jiff::Timestamp::now(),
        )
        .await
        .expect("links");
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
    assert_eq!(
        links[0].published.to_zoned(tz).datetime().to_string(),
        local
    );
}

#[tokio::test]
async fn imports_the_other_corpora_with_documented_options() {
    let app = TestApp::spawn().await;
    let mut options = app.import_options();
    options.undated_at = Some("2018-06-01T00:00:00Z".parse().expect("time"));
    // NewsWCL50 has no headlines: its files open with one.
    options.headline_from_body = true;
    options.fields = FieldMap::parse(["credit=source", "headline=title"]).expect("map");
    let wcl = import_file(
        app.store.as_ref(),
        &shared().join("data/newswcl50-fulltext/newswcl50.jsonl"),
        &options,
        false,
    )
    .await
    .expect("import");
    assert_eq!(wcl.inserted + wcl.rejected.len() as u64, 50, "{wcl}");
    assert!(wcl.rejected.is_empty(), "{:?}", wcl.rejected);

    options.headline_from_body = false;
    let google = import_file(
        app.store.as_ref(),
        &shared().join("data/googlenews-story-clusters/googlenews.jsonl"),
        &options,
        false,
    )
    .await
    .expect("import");
    // One item of the 8,645 lost its title in the authors' preprocessing: it is reported, not
    // stored headless.
    let reasons: Vec<_> = google
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    assert_eq!(reasons, vec![(3110, "\"title\" is missing or empty")]);
    assert_eq!(google.inserted, 8644, "{google}");
    assert_eq!(app.store.article_count().await.expect("count"), 8694);
}

const BROKEN: &str = r#"{"id": "ok-1", "headline": "Fine", "published": "2024-01-01T00:00:00Z"}
{"id": "bad-json", "headline": "Missing brace"
{"headline": "No id", "published": "2024-01-01T00:00:00Z"}

{"id": "bad-time", "headline": "When?", "published": "last Tuesday"}
{"id": "ok-2", "headline": "Also fine", "published": "2024-01-02T00:00:00Z", "body": "<p>Body<script>x()</script></p>"}
["not", "an", "object"]
{"id": "too-long", "headline": "Huge", "published": "2024-01-01T00:00:00Z", "body": "PADDING"}
"#;

fn broken_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("broken.jsonl");
    std::fs::write(&path, BROKEN.replace("PADDING", &"x".repeat(3000))).expect("write");
    path
}

#[tokio::test]
async fn broken_lines_are_reported_by_number_and_the_rest_is_committed() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("dir");
    let path = broken_file(dir.path());
    let mut options = app.import_options();
    options.max_line_bytes = 2000;
    let report = import_file(app.store.as_ref(), &path, &options, false)
        .await
        .expect("import");
    assert_eq!(report.inserted, 2);
    let rejected: Vec<(u64, &str)> = report
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    assert_eq!(
        rejected.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![2, 3, 5, 7, 8],
        "{rejected:?}"
    );
    assert!(rejected[0].1.starts_with("not valid JSON"), "{rejected:?}");
    assert!(rejected[1].1.contains("\"id\" is missing"), "{rejected:?}");
    assert!(
        rejected[2]
            .1
            .contains("\"published\" is not an RFC 3339 time"),
        "{rejected:?}"
    );
    assert!(rejected[3].1.contains("JSON object"), "{rejected:?}");
    assert!(
        rejected[4].1.contains("over the limit of 2000 bytes"),
        "{rejected:?}"
    );
    assert_eq!(app.store.article_count().await.expect("count"), 2);
}

#[test]
fn the_import_command_reports_rejected_lines_and_exits_non_zero() {
    let dir = tempfile::tempdir().expect("dir");
    let path = broken_file(dir.path());
    let db = blocking_test_database(dir.path());
    let output = Command::new(env!("CARGO_BIN_EXE_dateline"))
        .args(["import", "--max-line-bytes", "2000"])
        .arg(&path)
        .env("DATELINE_DATABASE", &db)
        .env("DATELINE_LOG", "warn")
        .output()
        .expect("run dateline import");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("broken.jsonl: line 5: \"published\" is not an RFC 3339 time"),
        "{stderr}"
    );
    assert!(
        stdout.contains("2 inserted, 0 updated, 0 unchanged, 5 rejected"),
        "{stdout}"
    );
    // The import is in the audit log, as the command line's.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let log = runtime.block_on(async {
        let store = dateline_storage::open(db.to_str().expect("UTF-8"))
            .await
            .expect("store");
        store.audit_log(None, 10).await.expect("audit log")
    });
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].actor.as_str(), log[0].action.as_str()),
        ("command line", "import")
    );
    assert!(
        log[0]
            .subject
            .ends_with("broken.jsonl: 2 inserted, 0 updated, 0 unchanged, 5 rejected"),
        "{}",
        log[0].subject
    );

    // A mapping that names no Dateline field is refused before anything is read.
    let output = Command::new(env!("CARGO_BIN_EXE_dateline"))
        .args(["import", "--map", "title=headline"])
        .arg(&path)
        .env("DATELINE_DATABASE", &db)
        .output()
        .expect("run dateline import");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("\"title\" is not a Dateline field"));
}

#[tokio::test]
async fn the_edges_an_outside_probe_found_are_handled() {
    let app = TestApp::spawn_with(|c| c.image_hosts = vec!["media.example.org".into()]).await;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("edges.jsonl");
    let lines = [
        // A byte order mark before the first line.
        "\u{feff}{\"id\": \"bom\", \"headline\": \"After a mark\", \"published\": \"2024-01-01T00:00:00Z\"}".to_string(),
        r#"{"id": "twice", "headline": "First version", "published": "2024-01-01T00:00:00Z"}"#.to_string(),
        r#"{"id": "twice", "headline": "Second version", "published": "2024-01-01T00:00:00Z"}"#.to_string(),
        "{\"id\": \"controls\", \"headline\": \"Nul\\u0000 and escape\\u001b[31m gone\", \"byline\": \"By\\u0007 A. Writer\", \"body\": \"<p>Bell\\u0007 here</p>\", \"published\": \"2024-01-01T00:00:00Z\"}".to_string(),
        format!(r#"{{"id": "huge-byline", "headline": "H", "byline": "{}", "published": "2024-01-01T00:00:00Z"}}"#, "b".repeat(1 << 20)),
        r#"{"id": "y9999", "headline": "Far", "published": "9999-12-31T23:59:59Z"}"#.to_string(),
        r#"{"id": "negative", "headline": "Before time", "published": "-000044-03-15T12:00:00Z"}"#.to_string(),
        r#"{"id": "images", "headline": "Pictures", "published": "2024-01-01T00:00:00Z", "body": "<p>Own <img src=\"/media/a.jpg\" alt=\"own\"> allowed <img src=\"https://media.example.org/b.jpg\" alt=\"allowed\"> tracker <img src=\"http://tracker.example.com/p.gif\" alt=\"t\"> <a href=\"https://example.com/\">off-site</a></p>"}"#.to_string(),
    ];
    std::fs::write(&path, lines.join("\n")).expect("write");
    let mut options = app.import_options();
    options.max_line_bytes = 2 << 20;
    let report = import_file(app.store.as_ref(), &path, &options, false)
        .await
        .expect("import");
    let rejected: Vec<(u64, &str)> = report
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (3, "id \"twice\" is already on line 2 of this file; this line was not imported"),
            (5, "\"byline\" is 1048576 characters, over the limit of 300"),
            (6, "\"published\" \"9999-12-31T23:59:59Z\" is out of range: a publication time falls from 1800-01-01 to before 2200-01-01"),
            (7, "\"published\" \"-000044-03-15T12:00:00Z\" is out of range: a publication time falls from 1800-01-01 to before 2200-01-01"),
        ]
    );
    assert_eq!(report.inserted, 4);

    let links = app
        .store
        .links_by_keys(
            &["bom", "twice", "controls", "images"].map(String::from),
            jiff::Timestamp::now(),
        )
        .await
        .expect("links");
    let find = |key: &str| links.iter().find(|l| l.key.as_str() == key).expect(key);
    assert_eq!(find("bom").headline, "After a mark");
    assert_eq!(find("twice").headline, "First version");
    assert_eq!(find("controls").headline, "Nul and escape[31m gone");
    let controls = app
        .page(&app.address_of(find("controls").id.get()).await)
        .await;
    assert_eq!(controls.text(".byline"), "By A. Writer");
    assert_eq!(controls.texts(".body p"), vec!["Bell here"]);

    let images = app
        .page(&app.address_of(find("images").id.get()).await)
        .await;
    assert_eq!(
        images.attrs(".body img", "src"),
        vec!["/media/a.jpg", "https://media.example.org/b.jpg"]
    );
    assert_eq!(images.attr(".body a", "rel"), "noopener noreferrer");
}

/// Two `dateline import` processes of one file at once, into one database.
#[test]
fn two_imports_of_the_same_file_at_once_lose_no_line() {
    let dir = tempfile::tempdir().expect("dir");
    let db = blocking_test_database(dir.path());
    let path = shared().join("data/china-media-headlines-2022/headlines.jsonl");
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_dateline"))
            .args([
                "import",
                "--map",
                "headline=title",
                "--map",
                "section=category",
                "--map",
                "credit=source",
            ])
            .arg(&path)
            .env("DATELINE_DATABASE", &db)
            .env("DATELINE_TIME_ZONE", "Asia/Shanghai")
            .env("DATELINE_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run dateline import")
    };
    // Both start on a database that does not exist yet.
    let first = start();
    let second = start();
    let mut inserted = 0;
    for child in [first, second] {
        let output = child.wait_with_output().expect("wait");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains(", 0 rejected"), "{stdout}\n{stderr}");
        let counts: Vec<u64> = stdout
            .split(": ")
            .nth(1)
            .expect("a report")
            .split(", ")
            .map(|part| {
                part.split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("a count")
            })
            .collect();
        inserted += counts[0];
        assert_eq!(counts[0] + counts[1] + counts[2], 38_816, "{stdout}");
    }
    assert_eq!(inserted, 38_816, "every line was inserted exactly once");
    let output = Command::new(env!("CARGO_BIN_EXE_dateline"))
        .args([
            "import",
            "--map",
            "headline=title",
            "--map",
            "section=category",
            "--map",
            "credit=source",
        ])
        .arg(&path)
        .env("DATELINE_DATABASE", &db)
        .env("DATELINE_TIME_ZONE", "Asia/Shanghai")
        .env("DATELINE_LOG", "warn")
        .output()
        .expect("run dateline import");
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains("0 inserted, 0 updated, 38816 unchanged, 0 rejected"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[tokio::test]
async fn a_generated_archive_imports_whole_with_its_desks_reporters_and_stories() {
    let app = crate::helpers::TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("archive.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).expect("file"));
    dateline::bench::archive(400, &mut out, false).expect("generated");
    drop(out);
    let mut options = app.import_options();
    options.default_section = dateline_core::Slug::parse("world").expect("slug");
    let report = dateline::import::import_file(app.store.as_ref(), &file, &options, false)
        .await
        .expect("imported");
    assert_eq!(
        (report.inserted, report.rejected.len()),
        (400, 0),
        "{:?}",
        report.rejected
    );
    // The same count makes the same archive: a second generation imports as unchanged.
    let again = dir.path().join("again.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&again).expect("file"));
    dateline::bench::archive(400, &mut out, false).expect("generated");
    drop(out);
    let first: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .expect("read")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let second: Vec<serde_json::Value> = std::fs::read_to_string(&again)
        .expect("read")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let without_time = |v: &[serde_json::Value]| {
        v.iter()
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().expect("object").remove("published");
                r
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(without_time(&first), without_time(&second));
    // Desks, reporters and stories as an outlet has them.
    let sections = app.store.sections().await.expect("sections");
    assert!(sections.len() >= 8, "{} desks", sections.len());
    let world = app.page("/section/world").await;
    assert_eq!(world.texts(".story-list .headline a").len(), 20);
    let byline = first[0]["byline"].as_str().expect("byline");
    let name = dateline_core::article::authors(byline).remove(0);
    let key = dateline_core::PersonKey::from_name(&name).expect("key");
    let person = app.page(&format!("/byline/{}", key.path_segment())).await;
    assert_eq!(person.text("h1"), name);
}

/// `dateline eval threads` on a corpus written for the test (English, Chinese and Russian
/// stories): the JSON it promises, and the threads the stories are.
#[test]
fn eval_threads_reports_the_agreement_of_threads_with_stories() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/threads.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_dateline"))
        .args(["eval", "threads", "--orders", "4", "--json", "--data"])
        .arg(&fixture)
        .output()
        .expect("run dateline eval threads");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let mut keys: Vec<&str> = report
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "ami",
            "ari",
            "items",
            "items_per_second",
            "nmi",
            "orders",
            "threads"
        ]
    );
    assert_eq!(
        (report["items"].as_u64(), report["orders"].as_u64()),
        (Some(9), Some(4))
    );
    // Four stories in three languages, whatever order they arrive in.
    assert_eq!(report["threads"].as_f64(), Some(4.0), "{report}");
    assert_eq!(report["nmi"].as_f64(), Some(1.0), "{report}");
    assert_eq!(report["ari"].as_f64(), Some(1.0), "{report}");
    // A line without a story is refused, naming it.
    let dir = tempfile::tempdir().expect("dir");
    let broken = dir.path().join("broken.jsonl");
    std::fs::write(&broken, "{\"title\": \"No story\", \"body\": \"x\"}\n").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_dateline"))
        .args(["eval", "threads", "--data"])
        .arg(&broken)
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("line 1: no \"cluster\""));
}
