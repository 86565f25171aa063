//! The threader's follower of the stream: every article that goes live, however it came
//! (written, imported, ingested), is placed in its story thread, or starts one, as its record
//! is read; an article whose text changes is placed again. Of several nodes, the one holding
//! the `threads` lease places; it builds its threader from storage when it takes the lease
//! (after a start, or from a node that stopped), then follows the stream from the position the
//! last holder reached.
//!
//! What editors decided is never undone: an article an editor placed is never moved, a thread
//! an editor touched is never merged automatically (storage refuses both, and the threader
//! mirrors the editor's change when its record comes by). A translation joins its original's
//! thread; a near-duplicate copy of an article of the thread (by [`simhash`]) is marked as one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dateline_core::change::ChangeKind;
use dateline_core::ArticleId;
use dateline_search::threads::{near_duplicates, simhash, Params, Threader};
use dateline_storage::{
    StorageError, Store, ThreadFound, ThreadInput, ThreadLookup, ThreadName, ThreadOp,
};
use jiff::Timestamp;

use crate::webhooks::{next_change, Lease};

/// The follower's name, for its position in the stream and its lease.
pub const CONSUMER: &str = "threads";
/// Records read at a time; their placings are written in one transaction.
const BATCH: u32 = 200;
/// How often the stream is read when no signal comes.
const POLL: Duration = Duration::from_millis(250);
/// The longest a batch may take: the lease has at least this much left when one begins.
const WORK: Duration = Duration::from_secs(10);
/// The most recent copies' fingerprints a thread keeps to find near-duplicates among.
const RECENT: usize = 200;
/// The fewest letters and digits a text needs to be told a copy of another: two short briefs
/// alike in form ("Markets close higher", a line of text) are not copies of one story.
const COPY_CHARS: usize = 200;
/// Articles read at a time when the threader is built from storage.
const REBUILD_BATCH: u32 = 2_000;

/// The threader, with what ties its threads to stored ones.
struct State {
    threader: Threader,
    /// The stored thread of each of the threader's (`None` until the batch that made it is
    /// written).
    stored: Vec<Option<i64>>,
    /// The threader's thread of each stored one.
    internal: HashMap<i64, usize>,
    /// Each thread's representative article and its headline (the thread's title).
    titles: HashMap<usize, (u64, String)>,
    /// Each thread's most recent articles' fingerprints.
    recent: HashMap<usize, Vec<(ArticleId, u64)>>,
}

/// A batch being decided: the operations, and the threads it makes.
#[derive(Default)]
struct Batch {
    ops: Vec<ThreadOp>,
    /// The threader's threads made in this batch, in order of their `ThreadName::New` number.
    made: Vec<usize>,
    /// Stored threads whose articles changed under the threader: filled anew after writing.
    refill: Vec<i64>,
    /// The thread of each translation group placed in this batch, not written yet.
    groups: HashMap<String, usize>,
}

/// Follows the stream and threads every article, until the task is dropped.
pub async fn follow(store: Arc<dyn Store>) {
    let mut lease = Lease::new(CONSUMER, crate::webhooks::CALLING_OUT, WORK);
    let mut signal = store.changes_signal();
    let mut state: Option<State> = None;
    let mut failures: Option<Duration> = None;
    loop {
        if !lease.held(store.as_ref()).await {
            // Another node threads; what this one knew may be old when it holds the lease again.
            state = None;
            tokio::time::sleep(POLL * 4).await;
            continue;
        }
        let outcome = match state.as_mut() {
            None => match rebuild(store.as_ref(), &mut lease).await {
                Ok(Some(built)) => {
                    state = Some(built);
                    Ok(true)
                }
                Ok(None) => Ok(false),
                Err(e) => Err(e),
            },
            Some(s) => step(store.as_ref(), s).await,
        };
        match outcome {
            Ok(more) => {
                failures = None;
                if !more {
                    next_change(&mut signal, POLL).await;
                }
            }
            Err(e) => {
                // What was decided in memory may not have been written: build it again.
                state = None;
                let wait = crate::webhooks::backoff(failures);
                tracing::warn!(error = %e, ?wait, "threading failed; it will be tried again");
                failures = Some(wait);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Builds the threader from the threads in storage, in the order the articles came. Answers
/// `None` if the lease was lost meanwhile.
async fn rebuild(store: &dyn Store, lease: &mut Lease) -> Result<Option<State>, StorageError> {
    let started = std::time::Instant::now();
    let mut state = State {
        threader: Threader::new(Params::default()),
        stored: Vec::new(),
        internal: HashMap::new(),
        titles: HashMap::new(),
        recent: HashMap::new(),
    };
    let mut after = ArticleId::new(0);
    let mut count = 0u64;
    loop {
        if !lease.held(store).await {
            return Ok(None);
        }
        let texts = store.threaded_texts(None, after, REBUILD_BATCH).await?;
        let Some(last) = texts.last() else {
            break;
        };
        after = last.id;
        for t in &texts {
            let internal = state.internal_of(t.thread);
            let body = t.body.text();
            state.threader.add_to(
                t.id.get() as u64,
                t.lang.as_str(),
                &t.headline,
                &body,
                Some(internal),
            );
            if t.frozen {
                state.threader.freeze(internal);
            }
            state.note_title(internal, t.id.get() as u64, &t.headline);
            state.remember(internal, t.id, t.simhash as u64);
            count += 1;
        }
    }
    tracing::info!(
        articles = count,
        threads = state.threader.len(),
        seconds = started.elapsed().as_secs_f64(),
        "the threader is built from storage"
    );
    Ok(Some(state))
}

impl State {
    /// The threader's thread for a stored one, made if it has none yet.
    fn internal_of(&mut self, stored: i64) -> usize {
        if let Some(i) = self.internal.get(&stored) {
            return self.threader.thread_of(*i);
        }
        let i = self.threader.start();
        self.stored.resize(i + 1, None);
        self.stored[i] = Some(stored);
        self.internal.insert(stored, i);
        i
    }

    /// The name the batch gives a thread of the threader.
    fn name(&mut self, internal: usize, batch: &mut Batch) -> ThreadName {
        let internal = self.threader.thread_of(internal);
        if let Some(Some(id)) = self.stored.get(internal) {
            return ThreadName::Stored(*id);
        }
        let n = match batch.made.iter().position(|m| *m == internal) {
            Some(n) => n,
            None => {
                batch.made.push(internal);
                batch.made.len() - 1
            }
        };
        ThreadName::New(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Keeps `headline` as the thread's title if `item` is its representative now.
    fn note_title(&mut self, thread: usize, item: u64, headline: &str) -> bool {
        let thread = self.threader.thread_of(thread);
        if self.threader.representative(thread) == Some(item)
            && self.titles.get(&thread).map(|(i, _)| *i) != Some(item)
        {
            self.titles.insert(thread, (item, headline.to_string()));
            return true;
        }
        false
    }

    fn remember(&mut self, thread: usize, article: ArticleId, fingerprint: u64) {
        let list = self.recent.entry(thread).or_default();
        list.retain(|(a, _)| *a != article);
        list.push((article, fingerprint));
        if list.len() > RECENT {
            list.remove(0);
        }
    }

    /// The earliest article of the thread the fingerprint is a near-duplicate of.
    fn copy_of(&self, thread: usize, article: ArticleId, fingerprint: u64) -> Option<ArticleId> {
        self.recent.get(&thread).and_then(|list| {
            list.iter()
                .find(|(a, f)| *a != article && near_duplicates(*f, fingerprint))
                .map(|(a, _)| *a)
        })
    }
}

/// Reads the next records and threads the articles they name; answers whether there may be
/// more to read at once.
async fn step(store: &dyn Store, state: &mut State) -> Result<bool, StorageError> {
    let position = store.stream_position(CONSUMER).await?;
    let changes = store.changes_after(position, BATCH).await?;
    let Some(last) = changes.last().map(|c| c.position) else {
        return Ok(false);
    };
    let now = Timestamp::now();
    let mut batch = Batch::default();
    // The articles named up to the next editor's decision, read in one query; each is placed
    // once, however many of its records the batch holds (the read shows it as it is now).
    let mut inputs: Option<HashMap<ArticleId, ThreadInput>> = None;
    for (at, change) in changes.iter().enumerate() {
        match change.kind {
            ChangeKind::ArticlePublished | ChangeKind::ArticleUpdated => {
                let Some(id) = change.article else {
                    continue;
                };
                if inputs.is_none() {
                    let ids: Vec<ArticleId> = changes[at..]
                        .iter()
                        .take_while(|c| c.kind != ChangeKind::ThreadChanged)
                        .filter(|c| {
                            matches!(
                                c.kind,
                                ChangeKind::ArticlePublished | ChangeKind::ArticleUpdated
                            )
                        })
                        .filter_map(|c| c.article)
                        .collect();
                    let read = store.thread_inputs(&ids, now).await?;
                    inputs = Some(read.into_iter().map(|i| (i.id, i)).collect());
                }
                if let Some(input) = inputs.as_mut().and_then(|i| i.remove(&id)) {
                    place(state, &mut batch, input);
                }
            }
            ChangeKind::ThreadChanged => {
                // An editor's decision (or a merge this follower wrote): the threads it
                // reached are filled anew from storage, after what is decided so far is written,
                // and the articles after it are read anew.
                write(store, state, &mut batch, now).await?;
                inputs = None;
                if own_merge(state, change) {
                    continue;
                }
                for thread in change
                    .reach
                    .iter()
                    .filter_map(|t| t.strip_prefix("thread:"))
                    .filter_map(|t| t.parse::<i64>().ok())
                {
                    refill(store, state, thread).await?;
                }
            }
            _ => {}
        }
    }
    write(store, state, &mut batch, now).await?;
    store.set_stream_position(CONSUMER, last).await?;
    Ok(changes.len() == BATCH as usize)
}

/// Whether a record tells of a merge this threader made itself (a thread taken into another,
/// as [`absorb`] wrote): what it knows already, with nothing to read again.
fn own_merge(state: &State, change: &dateline_core::change::Change) -> bool {
    let threads: Vec<usize> = change
        .reach
        .iter()
        .filter_map(|t| t.strip_prefix("thread:"))
        .filter_map(|t| t.parse::<i64>().ok())
        .filter_map(|t| state.internal.get(&t).copied())
        .collect();
    // An editor's merge is news to the threader: the two are apart in memory until refilled.
    match threads.as_slice() {
        [gone, into] => {
            gone != into && state.threader.thread_of(*gone) == state.threader.thread_of(*into)
        }
        _ => false,
    }
}

/// Decides where an article goes.
fn place(state: &mut State, batch: &mut Batch, input: ThreadInput) {
    let id = input.id;
    if !input.live {
        return;
    }
    let body = input.body.text();
    let digest = dateline_core::digest::stable_digest(
        format!("{}\n{}\n{}", input.lang.as_str(), input.headline, body).as_bytes(),
    );
    let fingerprint = simhash(&input.headline, &body);
    let long_enough = body.chars().filter(|c| c.is_alphanumeric()).count() >= COPY_CHARS;
    let item = id.get() as u64;
    let lang = input.lang.as_str();
    let (thread, copy) = match &input.membership {
        // Placed by this text already, or where an editor decided.
        Some(m) if m.digest == digest || m.by_editor || m.frozen => return,
        Some(m) => {
            // Its text changed: placed again, and the thread it was in is filled anew.
            let placed = state.threader.add(item, lang, &input.headline, &body);
            absorb(state, batch, &placed.absorbed, placed.thread);
            if state.stored.get(placed.thread) != Some(&Some(m.thread)) {
                batch.refill.push(m.thread);
            }
            (
                placed.thread,
                state
                    .copy_of(placed.thread, id, fingerprint)
                    .filter(|_| long_enough),
            )
        }
        None => match input
            .group_thread
            .map(|stored| state.internal_of(stored))
            .or_else(|| batch.groups.get(&input.group).copied())
        {
            // A translation joins the thread of its original (or of a translation before it).
            Some(internal) => {
                let t = state
                    .threader
                    .add_to(item, lang, &input.headline, &body, Some(internal));
                (t, None)
            }
            None => {
                let placed = state.threader.add(item, lang, &input.headline, &body);
                absorb(state, batch, &placed.absorbed, placed.thread);
                (
                    placed.thread,
                    state
                        .copy_of(placed.thread, id, fingerprint)
                        .filter(|_| long_enough),
                )
            }
        },
    };
    batch.groups.entry(input.group.clone()).or_insert(thread);
    let name = state.name(thread, batch);
    if state.note_title(thread, item, &input.headline) {
        batch.ops.push(ThreadOp::Title {
            thread: name,
            title: input.headline.clone(),
        });
    }
    batch.ops.push(ThreadOp::Place {
        article: id,
        thread: name,
        digest,
        simhash: fingerprint as i64,
        duplicate_of: copy,
    });
    state.remember(thread, id, fingerprint);
}

/// Notes the threads the threader took into `into`, and the title that stays.
fn absorb(state: &mut State, batch: &mut Batch, absorbed: &[usize], into: usize) {
    let into_name = state.name(into, batch);
    for gone in absorbed {
        let gone_name = match state.stored.get(*gone) {
            Some(Some(id)) => ThreadName::Stored(*id),
            _ => match batch.made.iter().position(|m| m == gone) {
                Some(n) => ThreadName::New(u32::try_from(n).unwrap_or(u32::MAX)),
                // Made and taken in before anything was written for it.
                None => continue,
            },
        };
        batch.ops.push(ThreadOp::Absorb {
            gone: gone_name,
            into: into_name,
        });
        if let Some(list) = state.recent.remove(gone) {
            for (a, f) in list {
                state.remember(into, a, f);
            }
        }
        if let Some((item, title)) = state.titles.remove(gone) {
            if state.threader.representative(into) == Some(item) {
                state.titles.insert(into, (item, title.clone()));
                batch.ops.push(ThreadOp::Title {
                    thread: into_name,
                    title,
                });
            }
        }
    }
}

/// Writes what the batch decided, and ties the threads it made to their stored ids.
async fn write(
    store: &dyn Store,
    state: &mut State,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<(), StorageError> {
    if batch.ops.is_empty() {
        return Ok(());
    }
    let made = store.apply_threading(&batch.ops, now).await?;
    for (internal, id) in batch.made.iter().zip(made) {
        if state.stored.len() <= *internal {
            state.stored.resize(internal + 1, None);
        }
        state.stored[*internal] = Some(id);
        state.internal.insert(id, *internal);
    }
    let refill_these = std::mem::take(&mut batch.refill);
    *batch = Batch::default();
    for thread in refill_these {
        refill(store, state, thread).await?;
    }
    Ok(())
}

/// Makes the threader's thread of a stored one anew from its articles in storage (an editor
/// moved some in or out, merged it, or an article's new text took it elsewhere).
async fn refill(store: &dyn Store, state: &mut State, thread: i64) -> Result<(), StorageError> {
    match store.thread(thread, ThreadLookup::Whole).await? {
        None => Ok(()),
        Some(ThreadFound::MergedInto(into)) => {
            let gone = state.internal_of(thread);
            let keep = state.internal_of(into);
            state.threader.merge_into(gone, keep);
            if let Some(list) = state.recent.remove(&gone) {
                for (a, f) in list {
                    state.remember(keep, a, f);
                }
            }
            state.internal.insert(thread, keep);
            Box::pin(refill(store, state, into)).await
        }
        Some(ThreadFound::Thread(found)) => {
            let internal = state.internal_of(thread);
            let mut texts = Vec::new();
            let mut after = ArticleId::new(0);
            loop {
                let page = store
                    .threaded_texts(Some(thread), after, REBUILD_BATCH)
                    .await?;
                let Some(last) = page.last() else {
                    break;
                };
                after = last.id;
                texts.extend(page);
            }
            let bodies: Vec<String> = texts.iter().map(|t| t.body.text()).collect();
            state.threader.refill(
                internal,
                texts.iter().zip(&bodies).map(|(t, body)| {
                    (
                        t.id.get() as u64,
                        t.lang.as_str(),
                        t.headline.as_str(),
                        body.as_str(),
                    )
                }),
            );
            if found.frozen {
                state.threader.freeze(internal);
            }
            state.recent.insert(
                internal,
                texts
                    .iter()
                    .rev()
                    .take(RECENT)
                    .rev()
                    .map(|t| (t.id, t.simhash as u64))
                    .collect(),
            );
            state.titles.remove(&internal);
            for t in &texts {
                state.note_title(internal, t.id.get() as u64, &t.headline);
            }
            Ok(())
        }
    }
}
