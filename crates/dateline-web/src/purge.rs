//! The purge hook: when the outlet runs a CDN in front (`cache.purge_url`), this follower of
//! the stream of changes tells it which surrogate keys to drop, the very tags the page cache
//! drops ([`crate::cache::reached`]) and that every kept page carries in `Surrogate-Key` and
//! `Cache-Tag`. So the CDN is purged as precisely as the cache, by the same records.
//!
//! Each batch of changes is one `POST` with the body `{"tags": [...]}` (Cloudflare's
//! `purge_cache` takes it as is) and the same keys in a `Surrogate-Key` header (as Fastly's
//! batch purge reads them), with `Authorization: Bearer` when a token is set. The position
//! moves only after a 2xx; a hook that fails is asked again after a growing wait. A hook named
//! for the first time purges what changes from then on.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use dateline_core::change::WebhookUrl;
use dateline_storage::Store;

use crate::cache::{header_tag, reached};
use crate::Site;

/// The follower's name in the stream's positions.
pub const CONSUMER: &str = "purge";
const POLL: Duration = Duration::from_millis(250);
const BATCH: u32 = 200;
/// The most keys in one request (Cloudflare takes 30 a call on some plans, Fastly 256):
/// a batch with more is sent in several.
const KEYS_PER_REQUEST: usize = 30;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
const TIMEOUT: Duration = Duration::from_secs(10);

/// Purges the CDN until the task is dropped; does nothing without a hook.
pub async fn follow(store: Arc<dyn Store>, site: Site) {
    let Some(hook) = site.cache.purge.clone() else {
        return;
    };
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Dateline/", env!("CARGO_PKG_VERSION"), " purge"))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for the purge hook; the CDN will not be purged");
            return;
        }
    };
    match store.stream_position(CONSUMER).await {
        Ok(0) => {
            let end = store.stream_end().await.unwrap_or(0);
            if let Err(e) = store.set_stream_position(CONSUMER, end).await {
                tracing::warn!(error = %e, "could not set where purging begins");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not read where purging is"),
    }
    let token = site.cache.purge_token.clone();
    let mut backoff: Option<Duration> = None;
    loop {
        match purge_pending(store.as_ref(), &client, &hook, token.as_deref()).await {
            Ok(()) => {
                backoff = None;
                tokio::time::sleep(POLL).await;
            }
            Err(reason) => {
                let wait = backoff.map_or(FIRST_BACKOFF, |w| (w * 2).min(MAX_BACKOFF));
                tracing::warn!(hook = %hook, %reason, ?wait, "the CDN was not purged; it will be asked again");
                backoff = Some(wait);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

async fn purge_pending(
    store: &dyn Store,
    client: &reqwest::Client,
    hook: &WebhookUrl,
    token: Option<&str>,
) -> Result<(), String> {
    let mut position = store
        .stream_position(CONSUMER)
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let changes = store
            .changes_after(position, BATCH)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = changes.last().map(|c| c.position) else {
            return Ok(());
        };
        let tags: BTreeSet<String> = changes
            .iter()
            .flat_map(reached)
            .map(|t| header_tag(&t))
            .collect();
        let tags: Vec<String> = tags.into_iter().collect();
        for chunk in tags.chunks(KEYS_PER_REQUEST) {
            let mut request = client
                .post(hook.as_str())
                .header("surrogate-key", chunk.join(" "))
                .json(&serde_json::json!({ "tags": chunk }));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("the hook answered {status}"));
            }
        }
        store
            .set_stream_position(CONSUMER, last)
            .await
            .map_err(|e| e.to_string())?;
        tracing::debug!(keys = tags.len(), position = last, "purged the CDN");
        position = last;
    }
}
