//! Webhooks: the first follower of the stream of changes. Each change is POSTed to every
//! webhook as JSON, signed with HMAC-SHA256 of the body under the webhook's secret, in the
//! stream's order. A webhook's position advances only when its receiver answers 2xx; one that
//! fails is tried again with a growing wait, while the others go on. Delivery runs beside the
//! server and never holds up a write.
//!
//! A delivery carries:
//! - `X-Dateline-Event`: the change's kind, such as `article.updated`;
//! - `X-Dateline-Delivery`: the change's position in the stream (receivers use it to drop a
//!   repeat, which a crash between delivery and bookkeeping can cause);
//! - `X-Dateline-Signature: sha256=HEX`: the HMAC-SHA256 of the body under the secret.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dateline_core::change::{Change, Webhook};
use dateline_storage::{webhook_consumer, Store};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::Serialize;
use sha2::Sha256;

use crate::Site;

/// How often the stream is read for changes that another process (an import) wrote.
const POLL: Duration = Duration::from_secs(1);
/// Changes read and delivered at a time, per webhook.
const BATCH: u32 = 100;
/// The first wait after a failed delivery; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long a receiver has to answer.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// The JSON body of a delivery.
#[derive(Debug, Serialize)]
pub struct Delivery<'a> {
    pub position: i64,
    pub kind: &'a str,
    pub subject: &'a str,
    /// The article's id, for a change to an article.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article_id: Option<i64>,
    /// The article's address, while it is live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When the change was committed, RFC 3339.
    pub at: String,
}

/// The signature header's value for `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The HTTP client of a follower that calls out (webhooks, WebSub, a CDN's purge hook): a
/// time limit, no redirects, and a user agent naming what calls.
pub(crate) fn outbound_client(purpose: &str) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(format!("Dateline/{} {purpose}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The wait after a failed call, given the one before: from [`FIRST_BACKOFF`], doubling up to
/// [`MAX_BACKOFF`].
pub(crate) fn backoff(before: Option<Duration>) -> Duration {
    before.map_or(FIRST_BACKOFF, |w| (w * 2).min(MAX_BACKOFF))
}

/// Where a follower that the outlet sets up later (a hub, a purge hook) begins: the first time,
/// at the end of the stream (it hears of what changes from then on), and after that where it
/// was. `{consumer}.started` records the first time, as a position of 0 may be the start of an
/// empty stream; a follower set up before that record existed keeps its position.
pub(crate) async fn begin_at_end(
    store: &dyn Store,
    consumer: &str,
) -> Result<(), dateline_storage::StorageError> {
    let started = format!("{consumer}.started");
    if store.stream_position(&started).await? != 0 {
        return Ok(());
    }
    if store.stream_position(consumer).await? == 0 {
        let end = store.stream_end().await?;
        store.set_stream_position(consumer, end).await?;
    }
    store.set_stream_position(&started, 1).await
}

/// Waits until the stream may have grown ([`Store::changes_signal`]) or `poll` has passed,
/// whichever comes first.
pub(crate) async fn next_change(signal: &mut tokio::sync::watch::Receiver<u64>, poll: Duration) {
    match tokio::time::timeout(poll, signal.changed()).await {
        Ok(Ok(())) | Err(_) => {}
        // The store is gone: the caller is ending too.
        Ok(Err(_)) => tokio::time::sleep(poll).await,
    }
}

/// What a follower that calls out (a webhook's deliveries, the purge hook, WebSub) keeps from
/// one turn to the next: its lease, the signal of new changes, and the wait after failures.
pub(crate) struct CallingOut {
    pub(crate) lease: Lease,
    signal: tokio::sync::watch::Receiver<u64>,
    backoff: Option<Duration>,
    poll: Duration,
}

impl CallingOut {
    /// A follower named `name` (its lease's name), reading the stream every `poll` at least.
    pub(crate) fn new(store: &dyn Store, name: impl Into<String>, poll: Duration) -> CallingOut {
        CallingOut {
            lease: Lease::new(name, CALLING_OUT, TIMEOUT),
            signal: store.changes_signal(),
            backoff: None,
            poll,
        }
    }

    /// Returns once this node holds the lease: of several nodes, one calls out at a time.
    pub(crate) async fn hold(&mut self, store: &dyn Store) {
        while !self.lease.held(store).await {
            tokio::time::sleep(self.poll).await;
        }
    }

    /// After a turn: waits for the next change, or after a failure (logged with `target` and
    /// `what`), a time that grows while failures go on.
    pub(crate) async fn after(
        &mut self,
        outcome: Result<(), String>,
        target: &(dyn std::fmt::Display + Sync),
        what: &str,
    ) {
        match outcome {
            Ok(()) => {
                self.backoff = None;
                next_change(&mut self.signal, self.poll).await;
            }
            Err(reason) => {
                let wait = backoff(self.backoff);
                tracing::warn!(%target, %reason, ?wait, "{what}; it will be tried again");
                self.backoff = Some(wait);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// How long the lease of a follower that calls out (webhooks, the purge hook, WebSub) lasts
/// unless renewed: how long its work waits when the node that held it dies.
pub(crate) const CALLING_OUT: Duration = Duration::from_secs(30);
/// A held lease is renewed this often.
const RENEW_EVERY: Duration = Duration::from_secs(5);

/// This process's name among the nodes that share a database: its host, its process id and a
/// random part, made once.
pub fn node_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let mut bytes = [0u8; 4];
        // Without random numbers the process id and the host still tell most nodes apart.
        let _ = getrandom::fill(&mut bytes);
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!(
            "{}-{}-{}",
            host.trim(),
            std::process::id(),
            hex::encode(bytes)
        )
    })
}

/// The right to do, on one node of several, what must be done once (a webhook's deliveries, a
/// CDN's purges, a WebSub hub's pings, a partner feed's reads): kept in storage
/// ([`Store::lease`], timed by the database's clock) and renewed while held; a node that stops
/// renewing it (stopped, killed, cut off) loses it to another once it runs out.
pub(crate) struct Lease {
    name: String,
    /// How long it lasts from each renewal.
    ttl: Duration,
    /// Until when this node surely holds it, by this process's clock (counted from before it
    /// asked, so never later than storage's).
    held_until: Option<std::time::Instant>,
}

impl Lease {
    /// A lease of `ttl`, for work of which one piece takes at most `work` (a call's time
    /// limit): while [`Lease::held`] says yes, at least that much of the lease is left, so a
    /// piece begun under it ends before another node can take it.
    pub(crate) fn new(name: impl Into<String>, ttl: Duration, work: Duration) -> Lease {
        Lease {
            name: name.into(),
            // Renewed every RENEW_EVERY, a lease always has `ttl - RENEW_EVERY` left.
            ttl: ttl.max(work + RENEW_EVERY + RENEW_EVERY),
            held_until: None,
        }
    }

    /// Whether this node holds the lease now, with enough left for a piece of work, renewing
    /// or taking it when it must.
    pub(crate) async fn held(&mut self, store: &dyn Store) -> bool {
        let asked = std::time::Instant::now();
        if self
            .held_until
            .is_some_and(|until| until > asked + (self.ttl - RENEW_EVERY))
        {
            return true;
        }
        match store.lease(&self.name, node_name(), self.ttl).await {
            Ok(true) => {
                if self.held_until.is_none() {
                    tracing::info!(lease = %self.name, node = node_name(), "this node took the lease");
                }
                self.held_until = Some(asked + self.ttl);
                true
            }
            Ok(false) => {
                if self.held_until.take().is_some() {
                    tracing::warn!(lease = %self.name, "another node holds the lease now");
                }
                false
            }
            Err(e) => {
                // Unsure: do nothing that another node may be doing.
                tracing::warn!(lease = %self.name, error = %e, "could not renew the lease");
                self.held_until = None;
                false
            }
        }
    }
}

/// Delivers the stream to every webhook until the task is dropped, reading it for new changes
/// every second (whichever process wrote them).
pub async fn deliver(store: Arc<dyn Store>, site: Site) {
    let client = match outbound_client("webhooks") {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for webhooks; none will be delivered");
            return;
        }
    };
    // One task per webhook, so that a receiver that hangs holds up no other; the set aborts
    // them all when this task is dropped.
    let mut followers = tokio::task::JoinSet::new();
    let mut running: HashMap<i64, tokio::task::AbortHandle> = HashMap::new();
    loop {
        match store.webhooks().await {
            Ok(hooks) => {
                // A removed webhook's follower stops within a poll.
                running.retain(|id, handle| {
                    let keep = hooks.iter().any(|h| h.id == *id) && !handle.is_finished();
                    if !keep {
                        handle.abort();
                    }
                    keep
                });
                for hook in hooks {
                    if !running.contains_key(&hook.id) {
                        let id = hook.id;
                        let handle = followers.spawn(follow(
                            store.clone(),
                            site.clone(),
                            client.clone(),
                            hook,
                        ));
                        running.insert(id, handle);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the webhooks"),
        }
        // Reap the finished, so the set does not grow.
        while followers.try_join_next().is_some() {}
        tokio::time::sleep(POLL).await;
    }
}

/// Follows the stream for one webhook until aborted: delivers what is pending, then looks again
/// every poll; after a failure, waits a growing time before trying again.
async fn follow(store: Arc<dyn Store>, site: Site, client: reqwest::Client, hook: Webhook) {
    let mut out = CallingOut::new(store.as_ref(), webhook_consumer(hook.id), POLL);
    loop {
        out.hold(store.as_ref()).await;
        let outcome = deliver_pending(store.as_ref(), &site, &client, &hook, &mut out.lease).await;
        out.after(outcome, &hook.url, "a delivery failed").await;
    }
}

/// Delivers a webhook's changes after its position, in order, until they are all delivered or
/// one fails.
async fn deliver_pending(
    store: &dyn Store,
    site: &Site,
    client: &reqwest::Client,
    hook: &Webhook,
    lease: &mut Lease,
) -> Result<(), String> {
    let consumer = webhook_consumer(hook.id);
    let mut position = store
        .stream_position(&consumer)
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let changes = store
            .changes_after(position, BATCH)
            .await
            .map_err(|e| e.to_string())?;
        if changes.is_empty() {
            return Ok(());
        }
        for change in &changes {
            if !lease.held(store).await {
                return Ok(());
            }
            post(store, site, client, hook, change).await?;
            position = change.position;
            store
                .set_stream_position(&consumer, position)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
}

async fn post(
    store: &dyn Store,
    site: &Site,
    client: &reqwest::Client,
    hook: &Webhook,
    change: &Change,
) -> Result<(), String> {
    let url = match change.article {
        Some(_) => store
            .links_by_keys(std::slice::from_ref(&change.subject), Timestamp::now())
            .await
            .map_err(|e| e.to_string())?
            .first()
            .map(|l| site.absolute(&l.address(&site.address, &site.time_zone))),
        None => None,
    };
    let body = serde_json::to_vec(&Delivery {
        position: change.position,
        kind: change.kind.name(),
        subject: &change.subject,
        article_id: change.article.map(|a| a.get()),
        url,
        at: change.at.to_string(),
    })
    .map_err(|e| e.to_string())?;
    let response = client
        .post(hook.url.as_str())
        .header("content-type", "application/json")
        .header("x-dateline-event", change.kind.name())
        .header("x-dateline-delivery", change.position.to_string())
        .header("x-dateline-signature", signature(&hook.secret, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| format!("change {}: {e}", change.position))?;
    if response.status().is_success() {
        tracing::debug!(webhook = hook.id, position = change.position, "delivered");
        Ok(())
    } else {
        Err(format!(
            "change {}: the receiver answered {}",
            change.position,
            response.status()
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_are_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
