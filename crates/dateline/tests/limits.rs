//! The server under abuse and the database under load: what a hostile client can hold, how a
//! connection ends, how shutdown drains, and how many queries a page costs.
//!
//! A test binary of its own: it reads the process's resident memory and counts every SQL
//! statement through a global tracing subscriber, so nothing else may run beside it. Its tests
//! take turns through [`ONE_AT_A_TIME`]. All traffic stays on loopback and every loop is bounded.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dateline::config::LimitsConfig;
use dateline::server::{open_store, Server};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[expect(
    dead_code,
    reason = "the integration suite's helpers, of which this binary uses some"
)]
#[path = "it/helpers.rs"]
mod helpers;

use helpers::TestApp;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// SQL statements run since the counter was last read.
static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

/// Counts the statements sqlx reports, but for the `PRAGMA`s that open a pooled connection:
/// the pool opens one whenever none is idle at that instant, which is no cost of a page's.
struct CountStatements;

/// Whether a statement's summary is a connection's set-up.
struct IsSetUp(bool);

impl tracing::field::Visit for IsSetUp {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.0 = format!("{value:?}")
                .trim_start_matches('"')
                .starts_with("PRAGMA");
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for CountStatements
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        // Only what a request runs: the followers of the stream (search index, webhooks) poll
        // beside it, outside any request's span.
        let in_request = ctx
            .event_scope(event)
            .is_some_and(|mut scope| scope.any(|span| span.name() == "request"));
        if in_request && event.metadata().target() == "sqlx::query" {
            let mut set_up = IsSetUp(false);
            event.record(&mut set_up);
            if !set_up.0 {
                STATEMENTS.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

fn count_statements() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        tracing_subscriber::registry().with(CountStatements).init();
    });
}

/// The process's resident memory, in bytes.
fn resident() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// A connection from `from` (any 127.0.0.0/8 address) to the server.
async fn connect_from(from: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(to).await
}

/// Reads until the server closes the connection, for at most `limit`; `None` if it is still
/// open then.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

async fn app_with_limits(header_timeout_secs: u64) -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.limits = LimitsConfig {
            header_timeout_secs,
            request_timeout_secs: 5,
            max_header_bytes: 16 * 1024,
            max_connections: 400,
            max_connections_per_client: 60,
            shutdown_grace_secs: 5,
        }
    })
    .await;
    app.publish(&[json!({"id": "a", "headline": "A story", "published": "2024-01-01T00:00:00Z"})])
        .await;
    app
}

fn server_address(app: &TestApp) -> SocketAddr {
    app.address
        .trim_start_matches("http://")
        .parse()
        .expect("address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_oversized_clients_hold_little_and_readers_are_still_served() {
    let _turn = ONE_AT_A_TIME.lock().await;
    // Long enough that every connection below is open before the first is timed out.
    let app = app_with_limits(6).await;
    let server = server_address(&app);
    for _ in 0..5 {
        assert_eq!(app.get("/").await.status().as_u16(), 200);
    }
    let before = resident();

    // Four addresses each open 70 connections that send 12 KB of headers and never finish:
    // 60 of each are let in, the rest are refused at once.
    let mut slow = Vec::new();
    let mut refused = 0;
    for client in 2..=5u8 {
        for i in 0..70 {
            let mut stream = connect_from([127, 0, 0, client], server)
                .await
                .expect("connect");
            let mut head = format!("GET /?{i} HTTP/1.1\r\nHost: localhost\r\n");
            while head.len() < 12 * 1024 {
                head.push_str(&format!(
                    "X-Padding-{}: {}\r\n",
                    head.len(),
                    "p".repeat(200)
                ));
            }
            let _ = stream.write_all(head.as_bytes()).await;
            slow.push(stream);
        }
    }
    // And two addresses send headers of 400 KB on 60 connections each: held whole, they
    // would take some 48 MB.
    let mut oversized = Vec::new();
    for i in 0..120 {
        let client = if i % 2 == 0 { 6 } else { 7 };
        let mut stream = connect_from([127, 0, 0, client], server)
            .await
            .expect("connect");
        let head = format!(
            "GET / HTTP/1.1\r\nHost: localhost\r\nX-Huge: {}",
            "h".repeat(400 * 1024)
        );
        let _ =
            tokio::time::timeout(Duration::from_secs(2), stream.write_all(head.as_bytes())).await;
        oversized.push(stream);
    }

    // A reader is served at once all the same.
    let started = Instant::now();
    let page = app.get("/").await;
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a reader waited {:?}",
        started.elapsed()
    );

    let grown = resident().saturating_sub(before);
    assert!(
        grown < 16 << 20,
        "resident memory grew by {} MB",
        grown >> 20
    );

    // The oversized ones are told so and closed.
    for stream in &mut oversized {
        let answer = read_until_closed(stream, Duration::from_secs(5))
            .await
            .expect("closed");
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
            "{answer}"
        );
    }
    // The connections over the per-client limit were refused with a 503; the others are
    // closed once the header timeout (6 s) has passed.
    for stream in &mut slow {
        let answer = read_until_closed(stream, Duration::from_secs(12))
            .await
            .expect("a slow connection is closed after the header timeout");
        if String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 503") {
            refused += 1;
        }
    }
    assert_eq!(refused, 4 * 10, "each address is held to 60 connections");
    assert_eq!(app.get("/").await.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let app = app_with_limits(2).await;
    let mut stream = TcpStream::connect(server_address(&app))
        .await
        .expect("connect");
    stream
        .write_all(b"GET /robots.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let started = Instant::now();
    let rest = read_until_closed(&mut stream, Duration::from_secs(6))
        .await
        .expect("the idle connection is closed");
    assert!(rest.is_empty() || !rest.starts_with(b"HTTP/1.1 200"));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "closed too soon"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_request_in_flight_finish_and_then_stops() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().expect("dir");
    let config = dateline::config::Config {
        database: dir.path().join("dateline.db"),
        listen: "127.0.0.1:0".parse().expect("address"),
        ..dateline::config::Config::default()
    };
    let store = open_store(&config).await.expect("store");
    let server = Server::bind(&config, store).await.expect("bind");
    let address = server.address;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));

    // A request has begun (its head is half sent) when the server is told to stop.
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"GET /robots.txt HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.send(()).expect("stop");
    // No new connection is taken...
    let mut accepting = true;
    for _ in 0..50 {
        if TcpStream::connect(address).await.is_err() {
            accepting = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!accepting, "still accepting 5 s after the stop");
    // ...and the request in flight is answered whole.
    stream.write_all(b"\r\n").await.expect("finish the request");
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("closed after the answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The whole body: robots.txt ends by naming the sitemap index.
    assert!(answer.ends_with("/sitemap.xml\n"), "{answer}");
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the server stops")
        .expect("task")
        .expect("served");
}

/// The statements one request costs, once the database's connections are open (opening one
/// runs statements of its own): the least of three tries. Only statements run within a
/// request's span count: the followers of the stream poll beside it.
async fn statements(app: &TestApp, path: &str, status: u16) -> usize {
    for _ in 0..3 {
        let _ = app.get(path).await.text().await;
    }
    let mut least = usize::MAX;
    for _ in 0..3 {
        // Let statements of earlier work finish reporting.
        tokio::time::sleep(Duration::from_millis(50)).await;
        STATEMENTS.store(0, Ordering::SeqCst);
        let response = app.get(path).await;
        assert_eq!(response.status().as_u16(), status, "{path}");
        let _ = response.text().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        least = least.min(STATEMENTS.load(Ordering::SeqCst));
    }
    least
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_cost_a_small_number_of_queries_whatever_they_show() {
    let _turn = ONE_AT_A_TIME.lock().await;
    count_statements();
    let app = TestApp::spawn_with(|c| c.languages = vec!["en".into(), "zh".into()]).await;
    let mut records = vec![
        json!({"id": "plain", "headline": "Plain", "section": "desk-0", "published": "2024-01-01T00:00:00Z"}),
    ];
    // A rich article: twelve sections around it, ten topics, ten pinned stories, six
    // translations, eight inline links, a series.
    let inline: String = (0..8)
        .map(|i| format!("<p><a href=\"article:r{i}\"></a></p>"))
        .collect();
    records.push(json!({
        "id": "rich", "headline": "Rich", "section": "desk-1", "published": "2024-02-01T00:00:00Z",
        "body": format!("<p>Text.</p>{inline}"),
        "topics": (0..10).map(|i| format!("topic-{i}")).collect::<Vec<_>>(),
        "related": (0..10).map(|i| format!("r{i}")).collect::<Vec<_>>(),
        "series": "talks", "episode": 3,
    }));
    for i in 0..12 {
        records.push(
            json!({"id": format!("r{i}"), "headline": format!("Related {i}"),
            "section": format!("desk-{i}"), "published": "2024-01-15T00:00:00Z"}),
        );
    }
    for (i, lang) in ["zh", "ru", "de", "fr", "es", "ar"].iter().enumerate() {
        records.push(
            json!({"id": format!("t{i}"), "headline": format!("T {lang}"), "lang": lang,
            "translation_of": "rich", "published": "2024-02-01T01:00:00Z"}),
        );
    }
    let ids = app.publish(&records).await;
    let plain = app.address_of(ids[0]).await;
    let rich = app.address_of(ids[1]).await;

    let plain_cost = statements(&app, &plain, 200).await;
    let rich_cost = statements(&app, &rich, 200).await;
    println!("article page: {plain_cost} statements (plain), {rich_cost} (rich)");
    assert!(
        rich_cost <= 4,
        "a rich article page cost {rich_cost} statements"
    );
    assert_eq!(
        plain_cost, rich_cost,
        "the cost grows with what the page shows"
    );
    let rich_page = app.page(&rich).await;
    assert_eq!(rich_page.texts(".related .headline").len(), 10);
    assert_eq!(rich_page.texts(".topics a").len(), 10);
    assert_eq!(rich_page.texts(".body a.inline-related").len(), 8);

    let home = statements(&app, "/", 200).await;
    println!("home page: {home} statements");
    assert!(home <= 3, "the home page cost {home} statements");
    let section = statements(&app, "/section/desk-1", 200).await;
    assert!(section <= 2, "a section front cost {section} statements");
    let unknown = statements(&app, "/n3/2024/0101/c10000-999999.html", 404).await;
    let unparsable = statements(&app, "/no/such/page", 404).await;
    println!("404: {unknown} statements for an unknown id, {unparsable} for another address");
    assert!(unparsable <= 1, "a 404 cost {unparsable} statements");
    assert!(
        unknown <= 1,
        "a 404 for an unknown id cost {unknown} statements"
    );
}
