//! Story threads: every article joins the thread of its story as it arrives, or starts one.
//! Online and in one pass, as publishing brings articles: no batch clustering, and no
//! comparison against every thread (an index from terms to threads finds the candidates).
//!
//! An article is a TF-IDF vector of its words, as the search index analyzes its language, its
//! headline counted [`Params::title_weight`] times, with document frequencies counted as
//! articles arrive. A thread is the sum of its articles' vectors, cut to its
//! [`Params::centroid_terms`] heaviest terms. An article joins the most similar thread among
//! those that share one of its [`Params::probe`] heaviest terms, if the cosine reaches
//! [`Params::join`] and the thread has at least [`Params::shared_terms`] of its terms (two
//! stories often share one name); otherwise it starts a thread. A thread that grows close to another (cosine
//! [`Params::merge`]) takes it in: two threads begun before their story's shape was clear
//! become one.

use rustc_hash::FxHashMap as HashMap;
use tantivy::tokenizer::{TextAnalyzer, TokenStream};

/// How the threader decides.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// The cosine an article needs with a thread to join it.
    pub join: f32,
    /// The cosine two threads need to become one.
    pub merge: f32,
    /// Terms a thread keeps.
    pub centroid_terms: usize,
    /// An article's heaviest terms, whose threads are its candidates.
    pub probe: usize,
    /// How many times the headline counts.
    pub title_weight: u32,
    /// Threads a term leads to at most (the most recent ones).
    pub postings: usize,
    /// Candidate threads compared whole with an article.
    pub shortlist: usize,
    /// An article's heaviest terms that stand for it (a long article's many incidental words
    /// would otherwise bring unrelated stories together).
    pub article_terms: usize,
    /// The words of a body read: its beginning, where a news story says what it is about.
    pub body_words: usize,
    /// Threads compared whole with a thread that grew, for a merge.
    pub merge_shortlist: usize,
    /// The terms an article needs in common with a thread to join it.
    pub shared_terms: usize,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            join: 0.1,
            merge: 0.3,
            centroid_terms: 100,
            probe: 30,
            title_weight: 2,
            postings: 64,
            shortlist: 32,
            article_terms: 25,
            body_words: 200,
            merge_shortlist: 8,
            shared_terms: 2,
        }
    }
}

#[derive(Debug, Default)]
struct Thread {
    /// Term id and weight, in the order of the terms: the sum of its articles' unit vectors,
    /// cut to its heaviest terms. A sorted list holds a hundred terms in 800 bytes, where a
    /// map of them took three times that.
    centroid: Vec<(u32, f32)>,
    norm: f32,
    size: u32,
    /// An editor decided about it: it is never taken into another, nor takes one in.
    frozen: bool,
    /// Its most representative article (the closest to its centroid of those that came),
    /// and that article's vector.
    representative: Option<(u64, Vec<(u32, f32)>)>,
}

/// What a threader holds, in bytes, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Distinct terms seen.
    pub terms: usize,
    /// Terms' numbers, their document frequencies, and the words remembered.
    pub words: usize,
    /// The threads each term leads to.
    pub postings: usize,
    /// The threads' centroids and representatives.
    pub threads: usize,
}

impl Footprint {
    pub fn bytes(&self) -> usize {
        self.words + self.postings + self.threads
    }
}

/// Where [`Threader::add`] put an article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The thread it is in.
    pub thread: usize,
    /// The threads that thread took in on the way (each now leads to it).
    pub absorbed: Vec<usize>,
    /// Whether it started the thread.
    pub started: bool,
}

/// The threads, and what they are found by.
pub struct Threader {
    params: Params,
    analyzers: HashMap<&'static str, TextAnalyzer>,
    /// A term's hash ([`fnv1a`] of its text) to its number: an archive's millions of terms
    /// are kept without their text.
    terms: HashMap<u64, u32>,
    /// Articles each term was in, by term number.
    df: Vec<u32>,
    articles: u64,
    threads: Vec<Thread>,
    /// A thread taken into another leads to it.
    merged_into: Vec<Option<usize>>,
    /// By term number, the threads (most recent last) whose centroid has it.
    postings: Postings,
    /// Words already analyzed, for English, Russian and the plain languages, by the hash of
    /// the word: the term each makes (none for a stop word).
    words: [HashMap<u64, Option<u32>>; 3],
    /// Room to sort a centroid in, and to rank threads in, kept from one article to the next.
    scratch: Vec<(u32, f32)>,
    ranking: HashMap<usize, f32>,
}

/// By term number, the threads a term leads to, most recent last. Most of an archive's terms
/// lead to one thread (a name in one story): such a term takes 4 bytes, where a list of its
/// own took 40; a term that leads to more has a list in `lists`.
#[derive(Debug, Default)]
struct Postings {
    /// By term number: [`Postings::NONE`], a thread's number, or [`Postings::LIST`] and the
    /// place of the term's list in `lists`.
    heads: Vec<u32>,
    lists: Vec<Vec<u32>>,
}

impl Postings {
    const NONE: u32 = u32::MAX;
    const LIST: u32 = 1 << 31;

    /// The threads `term` leads to.
    fn get(&self, term: u32) -> &[u32] {
        match self.heads.get(term as usize) {
            None | Some(&Postings::NONE) => &[],
            Some(head) if head & Postings::LIST != 0 => {
                &self.lists[(head & !Postings::LIST) as usize]
            }
            Some(head) => std::slice::from_ref(head),
        }
    }

    /// The list of `term`, as a thread is put on it: made when it is to hold a second.
    fn list(&mut self, term: u32) -> ListOrHead<'_> {
        let at = term as usize;
        if self.heads.len() <= at {
            self.heads.resize(at + 1, Postings::NONE);
        }
        let head = self.heads[at];
        if head & Postings::LIST != 0 && head != Postings::NONE {
            return ListOrHead::List(&mut self.lists[(head & !Postings::LIST) as usize]);
        }
        ListOrHead::Head(&mut self.heads[at], &mut self.lists)
    }

    /// Puts `thread` last on `term`'s list (unless it is last already), keeping the `most`
    /// recent.
    fn lead(&mut self, term: u32, thread: usize, most: usize) {
        let thread = Postings::number(thread);
        match self.list(term) {
            ListOrHead::List(list) => {
                if list.last() != Some(&thread) {
                    // Made room for first, so that a full list never grows its allocation.
                    if list.len() >= most {
                        list.remove(0);
                    }
                    list.push(thread);
                }
            }
            ListOrHead::Head(head, lists) => Postings::second(head, lists, thread, most),
        }
    }

    /// Puts `thread` on `term`'s list if it is not on it.
    fn include(&mut self, term: u32, thread: usize) {
        let thread = Postings::number(thread);
        match self.list(term) {
            ListOrHead::List(list) => {
                if !list.contains(&thread) {
                    list.push(thread);
                }
            }
            ListOrHead::Head(head, lists) => Postings::second(head, lists, thread, usize::MAX),
        }
    }

    /// A term's one thread, or none, joined by `thread` (a list of `most` keeps one).
    fn second(head: &mut u32, lists: &mut Vec<Vec<u32>>, thread: u32, most: usize) {
        if *head == Postings::NONE || most <= 1 {
            *head = thread;
        } else if *head != thread {
            let at = u32::try_from(lists.len()).unwrap_or(u32::MAX) & !Postings::LIST;
            lists.push(vec![*head, thread]);
            *head = Postings::LIST | at;
        }
    }

    /// A thread as a list holds it: threads are numbered below 2^31 (as many would take
    /// the threader 80 GB), the numbers above mark lists.
    fn number(thread: usize) -> u32 {
        u32::try_from(thread)
            .unwrap_or(u32::MAX)
            .min(Postings::LIST - 1)
    }

    fn bytes(&self) -> usize {
        self.heads.capacity() * 4
            + self.lists.capacity() * std::mem::size_of::<Vec<u32>>()
            + self.lists.iter().map(|l| l.capacity() * 4).sum::<usize>()
    }
}

/// A term's place in [`Postings`]: its list, or its head and the lists a second thread
/// makes it one in.
enum ListOrHead<'a> {
    List(&'a mut Vec<u32>),
    Head(&'a mut u32, &'a mut Vec<Vec<u32>>),
}

/// The most words remembered per language group (beyond, a new word is analyzed each time):
/// as many as a map of 2^19 slots holds (9 MB). The words that come first are most of the
/// words read; an archive's later new words are rare ones.
const WORDS_KEPT: usize = (1 << 19) / 8 * 7;

/// A term's number, given it if it is new. Terms are told apart by a 64-bit hash of their
/// text: two of an archive's few million terms share one with a probability of about 1e-7,
/// and would then count as one word.
fn term_id(terms: &mut HashMap<u64, u32>, text: &str) -> u32 {
    let next = u32::try_from(terms.len()).unwrap_or(u32::MAX);
    *terms.entry(fnv1a(text.as_bytes())).or_insert(next)
}

impl std::fmt::Debug for Threader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Threader")
            .field("articles", &self.articles)
            .field("threads", &self.len())
            .finish_non_exhaustive()
    }
}

impl Threader {
    pub fn new(params: Params) -> Threader {
        Threader {
            params,
            analyzers: crate::analysis::analyzers().into_iter().collect(),
            terms: HashMap::default(),
            df: Vec::new(),
            articles: 0,
            threads: Vec::new(),
            merged_into: Vec::new(),
            postings: Postings::default(),
            words: Default::default(),
            scratch: Vec::new(),
            ranking: HashMap::default(),
        }
    }

    /// What the threader holds, in bytes, by part (an estimate from the capacities of its
    /// tables and lists).
    pub fn footprint(&self) -> Footprint {
        fn map<K, V, S>(m: &std::collections::HashMap<K, V, S>) -> usize {
            // A swiss table: a slot and a control byte for each of its buckets.
            let buckets = if m.capacity() == 0 {
                0
            } else {
                (m.capacity() * 8 / 7).next_power_of_two()
            };
            buckets * (std::mem::size_of::<(K, V)>() + 1)
        }
        let vec = |v: &Vec<(u32, f32)>| v.capacity() * 8;
        Footprint {
            terms: self.terms.len(),
            words: map(&self.terms)
                + self.df.capacity() * 4
                + self.words.iter().map(map).sum::<usize>(),
            postings: self.postings.bytes(),
            threads: self.threads.capacity() * std::mem::size_of::<Thread>()
                + self.merged_into.capacity() * std::mem::size_of::<Option<usize>>()
                + self
                    .threads
                    .iter()
                    .map(|t| vec(&t.centroid) + t.representative.as_ref().map_or(0, |r| vec(&r.1)))
                    .sum::<usize>(),
        }
    }

    /// How many threads there are (those taken into another not counted).
    pub fn len(&self) -> usize {
        self.merged_into.iter().filter(|m| m.is_none()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The thread `thread` is now (itself, or the one it was taken into).
    pub fn thread_of(&self, mut thread: usize) -> usize {
        while let Some(Some(into)) = self.merged_into.get(thread) {
            thread = *into;
        }
        thread
    }

    /// Puts an article (`item`, the caller's name for it) in its thread, or starts one;
    /// answers where it went.
    pub fn add(&mut self, item: u64, lang: &str, title: &str, body: &str) -> Placed {
        let vector = self.vector(lang, title, body, true);
        let best = self.best(&vector);
        match best {
            Some((thread, cosine)) if cosine >= self.params.join => {
                self.grow(thread, item, &vector);
                let mut absorbed = Vec::new();
                let thread = self.settle(thread, &mut absorbed);
                Placed {
                    thread,
                    absorbed,
                    started: false,
                }
            }
            _ => {
                let thread = self.start();
                self.grow(thread, item, &vector);
                Placed {
                    thread,
                    absorbed: Vec::new(),
                    started: true,
                }
            }
        }
    }

    /// Puts an article where the caller says: in `thread` (as it was placed before a restart,
    /// or by an editor, or beside its original), or in a new thread. Answers the thread.
    pub fn add_to(
        &mut self,
        item: u64,
        lang: &str,
        title: &str,
        body: &str,
        thread: Option<usize>,
    ) -> usize {
        let vector = self.vector(lang, title, body, true);
        let thread = match thread {
            Some(t) if t < self.threads.len() => self.thread_of(t),
            _ => self.start(),
        };
        self.grow(thread, item, &vector);
        thread
    }

    /// A new, empty thread.
    pub fn start(&mut self) -> usize {
        self.threads.push(Thread::default());
        self.merged_into.push(None);
        self.threads.len() - 1
    }

    /// Marks a thread an editor decided about: it is never merged with another automatically.
    pub fn freeze(&mut self, thread: usize) {
        let thread = self.thread_of(thread);
        if let Some(t) = self.threads.get_mut(thread) {
            t.frozen = true;
        }
    }

    /// Makes a thread anew from its articles as they are now (after an editor moved some in
    /// or out): the articles were counted in the document frequencies when they came.
    pub fn refill<'a>(
        &mut self,
        thread: usize,
        articles: impl IntoIterator<Item = (u64, &'a str, &'a str, &'a str)>,
    ) {
        let thread = self.thread_of(thread);
        let Some(t) = self.threads.get_mut(thread) else {
            return;
        };
        let frozen = t.frozen;
        *t = Thread {
            frozen,
            ..Thread::default()
        };
        for (item, lang, title, body) in articles {
            let vector = self.vector(lang, title, body, false);
            self.grow(thread, item, &vector);
        }
    }

    /// The thread's most representative article: of those that came, the closest to its
    /// centroid when it came or since.
    pub fn representative(&self, thread: usize) -> Option<u64> {
        let thread = self.thread_of(thread);
        self.threads
            .get(thread)?
            .representative
            .as_ref()
            .map(|(item, _)| *item)
    }

    /// Takes thread `gone` into `keep`, as an editor merged them: `gone` leads to `keep` from
    /// now on (refill `keep` with its articles as they are now).
    pub fn merge_into(&mut self, gone: usize, keep: usize) {
        let (gone, keep) = (self.thread_of(gone), self.thread_of(keep));
        if gone == keep || gone >= self.threads.len() || keep >= self.threads.len() {
            return;
        }
        self.threads[gone] = Thread::default();
        self.merged_into[gone] = Some(keep);
    }

    /// How many articles a thread has.
    pub fn size(&self, thread: usize) -> u32 {
        let thread = self.thread_of(thread);
        self.threads.get(thread).map_or(0, |t| t.size)
    }

    /// The article's unit TF-IDF vector; `count` counts it in the document frequencies.
    fn vector(&mut self, lang: &str, title: &str, body: &str, count: bool) -> Vec<(u32, f32)> {
        let group = crate::analysis::group(lang);
        let name = match group {
            "en" => "dl_en",
            "ru" => "dl_ru",
            "zh" => "dl_zh",
            _ => "dl_plain",
        };
        let mut counts: HashMap<u32, u32> = HashMap::default();
        // Languages written in words are cut into words here (as the analyzers' tokenizer cuts
        // them: at every character that is neither a letter nor a digit), and each word is
        // analyzed once (lowercased, dropped as a stop word, stemmed) and remembered: most of a
        // story's words were seen before. Chinese is cut into pairs, which depend on the
        // neighbours: it goes through its analyzer whole.
        let cached = match group {
            "en" => Some(0),
            "ru" => Some(1),
            "zh" => None,
            _ => Some(2),
        };
        if let Some(analyzer) = self.analyzers.get_mut(name) {
            for (text, weight, most) in [
                (title, self.params.title_weight, usize::MAX),
                (body, 1, self.params.body_words),
            ] {
                let mut taken = 0;
                match cached {
                    Some(slot) => {
                        for word in text.split(|c: char| !c.is_alphanumeric()) {
                            if word.is_empty() {
                                continue;
                            }
                            let words = &mut self.words[slot];
                            let hash = fnv1a(word.as_bytes());
                            let term = match words.get(&hash) {
                                Some(term) => *term,
                                None => {
                                    let mut stream = analyzer.token_stream(word);
                                    let term =
                                        stream.next().map(|t| term_id(&mut self.terms, &t.text));
                                    if words.len() < WORDS_KEPT {
                                        words.insert(hash, term);
                                    }
                                    term
                                }
                            };
                            let Some(id) = term else {
                                continue;
                            };
                            taken += 1;
                            if taken > most {
                                break;
                            }
                            *counts.entry(id).or_default() += weight;
                        }
                    }
                    None => {
                        let mut stream = analyzer.token_stream(text);
                        while let Some(token) = stream.next() {
                            taken += 1;
                            if taken > most {
                                break;
                            }
                            let id = term_id(&mut self.terms, &token.text);
                            *counts.entry(id).or_default() += weight;
                        }
                    }
                }
            }
        }
        if count {
            self.articles += 1;
        }
        for id in counts.keys() {
            let at = *id as usize;
            if self.df.len() <= at {
                self.df.resize(at + 1, 0);
            }
            if count || self.df[at] == 0 {
                self.df[at] += 1;
            }
        }
        let n = self.articles.max(1) as f32;
        let mut vector: Vec<(u32, f32)> = counts
            .into_iter()
            .map(|(id, count)| {
                let df = self.df[id as usize] as f32;
                (id, (1.0 + (count as f32).ln()) * ((n + 1.0) / df).ln())
            })
            .collect();
        vector.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        vector.truncate(self.params.article_terms);
        let norm = vector.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, w) in &mut vector {
                *w /= norm;
            }
        }
        vector
    }

    /// The most similar thread among those its heaviest terms lead to: the threads are
    /// ranked by the article's weight on the terms that lead to each, and the best
    /// [`Params::shortlist`] are compared whole. The work is bounded whatever the archive's size.
    fn best(&mut self, vector: &[(u32, f32)]) -> Option<(usize, f32)> {
        let mut reached = std::mem::take(&mut self.ranking);
        reached.clear();
        for (id, w) in vector.iter().take(self.params.probe) {
            for t in self.postings.get(*id) {
                *reached.entry(*t as usize).or_default() += w;
            }
        }
        let mut ranked: Vec<(usize, f32)> = reached.drain().collect();
        self.ranking = reached;
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut shortlist: Vec<usize> = ranked
            .into_iter()
            .take(self.params.shortlist)
            .map(|(t, _)| self.thread_of(t))
            .collect();
        shortlist.sort_unstable();
        shortlist.dedup();
        // A thread that shares a single term with the article is no candidate: two stories
        // often share one name (a team, a company, a disease), one story shares more.
        shortlist
            .into_iter()
            .filter_map(|t| {
                let (cosine, shared) = self.overlap(t, vector);
                (shared >= self.params.shared_terms).then_some((t, cosine))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// The cosine of a vector with a thread, and how many of its terms the thread has.
    fn overlap(&self, thread: usize, vector: &[(u32, f32)]) -> (f32, usize) {
        let t = &self.threads[thread];
        if t.norm == 0.0 {
            return (0.0, 0);
        }
        let (mut dot, mut shared) = (0.0f32, 0usize);
        for (id, w) in vector {
            if let Ok(at) = t.centroid.binary_search_by_key(id, |(term, _)| *term) {
                dot += w * t.centroid[at].1;
                shared += 1;
            }
        }
        (dot / t.norm, shared)
    }

    fn cosine(&self, thread: usize, vector: &[(u32, f32)]) -> f32 {
        self.overlap(thread, vector).0
    }

    /// Adds a vector to a thread, cuts it to its heaviest terms, and indexes them; the article
    /// becomes the thread's representative if it is closer to the centroid than the one before.
    fn grow(&mut self, thread: usize, item: u64, vector: &[(u32, f32)]) {
        let t = &mut self.threads[thread];
        Threader::add_into(&mut t.centroid, vector);
        t.size += 1;
        Threader::cut(t, self.params.centroid_terms, &mut self.scratch);
        let closer = match &self.threads[thread].representative {
            None => true,
            Some((_, held)) => self.cosine(thread, vector) > self.cosine(thread, held),
        };
        if closer {
            self.threads[thread].representative = Some((item, vector.to_vec()));
        }
        // The article's terms lead to the thread (most recent last; a term it shares with the
        // thread's earlier articles already does). A term the thread's cut dropped may still
        // lead to it: a candidate too many, never one too few.
        for (id, _) in vector {
            self.postings.lead(*id, thread, self.params.postings);
        }
    }

    /// Adds weights into a centroid (both in the order of the terms once done).
    fn add_into(centroid: &mut Vec<(u32, f32)>, weights: &[(u32, f32)]) {
        for (id, w) in weights {
            match centroid.binary_search_by_key(id, |(term, _)| *term) {
                Ok(at) => centroid[at].1 += w,
                Err(at) => centroid.insert(at, (*id, *w)),
            }
        }
    }

    /// Keeps a thread's `keep` heaviest terms, and its norm. In a fixed order (weight, then
    /// term), so that the same stream makes the same threads on every run.
    /// `all` is room to sort in, kept from one call to the next; the map keeps its own.
    fn cut(t: &mut Thread, keep: usize, all: &mut Vec<(u32, f32)>) {
        all.clear();
        all.append(&mut t.centroid);
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(keep);
        t.norm = all.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        t.centroid.extend(all.iter().copied());
        t.centroid.sort_unstable_by_key(|(term, _)| *term);
        // A thread's centroid holds at most `keep` terms (and an article's more while it
        // grows): it keeps no room beyond.
        t.centroid.shrink_to(keep + 32);
    }

    /// Takes into `thread` every thread it has grown close to (noting each in `absorbed`);
    /// answers what it is now. A frozen thread takes in none, and is taken in by none.
    fn settle(&mut self, thread: usize, absorbed: &mut Vec<usize>) -> usize {
        if self.threads[thread].frozen {
            return thread;
        }
        let mut vector: Vec<(u32, f32)> = self.threads[thread]
            .centroid
            .iter()
            .map(|(id, w)| (*id, *w))
            .collect();
        vector.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let norm = self.threads[thread].norm;
        if norm == 0.0 {
            return thread;
        }
        let unit: Vec<(u32, f32)> = vector.iter().map(|(id, w)| (*id, w / norm)).collect();
        // The threads its heaviest terms lead to, ranked by its weight on the terms that lead
        // to each; only the best few are compared whole (as for an article, in `best`).
        let mut reached = std::mem::take(&mut self.ranking);
        reached.clear();
        for (id, w) in unit.iter().take(20) {
            for t in self.postings.get(*id) {
                *reached.entry(self.thread_of(*t as usize)).or_default() += w;
            }
        }
        reached.remove(&thread);
        let mut others: Vec<(usize, f32)> = reached.drain().collect();
        self.ranking = reached;
        others.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        others.truncate(self.params.merge_shortlist);
        for (other, _) in others {
            if other == thread
                || self.threads[other].frozen
                || self.cosine(other, &unit) < self.params.merge
            {
                continue;
            }
            // The larger one stays.
            let (keep, gone) = if self.threads[other].size > self.threads[thread].size {
                (other, thread)
            } else {
                (thread, other)
            };
            let taken = std::mem::take(&mut self.threads[gone]);
            let t = &mut self.threads[keep];
            Threader::add_into(&mut t.centroid, &taken.centroid);
            t.size += taken.size;
            Threader::cut(t, self.params.centroid_terms, &mut self.scratch);
            // The representative of the two closer to what they are together.
            let mine = self.threads[keep].representative.take();
            let score = |r: &Option<(u64, Vec<(u32, f32)>)>| {
                r.as_ref().map_or(f32::MIN, |(_, v)| self.cosine(keep, v))
            };
            self.threads[keep].representative = if score(&taken.representative) > score(&mine) {
                taken.representative
            } else {
                mine
            };
            self.merged_into[gone] = Some(keep);
            absorbed.push(gone);
            for (id, _) in &self.threads[keep].centroid {
                self.postings.include(*id, keep);
            }
            return self.settle(keep, absorbed);
        }
        thread
    }
}

/// A 64-bit SimHash (Charikar; as Manku, Jain and Das use it to find near-duplicate web
/// pages) of a story's words: two copies of one wire story, one lightly edited, differ in a few
/// bits ([`NEAR_DUPLICATE_BITS`]), two different stories in about half. Shingles of eight
/// characters of the text, lowercased with only letters and digits kept, so that it works alike
/// in languages written with and without spaces.
pub fn simhash(title: &str, body: &str) -> u64 {
    let chars = letters(title, body);
    const SHINGLE: usize = 8;
    // How many shingles set each bit: a bit of the SimHash is set when more than half do. The
    // counts are kept a byte a bit, eight bits to a word (`SPREAD` puts a byte's bits in the
    // bytes of a word), and added into the totals before a byte can overflow.
    let mut totals = [0u32; 64];
    let mut lanes = [0u64; 8];
    let mut pending = 0u32;
    let mut shingles = 0u32;
    let mut buf = [0u8; 4 * SHINGLE];
    for window in chars.windows(SHINGLE.min(chars.len().max(1))) {
        let mut len = 0;
        for c in window {
            len += c.encode_utf8(&mut buf[len..]).len();
        }
        let h = fnv1a(&buf[..len]).to_le_bytes();
        for (lane, byte) in lanes.iter_mut().zip(h) {
            *lane += SPREAD[usize::from(byte)];
        }
        shingles += 1;
        pending += 1;
        if pending == 255 {
            flush(&mut lanes, &mut totals);
            pending = 0;
        }
    }
    flush(&mut lanes, &mut totals);
    totals.iter().enumerate().fold(0u64, |acc, (bit, set)| {
        acc | (u64::from(2 * set > shingles) << bit)
    })
}

/// The letters and digits of a story, lowercased, as [`simhash`] reads them.
fn letters(title: &str, body: &str) -> Vec<char> {
    title
        .chars()
        .chain(std::iter::once(' '))
        .chain(body.chars())
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Each byte's bits, one to a byte of a word: bit `i` of the index is byte `i` of its entry.
const SPREAD: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut bit = 0;
        while bit < 8 {
            if byte >> bit & 1 == 1 {
                table[byte] |= 1 << (8 * bit);
            }
            bit += 1;
        }
        byte += 1;
    }
    table
};

/// Adds the byte counters of [`simhash`] into its totals, and empties them.
fn flush(lanes: &mut [u64; 8], totals: &mut [u32; 64]) {
    for (lane, word) in lanes.iter_mut().enumerate() {
        for (i, count) in word.to_le_bytes().iter().enumerate() {
            totals[8 * lane + i] += u32::from(*count);
        }
        *word = 0;
    }
}

/// Two [`simhash`]es this close (bits that differ) are copies of one story. Two unrelated
/// texts differ in 32 bits on average; 10 or fewer by chance has a probability of about 1e-8,
/// while a copy with a word or a sentence changed stays within it.
pub const NEAR_DUPLICATE_BITS: u32 = 10;

/// Whether two [`simhash`]es are of near-duplicate copies.
pub fn near_duplicates(a: u64, b: u64) -> bool {
    (a ^ b).count_ones() <= NEAR_DUPLICATE_BITS
}

/// FNV-1a, 64 bits: stable across runs and builds, as a stored hash must be.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SimHash as first written, a bit at a time: the stored fingerprints were made by it.
    fn simhash_bit_by_bit(title: &str, body: &str) -> u64 {
        let chars = letters(title, body);
        let mut sums = [0i32; 64];
        let mut buf = [0u8; 32];
        for window in chars.windows(8.min(chars.len().max(1))) {
            let mut len = 0;
            for c in window {
                len += c.encode_utf8(&mut buf[len..]).len();
            }
            let h = fnv1a(&buf[..len]);
            for (bit, sum) in sums.iter_mut().enumerate() {
                *sum += if h >> bit & 1 == 1 { 1 } else { -1 };
            }
        }
        sums.iter()
            .enumerate()
            .fold(0u64, |acc, (bit, sum)| acc | (u64::from(*sum > 0) << bit))
    }

    /// The postings hold what a list for every term held, as the threader puts threads on
    /// them: a term's list of one thread without a list of its own.
    #[test]
    fn postings_hold_what_a_list_a_term_held() {
        let mut postings = Postings::default();
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); 20_050];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for _ in 0..20_000 {
            // Rare terms lead to one thread, common ones to many.
            let term = if next(4) == 0 {
                50 + next(20_000)
            } else {
                next(50)
            } as u32;
            let thread = next(90) as usize;
            let list = &mut lists[term as usize];
            if next(8) == 0 {
                postings.include(term, thread);
                if !list.contains(&(thread as u32)) {
                    list.push(thread as u32);
                }
            } else {
                postings.lead(term, thread, 5);
                if list.last() != Some(&(thread as u32)) {
                    list.push(thread as u32);
                    if list.len() > 5 {
                        list.remove(0);
                    }
                }
            }
            assert_eq!(postings.get(term), list.as_slice(), "term {term}");
        }
        for (term, list) in lists.iter().enumerate() {
            assert_eq!(postings.get(term as u32), list.as_slice());
        }
        assert_eq!(postings.get(100_000), &[] as &[u32]);
        // Terms with one thread have no list.
        let single = lists.iter().filter(|l| l.len() == 1).count();
        assert!(single > 0);
        assert_eq!(
            postings.lists.len(),
            lists.iter().filter(|l| l.len() > 1).count()
        );
    }

    #[test]
    fn the_simhash_is_the_one_stored_before() {
        let words = [
            "harbour",
            "ferry",
            "Storm",
            "港口",
            "渡轮",
            "шторм",
            "паром",
            "1998",
            "vote",
            "é",
        ];
        let mut seed = 7u64;
        for length in [0, 1, 3, 7, 8, 9, 100, 254, 255, 256, 257, 600, 3_000] {
            let mut body = String::new();
            for _ in 0..length {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                body.push_str(words[(seed >> 33) as usize % words.len()]);
                body.push(if seed & 1 == 0 { ' ' } else { ',' });
            }
            for title in ["", "A storm", "Шторм закрыл порт"] {
                assert_eq!(
                    simhash(title, &body),
                    simhash_bit_by_bit(title, &body),
                    "{title:?} and {length} words"
                );
            }
        }
    }

    #[test]
    fn copies_of_one_wire_story_are_near_duplicates_and_other_stories_are_not() {
        let body = "The harbour authority said on Tuesday that ferry services to the outer islands \
            would resume on Wednesday morning, three days after the storm forced their suspension. \
            Crews inspected the piers overnight and found no damage that would keep the boats in port. \
            Residents of the islands had been without deliveries of fresh food since Saturday.";
        let a = simhash("Ferries to the islands resume after the storm", body);
        let b = simhash(
            "Ferries to the islands resume after the storm",
            &body.replace("Tuesday", "Wednesday"),
        );
        let other = simhash(
            "Parliament approves the budget",
            "Parliament approved the budget after a night of votes, with the opposition saying \
             the spending plan leaves the regions short of money for schools and hospitals.",
        );
        assert!(near_duplicates(a, b), "{}", (a ^ b).count_ones());
        assert!(!near_duplicates(a, other), "{}", (a ^ other).count_ones());
        let zh = "港务局周二表示，前往离岛的渡轮服务将于周三上午恢复，此前风暴迫使其停航三天。";
        assert!(near_duplicates(
            simhash("渡轮恢复", zh),
            simhash("渡轮恢复", zh)
        ));
        assert_eq!(simhash("", ""), simhash("", ""));
    }

    #[test]
    fn a_frozen_thread_is_never_merged_and_refill_forgets_who_left() {
        let mut t = Threader::new(Params::default());
        let a = t
            .add(
                1,
                "en",
                "Ferry service resumes after the storm",
                "Ferry service resumes after the storm",
            )
            .thread;
        t.freeze(a);
        let b = t.add_to(
            2,
            "en",
            "Ferry service resumes after the storm passes",
            "Ferry service resumes",
            None,
        );
        assert_ne!(a, b);
        let c = t.add(
            3,
            "en",
            "Ferry service resumes after the storm",
            "Ferry service resumes after the storm",
        );
        assert!(c.absorbed.is_empty(), "{c:?}");
        assert_eq!(t.thread_of(a), a);
        assert_eq!(t.representative(a), Some(1));
        t.refill(a, [(1, "en", "Ferry service resumes after the storm", "")]);
        assert_eq!(t.size(a), 1);
    }

    #[test]
    fn stories_find_their_threads_in_their_own_languages() {
        let mut t = Threader::new(Params::default());
        let ferry = [
            "Ferry service to the outer islands resumes after the storm",
            "Harbour authority reopens ferry routes to the islands",
            "Island ferries sail again as the storm passes",
        ];
        let budget = [
            "Parliament approves the budget following a long night of votes",
            "Budget vote: parliament approves spending plan",
        ];
        let zh = [
            "港务局恢复前往离岛的渡轮航线",
            "渡轮航线恢复 离岛居民松了一口气",
        ];
        let mut n = 0;
        let mut add = |t: &mut Threader, lang: &str, h: &str| {
            n += 1;
            t.add(n, lang, h, h).thread
        };
        let a: Vec<usize> = ferry.iter().map(|h| add(&mut t, "en", h)).collect();
        let b: Vec<usize> = budget.iter().map(|h| add(&mut t, "en", h)).collect();
        let c: Vec<usize> = zh.iter().map(|h| add(&mut t, "zh", h)).collect();
        let now = |x: &[usize]| x.iter().map(|x| t.thread_of(*x)).collect::<Vec<_>>();
        let (a, b, c) = (now(&a), now(&b), now(&c));
        assert!(a.iter().all(|x| *x == a[0]), "{a:?}");
        assert!(b.iter().all(|x| *x == b[0]), "{b:?}");
        assert!(c.iter().all(|x| *x == c[0]), "{c:?}");
        assert!(a[0] != b[0] && a[0] != c[0] && b[0] != c[0]);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn one_name_in_common_is_not_one_story() {
        let trade = "Lakers agree contract extension with Bryant";
        let game = "Lakers lose to Wizards in overtime";
        let more = "Bryant signs Lakers extension through 2016";
        // Other stories, so that the names are not in every article.
        let others = [
            "Parliament approves the budget",
            "Storm closes the harbour",
            "Museum opens a new wing",
        ];
        let threads = |params: Params| {
            let mut t = Threader::new(params);
            for (n, h) in others.iter().enumerate() {
                t.add(n as u64, "en", h, h);
            }
            let a = t.add(10, "en", trade, trade).thread;
            let b = t.add(11, "en", game, game).thread;
            let c = t.add(12, "en", more, more).thread;
            (t.thread_of(a), t.thread_of(b), t.thread_of(c))
        };
        let (trade, game, more) = threads(Params::default());
        assert_ne!(trade, game, "they share only the team's name");
        assert_eq!(
            trade, more,
            "they share the team, the player and the extension"
        );
        let one = threads(Params {
            shared_terms: 1,
            ..Params::default()
        });
        assert_eq!(
            one.0, one.1,
            "with one term in common the game joins the trade"
        );
    }
}
