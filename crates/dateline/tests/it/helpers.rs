//! `TestApp`: the real server on a random port with a fresh database, and typed helpers.

use std::path::PathBuf;
use std::sync::Arc;

use dateline::config::Config;
use dateline::server::{open_store, Server};
use dateline_core::import::{parse_object, BodyFormat, FieldMap, ImportOptions};
use dateline_core::{Localized, Section, Slug};
use dateline_storage::Store;
use scraper::{Html, Selector};
use serde_json::Value;
use tokio::sync::oneshot;

pub struct TestApp {
    pub address: String,
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub client: reqwest::Client,
    /// What the server's requests share: its page cache, for one.
    pub state: Arc<dateline_web::AppState>,
    _dir: tempfile::TempDir,
    _shutdown: oneshot::Sender<()>,
}

/// A page as a reader's browser would parse it.
pub struct Page {
    pub status: u16,
    pub html: Html,
}

impl Page {
    fn select(&self, css: &str) -> Vec<scraper::ElementRef<'_>> {
        let selector = Selector::parse(css).unwrap_or_else(|e| panic!("bad selector {css}: {e}"));
        self.html.select(&selector).collect()
    }

    /// The text of every element matching `css`, whitespace collapsed.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.select(css)
            .iter()
            .map(|e| {
                e.text()
                    .collect::<String>()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// The text of the one element matching `css`.
    pub fn text(&self, css: &str) -> String {
        let texts = self.texts(css);
        assert_eq!(texts.len(), 1, "expected one {css}, found {texts:?}");
        texts.into_iter().next().unwrap_or_default()
    }

    pub fn attrs(&self, css: &str, attr: &str) -> Vec<String> {
        self.select(css)
            .iter()
            .filter_map(|e| e.value().attr(attr).map(str::to_string))
            .collect()
    }

    pub fn attr(&self, css: &str, attr: &str) -> String {
        let values = self.attrs(css, attr);
        assert_eq!(
            values.len(),
            1,
            "expected one {css}[{attr}], found {values:?}"
        );
        values.into_iter().next().unwrap_or_default()
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Spawns the server with the default config, changed by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = test_database(dir.path()).await;
        let mut config = Config {
            database: database.clone(),
            listen: "127.0.0.1:0".parse().expect("address"),
            ..Config::default()
        };
        adjust(&mut config);
        config.database = database;
        config.data_dir = Some(dir.path().to_path_buf());
        let store = open_store(&config).await.expect("store opens");
        let server = Server::bind(&config, store.clone())
            .await
            .expect("server binds");
        let address = format!("http://{}", server.address);
        let state = server.state.clone();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestApp {
            address,
            config,
            store,
            client,
            state,
            _dir: dir,
            _shutdown: tx,
        }
    }

    /// Spawns the demo newsroom.
    pub async fn demo() -> TestApp {
        TestApp::demo_with(|_| {}).await
    }

    /// Spawns the demo newsroom, its config changed by `adjust`.
    pub async fn demo_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let app = TestApp::spawn_with(|c| {
            let demo = dateline::demo::config();
            c.outlet = demo.outlet;
            c.time_zone = demo.time_zone;
            c.languages = demo.languages;
            adjust(c);
        })
        .await;
        dateline::demo::load(app.store.as_ref(), &app.config)
            .await
            .expect("demo loads");
        app.threaded().await;
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn page(&self, path: &str) -> Page {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        let source = response.text().await.expect("body");
        Page {
            status,
            html: Html::parse_document(&source),
        }
    }

    pub async fn section(&self, key: &str, code: u32, name: &str) {
        let section = Section {
            key: Slug::parse(key).expect("slug"),
            code,
            name: Localized::new("en", name),
        };
        self.store
            .put_section(&section)
            .await
            .expect("section stored");
    }

    /// An API request, with a bearer token or none: the status, and the JSON answer (`Null`
    /// when there is none).
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Makes an account with these roles and desks (sections that exist) and password.
    pub async fn account(
        &self,
        name: &str,
        roles: &[dateline_core::account::Role],
        desks: &[&str],
        password: &str,
    ) -> dateline_core::account::Account {
        account_in(self.store.as_ref(), name, roles, desks, password).await
    }

    /// A browser session's cookie (`dateline_session=...`), from `POST /api/v1/session`.
    pub async fn session_cookie(&self, name: &str, password: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/v1/session"))
            .json(&serde_json::json!({"username": name, "password": password}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 201);
        let cookie = response.headers()[reqwest::header::SET_COOKIE]
            .to_str()
            .expect("text");
        cookie.split(';').next().expect("a cookie").to_string()
    }

    /// An admin page, as the signed-in browser with this session cookie gets it.
    pub async fn admin_page(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .expect("request")
    }

    /// An API token for an account, from `POST /api/v1/tokens`.
    pub async fn token(&self, name: &str, password: &str) -> String {
        let (status, body) = self
            .api(
                reqwest::Method::POST,
                "/api/v1/tokens",
                None,
                Some(serde_json::json!({"username": name, "password": password})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().expect("token").to_string()
    }

    /// The outlet's sanitizer, as an editor's tool would use it.
    pub fn sanitizer(&self) -> dateline_core::Sanitizer {
        self.config.sanitizer().expect("sanitizer")
    }

    pub fn import_options(&self) -> ImportOptions {
        import_options(&self.config)
    }

    /// Publishes articles given as import records; returns their ids.
    pub async fn publish(&self, records: &[Value]) -> Vec<i64> {
        let options = self.import_options();
        let articles: Vec<_> = records
            .iter()
            .map(|r| parse_object(r.as_object().expect("object"), &options).expect("valid article"))
            .collect();
        let outcomes = self
            .store
            .import_articles(&articles, jiff::Timestamp::now())
            .await
            .expect("stored");
        let ids = outcomes
            .into_iter()
            .map(|o| o.expect("article stored").id().get())
            .collect();
        self.threaded().await;
        ids
    }

    /// Waits (a minute at most: a test build threads a few hundred articles a second) until the
    /// threader has read the whole stream: each article published is in its story thread, and
    /// the pages that show it were told so.
    pub async fn threaded(&self) {
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(60) {
            let end = self.store.stream_end().await.expect("stream");
            let at = self
                .store
                .stream_position(dateline_web::threading::CONSUMER)
                .await
                .expect("position");
            if at >= end {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the threader did not read the stream within a minute");
    }

    /// The current address of an article, read from its section front.
    pub async fn address_of(&self, id: i64) -> String {
        let article = self
            .store
            .article(dateline_core::ArticleId::new(id), jiff::Timestamp::MAX)
            .await
            .expect("read")
            .expect("exists");
        let site = self
            .config
            .site("127.0.0.1:1".parse().expect("addr"))
            .expect("site");
        article.link.address(&site.address, &site.time_zone)
    }
}

/// A server on `config`'s newsroom, as a test that stops and starts it again needs: its store,
/// its address, what stops it, and its task (which ends once it stopped). The index of a server
/// stopped a moment ago is let go as its last commit ends: binding is tried again meanwhile.
pub async fn start_server(
    config: &Config,
) -> (
    std::sync::Arc<dyn Store>,
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let store = open_store(config).await.expect("store");
    let mut tries = 0;
    let server = loop {
        match Server::bind(config, store.clone()).await {
            Ok(server) => break server,
            Err(e) if tries < 50 => {
                tries += 1;
                tracing::debug!(error = %e, "binding again");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("bind: {e:?}"),
        }
    };
    let address = format!("http://{}", server.address);
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    (store, address, stop, running)
}

/// How the tests import records into a newsroom of this config: its sanitizer, languages and
/// time zone, into the `news` section unless a record names another.
pub fn import_options(config: &Config) -> ImportOptions {
    ImportOptions {
        fields: FieldMap::default(),
        sanitizer: std::sync::Arc::new(config.sanitizer().expect("sanitizer")),
        default_lang: config.languages().expect("languages")[0].clone(),
        default_section: Slug::parse("news").expect("slug"),
        time_zone: config.time_zone().expect("time zone"),
        undated_at: None,
        headline_from_body: false,
        body_format: BodyFormat::Auto,
        max_line_bytes: 1 << 20,
    }
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// The shared folder beside the repository, with its corpora and standards.
pub fn shared() -> PathBuf {
    repo_root().join("../shared")
}

/// Whether the suite runs on PostgreSQL (`DATELINE_TEST_ENGINE=postgres`, as `scripts/test`
/// sets on its second run of the suite) rather than SQLite.
pub fn on_postgres() -> bool {
    std::env::var("DATELINE_TEST_ENGINE").is_ok_and(|e| e == "postgres")
}

/// A fresh database for one test: a SQLite file in `dir`, or a new database on the test
/// cluster when the suite runs on PostgreSQL.
pub async fn test_database(dir: &std::path::Path) -> std::path::PathBuf {
    if on_postgres() {
        dateline_storage::fresh_postgres_database()
            .await
            .expect("a PostgreSQL test database")
            .into()
    } else {
        dir.join("dateline.db")
    }
}

impl TestApp {
    /// Runs `sql` on the app's database directly, as another program would, on either engine.
    pub async fn raw_sql(&self, sql: &str) {
        raw_sql(&self.config.database, sql).await;
    }
}

/// Runs `sql` on `database` directly, as another program would, on either engine.
pub async fn raw_sql(database: &std::path::Path, sql: &str) {
    use sqlx::Connection;
    let database = database.display().to_string();
    if on_postgres() {
        let mut db = sqlx::PgConnection::connect(&database)
            .await
            .expect("connect");
        sqlx::query(sql).execute(&mut db).await.expect(sql);
    } else {
        let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{database}"))
            .await
            .expect("connect");
        sqlx::query(sql).execute(&mut db).await.expect(sql);
    }
}

/// [`test_database`], for a test that runs no runtime of its own.
pub fn blocking_test_database(dir: &std::path::Path) -> std::path::PathBuf {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(test_database(dir))
}

/// A page's bytes without its related stories, which the search index ranks as it goes.
pub fn without_related(html: &str) -> String {
    match (
        html.find("<section class=\"related\""),
        html.find("</section>"),
    ) {
        (Some(from), Some(_)) => {
            let rest = &html[from..];
            let end = rest
                .find("</section>")
                .map_or(html.len(), |e| from + e + 10);
            format!("{}{}", &html[..from], &html[end..])
        }
        _ => html.to_string(),
    }
}

/// Makes an account in `store` with these roles and desks (sections that exist) and password.
pub async fn account_in(
    store: &dyn dateline_storage::Store,
    name: &str,
    roles: &[dateline_core::account::Role],
    desks: &[&str],
    password: &str,
) -> dateline_core::account::Account {
    use dateline_core::account::{Grants, Password, Username};
    store
        .create_account(
            &Username::parse(name).expect("name"),
            &Grants::new(
                roles.iter().copied(),
                desks.iter().map(|d| Slug::parse(d).expect("slug")),
            )
            .expect("grants"),
            &Password::parse(password)
                .expect("password")
                .hash()
                .expect("hash"),
            jiff::Timestamp::now(),
        )
        .await
        .expect("account")
}

/// Runs `sql`, which selects two text columns, on `database` directly, on either engine.
pub async fn raw_pairs(database: &std::path::Path, sql: &str) -> Vec<(String, String)> {
    use sqlx::Connection;
    let database = database.display().to_string();
    if on_postgres() {
        let mut db = sqlx::PgConnection::connect(&database)
            .await
            .expect("connect");
        sqlx::query_as(sql).fetch_all(&mut db).await.expect(sql)
    } else {
        let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{database}"))
            .await
            .expect("connect");
        sqlx::query_as(sql).fetch_all(&mut db).await.expect(sql)
    }
}
