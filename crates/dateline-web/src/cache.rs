//! The page cache: every public page kept in memory as it was rendered, with its gzip and
//! brotli forms, and the tags of what it shows.
//!
//! A handler lets its page be kept by attaching [`Tags`] to the response: the articles it
//! shows (`a:KEY`, also those it only links to: an inline link's headline, a related story),
//! the listings it is made of (`lang:en` for an edition's home page and feeds, `section:KEY`,
//! `topic:KEY`, `series:KEY`, `byline:KEY`, `group:KEY` for a story's translations,
//! `thread:ID` for a story thread), where an article page's story is threaded (`placed:KEY`),
//! the editors' front (`front:en`), and the frame (`frame`: the sections of the navigation). A page
//! without tags is never kept. Nothing is kept for a time: [`follow`] reads the stream of
//! changes, and every change names the tags it reaches ([`reached`]: an article's own, and the
//! places storage says it was in before and is in now), so a publish, update, withdrawal,
//! embargo lift or scheduled publication drops exactly the pages that show or list the story.
//!
//! A write this process commits is never hidden: storage counts its commits
//! ([`Store::commits`]), and a request that finds the count moved reads the stream first. A
//! render that overlapped an invalidation of one of its tags is served to its readers but not
//! kept. Concurrent requests for a page that is not kept wait for one render.
//!
//! The cache holds at most its budget of bytes, dropping the least recently read pages first.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use dateline_core::change::{Change, ChangeKind};
use dateline_storage::{StorageError, Store};
use jiff::Timestamp;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::AppState;

/// Requests a second, roughly: background work (growing the neighbour graph) yields to a rush
/// of readers.
#[derive(Debug, Default)]
pub struct Load {
    requests: crate::metrics::Tally,
    seen: Mutex<(u64, Option<std::time::Instant>)>,
}

impl Load {
    fn count(&self) {
        self.requests.add();
    }

    /// Requests a second since the last time this was asked.
    pub fn rate(&self) -> f64 {
        let now = std::time::Instant::now();
        let count = self.requests.sum();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let rate = match seen.1 {
            Some(at) => (count - seen.0) as f64 / now.duration_since(at).as_secs_f64().max(1e-3),
            None => 0.0,
        };
        *seen = (count, Some(now));
        rate
    }
}

/// The tag every page with the site's navigation carries: a section changed.
pub const FRAME: &str = "frame";
/// The tag of pages that list every article whatever its edition (sitemaps).
pub const ARTICLES: &str = "articles";
/// How often the stream is read for changes other processes (or nodes) made.
const POLL: Duration = Duration::from_millis(100);
/// The most records read from the stream at once.
const BATCH: u32 = 1_000;
/// The longest address kept: longer ones are rendered each time.
const MAX_KEY: usize = 2_048;
/// The largest response read whole, to be kept or handed to waiting readers.
const MAX_BODY: usize = 32 << 20;
/// How many invalidations are remembered for renders that overlap them.
const RECENT: usize = 4_096;
/// Bodies smaller than this are not compressed.
const MIN_COMPRESSED: usize = 256;

/// `Surrogate-Key`, the purge tags of Fastly and Varnish's xkey.
static SURROGATE_KEY: HeaderName = HeaderName::from_static("surrogate-key");
/// `Cache-Tag`, Cloudflare's.
static CACHE_TAG: HeaderName = HeaderName::from_static("cache-tag");
/// `CDN-Cache-Control` (RFC 9213), for a CDN whose purges the outlet set up.
static CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");
static SURROGATE_CONTROL: HeaderName = HeaderName::from_static("surrogate-control");
static X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// What a page shows, attached to its response as an extension: the page may be kept until a
/// change reaches one of its tags (or, with [`Tags::until`], until a time).
#[derive(Debug, Clone, Default)]
pub struct Tags {
    tags: Vec<String>,
    until: Option<Timestamp>,
}

impl Tags {
    /// A page with the site's frame, which prints the year: from December 31st (UTC), before
    /// the year turns in any time zone, until January 2nd, such a page is kept an hour at most.
    pub fn page() -> Tags {
        let now = Timestamp::now();
        let date = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        let turning =
            (date.month() == 12 && date.day() == 31) || (date.month() == 1 && date.day() == 1);
        let until = match jiff::civil::date(date.year(), 12, 31).to_zoned(jiff::tz::TimeZone::UTC) {
            Ok(eve) if !turning => eve.timestamp(),
            _ => now + jiff::SignedDuration::from_hours(1),
        };
        Tags {
            tags: vec![FRAME.to_string()],
            until: Some(until),
        }
    }

    /// A page that no change reaches (robots.txt, made from the settings alone).
    pub fn settings() -> Tags {
        Tags::default()
    }

    /// A listing page or feed: its frame, and the place it lists (an edition, for `All`).
    pub fn listing(lang: &dateline_core::Lang, filter: &dateline_storage::Filter) -> Tags {
        use dateline_storage::Filter;
        let mut tags = Tags::page();
        match filter {
            Filter::All => tags.add("lang", lang.as_str()),
            Filter::Section(key) => tags.add("section", key.as_str()),
            Filter::Topic(key) => tags
                .add("topic", key.as_str())
                .add("about-topic", key.as_str()),
            Filter::Series(key) | Filter::SeriesNewest(key) => tags
                .add("series", key.as_str())
                .add("about-series", key.as_str()),
            Filter::Person(key) => tags.add("byline", &key.to_string()),
            Filter::Thread(id) | Filter::ThreadNewest(id) => tags.add("thread", &id.to_string()),
        };
        tags
    }

    /// A page that lists every article (a sitemap).
    pub fn every_article() -> Tags {
        Tags {
            tags: vec![ARTICLES.to_string()],
            until: None,
        }
    }

    /// The page shows an article, or links to it by key (whether it is live or not yet).
    pub fn article(&mut self, key: &str) -> &mut Tags {
        self.add("a", key)
    }

    /// The page depends on a place: `lang`, `section`, `topic`, `series`, `byline`, `group`,
    /// `front`, or a topic's or series' own text (`about-topic`, `about-series`).
    pub fn add(&mut self, kind: &str, key: &str) -> &mut Tags {
        let tag = format!("{kind}:{key}");
        if !self.tags.contains(&tag) {
            self.tags.push(tag);
        }
        self
    }

    /// The page changes by itself at `t` (a window of time it lists), and is not kept after.
    pub fn until(&mut self, t: Timestamp) -> &mut Tags {
        self.until = Some(self.until.map_or(t, |u| u.min(t)));
        self
    }
}

/// The tags a change reaches: the pages to drop.
pub fn reached(change: &Change) -> Vec<String> {
    let subject = &change.subject;
    match change.kind {
        ChangeKind::ArticlePublished
        | ChangeKind::ArticleUpdated
        | ChangeKind::ArticleWithdrawn => [format!("a:{subject}"), ARTICLES.to_string()]
            .into_iter()
            .chain(change.reach.iter().cloned())
            .collect(),
        // A section's name is in every page's frame, and its code in its articles' addresses.
        ChangeKind::SectionChanged => vec![FRAME.to_string(), ARTICLES.to_string()],
        ChangeKind::SeriesChanged => {
            vec![
                format!("series:{subject}"),
                format!("about-series:{subject}"),
            ]
        }
        ChangeKind::TopicChanged => {
            vec![format!("topic:{subject}"), format!("about-topic:{subject}")]
        }
        ChangeKind::FrontChanged => vec![format!("front:{subject}")],
        // The article's own page (its "More on this story"), and what storage says it reaches:
        // the thread it left and the one it joined (their timelines and feeds, their articles'
        // "More on this story"), and when it became or ceased to be a copy, the pages that list
        // it. A publication's listings are not dropped a second time when it is threaded.
        ChangeKind::ArticleThreaded => std::iter::once(format!("placed:{subject}"))
            .chain(change.reach.iter().cloned())
            .collect(),
        ChangeKind::ThreadChanged => std::iter::once(format!("thread:{subject}"))
            .chain(change.reach.iter().cloned())
            .collect(),
    }
}

/// A tag as HTTP headers and purge requests carry it: visible ASCII, no space or comma.
///
/// An article's key, and a translation group's or a placement's (an article's key), are given
/// as a digest: a page may be tagged with a story that is not published yet (a pinned or inline
/// link to it), and a header must not tell readers of it.
pub fn header_tag(tag: &str) -> String {
    for kind in ["a:", "group:", "placed:"] {
        if let Some(key) = tag.strip_prefix(kind) {
            return format!(
                "{kind}{}",
                dateline_core::digest::stable_digest(key.as_bytes())
            );
        }
    }
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b':')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(tag, KEEP).to_string()
}

/// One encoding of a kept page: its headers, ready to send, and its bytes.
struct Variant {
    headers: HeaderMap,
    body: Bytes,
}

/// A kept page.
struct Entry {
    /// Identity, gzip, brotli.
    variants: [Variant; 3],
    /// Each variant's entity tag, without quotes.
    etags: [String; 3],
    tags: Vec<String>,
    until: Option<Timestamp>,
    weight: usize,
    /// The route that rendered it, for the metrics of its hits, and their counter.
    route: Option<crate::metrics::Route>,
    counter: Option<crate::metrics::HitCounter>,
    /// The second (of the cache's clock) it was last moved to the front of the pages: it is
    /// moved once a second at most, however many read it.
    touched: AtomicU64,
}

/// The encodings a page is kept in, in the order of [`Entry::variants`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity = 0,
    Gzip = 1,
    Brotli = 2,
}

impl Encoding {
    /// The best encoding an `Accept-Encoding` allows: brotli, then gzip, then none.
    fn accepted(headers: &HeaderMap) -> Encoding {
        let Some(value) = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
        else {
            return Encoding::Identity;
        };
        let (mut br, mut gzip) = (false, false);
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            if name.eq_ignore_ascii_case("br") {
                br = true;
            } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                gzip = true;
            }
        }
        if br {
            Encoding::Brotli
        } else if gzip {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }
}

/// A response handed to readers who waited for it, when it is not kept.
struct Passed {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    /// The invalidations counted when its render began.
    start: u64,
    route: Option<crate::metrics::Route>,
}

enum Outcome {
    /// Kept: read it from the cache (the one who asked for the render may answer from it).
    Kept(Arc<Entry>),
    Passed(Passed),
}

struct Inner {
    pages: lru::LruCache<String, Arc<Entry>>,
    by_tag: HashMap<String, HashSet<String>>,
    bytes: usize,
    /// How many invalidations there were.
    seq: u64,
    /// The latest invalidations and their tags, for renders that overlapped them.
    recent: VecDeque<(u64, Vec<String>)>,
    /// Invalidations up to this one are no longer remembered.
    floor: u64,
}

impl Inner {
    fn unlink(&mut self, key: &str, entry: &Entry) {
        self.bytes = self.bytes.saturating_sub(entry.weight);
        for tag in &entry.tags {
            if let Some(keys) = self.by_tag.get_mut(tag) {
                keys.remove(key);
                if keys.is_empty() {
                    self.by_tag.remove(tag);
                }
            }
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.pages.pop(key) {
            self.unlink(key, &entry);
        }
    }
}

/// The page cache of one process.
pub struct PageCache {
    inner: Mutex<Inner>,
    flights: Mutex<HashMap<String, watch::Receiver<Option<Arc<Outcome>>>>>,
    budget: usize,
    /// Where in the stream the invalidations are; `None` until [`follow`] starts, and until
    /// then nothing is kept.
    position: tokio::sync::Mutex<Option<i64>>,
    ready: AtomicBool,
    /// The store's count of commits when the stream was last read.
    seen_commits: AtomicU64,
    /// When the next article goes live by the clock (in seconds; `i64::MAX` for none), as
    /// storage said when the stream was last read: nothing kept before is served after.
    next_live: std::sync::atomic::AtomicI64,
    /// Whether a CDN in front is purged by the hook: pages then tell it to keep them.
    cdn: bool,
    hits: crate::metrics::Tally,
    renders: AtomicU64,
    /// The clock of [`Entry::touched`].
    clock: std::time::Instant,
}

/// How the cache did, for operators and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub renders: u64,
    pub pages: usize,
    pub bytes: usize,
}

impl PageCache {
    /// A cache of at most `budget` bytes; `cdn` when a purge hook keeps a CDN in front current.
    pub fn new(budget: usize, cdn: bool) -> PageCache {
        PageCache {
            inner: Mutex::new(Inner {
                pages: lru::LruCache::unbounded(),
                by_tag: HashMap::new(),
                bytes: 0,
                seq: 0,
                recent: VecDeque::new(),
                floor: 0,
            }),
            flights: Mutex::new(HashMap::new()),
            budget,
            position: tokio::sync::Mutex::new(None),
            ready: AtomicBool::new(false),
            seen_commits: AtomicU64::new(0),
            next_live: std::sync::atomic::AtomicI64::new(i64::MAX),
            cdn,
            hits: crate::metrics::Tally::default(),
            renders: AtomicU64::new(0),
            clock: std::time::Instant::now(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves maps that are still whole: go on with them.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the cache follows the stream (it keeps pages from then on).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The position in the stream the cache has read up to (0 before it starts).
    pub async fn position(&self) -> i64 {
        self.position.lock().await.unwrap_or(0)
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            hits: self.hits.sum(),
            renders: self.renders.load(Ordering::Relaxed),
            pages: inner.pages.len(),
            bytes: inner.bytes,
        }
    }

    /// Drops every page that carries one of `tags`.
    pub fn invalidate(&self, tags: &[String]) {
        let mut inner = self.lock();
        inner.seq += 1;
        let seq = inner.seq;
        for tag in tags {
            if let Some(keys) = inner.by_tag.remove(tag) {
                for key in keys {
                    inner.remove(&key);
                }
            }
        }
        inner.recent.push_back((seq, tags.to_vec()));
        while inner.recent.len() > RECENT {
            if let Some((old, _)) = inner.recent.pop_front() {
                inner.floor = old;
            }
        }
    }

    /// Drops every page.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.seq += 1;
        inner.floor = inner.seq;
        inner.recent.clear();
        inner.pages.clear();
        inner.by_tag.clear();
        inner.bytes = 0;
    }

    fn seq(&self) -> u64 {
        self.lock().seq
    }

    /// A kept page, unless its time ran out. A page read is moved to the front of the pages
    /// once a second at most: readers of one page on every core would otherwise take turns
    /// rewriting the list's links at each hit.
    fn get(&self, key: &str) -> Option<Arc<Entry>> {
        let second = self.clock.elapsed().as_secs();
        let mut inner = self.lock();
        let entry = inner.pages.peek(key)?.clone();
        if entry.until.is_some_and(|until| Timestamp::now() >= until) {
            inner.remove(key);
            return None;
        }
        if entry.touched.swap(second, Ordering::Relaxed) != second {
            inner.pages.promote(key);
        }
        Some(entry)
    }

    /// Keeps a page rendered from what storage held after invalidation `start`, unless an
    /// invalidation since then reached one of its tags.
    fn keep(&self, key: String, entry: Arc<Entry>, start: u64) -> bool {
        if entry.weight > self.budget / 4 {
            return false;
        }
        let mut inner = self.lock();
        if !self.ready.load(Ordering::Acquire) || start < inner.floor {
            return false;
        }
        let overlapped = inner
            .recent
            .iter()
            .filter(|(seq, _)| *seq > start)
            .any(|(_, tags)| tags.iter().any(|t| entry.tags.contains(t)));
        if overlapped {
            return false;
        }
        inner.remove(&key);
        for tag in &entry.tags {
            inner
                .by_tag
                .entry(tag.clone())
                .or_default()
                .insert(key.clone());
        }
        inner.bytes += entry.weight;
        inner.pages.put(key, entry);
        while inner.bytes > self.budget {
            let Some((old, entry)) = inner.pages.pop_lru() else {
                break;
            };
            inner.unlink(&old, &entry);
        }
        true
    }

    /// Reads the stream from where the cache is, dropping what each change reaches.
    pub async fn catch_up(&self, store: &dyn Store) -> Result<(), StorageError> {
        self.read_stream(store, false).await
    }

    /// Reads the stream, or with `if_behind` only when no other reader did since this
    /// process's last commit (readers who found the count moved at once read it once).
    async fn read_stream(&self, store: &dyn Store, if_behind: bool) -> Result<(), StorageError> {
        let mut position = self.position.lock().await;
        // Commits counted before the read are all in it.
        let commits = store.commits();
        if if_behind && commits == self.seen_commits.load(Ordering::Acquire) {
            return Ok(());
        }
        let Some(at) = position.as_mut() else {
            return Ok(());
        };
        loop {
            let changes = store.changes_after(*at, BATCH).await?;
            let Some(last) = changes.last() else {
                break;
            };
            let last = last.position;
            for change in &changes {
                self.invalidate(&reached(change));
            }
            *at = last;
            if changes.len() < BATCH as usize {
                break;
            }
        }
        self.note_next_live(store).await?;
        self.seen_commits.fetch_max(commits, Ordering::AcqRel);
        Ok(())
    }

    /// Reads when the next article goes live by the clock.
    async fn note_next_live(&self, store: &dyn Store) -> Result<(), StorageError> {
        let next = store.next_live().await?;
        self.next_live
            .store(next.map_or(i64::MAX, |t| t.as_second()), Ordering::Release);
        Ok(())
    }

    /// Before answering from the cache: if this process committed a write since the stream
    /// was last read, read it now.
    async fn keep_up(&self, store: &dyn Store) {
        if store.commits() == self.seen_commits.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = self.read_stream(store, true).await {
            tracing::warn!(error = %e, "the page cache could not read the stream; dropping every page");
            self.clear();
        }
    }

    /// Starts keeping pages: from here on, every change of the stream after `position` is read.
    async fn start(&self, store: &dyn Store) -> Result<(), StorageError> {
        let mut position = self.position.lock().await;
        let commits = store.commits();
        *position = Some(store.stream_end().await?);
        self.note_next_live(store).await?;
        self.seen_commits.store(commits, Ordering::Release);
        {
            // A render that began before now may have read what the stream holds before
            // `position`, which nothing will invalidate: it is not kept.
            let mut inner = self.lock();
            inner.seq += 1;
            inner.floor = inner.seq;
        }
        self.ready.store(true, Ordering::Release);
        Ok(())
    }
}

/// The cache's follower of the stream: starts the cache, then reads the stream for what other
/// processes and nodes change (this process's own writes are read before the next answer).
pub async fn follow(state: Arc<AppState>) {
    let cache = &state.cache;
    let mut wait = POLL;
    loop {
        match cache.start(state.store.as_ref()).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, "the page cache cannot start yet: pages are rendered each time");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    }
    let mut signal = state.store.changes_signal();
    loop {
        crate::webhooks::next_change(&mut signal, POLL).await;
        if let Err(e) = cache.catch_up(state.store.as_ref()).await {
            tracing::warn!(error = %e, "the page cache could not read the stream; dropping every page");
            cache.clear();
        }
    }
}

/// Whether requests for this path go through the cache: the public pages, feeds and sitemaps,
/// not the API, the admin, media or assets.
fn through_cache(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path == "/api"
        || crate::admin::is_admin(path)
        || path.starts_with("/media/")
        || path.starts_with("/assets/"))
}

/// The site behind its page cache, as hyper serves it to one connection: a kept page is
/// answered here, before the router and its layers; anything else goes to the router, each page
/// rendered once for every reader who asks meanwhile.
#[derive(Clone)]
pub struct Cached {
    site: axum::Router,
    state: Arc<AppState>,
    peer: std::net::SocketAddr,
    /// How long a request may take, waiting on a shared render included.
    timeout: Duration,
}

impl Cached {
    pub fn new(
        site: axum::Router,
        state: Arc<AppState>,
        peer: std::net::SocketAddr,
        timeout: Duration,
    ) -> Cached {
        Cached {
            site,
            state,
            peer,
            timeout,
        }
    }
}

type Answer = Result<Response, std::convert::Infallible>;

impl<B> tower::Service<axum::http::Request<B>> for Cached
where
    B: axum::body::HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::Either<
        std::future::Ready<Answer>,
        std::pin::Pin<Box<dyn std::future::Future<Output = Answer> + Send>>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let state = &self.state;
        state.load.count();
        if let Some((hit, entry)) = state.cache.hit(&request, state.store.as_ref()) {
            state.metrics.record_hit(
                request.uri().path(),
                entry.route.as_ref(),
                entry.counter.as_ref(),
                &hit,
            );
            return futures_util::future::Either::Left(std::future::ready(Ok(hit)));
        }
        // A hit is not timed: the clock starts for the requests the router answers.
        let started = std::time::Instant::now();
        // The path, for the access log, only when it is kept.
        let path = tracing::enabled!(target: "dateline::access", tracing::Level::DEBUG)
            .then(|| request.uri().path().to_string());
        let mut request = request.map(Body::new);
        // Each request learns the address it came from (for the login limits).
        request
            .extensions_mut()
            .insert(crate::api::ClientAddr(self.peer));
        let (site, state, timeout) = (self.site.clone(), self.state.clone(), self.timeout);
        futures_util::future::Either::Right(Box::pin(async move {
            let response = match tokio::time::timeout(timeout, answer(state.clone(), site, request))
                .await
            {
                Ok(response) => response,
                Err(_) => {
                    crate::headers::baseline(
                        (StatusCode::REQUEST_TIMEOUT, "The request took too long.").into_response(),
                    )
                    .await
                }
            };
            state.metrics.record(path.as_deref(), &response, started);
            Ok(response)
        }))
    }
}

/// The query parameters a public page reads: the search page's and a listing's page number.
/// Any other (a share link's `utm_source` or `fbclid`, a cache-buster) is left out of the page's
/// key and out of the request the site renders, so that it neither keeps a copy of a page nor
/// renders it again: a story shared on social networks arrives with a parameter of its own at
/// every click. A page can only read what its key holds.
const PARAMETERS: [&str; 8] = [
    "q", "section", "lang", "tag", "byline", "from", "to", "page",
];

/// A request's key in the cache, if it may be answered from it: a GET or HEAD of a public
/// page, feed or sitemap, its address with only the [`PARAMETERS`] a page reads.
fn key_of<B>(request: &axum::http::Request<B>) -> Option<std::borrow::Cow<'_, str>> {
    let method = request.method();
    if !(method == Method::GET || method == Method::HEAD) {
        return None;
    }
    let uri = request.uri();
    let path = uri.path();
    if !through_cache(path) {
        return None;
    }
    let key = match uri.query() {
        None => std::borrow::Cow::Borrowed(path),
        Some(query) => {
            let mut key = String::with_capacity(path.len() + 1 + query.len());
            key.push_str(path);
            // Names are compared as the page reads them, decoded (`p%61ge` is `page`).
            for pair in query.split('&').filter(|pair| {
                url::form_urlencoded::parse(pair.as_bytes())
                    .next()
                    .is_some_and(|(name, _)| PARAMETERS.contains(&&*name))
            }) {
                key.push(if key.len() == path.len() { '?' } else { '&' });
                key.push_str(pair);
            }
            std::borrow::Cow::Owned(key)
        }
    };
    (key.len() <= MAX_KEY).then_some(key)
}

impl PageCache {
    /// Answers from a kept page at once, when one is kept and this process committed nothing
    /// since the stream was last read.
    fn hit<B>(
        &self,
        request: &axum::http::Request<B>,
        store: &dyn Store,
    ) -> Option<(Response, Arc<Entry>)> {
        let key = key_of(request)?;
        if store.commits() != self.seen_commits.load(Ordering::Acquire) {
            return None;
        }
        let entry = self.get(&key)?;
        self.hits.add();
        let headers = request.headers();
        let response = respond(
            &entry,
            Encoding::accepted(headers),
            request.method() == Method::HEAD,
            &Conditions::of(headers),
        );
        Some((response, entry))
    }
}

/// Answers what [`PageCache::hit`] did not: from the cache once the stream is read, or through
/// the site, one render for every reader who asks meanwhile.
async fn answer(state: Arc<AppState>, site: axum::Router, mut request: Request) -> Response {
    let Some(key) = key_of(&request).map(std::borrow::Cow::into_owned) else {
        return site.oneshot(request).await.into_response();
    };
    // The site sees the address as the key has it: what a page renders depends on the key alone.
    if request.uri().path_and_query().map(|p| p.as_str()) != Some(key.as_str()) {
        match key.parse() {
            Ok(uri) => *request.uri_mut() = uri,
            Err(_) => return StatusCode::BAD_REQUEST.into_response(),
        }
    }
    let cache = &state.cache;
    cache.keep_up(state.store.as_ref()).await;
    // Every change this reader must see was invalidated by now.
    let arrived = cache.seq();
    let head = request.method() == Method::HEAD;
    let encoding = Encoding::accepted(request.headers());
    let conditions = Conditions::of(request.headers());
    if let Some(entry) = cache.get(&key) {
        cache.hits.add();
        return routed(respond(&entry, encoding, head, &conditions), &entry);
    }
    let mut request = Some(request);
    for _ in 0..3 {
        let (mut flight, mine) = {
            let mut flights = cache.flights.lock().unwrap_or_else(|e| e.into_inner());
            match flights.get(&key) {
                Some(flight) => (flight.clone(), false),
                None => {
                    let Some(request) = request.take() else {
                        break;
                    };
                    let (tx, rx) = watch::channel(None);
                    flights.insert(key.clone(), rx.clone());
                    tokio::spawn(render(
                        state.clone(),
                        site.clone(),
                        key.clone(),
                        request,
                        tx,
                    ));
                    (rx, true)
                }
            }
        };
        let outcome = match flight.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone(),
            // The render failed without an answer (it panicked): try again.
            Err(_) => None,
        };
        match outcome.as_deref() {
            Some(Outcome::Kept(entry)) if mine => {
                let mut response = routed(respond(entry, encoding, head, &conditions), entry);
                response
                    .headers_mut()
                    .insert(X_CACHE.clone(), HeaderValue::from_static("miss"));
                return response;
            }
            // Those who waited take the page if it is still kept: no change reached it since.
            Some(Outcome::Kept(_)) => {
                if let Some(entry) = cache.get(&key) {
                    cache.hits.add();
                    return routed(respond(&entry, encoding, head, &conditions), &entry);
                }
            }
            // A page not kept is handed to those who waited if its render began after every
            // change they must see.
            Some(Outcome::Passed(passed)) if mine || passed.start >= arrived => {
                return passed.respond(head, &conditions);
            }
            _ => {}
        }
        if mine {
            break;
        }
    }
    // Not answered by a render shared with others: render alone.
    match request {
        Some(request) => site.oneshot(request).await.into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "The page could not be rendered; try again.",
        )
            .into_response(),
    }
}

/// Renders a page for everyone waiting on it, keeps it if it may be kept, and tells them.
async fn render(
    state: Arc<AppState>,
    site: axum::Router,
    key: String,
    mut request: Request,
    tx: watch::Sender<Option<Arc<Outcome>>>,
) {
    /// Ends the flight however the render ends (a panic included), so later readers render
    /// anew rather than wait on it.
    struct Landing<'a>(&'a PageCache, &'a str);
    impl Drop for Landing<'_> {
        fn drop(&mut self) {
            self.0
                .flights
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(self.1);
        }
    }
    let cache = &state.cache;
    let landing = Landing(cache, &key);
    cache.renders.fetch_add(1, Ordering::Relaxed);
    let start = cache.seq();
    // The next story to go live by the clock as the render begins: what it reads of the
    // database holds until then at most, even if the stream moves it later meanwhile.
    let live_then = cache.next_live.load(Ordering::Acquire);
    // The whole page, whatever this reader's conditions: others share it.
    *request.method_mut() = Method::GET;
    let headers = request.headers_mut();
    headers.remove(header::IF_NONE_MATCH);
    headers.remove(header::IF_MODIFIED_SINCE);
    headers.remove(header::RANGE);
    let response = site.oneshot(request).await.into_response();
    let outcome = settle(&state, &key, response, start, live_then).await;
    drop(landing);
    let _ = tx.send(Some(Arc::new(outcome)));
}

/// Reads a rendered response whole, and keeps it if its handler allowed it.
async fn settle(
    state: &AppState,
    key: &str,
    response: Response,
    start: u64,
    live_then: i64,
) -> Outcome {
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, %key, "a page could not be read whole");
            return Outcome::Passed(Passed {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                headers: HeaderMap::new(),
                body: Bytes::from_static(b"The page could not be read."),
                start,
                route: parts.extensions.get().cloned(),
            });
        }
    };
    let tags = parts.extensions.get::<Tags>().cloned();
    let keepable = parts.status == StatusCode::OK
        && tags.is_some()
        && canonical(key)
        && (body.len() + key.len()) * 2 <= state.cache.budget / 4
        && !parts
            .headers
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("no-store") || v.contains("private"));
    if let (true, Some(mut tags)) = (keepable, tags) {
        // A story going live by the clock changes what the page would show from that second.
        let next_live = state.cache.next_live.load(Ordering::Acquire).min(live_then);
        if next_live != i64::MAX {
            if let Ok(at) = Timestamp::from_second(next_live) {
                tags.until(at);
            }
        }
        let cdn = state.cache.cdn;
        let headers = parts.headers.clone();
        let bytes = body.clone();
        let key_len = key.len();
        let built =
            tokio::task::spawn_blocking(move || entry(headers, bytes, tags, cdn, key_len)).await;
        match built {
            Ok(mut entry) => {
                entry.route = parts.extensions.get().cloned();
                entry.counter = entry.route.as_ref().map(|r| state.metrics.hit_counter(r));
                let entry = Arc::new(entry);
                if state.cache.keep(key.to_string(), entry.clone(), start) {
                    return Outcome::Kept(entry);
                }
            }
            Err(e) => tracing::error!(error = %e, %key, "a page could not be compressed"),
        }
    }
    Outcome::Passed(Passed {
        status: parts.status,
        headers: parts.headers,
        body,
        start,
        route: parts.extensions.get().cloned(),
    })
}

/// Whether an address is one a page is kept under: no query, or only `page=N` (a listing's
/// pages). Queries the handlers ignore would otherwise make a page anew for each.
fn canonical(key: &str) -> bool {
    match key.split_once('?') {
        None => true,
        Some((_, query)) => query
            .strip_prefix("page=")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
    }
}

/// A page as it is kept: its three encodings, each with its headers.
fn entry(mut headers: HeaderMap, body: Bytes, tags: Tags, cdn: bool, key: usize) -> Entry {
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    let base = headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_start_matches("W/").trim_matches('"').to_string())
        .unwrap_or_else(|| dateline_core::digest::stable_digest(&body));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, no-cache"),
        );
    }
    // Whether an answer came from the cache: `miss` on the render's own answer.
    headers.insert(X_CACHE.clone(), HeaderValue::from_static("hit"));
    if cdn {
        // A CDN may keep the page until the purge hook tells it otherwise; browsers still ask
        // each time (`no-cache`), and get a 304 when nothing changed. The page names its tags
        // for the CDN's purges.
        // A page that changes by the clock is kept by the CDN only until then.
        let age = tags.until.map_or(31_536_000, |until| {
            until
                .duration_since(Timestamp::now())
                .as_secs()
                .clamp(0, 31_536_000)
        });
        if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={age}")) {
            headers.insert(CDN_CACHE_CONTROL.clone(), v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("max-age={age}")) {
            headers.insert(SURROGATE_CONTROL.clone(), v);
        }
        let encoded: Vec<String> = tags.tags.iter().map(|t| header_tag(t)).collect();
        if let Ok(v) = HeaderValue::from_str(&encoded.join(" ")) {
            headers.insert(SURROGATE_KEY.clone(), v);
        }
        if let Ok(v) = HeaderValue::from_str(&encoded.join(",")) {
            headers.insert(CACHE_TAG.clone(), v);
        }
    }
    let compress = body.len() >= MIN_COMPRESSED;
    let gzip = compress.then(|| gzip(&body)).flatten();
    let brotli = compress.then(|| brotli(&body)).flatten();
    let variant = |body: Bytes, coding: Option<&'static str>, etag: &str| {
        // Room for the three headers of its own from the start: a map grown by one header
        // doubles its slots.
        let mut h = HeaderMap::with_capacity(headers.len() + 3);
        for (name, value) in &headers {
            h.append(name.clone(), value.clone());
        }
        if let Some(coding) = coding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
        }
        if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
            h.insert(header::ETAG, v);
        }
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        Variant { headers: h, body }
    };
    let etags = [base.clone(), format!("{base}-gz"), format!("{base}-br")];
    let identity = variant(body.clone(), None, &etags[0]);
    let gzip = match gzip {
        Some(g) => variant(g, Some("gzip"), &etags[1]),
        None => variant(body.clone(), None, &etags[0]),
    };
    let brotli = match brotli {
        Some(b) => variant(b, Some("br"), &etags[2]),
        None => variant(body.clone(), None, &etags[0]),
    };
    // The key is held once by the pages and once under each tag.
    let weight = key * (1 + tags.tags.len())
        + identity.body.len()
        + if gzip.body.as_ptr() == identity.body.as_ptr() {
            0
        } else {
            gzip.body.len()
        }
        + if brotli.body.as_ptr() == identity.body.as_ptr() {
            0
        } else {
            brotli.body.len()
        }
        + tags.tags.iter().map(|t| t.len() * 2 + 64).sum::<usize>()
        // Each encoding's map of headers has slots of its own; the values are shared.
        + [&identity, &gzip, &brotli]
            .iter()
            .map(|v| header_slots(&v.headers))
            .sum::<usize>()
        + headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum::<usize>()
        // The entry itself, its entity tags and its place in the cache's list.
        + 512;
    Entry {
        variants: [identity, gzip, brotli],
        etags,
        tags: tags.tags,
        until: tags.until,
        weight,
        route: None,
        counter: None,
        touched: AtomicU64::new(u64::MAX),
    }
}

/// What a map of headers takes besides its values: a slot for each header it has room for (the
/// name, the value's handle, the links and the hash) and an index a third larger.
fn header_slots(headers: &HeaderMap) -> usize {
    let slot = std::mem::size_of::<HeaderName>() + std::mem::size_of::<HeaderValue>() + 32 + 8;
    headers.capacity() * slot
}

fn gzip(body: &[u8]) -> Option<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3),
        flate2::Compression::new(6),
    );
    encoder.write_all(body).ok()?;
    let mut out = encoder.finish().ok()?;
    out.shrink_to_fit();
    (out.len() < body.len()).then(|| Bytes::from(out))
}

fn brotli(body: &[u8]) -> Option<Bytes> {
    let mut out = Vec::with_capacity(body.len() / 3);
    {
        // Quality 6: most of brotli's gain at a few milliseconds for a long page.
        let mut writer = brotli::CompressorWriter::new(&mut out, 16 << 10, 6, 22);
        writer.write_all(body).ok()?;
        writer.flush().ok()?;
    }
    // Kept in the page cache: without the room left over from the guess above.
    out.shrink_to_fit();
    (out.len() < body.len()).then(|| Bytes::from(out))
}

/// A request's conditions on what it already has.
struct Conditions {
    if_none_match: Option<HeaderValue>,
    if_modified_since: Option<HeaderValue>,
}

impl Conditions {
    fn of(headers: &HeaderMap) -> Conditions {
        Conditions {
            if_none_match: headers.get(header::IF_NONE_MATCH).cloned(),
            if_modified_since: headers.get(header::IF_MODIFIED_SINCE).cloned(),
        }
    }
}

/// A kept page's answer, named by its route for the metrics of a request answered through
/// [`answer`] (a hit is counted with its page's own counter).
fn routed(mut response: Response, entry: &Entry) -> Response {
    if let Some(route) = &entry.route {
        response.extensions_mut().insert(route.clone());
    }
    response
}

/// Answers from a kept page: the encoding the reader accepts, or a 304.
fn respond(entry: &Entry, encoding: Encoding, head: bool, conditions: &Conditions) -> Response {
    let variant = &entry.variants[encoding as usize];
    // If-Modified-Since counts only without If-None-Match (RFC 9110, 13.1.3).
    let unchanged = match (&conditions.if_none_match, &conditions.if_modified_since) {
        (Some(list), _) => entry
            .etags
            .iter()
            .any(|tag| crate::headers::matches_etag(list, &format!("\"{tag}\""))),
        (None, Some(since)) => variant
            .headers
            .get(header::LAST_MODIFIED)
            .is_some_and(|modified| crate::headers::not_modified_since(modified, since)),
        (None, None) => false,
    };
    let mut response = Response::new(if unchanged || head {
        Body::empty()
    } else {
        Body::from(variant.body.clone())
    });
    *response.headers_mut() = variant.headers.clone();
    if unchanged {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        let headers = response.headers_mut();
        headers.remove(header::CONTENT_LENGTH);
        headers.remove(header::CONTENT_ENCODING);
        headers.remove(header::CONTENT_TYPE);
    }
    response
}

impl Passed {
    /// Answers with a page that was not kept, as its handler made it, or a 304.
    fn respond(&self, head: bool, conditions: &Conditions) -> Response {
        let unchanged = self.status == StatusCode::OK
            && match (&conditions.if_none_match, &conditions.if_modified_since) {
                (Some(list), _) => self
                    .headers
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|etag| crate::headers::matches_etag(list, etag)),
                (None, Some(since)) => self
                    .headers
                    .get(header::LAST_MODIFIED)
                    .is_some_and(|modified| crate::headers::not_modified_since(modified, since)),
                (None, None) => false,
            };
        let mut response = Response::new(if head || unchanged {
            Body::empty()
        } else {
            Body::from(self.body.clone())
        });
        *response.headers_mut() = self.headers.clone();
        if let Some(route) = &self.route {
            response.extensions_mut().insert(route.clone());
        }
        if unchanged {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            let headers = response.headers_mut();
            headers.remove(header::CONTENT_LENGTH);
            headers.remove(header::CONTENT_TYPE);
        } else {
            *response.status_mut() = self.status;
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(tags: &[&str]) -> Entry {
        let mut t = Tags::default();
        for tag in tags {
            let (kind, key) = tag.split_once(':').unwrap_or((tag, ""));
            t.add(kind, key);
        }
        entry(
            HeaderMap::new(),
            Bytes::from_static(b"<p>page</p>"),
            t,
            false,
            2,
        )
    }

    fn ready() -> PageCache {
        let cache = PageCache::new(1 << 20, false);
        cache.ready.store(true, Ordering::Release);
        cache
    }

    impl PageCache {
        fn keep_page(&self, key: &str, entry: Entry, start: u64) -> bool {
            self.keep(key.to_string(), Arc::new(entry), start)
        }
    }

    #[test]
    fn a_change_drops_exactly_the_pages_that_carry_its_tags() {
        let cache = ready();
        assert!(cache.keep_page("/a", page(&["a:one", "section:world"]), 0));
        assert!(cache.keep_page("/b", page(&["a:two", "section:world"]), 0));
        assert!(cache.keep_page("/c", page(&["a:three", "section:sport"]), 0));
        cache.invalidate(&["a:one".into()]);
        assert!(cache.get("/a").is_none());
        assert!(cache.get("/b").is_some() && cache.get("/c").is_some());
        cache.invalidate(&["section:world".into()]);
        assert!(cache.get("/b").is_none());
        assert!(cache.get("/c").is_some());
        assert_eq!(cache.lock().by_tag.get("section:world"), None);
    }

    #[test]
    fn a_render_that_overlapped_a_change_of_its_tags_is_not_kept() {
        let cache = ready();
        let start = cache.seq();
        cache.invalidate(&["a:one".into()]);
        assert!(!cache.keep_page("/a", page(&["a:one"]), start));
        assert!(cache.keep_page("/b", page(&["a:two"]), start));
        // Past what is remembered, nothing from before is kept.
        for _ in 0..=RECENT {
            cache.invalidate(&["a:other".into()]);
        }
        assert!(!cache.keep_page("/c", page(&["a:three"]), start));
        assert!(cache.keep_page("/c", page(&["a:three"]), cache.seq()));
    }

    #[test]
    fn nothing_is_kept_before_the_stream_is_followed() {
        let cache = PageCache::new(1 << 20, false);
        assert!(!cache.keep_page("/a", page(&["a:one"]), 0));
    }

    #[test]
    fn the_least_recently_read_pages_leave_first_within_the_budget() {
        let one = page(&["a:x"]).weight;
        let budget = one * 5 + one / 2;
        let cache = PageCache::new(budget, false);
        cache.ready.store(true, Ordering::Release);
        for k in ["/1", "/2", "/3", "/4", "/5"] {
            assert!(cache.keep_page(k, page(&["a:x"]), 0));
        }
        assert!(cache.get("/1").is_some());
        assert!(cache.keep_page("/6", page(&["a:x"]), 0));
        assert!(cache.get("/2").is_none(), "the least recently read left");
        assert!(cache.get("/1").is_some() && cache.get("/6").is_some());
        assert!(cache.lock().bytes <= budget);
        // A page larger than a quarter of the budget is not kept at all.
        let small = PageCache::new(one * 3, false);
        small.ready.store(true, Ordering::Release);
        assert!(!small.keep_page("/big", page(&["a:x"]), 0));
        cache.invalidate(&["a:x".into()]);
        assert_eq!(cache.stats().pages, 0);
        assert_eq!(cache.lock().bytes, 0);
    }

    #[test]
    fn encodings_are_chosen_by_accept_encoding() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            m
        };
        assert_eq!(Encoding::accepted(&HeaderMap::new()), Encoding::Identity);
        assert_eq!(
            Encoding::accepted(&h("gzip, deflate, br")),
            Encoding::Brotli
        );
        assert_eq!(Encoding::accepted(&h("gzip")), Encoding::Gzip);
        assert_eq!(Encoding::accepted(&h("br;q=0, gzip;q=0.5")), Encoding::Gzip);
        assert_eq!(Encoding::accepted(&h("identity")), Encoding::Identity);
    }

    #[test]
    fn tags_in_headers_are_plain_ascii() {
        assert_eq!(header_tag("byline:林晓"), "byline:%E6%9E%97%E6%99%93");
        assert_eq!(header_tag("topic:some key,x"), "topic:some%20key%2Cx");
        // A story's key is not told: it may not be published yet.
        assert_eq!(
            header_tag("a:a-secret-scoop"),
            format!(
                "a:{}",
                dateline_core::digest::stable_digest(b"a-secret-scoop")
            )
        );
        assert!(!header_tag("group:a-secret-scoop").contains("secret"));
    }

    #[test]
    fn compressed_forms_decode_to_the_page() {
        let body = Bytes::from("<p>the same paragraph</p>".repeat(200));
        let e = entry(HeaderMap::new(), body.clone(), Tags::page(), false, 1);
        let mut out = Vec::new();
        let mut d = flate2::read::GzDecoder::new(&e.variants[1].body[..]);
        std::io::Read::read_to_end(&mut d, &mut out).unwrap();
        assert_eq!(out, body);
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &e.variants[2].body[..], &mut out).unwrap();
        assert_eq!(out, body);
        assert!(e.variants[2].body.len() < body.len() / 10);
    }
}
