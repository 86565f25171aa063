//! Webhooks, with a real receiver on loopback: every change arrives once, signed, in order, and
//! a receiver that was down gets what it missed once it is back.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::TestApp;

const SECRET: &str = "a shared secret for the test receiver";

/// What the receiver was sent, and whether it took it.
#[derive(Clone, Debug)]
struct Received {
    accepted: bool,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Default)]
struct Receiver {
    up: AtomicBool,
    seen: Mutex<Vec<Received>>,
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let accepted = r.up.load(Ordering::SeqCst);
    r.seen.lock().expect("lock").push(Received {
        accepted,
        headers,
        body: body.to_vec(),
    });
    if accepted {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

async fn start_receiver() -> (Arc<Receiver>, String) {
    let receiver = Arc::new(Receiver::default());
    receiver.up.store(true, Ordering::SeqCst);
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (receiver, url)
}

/// The deliveries the receiver took, once there are at least `n` (waiting at most `limit`).
/// Whether a delivery tells of threading (an article placed in its story thread, a thread
/// changed), which follows the changes the tests make by a moment, from the threader.
fn threading(r: &Received) -> bool {
    serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|b| b["kind"].as_str().map(str::to_string))
        .is_some_and(|k| k == "article.threaded" || k == "thread.changed")
}

/// The accepted deliveries other than threading's, once there are `n` (or the time is up).
async fn accepted(receiver: &Receiver, n: usize, limit: Duration) -> Vec<Received> {
    let deadline = Instant::now() + limit;
    loop {
        let taken: Vec<Received> = receiver
            .seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.accepted && !threading(r))
            .cloned()
            .collect();
        if taken.len() >= n || Instant::now() > deadline {
            return taken;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn verify(delivery: &Received) -> Value {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(&delivery.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        delivery.headers["x-dateline-signature"],
        expected.as_str(),
        "signature"
    );
    assert_eq!(delivery.headers["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&delivery.body).expect("JSON");
    assert_eq!(
        delivery.headers["x-dateline-event"],
        body["kind"].as_str().expect("kind")
    );
    assert_eq!(
        delivery.headers["x-dateline-delivery"],
        body["position"].to_string().as_str()
    );
    body
}

#[tokio::test]
async fn every_change_arrives_once_signed_in_order_even_after_the_receiver_was_down() {
    let app = TestApp::spawn().await;
    app.publish(&[
        json!({"id": "before", "headline": "Before the hook", "published": "2024-01-01T00:00:00Z"}),
    ])
    .await;
    let (receiver, url) = start_receiver().await;

    // The operator adds the webhook from the command line, beside the running server.
    let added = Command::new(env!("CARGO_BIN_EXE_dateline"))
        .args(["webhook", "add", &url, "--secret", SECRET])
        .env("DATELINE_DATABASE", &app.config.database)
        .env("DATELINE_LOG", "warn")
        .output()
        .expect("run dateline webhook add");
    assert!(
        added.status.success(),
        "dateline webhook add failed: {}\n{}",
        String::from_utf8_lossy(&added.stdout),
        String::from_utf8_lossy(&added.stderr)
    );

    let ids = app
        .publish(&[
            json!({"id": "one", "headline": "One", "section": "world", "published": "2024-01-02T00:00:00Z"}),
            json!({"id": "two", "headline": "Two", "published": "2024-01-03T00:00:00Z"}),
        ])
        .await;
    app.publish(&[json!({"id": "one", "headline": "One, corrected", "section": "world", "published": "2024-01-02T00:00:00Z"})])
        .await;
    let first = accepted(&receiver, 4, Duration::from_secs(10)).await;
    let bodies: Vec<Value> = first.iter().map(verify).collect();
    let seen: Vec<(&str, &str)> = bodies
        .iter()
        .map(|b| {
            (
                b["kind"].as_str().expect("kind"),
                b["subject"].as_str().expect("subject"),
            )
        })
        .collect();
    // The change from before the hook was added is not sent.
    assert_eq!(
        seen,
        vec![
            ("section.changed", "world"),
            ("article.published", "one"),
            ("article.published", "two"),
            ("article.updated", "one"),
        ]
    );
    assert_eq!(bodies[1]["article_id"], ids[0]);
    assert_eq!(bodies[1]["url"], app.url(&app.address_of(ids[0]).await));
    // The threader's placing of each story is delivered too, signed like every change.
    let placed = |key: &'static str| {
        let receiver = &receiver;
        async move {
            for _ in 0..200 {
                let found = receiver.seen.lock().expect("lock").iter().any(|r| {
                    r.accepted
                        && threading(r)
                        && verify(r)["subject"] == key
                        && verify(r)["kind"] == "article.threaded"
                });
                if found {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        }
    };
    assert!(placed("one").await && placed("two").await);

    // The receiver goes down; two changes are made; it is tried and refuses.
    receiver.up.store(false, Ordering::SeqCst);
    app.publish(&[
        json!({"id": "three", "headline": "Three", "published": "2024-01-04T00:00:00Z"}),
        json!({"id": "four", "headline": "Four", "published": "2024-01-05T00:00:00Z"}),
    ])
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver
        .seen
        .lock()
        .expect("lock")
        .iter()
        .all(|r| r.accepted)
    {
        assert!(
            Instant::now() < deadline,
            "no delivery was tried while the receiver was down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    receiver.up.store(true, Ordering::SeqCst);
    let all = accepted(&receiver, 6, Duration::from_secs(20)).await;
    let bodies: Vec<Value> = all.iter().map(verify).collect();
    let positions: Vec<i64> = bodies
        .iter()
        .map(|b| b["position"].as_i64().expect("position"))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "in order, each once: {positions:?}"
    );
    let subjects: Vec<&str> = bodies
        .iter()
        .map(|b| b["subject"].as_str().expect("subject"))
        .collect();
    assert_eq!(
        subjects,
        vec!["world", "one", "two", "one", "three", "four"]
    );
}

/// A receiver that accepts and never answers holds up no other webhook.
#[tokio::test]
async fn a_receiver_that_hangs_holds_up_no_other() {
    let app = TestApp::spawn().await;
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hole_url = format!("http://{}/hook", hole.local_addr().expect("address"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        // Bounded: the test ends long before this many connections.
        while held.len() < 64 {
            match hole.accept().await {
                Ok((stream, _)) => held.push(stream),
                Err(_) => break,
            }
        }
    });
    let (receiver, url) = start_receiver().await;
    let now = jiff::Timestamp::now();
    for target in [&hole_url, &url] {
        app.store
            .add_webhook(
                &dateline_core::change::WebhookUrl::parse(target).expect("url"),
                SECRET,
                now,
            )
            .await
            .expect("webhook");
    }
    app.publish(&[json!({"id": "news", "headline": "News", "published": "2024-01-01T00:00:00Z"})])
        .await;
    // Well before the hung delivery's 10-second timeout, the other has its changes.
    let got = accepted(&receiver, 2, Duration::from_secs(5)).await;
    let subjects: Vec<String> = got
        .iter()
        .map(|r| verify(r)["subject"].as_str().expect("subject").to_string())
        .collect();
    assert_eq!(
        subjects,
        vec!["news", "news"],
        "the section the import made, then the article"
    );
}

/// Two nodes on one database and one webhook: each change is delivered once, by the node that
/// holds the webhook's lease; when that node is killed, the other takes the lease over and
/// delivers the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_nodes_each_change_is_delivered_once_even_when_the_deliverer_dies() {
    use crate::nodes::{newsroom, until, Node};
    let (database, store, dir) = newsroom().await;
    let (receiver, url) = start_receiver().await;
    let hook = store
        .add_webhook(
            &dateline_core::change::WebhookUrl::parse(&url).expect("url"),
            SECRET,
            jiff::Timestamp::now(),
        )
        .await
        .expect("webhook");
    let mut nodes = vec![
        Node::start(&database, &dir.path().join("a")).await,
        Node::start(&database, &dir.path().join("b")).await,
    ];
    let token = nodes[0].token().await;
    for n in 0..5 {
        let headline = format!("Before the outage {n}");
        nodes[0]
            .publish(&token, &headline, None)
            .await
            .expect("published");
    }
    assert_eq!(
        accepted(&receiver, 5, Duration::from_secs(10)).await.len(),
        5
    );
    // The threader places those stories a moment later, and its records are delivered too: the
    // holder is killed once it has delivered the whole stream, between deliveries (a holder
    // killed during one may send it again, which receivers deduplicate by its position).
    let idle = until(|| async {
        let end = store.stream_end().await.unwrap_or(i64::MAX);
        let threaded = store
            .stream_position(dateline_web::threading::CONSUMER)
            .await
            .unwrap_or(0);
        let delivered = store
            .stream_position(&dateline_storage::webhook_consumer(hook.id))
            .await
            .unwrap_or(0);
        threaded >= end && delivered >= end
    })
    .await;
    assert!(idle.is_some(), "the stream was delivered");
    // The node that holds the lease (its process id is in the holder's name) is killed.
    let holder = until(|| async {
        store.stream_positions().await.is_ok_and(|p| {
            p.iter()
                .any(|(c, _)| *c == dateline_storage::webhook_consumer(hook.id))
        })
    })
    .await;
    assert!(holder.is_some());
    let leases = crate::helpers::raw_pairs(&database, "SELECT name, holder FROM leases").await;
    let holder = leases
        .iter()
        .find(|(name, _)| *name == dateline_storage::webhook_consumer(hook.id))
        .map(|(_, holder)| holder.clone())
        .expect("the webhook's lease is held");
    let dead = nodes
        .iter()
        .position(|n| holder.contains(&format!("-{}-", n.child.id())))
        .expect("a node holds it");
    let mut killed = nodes.remove(dead);
    killed.child.kill().expect("SIGKILL");
    killed.child.wait().expect("reaped");
    let survivor = nodes.remove(0);
    let token = survivor.token().await;
    for n in 0..5 {
        let headline = format!("After the outage {n}");
        survivor
            .publish(&token, &headline, None)
            .await
            .expect("published");
    }
    // The lease lapses within 30 s, and the survivor delivers what is left.
    let got = accepted(&receiver, 10, Duration::from_secs(60)).await;
    let mut positions: Vec<i64> = got
        .iter()
        .map(|d| verify(d)["position"].as_i64().expect("position"))
        .collect();
    assert_eq!(positions.len(), 10, "every change delivered");
    positions.dedup();
    assert_eq!(positions.len(), 10, "and each once, in order");
}
