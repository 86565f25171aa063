//! Measures of a ranking against story labels: precision at 5, R-precision, mean average
//! precision and nDCG at 10, where an article is relevant to another when both carry the
//! same label.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Scores {
    pub p_at_5: f64,
    pub r_precision: f64,
    pub map: f64,
    pub ndcg_at_10: f64,
}

/// The mean of each measure over every query that has at least one relevant article.
/// `rankings` gives, for each query, the other articles in ranked order (those left out count
/// as ranked last, and contribute nothing).
pub fn score(rankings: &[(i64, Vec<i64>)], labels: &HashMap<i64, String>) -> (usize, Scores) {
    let mut size: HashMap<&str, usize> = HashMap::new();
    for l in labels.values() {
        *size.entry(l.as_str()).or_default() += 1;
    }
    let mut total = Scores::default();
    let mut n = 0usize;
    for (q, ranked) in rankings {
        let Some(label) = labels.get(q) else { continue };
        let r = size.get(label.as_str()).copied().unwrap_or(1) - 1;
        if r == 0 {
            continue;
        }
        n += 1;
        let relevant = |d: &i64| labels.get(d) == Some(label);
        let hits_at = |k: usize| ranked.iter().take(k).filter(|d| relevant(d)).count();
        total.p_at_5 += hits_at(5) as f64 / 5.0;
        total.r_precision += hits_at(r) as f64 / r as f64;
        let mut found = 0usize;
        let mut ap = 0.0;
        for (i, d) in ranked.iter().enumerate() {
            if relevant(d) {
                found += 1;
                ap += found as f64 / (i + 1) as f64;
            }
        }
        total.map += ap / r as f64;
        let dcg: f64 = ranked
            .iter()
            .take(10)
            .enumerate()
            .filter(|(_, d)| relevant(d))
            .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
            .sum();
        let ideal: f64 = (0..r.min(10)).map(|i| 1.0 / ((i + 2) as f64).log2()).sum();
        total.ndcg_at_10 += dcg / ideal;
    }
    let d = n.max(1) as f64;
    (
        n,
        Scores {
            p_at_5: total.p_at_5 / d,
            r_precision: total.r_precision / d,
            map: total.map / d,
            ndcg_at_10: total.ndcg_at_10 / d,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_ranking_scores_one_and_a_reversed_one_less() {
        let labels: HashMap<i64, String> = [(1, "a"), (2, "a"), (3, "a"), (4, "b"), (5, "b")]
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        let perfect = vec![(1, vec![2, 3, 4, 5]), (4, vec![5, 1, 2, 3])];
        let (n, s) = score(&perfect, &labels);
        assert_eq!(n, 2);
        assert!((s.r_precision - 1.0).abs() < 1e-9 && (s.map - 1.0).abs() < 1e-9);
        assert!((s.ndcg_at_10 - 1.0).abs() < 1e-9);
        let (_, worse) = score(&[(1, vec![4, 5, 2, 3])], &labels);
        assert_eq!(worse.r_precision, 0.0);
        assert!((worse.map - (1.0 / 3.0 + 2.0 / 4.0) / 2.0).abs() < 1e-9);
    }
}
