//! Accounts, sections, series, topics and corrections through the API.

use dateline_core::account::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;

const PASSWORD: &str = "an admin's long password";

async fn as_role(app: &TestApp, name: &str, role: Role) -> String {
    app.account(name, &[role], &[], PASSWORD).await;
    app.token(name, PASSWORD).await
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    app.api(method, path, Some(token), body).await
}

#[tokio::test]
async fn an_admin_manages_accounts_through_the_api() {
    let app = TestApp::spawn().await;
    let admin = as_role(&app, "root", Role::Admin).await;
    let (status, created) = call(
        &app,
        Method::POST,
        "/api/v1/accounts",
        &admin,
        Some(json!({
            "username": "newbie", "roles": ["contributor"]
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let password = created["password"]
        .as_str()
        .expect("a generated password")
        .to_string();
    let login = |password: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/tokens"))
                .json(&json!({"username": "newbie", "password": password}))
                .send()
                .await
                .expect("login")
                .status()
                .as_u16()
        }
    };
    assert_eq!(login(password.clone()).await, 201);
    let (status, again) = call(
        &app,
        Method::POST,
        "/api/v1/accounts",
        &admin,
        Some(json!({
            "username": "newbie", "roles": ["contributor"]
        })),
    )
    .await;
    assert_eq!((status, again["error"].as_str()), (409, Some("conflict")));
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/accounts",
        &admin,
        Some(json!({
            "username": "ed", "roles": ["editor"], "desks": ["nowhere"]
        })),
    )
    .await;
    assert_eq!(status, 422);
    let (status, disabled) = call(
        &app,
        Method::POST,
        "/api/v1/accounts/newbie/disable",
        &admin,
        None,
    )
    .await;
    assert_eq!((status, disabled["disabled"].as_bool()), (200, Some(true)));
    assert_eq!(login(password).await, 403);
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/accounts/root/disable",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 409, "an admin cannot lock themselves out");
    let (_, listed) = call(&app, Method::GET, "/api/v1/accounts", &admin, None).await;
    assert_eq!(listed["accounts"].as_array().expect("list").len(), 2);
}

#[tokio::test]
async fn a_chief_editor_shapes_sections_series_and_topics() {
    let app = TestApp::spawn().await;
    let chief = as_role(&app, "chief", Role::ChiefEditor).await;
    let writer = as_role(&app, "writer", Role::Contributor).await;
    let (status, section) = call(
        &app,
        Method::PUT,
        "/api/v1/sections/world",
        &chief,
        Some(json!({
            "code": 10, "name": {"en": "World", "zh": "国际"}
        })),
    )
    .await;
    assert_eq!(status, 200, "{section}");
    let (status, clash) = call(
        &app,
        Method::PUT,
        "/api/v1/sections/china",
        &chief,
        Some(json!({
            "code": 10, "name": {"en": "China"}
        })),
    )
    .await;
    assert_eq!((status, clash["error"].as_str()), (409, Some("conflict")));
    let (status, _) = call(
        &app,
        Method::PUT,
        "/api/v1/sections/sport",
        &writer,
        Some(json!({
            "code": 11, "name": {"en": "Sport"}
        })),
    )
    .await;
    assert_eq!(status, 403);
    let (_, sections) = call(&app, Method::GET, "/api/v1/sections", &writer, None).await;
    assert_eq!(sections["sections"][0]["name"]["zh"], "国际");

    let (status, topic) = call(
        &app,
        Method::PUT,
        "/api/v1/topics/north-south",
        &chief,
        Some(json!({
            "title": {"en": "North–South"},
            "intro": {"en": "<p onclick=\"steal()\">Every story.<script>steal()</script></p>"}
        })),
    )
    .await;
    assert_eq!(status, 200, "{topic}");
    assert_eq!(
        topic["intro"]["en"], "<p>Every story.</p>",
        "sanitized on the way in"
    );
    let page = app.page("/topic/north-south").await;
    assert_eq!(page.texts("h1"), vec!["North–South"]);
    assert!(page.texts(".intro script").is_empty());

    let (status, series) = call(&app, Method::PUT, "/api/v1/series/talks", &chief, Some(json!({
        "title": {"en": "Envoy Talks"}, "description": {"en": "<p>Talks.</p>"}, "partners": ["Partner\u{0} One"]
    }))).await;
    assert_eq!(status, 200, "{series}");
    assert_eq!(series["partners"], json!(["Partner One"]));
    let (_, read) = call(&app, Method::GET, "/api/v1/series/talks", &writer, None).await;
    assert_eq!(read["title"]["en"], "Envoy Talks");
    let (status, corrections) = call(&app, Method::GET, "/api/v1/corrections", &writer, None).await;
    assert_eq!(
        (status, corrections["corrections"].as_array().map(Vec::len)),
        (200, Some(0))
    );
}
