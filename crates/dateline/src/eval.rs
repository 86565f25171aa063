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

/// The records of a labelled corpus in JSON Lines, each with its line number (from 0), blank
/// lines left out; a line that is no JSON is an error naming it.
fn json_lines(path: &Path) -> anyhow::Result<Vec<(usize, Value)>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("failed to open {}", path.display()))?;
    let mut records = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}: line {}", path.display(), n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: Value = serde_json::from_str(&line)
            .with_context(|| format!("{}: line {}: not a JSON object", path.display(), n + 1))?;
        records.push((n, record));
    }
    Ok(records)
}

/// A record's text field, or nothing.
fn text_of(record: &Value, field: &str) -> String {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Reads the corpus, indexes it in memory, and ranks every article's others both ways.
pub fn related(path: &Path, quiet: bool) -> anyhow::Result<Report> {
    let index = SearchIndex::in_memory()?;
    let mut labels: HashMap<i64, String> = HashMap::new();
    let mut headlines: Vec<(i64, String)> = Vec::new();
    let mut by_cluster = true;
    for (n, record) in json_lines(path)? {
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
        let text = |f: &str| text_of(&record, f);
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

/// What `dateline eval threads` measured: means over the orders.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ThreadsReport {
    pub items: usize,
    pub orders: usize,
    pub threads: f64,
    pub nmi: f64,
    pub ari: f64,
    pub ami: f64,
    pub items_per_second: f64,
}

impl ThreadsReport {
    pub fn json(&self) -> Value {
        json!({
            "items": self.items,
            "orders": self.orders,
            "threads": self.threads,
            "nmi": self.nmi,
            "ari": self.ari,
            "ami": self.ami,
            "items_per_second": self.items_per_second,
        })
    }

    pub fn table(&self) -> String {
        format!(
            "{} items, {} orders (means)\nthreads {:.1}\nNMI     {:.4}\nARI     {:.4}\nAMI     {:.4}\nitems a second {:.0}\n",
            self.items, self.orders, self.threads, self.nmi, self.ari, self.ami, self.items_per_second
        )
    }
}

/// Streams a labelled corpus (JSON Lines: `title`, `body`, `cluster`, optionally `lang`)
/// through the threader one item at a time, as publishing would, in `orders` random orders
/// (seeded by `seed`, `seed + 1`, ...), and compares the threads with the labels.
pub fn threads(
    path: &Path,
    orders: usize,
    seed: u64,
    params: dateline_search::threads::Params,
) -> anyhow::Result<ThreadsReport> {
    use dateline_search::threads::Threader;
    let mut items: Vec<(String, String, String)> = Vec::new();
    let mut labels: Vec<usize> = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    for (n, record) in json_lines(path)? {
        let Some(cluster) = record.get("cluster").filter(|c| !c.is_null()) else {
            bail!("{}: line {}: no \"cluster\"", path.display(), n + 1);
        };
        let next = names.len();
        labels.push(*names.entry(cluster.to_string()).or_insert(next));
        let text = |f: &str| text_of(&record, f);
        let lang = record
            .get("lang")
            .and_then(Value::as_str)
            .unwrap_or("en")
            .to_string();
        items.push((lang, text("title"), text("body")));
    }
    if items.is_empty() {
        bail!("{}: no items", path.display());
    }
    let orders = orders.max(1);
    let (mut nmi, mut ari, mut ami, mut threads, mut seconds) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for k in 0..orders {
        let mut order: Vec<usize> = (0..items.len()).collect();
        let mut rng = crate::bench::Rng(
            seed.wrapping_add(k as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                | 1,
        );
        for i in (1..order.len()).rev() {
            let j = usize::try_from(rng.below(i as u64 + 1)).unwrap_or(0);
            order.swap(i, j);
        }
        let mut threader = Threader::new(params);
        let mut assigned = vec![0usize; items.len()];
        let started = std::time::Instant::now();
        for &i in &order {
            let (lang, title, body) = &items[i];
            assigned[i] = threader.add(i as u64, lang, title, body).thread;
        }
        seconds += started.elapsed().as_secs_f64();
        // Threads taken into others since an item joined them count as the one they are now.
        let found: Vec<usize> = assigned.iter().map(|t| threader.thread_of(*t)).collect();
        let a = dateline_search::eval::agreement(&labels, &found);
        nmi += a.nmi;
        ari += a.ari;
        ami += a.ami;
        threads += threader.len() as f64;
    }
    let k = orders as f64;
    Ok(ThreadsReport {
        items: items.len(),
        orders,
        threads: threads / k,
        nmi: nmi / k,
        ari: ari / k,
        ami: ami / k,
        items_per_second: (items.len() as f64 * k) / seconds.max(f64::EPSILON),
    })
}
