//! `dateline export`: articles as IPTC ninjs documents (3.1, or 2.2), one JSON document a
//! line, every article or the ones named, with a progress bar on a terminal.

use std::io::Write;

use anyhow::Context;
use dateline_core::ArticleId;
use dateline_storage::Store;
use dateline_web::ninjs::{document, Version};
use dateline_web::Site;
use indicatif::{ProgressBar, ProgressStyle};

/// Writes the articles with these ids (every article when none are named) to `out`; answers
/// how many were written.
pub async fn ninjs(
    store: &dyn Store,
    site: &Site,
    version: Version,
    ids: &[i64],
    out: &mut dyn Write,
    progress: bool,
) -> anyhow::Result<u64> {
    let ids: Vec<ArticleId> = if ids.is_empty() {
        store.article_ids().await?
    } else {
        ids.iter().map(|i| ArticleId::new(*i)).collect()
    };
    let bar = if progress {
        ProgressBar::new(ids.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("exporting [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut written = 0;
    for id in ids {
        let worked = store
            .worked_article(id)
            .await?
            .with_context(|| format!("there is no article {id}"))?;
        let doc = document(store, site, &worked, version).await?;
        serde_json::to_writer(&mut *out, &doc)?;
        out.write_all(b"\n")?;
        written += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.flush()?;
    Ok(written)
}
