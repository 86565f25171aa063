//! What an operator watches: `/healthz` (the process answers), `/readyz` (the database answers
//! and this node follows the stream) and `/metrics` in Prometheus' text format: requests by
//! route and status, their latency, the page cache's hits, each follower's lag behind the
//! stream, the schedule and webhook queues, and the database's connections.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::AppState;

/// The route a response answered, as the router matched it (`/section/{key}`); kept with a
/// page in the cache, so that a hit is counted under its route too.
#[derive(Debug, Clone)]
pub struct Route(pub Arc<str>);

/// Names the route a request matched on its response (a `route_layer` of the site).
pub async fn name_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| Arc::<str>::from(m.as_str()));
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(Route(route));
    }
    response
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumerLabels {
    consumer: String,
}

/// A count that every core adds to, each thread in a slot of its own (a cache line apart),
/// summed when read: readers on two cores adding to one counter would take turns on its cache
/// line at every request, and a rush of cache hits is made of little else.
#[derive(Debug)]
pub struct Tally {
    slots: Box<[Slot]>,
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot(AtomicU64);

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            slots: (0..16).map(|_| Slot::default()).collect(),
        }
    }
}

impl Tally {
    pub fn add(&self) {
        static THREADS: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SLOT: usize = THREADS.fetch_add(1, Ordering::Relaxed);
        }
        let slot = SLOT.with(|s| *s) % self.slots.len();
        self.slots[slot].0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn sum(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// A counter of the registry that hits add to through a [`Tally`], brought up to date when the
/// metrics are scraped.
#[derive(Debug, Default)]
struct Tallied {
    tally: Tally,
    counter: Counter,
    folded: AtomicU64,
}

impl Tallied {
    /// Adds to the counter what the tally counted since the last time.
    fn fold(&self) {
        let sum = self.tally.sum();
        let before = self.folded.swap(sum, Ordering::Relaxed);
        self.counter.inc_by(sum.saturating_sub(before));
    }
}

/// The counters requests move; the rest is read from storage when scraped.
#[derive(Debug)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    cache: Family<CacheLabels, Counter>,
    /// `cache{result="hit"}`, for the hits answered in front of the router.
    hits: Tallied,
    /// `requests{route, status="200"}` of each route's kept pages, for their hits.
    routes: Mutex<HashMap<Arc<str>, Arc<Tallied>>>,
}

/// The count of a kept page's answers (`requests{route, status="200"}`), found once when the
/// page is kept: a hit counts itself without looking its labels up.
#[derive(Debug, Clone)]
pub struct HitCounter(Arc<Tallied>);

impl Default for Metrics {
    fn default() -> Metrics {
        fn latency() -> Histogram {
            // From 50 µs to about 1.6 s.
            Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
        }
        let cache: Family<CacheLabels, Counter> = Family::default();
        let hits = Tallied {
            counter: cache.get_or_create(&CacheLabels { result: "hit" }).clone(),
            ..Tallied::default()
        };
        Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency),
            cache,
            hits,
            routes: Mutex::default(),
        }
    }
}

impl Metrics {
    /// The counter a kept page of `route` counts its hits on.
    pub fn hit_counter(&self, route: &Route) -> HitCounter {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let tallied = routes.entry(route.0.clone()).or_insert_with(|| {
            Arc::new(Tallied {
                counter: self
                    .requests
                    .get_or_create(&RequestLabels {
                        route: route.0.to_string(),
                        status: StatusCode::OK.as_u16(),
                    })
                    .clone(),
                ..Tallied::default()
            })
        });
        HitCounter(tallied.clone())
    }

    /// Brings the counters hits add to up to date (when the metrics are scraped).
    fn fold(&self) {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        self.hits.fold();
        for tallied in routes.values() {
            tallied.fold();
        }
    }

    /// Counts a request answered from the page cache, as a request of its page's route and a
    /// hit. Hits are not timed (they take microseconds, and a lock on the histogram would cost
    /// a rush of readers more than the rest of a hit): the latency is that of rendered answers.
    pub fn record_hit(
        &self,
        path: &str,
        route: Option<&Route>,
        counter: Option<&HitCounter>,
        response: &Response,
    ) {
        tracing::debug!(
            target: "dateline::access",
            path,
            route = route.map_or("(other)", |r| &*r.0),
            status = response.status().as_u16(),
            cache = "hit",
            "answered"
        );
        self.hits.tally.add();
        match counter {
            Some(counter) if response.status() == StatusCode::OK => {
                counter.0.tally.add();
            }
            _ => {
                self.requests
                    .get_or_create(&RequestLabels {
                        route: route.map_or("(other)", |r| &*r.0).to_string(),
                        status: response.status().as_u16(),
                    })
                    .inc();
            }
        }
    }

    /// Counts an answered request for `path`, begun at `started`; with
    /// `DATELINE_LOG=dateline::access=debug`, logs it too (JSON with `DATELINE_LOG_FORMAT=json`).
    pub fn record(&self, path: Option<&str>, response: &Response, started: Instant) {
        let route = response
            .extensions()
            .get::<Route>()
            .map_or("(other)", |r| &r.0)
            .to_string();
        tracing::debug!(
            target: "dateline::access",
            path,
            route,
            status = response.status().as_u16(),
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            cache = ?response.headers().get("x-cache"),
            "answered"
        );
        let result = match response.headers().get("x-cache").map(|v| v.as_bytes()) {
            Some(b"hit") => "hit",
            Some(b"miss") => "miss",
            _ => "pass",
        };
        self.cache.get_or_create(&CacheLabels { result }).inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                route,
                status: response.status().as_u16(),
            })
            .inc();
    }
}

/// `GET /healthz`: the process is up and answers.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: the database answers and the page cache follows the stream (so the pages
/// this node serves are current); 503 otherwise. The body says which, as JSON, with how far the
/// search index is behind (a node rebuilding its index still serves every page: its search is
/// incomplete meanwhile, which `dateline_stream_lag` shows).
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let cache = state.cache.is_ready();
    let (status, body) = match state.store.stream_end().await {
        Ok(end) => {
            let ready = cache;
            (
                if ready {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                },
                serde_json::json!({
                    "ready": ready,
                    "database": "ok",
                    "stream_end": end,
                    "page_cache_following": cache,
                    "search_index_behind": (end - state.search.position().unwrap_or(0)).max(0),
                }),
            )
        }
        Err(e) => {
            // The cause is logged, not shown: it may name the database's address.
            tracing::warn!(error = %e, "not ready: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"ready": false, "database": "unreachable"}),
            )
        }
    };
    (status, axum::Json(body)).into_response()
}

/// `GET /metrics`: everything above, in Prometheus' text format; to a scraper on this machine,
/// or one that sends the configured `metrics_token` as a bearer token.
pub async fn metrics(
    State(state): State<Arc<AppState>>,
    peer: Option<axum::Extension<crate::api::ClientAddr>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let allowed = match (&state.site.metrics_token, sent) {
        // Digests compared: the time taken tells nothing of the token.
        (Some(token), Some(sent)) => {
            use sha2::Digest;
            sha2::Sha256::digest(token.as_bytes()) == sha2::Sha256::digest(sent.as_bytes())
        }
        (Some(_), None) | (None, _) => peer.is_some_and(|p| p.0 .0.ip().is_loopback()),
    };
    if !allowed {
        return (
            StatusCode::FORBIDDEN,
            "metrics are for this machine, or a scraper with the metrics token\n",
        )
            .into_response();
    }
    match scrape(&state).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the metrics from storage");
            (StatusCode::SERVICE_UNAVAILABLE, format!("storage: {e}\n")).into_response()
        }
    }
}

async fn scrape(state: &AppState) -> Result<String, dateline_storage::StorageError> {
    // Everything from storage first: the registry is built and written without a wait.
    let store = state.store.as_ref();
    let end = store.stream_end().await?;
    // Each follower's lag: this node's own (the page cache, the search index), and those kept
    // in storage for the whole newsroom (webhooks, the purge hook, WebSub).
    let mut lags = vec![
        ("page-cache".to_string(), end - state.cache.position().await),
        (
            "search-index".to_string(),
            end - state.search.position().unwrap_or(0),
        ),
    ];
    for (consumer, position) in store.stream_positions().await? {
        // Markers kept beside positions (`.started`, a rebuild's request) are not followers,
        // and the search index's own place is its index's.
        if consumer.contains('.') || consumer == crate::indexer::CONSUMER {
            continue;
        }
        lags.push((consumer, end - position));
    }
    let queues = store.queues().await?;
    let webhooks = i64::try_from(store.webhooks().await?.len()).unwrap_or(i64::MAX);
    let pool = store.pool_status();

    let m = &state.metrics;
    m.fold();
    let mut registry = Registry::with_prefix("dateline");
    registry.register(
        "http_requests",
        "Requests answered, by the route matched and the status sent",
        m.requests.clone(),
    );
    registry.register(
        "http_request_duration_seconds",
        "Time from a request's arrival to its answer, by route; of the requests not answered from a kept page in front of the router",
        m.latency.clone(),
    );
    registry.register(
        "page_cache_requests",
        "Requests by how the page cache answered: from a kept page (hit), rendered to keep (miss), or neither (pass)",
        m.cache.clone(),
    );
    let gauge = |value: i64| {
        let g = Gauge::<i64>::default();
        g.set(value);
        g
    };
    registry.register(
        "stream_end",
        "The last position in the stream of changes",
        gauge(end),
    );
    let lag: Family<ConsumerLabels, Gauge> = Family::default();
    for (consumer, behind) in lags {
        lag.get_or_create(&ConsumerLabels { consumer }).set(behind);
    }
    registry.register(
        "stream_lag",
        "Changes in the stream a follower has not handled yet",
        lag,
    );
    registry.register(
        "scheduled_articles",
        "Articles waiting for their scheduled publication",
        gauge(queues.scheduled),
    );
    registry.register(
        "pending_live_articles",
        "Published articles waiting for an embargo or publication time to pass",
        gauge(queues.pending_live),
    );
    registry.register(
        "webhooks",
        "Webhooks that receive the stream",
        gauge(webhooks),
    );
    registry.register(
        "database_connections",
        "Connections the database pool holds open",
        gauge(i64::from(pool.open)),
    );
    registry.register(
        "database_connections_idle",
        "Open connections no one is using",
        gauge(i64::try_from(pool.idle).unwrap_or(i64::MAX)),
    );
    registry.register(
        "database_connections_max",
        "The most connections the pool opens",
        gauge(i64::from(pool.max)),
    );
    let kept = state.cache.stats();
    registry.register(
        "page_cache_pages",
        "Pages the page cache keeps",
        gauge(i64::try_from(kept.pages).unwrap_or(i64::MAX)),
    );
    registry.register(
        "page_cache_bytes",
        "What the kept pages weigh (their bodies in each encoding, headers, keys and tags), against the budget set by [cache] memory_mb",
        gauge(i64::try_from(kept.bytes).unwrap_or(i64::MAX)),
    );
    if let Some(missing) = state.search.lists_missing() {
        registry.register(
            "neighbour_lists_missing",
            "Articles still waiting for their list of nearest articles (related stories), read while the server is idle after an import or a rebuild",
            gauge(i64::try_from(missing).unwrap_or(i64::MAX)),
        );
    }
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)
        .map_err(|e| dateline_storage::StorageError::Corrupt(e.to_string()))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every thread's additions are in the sum, and in the counter once folded, once.
    #[test]
    fn a_tally_counts_every_thread_s_additions_once() {
        let tallied = Arc::new(Tallied::default());
        let threads: Vec<_> = (0..20)
            .map(|_| {
                let tallied = tallied.clone();
                std::thread::spawn(move || {
                    for _ in 0..1_000 {
                        tallied.tally.add();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(tallied.tally.sum(), 20_000);
        tallied.fold();
        tallied.fold();
        assert_eq!(tallied.counter.get(), 20_000);
        tallied.tally.add();
        tallied.fold();
        assert_eq!(tallied.counter.get(), 20_001);
    }
}
