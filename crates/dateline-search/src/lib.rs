//! The search index: published articles in an embedded tantivy index, analyzed per language,
//! searched with relevance blended with recency, and the neighbours each article has by its
//! content, from which related stories are ranked (`related.rs`).
//!
//! The index holds only what readers may see: its follower (in `dateline-web`) puts an article
//! in when the stream of changes says it went live and takes it out when it leaves the site.
//! Everything in it can be rebuilt from the database.

use std::ops::Range;
use std::path::Path;
use std::sync::Mutex;

use jiff::Timestamp;
use tantivy::collector::TopDocs;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, OwnedValue, Schema, TextFieldIndexing, TextOptions, Value, FAST,
    INDEXED, STORED, STRING,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{
    DateTime, DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term,
};

pub mod analysis;
pub mod eval;
mod folder;
mod graph;
pub mod related;
pub mod threads;

/// The language groups, each with its own title and body fields.
const GROUPS: [&str; 4] = ["en", "ru", "zh", "plain"];
/// How long a neighbour list is used before it is read again in the background.
pub const LIST_LIFETIME: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
/// The memory the index writer may use before it flushes.
const WRITER_MEMORY: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("the search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error(
        "the search index at {0} was made by another version of Dateline: run `dateline reindex`"
    )]
    Schema(String),
    #[error("the query: {0}")]
    Query(String),
    #[error("the search index could not be read: {0}")]
    Io(#[from] std::io::Error),
    #[error("the neighbour graph beside the search index: {0}")]
    Graph(String),
}

/// An article as the index takes it.
#[derive(Debug, Clone)]
pub struct Indexed {
    pub id: i64,
    pub key: String,
    pub lang: String,
    pub section: String,
    pub headline: String,
    pub summary: Option<String>,
    /// The body as plain text.
    pub body: String,
    pub byline: Option<String>,
    pub topics: Vec<String>,
    pub published: Timestamp,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    key: Field,
    lang: Field,
    section: Field,
    topic: Field,
    byline: Field,
    byline_exact: Field,
    published: Field,
    spell: Field,
    title: [Field; 4],
    body: [Field; 4],
}

fn text(analyzer: &str, stored: bool) -> TextOptions {
    let options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(analyzer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    if stored {
        options.set_stored()
    } else {
        options
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let id = b.add_i64_field("id", INDEXED | STORED | FAST);
    let key = b.add_text_field("key", STRING | STORED);
    let lang = b.add_text_field("lang", STRING | STORED | FAST);
    let section = b.add_text_field("section", STRING | STORED | FAST);
    let topic = b.add_text_field("topic", STRING | STORED);
    let byline = b.add_text_field("byline", text("dl_plain", true));
    let byline_exact = b.add_text_field("byline_exact", STRING);
    let published = b.add_date_field("published", INDEXED | STORED | FAST);
    let spell = b.add_text_field("spell", text("dl_plain", false));
    let mut title = [id; 4];
    let mut body = [id; 4];
    for (i, g) in GROUPS.iter().enumerate() {
        title[i] = b.add_text_field(&format!("title_{g}"), text(&format!("dl_{g}"), true));
        body[i] = b.add_text_field(&format!("body_{g}"), text(&format!("dl_{g}"), true));
    }
    let fields = Fields {
        id,
        key,
        lang,
        section,
        topic,
        byline,
        byline_exact,
        published,
        spell,
        title,
        body,
    };
    (b.build(), fields)
}

fn group_index(lang: &str) -> usize {
    let g = analysis::group(lang);
    GROUPS.iter().position(|x| *x == g).unwrap_or(3)
}

/// What a reader asks: words, and filters.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub text: String,
    pub section: Option<String>,
    pub lang: Option<String>,
    pub topic: Option<String>,
    pub byline: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub limit: usize,
    pub offset: usize,
}

/// A part of a snippet: text, highlighted where it matched.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Part {
    pub text: String,
    pub mark: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Hit {
    pub id: i64,
    pub key: String,
    pub headline: String,
    pub lang: String,
    pub section: String,
    pub published: String,
    pub snippet: Vec<Part>,
    pub score: f32,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchResults {
    /// How many matched: exactly, or at least (when `exact` is false).
    pub total: usize,
    pub exact: bool,
    pub hits: Vec<Hit>,
    /// A query with each unknown word replaced by the nearest known one, when there is one.
    pub did_you_mean: Option<String>,
}

/// The search index, shared by readers and the one writer.
pub struct SearchIndex {
    /// Counts the commits, so that what was read from the index can tell it is out of date.
    generation: std::sync::atomic::AtomicU64,
    /// Each article's neighbour list, kept once read (`graph.rs`).
    graph: graph::Graph,
    /// The articles put in or taken out since the last commit: their lists go at the commit.
    changed: Mutex<Vec<i64>>,
    /// The articles whose lists went at a commit and were not read again since.
    unlisted: Mutex<std::collections::BTreeSet<i64>>,
    /// Whether the graph is still to be looked through for missing lists.
    unscanned: std::sync::atomic::AtomicBool,
    /// Whether the index holds the whole archive (not in the middle of a rebuild).
    settled: std::sync::atomic::AtomicBool,
    /// Where the refreshing of old lists goes on from.
    cursor: std::sync::atomic::AtomicI64,
    /// When (unix seconds) the refreshing goes round again: the oldest list of the last round
    /// comes of age then.
    resting: std::sync::atomic::AtomicI64,
    /// The oldest list the round going on has seen that was not yet of age.
    round_oldest: std::sync::atomic::AtomicI64,
    /// The document frequencies the graph's growth has read, while it lasts.
    growing: Mutex<Frequencies>,
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Opens the index in `dir`, making it if it is not there.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| SearchError::Query(format!("{}: {e}", dir.display())))?;
        let (schema, fields) = schema();
        let directory = folder::IndexFolder::open(dir)
            .map_err(|e| SearchError::Query(format!("{}: {e}", dir.display())))?;
        let index = Index::open_or_create(directory, schema)
            .map_err(|_| SearchError::Schema(dir.display().to_string()))?;
        // The graph is opened after the index's writer lock is taken: a second process (a
        // `dateline reindex` beside a running server) meets tantivy's lock, which says so.
        SearchIndex::with(index, fields, || graph::Graph::open(dir))
    }

    /// An index in memory, for evaluations and tests.
    pub fn in_memory() -> Result<SearchIndex, SearchError> {
        let (schema, fields) = schema();
        SearchIndex::with(
            Index::create_in_ram(schema),
            fields,
            graph::Graph::in_memory,
        )
    }

    fn with(
        index: Index,
        fields: Fields,
        graph: impl FnOnce() -> Result<graph::Graph, SearchError>,
    ) -> Result<SearchIndex, SearchError> {
        for (name, analyzer) in analysis::analyzers() {
            index.tokenizers().register(name, analyzer);
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let writer = index.writer(WRITER_MEMORY)?;
        let graph = graph()?;
        Ok(SearchIndex {
            generation: std::sync::atomic::AtomicU64::new(0),
            graph,
            changed: Mutex::new(Vec::new()),
            unlisted: Mutex::new(std::collections::BTreeSet::new()),
            unscanned: std::sync::atomic::AtomicBool::new(true),
            growing: Mutex::new(Frequencies::default()),
            settled: std::sync::atomic::AtomicBool::new(true),
            cursor: std::sync::atomic::AtomicI64::new(i64::MIN),
            resting: std::sync::atomic::AtomicI64::new(0),
            round_oldest: std::sync::atomic::AtomicI64::new(i64::MAX),
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
        })
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        // A writer is never left half-used by a panic: its operations are whole or not at all.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts an article in, replacing what the index had of it.
    pub fn put(&self, a: &Indexed) -> Result<(), SearchError> {
        let f = &self.fields;
        let g = group_index(&a.lang);
        let mut doc = TantivyDocument::default();
        doc.add_i64(f.id, a.id);
        doc.add_text(f.key, &a.key);
        doc.add_text(f.lang, &a.lang);
        doc.add_text(f.section, &a.section);
        for t in &a.topics {
            doc.add_text(f.topic, t);
        }
        if let Some(b) = &a.byline {
            doc.add_text(f.byline, b);
            doc.add_text(f.byline_exact, b.to_lowercase());
        }
        doc.add_date(
            f.published,
            DateTime::from_timestamp_secs(a.published.as_second()),
        );
        doc.add_text(f.title[g], &a.headline);
        let body = match &a.summary {
            Some(s) if !s.is_empty() => format!("{s}\n{}", a.body),
            _ => a.body.clone(),
        };
        doc.add_text(f.body[g], &body);
        if g != 2 {
            doc.add_text(f.spell, format!("{} {body}", a.headline));
        }
        let writer = self.writer();
        writer.delete_term(Term::from_field_i64(f.id, a.id));
        writer.add_document(doc)?;
        self.forget(a.id);
        Ok(())
    }

    fn forget(&self, id: i64) {
        self.changed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id);
    }

    /// An article's neighbour list, as [`SearchIndex::neighbours`] reads it with
    /// [`related::NEIGHBOURS`] of them: from the graph when it is kept there, otherwise read
    /// from the index and kept (unless the index changed meanwhile, or is being rebuilt: what
    /// was read then may already be out of date).
    pub fn neighbour_list(&self, id: i64) -> Result<Vec<(i64, f32)>, SearchError> {
        if let Some((_, list)) = self.graph.get(id)? {
            return Ok(list);
        }
        let seen = self.generation();
        match self.neighbours_found(id, related::NEIGHBOURS, &mut Frequencies::default())? {
            Some(list) => {
                if self.settled() && self.generation() == seen {
                    self.graph.put(&[(id, list.clone())])?;
                    // A commit that came between the check and the put: what was read may be
                    // of the old text.
                    if self.generation() != seen {
                        self.graph.remove(&[id])?;
                    }
                }
                Ok(list)
            }
            None => Ok(vec![]),
        }
    }

    fn settled(&self) -> bool {
        self.settled.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Says whether the index holds the whole archive (its follower has caught up after a
    /// rebuild): until it does, no neighbour list is kept, since it would miss what is still
    /// to come.
    pub fn set_settled(&self, settled: bool) {
        self.settled
            .store(settled, std::sync::atomic::Ordering::Release);
    }

    /// Keeps the graph up to date around articles just put in: each one's list is read anew,
    /// and so are the lists of its nearest neighbours ([`related::EXPAND`] of them, those a
    /// ranking reads), which a new arrival is most likely to join.
    pub fn keep_graph(&self, ids: &[i64]) -> Result<(), SearchError> {
        if !self.settled() {
            return Ok(());
        }
        let mut done = std::collections::HashSet::new();
        let mut frequencies = Frequencies::default();
        for id in ids {
            let Some(own) = self.neighbours_found(*id, related::NEIGHBOURS, &mut frequencies)?
            else {
                continue;
            };
            let mut lists = vec![(*id, own.clone())];
            done.insert(*id);
            for (n, _) in own.iter().take(related::EXPAND) {
                if done.insert(*n) {
                    if let Some(list) =
                        self.neighbours_found(*n, related::NEIGHBOURS, &mut frequencies)?
                    {
                        lists.push((*n, list));
                    }
                }
            }
            self.graph.put(&lists)?;
            let mut unlisted = self.unlisted();
            for (n, _) in &lists {
                unlisted.remove(n);
            }
        }
        Ok(())
    }

    /// Reads the lists of articles that have none kept, newest first, until `budget` has
    /// passed; answers how many are still to read. The first call after the index is opened
    /// looks through the whole graph for what is missing; after that, the articles put in
    /// without their lists being read (a rebuild, an import) are the ones to read.
    pub fn grow_graph(&self, budget: std::time::Duration) -> Result<usize, SearchError> {
        if !self.settled() {
            return Ok(0);
        }
        let started = std::time::Instant::now();
        if self.unscanned.load(std::sync::atomic::Ordering::Acquire) {
            let ids = self.ids()?;
            let mut missing = Vec::new();
            for chunk in ids.chunks(1024) {
                let kept = self.graph.has(chunk)?;
                missing.extend(
                    chunk
                        .iter()
                        .zip(kept)
                        .filter(|(_, k)| !k)
                        .map(|(id, _)| *id),
                );
            }
            self.unlisted().extend(missing);
            self.unscanned
                .store(false, std::sync::atomic::Ordering::Release);
        }
        let mut frequencies = self.growing.lock().unwrap_or_else(|e| e.into_inner());
        while started.elapsed() < budget {
            let Some(id) = self.unlisted().pop_last() else {
                break;
            };
            if self.graph.get(id)?.is_none() {
                if let Some(list) =
                    self.neighbours_found(id, related::NEIGHBOURS, &mut frequencies)?
                {
                    self.graph.put(&[(id, list)])?;
                }
            }
        }
        let left = self.unlisted().len();
        if left == 0 {
            // The graph is whole: what was kept for its growth goes.
            *frequencies = Frequencies::default();
            drop(frequencies);
            self.refresh(budget.saturating_sub(started.elapsed()) / 4)?;
        }
        Ok(left)
    }

    /// Reads again, within `budget`, lists older than [`LIST_LIFETIME`], going round the graph
    /// from where the last turn stopped: stories that arrived in a batch too big to be placed
    /// one by one, and articles that left, find their way into and out of older lists.
    ///
    /// A round that found every list younger than that rests until the oldest of them reaches
    /// it: until then there is nothing to read, and going round a million lists again and again
    /// would keep a core busy for nothing.
    fn refresh(&self, budget: std::time::Duration) -> Result<(), SearchError> {
        use std::sync::atomic::Ordering;
        let started = std::time::Instant::now();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        if now < self.resting.load(Ordering::Acquire) {
            return Ok(());
        }
        let lifetime = i64::try_from(LIST_LIFETIME.as_secs()).unwrap_or(i64::MAX);
        let older = now.saturating_sub(lifetime);
        let mut cursor = self.cursor.load(Ordering::Acquire);
        let mut frequencies = Frequencies::default();
        while started.elapsed() < budget {
            let (stale, last, oldest) = self.graph.older(cursor, older, 256)?;
            self.round_oldest.fetch_min(oldest, Ordering::AcqRel);
            let mut cut = false;
            for id in stale {
                if started.elapsed() >= budget {
                    cut = true;
                    break;
                }
                let seen = self.generation();
                match self.neighbours_found(id, related::NEIGHBOURS, &mut frequencies)? {
                    Some(list) if self.generation() == seen => {
                        self.graph.put(&[(id, list)])?;
                        if self.generation() != seen {
                            self.graph.remove(&[id])?;
                        }
                    }
                    Some(_) => {}
                    None => self.graph.remove(&[id])?,
                }
                cursor = id;
            }
            match last {
                _ if cut => break,
                Some(last) if started.elapsed() < budget => cursor = last,
                Some(_) => break,
                // The round is over: the next begins when its oldest list comes of age (a list
                // read from now on is younger).
                None => {
                    cursor = i64::MIN;
                    let oldest = self.round_oldest.swap(i64::MAX, Ordering::AcqRel).min(now);
                    self.resting
                        .store(oldest.saturating_add(lifetime), Ordering::Release);
                    break;
                }
            }
        }
        self.cursor.store(cursor, Ordering::Release);
        Ok(())
    }

    fn unlisted(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<i64>> {
        self.unlisted.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many articles of the index still wait for their neighbour list to be read (after an
    /// import or a rebuild, the graph grows while readers leave the machine idle); `None` until
    /// the graph has been looked through once.
    pub fn lists_missing(&self) -> Option<u64> {
        if self.unscanned.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        u64::try_from(self.unlisted().len()).ok()
    }

    /// How many articles have their neighbour list kept.
    pub fn graph_len(&self) -> Result<u64, SearchError> {
        self.graph.len()
    }

    /// Takes an article out.
    pub fn remove(&self, id: i64) {
        self.writer()
            .delete_term(Term::from_field_i64(self.fields.id, id));
        self.forget(id);
    }

    /// Takes every article out (before a rebuild), and their neighbour lists.
    pub fn clear(&self) -> Result<(), SearchError> {
        self.writer().delete_all_documents()?;
        self.graph.clear()?;
        self.unlisted().clear();
        // Until the rebuild is done, no list is kept: it would miss the rest of the archive.
        self.set_settled(false);
        Ok(())
    }

    /// Makes what was put in and taken out visible to searches.
    /// The lists of the articles that changed are forgotten (to be read again from what is
    /// now in the index), and the graph is made durable with it.
    pub fn commit(&self) -> Result<(), SearchError> {
        self.commit_at(None)
    }

    /// [`SearchIndex::commit`], recording with it the position in the stream of changes that
    /// the index now holds everything up to: see [`SearchIndex::position`].
    pub fn commit_at(&self, position: Option<i64>) -> Result<(), SearchError> {
        let changed = std::mem::take(&mut *self.changed.lock().unwrap_or_else(|e| e.into_inner()));
        // Durably before the commit, so that a crash between the two leaves no list of the
        // old text; and again after it, for a list a reader kept meanwhile. The graph is
        // derived: its failure is logged, and never holds the index up.
        if let Err(e) = self.graph.remove(&changed).and_then(|()| self.graph.sync()) {
            tracing::warn!(error = %e, "the neighbour graph could not forget changed articles");
        }
        {
            let mut writer = self.writer();
            let mut prepared = writer.prepare_commit()?;
            if let Some(position) = position {
                prepared.set_payload(&position.to_string());
            }
            prepared.commit()?;
        }
        self.reader.reload()?;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        if let Err(e) = self.graph.remove(&changed) {
            tracing::warn!(error = %e, "the neighbour graph could not forget changed articles");
        }
        self.unlisted().extend(changed);
        Ok(())
    }

    /// The position in the stream of changes that the last commit recorded: this index holds
    /// everything up to it. Kept in the index itself, committed with what it says, so that
    /// every node keeps its own index's place.
    pub fn position(&self) -> Option<i64> {
        self.index.load_metas().ok()?.payload?.parse().ok()
    }

    /// How many times the index changed: what was read from it before may be out of date once
    /// this moves.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The stored keys of these articles, in the same order (empty where one is not there).
    pub fn keys(&self, ids: &[i64]) -> Result<Vec<String>, SearchError> {
        let searcher = self.reader.searcher();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let q = TermQuery::new(
                Term::from_field_i64(self.fields.id, *id),
                IndexRecordOption::Basic,
            );
            let found = searcher.search(&q, &TopDocs::with_limit(1))?;
            let key = match found.first() {
                Some((_, a)) => first_text(&searcher.doc::<TantivyDocument>(*a)?, self.fields.key),
                None => String::new(),
            };
            out.push(key);
        }
        Ok(out)
    }

    /// How many articles a search can find.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn text_query(&self, text: &str) -> Box<dyn Query> {
        // Plain words, the usual query, become one flat union of term queries, which the index
        // answers without scoring every match; quotes, signs and field names go through the
        // query parser.
        if !text.contains(['"', ':', '+', '-', '(', '*', '^']) {
            if let Ok(q) = self.flat_query(text) {
                return q;
            }
        }
        let f = &self.fields;
        let mut fields: Vec<Field> = f.title.to_vec();
        fields.extend(f.body);
        let mut parser = QueryParser::for_index(&self.index, fields);
        for t in f.title {
            parser.set_field_boost(t, 2.0);
        }
        let (query, _) = parser.parse_query_lenient(text);
        query
    }

    /// Every word of `text`, analyzed as each language group does, in that group's title
    /// (weighted double) and body fields.
    fn flat_query(&self, text: &str) -> Result<Box<dyn Query>, SearchError> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (g, group) in GROUPS.iter().enumerate() {
            let mut analyzer = self
                .index
                .tokenizers()
                .get(&format!("dl_{group}"))
                .ok_or_else(|| SearchError::Query(format!("no analyzer for {group}")))?;
            let mut stream = analyzer.token_stream(text);
            while stream.advance() {
                let token = stream.token().text.clone();
                for (field, boost) in [(self.fields.title[g], 2.0), (self.fields.body[g], 1.0)] {
                    let term = Term::from_field_text(field, &token);
                    if !seen.insert(term.clone()) {
                        continue;
                    }
                    let q: Box<dyn Query> = Box::new(tantivy::query::BoostQuery::new(
                        Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
                        boost,
                    ));
                    clauses.push((Occur::Should, q));
                }
            }
        }
        if clauses.is_empty() {
            return Err(SearchError::Query("no words".into()));
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    /// Searches published articles: every word, in any of their languages' fields, with the
    /// filters; relevance blended with recency; a snippet of each with the matches marked.
    pub fn search(&self, q: &SearchQuery, now: Timestamp) -> Result<SearchResults, SearchError> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let words = q.text.trim();
        let text: Box<dyn Query> = if words.is_empty() {
            Box::new(AllQuery)
        } else {
            self.text_query(words)
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text.box_clone())];
        let term = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        if let Some(s) = &q.section {
            clauses.push((Occur::Must, term(f.section, s)));
        }
        if let Some(l) = &q.lang {
            clauses.push((Occur::Must, term(f.lang, l)));
        }
        if let Some(t) = &q.topic {
            clauses.push((Occur::Must, term(f.topic, t)));
        }
        if let Some(b) = &q.byline {
            clauses.push((Occur::Must, term(f.byline_exact, &b.to_lowercase())));
        }
        if q.from.is_some() || q.to.is_some() {
            let bound = |t: Option<Timestamp>, lower: bool| match t {
                Some(t) => {
                    let term = Term::from_field_date(
                        f.published,
                        DateTime::from_timestamp_secs(t.as_second()),
                    );
                    if lower {
                        std::ops::Bound::Included(term)
                    } else {
                        std::ops::Bound::Excluded(term)
                    }
                }
                None => std::ops::Bound::Unbounded,
            };
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(bound(q.from, true), bound(q.to, false))),
            ));
        }
        // Without filters the words are the query: nothing wraps them to slow the union down.
        let query: Box<dyn Query> = if clauses.len() == 1 {
            text.box_clone()
        } else {
            Box::new(BooleanQuery::new(clauses))
        };
        let now_secs = now.as_second();
        // Relevance blended with recency: a story of today counts up to half again as much as
        // the same match a year old, falling off over about a month. The candidates are the
        // best by relevance alone (which the index finds without scoring every match), four
        // times as many as the page needs; recency reorders them.
        let window = (q.offset + q.limit).max(1) * 4 + 20;
        // No exact count: counting visits every match, which the top documents alone do not
        // need (the index skips blocks that cannot make the page). What was found says whether
        // there are more.
        let candidates = searcher.search(&*query, &TopDocs::with_limit(window))?;
        let total = candidates.len();
        let exact = total < window;
        let mut blended: Vec<(f32, DocAddress)> = Vec::with_capacity(candidates.len());
        for (score, address) in candidates {
            let published = searcher
                .segment_reader(address.segment_ord)
                .fast_fields()
                .date("published")
                .ok()
                .and_then(|c| c.first(address.doc_id))
                .map_or(0, |d| d.into_timestamp_secs());
            let age_days = ((now_secs - published).max(0) as f32) / 86_400.0;
            blended.push((score * (1.0 + 0.5 / (1.0 + age_days / 30.0)), address));
        }
        blended.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let found: Vec<(f32, DocAddress)> = blended
            .into_iter()
            .skip(q.offset)
            .take(q.limit.max(1))
            .collect();
        let mut generators = Vec::new();
        if !words.is_empty() {
            for field in f.body.iter().chain(f.title.iter()) {
                let mut g = SnippetGenerator::create(&searcher, &*text, *field)?;
                g.set_max_num_chars(220);
                generators.push((*field, g));
            }
        }
        let mut hits = Vec::new();
        for (score, address) in found {
            let doc: TantivyDocument = searcher.doc(address)?;
            let lang = first_text(&doc, f.lang);
            let g = group_index(&lang);
            let mut snippet = Vec::new();
            for field in [f.body[g], f.title[g]] {
                if let Some((_, generator)) = generators.iter().find(|(x, _)| *x == field) {
                    let s = generator.snippet_from_doc(&doc);
                    if !s.is_empty() {
                        snippet = parts(s.fragment(), s.highlighted());
                        break;
                    }
                }
            }
            if snippet.is_empty() {
                let body = first_text(&doc, f.body[g]);
                let cut: String = body.chars().take(200).collect();
                snippet = vec![Part {
                    text: cut,
                    mark: false,
                }];
            }
            hits.push(Hit {
                id: doc
                    .get_first(f.id)
                    .and_then(|v| v.as_i64())
                    .unwrap_or_default(),
                key: first_text(&doc, f.key),
                headline: first_text(&doc, f.title[g]),
                lang,
                section: first_text(&doc, f.section),
                published: doc
                    .get_first(f.published)
                    .and_then(|v| v.as_datetime())
                    .and_then(|d| Timestamp::from_second(d.into_timestamp_secs()).ok())
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                snippet,
                score,
            });
        }
        let did_you_mean = if total == 0 && !words.is_empty() {
            self.suggest(words)?
        } else {
            None
        };
        Ok(SearchResults {
            total,
            exact,
            hits,
            did_you_mean,
        })
    }

    /// The query with each word the index does not know replaced by the known word nearest to
    /// it (at most two edits, the most frequent among equals), if any word was replaced.
    fn suggest(&self, words: &str) -> Result<Option<String>, SearchError> {
        let searcher = self.reader.searcher();
        let mut changed = false;
        let mut out = Vec::new();
        for word in words.split_whitespace() {
            let lower = word.to_lowercase();
            if lower.chars().count() < 3 || !lower.chars().all(char::is_alphanumeric) {
                out.push(word.to_string());
                continue;
            }
            let mut known = false;
            let mut best: Option<(usize, u32, String)> = None;
            let prefix: String = lower.chars().take(1).collect();
            let mut upper = prefix.clone().into_bytes();
            if let Some(last) = upper.last_mut() {
                *last = last.saturating_add(1);
            }
            for segment in searcher.segment_readers() {
                let inverted = segment.inverted_index(self.fields.spell)?;
                if inverted.terms().get(lower.as_bytes())?.is_some() {
                    known = true;
                    break;
                }
                let mut stream = inverted
                    .terms()
                    .range()
                    .ge(prefix.as_bytes())
                    .lt(&upper)
                    .into_stream()?;
                while stream.advance() {
                    let Ok(candidate) = std::str::from_utf8(stream.key()) else {
                        continue;
                    };
                    if candidate.len().abs_diff(lower.len()) > 2 {
                        continue;
                    }
                    let d = edit_distance(&lower, candidate);
                    if d == 0 || d > 2 {
                        continue;
                    }
                    let freq = stream.value().doc_freq;
                    let better = best
                        .as_ref()
                        .is_none_or(|(bd, bf, _)| d < *bd || (d == *bd && freq > *bf));
                    if better {
                        best = Some((d, freq, candidate.to_string()));
                    }
                }
            }
            match (known, best) {
                (false, Some((_, _, w))) => {
                    changed = true;
                    out.push(w);
                }
                _ => out.push(word.to_string()),
            }
        }
        Ok(changed.then(|| out.join(" ")))
    }

    fn address_of(&self, id: i64) -> Result<Option<DocAddress>, SearchError> {
        let searcher = self.reader.searcher();
        let q = TermQuery::new(
            Term::from_field_i64(self.fields.id, id),
            IndexRecordOption::Basic,
        );
        let found = searcher.search(&q, &TopDocs::with_limit(1))?;
        Ok(found.first().map(|(_, a)| *a))
    }

    /// A more-like-this query for texts in these fields: their 25 terms of highest tf-idf,
    /// each a BM25 term query boosted by its tf-idf against the best one. (tantivy's own
    /// more-like-this counts documents two ways, and panics once deleted ones pile up.)
    fn more_like(
        &self,
        searcher: &tantivy::Searcher,
        texts: &[(Field, String)],
        frequencies: &mut Frequencies,
    ) -> Result<BooleanQuery, SearchError> {
        let mut counts: std::collections::HashMap<Term, usize> = std::collections::HashMap::new();
        for (field, text) in texts {
            let mut analyzer = self.index.tokenizer_for_field(*field)?;
            let mut stream = analyzer.token_stream(text);
            while stream.advance() {
                let token = &stream.token().text;
                if token.chars().count() >= 2 {
                    *counts
                        .entry(Term::from_field_text(*field, token))
                        .or_default() += 1;
                }
            }
        }
        let total: u64 = searcher
            .segment_readers()
            .iter()
            .map(|s| u64::from(s.max_doc()))
            .sum();
        let mut scored: Vec<(f32, Term)> = Vec::with_capacity(counts.len());
        for (term, tf) in counts {
            let df = frequencies.doc_freq(searcher, &term)?;
            if df == 0 {
                continue;
            }
            let x = (total.saturating_sub(df) as f32 + 0.5) / (df as f32 + 0.5);
            scored.push((tf as f32 * (1.0 + x).ln(), term));
        }
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| a.1.serialized_term().cmp(b.1.serialized_term()))
        });
        scored.truncate(25);
        let best = scored.first().map_or(1.0, |(s, _)| *s).max(f32::EPSILON);
        let clauses: Vec<(Occur, Box<dyn Query>)> = scored
            .into_iter()
            .map(|(score, term)| {
                let q: Box<dyn Query> = Box::new(tantivy::query::BoostQuery::new(
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
                    score / best,
                ));
                (Occur::Should, q)
            })
            .collect();
        Ok(BooleanQuery::new(clauses))
    }

    /// The articles most like this one by content, best first, with their BM25 scores: the
    /// query is the article's 25 terms of highest tf-idf in its headline and body (BM25
    /// more-like-this). The article itself is left out.
    pub fn neighbours(&self, id: i64, limit: usize) -> Result<Vec<(i64, f32)>, SearchError> {
        Ok(self
            .neighbours_found(id, limit, &mut Frequencies::default())?
            .unwrap_or_default())
    }

    /// [`SearchIndex::neighbours`], or nothing when the article is not in the index.
    fn neighbours_found(
        &self,
        id: i64,
        limit: usize,
        frequencies: &mut Frequencies,
    ) -> Result<Option<Vec<(i64, f32)>>, SearchError> {
        let Some(address) = self.address_of(id)? else {
            return Ok(None);
        };
        let searcher = self.reader.searcher();
        let doc: TantivyDocument = searcher.doc(address)?;
        let g = group_index(&first_text(&doc, self.fields.lang));
        let query = self.more_like(
            &searcher,
            &[
                (self.fields.title[g], first_text(&doc, self.fields.title[g])),
                (self.fields.body[g], first_text(&doc, self.fields.body[g])),
            ],
            frequencies,
        )?;
        let found = searcher.search(&query, &TopDocs::with_limit(limit + 1))?;
        let mut out = ids_found(&searcher, found, id)?;
        out.truncate(limit);
        Ok(Some(out))
    }

    /// The articles most like a text not in the index (a draft being written), as
    /// [`SearchIndex::neighbours`] finds them for one that is; `except` is left out.
    pub fn neighbours_of_text(
        &self,
        lang: &str,
        headline: &str,
        body: &str,
        except: i64,
        limit: usize,
    ) -> Result<Vec<(i64, f32)>, SearchError> {
        let g = group_index(lang);
        let searcher = self.reader.searcher();
        let query = self.more_like(
            &searcher,
            &[
                (self.fields.title[g], headline.to_string()),
                (self.fields.body[g], body.to_string()),
            ],
            &mut Frequencies::default(),
        )?;
        let found = searcher.search(&query, &TopDocs::with_limit(limit + 1))?;
        let mut out = ids_found(&searcher, found, except)?;
        out.truncate(limit);
        Ok(out)
    }

    /// The terms a text (in `lang`) shares with an article of the index, most telling (rarest
    /// in the archive) first: why the article was suggested for the text's.
    pub fn shared_terms_with(
        &self,
        lang: &str,
        text: &str,
        b: i64,
        limit: usize,
    ) -> Result<Vec<String>, SearchError> {
        let searcher = self.reader.searcher();
        let Some(y) = self.address_of(b)? else {
            return Ok(vec![]);
        };
        let analyze = |g: usize, text: &str| -> Vec<String> {
            let mut analyzer = self
                .index
                .tokenizers()
                .get(&format!("dl_{}", GROUPS[g]))
                .unwrap_or_default();
            let mut stream = analyzer.token_stream(text);
            let mut out = Vec::new();
            while stream.advance() {
                out.push(stream.token().text.clone());
            }
            out
        };
        let ta = analyze(group_index(lang), text);
        let doc: TantivyDocument = searcher.doc(y)?;
        let g = group_index(&first_text(&doc, self.fields.lang));
        let other = format!(
            "{} {}",
            first_text(&doc, self.fields.title[g]),
            first_text(&doc, self.fields.body[g])
        );
        let tb: std::collections::HashSet<String> = analyze(g, &other).into_iter().collect();
        let total = searcher.num_docs().max(1) as f64;
        let mut shared: Vec<(f64, String)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for t in ta {
            if t.chars().count() < 3 || !tb.contains(&t) || !seen.insert(t.clone()) {
                continue;
            }
            let mut df = 0u64;
            for field in self.fields.body {
                df += searcher.doc_freq(&Term::from_field_text(field, &t))?;
            }
            shared.push(((total / (1.0 + df as f64)).ln(), t));
        }
        shared.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(shared.into_iter().take(limit).map(|(_, t)| t).collect())
    }

    /// The ids of every article in the index.
    pub fn ids(&self) -> Result<Vec<i64>, SearchError> {
        let searcher = self.reader.searcher();
        let mut out = Vec::new();
        for segment in searcher.segment_readers() {
            let ids = segment.fast_fields().i64("id")?;
            for doc in segment.doc_ids_alive() {
                if let Some(id) = ids.first(doc) {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }
}

/// How many document frequencies a run of neighbour lists keeps: about 10 MB of terms, the
/// common words of an archive, which come back in article after article.
const FREQUENCIES_KEPT: usize = 1 << 17;

/// Document frequencies read for a run of neighbour lists, so that a word is looked up in each
/// segment's dictionary once for the run rather than once an article. Good for one searcher:
/// a commit starts them anew.
#[derive(Default)]
struct Frequencies {
    generation: u64,
    of: std::collections::HashMap<Term, u64>,
}

impl Frequencies {
    fn doc_freq(&mut self, searcher: &tantivy::Searcher, term: &Term) -> tantivy::Result<u64> {
        let generation = searcher.generation().generation_id();
        if generation != self.generation {
            self.of.clear();
            self.generation = generation;
        }
        if let Some(df) = self.of.get(term) {
            return Ok(*df);
        }
        let df = searcher.doc_freq(term)?;
        if self.of.len() < FREQUENCIES_KEPT {
            self.of.insert(term.clone(), df);
        }
        Ok(df)
    }
}

/// The article ids of what a search found, with their scores, `except` left out. An id is read
/// from its segment's column, never from the stored document: a neighbour list of thirty would
/// otherwise decompress thirty blocks of stored text.
fn ids_found(
    searcher: &tantivy::Searcher,
    found: Vec<(f32, DocAddress)>,
    except: i64,
) -> Result<Vec<(i64, f32)>, SearchError> {
    let mut columns: Vec<Option<tantivy::columnar::Column<i64>>> =
        vec![None; searcher.segment_readers().len()];
    let mut out = Vec::with_capacity(found.len());
    for (score, a) in found {
        let column = match &mut columns[a.segment_ord as usize] {
            Some(column) => column,
            empty => empty.insert(
                searcher
                    .segment_reader(a.segment_ord)
                    .fast_fields()
                    .i64("id")?,
            ),
        };
        match column.first(a.doc_id) {
            Some(other) if other != except => out.push((other, score)),
            _ => {}
        }
    }
    Ok(out)
}

fn first_text(doc: &TantivyDocument, field: Field) -> String {
    doc.get_first(field)
        .and_then(|v| match OwnedValue::from(v) {
            OwnedValue::Str(s) => Some(s),
            _ => None,
        })
        .unwrap_or_default()
}

fn parts(fragment: &str, highlighted: &[Range<usize>]) -> Vec<Part> {
    let mut out = Vec::new();
    let mut at = 0;
    for r in highlighted {
        if r.start > at {
            out.push(Part {
                text: fragment[at..r.start].to_string(),
                mark: false,
            });
        }
        out.push(Part {
            text: fragment[r.clone()].to_string(),
            mark: true,
        });
        at = r.end;
    }
    if at < fragment.len() {
        out.push(Part {
            text: fragment[at..].to_string(),
            mark: false,
        });
    }
    out
}

/// The number of single-character edits between two words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(previous + usize::from(ca != *cb));
            previous = here;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(id: i64, lang: &str, headline: &str, body: &str) -> Indexed {
        Indexed {
            id,
            key: format!("k{id}"),
            lang: lang.into(),
            section: "news".into(),
            headline: headline.into(),
            summary: None,
            body: body.into(),
            byline: Some("Mara Lindqvist".into()),
            topics: vec!["harbours".into()],
            published: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn each_language_finds_its_own() {
        let index = SearchIndex::in_memory().expect("index");
        index
            .put(&article(
                1,
                "en",
                "Ferries return to the islands",
                "The ferry lines reopened on Monday after repairs.",
            ))
            .expect("put");
        index
            .put(&article(
                2,
                "ru",
                "Переговоры о торговле продолжились",
                "Делегации обсудили пошлины и квоты.",
            ))
            .expect("put");
        index
            .put(&article(3, "zh", "港口重新开放", "渡轮航线周一恢复运营。"))
            .expect("put");
        index.commit().expect("commit");
        let ids = |text: &str| {
            index
                .search(
                    &SearchQuery {
                        text: text.into(),
                        limit: 10,
                        ..SearchQuery::default()
                    },
                    Timestamp::UNIX_EPOCH,
                )
                .expect("search")
                .hits
                .iter()
                .map(|h| h.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("ferry reopens"), [1]);
        assert_eq!(ids("переговоры"), [2]);
        assert_eq!(
            ids("торговли"),
            [2],
            "a Russian word in another case finds its stem"
        );
        assert_eq!(ids("航线"), [3]);
        assert_eq!(ids("重新开放"), [3]);
        let found = index
            .search(
                &SearchQuery {
                    text: "feries".into(),
                    limit: 10,
                    ..SearchQuery::default()
                },
                Timestamp::UNIX_EPOCH,
            )
            .expect("search");
        assert_eq!(found.total, 0);
        assert_eq!(found.did_you_mean.as_deref(), Some("ferries"));
        let hit = &index
            .search(
                &SearchQuery {
                    text: "repairs".into(),
                    limit: 10,
                    ..SearchQuery::default()
                },
                Timestamp::UNIX_EPOCH,
            )
            .expect("search")
            .hits[0];
        assert!(
            hit.snippet.iter().any(|p| p.mark && p.text == "repairs"),
            "{:?}",
            hit.snippet
        );
        index.remove(1);
        index.commit().expect("commit");
        assert!(ids("ferry").is_empty());
    }

    #[test]
    fn neighbours_survive_many_replaced_documents() {
        // Replaced documents are counted until segments merge: a term can be in more of them
        // than there are live documents.
        let index = SearchIndex::in_memory().expect("index");
        for round in 0..20 {
            for id in 0..3 {
                index
                    .put(&article(
                        id,
                        "en",
                        "Harbour storm",
                        &format!("Storm closes the harbour, round {round}."),
                    ))
                    .expect("put");
            }
            index.commit().expect("commit");
        }
        let near = index.neighbours(0, 10).expect("neighbours");
        assert_eq!(
            near.iter()
                .map(|(d, _)| *d)
                .collect::<std::collections::BTreeSet<_>>(),
            [1, 2].into()
        );
        let draft = index
            .neighbours_of_text("en", "Storm", "The harbour storm.", -1, 10)
            .expect("neighbours of a text");
        assert_eq!(draft.len(), 3);
    }

    fn ids_of(list: &[(i64, f32)]) -> std::collections::BTreeSet<i64> {
        list.iter().map(|(d, _)| *d).collect()
    }

    #[test]
    fn the_graph_is_kept_on_disk_and_up_to_date() {
        let dir = tempfile::tempdir().expect("dir");
        let storm = |id| {
            article(
                id,
                "en",
                "Harbour storm",
                "Storm closes the harbour ferries.",
            )
        };
        let trade = |id| {
            article(
                id,
                "en",
                "Grain talks",
                "Grain tariffs and quotas in talks.",
            )
        };
        {
            let index = SearchIndex::open(dir.path()).expect("index");
            for a in [storm(1), storm(2), trade(3), trade(4)] {
                index.put(&a).expect("put");
            }
            index.commit().expect("commit");
            // What an import leaves: every list to be read while the stream is quiet. How
            // many are missing is known once the graph has been looked through.
            assert_eq!(index.graph_len().expect("len"), 0);
            assert_eq!(index.lists_missing(), None);
            let left = index.grow_graph(std::time::Duration::ZERO).expect("look");
            assert_eq!((left, index.lists_missing()), (4, Some(4)));
            let left = index
                .grow_graph(std::time::Duration::from_secs(60))
                .expect("grow");
            assert_eq!((left, index.graph_len().expect("len")), (0, 4));
            assert_eq!(index.lists_missing(), Some(0));
            // The graph whole, the refreshing went round it once, found every list young, and
            // rests until the oldest comes of age.
            let now = jiff::Timestamp::now().as_second();
            let lifetime = i64::try_from(LIST_LIFETIME.as_secs()).expect("seconds");
            let resting = index.resting.load(std::sync::atomic::Ordering::Acquire);
            assert!(
                (now + lifetime - 60..=now + lifetime).contains(&resting),
                "{resting} against {now}"
            );
            assert_eq!(ids_of(&index.neighbour_list(1).expect("list")), [2].into());
            // A story published later joins its neighbours' lists as the follower keeps them.
            index.put(&storm(5)).expect("put");
            index.commit().expect("commit");
            index.keep_graph(&[5]).expect("keep");
            assert_eq!(
                ids_of(&index.neighbour_list(5).expect("list")),
                [1, 2].into()
            );
            assert_eq!(
                ids_of(&index.neighbour_list(1).expect("list")),
                [2, 5].into()
            );
            // An article whose text changes loses its list at the commit.
            index.put(&trade(1)).expect("put");
            index.commit().expect("commit");
            assert_eq!(index.graph_len().expect("len"), 4);
            assert_eq!(
                ids_of(&index.neighbour_list(1).expect("list")),
                [3, 4].into()
            );
            // One taken out keeps no list; an id the index does not have gets none kept.
            index.remove(4);
            index.commit().expect("commit");
            assert!(index.neighbour_list(4).expect("list").is_empty());
            assert!(index.neighbour_list(99).expect("list").is_empty());
        }
        // A new process reads the lists from the disk, and finds nothing left to grow.
        let index = SearchIndex::open(dir.path()).expect("reopened");
        assert_eq!(index.graph_len().expect("len"), 4);
        assert_eq!(
            ids_of(&index.neighbour_list(5).expect("list")),
            [1, 2].into()
        );
        assert_eq!(
            index
                .grow_graph(std::time::Duration::from_secs(60))
                .expect("grow"),
            0
        );
        index.clear().expect("clear");
        index.commit().expect("commit");
        assert_eq!(index.graph_len().expect("len"), 0);
        // In the middle of a rebuild, lists are read but not kept: they would miss the rest.
        index.put(&storm(1)).expect("put");
        index.put(&storm(2)).expect("put");
        index.commit().expect("commit");
        assert_eq!(ids_of(&index.neighbour_list(1).expect("list")), [2].into());
        assert_eq!(index.graph_len().expect("len"), 0);
        assert_eq!(
            index
                .grow_graph(std::time::Duration::from_secs(60))
                .expect("grow"),
            0
        );
        index.set_settled(true);
        index.neighbour_list(1).expect("list");
        assert_eq!(index.graph_len().expect("len"), 1);
    }
}
