//! The search index's follower of the stream of changes: an article that goes live is put in
//! the index, one that leaves the site is taken out, within a poll of the change. Its position
//! in the stream is committed with the index (each node keeps its own index and its own place),
//! so after a crash or a time down it catches up from there; when someone
//! moves that position back (`dateline reindex` beside a running server), it empties the index
//! and rebuilds it from the stream while the site keeps serving.
//!
//! It also keeps the index's neighbour graph, from which related stories are ranked: around
//! each story as it is published, and, while the stream is quiet, for whatever an import or a
//! rebuild put in without (newest first, a quarter of a second at a time).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use dateline_core::{Article, ArticleId};
use dateline_search::{Indexed, SearchIndex};
use dateline_storage::{StorageError, Store};
use jiff::Timestamp;

/// Where the follower reports its position in storage, for `dateline reindex` to show progress
/// (the position it goes on from is the index's own: [`SearchIndex::position`]).
pub const CONSUMER: &str = "search";
/// Where `dateline reindex` asks a running server for a rebuild: a new value is a new request.
pub const REBUILD: &str = "search.rebuild";
/// Where the follower says which request it took up.
pub const REBUILT: &str = "search.rebuilt";
/// How many changes one step reads.
const BATCH: u32 = 500;
/// The most articles of one step around which the neighbour graph is kept at once; a bigger
/// step (an import, a rebuild) leaves its lists to be read while the stream is quiet.
const WARMED: usize = 20;
/// How long one turn of growing the neighbour graph may take while the stream is quiet: the
/// next change waits for it at most this long.
const GROWING: Duration = Duration::from_millis(250);
/// Requests a second above which the graph grows only a twentieth of a second a second.
const BUSY: f64 = 200.0;
/// How long the follower waits when the stream has nothing new.
const POLL: Duration = Duration::from_millis(200);

/// What the index keeps of an article.
pub fn indexed(article: &Article) -> Indexed {
    let link = &article.link;
    Indexed {
        id: link.id.get(),
        key: link.key.to_string(),
        lang: link.lang.to_string(),
        section: link.section_key.to_string(),
        headline: link.headline.clone(),
        summary: link.summary.clone(),
        body: article.body.text(),
        byline: article.byline.clone(),
        topics: article.topics.iter().map(|t| t.to_string()).collect(),
        published: link.published,
    }
}

/// Why a step could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Search(#[from] dateline_search::SearchError),
}

/// Applies the next changes after `position` to the index and commits; answers the new
/// position (the same when there was nothing new).
pub async fn step(
    store: &dyn Store,
    index: &Arc<SearchIndex>,
    position: i64,
) -> Result<i64, IndexError> {
    let changes = store.changes_after(position, BATCH).await?;
    let Some(last) = changes.last().map(|c| c.position) else {
        return Ok(position);
    };
    // Threading changes nothing the index keeps.
    let articles: BTreeSet<ArticleId> = changes
        .iter()
        .filter(|c| c.kind != dateline_core::change::ChangeKind::ArticleThreaded)
        .filter_map(|c| c.article)
        .collect();
    let now = Timestamp::now();
    let mut live = Vec::new();
    for id in articles {
        // What readers see now decides: a change may already be overtaken by a later one.
        match store.article(id, now).await? {
            Some(article) => {
                index.put(&indexed(&article))?;
                live.push(id.get());
            }
            None => index.remove(id.get()),
        }
    }
    let committing = index.clone();
    // A story just published has its neighbour list read here, off the reader's request, and
    // its nearest neighbours' lists read again so that it joins them.
    let warm = live.len() <= WARMED;
    tokio::task::spawn_blocking(move || {
        committing.commit_at(Some(last))?;
        // The graph is derived: a failure to keep it is logged, and never holds the index up.
        if warm {
            if let Err(e) = committing.keep_graph(&live) {
                tracing::warn!(error = %e, "could not keep the neighbour graph around new stories");
            }
        }
        Ok::<(), dateline_search::SearchError>(())
    })
    .await
    .map_err(|e| IndexError::Storage(StorageError::Corrupt(e.to_string())))??;
    store.set_stream_position(CONSUMER, last).await?;
    Ok(last)
}

/// Follows the stream for as long as the server runs.
pub async fn follow(store: Arc<dyn Store>, index: Arc<SearchIndex>, load: Arc<crate::cache::Load>) {
    let mut position = match index.position() {
        Some(p) => p,
        // An index an earlier Dateline kept, whose place was kept in storage.
        None if !index.is_empty() => match store.stream_position(CONSUMER).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "the search index cannot read its position; it follows nothing");
                return;
            }
        },
        None => 0,
    };
    let end = store.stream_end().await.unwrap_or(0);
    if position > end {
        // The index holds changes the stream does not: the database was restored from a
        // backup, or replaced. What the index holds is not that newsroom's: it is built anew.
        tracing::warn!(
            position,
            end,
            "the search index is ahead of the stream (was the database restored?): rebuilding it"
        );
        match index.clear().and_then(|()| index.commit()) {
            Ok(()) => position = 0,
            Err(e) => tracing::error!(error = %e, "could not empty the search index"),
        }
    } else if index.position().is_none() && position > 0 {
        // An index an earlier Dateline kept: its place is recorded in it from now on.
        if let Err(e) = index.commit_at(Some(position)) {
            tracing::warn!(error = %e, "could not record the search index's place");
        }
    }
    if index.is_empty() && end > 0 {
        // A new node, or an index that was lost (a new folder, a failed disk): it is built
        // from the stream.
        tracing::warn!("the search index is empty: building it from the stream of changes");
        position = 0;
        // Until it holds the whole archive again, no neighbour list is kept.
        index.set_settled(false);
    }
    let mut taken = store.stream_position(REBUILD).await.unwrap_or(0);
    let mut signal = store.changes_signal();
    loop {
        match store.stream_position(REBUILD).await {
            Ok(asked) if asked != taken => {
                tracing::info!("rebuilding the search index, as `dateline reindex` asked");
                match index.clear().and_then(|()| index.commit()) {
                    Ok(()) => {
                        position = 0;
                        taken = asked;
                        if let Err(e) = store.set_stream_position(REBUILT, asked).await {
                            tracing::warn!(error = %e, "could not say the rebuild began");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "could not empty the search index"),
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not read whether a rebuild was asked"),
        }
        match step(store.as_ref(), &index, position).await {
            Ok(next) if next > position => {
                tracing::debug!(position = next, "search index caught up");
                position = next;
            }
            Ok(_) => {
                // Caught up: the index holds the whole archive, and lists may be kept again.
                index.set_settled(true);
                // The graph grows in what readers leave: in a rush, a little at a time.
                let busy = load.rate() > BUSY;
                let turn = if busy { GROWING / 5 } else { GROWING };
                let growing = index.clone();
                let left = tokio::task::spawn_blocking(move || growing.grow_graph(turn)).await;
                match left {
                    Ok(Ok(left)) if left > 0 => {
                        tracing::debug!(left, busy, "growing the neighbour graph");
                        if busy {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        continue;
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "could not grow the neighbour graph"),
                    Err(e) => tracing::warn!(error = %e, "growing the neighbour graph failed"),
                }
                crate::webhooks::next_change(&mut signal, POLL).await
            }
            Err(e) => {
                tracing::error!(error = %e, "the search index could not follow the stream; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
