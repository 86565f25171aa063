//! Every text is escaped for the context it lands in: element text, attributes, URLs and the
//! JSON-LD script block.

use serde_json::json;

use crate::helpers::TestApp;

const HOSTILE: &str =
    r#"Q "quoted" 'single' <b>bold</b> </script><script>alert(1)</script> <!-- & done"#;

#[tokio::test]
async fn hostile_texts_stay_text_in_every_context() {
    let app = TestApp::spawn().await;
    app.section("world", 7, HOSTILE).await;
    let ids = app
        .publish(&[json!({
            "id": "x", "headline": HOSTILE, "summary": HOSTILE, "byline": HOSTILE, "credit": HOSTILE,
            "web_editors": [HOSTILE.replace(',', ";")], "section": "world",
            "published": "2021-10-22T09:37:00Z", "body": "<p>Body.</p>"
        })])
        .await;
    let page = app.page(&app.address_of(ids[0]).await).await;
    // Element text.
    assert_eq!(page.texts("h1"), vec![HOSTILE]);
    assert_eq!(page.text(".standfirst"), HOSTILE);
    assert_eq!(page.text(".byline"), HOSTILE);
    assert_eq!(
        page.text(".dateline").split(") ").next().map(|s| &s[1..]),
        Some(HOSTILE)
    );
    assert_eq!(page.text(".article-head .kicker a"), HOSTILE);
    assert_eq!(page.text("title"), format!("{HOSTILE} – Dateline"));
    // Attributes: read back whole, and nothing broke out of them.
    assert_eq!(page.attr("meta[property='og:title']", "content"), HOSTILE);
    assert_eq!(page.attr("meta[name=description]", "content"), HOSTILE);
    assert_eq!(
        page.texts("b").len(),
        0,
        "markup in a text became an element"
    );
    // JSON-LD: the only script, and it parses back to the same texts.
    assert_eq!(page.texts("script").len(), 1);
    let json_ld: serde_json::Value =
        serde_json::from_str(&page.text("script[type='application/ld+json']")).expect("JSON-LD");
    assert_eq!(json_ld["headline"], HOSTILE);
    assert_eq!(json_ld["sourceOrganization"]["name"], HOSTILE);
    assert_eq!(json_ld["articleSection"], HOSTILE);
    assert_eq!(
        page.texts(".site-footer .colophon").len(),
        1,
        "the page after the script parses"
    );
    // URLs: every address in the page is the site's own or a plain web address.
    let base = url::Url::parse(&app.address).expect("base");
    for css in ["a", "link"] {
        for href in page.attrs(css, "href") {
            let url = base.join(&href).expect("an address");
            assert!(matches!(url.scheme(), "http" | "https"), "{href}");
        }
    }
}

#[tokio::test]
async fn a_hostile_base_address_is_refused_before_the_server_starts() {
    for bad in [
        "javascript:alert(1)//",
        "https://x.example/\"><script>",
        "https://x.example/?a=\"b\"",
    ] {
        let config = dateline::config::Config {
            base_url: Some(bad.to_string()),
            ..dateline::config::Config::default()
        };
        match config.site("127.0.0.1:1".parse().expect("address")) {
            Err(_) => {}
            Ok(site) => {
                // A path is percent-encoded: nothing in it can leave an attribute.
                assert!(
                    !site.base_url.contains(['"', '<', '>', '\'']),
                    "{bad} gave {}",
                    site.base_url
                );
            }
        }
    }
}
