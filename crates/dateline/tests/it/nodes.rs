//! Several Dateline nodes on one database, each a real `dateline serve` process with its own
//! data folder (search index, page cache): what one node publishes, every node serves; a
//! schedule fires once; a node killed with SIGKILL loses nothing it acknowledged. On the
//! PostgreSQL pass of the suite the nodes share a PostgreSQL database; on the SQLite pass, one
//! file on one machine.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dateline_core::account::Role;
use dateline_core::{Localized, Section, Slug};
use dateline_storage::Store;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

use crate::helpers::{account_in, on_postgres, raw_sql, test_database};

const PASSWORD: &str = "a long enough passphrase";

/// A `dateline serve` process, killed when dropped, and how to reach it.
pub(crate) struct Node {
    pub(crate) child: Child,
    site: Site,
}

/// A node as its clients reach it.
#[derive(Clone)]
pub(crate) struct Site {
    address: String,
    client: reqwest::Client,
}

impl std::ops::Deref for Node {
    type Target = Site;
    fn deref(&self) -> &Site {
        &self.site
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    /// Starts a node on `database`, keeping its index and media in `data`; answers once it
    /// listens.
    pub(crate) async fn start(database: &Path, data: &Path) -> Node {
        Node::start_with(database, data, &[]).await
    }

    /// [`Node::start`], with more environment variables.
    async fn start_with(database: &Path, data: &Path, env: &[(&str, &str)]) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dateline"))
            .arg("serve")
            .envs(env.iter().copied())
            .env("DATELINE_DATABASE", database)
            .env("DATELINE_DATA_DIR", data)
            .env("DATELINE_LISTEN", "127.0.0.1:0")
            .env("DATELINE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run dateline serve");
        let stdout = child.stdout.take().expect("stdout");
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .expect("read");
            line
        })
        .await
        .expect("reader");
        let address = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Node {
            child,
            site: Site {
                address,
                client: reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("client"),
            },
        }
    }
}

impl Site {
    async fn text(&self, path: &str) -> (u16, String) {
        match self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
        {
            Ok(response) => (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            ),
            Err(_) => (0, String::new()),
        }
    }

    async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> (u16, Value) {
        let response = self
            .client
            .request(method, format!("{}/api/v1{path}", self.address))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await;
        match response {
            Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or(Value::Null)),
            Err(_) => (0, Value::Null),
        }
    }

    pub(crate) async fn token(&self) -> String {
        let response = self
            .client
            .post(format!("{}/api/v1/tokens", self.address))
            .json(&json!({"username": "chief", "password": PASSWORD}))
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status().as_u16(), 201);
        let body: Value = response.json().await.expect("json");
        body["token"].as_str().expect("token").to_string()
    }

    /// Writes a story and publishes it (or schedules it for `at`); answers its id and public
    /// address once the node acknowledged it, or `None` if the node did not.
    pub(crate) async fn publish(
        &self,
        token: &str,
        headline: &str,
        at: Option<Timestamp>,
    ) -> Option<(i64, String)> {
        let (status, created) = self
            .api(
                reqwest::Method::POST,
                "/articles",
                token,
                json!({"headline": headline, "section": "world",
                       "body": format!("<p>{headline}: reported by the desk.</p>")}),
            )
            .await;
        if status != 201 {
            return None;
        }
        let id = created["id"].as_i64()?;
        let action = match at {
            Some(at) => json!({"action": "schedule", "at": at.to_string()}),
            None => json!({"action": "publish"}),
        };
        let (status, acted) = self
            .api(
                reqwest::Method::POST,
                &format!("/articles/{id}/actions"),
                token,
                action,
            )
            .await;
        if status != 200 {
            return None;
        }
        Some((id, acted["url"].as_str().unwrap_or_default().to_string()))
    }
}

/// A newsroom with a section and a chief editor, on a fresh database; answers the database,
/// the store and the folder that holds the nodes' data.
pub(crate) async fn newsroom() -> (
    std::path::PathBuf,
    std::sync::Arc<dyn Store>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().expect("dir");
    let database = test_database(dir.path()).await;
    let store = newsroom_in(&database).await;
    (database, store, dir)
}

/// A section and a chief editor in the empty newsroom at `database`.
async fn newsroom_in(database: &Path) -> std::sync::Arc<dyn Store> {
    let store = dateline_storage::open(database.to_str().expect("UTF-8"))
        .await
        .expect("store");
    store
        .put_section(&Section {
            key: Slug::parse("world").expect("slug"),
            code: 1,
            name: Localized::new("en", "World"),
        })
        .await
        .expect("section");
    account_in(store.as_ref(), "chief", &[Role::ChiefEditor], &[], PASSWORD).await;
    store
}

/// How long until `check` holds, trying every 20 ms for at most ten seconds.
pub(crate) async fn until<F, Fut>(mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_node_publishes_every_node_serves_and_a_schedule_fires_once() {
    let (database, store, dir) = newsroom().await;
    let a = Node::start(&database, &dir.path().join("a")).await;
    let b = Node::start(&database, &dir.path().join("b")).await;
    let token = a.token().await;
    // The token made on one node works on the other: sessions and tokens live in the database.
    let (status, _) = b
        .api(reqwest::Method::GET, "/articles", &token, Value::Null)
        .await;
    assert_eq!(status, 200, "a token from node a on node b");

    // Node b keeps its pages before the publish, so it must drop them when it hears of it.
    for path in ["/", "/section/world", "/feed.atom"] {
        assert_eq!(b.text(path).await.0, 200, "{path}");
        assert_eq!(b.text(path).await.0, 200, "{path}");
    }
    let headline = "Harbour pilots return to work";
    let (_, url) = a
        .publish(&token, headline, None)
        .await
        .expect("published on a");
    let acknowledged = Instant::now();
    let path = url::Url::parse(&url).expect("url").path().to_string();
    let mut seen = Vec::new();
    for (what, page) in [
        ("article", path.as_str()),
        ("home", "/"),
        ("section", "/section/world"),
        ("feed", "/feed.atom"),
        ("search", "/search?q=harbour+pilots"),
    ] {
        let shown = until(|| async { b.text(page).await.1.contains(headline) }).await;
        assert!(
            shown.is_some(),
            "node b never showed the story on its {what} page"
        );
        seen.push((what, acknowledged.elapsed()));
    }
    // Speed is measured, not asserted (the machine is shared): the closing note reports it.
    println!("node b serves a publish on node a: {seen:?} after the acknowledgement");

    // A story scheduled on node a is published once, by whichever node's scheduler fires.
    let at = Timestamp::now() + SignedDuration::from_secs(2);
    let (id, _) = a
        .publish(&token, "Ferry timetable returns", Some(at))
        .await
        .expect("scheduled on a");
    let fired = until(|| async {
        b.text("/section/world")
            .await
            .1
            .contains("Ferry timetable returns")
    })
    .await;
    assert!(fired.is_some(), "the schedule never fired");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let publications = store
        .changes_after(0, 10_000)
        .await
        .expect("stream")
        .into_iter()
        .filter(|c| {
            c.article.map(|a| a.get()) == Some(id)
                && c.kind == dateline_core::change::ChangeKind::ArticlePublished
        })
        .count();
    assert_eq!(publications, 1, "the schedule fired once across the nodes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_publishing_loses_nothing_it_acknowledged() {
    let (database, _store, dir) = newsroom().await;
    let mut a = Node::start(&database, &dir.path().join("a")).await;
    let b = Node::start(&database, &dir.path().join("b")).await;
    let token = a.token().await;
    // Publishes go to node a one after another while it is killed among them.
    let publishing = {
        let node = a.site.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0..200 {
                match node
                    .publish(&token, &format!("Bulletin number {n}"), None)
                    .await
                {
                    Some((_, url)) => acknowledged.push((n, url)),
                    None => break,
                }
            }
            acknowledged
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    a.child.kill().expect("SIGKILL node a");
    a.child.wait().expect("reap node a");
    let acknowledged = publishing.await.expect("publisher");
    assert!(
        acknowledged.len() >= 3 && acknowledged.len() < 200,
        "node a was killed among the publishes ({} acknowledged)",
        acknowledged.len()
    );
    for (n, url) in &acknowledged {
        let path = url::Url::parse(url).expect("url").path().to_string();
        let headline = format!("Bulletin number {n}");
        let shown = until(|| async {
            let (status, body) = b.text(&path).await;
            status == 200 && body.contains(&headline)
        })
        .await;
        assert!(
            shown.is_some(),
            "an acknowledged publish is missing on node b: {headline}"
        );
    }
    // Node b goes on publishing alone.
    let token_b = b.token().await;
    assert!(b
        .publish(&token_b, "After the outage", None)
        .await
        .is_some());
    println!(
        "{} publishes acknowledged before node a was killed",
        acknowledged.len()
    );
}

/// A rolling upgrade: the next release's node migrated the schema (an added column, a
/// migration this release does not know), and a node of this release still starts on it,
/// serves and publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_starts_on_a_schema_the_next_release_migrated() {
    let (database, _store, dir) = newsroom().await;
    let checksum = if on_postgres() {
        "'\\x00'::bytea"
    } else {
        "X'00'"
    };
    for sql in [
        "ALTER TABLE articles ADD COLUMN next_release_note TEXT".to_string(),
        format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990101000000, 'the next release', TRUE, {checksum}, 0)"
        ),
    ] {
        raw_sql(&database, &sql).await;
    }
    let node = Node::start(&database, &dir.path().join("a")).await;
    let token = node.token().await;
    let (_, url) = node
        .publish(&token, "Published during the upgrade", None)
        .await
        .expect("published");
    let path = url::Url::parse(&url).expect("url").path().to_string();
    let (status, page) = node.text(&path).await;
    assert_eq!(status, 200);
    assert!(page.contains("Published during the upgrade"));
}

/// An S3-compatible object store on loopback (moto's server, which `scripts/test` installs),
/// stopped when dropped.
struct ObjectStore {
    child: Child,
    endpoint: String,
}

impl Drop for ObjectStore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ObjectStore {
    async fn start(bucket: &str) -> ObjectStore {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto's S3 server runs (scripts/test installs it)");
        let store = ObjectStore {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let made = until(|| async {
            client
                .put(format!("{}/{bucket}", store.endpoint))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(made.is_some(), "the object store never answered");
        store
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_uploaded_on_one_node_is_served_by_every_node_from_the_object_store() {
    let (database, _store, dir) = newsroom().await;
    let s3 = ObjectStore::start("newsroom-media").await;
    let env = [
        ("DATELINE_MEDIA_STORE", "s3://newsroom-media/images"),
        ("AWS_ENDPOINT", s3.endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "dateline-test"),
        ("AWS_SECRET_ACCESS_KEY", "dateline-test-secret"),
    ];
    let a = Node::start_with(&database, &dir.path().join("a"), &env).await;
    let b = Node::start_with(&database, &dir.path().join("b"), &env).await;
    let token = a.token().await;
    let png = {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])
        }))
        .write_to(&mut bytes, image::ImageFormat::Png)
        .expect("a PNG");
        bytes.into_inner()
    };
    let response = a
        .client
        .post(format!("{}/api/v1/media", a.address))
        .bearer_auth(&token)
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status().as_u16(), 201);
    let uploaded: Value = response.json().await.expect("json");
    let src = uploaded["src"].as_str().expect("src").to_string();
    // Node b never saw the upload: it reads the rendition from the shared store.
    let fetched = b
        .client
        .get(format!("{}{src}", b.address))
        .send()
        .await
        .expect("fetch");
    assert_eq!(fetched.status().as_u16(), 200, "{src} on node b");
    assert_eq!(
        fetched
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    let bytes = fetched.bytes().await.expect("bytes");
    let image = image::load_from_memory(&bytes).expect("an image");
    assert_eq!((image.width(), image.height()), (64, 48));
    // Nothing was written to either node's own folder.
    for node in ["a", "b"] {
        let media = dir.path().join(node).join("media");
        let files = std::fs::read_dir(&media).map_or(0, |d| d.count());
        assert_eq!(files, 0, "{} holds files", media.display());
    }
    assert_eq!(b.text("/media/0000/1.png").await.0, 404);
}

/// Runs `sql` on the read replica at `url`.
async fn on_replica(url: &str, sql: &str) {
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(url).await.expect("the replica");
    sqlx::query(sql).execute(&mut db).await.expect(sql);
}

/// Two nodes read the pages from a streaming replica of the PostgreSQL primary they write to
/// (the replica `scripts/test` starts, named by `DATELINE_TEST_POSTGRES_REPLICA`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_read_from_a_replica_and_a_node_never_hides_its_own_publish() {
    let replica_admin = std::env::var("DATELINE_TEST_POSTGRES_REPLICA")
        .expect("DATELINE_TEST_POSTGRES_REPLICA: run scripts/test, which starts a replica");
    let primary = dateline_storage::fresh_postgres_database()
        .await
        .expect("a database");
    let mut replica = url::Url::parse(&replica_admin).expect("replica URL");
    replica.set_path(url::Url::parse(&primary).expect("URL").path());
    let replica = replica.to_string();
    let _store = newsroom_in(Path::new(&primary)).await;
    let dir = tempfile::tempdir().expect("dir");
    let env = [("DATELINE_DATABASE_REPLICA", replica.as_str())];
    // The new database reaches the replica as the primary's log does.
    let there = until(|| async {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&replica).await.is_ok()
    })
    .await;
    assert!(there.is_some(), "the replica never had the database");
    let a = Node::start_with(Path::new(&primary), &dir.path().join("a"), &env).await;
    let b = Node::start_with(Path::new(&primary), &dir.path().join("b"), &env).await;
    let (token_a, token_b) = (a.token().await, b.token().await);
    for node in [&a, &b] {
        assert!(node.text("/").await.1.contains("<html"), "the home page");
    }

    // A publish is on its node's pages from the first request after it is acknowledged.
    let (_, url) = a
        .publish(&token_a, "Replica keeps pace", None)
        .await
        .expect("published");
    let path = url::Url::parse(&url).expect("url").path().to_string();
    let (status, page) = a.text(&path).await;
    assert!(
        status == 200 && page.contains("Replica keeps pace"),
        "{status}"
    );
    assert!(a.text("/").await.1.contains("Replica keeps pace"));

    // The replica stops replaying: node b publishes, waits for the replica as long as it may,
    // then reads from the primary, so it shows its own story at once ...
    on_replica(&replica, "SELECT pg_wal_replay_pause()").await;
    let started = Instant::now();
    let (_, url) = b
        .publish(&token_b, "Written while the replica paused", None)
        .await
        .expect("published on b");
    println!(
        "node b's publish was acknowledged after {:?}",
        started.elapsed()
    );
    let path = url::Url::parse(&url).expect("url").path().to_string();
    assert!(b
        .text(&path)
        .await
        .1
        .contains("Written while the replica paused"));
    assert!(b
        .text("/")
        .await
        .1
        .contains("Written while the replica paused"));
    // ... while node a, which reads the paused replica, does not have it yet ...
    assert!(!a
        .text("/")
        .await
        .1
        .contains("Written while the replica paused"));
    // ... and has it once the replica goes on.
    on_replica(&replica, "SELECT pg_wal_replay_resume()").await;
    let shown = until(|| async {
        a.text("/")
            .await
            .1
            .contains("Written while the replica paused")
    })
    .await;
    assert!(
        shown.is_some(),
        "node a never showed the story after the replica resumed"
    );
}
