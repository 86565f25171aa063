//! Related stories the index suggests for an article page: the article's neighbours by
//! content, re-ranked by how alike their own neighbourhoods are (`dateline_search::related`).
//! The index keeps each article's neighbour list in its graph, on disk; the follower keeps the
//! graph up to date as stories are published, so that a page reads lists rather than running
//! a query for each.

use std::collections::HashMap;

use dateline_search::related::{rank, EXPAND, NEIGHBOURS};
use dateline_search::SearchIndex;

/// How many of an article's nearest neighbours get their own list read for the ranking: as
/// many as lend their neighbours as candidates. A page shows a handful of stories, and those
/// come from among these; the evaluation ranks every candidate.
const PROFILED: usize = EXPAND;

/// Related stories from the neighbour lists of the index's graph.
#[derive(Default)]
pub struct Neighbours;

impl Neighbours {
    fn list(&self, index: &SearchIndex, id: i64) -> Option<Vec<(i64, f32)>> {
        match index.neighbour_list(id) {
            Ok(list) => Some(list),
            Err(e) => {
                tracing::warn!(article = id, error = %e, "could not read an article's neighbours");
                None
            }
        }
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
