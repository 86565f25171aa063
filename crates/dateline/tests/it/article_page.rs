//! The article page: headline, dateline, credits, related stories, inline links, addresses.

use serde_json::json;

use crate::helpers::TestApp;

async fn reference_outlet() -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.outlet = "People's Daily Online".to_string();
        c.time_zone = "Asia/Shanghai".to_string();
    })
    .await;
    app.section("world", 90000, "World").await;
    app.section("china", 90001, "China").await;
    app
}

#[tokio::test]
async fn article_page_shows_what_the_reference_shows() {
    let app = reference_outlet().await;
    let ids = app
        .publish(&[
            json!({"id": "pk-1", "headline": "Two neighbours strive for a shared future", "body": "<p>Text.</p>",
                   "section": "world", "published": "2021-10-20T02:00:00Z"}),
            json!({"id": "older", "headline": "Partnership marks its anniversary", "body": "<p>Text.</p>",
                   "section": "world", "published": "2021-07-16T02:00:00Z"}),
            json!({"id": "main", "headline": "Strategic partnership shows strong momentum",
                   "body": "<p>First paragraph.</p><p>Second paragraph.</p><p><a href=\"article:pk-1\"></a></p>",
                   "byline": "By A. Writer", "web_editors": ["Hongyu", "Bianji"], "section": "world",
                   "published": "2021-10-22T09:37:00Z", "related": ["older", "pk-1", "not-yet-imported"]}),
        ])
        .await;
    let address = app.address_of(ids[2]).await;
    assert_eq!(address, format!("/n3/2021/1022/c90000-{}.html", ids[2]));

    let page = app.page(&address).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.texts("h1"),
        vec!["Strategic partnership shows strong momentum"]
    );
    assert_eq!(
        page.text(".dateline"),
        "(People's Daily Online) 17:37, October 22, 2021"
    );
    assert_eq!(
        page.attr(".dateline time", "datetime"),
        "2021-10-22T09:37:00Z"
    );
    assert!(
        page.texts(".updated").is_empty(),
        "an article never changed shows no update time"
    );
    assert_eq!(page.text(".byline"), "By A. Writer");
    assert_eq!(page.text(".credits"), "(Web editor: Hongyu, Bianji)");
    assert_eq!(
        page.texts(".body p"),
        vec![
            "First paragraph.",
            "Second paragraph.",
            "Two neighbours strive for a shared future"
        ]
    );
    // The inline related headline links to the other article's current address.
    assert_eq!(
        page.attr(".body a.inline-related", "href"),
        app.address_of(ids[0]).await
    );
    // Related stories in the editor's order; a pin to an article not yet imported is left out.
    assert_eq!(page.texts(".related h2"), vec!["Related Stories"]);
    assert_eq!(
        page.texts(".related .headline"),
        vec![
            "Partnership marks its anniversary",
            "Two neighbours strive for a shared future"
        ]
    );
    assert_eq!(page.attr("link[rel=canonical]", "href"), app.url(&address));
    assert_eq!(page.attr("html", "lang"), "en");
    // Search engines read the same facts from JSON-LD.
    let json_ld: serde_json::Value =
        serde_json::from_str(&page.text("script[type='application/ld+json']")).expect("JSON-LD");
    assert_eq!(json_ld["@type"], "NewsArticle");
    assert_eq!(
        json_ld["headline"],
        "Strategic partnership shows strong momentum"
    );
    assert_eq!(json_ld["datePublished"], "2021-10-22T09:37:00Z");
    assert_eq!(json_ld["mainEntityOfPage"], app.url(&address));
    assert!(
        json_ld.get("sourceOrganization").is_none(),
        "no wire credit, no source organization: {json_ld}"
    );
    // Authors and web editors are people, one entry each, with no printed "By".
    assert_eq!(
        json_ld["author"],
        serde_json::json!([{"@type": "Person", "name": "A. Writer"}])
    );
    assert_eq!(
        json_ld["editor"],
        serde_json::json!([{"@type": "Person", "name": "Hongyu"}, {"@type": "Person", "name": "Bianji"}])
    );
    assert_eq!(json_ld["dateline"], page.text(".dateline"));
    assert_eq!(json_ld["url"], app.url(&address));
    // Link previews: Open Graph and Twitter cards.
    assert_eq!(
        page.attr("meta[property='og:title']", "content"),
        "Strategic partnership shows strong momentum"
    );
    assert_eq!(
        page.attr("meta[property='og:url']", "content"),
        app.url(&address)
    );
    assert_eq!(
        page.attr("meta[property='article:modified_time']", "content"),
        "2021-10-22T09:37:00Z"
    );
    assert_eq!(page.attr("meta[name='twitter:card']", "content"), "summary");
    // The byline links each person to their page, which lists their stories.
    assert_eq!(page.text(".byline"), "By A. Writer");
    assert_eq!(
        page.attr(".byline a[rel=author]", "href"),
        "/byline/a-writer"
    );
    let person = app.page("/byline/a-writer").await;
    assert_eq!(person.text("h1"), "A. Writer");
    assert_eq!(
        person.texts(".headline a"),
        ["Strategic partnership shows strong momentum"]
    );
    assert_eq!(app.get("/byline/nobody-here").await.status(), 404);
}

#[tokio::test]
async fn syndicated_copy_names_the_wire_and_updates_show() {
    let app = reference_outlet().await;
    let ids = app
        .publish(&[
            json!({"id": "wire", "headline": "Wire story", "body": "Plain text body.\n\nSecond.",
                          "credit": "Xinhua", "section": "china",
                          "published": "2021-10-22T01:05:00Z", "updated": "2021-10-22T03:40:00Z"}),
        ])
        .await;
    let page = app.page(&app.address_of(ids[0]).await).await;
    assert_eq!(page.text(".dateline"), "(Xinhua) 09:05, October 22, 2021");
    assert_eq!(page.text(".updated"), "Updated: 11:40, October 22, 2021");
    assert_eq!(page.texts(".body p"), vec!["Plain text body.", "Second."]);
    // Search engines read the wire as the source organization.
    let json_ld: serde_json::Value =
        serde_json::from_str(&page.text("script[type='application/ld+json']")).expect("JSON-LD");
    assert_eq!(
        json_ld["sourceOrganization"],
        json!({"@type": "Organization", "name": "Xinhua"})
    );
    assert_eq!(json_ld["dateModified"], "2021-10-22T03:40:00Z");
}

#[tokio::test]
async fn dateline_and_address_follow_the_outlets_zone_across_midnight() {
    let app = reference_outlet().await;
    // 17:30 UTC on October 31 is already November 1 in Beijing.
    let ids = app
        .publish(&[json!({"id": "late", "headline": "Late count", "section": "world", "published": "2024-10-31T17:30:00Z"})])
        .await;
    let address = app.address_of(ids[0]).await;
    assert_eq!(address, format!("/n3/2024/1101/c90000-{}.html", ids[0]));
    assert_eq!(
        app.page(&address).await.text(".dateline"),
        "(People's Daily Online) 01:30, November 1, 2024"
    );
}

#[tokio::test]
async fn dateline_follows_daylight_saving_time() {
    let app = TestApp::spawn_with(|c| {
        c.outlet = "The Hudson Ledger".to_string();
        c.time_zone = "America/New_York".to_string();
    })
    .await;
    let ids = app
        .publish(&[
            // Before and after clocks spring forward on March 10, 2024 (01:59 EST -> 03:00 EDT).
            json!({"id": "a", "headline": "Before the change", "published": "2024-03-10T06:30:00Z"}),
            json!({"id": "b", "headline": "After the change", "published": "2024-03-10T07:30:00Z"}),
            // After clocks fall back on November 3: 23:30 EST on November 2 is 04:30 UTC on the 3rd.
            json!({"id": "c", "headline": "Evening before", "published": "2024-11-03T03:30:00Z"}),
            json!({"id": "d", "headline": "Winter time", "published": "2024-11-04T04:30:00Z"}),
        ])
        .await;
    let dateline = |i: usize| {
        let app = &app;
        let id = ids[i];
        async move { app.page(&app.address_of(id).await).await.text(".dateline") }
    };
    assert_eq!(
        dateline(0).await,
        "(The Hudson Ledger) 01:30, March 10, 2024"
    );
    assert_eq!(
        dateline(1).await,
        "(The Hudson Ledger) 03:30, March 10, 2024"
    );
    assert_eq!(
        dateline(2).await,
        "(The Hudson Ledger) 23:30, November 2, 2024"
    );
    assert_eq!(
        dateline(3).await,
        "(The Hudson Ledger) 23:30, November 3, 2024"
    );
    assert_eq!(
        app.address_of(ids[3]).await,
        format!("/n3/2024/1103/c10000-{}.html", ids[3])
    );
}

#[tokio::test]
async fn an_old_address_answers_301_after_a_section_change() {
    let app = reference_outlet().await;
    let record = json!({"id": "moved", "headline": "A story that moves", "section": "world", "published": "2021-10-22T09:37:00Z"});
    let ids = app.publish(std::slice::from_ref(&record)).await;
    let old = app.address_of(ids[0]).await;

    let mut moved = record;
    moved["section"] = json!("china");
    app.publish(&[moved]).await;
    let new = app.address_of(ids[0]).await;
    assert_eq!(new, format!("/n3/2021/1022/c90001-{}.html", ids[0]));

    let response = app.get(&old).await;
    assert_eq!(response.status().as_u16(), 301);
    assert_eq!(response.headers()["location"], new.as_str());
    assert_eq!(app.page(&new).await.status, 200);
}

#[tokio::test]
async fn an_old_address_answers_301_after_a_headline_change() {
    let app = TestApp::spawn_with(|c| {
        c.address_pattern = "/{section_key}/{year}/{month}/{id}-{slug}".to_string()
    })
    .await;
    let record = json!({"id": "h", "headline": "First headline", "section": "world", "published": "2022-05-01T12:00:00Z"});
    let ids = app.publish(std::slice::from_ref(&record)).await;
    let old = app.address_of(ids[0]).await;
    assert_eq!(old, format!("/world/2022/05/{}-first-headline", ids[0]));

    let mut edited = record;
    edited["headline"] = json!("A better headline");
    app.publish(&[edited]).await;
    let response = app.get(&old).await;
    assert_eq!(response.status().as_u16(), 301);
    assert_eq!(
        response.headers()["location"],
        format!("/world/2022/05/{}-a-better-headline", ids[0]).as_str()
    );
}

#[tokio::test]
async fn malformed_addresses_and_unknown_ids_answer_404_pages() {
    let app = reference_outlet().await;
    let ids = app.publish(&[json!({"id": "x", "headline": "Only story", "section": "world", "published": "2021-10-22T09:37:00Z"})]).await;
    for path in [
        format!("/n3/2021/1022/c90000-{}.html", ids[0] + 1000),
        "/n3/2021/1022/c90000-.html".to_string(),
        "/n3/2021/1022/c90000-99999999999999999999999.html".to_string(),
        "/n3/21/1022/c90000-1.html".to_string(),
        "/no/such/page".to_string(),
        "/section/nowhere".to_string(),
        "/section/World".to_string(),
        "/section/world?page=0".to_string(),
        "/section/world?page=two".to_string(),
        "/section/world?page=9".to_string(),
        "/topic/nothing".to_string(),
        "/series/nothing".to_string(),
        "/section/%FF".to_string(),
        "/section/world?page=1&page=2".to_string(),
    ] {
        let page = app.page(&path).await;
        assert_eq!(page.status, 404, "{path}");
        assert_eq!(page.texts("h1"), vec!["Page not found"], "{path}");
        // The 404 page helps the reader on: home, sections and the latest stories.
        assert!(
            page.texts(".error-links a").contains(&"World".to_string()),
            "{path}"
        );
        assert_eq!(page.texts(".story .headline"), vec!["Only story"], "{path}");
    }
}

#[tokio::test]
async fn bodies_are_sanitized_on_the_way_in() {
    let app = reference_outlet().await;
    let ids = app
        .publish(&[json!({"id": "xss", "headline": "Careful", "section": "world", "published": "2021-10-22T09:37:00Z",
                          "body": "<p onclick=\"steal()\">Safe text<script>steal()</script><a href=\"javascript:steal()\">link</a></p><style>body{display:none}</style>"})])
        .await;
    let page = app.page(&app.address_of(ids[0]).await).await;
    assert_eq!(page.texts(".body p"), vec!["Safe textlink"]);
    let body = page
        .html
        .select(&scraper::Selector::parse(".body").expect("selector"))
        .next()
        .expect("body")
        .html();
    for bad in ["script", "onclick", "javascript", "style", "steal"] {
        assert!(!body.contains(bad), "{bad} survived: {body}");
    }
}

#[tokio::test]
async fn article_addresses_answer_only_reads() {
    let app = reference_outlet().await;
    let ids = app.publish(&[json!({"id": "x", "headline": "Story", "section": "world", "published": "2021-10-22T09:37:00Z"})]).await;
    let address = app.address_of(ids[0]).await;
    let response = app
        .client
        .post(app.url(&address))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn markup_in_a_headline_cannot_break_the_page() {
    let app = reference_outlet().await;
    let headline = "Quotes <!--<script> & </script> in a headline";
    let ids = app.publish(&[json!({"id": "x", "headline": headline, "section": "world", "published": "2021-10-22T09:37:00Z"})]).await;
    let page = app.page(&app.address_of(ids[0]).await).await;
    assert_eq!(page.texts("h1"), vec![headline]);
    let json_ld: serde_json::Value =
        serde_json::from_str(&page.text("script[type='application/ld+json']")).expect("JSON-LD");
    assert_eq!(json_ld["headline"], headline);
    // The page after the JSON-LD still parses: the footer is there.
    assert_eq!(page.texts(".site-footer .colophon").len(), 1);
}
