//! `dateline export`: articles as IPTC ninjs documents (3.1, or 2.2), one JSON document a
//! line, or as NewsML-G2 NewsItems, one XML file each; every article or the ones named, with a
//! progress bar on a terminal.

use std::io::Write;

use anyhow::Context;
use dateline_core::ArticleId;
use dateline_storage::Store;
use dateline_web::ninjs::{document, Version};
use dateline_web::Site;

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
    let bar = crate::progress_bar(
        ids.len() as u64,
        "exporting [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
        progress,
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

/// Writes the articles with these ids (every article when none are named) as NewsML-G2
/// NewsItems: into `dir` as `{key}.xml`, or, for one article without a folder, to `out`.
/// Answers how many were written.
pub async fn newsml(
    store: &dyn Store,
    site: &Site,
    ids: &[i64],
    dir: Option<&std::path::Path>,
    out: &mut dyn Write,
    progress: bool,
) -> anyhow::Result<u64> {
    let ids: Vec<ArticleId> = if ids.is_empty() {
        store.article_ids().await?
    } else {
        ids.iter().map(|i| ArticleId::new(*i)).collect()
    };
    if dir.is_none() && ids.len() != 1 {
        anyhow::bail!(
            "NewsML-G2 is one file an article: name a folder with --out, or one article with --id"
        );
    }
    let templates = dateline_web::render::Templates::new();
    let bar = crate::progress_bar(
        ids.len() as u64,
        "exporting [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
        progress,
    );
    let mut written = 0;
    for id in ids {
        let worked = store
            .worked_article(id)
            .await?
            .with_context(|| format!("there is no article {id}"))?;
        let xml = dateline_web::newsml::document(store, site, &templates, &worked)
            .await
            .map_err(|e| anyhow::anyhow!("article {id}: {e:?}"))?;
        match dir {
            Some(dir) => {
                let path = dir.join(format!("{}.xml", worked.key.as_str()));
                std::fs::write(&path, xml)
                    .with_context(|| format!("failed to write {}", path.display()))?;
            }
            None => out.write_all(xml.as_bytes())?,
        }
        written += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.flush()?;
    Ok(written)
}
