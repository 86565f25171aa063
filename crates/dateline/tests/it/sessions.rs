//! Browser sessions: an HttpOnly, SameSite=Lax cookie, refused without its CSRF token on a
//! change, ended by logging out, and ended elsewhere by a password change.

use dateline_core::account::{Grants, Password, Role, Username};
use jiff::Timestamp;
use reqwest::header::{HeaderMap, COOKIE, SET_COOKIE};
use serde_json::{json, Value};

use crate::helpers::TestApp;

const PASSWORD: &str = "a session password";

async fn app_with(base_url: Option<&str>) -> TestApp {
    let base = base_url.map(str::to_string);
    let app = TestApp::spawn_with(move |c| c.base_url = base).await;
    app.store
        .create_account(
            &Username::parse("mara").expect("name"),
            &Grants::new([Role::ChiefEditor], []).expect("grants"),
            &Password::parse(PASSWORD)
                .expect("password")
                .hash()
                .expect("hash"),
            Timestamp::now(),
        )
        .await
        .expect("account");
    app.section("world", 1, "World").await;
    app
}

/// Logs in; the cookie to send back, the CSRF token, and the Set-Cookie header as sent.
async fn login(app: &TestApp, password: &str) -> (u16, String, String, String) {
    let response = app
        .client
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": "mara", "password": password}))
        .send()
        .await
        .expect("login");
    let status = response.status().as_u16();
    let set = response
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default();
    let body: Value = response.json().await.expect("JSON");
    let cookie = set.split(';').next().unwrap_or_default().to_string();
    (
        status,
        cookie,
        body["csrf_token"].as_str().unwrap_or_default().to_string(),
        set,
    )
}

async fn create(app: &TestApp, cookie: &str, csrf: Option<&str>) -> u16 {
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, cookie.parse().expect("header"));
    if let Some(csrf) = csrf {
        headers.insert("x-csrf-token", csrf.parse().expect("header"));
    }
    app.client
        .post(app.url("/api/v1/articles"))
        .headers(headers)
        .json(&json!({"headline": "From the browser", "section": "world", "body": "Text."}))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn who(app: &TestApp, cookie: &str) -> u16 {
    app.client
        .get(app.url("/api/v1/session"))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_session_cookie_works_with_its_csrf_token_until_logout() {
    let app = app_with(None).await;
    let (status, cookie, csrf, set) = login(&app, PASSWORD).await;
    assert_eq!(status, 201);
    assert!(cookie.starts_with("dateline_session=dl_"), "{set}");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(part), "{part} missing in {set}");
    }
    assert!(
        !set.contains("Secure"),
        "http sites cannot use a Secure cookie"
    );
    assert_eq!(csrf.len(), 64);

    assert_eq!(who(&app, &cookie).await, 200);
    // A change with the cookie alone, as a forged cross-site form would make, is refused.
    assert_eq!(create(&app, &cookie, None).await, 403);
    assert_eq!(create(&app, &cookie, Some("0000")).await, 403);
    assert_eq!(create(&app, &cookie, Some(&csrf)).await, 201);

    let logout = app
        .client
        .delete(app.url("/api/v1/session"))
        .header(COOKIE, &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status().as_u16(), 204);
    let cleared = logout.headers()[SET_COOKIE].to_str().expect("ascii");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(
        who(&app, &cookie).await,
        401,
        "the session ended on the server, not only in the browser"
    );
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions() {
    let app = app_with(None).await;
    let (_, here, csrf, _) = login(&app, PASSWORD).await;
    let (_, elsewhere, _, _) = login(&app, PASSWORD).await;
    let change = |current: &str| {
        app.client
            .post(app.url("/api/v1/session/password"))
            .header(COOKIE, &here)
            .header("x-csrf-token", &csrf)
            .json(&json!({"current_password": current, "new_password": "a brand new password"}))
            .send()
    };
    assert_eq!(
        change("not the password")
            .await
            .expect("request")
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        change(PASSWORD).await.expect("request").status().as_u16(),
        204
    );
    assert_eq!(who(&app, &here).await, 200, "this session goes on");
    assert_eq!(who(&app, &elsewhere).await, 401, "the others end");
    assert_eq!(login(&app, PASSWORD).await.0, 401);
    assert_eq!(login(&app, "a brand new password").await.0, 201);
}

#[tokio::test]
async fn an_https_site_sets_a_secure_cookie() {
    let app = app_with(Some("https://news.example.org")).await;
    let (status, _, _, set) = login(&app, PASSWORD).await;
    assert_eq!(status, 201);
    assert!(set.contains("; Secure"), "{set}");
}
