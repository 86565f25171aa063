//! The public site: routes, pages, templates and assets. This is the only crate that knows
//! HTTP and renders pages.

use std::sync::Arc;

use axum::routing::get;
use axum::{middleware, Extension, Router};
use dateline_core::{AddressPattern, DatelineFormat, Lang};
use dateline_storage::Store;
use jiff::tz::TimeZone;

pub mod admin;
pub mod api;
mod assets;
pub mod cache;
mod error;
mod headers;
pub mod indexer;
pub mod ingest;
pub mod media;
pub mod metrics;
pub mod newsml;
pub mod ninjs;
mod pages;
pub mod purge;
mod related;
pub mod render;
pub mod scheduler;
mod server;
mod syndication;
pub mod threading;
mod ui;
pub mod webhooks;
pub mod websub;

pub use error::AppError;
pub use server::{serve, Limits};

/// What the site needs to know of the outlet.
#[derive(Debug, Clone)]
pub struct Site {
    pub outlet: String,
    pub time_zone: TimeZone,
    pub dateline: DatelineFormat,
    /// The outlet's languages; the first is the primary edition, served at `/`.
    pub languages: Vec<Lang>,
    pub address: AddressPattern,
    /// The public origin, such as `https://news.example.org`, for canonical links.
    pub base_url: String,
    pub page_size: u32,
    /// Hosts besides the site itself that article images may come from.
    pub image_hosts: Vec<String>,
    /// The outlet's sanitizer, for what editors write through the API.
    pub sanitizer: Arc<dateline_core::Sanitizer>,
    /// Where uploaded images are kept: a folder of this node's, or an object store that every
    /// node shares.
    pub media: media::MediaStore,
    pub feeds: Feeds,
    pub cache: CacheSettings,
    /// The bearer token `/metrics` asks of a scraper that is not on this machine.
    pub metrics_token: Option<String>,
}

/// The outlet's settings for the page cache.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// The most bytes of pages kept in memory.
    pub bytes: usize,
    /// Where purges of a CDN in front are sent.
    pub purge: Option<dateline_core::change::WebhookUrl>,
    pub purge_token: Option<String>,
}

/// The outlet's settings for its feeds.
#[derive(Debug, Clone)]
pub struct Feeds {
    /// Whether entries carry the whole article, or its summary only.
    pub full_content: bool,
    /// How many stories a feed lists.
    pub items: u32,
    /// The WebSub hub the feeds name, which every change is announced to.
    pub hub: Option<String>,
}

impl Site {
    pub fn primary(&self) -> &Lang {
        &self.languages[0]
    }

    /// The host of the public origin, for identifiers minted under it.
    pub fn host(&self) -> &str {
        self.base_url
            .split("://")
            .nth(1)
            .unwrap_or(&self.base_url)
            .split(['/', ':'])
            .next()
            .unwrap_or("localhost")
    }

    /// The path prefix of an edition: empty for the primary one, `/zh` for Chinese.
    pub fn prefix(&self, lang: &Lang) -> String {
        if lang == self.primary() {
            String::new()
        } else {
            format!("/{lang}")
        }
    }

    /// The edition a path belongs to.
    pub fn edition_of(&self, path: &str) -> &Lang {
        self.languages[1..]
            .iter()
            .find(|l| {
                let p = format!("/{l}");
                path == p || path.starts_with(&format!("{p}/"))
            })
            .unwrap_or(self.primary())
    }
}

/// Shared by every request.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub site: Site,
    pub templates: render::Templates,
    /// The Content-Security-Policy every response carries.
    pub csp: String,
    /// The admin's: the same, with the admin's own script allowed.
    pub admin_csp: String,
    /// Failed logins, to refuse guessing.
    pub logins: api::LoginLimiter,
    /// Notified when a schedule is set, so that the scheduler wakes for it.
    pub schedules: Arc<tokio::sync::Notify>,
    /// The search index, which [`indexer::follow`] keeps.
    pub search: Arc<dateline_search::SearchIndex>,
    /// Neighbour lists of the index, for related stories.
    pub neighbours: related::Neighbours,
    /// Places for the article pages' rankings of related stories: two at once.
    pub rankings: Arc<tokio::sync::Semaphore>,
    /// Rendered public pages, dropped as the stream of changes reaches them.
    pub cache: cache::PageCache,
    /// How many requests come in, for background work to yield to a rush of readers.
    pub load: Arc<cache::Load>,
    /// Requests by route and status, and their latency, for `/metrics`.
    pub metrics: metrics::Metrics,
}

/// The language edition a route belongs to.
#[derive(Debug, Clone)]
pub struct Edition(pub Lang);

/// The site's router.
/// The site's router; `schedules` is notified when an editor sets a schedule, for
/// [`scheduler::run`] to wake.
pub fn app(
    store: Arc<dyn Store>,
    site: Site,
    schedules: Arc<tokio::sync::Notify>,
    search: Arc<dateline_search::SearchIndex>,
) -> (Router, Arc<AppState>) {
    let state = Arc::new(AppState {
        cache: cache::PageCache::new(site.cache.bytes, site.cache.purge.is_some()),
        load: Arc::default(),
        metrics: metrics::Metrics::default(),
        search,
        neighbours: related::Neighbours,
        rankings: Arc::new(tokio::sync::Semaphore::new(2)),
        store,
        templates: render::Templates::new(),
        csp: headers::content_security_policy(&site.image_hosts),
        admin_csp: headers::admin_content_security_policy(&site.image_hosts),
        logins: api::LoginLimiter::default(),
        schedules,
        site,
    });
    let mut router = Router::new()
        .route("/assets/site.css", get(assets::stylesheet))
        .route("/assets/admin.css", get(assets::admin_stylesheet))
        .route("/assets/admin.js", get(assets::admin_script))
        .route("/assets/icon.svg", get(assets::icon))
        .route("/favicon.ico", get(assets::icon))
        .route("/robots.txt", get(pages::sitemaps::robots))
        .route("/sitemap.xml", get(pages::sitemaps::index))
        .route("/sitemaps/{name}", get(pages::sitemaps::file))
        .route("/media/{id}/{file}", get(media::serve))
        .route("/healthz", get(metrics::healthz))
        .route("/readyz", get(metrics::readyz))
        .route("/metrics", get(metrics::metrics));
    for lang in &state.site.languages {
        let prefix = state.site.prefix(lang);
        let edition = Router::new()
            .route(&format!("{prefix}/"), get(pages::home::show))
            .route(
                &format!("{prefix}/section/{{key}}"),
                get(pages::listing::section),
            )
            .route(
                &format!("{prefix}/topic/{{key}}"),
                get(pages::listing::topic),
            )
            .route(
                &format!("{prefix}/series/{{key}}"),
                get(pages::listing::series),
            )
            .route(
                &format!("{prefix}/byline/{{key}}"),
                get(pages::listing::byline),
            )
            .route(
                &format!("{prefix}/thread/{{key}}"),
                get(pages::listing::thread),
            )
            .route(
                &format!("{prefix}/corrections"),
                get(pages::corrections::show),
            )
            .route(&format!("{prefix}/search"), get(pages::search::page))
            .merge(pages::feeds::routes(&prefix))
            .layer(Extension(Edition(lang.clone())));
        router = router.merge(edition);
        if !prefix.is_empty() {
            let to = format!("{prefix}/");
            router = router.route(
                &prefix,
                get(move || async move {
                    (
                        axum::http::StatusCode::MOVED_PERMANENTLY,
                        [(axum::http::header::LOCATION, to)],
                    )
                }),
            );
        }
    }
    let router = router
        .merge(admin::router().layer(middleware::from_fn(admin::no_store)))
        .nest("/api/v1", api::router(state.clone()))
        .route_layer(middleware::from_fn(metrics::name_route))
        .fallback(pages::article::by_address)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            error::error_pages,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            headers::security_and_caching,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state.clone());
    (router, state)
}
