//! Home page, section fronts, series, topics, translations and editions.

use dateline_core::{ArticleKey, Lang, Localized, Series, Slug, Topic};
use serde_json::json;

use crate::helpers::{Page, TestApp};

/// An editor's introduction with everything a sanitizer must take out; TEXT is the real text.
const HOSTILE: &str = r#"<p onmouseover="alert(1)">TEXT<script>alert(2)</script></p><style>body{display:none}</style><img src=x onerror=alert(3)><svg onload=alert(4)></svg> <a href="javascript:alert(5)">more</a><iframe srcdoc="<script>alert(6)</script>"></iframe>"#;

/// Nothing inside `css` can run: no script, style, frame or SVG, no handler, no javascript: link.
fn assert_neutralized(page: &Page, css: &str) {
    let inside = |what: &str| format!("{css} {what}");
    for element in ["script", "style", "iframe", "svg"] {
        assert!(
            page.texts(&inside(element)).is_empty(),
            "{element} survived in {css}"
        );
    }
    for attribute in ["onmouseover", "onerror", "onload", "srcdoc", "style"] {
        assert!(
            page.attrs(&inside(&format!("[{attribute}]")), attribute)
                .is_empty(),
            "{attribute} survived in {css}"
        );
    }
    for href in page.attrs(&inside("a"), "href") {
        assert!(!href.to_ascii_lowercase().contains("javascript"), "{href}");
    }
}

#[tokio::test]
async fn home_page_puts_the_editors_top_stories_first_then_the_latest() {
    let app = TestApp::spawn().await;
    app.publish(&[
        json!({"id": "old-lead", "headline": "Editors' pick", "summary": "Why it matters.", "published": "2020-01-01T00:00:00Z"}),
        json!({"id": "second", "headline": "Second pick", "published": "2020-01-02T00:00:00Z"}),
        json!({"id": "newest", "headline": "Newest story", "published": "2024-01-01T00:00:00Z"}),
        json!({"id": "newer", "headline": "Newer story", "published": "2023-01-01T00:00:00Z"}),
    ])
    .await;
    let keys = ["old-lead", "second"].map(|k| ArticleKey::parse(k).expect("key"));
    app.store
        .set_front(&Lang::parse("en").expect("lang"), &keys)
        .await
        .expect("front");

    let page = app.page("/").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.texts("h1"), vec!["Dateline"]);
    assert_eq!(page.text(".lead .headline"), "Editors' pick");
    assert_eq!(page.text(".lead .summary"), "Why it matters.");
    assert_eq!(page.texts(".secondary .headline"), vec!["Second pick"]);
    assert_eq!(
        page.texts(".latest .headline"),
        vec!["Newest story", "Newer story"]
    );
}

#[tokio::test]
async fn section_fronts_page_through_older_stories() {
    let app = TestApp::spawn_with(|c| c.page_size = 2).await;
    app.section("world", 90000, "World").await;
    let records: Vec<_> = (1..=5)
        .map(|i| {
            json!({"id": format!("s{i}"), "headline": format!("Story {i}"), "section": "world",
                        "published": format!("2024-01-0{i}T00:00:00Z")})
        })
        .collect();
    app.publish(&records).await;

    let first = app.page("/section/world").await;
    assert_eq!(first.texts("h1"), vec!["World"]);
    assert_eq!(
        first.texts(".listing .headline"),
        vec!["Story 5", "Story 4"]
    );
    assert_eq!(first.attr("a[rel=next]", "href"), "/section/world?page=2");
    assert!(first.attrs("a[rel=prev]", "href").is_empty());
    assert_eq!(
        first.attr("nav.sections a[aria-current=page]", "href"),
        "/section/world"
    );

    let third = app.page("/section/world?page=3").await;
    assert_eq!(third.texts(".listing .headline"), vec!["Story 1"]);
    assert_eq!(third.attr("a[rel=prev]", "href"), "/section/world?page=2");
    assert!(third.attrs("a[rel=next]", "href").is_empty());
    assert_eq!(app.page("/section/world?page=4").await.status, 404);
}

#[tokio::test]
async fn series_pages_list_episodes_in_order_and_credit_partners() {
    let app = TestApp::spawn().await;
    let series = Series {
        key: Slug::parse("envoy-talks").expect("slug"),
        title: Localized::new("en", "Envoy Talks"),
        description: app.sanitizer().clean_localized(&Localized::new(
            "en",
            HOSTILE.replace("TEXT", "Online talks between ambassadors."),
        )),
        partners: vec!["Partner One & Co".to_string(), "Partner Two".to_string()],
    };
    app.store.put_series(&series).await.expect("series");
    let ids = app
        .publish(&[
            json!({"id": "e2", "headline": "Second talk", "series": "envoy-talks", "episode": 2, "published": "2024-02-01T00:00:00Z"}),
            json!({"id": "e1", "headline": "First talk", "series": "envoy-talks", "episode": 1, "published": "2024-01-01T00:00:00Z"}),
            json!({"id": "e3", "headline": "Third talk", "series": "envoy-talks", "episode": "3", "published": "2024-03-01T00:00:00Z"}),
        ])
        .await;
    let page = app.page("/series/envoy-talks").await;
    assert_eq!(page.texts("h1"), vec!["Envoy Talks"]);
    assert_eq!(
        page.text(".intro"),
        "Online talks between ambassadors. more"
    );
    assert_neutralized(&page, ".intro");
    assert_eq!(
        page.text(".partners"),
        "Co-produced with: Partner One & Co, Partner Two"
    );
    assert_eq!(
        page.texts(".listing .headline"),
        vec![
            "Episode 1 First talk",
            "Episode 2 Second talk",
            "Episode 3 Third talk"
        ]
    );

    let episode = app.page(&app.address_of(ids[0]).await).await;
    assert_eq!(
        episode.text(".series-box p:first-child"),
        "Envoy Talks · Episode 2"
    );
    assert_eq!(episode.attr(".series-box a", "href"), "/series/envoy-talks");
    assert_eq!(
        episode.text(".series-box .partners"),
        "Co-produced with: Partner One & Co, Partner Two"
    );
}

#[tokio::test]
async fn topic_pages_collect_a_thread_over_the_years_newest_first() {
    let app = TestApp::spawn().await;
    let topic = Topic {
        key: Slug::parse("north-south").expect("slug"),
        title: Localized::new("en", "North–South relations"),
        intro: app.sanitizer().clean_localized(&Localized::new(
            "en",
            HOSTILE.replace("TEXT", "Every story on the two countries' ties."),
        )),
    };
    app.store.put_topic(&topic).await.expect("topic");
    app.publish(&[
        json!({"id": "t2019", "headline": "70th anniversary", "topics": ["north-south"], "published": "2019-10-01T00:00:00Z"}),
        json!({"id": "t2021", "headline": "72nd anniversary", "topics": ["north-south"], "published": "2021-10-22T00:00:00Z"}),
        json!({"id": "other", "headline": "Unrelated", "published": "2022-01-01T00:00:00Z"}),
        json!({"id": "t2020", "headline": "Partnership upgraded", "topics": ["north-south"], "published": "2020-06-05T00:00:00Z"}),
    ])
    .await;
    let page = app.page("/topic/north-south").await;
    assert_eq!(page.texts("h1"), vec!["North–South relations"]);
    assert_eq!(
        page.text(".intro"),
        "Every story on the two countries' ties. more"
    );
    assert_neutralized(&page, ".intro");
    assert_eq!(
        page.texts(".listing .headline"),
        vec![
            "72nd anniversary",
            "Partnership upgraded",
            "70th anniversary"
        ]
    );
}

#[tokio::test]
async fn translations_link_to_each_other_in_their_own_language_and_direction() {
    let app = TestApp::spawn_with(|c| {
        c.languages = vec!["en".into(), "zh".into(), "ru".into(), "ar".into()]
    })
    .await;
    let ids = app
        .publish(&[
            json!({"id": "en-1", "headline": "Ties reach a new high", "lang": "en", "published": "2024-03-14T01:00:00Z"}),
            json!({"id": "zh-1", "headline": "两国关系达到新高度", "lang": "zh", "translation_of": "en-1",
                   "body": "<p>两国领导人互致贺电。</p>", "published": "2024-03-14T02:00:00Z"}),
            json!({"id": "ru-1", "headline": "Отношения выходят на новый уровень", "lang": "ru", "translation_of": "en-1",
                   "body": "<p>Лидеры обменялись поздравлениями.</p>", "published": "2024-03-14T03:00:00Z"}),
            json!({"id": "ar-1", "headline": "العلاقات تبلغ مستوى جديدا", "lang": "ar", "translation_of": "en-1", "published": "2024-03-14T04:00:00Z"}),
        ])
        .await;
    let mut addresses = Vec::new();
    for id in &ids {
        addresses.push(app.address_of(*id).await);
    }
    let zh = app.page(&addresses[1]).await;
    assert_eq!(zh.attr("html", "lang"), "zh");
    assert_eq!(zh.texts("h1"), vec!["两国关系达到新高度"]);
    assert_eq!(zh.texts(".body p"), vec!["两国领导人互致贺电。"]);
    assert_eq!(zh.text(".dateline"), "(Dateline) 2024年3月14日02:00");
    let mut linked = zh.attrs(".translations a", "href");
    linked.sort();
    let mut others = vec![
        addresses[0].clone(),
        addresses[2].clone(),
        addresses[3].clone(),
    ];
    others.sort();
    assert_eq!(linked, others);
    assert_eq!(zh.attrs(".translations a", "lang"), vec!["ar", "en", "ru"]);
    assert_eq!(
        zh.attrs("link[rel=alternate][hreflang]", "hreflang").len(),
        4
    );
    // The Chinese page's frame speaks Chinese.
    assert_eq!(zh.text("nav.translations p"), "本文其他语言版本:");

    let ru = app.page(&addresses[2]).await;
    assert_eq!(ru.attr("html", "lang"), "ru");
    assert_eq!(ru.text(".dateline"), "(Dateline) 03:00, 14.03.2024");
    assert!(ru.attrs(".translations a", "href").contains(&addresses[1]));

    let ar = app.page(&addresses[3]).await;
    assert_eq!(ar.attr("html", "dir"), "rtl");
    assert_eq!(ar.attr("html", "lang"), "ar");

    // Each edition has its own home page, listing its own language.
    let zh_home = app.page("/zh/").await;
    assert_eq!(zh_home.attr("html", "lang"), "zh");
    assert_eq!(zh_home.texts(".lead .headline"), vec!["两国关系达到新高度"]);
    let redirect = app.get("/zh").await;
    assert_eq!(redirect.status().as_u16(), 301);
    assert_eq!(redirect.headers()["location"], "/zh/");
    assert_eq!(
        app.page("/zh/no-such-page").await.texts("h1"),
        vec!["页面未找到"]
    );
}

#[tokio::test]
async fn the_demo_newsroom_is_complete() {
    let app = TestApp::demo().await;
    let home = app.page("/").await;
    assert_eq!(home.status, 200);
    assert!(home.texts(".secondary .headline").len() >= 2);
    for edition in ["/zh/", "/ru/"] {
        let page = app.page(edition).await;
        assert_eq!(page.status, 200, "{edition}");
        assert!(page.texts(".lead .headline").len() == 1, "{edition}");
    }
    let series = app.page("/series/ambassador-talks").await;
    let episodes = series.texts(".listing .headline");
    assert!(episodes.len() >= 4, "{episodes:?}");
    assert!(episodes[0].starts_with("Episode 1 "));
    assert!(!series.texts(".partners").is_empty());
    let topic = app.page("/topic/veldania-amaru-relations").await;
    let times = topic.attrs(".listing time", "datetime");
    assert!(times.len() >= 7);
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    assert!(times.last().is_some_and(|t| t.starts_with("2019")) && times[0].starts_with("2026"));
    // Loading the demo again changes nothing: every article is reported unchanged.
    let before = app.store.article_count().await.expect("count");
    let again = dateline::demo::load(app.store.as_ref(), &app.config)
        .await
        .expect("reload");
    let changed: Vec<_> = again
        .iter()
        .filter(|o| !matches!(o, dateline_storage::Upserted::Unchanged(_)))
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
    assert_eq!(again.len() as u64, before);
    assert_eq!(app.store.article_count().await.expect("count"), before);
    assert!(before >= 30);
}

#[tokio::test]
async fn robots_icon_and_stylesheet_are_served() {
    let app = TestApp::spawn().await;
    for (path, kind) in [
        ("/robots.txt", "text/plain"),
        ("/assets/site.css", "text/css"),
        ("/assets/icon.svg", "image/svg+xml"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with(kind),
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_article_in_a_language_without_an_edition_links_to_the_primary_edition() {
    let app = TestApp::spawn().await;
    app.section("world", 90000, "World").await;
    app.publish(&[json!({"id": "de", "headline": "Ein Bericht", "lang": "de", "section": "world", "published": "2024-01-01T00:00:00Z"})]).await;
    let page = app.page(&app.address_of(1).await).await;
    assert_eq!(page.attr("html", "lang"), "de");
    assert_eq!(
        page.attr(".article-head .kicker a", "href"),
        "/section/world"
    );
}
