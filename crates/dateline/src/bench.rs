//! `dateline bench search`: a generated archive in a fresh index, and how fast it is searched
//! and related. The generator writes news-like articles: a headline of 6 to 14 words and a body
//! of 150 to 900, drawn from a vocabulary of 60,000 made-up words whose frequencies follow
//! Zipf's law (as a language's do), each article about one of N/40 stories whose 40 own words
//! it uses often (as reports of one story share names and places). It is seeded: the same
//! count makes the same archive.

use std::path::Path;
use std::time::{Duration, Instant};

use dateline_search::related::{rank, EXPAND, NEIGHBOURS};
use dateline_search::{Indexed, SearchIndex, SearchQuery};

/// A small, seeded generator (xorshift64*): the archive is the same on every run.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const SYLLABLES: [&str; 24] = [
    "ka", "ro", "mi", "ten", "sa", "lo", "ver", "du", "an", "pel", "or", "ist", "ga", "ne", "bri",
    "tal", "mon", "us", "re", "ci", "dov", "ha", "el", "ston",
];

fn word(mut n: u64) -> String {
    let mut w = String::new();
    loop {
        w.push_str(SYLLABLES[(n % 24) as usize]);
        n /= 24;
        if n == 0 {
            break;
        }
    }
    w
}

struct Vocabulary {
    words: Vec<String>,
    cdf: Vec<f64>,
}

impl Vocabulary {
    fn new(size: usize) -> Vocabulary {
        let words: Vec<String> = (0..size as u64).map(|i| word(i + 24)).collect();
        let mut cdf = Vec::with_capacity(size);
        let mut total = 0.0;
        for rank in 1..=size {
            total += 1.0 / rank as f64;
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Vocabulary { words, cdf }
    }
    fn draw(&self, rng: &mut Rng) -> &str {
        let u = rng.unit();
        let i = self
            .cdf
            .partition_point(|c| *c < u)
            .min(self.words.len() - 1);
        &self.words[i]
    }
}

fn article(id: i64, vocabulary: &Vocabulary, stories: u64, rng: &mut Rng) -> Indexed {
    story_article(id, vocabulary, stories, rng).0
}

/// An article of the generated archive, and the story it is about.
fn story_article(id: i64, vocabulary: &Vocabulary, stories: u64, rng: &mut Rng) -> (Indexed, u64) {
    let story = rng.below(stories);
    let own = |rng: &mut Rng| word(1_000_000 + story * 40 + rng.below(40));
    let text = |n: u64, rng: &mut Rng| {
        (0..n)
            .map(|_| {
                if rng.below(6) == 0 {
                    own(rng)
                } else {
                    vocabulary.draw(rng).to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let headline = text(6 + rng.below(9), rng);
    let body = text(150 + rng.below(751), rng);
    let indexed = Indexed {
        id,
        key: format!("g{id}"),
        lang: "en".into(),
        section: format!("s{}", rng.below(8)),
        headline,
        summary: None,
        body,
        byline: None,
        topics: vec![],
        published: jiff::Timestamp::from_second(1_500_000_000 + id * 60).unwrap_or_default(),
    };
    (indexed, story)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        dir_size(&p)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Generates `count` articles into a new index in `dir`, then times searches and related.
pub fn search(count: u64, dir: &Path, queries: usize) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir)?;
    let index = SearchIndex::open(dir)?;
    let vocabulary = Vocabulary::new(60_000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let stories = (count / 40).max(1);
    let bar = crate::progress_bar(
        count,
        "indexing [{bar:40}] {pos}/{len} {per_sec} {eta}",
        true,
    );
    let started = Instant::now();
    let mut words = 0u64;
    // An index already holding this archive (from an earlier run) is timed again as it is.
    let skip = index.len() == count;
    for id in (0..count).filter(|_| !skip) {
        let a = article(i64::try_from(id)?, &vocabulary, stories, &mut rng);
        words += (a.headline.split(' ').count() + a.body.split(' ').count()) as u64;
        index.put(&a)?;
        if id % 100_000 == 99_999 {
            index.commit()?;
        }
        bar.inc(1);
    }
    index.commit()?;
    bar.finish_and_clear();
    let indexing = started.elapsed();
    if skip {
        words = 0;
    }

    let mut times = Vec::with_capacity(queries);
    for _ in 0..queries {
        let n = 1 + rng.below(3);
        let text = (0..n)
            .map(|_| vocabulary.draw(&mut rng).to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let t = Instant::now();
        index.search(
            &SearchQuery {
                text,
                limit: 10,
                ..SearchQuery::default()
            },
            jiff::Timestamp::now(),
        )?;
        times.push(t.elapsed());
    }
    times.sort();
    let mut related = Vec::new();
    for _ in 0..(queries / 10).max(10) {
        let id = i64::try_from(rng.below(count))?;
        let t = Instant::now();
        let own = index.neighbours(id, NEIGHBOURS)?;
        let lists: std::collections::HashMap<i64, Vec<(i64, f32)>> = own
            .iter()
            .take(EXPAND)
            .map(|(n, _)| Ok((*n, index.neighbours(*n, NEIGHBOURS)?)))
            .collect::<Result<_, dateline_search::SearchError>>()?;
        let _ = rank(id, &|x| {
            if x == id {
                Some(own.clone())
            } else {
                lists.get(&x).cloned()
            }
        });
        related.push(t.elapsed());
    }
    related.sort();
    // The graph kept as the follower keeps it when each of these is published: the story's
    // list and its nearest neighbours' read anew.
    let sample: Vec<i64> = (0..(queries / 10).max(10))
        .map(|_| i64::try_from(rng.below(count)).unwrap_or(0))
        .collect();
    let mut upkeep = Vec::new();
    for id in &sample {
        let t = Instant::now();
        index.keep_graph(&[*id])?;
        upkeep.push(t.elapsed());
    }
    upkeep.sort();
    index.commit()?;
    drop(index);
    // A page's ranking in a new process: every list from the graph on disk.
    let index = SearchIndex::open(dir)?;
    let mut kept = Vec::new();
    for id in &sample {
        let id = *id;
        let t = Instant::now();
        let own = index.neighbour_list(id)?;
        let lists: std::collections::HashMap<i64, Vec<(i64, f32)>> = own
            .iter()
            .take(EXPAND)
            .map(|(n, _)| Ok((*n, index.neighbour_list(*n)?)))
            .collect::<Result<_, dateline_search::SearchError>>()?;
        let _ = rank(id, &|x| {
            if x == id {
                Some(own.clone())
            } else {
                lists.get(&x).cloned()
            }
        });
        kept.push(t.elapsed());
    }
    kept.sort();
    let mut neighbour = Vec::new();
    for _ in 0..(queries / 10).max(10) {
        let id = i64::try_from(rng.below(count))?;
        let t = Instant::now();
        index.neighbours(id, NEIGHBOURS)?;
        neighbour.push(t.elapsed());
    }
    neighbour.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(format!(
        "articles: {count} ({words} words), generated and indexed in {:.1} s: {:.0} articles/s\n\
         index size: {:.1} MB\n\
         search ({queries} queries of 1 to 3 words, 10 hits with snippets): p50 {:.2} ms, p99 {:.2} ms\n\
         one neighbour list (more-like-this, 100 neighbours): p50 {:.2} ms, p99 {:.2} ms\n\
         related stories, cold (the article's list and its 30 nearest's read from the index, then the ranking): p50 {:.2} ms, p99 {:.2} ms\n\
         keeping the neighbour graph around a published story (its list and its 30 nearest's read anew): p50 {:.2} ms, p99 {:.2} ms\n\
         related stories from the kept graph, in a new process (as an article page ranks them): p50 {:.2} ms, p99 {:.2} ms\n",
        indexing.as_secs_f64(),
        count as f64 / indexing.as_secs_f64(),
        dir_size(dir) as f64 / 1e6,
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(percentile(&neighbour, 0.5)),
        ms(percentile(&neighbour, 0.99)),
        ms(percentile(&related, 0.5)),
        ms(percentile(&related, 0.99)),
        ms(percentile(&upkeep, 0.5)),
        ms(percentile(&upkeep, 0.99)),
        ms(percentile(&kept, 0.5)),
        ms(percentile(&kept, 0.99)),
    ))
}

/// The desks of a generated archive, with how often each files a story (in thousandths).
const DESKS: [(&str, u64); 10] = [
    ("world", 220),
    ("china", 160),
    ("business", 150),
    ("politics", 120),
    ("sports", 100),
    ("culture", 70),
    ("science", 60),
    ("opinion", 50),
    ("travel", 40),
    ("health", 30),
];

const FIRST_NAMES: [&str; 20] = [
    "Mara", "Tomas", "Li", "Anna", "Omar", "Ines", "Kofi", "Yuki", "Elif", "Noor", "Pavel",
    "Sofia", "Jun", "Amara", "Lucas", "Wei", "Hana", "Diego", "Zara", "Nils",
];
const LAST_NAMES: [&str; 20] = [
    "Lindqvist",
    "Ek",
    "Wei",
    "Sokolova",
    "Haddad",
    "Ruiz",
    "Mensah",
    "Tanaka",
    "Marston",
    "Castellane",
    "Orlov",
    "Greco",
    "Park",
    "Okafor",
    "Moreau",
    "Zhang",
    "Kim",
    "Alvarez",
    "Qureshi",
    "Berg",
];

/// Writes a generated archive of `count` articles as import records (JSON Lines) to `out`:
/// the search benchmark's vocabulary and stories (a Zipf-distributed vocabulary of 60,000
/// made-up words, each article about one of N/40 stories with 40 words of its own), with
/// headlines of 6 to 14 words, a summary, bodies of 150 to 900 words in paragraphs, ten desks
/// filing at the rates of a general outlet, 400 reporters (one byline in eight names two),
/// each story its topic, and first publication one minute apart, the newest now. Seeded: the
/// same count makes the same archive.
pub fn archive(count: u64, out: &mut dyn std::io::Write, progress: bool) -> anyhow::Result<()> {
    let vocabulary = Vocabulary::new(60_000);
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    let stories = (count / 40).max(1);
    let bar = crate::progress_bar(
        count,
        "generating [{bar:40}] {pos}/{len} {per_sec} {eta}",
        progress,
    );
    let newest = jiff::Timestamp::now().as_second();
    let reporter = |n: u64| {
        format!(
            "{} {}",
            FIRST_NAMES[(n % 20) as usize],
            LAST_NAMES[((n / 20) % 20) as usize]
        )
    };
    for n in 0..count {
        let (a, story) = story_article(i64::try_from(n)?, &vocabulary, stories, &mut rng);
        let capitalized = |s: &str| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        };
        let words: Vec<&str> = a.body.split(' ').collect();
        let summary = format!("{}.", capitalized(&words[..words.len().min(24)].join(" ")));
        let body: String = words
            .chunks(60)
            .map(|p| format!("<p>{}.</p>", capitalized(&p.join(" "))))
            .collect();
        let mut pick = rng.below(1000);
        let desk = DESKS
            .iter()
            .find(|(_, share)| {
                let hit = pick < *share;
                pick = pick.saturating_sub(*share);
                hit
            })
            .map_or("world", |(d, _)| *d);
        let byline = if rng.below(8) == 0 {
            format!(
                "By {} and {}",
                reporter(rng.below(400)),
                reporter(rng.below(400))
            )
        } else {
            format!("By {}", reporter(rng.below(400)))
        };
        let published = jiff::Timestamp::from_second(newest - i64::try_from(count - n)? * 60)?;
        let record = serde_json::json!({
            "id": format!("gen-{n}"),
            "headline": capitalized(&a.headline),
            "summary": summary,
            "body": body,
            "byline": byline,
            "section": desk,
            "topics": [format!("story-{story}")],
            "published": published.to_string(),
        });
        serde_json::to_writer(&mut *out, &record)?;
        out.write_all(b"\n")?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.flush()?;
    Ok(())
}

/// `dateline bench threads`: threads `count` generated articles (each about one of `count / 40`
/// stories, as in `search`), timing the threader alone over each tenth of the stream; prints
/// each tenth's speed as it goes, and answers the agreement with the generated stories.
pub fn threads(count: u64) -> anyhow::Result<String> {
    use dateline_search::threads::{Params, Threader};
    use std::fmt::Write;
    let vocabulary = Vocabulary::new(60_000);
    let mut rng = Rng(0x7EAD_5EED_0000_0001);
    let stories = (count / 40).max(1);
    let mut threader = Threader::new(Params::default());
    let tenth = (count / 10).max(1);
    let bar = crate::progress_bar(
        count,
        "threading [{bar:40}] {pos}/{len} {per_sec} {eta}",
        true,
    );
    let mut report = String::new();
    println!("{count} generated articles about {stories} stories, threaded one at a time");
    println!("{:>10} {:>15}", "articles", "items a second");
    let (mut labels, mut assigned) = (Vec::with_capacity(count as usize), Vec::new());
    let mut spent = Duration::ZERO;
    for n in 0..count {
        let (a, story) = story_article(i64::try_from(n)?, &vocabulary, stories, &mut rng);
        let started = Instant::now();
        assigned.push(
            threader
                .add(assigned.len() as u64, &a.lang, &a.headline, &a.body)
                .thread,
        );
        spent += started.elapsed();
        labels.push(usize::try_from(story)?);
        if (n + 1) % tenth == 0 || n + 1 == count {
            let line = format!(
                "{:>10} {:>15.0}",
                n + 1,
                tenth as f64 / spent.as_secs_f64().max(f64::EPSILON)
            );
            // Said as it goes (and not again in the report): a long run shows how the speed
            // holds up before it ends.
            bar.suspend(|| println!("{line}"));
            spent = Duration::ZERO;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let held = threader.footprint();
    let mb = |bytes: usize| bytes as f64 / 1e6;
    writeln!(
        report,
        "held {:.1} MB: {} terms and their words {:.1} MB, postings {:.1} MB, threads {:.1} MB",
        mb(held.bytes()),
        held.terms,
        mb(held.words),
        mb(held.postings),
        mb(held.threads)
    )?;
    let found: Vec<usize> = assigned.iter().map(|t| threader.thread_of(*t)).collect();
    let a = dateline_search::eval::agreement(&labels, &found);
    writeln!(
        report,
        "threads {}; against the generated stories NMI {:.4}, ARI {:.4}, AMI {:.4}",
        threader.len(),
        a.nmi,
        a.ari,
        a.ami
    )?;
    Ok(report)
}
