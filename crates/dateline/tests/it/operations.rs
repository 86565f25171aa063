//! What an operator watches: `/healthz`, `/readyz`, `/metrics` (read by Prometheus' own
//! OpenMetrics parser), and logs as JSON.

use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::{shared, test_database, TestApp};

/// Prometheus' parser reads the scrape; prints each sample as `[name, labels, value]`.
const READ_METRICS: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
samples = []
types = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    types[family.name] = family.type
    for s in family.samples:
        samples.append([s.name, s.labels, s.value])
print(json.dumps({"types": types, "samples": samples}))
"#;

fn parse_metrics(text: &str) -> Value {
    use std::io::Write;
    let mut child = Command::new("python3")
        .args(["-c", READ_METRICS])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "the OpenMetrics parser refused the scrape (scripts/test installs it): {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the parser's report")
}

/// The value of the sample `name` whose labels include `labels`.
fn sample(metrics: &Value, name: &str, labels: &Value) -> Option<f64> {
    metrics["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .find(|s| {
            s[0] == name
                && labels
                    .as_object()
                    .expect("labels")
                    .iter()
                    .all(|(k, v)| s[1][k] == *v)
        })
        .and_then(|s| s[2].as_f64())
}

#[tokio::test]
async fn health_readiness_and_metrics_say_how_the_node_does() {
    let app = TestApp::demo().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    // Ready once the page cache follows the stream and the index caught up with the demo.
    let mut ready = Value::Null;
    for _ in 0..100 {
        let response = app.get("/readyz").await;
        let status = response.status().as_u16();
        ready = response.json().await.expect("json");
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{ready}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["database"], "ok");

    // A page twice (rendered, then from the cache), a section, and a page that is not there.
    for path in ["/", "/", "/section/world", "/no/such/page"] {
        app.get(path).await;
    }
    let scrape = app.get("/metrics").await;
    assert_eq!(scrape.status(), 200);
    assert!(scrape.headers().get("content-type").is_some_and(|v| v
        .to_str()
        .unwrap_or("")
        .starts_with("application/openmetrics-text")));
    let metrics = parse_metrics(&scrape.text().await.expect("body"));
    assert_eq!(metrics["types"]["dateline_http_requests"], "counter");
    assert_eq!(
        metrics["types"]["dateline_http_request_duration_seconds"],
        "histogram"
    );
    let home = sample(
        &metrics,
        "dateline_http_requests_total",
        &json!({"route": "/", "status": "200"}),
    );
    assert_eq!(home, Some(2.0), "{metrics}");
    assert!(sample(
        &metrics,
        "dateline_http_requests_total",
        &json!({"route": "/section/{key}", "status": "200"})
    )
    .is_some());
    assert!(sample(
        &metrics,
        "dateline_http_requests_total",
        &json!({"status": "404"})
    )
    .is_some());
    assert!(
        sample(
            &metrics,
            "dateline_page_cache_requests_total",
            &json!({"result": "hit"})
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
    // The render is timed; a hit answered in front of the router is counted, not timed.
    assert!(sample(
        &metrics,
        "dateline_http_request_duration_seconds_count",
        &json!({"route": "/"})
    )
    .is_some_and(|n| (1.0..=2.0).contains(&n)));
    assert_eq!(
        sample(
            &metrics,
            "dateline_stream_lag",
            &json!({"consumer": "page-cache"})
        ),
        Some(0.0)
    );
    assert!(sample(
        &metrics,
        "dateline_stream_lag",
        &json!({"consumer": "search-index"})
    )
    .is_some());
    assert!(
        sample(&metrics, "dateline_database_connections", &json!({})).is_some_and(|n| n >= 1.0)
    );
    assert!(
        sample(&metrics, "dateline_database_connections_max", &json!({})).is_some_and(|n| n >= 1.0)
    );
    assert_eq!(
        sample(&metrics, "dateline_scheduled_articles", &json!({})),
        Some(0.0)
    );
    // The pages read above are kept (unless the demo's threading dropped one since), and
    // weigh at least their bodies.
    let pages = sample(&metrics, "dateline_page_cache_pages", &json!({}));
    assert!(pages.is_some_and(|n| n >= 1.0), "{pages:?}");
    let bytes = sample(&metrics, "dateline_page_cache_bytes", &json!({}));
    assert!(bytes.is_some_and(|n| n >= 1_000.0), "{bytes:?}");
    // The demo's related stories: the graph of nearest articles is grown while the node is
    // idle, and the scrape says when no list is missing.
    let mut missing = None;
    for _ in 0..200 {
        let text = app.get("/metrics").await.text().await.expect("body");
        missing = sample(
            &parse_metrics(&text),
            "dateline_neighbour_lists_missing",
            &json!({}),
        );
        if missing == Some(0.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(missing, Some(0.0));
}

#[tokio::test]
async fn metrics_ask_a_token_of_whoever_sends_one() {
    let app =
        TestApp::spawn_with(|c| c.metrics_token = Some("a scraper's long token".into())).await;
    let scrape = |token: &'static str| {
        let request = app.client.get(app.url("/metrics")).bearer_auth(token);
        async move { request.send().await.expect("request").status().as_u16() }
    };
    assert_eq!(scrape("a wrong token").await, 403);
    assert_eq!(scrape("a scraper's long token").await, 200);
    // This machine may scrape without one.
    assert_eq!(app.get("/metrics").await.status(), 200);
}

#[tokio::test]
async fn logs_are_json_lines_on_request() {
    let dir = tempfile::tempdir().expect("dir");
    let database = test_database(dir.path()).await;
    let output = Command::new(env!("CARGO_BIN_EXE_dateline"))
        .args([
            "import",
            "--map",
            "headline=title",
            "--map",
            "section=category",
            "--undated-at",
            "2005-01-01T00:00:00Z",
        ])
        .arg(shared().join("data/bbc-news/bbc.jsonl"))
        .arg("--database")
        .arg(&database)
        .env("DATELINE_DATA_DIR", dir.path())
        .env("DATELINE_LOG", "info")
        .env("DATELINE_LOG_FORMAT", "json")
        .output()
        .expect("run dateline import");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "the import logged nothing");
    for line in lines {
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            entry["level"].is_string() && entry["fields"].is_object(),
            "{line}"
        );
    }
}
