//! `dateline reindex`: rebuilds the search index from the database. With no server running it
//! does the work itself; beside a running server it asks that server's follower to rebuild
//! (which goes on serving meanwhile) and shows its progress.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use dateline_search::{SearchError, SearchIndex};
use dateline_storage::Store;
use dateline_web::indexer::{step, CONSUMER, REBUILD, REBUILT};
use indicatif::ProgressBar;

use crate::config::Config;

fn bar(end: i64) -> ProgressBar {
    crate::progress_bar(
        u64::try_from(end).unwrap_or(0),
        "reindex [{bar:40}] {pos}/{len} changes {eta}",
        true,
    )
}

/// Rebuilds the index; answers how many articles it holds at the end (when it did the work).
pub async fn run(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<Option<u64>> {
    let end = store.stream_end().await?;
    let dir = config.search_dir()?;
    match SearchIndex::open(&dir) {
        Ok(index) => {
            let index = Arc::new(index);
            index.clear()?;
            index.commit()?;
            let progress = bar(end);
            let mut position = 0;
            loop {
                let next = step(store.as_ref(), &index, position)
                    .await
                    .context("failed to rebuild the search index")?;
                if next == position {
                    break;
                }
                position = next;
                progress.set_position(u64::try_from(next).unwrap_or(0));
            }
            progress.finish_and_clear();
            Ok(Some(index.len()))
        }
        Err(SearchError::Index(tantivy_error)) if tantivy_error.to_string().contains("lock") => {
            // A running server holds the index: it rebuilds, and serves meanwhile.
            let ask = jiff::Timestamp::now().as_millisecond();
            store.set_stream_position(REBUILD, ask).await?;
            eprintln!(
                "a running server holds the index {}: it rebuilds it while it serves",
                dir.display()
            );
            let progress = bar(end);
            let mut began = false;
            for _ in 0..36_000 {
                if !began {
                    began = store.stream_position(REBUILT).await? == ask;
                } else {
                    let at = store.stream_position(CONSUMER).await?;
                    progress.set_position(u64::try_from(at.min(end)).unwrap_or(0));
                    if at >= end {
                        progress.finish_and_clear();
                        return Ok(None);
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            anyhow::bail!(
                "the running server did not finish the rebuild within two hours; it goes on"
            )
        }
        Err(e) => {
            Err(e).with_context(|| format!("failed to open the search index {}", dir.display()))
        }
    }
}
