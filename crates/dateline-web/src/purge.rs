//! The purge hook: when the outlet runs a CDN in front (`cache.purge_url`), this follower of
//! the stream of changes tells it which surrogate keys to drop, the very tags the page cache
//! drops ([`crate::cache::reached`]) and that every kept page carries in `Surrogate-Key` and
//! `Cache-Tag`. So the CDN is purged as precisely as the cache, by the same records.
//!
//! Each batch of changes is one `POST` with the body `{"tags": [...]}` (Cloudflare's
//! `purge_cache` takes it as is) and the same keys in a `Surrogate-Key` header (as Fastly's
//! batch purge reads them), with `Authorization: Bearer` when a token is set. The position
//! moves only after a 2xx; a hook that fails is asked again after a growing wait, and one that
//! refuses a request (a 4xx other than 429) is asked to purge everything instead
//! (`{"purge_everything": true}`). A hook named for the first time purges what changes from
//! then on.
//!
//! Before it purges, this node's own page cache reads the same records, so the CDN cannot
//! fetch from it a page the purge meant to drop; and each purge is sent again a few seconds
//! later, for a page a render still had in flight when the first one went out.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use dateline_core::change::WebhookUrl;
use dateline_storage::Store;

use crate::cache::{header_tag, reached};
use crate::AppState;

/// The follower's name in the stream's positions.
pub const CONSUMER: &str = "purge";
/// How long after a purge it is sent again.
const AGAIN: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(250);
const BATCH: u32 = 200;
/// The most keys in one request (Cloudflare takes 30 a call on some plans, Fastly 256):
/// a batch with more is sent in several.
const KEYS_PER_REQUEST: usize = 30;

/// Purges the CDN until the task is dropped; does nothing without a hook.
pub async fn follow(state: Arc<AppState>) {
    let Some(hook) = state.site.cache.purge.clone() else {
        return;
    };
    let store = state.store.clone();
    let client = match crate::webhooks::outbound_client("purge") {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for the purge hook; the CDN will not be purged");
            return;
        }
    };
    if let Err(e) = crate::webhooks::begin_at_end(store.as_ref(), CONSUMER).await {
        tracing::warn!(error = %e, "could not set where purging begins");
    }
    let token = state.site.cache.purge_token.clone();
    let mut out = crate::webhooks::CallingOut::new(store.as_ref(), CONSUMER, POLL);
    loop {
        out.hold(store.as_ref()).await;
        let outcome = purge_pending(&state, &client, &hook, token.as_deref(), &mut out.lease).await;
        out.after(outcome, &hook, "the CDN was not purged").await;
    }
}

async fn purge_pending(
    state: &Arc<AppState>,
    client: &reqwest::Client,
    hook: &WebhookUrl,
    token: Option<&str>,
    lease: &mut crate::webhooks::Lease,
) -> Result<(), String> {
    let store: &dyn Store = state.store.as_ref();
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
        // This node serves nothing the purge drops, once it is sent.
        state
            .cache
            .catch_up(store)
            .await
            .map_err(|e| e.to_string())?;
        for chunk in tags.chunks(KEYS_PER_REQUEST) {
            // Each call begins with enough of the lease left to end within it.
            if !lease.held(store).await {
                return Ok(());
            }
            send(client, hook, token, chunk).await?;
        }
        // And once more, a little later, for what a render had in flight meanwhile.
        let (client, hook, token) = (client.clone(), hook.clone(), token.map(str::to_string));
        tokio::spawn(async move {
            tokio::time::sleep(AGAIN).await;
            for chunk in tags.chunks(KEYS_PER_REQUEST) {
                if let Err(reason) = send(&client, &hook, token.as_deref(), chunk).await {
                    tracing::warn!(hook = %hook, %reason, "a repeated purge failed");
                }
            }
        });
        store
            .set_stream_position(CONSUMER, last)
            .await
            .map_err(|e| e.to_string())?;
        tracing::debug!(position = last, "purged the CDN");
        position = last;
    }
}

/// One purge request; a hook that refuses it (a 4xx other than 429) is asked to purge
/// everything instead, rather than hold every later purge up.
async fn send(
    client: &reqwest::Client,
    hook: &WebhookUrl,
    token: Option<&str>,
    tags: &[String],
) -> Result<(), String> {
    let post = |body: serde_json::Value| {
        let mut request = client.post(hook.as_str()).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
    };
    let response = post(serde_json::json!({ "tags": tags }))
        .header("surrogate-key", tags.join(" "))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    if !status.is_client_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(format!("the hook answered {status}"));
    }
    tracing::error!(hook = %hook, %status, ?tags, "the hook refused a purge; asking it to purge everything");
    let everything = post(serde_json::json!({ "purge_everything": true }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if everything.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "the hook answered {status}, and {} to purging everything",
            everything.status()
        ))
    }
}
