//! Related stories: each article's neighbours by content (BM25 more-like-this), re-ranked by
//! second-order similarity, that is by how alike two articles' whole lists of neighbours are.
//! Two reports of one story share most of their neighbours even where they share few words,
//! so the rest of a story climbs above articles that merely share a topic's vocabulary. A
//! small story's articles have few neighbours in common with anything, so its ranking stays
//! close to the first-order one: the method adapts to the size of the story by itself.
//!
//! Only neighbour lists are needed (a nearest-neighbour graph, kept as articles arrive), never
//! all pairs: ranking one article reads its list and those of its candidates.

use std::collections::HashMap;

/// How many neighbours each article keeps.
pub const NEIGHBOURS: usize = 100;
/// How many of an article's nearest neighbours lend it their own neighbours as candidates.
pub const EXPAND: usize = 30;
/// The weight of first-order similarity against second-order.
const FIRST: f32 = 0.3;

/// An article's neighbours, best first, each score divided by the best one.
fn normalized(list: &[(i64, f32)]) -> Vec<(i64, f32)> {
    let top = list.first().map_or(1.0, |(_, s)| *s).max(f32::EPSILON);
    list.iter().map(|(id, s)| (*id, s / top)).collect()
}

/// An article's profile: itself, and its neighbours with their normalized scores.
fn profile(id: i64, list: &[(i64, f32)]) -> HashMap<i64, f32> {
    let mut p: HashMap<i64, f32> = normalized(list).into_iter().collect();
    p.insert(id, 1.0);
    p
}

fn cosine(a: &HashMap<i64, f32>, b: &HashMap<i64, f32>) -> f32 {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let dot: f32 = small
        .iter()
        .filter_map(|(k, x)| large.get(k).map(|y| x * y))
        .sum();
    let norm = |p: &HashMap<i64, f32>| p.values().map(|v| v * v).sum::<f32>().sqrt();
    let n = norm(a) * norm(b);
    if n > 0.0 {
        dot / n
    } else {
        0.0
    }
}

/// Ranks the stories related to `id`: its neighbours and theirs, scored by how alike
/// they are to it (three tenths) and how alike their neighbourhoods are (seven tenths). `lists` gives an article's
/// neighbours (best first, with their scores); one it cannot give is scored by its first-order
/// similarity alone.
pub fn rank(id: i64, lists: &dyn Fn(i64) -> Option<Vec<(i64, f32)>>) -> Vec<(i64, f32)> {
    let Some(own) = lists(id) else {
        return vec![];
    };
    let first: HashMap<i64, f32> = normalized(&own).into_iter().collect();
    let mine = profile(id, &own);
    let mut candidates: Vec<i64> = own.iter().map(|(d, _)| *d).collect();
    let mut known: HashMap<i64, Vec<(i64, f32)>> = HashMap::new();
    for (n, _) in own.iter().take(EXPAND) {
        if let Some(list) = lists(*n) {
            candidates.extend(list.iter().map(|(d, _)| *d));
            known.insert(*n, list);
        }
    }
    candidates.sort_unstable();
    candidates.dedup();
    let mut scored: Vec<(i64, f32)> = candidates
        .into_iter()
        .filter(|d| *d != id)
        .map(|d| {
            let theirs = known.remove(&d).or_else(|| lists(d));
            let second = theirs.map_or(0.0, |l| cosine(&mine, &profile(d, &l)));
            let f = first.get(&d).copied().unwrap_or(0.0);
            (d, FIRST * f + (1.0 - FIRST) * second)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_story_shared_by_neighbours_rises() {
        // 1's words are nearest 9 (a different story sharing vocabulary), then 2 and 3 (its
        // own story); 2 and 3 share their neighbours with 1, 9 does not.
        let lists: HashMap<i64, Vec<(i64, f32)>> = [
            (1, vec![(9, 10.0), (2, 9.0), (3, 8.0)]),
            (2, vec![(1, 10.0), (3, 9.0), (4, 2.0)]),
            (3, vec![(1, 10.0), (2, 9.5), (4, 2.0)]),
            (9, vec![(7, 10.0), (8, 9.0), (1, 3.0)]),
        ]
        .into_iter()
        .collect();
        let ranked = rank(1, &|id| lists.get(&id).cloned());
        let order: Vec<i64> = ranked.iter().map(|(d, _)| *d).collect();
        assert_eq!(&order[..3], [2, 3, 9]);
    }
}
