//! Measures of a ranking against story labels: precision at 5, R-precision, mean average
//! precision and nDCG at 10, where an article is relevant to another when both carry the
//! same label.

use std::collections::{BTreeMap, HashMap};

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

/// How well a clustering agrees with the labels: normalized mutual information (arithmetic
/// mean, as scikit-learn's default), the adjusted Rand index, and adjusted mutual information
/// (arithmetic mean, corrected by the mutual information expected by chance).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Agreement {
    pub nmi: f64,
    pub ari: f64,
    pub ami: f64,
}

/// Compares `found` with `labels`, item by item (the same length).
pub fn agreement(labels: &[usize], found: &[usize]) -> Agreement {
    let n = labels.len();
    let relabel = |xs: &[usize]| {
        let mut ids: HashMap<usize, usize> = HashMap::new();
        let out: Vec<usize> = xs
            .iter()
            .map(|x| {
                let next = ids.len();
                *ids.entry(*x).or_insert(next)
            })
            .collect();
        (out, ids.len())
    };
    let (u, r) = relabel(labels);
    let (v, c) = relabel(found);
    // Ordered, so that the sums below run in the same order every time: the same clustering
    // scores the same to the last digit.
    let mut table: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    let (mut a, mut b) = (vec![0u64; r], vec![0u64; c]);
    for (x, y) in u.iter().zip(&v) {
        *table.entry((*x, *y)).or_default() += 1;
        a[*x] += 1;
        b[*y] += 1;
    }
    // The same partition, whatever its names, agrees perfectly: said exactly, not as the sums
    // below round it.
    if table.len() == r && r == c {
        return Agreement {
            nmi: 1.0,
            ari: 1.0,
            ami: 1.0,
        };
    }
    let nf = n as f64;
    let entropy = |sizes: &[u64]| {
        -sizes
            .iter()
            .filter(|s| **s > 0)
            .map(|s| {
                let p = *s as f64 / nf;
                p * p.ln()
            })
            .sum::<f64>()
    };
    let (hu, hv) = (entropy(&a), entropy(&b));
    let mi: f64 = table
        .iter()
        .map(|((i, j), nij)| {
            let nij = *nij as f64;
            nij / nf * (nf * nij / (a[*i] as f64 * b[*j] as f64)).ln()
        })
        .sum();
    let mean = (hu + hv) / 2.0;
    // Mutual information is at most either entropy, so a ratio above one is rounding.
    let nmi = if mean > 0.0 {
        (mi / mean).min(1.0)
    } else {
        1.0
    };
    // Adjusted Rand index, from pairs.
    let pairs = |x: u64| (x as f64) * (x as f64 - 1.0) / 2.0;
    let index: f64 = table.values().map(|x| pairs(*x)).sum();
    let (sa, sb) = (
        a.iter().map(|x| pairs(*x)).sum::<f64>(),
        b.iter().map(|x| pairs(*x)).sum::<f64>(),
    );
    let expected = sa * sb / pairs(n as u64);
    let most = (sa + sb) / 2.0;
    let ari = if most == expected {
        1.0
    } else {
        ((index - expected) / (most - expected)).min(1.0)
    };
    // Expected mutual information under the hypergeometric model (Vinh, Epps and Bailey 2010).
    let mut log_factorial = vec![0.0f64; n + 1];
    for k in 1..=n {
        log_factorial[k] = log_factorial[k - 1] + (k as f64).ln();
    }
    let lf = |k: u64| log_factorial[k as usize];
    // The terms depend on the sizes alone: each pair of sizes is summed once, times how many
    // pairs of clusters have them (a million items in 25,000 stories is then a moment's work).
    let by_size = |sizes: &[u64]| {
        let mut counted: BTreeMap<u64, u64> = BTreeMap::new();
        for s in sizes {
            *counted.entry(*s).or_default() += 1;
        }
        counted
    };
    let (a_sizes, b_sizes) = (by_size(&a), by_size(&b));
    let mut emi = 0.0;
    for (ai, a_many) in &a_sizes {
        for (bj, b_many) in &b_sizes {
            let many = (a_many * b_many) as f64;
            let start = (ai + bj).saturating_sub(n as u64).max(1);
            let end = (*ai).min(*bj);
            for nij in start..=end {
                let x = nij as f64;
                let term = x / nf * (nf * x / (*ai as f64 * *bj as f64)).ln();
                let log_p = lf(*ai) + lf(*bj) + lf(n as u64 - ai) + lf(n as u64 - bj)
                    - lf(n as u64)
                    - lf(nij)
                    - lf(ai - nij)
                    - lf(bj - nij)
                    - lf(n as u64 + nij - ai - bj);
                emi += many * term * log_p.exp();
            }
        }
    }
    let ami = if (mean - emi).abs() < f64::EPSILON {
        1.0
    } else {
        ((mi - emi) / (mean - emi)).min(1.0)
    };
    Agreement { nmi, ari, ami }
}

#[cfg(test)]
mod agreement_tests {
    use super::agreement;

    #[test]
    fn agreement_matches_scikit_learn() {
        // Values from sklearn.metrics 1.9 (normalized_mutual_info_score, adjusted_rand_score,
        // adjusted_mutual_info_score) on the same labels.
        let labels = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2];
        let found = [0, 0, 1, 1, 1, 2, 2, 2, 3, 3];
        let a = agreement(&labels, &found);
        assert!((a.nmi - 0.575_946_7).abs() < 1e-6, "{a:?}");
        assert!((a.ari - 0.237_288_1).abs() < 1e-6, "{a:?}");
        assert!((a.ami - 0.339_371_4).abs() < 1e-6, "{a:?}");
        let same = agreement(&labels, &[5, 5, 5, 7, 7, 7, 9, 9, 9, 9]);
        assert_eq!((same.nmi, same.ari, same.ami), (1.0, 1.0, 1.0));
    }

    #[test]
    fn the_adjusted_mutual_information_sums_each_pair_of_sizes_once() {
        // 3,000 items in clusters of many sizes, and a clustering that splits and mixes them.
        let mut seed = 11u64;
        let mut next = |below: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % below
        };
        let labels: Vec<usize> = (0..3_000)
            .map(|_| next(7) as usize * next(9) as usize)
            .collect();
        let found: Vec<usize> = labels
            .iter()
            .map(|l| if next(5) == 0 { next(40) as usize } else { *l })
            .collect();
        let a = agreement(&labels, &found);
        // The expected mutual information as first written: over every pair of clusters.
        let sizes = |xs: &[usize]| {
            let mut m = std::collections::BTreeMap::<usize, u64>::new();
            for x in xs {
                *m.entry(*x).or_default() += 1;
            }
            m.into_values().collect::<Vec<u64>>()
        };
        let (sa, sb, n) = (sizes(&labels), sizes(&found), labels.len() as u64);
        let table: Vec<f64> = (0..=n)
            .scan(0.0, |sum, i| {
                *sum += if i == 0 { 0.0 } else { (i as f64).ln() };
                Some(*sum)
            })
            .collect();
        let lf = |k: u64| table[k as usize];
        let nf = n as f64;
        let mut emi = 0.0;
        for ai in &sa {
            for bj in &sb {
                for nij in (ai + bj).saturating_sub(n).max(1)..=(*ai).min(*bj) {
                    let x = nij as f64;
                    let log_p = lf(*ai) + lf(*bj) + lf(n - ai) + lf(n - bj)
                        - lf(n)
                        - lf(nij)
                        - lf(ai - nij)
                        - lf(bj - nij)
                        - lf(n + nij - ai - bj);
                    emi += x / nf * (nf * x / (*ai as f64 * *bj as f64)).ln() * log_p.exp();
                }
            }
        }
        let entropy = |s: &[u64]| {
            -s.iter()
                .map(|c| *c as f64 / nf * (*c as f64 / nf).ln())
                .sum::<f64>()
        };
        let mean = (entropy(&sa) + entropy(&sb)) / 2.0;
        let mi = a.nmi * mean;
        let ami = (mi - emi) / (mean - emi);
        assert!((a.ami - ami).abs() < 1e-9, "{} against {ami}", a.ami);
        assert!(a.ami > 0.3 && a.ami < 0.95, "{a:?}");
    }
}
