//! Related stories the index suggests for an article page: the article's neighbours by
//! content, re-ranked by how alike their own neighbourhoods are (`dateline_search::related`).
//! Neighbour lists are kept in memory until the index changes.

use std::collections::HashMap;
use std::sync::Mutex;

use dateline_search::related::{rank, EXPAND, NEIGHBOURS};
use dateline_search::SearchIndex;

/// How many of an article's nearest neighbours get their own list read for the ranking: as
/// many as lend their neighbours as candidates. A page shows a handful of stories, and those
/// come from among these; the evaluation ranks every candidate.
const PROFILED: usize = EXPAND;
/// The most neighbour lists kept.
const KEPT: usize = 20_000;

/// The neighbour lists read at one generation of the index.
type Lists = (u64, HashMap<i64, Vec<(i64, f32)>>);

/// Neighbour lists, for as long as the index does not change.
#[derive(Default)]
pub struct Neighbours {
    lists: Mutex<Lists>,
}

impl Neighbours {
    fn list(&self, index: &SearchIndex, id: i64) -> Option<Vec<(i64, f32)>> {
        let generation = index.generation();
        if let Ok(mut kept) = self.lists.lock() {
            if kept.0 != generation {
                *kept = (generation, HashMap::new());
            }
            if let Some(list) = kept.1.get(&id) {
                return Some(list.clone());
            }
        }
        let list = match index.neighbours(id, NEIGHBOURS) {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(article = id, error = %e, "could not read an article's neighbours");
                return None;
            }
        };
        if let Ok(mut kept) = self.lists.lock() {
            if kept.1.len() >= KEPT {
                kept.1.clear();
            }
            kept.1.insert(id, list.clone());
        }
        Some(list)
    }

    /// The articles related to `id`, best first, with their scores.
    pub fn suggest(&self, index: &SearchIndex, id: i64) -> Vec<(i64, f32)> {
        let Some(own) = self.list(index, id) else {
            return vec![];
        };
        self.rank_from(index, id, own)
    }

    /// The articles related to a text not in the index (a draft), ranked the same way.
    pub fn suggest_for_text(
        &self,
        index: &SearchIndex,
        id: i64,
        lang: &str,
        headline: &str,
        body: &str,
    ) -> Vec<(i64, f32)> {
        match index.neighbours_of_text(lang, headline, body, id, NEIGHBOURS) {
            Ok(own) => self.rank_from(index, id, own),
            Err(e) => {
                tracing::warn!(article = id, error = %e, "no suggestions for a draft");
                vec![]
            }
        }
    }

    fn rank_from(&self, index: &SearchIndex, id: i64, own: Vec<(i64, f32)>) -> Vec<(i64, f32)> {
        let profiled: HashMap<i64, Vec<(i64, f32)>> = own
            .iter()
            .take(PROFILED)
            .filter_map(|(n, _)| self.list(index, *n).map(|l| (*n, l)))
            .collect();
        rank(id, &|x| {
            if x == id {
                Some(own.clone())
            } else {
                profiled.get(&x).cloned()
            }
        })
    }
}
