//! What every response says about itself: security headers, and validators that let a
//! browser or a cache ask again cheaply.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn_with(|c| c.image_hosts = vec!["media.example.org".into()]).await;
    let ids = app
        .publish(&[json!({"id": "a", "headline": "A", "published": "2024-01-01T00:00:00Z"})])
        .await;
    let article = app.address_of(ids[0]).await;
    for path in [
        "/",
        article.as_str(),
        "/section/news",
        "/no/such/page",
        "/assets/site.css",
        "/robots.txt",
    ] {
        let response = app.get(path).await;
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .unwrap_or_else(|| panic!("{path} has no {name}"))
                .to_str()
                .expect("ascii")
                .to_string()
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(
            header("referrer-policy"),
            "strict-origin-when-cross-origin",
            "{path}"
        );
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "img-src 'self' https://media.example.org",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
    }
}

#[tokio::test]
async fn pages_answer_304_to_a_matching_etag_and_200_once_they_change() {
    let app = TestApp::spawn().await;
    let record = json!({"id": "a", "headline": "First", "published": "2024-01-01T00:00:00Z"});
    let ids = app.publish(std::slice::from_ref(&record)).await;
    let address = app.address_of(ids[0]).await;
    for path in ["/", address.as_str()] {
        let first = app.get(path).await;
        assert_eq!(first.status().as_u16(), 200);
        assert_eq!(
            first.headers()["cache-control"],
            "public, no-cache",
            "{path}"
        );
        let etag = first.headers()["etag"].to_str().expect("ascii").to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

        let again = app
            .client
            .get(app.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("request");
        assert_eq!(again.status().as_u16(), 304, "{path}");
        assert_eq!(again.headers()["etag"].to_str().expect("ascii"), etag);
        assert!(again.text().await.expect("body").is_empty());

        let weak_in_a_list = app
            .client
            .get(app.url(path))
            .header("if-none-match", format!("\"other\", W/{etag}"))
            .send()
            .await
            .expect("request");
        assert_eq!(weak_in_a_list.status().as_u16(), 304, "{path}");
    }
    let head = app.client.head(app.url("/")).send().await.expect("HEAD");
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(head.headers()["x-content-type-options"], "nosniff");
    let etag = app.get(&address).await.headers()["etag"].clone();
    let mut edited = record;
    edited["headline"] = json!("Corrected");
    app.publish(&[edited]).await;
    let after = app
        .client
        .get(app.url(&address))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("request");
    assert_eq!(after.status().as_u16(), 200, "a changed page is sent again");
    assert!(after.text().await.expect("body").contains("Corrected"));
}
