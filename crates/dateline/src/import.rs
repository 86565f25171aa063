//! `dateline import`: JSON Lines files into the store, in batches, with a progress bar.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::Context;
use dateline_core::import::{parse_line, ImportOptions};
use dateline_core::NewArticle;
use dateline_storage::{Store, Upserted};
use indicatif::ProgressBar;

/// A line that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: line {}: {}", self.file, self.line, self.reason)
    }
}

/// What an import did.
#[derive(Debug, Default, Clone)]
pub struct ImportReport {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: Vec<Rejected>,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} inserted, {} updated, {} unchanged, {} rejected",
            self.inserted,
            self.updated,
            self.unchanged,
            self.rejected.len()
        )
    }
}

/// Lines a transaction stores. A bigger batch writes an index page that many articles share
/// (a topic's, a reporter's) once for all of them rather than once for each few; 2,000 hold the
/// write lock for a fifth of a second or so.
const BATCH: usize = 2000;

/// Imports one JSON Lines file. Valid lines are committed in batches; each rejected line is
/// reported with its number and reason. A line whose id an earlier line of the file already
/// gave is rejected, naming that line: which of the two is right is the editor's call.
///
/// Reading and checking lines (the sanitizer's work, most of an import's) runs on a thread of
/// its own, a batch or two ahead of the writer, so the two share the machine's cores.
pub async fn import_file(
    store: &dyn Store,
    path: &Path,
    options: &ImportOptions,
    progress: bool,
) -> anyhow::Result<ImportReport> {
    let name = path.display().to_string();
    let file = File::open(path).with_context(|| format!("failed to open {name}"))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = crate::progress_bar(
        size,
        "{msg} [{bar:30}] {bytes}/{total_bytes} {per_sec} eta {eta}",
        progress,
    );
    bar.set_message(name.clone());

    let (batches, mut parsed) = tokio::sync::mpsc::channel::<Parsed>(2);
    let reader = {
        let name = name.clone();
        let options = options.clone();
        let bar = bar.clone();
        tokio::task::spawn_blocking(move || read_batches(file, &name, &options, &bar, &batches))
    };
    let mut report = ImportReport::default();
    while let Some(Parsed {
        mut batch,
        rejected,
    }) = parsed.recv().await
    {
        report.rejected.extend(rejected);
        store_batch(store, &name, &mut batch, &mut report).await?;
    }
    let lines = reader
        .await
        .map_err(|e| anyhow::anyhow!("reading {name} failed: {e}"))??;
    bar.finish_and_clear();
    tracing::info!(file = %name, lines, %report, "imported");
    Ok(report)
}

/// A batch of checked lines, with the lines before its end that were rejected.
struct Parsed {
    batch: Batch,
    rejected: Vec<Rejected>,
}

/// Reads and checks the file's lines, sending them on in batches; answers how many lines it
/// read. Stops early if the writer has gone (it failed).
fn read_batches(
    file: File,
    name: &str,
    options: &ImportOptions,
    bar: &ProgressBar,
    batches: &tokio::sync::mpsc::Sender<Parsed>,
) -> anyhow::Result<u64> {
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut batch = Batch::default();
    let mut rejected = Vec::new();
    let mut number = 0u64;
    let mut buf = Vec::new();
    let mut first_lines: HashMap<String, u64> = HashMap::new();
    let send = |batch: Batch, rejected: Vec<Rejected>| {
        batches.blocking_send(Parsed { batch, rejected }).is_ok()
    };
    loop {
        buf.clear();
        let (read, complete) = read_bounded_line(&mut reader, &mut buf, options.max_line_bytes)
            .with_context(|| format!("failed to read {name} after line {number}"))?;
        if read == 0 {
            break;
        }
        number += 1;
        bar.inc(read as u64);
        let outcome = if !complete {
            Err(format!(
                "the line is over the limit of {} bytes (--max-line-bytes)",
                options.max_line_bytes
            ))
        } else {
            // A byte order mark before the first line is how some editors save UTF-8.
            let bytes = match number {
                1 => buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf),
                _ => &buf,
            };
            match std::str::from_utf8(bytes) {
                Err(e) => Err(format!("not valid UTF-8: {e}")),
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => {
                    parse_line(text.trim_end_matches(['\n', '\r']), options).map_err(|e| e.0)
                }
            }
        };
        let outcome = outcome.and_then(|article| match first_lines.get(article.key().as_str()) {
            Some(first) => Err(format!(
                "id {:?} is already on line {first} of this file; this line was not imported",
                article.key().as_str()
            )),
            None => {
                first_lines.insert(article.key().to_string(), number);
                Ok(article)
            }
        });
        match outcome {
            Ok(article) => {
                batch.lines.push(number);
                batch.articles.push(article);
            }
            Err(reason) => rejected.push(Rejected {
                file: name.to_string(),
                line: number,
                reason,
            }),
        }
        if batch.articles.len() >= BATCH
            && !send(std::mem::take(&mut batch), std::mem::take(&mut rejected))
        {
            return Ok(number);
        }
    }
    send(batch, rejected);
    Ok(number)
}

/// Parsed articles waiting to be stored, with the line each came from.
#[derive(Default)]
struct Batch {
    lines: Vec<u64>,
    articles: Vec<NewArticle>,
}

async fn store_batch(
    store: &dyn Store,
    name: &str,
    batch: &mut Batch,
    report: &mut ImportReport,
) -> anyhow::Result<()> {
    if batch.articles.is_empty() {
        return Ok(());
    }
    let outcomes = store
        .import_articles(&batch.articles, jiff::Timestamp::now())
        .await
        .with_context(|| format!("failed to store lines of {name}"))?;
    for (line, outcome) in batch.lines.iter().zip(outcomes) {
        match outcome {
            Ok(Upserted::Inserted(_)) => report.inserted += 1,
            Ok(Upserted::Updated(_)) => report.updated += 1,
            Ok(Upserted::Unchanged(_)) => report.unchanged += 1,
            Err(e) => report.rejected.push(Rejected {
                file: name.to_string(),
                line: *line,
                reason: e.to_string(),
            }),
        }
    }
    batch.lines.clear();
    batch.articles.clear();
    Ok(())
}

/// Reads one line into `buf`, keeping at most `max` bytes of it; returns the bytes consumed and
/// whether the line fit. An oversized line is consumed whole without being held in memory.
fn read_bounded_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut complete = true;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok((consumed, complete));
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        if complete && buf.len() + chunk.len() <= max.saturating_add(2) {
            buf.extend_from_slice(chunk);
        } else {
            complete = false;
            buf.clear();
        }
        let n = chunk.len();
        reader.consume(n);
        consumed += n;
        if done {
            return Ok((consumed, complete));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines() {
        let mut r = BufReader::with_capacity(4, &b"short\nthis one is far too long\nok\n"[..]);
        let mut buf = Vec::new();
        assert_eq!(read_bounded_line(&mut r, &mut buf, 10).unwrap(), (6, true));
        assert_eq!(buf, b"short\n");
        buf.clear();
        assert_eq!(
            read_bounded_line(&mut r, &mut buf, 10).unwrap(),
            (25, false)
        );
        buf.clear();
        assert_eq!(read_bounded_line(&mut r, &mut buf, 10).unwrap(), (3, true));
        assert_eq!(buf, b"ok\n");
        buf.clear();
        assert_eq!(read_bounded_line(&mut r, &mut buf, 10).unwrap(), (0, true));
    }
}
