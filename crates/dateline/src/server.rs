//! Starting the site: open the store, bind, serve.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use dateline_storage::Store;
use tokio::net::TcpListener;

use crate::config::Config;

/// A store opened and migrated, and a listener bound, ready to serve.
pub struct Server {
    pub store: Arc<dyn Store>,
    pub listener: TcpListener,
    pub address: SocketAddr,
    pub app: axum::Router,
    /// What every request shares, for the followers that keep it (the page cache).
    pub state: Arc<dateline_web::AppState>,
    pub limits: dateline_web::Limits,
    pub site: dateline_web::Site,
    /// Wakes the scheduler when an editor sets a schedule.
    pub schedules: Arc<tokio::sync::Notify>,
    pub search: Arc<dateline_search::SearchIndex>,
    /// The partner feeds the outlet follows.
    pub partners: Vec<dateline_web::ingest::Partner>,
}

/// Opens the search index beside the database. One made by another version of Dateline is
/// set aside and rebuilt from the stream of changes.
pub fn open_search(config: &Config) -> anyhow::Result<Arc<dateline_search::SearchIndex>> {
    let dir = config.search_dir()?;
    match dateline_search::SearchIndex::open(&dir) {
        Ok(index) => Ok(Arc::new(index)),
        Err(dateline_search::SearchError::Schema(_)) => {
            let aside = dir.with_extension("index.old");
            tracing::warn!(index = %dir.display(), "the search index is of another version: rebuilding it");
            let _ = std::fs::remove_dir_all(&aside);
            std::fs::rename(&dir, &aside)
                .with_context(|| format!("failed to set aside {}", dir.display()))?;
            Ok(Arc::new(dateline_search::SearchIndex::open(&dir)?))
        }
        Err(e) => Err(e).with_context(|| {
            format!(
                "failed to open the search index {} (is another Dateline serving this database?)",
                dir.display()
            )
        }),
    }
}

/// Opens the database (applying migrations), for a server.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    open_store_for(config, dateline_storage::Workload::Serving).await
}

/// Opens the database (applying migrations), for `workload`.
pub async fn open_store_for(
    config: &Config,
    workload: dateline_storage::Workload,
) -> anyhow::Result<Arc<dyn Store>> {
    let name = config.database.to_str().with_context(|| {
        format!(
            "the database {} is not a UTF-8 path or URL",
            config.database.display()
        )
    })?;
    dateline_storage::open_with_replica(name, config.database_replica.as_deref(), workload)
        .await
        .with_context(|| format!("failed to open the database {}", config.database_label()))
}

impl Server {
    pub async fn bind(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<Server> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("failed to listen on {}", config.listen))?;
        let address = listener.local_addr()?;
        let site = config.site(address)?;
        let limits = config.limits.limits()?;
        let partners = config.partners(&site)?;
        let schedules = Arc::new(tokio::sync::Notify::new());
        let search = open_search(config)?;
        let (app, state) = dateline_web::app(
            store.clone(),
            site.clone(),
            schedules.clone(),
            search.clone(),
        );
        Ok(Server {
            store,
            listener,
            address,
            app,
            state,
            limits,
            site,
            schedules,
            search,
            partners,
        })
    }

    /// Serves, and delivers the stream of changes to webhooks, until `shutdown` completes.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // Schedules that passed while the server was down fire now, once.
        let scheduler = tokio::spawn(dateline_web::scheduler::run(
            self.store.clone(),
            self.schedules,
        ));
        let indexer = tokio::spawn(dateline_web::indexer::follow(
            self.store.clone(),
            self.search,
            self.state.load.clone(),
        ));
        let ingest = tokio::spawn(dateline_web::ingest::follow(
            self.store.clone(),
            self.site.clone(),
            self.partners,
        ));
        let websub = tokio::spawn(dateline_web::websub::announce(
            self.store.clone(),
            self.site.clone(),
        ));
        let threads = tokio::spawn(dateline_web::threading::follow(self.store.clone()));
        let cache = tokio::spawn(dateline_web::cache::follow(self.state.clone()));
        let purge = tokio::spawn(dateline_web::purge::follow(self.state.clone()));
        let webhooks = tokio::spawn(dateline_web::webhooks::deliver(self.store, self.site));
        let served = dateline_web::serve(
            self.listener,
            self.app,
            self.state.clone(),
            self.limits,
            shutdown,
        )
        .await
        .context("the server failed");
        // A delivery cut here is made again at the next start: positions advance only after one.
        webhooks.abort();
        threads.abort();
        purge.abort();
        cache.abort();
        websub.abort();
        ingest.abort();
        indexer.abort();
        scheduler.abort();
        served
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
