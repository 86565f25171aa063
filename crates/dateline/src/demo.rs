//! The demo newsroom: sections, a series, topics, fronts and a few dozen articles in three
//! languages, written for the project and loaded through the same path as any import.

use anyhow::Context;
use std::sync::Arc;

use dateline_core::import::{parse_object, BodyFormat, FieldMap, ImportOptions};
use dateline_core::{ArticleKey, Lang, Localized, Section, Series, Slug, Topic};
use dateline_storage::{Store, Upserted};
use serde::Deserialize;
use std::collections::BTreeMap;

use crate::config::Config;

const NEWSROOM: &str = include_str!("../demo/newsroom.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Newsroom {
    sections: Vec<DemoSection>,
    series: Vec<DemoSeries>,
    topics: Vec<DemoTopic>,
    front: BTreeMap<String, Vec<String>>,
    articles: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct DemoSection {
    key: String,
    code: u32,
    name: Localized,
}

#[derive(Deserialize)]
struct DemoSeries {
    key: String,
    title: Localized,
    description: Localized,
    partners: Vec<String>,
}

#[derive(Deserialize)]
struct DemoTopic {
    key: String,
    title: Localized,
    intro: Localized,
}

/// The demo outlet's settings: an international desk in Beijing time, in three languages.
pub fn config() -> Config {
    Config {
        outlet: "The Meridian Daily".to_string(),
        time_zone: "Asia/Shanghai".to_string(),
        languages: vec!["en".to_string(), "zh".to_string(), "ru".to_string()],
        database: std::env::temp_dir().join("dateline-demo.db"),
        ..Config::default()
    }
}

/// Loads the demo newsroom into `store`, through the same rules and sanitizer as any import,
/// and says what happened to each article; loading it again changes nothing.
pub async fn load(store: &dyn Store, config: &Config) -> anyhow::Result<Vec<Upserted>> {
    let newsroom: Newsroom =
        serde_json::from_str(NEWSROOM).context("the demo newsroom is not valid")?;
    let sanitizer = Arc::new(config.sanitizer()?);
    for s in &newsroom.sections {
        store
            .put_section(&Section {
                key: Slug::parse(&s.key)?,
                code: s.code,
                name: s.name.clone(),
            })
            .await?;
    }
    for s in &newsroom.series {
        let series = Series {
            key: Slug::parse(&s.key)?,
            title: s.title.clone(),
            description: sanitizer.clean_localized(&s.description),
            partners: s
                .partners
                .iter()
                .map(|p| dateline_core::text::clean_line(p))
                .collect(),
        };
        store.put_series(&series).await?;
    }
    for t in &newsroom.topics {
        store
            .put_topic(&Topic {
                key: Slug::parse(&t.key)?,
                title: t.title.clone(),
                intro: sanitizer.clean_localized(&t.intro),
            })
            .await?;
    }
    let langs = config.languages()?;
    let options = ImportOptions {
        fields: FieldMap::default(),
        sanitizer,
        default_lang: langs[0].clone(),
        default_section: Slug::parse("world")?,
        time_zone: config.time_zone()?,
        undated_at: None,
        headline_from_body: false,
        body_format: BodyFormat::Html,
        max_line_bytes: usize::MAX,
    };
    let articles = newsroom
        .articles
        .iter()
        .enumerate()
        .map(|(i, a)| parse_object(a, &options).with_context(|| format!("demo article {}", i + 1)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut report = Vec::with_capacity(articles.len());
    for (i, outcome) in store
        .import_articles(&articles, jiff::Timestamp::now())
        .await?
        .into_iter()
        .enumerate()
    {
        report.push(
            outcome.with_context(|| format!("demo article {:?}", articles[i].key().as_str()))?,
        );
    }
    for (lang, keys) in &newsroom.front {
        let keys = keys
            .iter()
            .map(|k| ArticleKey::parse(k))
            .collect::<Result<Vec<_>, _>>()?;
        store.set_front(&Lang::parse(lang)?, &keys).await?;
    }
    Ok(report)
}

/// One account per role for a visitor to try the newsroom with: each gets a new password on
/// every start, returned once for printing.
pub async fn accounts(
    store: &dyn Store,
) -> anyhow::Result<
    Vec<(
        dateline_core::account::Role,
        dateline_core::account::Username,
        dateline_core::account::Password,
    )>,
> {
    use dateline_core::account::{Grants, Password, Role, Username};
    let people = [
        (Role::Contributor, "reporter", vec![]),
        (Role::Editor, "world-editor", vec!["world", "diplomacy"]),
        (Role::ChiefEditor, "chief", vec![]),
        (Role::Admin, "admin", vec![]),
    ];
    let now = jiff::Timestamp::now();
    let mut logins = Vec::new();
    for (role, name, desks) in people {
        let username = Username::parse(name)?;
        let password = Password::generate()?;
        if store.account(&username).await?.is_some() {
            store
                .set_password(&username, &password.hash()?, now)
                .await?;
        } else {
            let grants = Grants::new(
                [role],
                desks
                    .iter()
                    .map(|d| Slug::parse(d))
                    .collect::<Result<Vec<_>, _>>()?,
            )?;
            store
                .create_account(&username, &grants, &password.hash()?, now)
                .await?;
        }
        logins.push((role, username, password));
    }
    Ok(logins)
}
