//! WebSub: when the outlet names a hub (`feeds.hub`), every feed names it, and this follower of
//! the stream of changes tells the hub which feeds changed (`hub.mode=publish`, one `hub.url`
//! a request), so that subscribers hear of a story within seconds instead of polling. It runs
//! beside publishing and never holds it up; a hub that fails is asked again after a growing
//! wait, and the follower's position advances only once every feed of a batch was announced.
//! A newsroom that names a hub for the first time announces what changes from then on.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use dateline_core::change::{Change, ChangeKind};
use dateline_core::{ArticleId, Lang};
use dateline_storage::Store;

use crate::pages::feeds::Format;
use crate::Site;

/// The follower's name in the stream's positions.
pub const CONSUMER: &str = "websub";
const POLL: Duration = Duration::from_secs(1);
const BATCH: u32 = 200;

/// Announces changed feeds to the hub until the task is dropped; does nothing without a hub.
pub async fn announce(store: Arc<dyn Store>, site: Site) {
    let Some(hub) = site.feeds.hub.clone() else {
        return;
    };
    let client = match crate::webhooks::outbound_client("WebSub") {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for WebSub; the hub will hear nothing");
            return;
        }
    };
    // A hub named for the first time hears of what changes from now on.
    if let Err(e) = crate::webhooks::begin_at_end(store.as_ref(), CONSUMER).await {
        tracing::warn!(error = %e, "could not set where WebSub begins");
    }
    let mut out = crate::webhooks::CallingOut::new(store.as_ref(), CONSUMER, POLL);
    loop {
        out.hold(store.as_ref()).await;
        let outcome = announce_pending(store.as_ref(), &site, &client, &hub, &mut out.lease).await;
        out.after(outcome, &hub, "the WebSub hub was not told")
            .await;
    }
}

async fn announce_pending(
    store: &dyn Store,
    site: &Site,
    client: &reqwest::Client,
    hub: &str,
    lease: &mut crate::webhooks::Lease,
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
        for feed in changed_feeds(store, site, &changes).await? {
            // Each call begins with enough of the lease left to end within it.
            if !lease.held(store).await {
                return Ok(());
            }
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("hub.mode", "publish")
                .append_pair("hub.url", &feed)
                .finish();
            let response = client
                .post(hub)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .map_err(|e| format!("{feed}: {e}"))?;
            let status = response.status();
            if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
                // The hub refuses this feed for good: asking again would hold up the rest.
                tracing::warn!(%feed, %status, "the WebSub hub refused a feed; it is not asked again");
            } else if !status.is_success() {
                return Err(format!("{feed}: the hub answered {status}"));
            }
        }
        store
            .set_stream_position(CONSUMER, last)
            .await
            .map_err(|e| e.to_string())?;
        position = last;
    }
}

/// The absolute addresses of every feed these changes touch.
async fn changed_feeds(
    store: &dyn Store,
    site: &Site,
    changes: &[Change],
) -> Result<BTreeSet<String>, String> {
    let mut pages: BTreeSet<String> = BTreeSet::new();
    let articles: BTreeSet<ArticleId> = changes.iter().filter_map(|c| c.article).collect();
    for id in articles {
        // In whatever state it is now: a withdrawn story leaves the feeds it was in.
        let Some(worked) = store.worked_article(id).await.map_err(|e| e.to_string())? else {
            continue;
        };
        let field = |name: &str| worked.record.get(name).and_then(|v| v.as_str());
        let lang = field("lang")
            .and_then(|l| Lang::parse(l).ok())
            .unwrap_or_else(|| site.primary().clone());
        let prefix = site.prefix(site.edition_for(&lang));
        pages.insert(format!("{prefix}/"));
        pages.insert(format!("{prefix}/section/{}", worked.section));
        if let Some(series) = field("series") {
            pages.insert(format!("{prefix}/series/{series}"));
        }
        for (slug, _) in worked
            .record
            .get("byline")
            .and_then(|b| b.as_str())
            .map(dateline_core::article::authors)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| dateline_core::PersonKey::from_name(n).map(|s| (s, n.clone())))
        {
            pages.insert(format!("{prefix}/byline/{}", slug.path_segment()));
        }
        for topic in worked
            .record
            .get("topics")
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str())
        {
            pages.insert(format!("{prefix}/topic/{topic}"));
        }
    }
    for change in changes {
        // A story thread's feeds change with what joins or leaves it, and with its title.
        if matches!(
            change.kind,
            ChangeKind::ArticleThreaded
                | ChangeKind::ThreadChanged
                | ChangeKind::ArticlePublished
                | ChangeKind::ArticleUpdated
                | ChangeKind::ArticleWithdrawn
        ) {
            for thread in change
                .reach
                .iter()
                .filter_map(|t| t.strip_prefix("thread:"))
            {
                for lang in &site.languages {
                    pages.insert(format!("{}/thread/{thread}", site.prefix(lang)));
                }
            }
        }
        let kind = match change.kind {
            ChangeKind::SectionChanged => "section",
            ChangeKind::SeriesChanged => "series",
            ChangeKind::TopicChanged => "topic",
            _ => continue,
        };
        for lang in &site.languages {
            pages.insert(format!("{}/{kind}/{}", site.prefix(lang), change.subject));
        }
    }
    Ok(pages
        .iter()
        .flat_map(|page| {
            Format::ALL.iter().map(move |f| {
                site.absolute(&format!("{}/{}", page.trim_end_matches('/'), f.file()))
            })
        })
        .collect())
}
