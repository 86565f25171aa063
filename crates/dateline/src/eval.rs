//! `dateline eval related`: how well related stories find the rest of a story, against plain
//! BM25 more-like-this in the same engine, on a corpus labelled with its stories.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context};
use dateline_search::eval::{score, Scores};
use dateline_search::related::{rank, NEIGHBOURS};
use dateline_search::{Indexed, SearchIndex, SearchQuery};
use indicatif::ProgressBar;
use serde_json::{json, Value};

/// How deep each ranking goes: enough for every story of the corpora.
const DEPTH: usize = 1000;

/// What the evaluation measured.
pub struct Report {
    pub queries: usize,
    pub dateline: Scores,
    pub baseline: Scores,
    /// With each headline as the query, the mean of 1 / the article's rank; none when the
    /// corpus has no headlines.
    pub known_item_mrr: Option<f64>,
    pub label: &'static str,
}

impl Report {
    pub fn json(&self) -> Value {
        json!({
            "queries": self.queries,
            "rankings": {"dateline": self.dateline, "baseline": self.baseline},
        })
    }

    pub fn table(&self) -> String {
        let row = |name: &str, s: &Scores| {
            format!(
                "{name:<10} {:>6.3} {:>12.3} {:>6.3} {:>11.3}\n",
                s.p_at_5, s.r_precision, s.map, s.ndcg_at_10
            )
        };
        format!(
            "{} queries; related means the same {}\n{:<10} {:>6} {:>12} {:>6} {:>11}\n{}{}known-item MRR (headline as the query): {}\n",
            self.queries,
            self.label,
            "ranking",
            "P@5",
            "R-precision",
            "MAP",
            "nDCG@10",
            row("dateline", &self.dateline),
            row("baseline", &self.baseline),
            self.known_item_mrr
                .map_or_else(|| "no headlines in the corpus".to_string(), |m| format!("{m:.3}"))
        )
    }
}

fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = crate::progress_bar(len as u64, "{msg:>9} [{bar:40}] {pos}/{len} {eta}", true);
    bar.set_message(what.to_string());
    bar
}

/// Reads the corpus, indexes it in memory, and ranks every article's others both ways.
pub fn related(path: &Path, quiet: bool) -> anyhow::Result<Report> {
    let file =
        std::fs::File::open(path).with_context(|| format!("failed to open {}", path.display()))?;
    let index = SearchIndex::in_memory()?;
    let mut labels: HashMap<i64, String> = HashMap::new();
    let mut headlines: Vec<(i64, String)> = Vec::new();
    let mut by_cluster = true;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}: line {}", path.display(), n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: Value = serde_json::from_str(&line)
            .with_context(|| format!("{}: line {}: not a JSON object", path.display(), n + 1))?;
        let label = match (record.get("cluster"), record.get("category")) {
            (Some(c), _) if !c.is_null() => c.to_string(),
            (_, Some(c)) if !c.is_null() => {
                by_cluster = false;
                c.to_string()
            }
            _ => bail!(
                "{}: line {}: no \"cluster\" or \"category\"",
                path.display(),
                n + 1
            ),
        };
        let text = |f: &str| {
            record
                .get(f)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let id = i64::try_from(labels.len())?;
        let (title, body) = (text("title"), text("body"));
        index.put(&Indexed {
            id,
            key: text("id"),
            lang: record
                .get("lang")
                .and_then(Value::as_str)
                .unwrap_or("en")
                .to_string(),
            section: "news".into(),
            headline: title.clone(),
            summary: None,
            body,
            byline: None,
            topics: vec![],
            published: jiff::Timestamp::UNIX_EPOCH,
        })?;
        labels.insert(id, label);
        if !title.trim().is_empty() {
            headlines.push((id, title));
        }
    }
    index.commit()?;
    let ids: Vec<i64> = (0..i64::try_from(labels.len())?).collect();

    let progress = if quiet {
        ProgressBar::hidden()
    } else {
        bar(ids.len(), "baseline")
    };
    let mut baseline = Vec::with_capacity(ids.len());
    let mut lists: HashMap<i64, Vec<(i64, f32)>> = HashMap::new();
    for &id in &ids {
        let ranked = index.neighbours(id, DEPTH)?;
        lists.insert(id, ranked.iter().take(NEIGHBOURS).copied().collect());
        baseline.push((id, ranked.iter().map(|(d, _)| *d).collect::<Vec<_>>()));
        progress.inc(1);
    }
    progress.finish_and_clear();

    let progress = if quiet {
        ProgressBar::hidden()
    } else {
        bar(ids.len(), "dateline")
    };
    let mut dateline = Vec::with_capacity(ids.len());
    for (id, first) in &baseline {
        let mut ranked: Vec<i64> = rank(*id, &|x| lists.get(&x).cloned())
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        let seen: std::collections::HashSet<i64> = ranked.iter().copied().collect();
        ranked.extend(first.iter().filter(|d| !seen.contains(d)));
        dateline.push((*id, ranked));
        progress.inc(1);
    }
    progress.finish_and_clear();

    let mut reciprocal = 0.0;
    for (id, title) in &headlines {
        let found = index.search(
            &SearchQuery {
                text: title.clone(),
                limit: 100,
                ..SearchQuery::default()
            },
            jiff::Timestamp::UNIX_EPOCH,
        )?;
        if let Some(at) = found.hits.iter().position(|h| h.id == *id) {
            reciprocal += 1.0 / (at + 1) as f64;
        }
    }
    let (queries, base) = score(&baseline, &labels);
    let (_, ours) = score(&dateline, &labels);
    Ok(Report {
        queries,
        dateline: ours,
        baseline: base,
        known_item_mrr: (!headlines.is_empty()).then(|| reciprocal / headlines.len() as f64),
        label: if by_cluster {
            "story cluster"
        } else {
            "category"
        },
    })
}
