//! Story threads: every article joins the thread of its story as it arrives, or starts one.
//! Online and in one pass, as publishing brings articles: no batch clustering, and no
//! comparison against every thread (an index from terms to threads finds the candidates).
//!
//! An article is a TF-IDF vector of its words, as the search index analyzes its language, its
//! headline counted [`Params::title_weight`] times, with document frequencies counted as
//! articles arrive. A thread is the sum of its articles' vectors, cut to its
//! [`Params::centroid_terms`] heaviest terms. An article joins the most similar thread among
//! those that share one of its [`Params::probe`] heaviest terms, if the cosine reaches
//! [`Params::join`]; otherwise it starts a thread. A thread that grows close to another (cosine
//! [`Params::merge`]) takes it in: two threads begun before their story's shape was clear
//! become one.

use std::collections::HashMap;

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
        }
    }
}

#[derive(Debug, Default)]
struct Thread {
    /// Term id to weight: the sum of its articles' unit vectors, cut to its heaviest terms.
    centroid: HashMap<u32, f32>,
    norm: f32,
    size: u32,
}

/// The threads, and what they are found by.
pub struct Threader {
    params: Params,
    analyzers: HashMap<&'static str, TextAnalyzer>,
    terms: HashMap<String, u32>,
    /// Articles each term was in.
    df: Vec<u32>,
    articles: u64,
    threads: Vec<Thread>,
    /// A thread taken into another leads to it.
    merged_into: Vec<Option<usize>>,
    /// Term id to the threads (most recent last) whose centroid has it.
    postings: HashMap<u32, Vec<usize>>,
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
            terms: HashMap::new(),
            df: Vec::new(),
            articles: 0,
            threads: Vec::new(),
            merged_into: Vec::new(),
            postings: HashMap::new(),
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

    /// Puts an article in its thread, or starts one; answers the thread.
    pub fn add(&mut self, lang: &str, title: &str, body: &str) -> usize {
        let vector = self.vector(lang, title, body);
        let best = self.best(&vector);
        let thread = match best {
            Some((thread, cosine)) if cosine >= self.params.join => {
                self.grow(thread, &vector);
                self.settle(thread)
            }
            _ => {
                let thread = self.threads.len();
                self.threads.push(Thread::default());
                self.merged_into.push(None);
                self.grow(thread, &vector);
                thread
            }
        };
        self.thread_of(thread)
    }

    /// The article's unit TF-IDF vector, counting it in the document frequencies.
    fn vector(&mut self, lang: &str, title: &str, body: &str) -> Vec<(u32, f32)> {
        let group = crate::analysis::group(lang);
        let name = match group {
            "en" => "dl_en",
            "ru" => "dl_ru",
            "zh" => "dl_zh",
            _ => "dl_plain",
        };
        let mut counts: HashMap<u32, u32> = HashMap::new();
        if let Some(analyzer) = self.analyzers.get_mut(name) {
            for (text, weight, most) in [
                (title, self.params.title_weight, usize::MAX),
                (body, 1, self.params.body_words),
            ] {
                let mut stream = analyzer.token_stream(text);
                let mut taken = 0;
                while let Some(token) = stream.next() {
                    taken += 1;
                    if taken > most {
                        break;
                    }
                    let next = u32::try_from(self.terms.len()).unwrap_or(u32::MAX);
                    let id = *self.terms.entry(token.text.clone()).or_insert(next);
                    *counts.entry(id).or_default() += weight;
                }
            }
        }
        self.articles += 1;
        for id in counts.keys() {
            let at = *id as usize;
            if self.df.len() <= at {
                self.df.resize(at + 1, 0);
            }
            self.df[at] += 1;
        }
        let n = self.articles as f32;
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
    fn best(&self, vector: &[(u32, f32)]) -> Option<(usize, f32)> {
        let mut reached: HashMap<usize, f32> = HashMap::new();
        for (id, w) in vector.iter().take(self.params.probe) {
            if let Some(threads) = self.postings.get(id) {
                for t in threads {
                    *reached.entry(*t).or_default() += w;
                }
            }
        }
        let mut ranked: Vec<(usize, f32)> = reached.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut shortlist: Vec<usize> = ranked
            .into_iter()
            .take(self.params.shortlist)
            .map(|(t, _)| self.thread_of(t))
            .collect();
        shortlist.sort_unstable();
        shortlist.dedup();
        shortlist
            .into_iter()
            .map(|t| (t, self.cosine(t, vector)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    fn cosine(&self, thread: usize, vector: &[(u32, f32)]) -> f32 {
        let t = &self.threads[thread];
        if t.norm == 0.0 {
            return 0.0;
        }
        vector
            .iter()
            .map(|(id, w)| w * t.centroid.get(id).copied().unwrap_or(0.0))
            .sum::<f32>()
            / t.norm
    }

    /// Adds a vector to a thread, cuts it to its heaviest terms, and indexes them.
    fn grow(&mut self, thread: usize, vector: &[(u32, f32)]) {
        let t = &mut self.threads[thread];
        for (id, w) in vector {
            *t.centroid.entry(*id).or_default() += w;
        }
        t.size += 1;
        Threader::cut(t, self.params.centroid_terms);
        // The article's terms lead to the thread (most recent last; a term it shares with the
        // thread's earlier articles already does). A term the thread's cut dropped may still
        // lead to it: a candidate too many, never one too few.
        for (id, _) in vector {
            let list = self.postings.entry(*id).or_default();
            if list.last() != Some(&thread) {
                list.push(thread);
                if list.len() > self.params.postings {
                    list.remove(0);
                }
            }
        }
    }

    /// Keeps a thread's `keep` heaviest terms, and its norm. In a fixed order (weight, then
    /// term), so that the same stream makes the same threads on every run.
    fn cut(t: &mut Thread, keep: usize) {
        let mut all: Vec<(u32, f32)> = t.centroid.drain().collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(keep);
        t.norm = all.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        t.centroid = all.into_iter().collect();
    }

    /// Takes into `thread` every thread it has grown close to; answers what it is now.
    fn settle(&mut self, thread: usize) -> usize {
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
        let mut others: Vec<usize> = Vec::new();
        for (id, _) in unit.iter().take(20) {
            if let Some(threads) = self.postings.get(id) {
                others.extend(threads.iter().map(|t| self.thread_of(*t)));
            }
        }
        others.sort_unstable();
        others.dedup();
        for other in others {
            if other == thread || self.cosine(other, &unit) < self.params.merge {
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
            for (id, w) in taken.centroid {
                *t.centroid.entry(id).or_default() += w;
            }
            t.size += taken.size;
            Threader::cut(t, self.params.centroid_terms);
            self.merged_into[gone] = Some(keep);
            let ids: Vec<u32> = self.threads[keep].centroid.keys().copied().collect();
            for id in ids {
                let list = self.postings.entry(id).or_default();
                if !list.contains(&keep) {
                    list.push(keep);
                }
            }
            return self.settle(keep);
        }
        thread
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let a: Vec<usize> = ferry.iter().map(|h| t.add("en", h, h)).collect();
        let b: Vec<usize> = budget.iter().map(|h| t.add("en", h, h)).collect();
        let c: Vec<usize> = zh.iter().map(|h| t.add("zh", h, h)).collect();
        let now = |x: &[usize]| x.iter().map(|x| t.thread_of(*x)).collect::<Vec<_>>();
        let (a, b, c) = (now(&a), now(&b), now(&c));
        assert!(a.iter().all(|x| *x == a[0]), "{a:?}");
        assert!(b.iter().all(|x| *x == b[0]), "{b:?}");
        assert!(c.iter().all(|x| *x == c[0]), "{c:?}");
        assert!(a[0] != b[0] && a[0] != c[0] && b[0] != c[0]);
        assert_eq!(t.len(), 3);
    }
}
