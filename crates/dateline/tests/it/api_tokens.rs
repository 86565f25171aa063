//! API tokens: issued for a username and password, used as bearer tokens, listed, revoked and
//! expired; logins limited; every refusal a JSON error with its status.

use dateline_core::account::{ApiToken, Grants, Password, Role, Username};
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

use crate::helpers::TestApp;

const PASSWORD: &str = "the right long password";

async fn with_account(name: &str) -> TestApp {
    let app = TestApp::spawn().await;
    app.store
        .create_account(
            &Username::parse(name).expect("name"),
            &Grants::new([Role::Contributor], []).expect("grants"),
            &Password::parse(PASSWORD)
                .expect("password")
                .hash()
                .expect("hash"),
            Timestamp::now(),
        )
        .await
        .expect("account");
    app
}

async fn login(app: &TestApp, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = app
        .client
        .post(app.url("/api/v1/tokens"))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.json().await.expect("JSON"), headers)
}

async fn get_tokens(app: &TestApp, token: Option<&str>) -> (u16, Value) {
    let mut request = app.client.get(app.url("/api/v1/tokens"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn a_token_is_issued_used_listed_and_revoked() {
    let app = with_account("mara").await;
    let (status, body, _) = login(&app, json!({"username": "mara", "password": PASSWORD})).await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().expect("token").to_string();
    assert!(token.starts_with("dl_"));
    let expires: Timestamp = body["expires_at"]
        .as_str()
        .expect("expiry")
        .parse()
        .expect("time");
    let days = expires.duration_since(Timestamp::now()).as_hours() / 24;
    assert!((29..=30).contains(&days), "{days}");

    let (status, listed) = get_tokens(&app, Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(listed["tokens"][0]["id"], body["id"]);
    assert!(
        listed.to_string().find(&token).is_none(),
        "a token is never shown again"
    );

    let revoked = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{}", body["id"])))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(revoked.status().as_u16(), 204);
    let (status, refused) = get_tokens(&app, Some(&token)).await;
    assert_eq!(status, 401);
    assert_eq!(refused["error"], "unauthorized");
}

#[tokio::test]
async fn refusals_are_json_with_the_right_status() {
    let app = with_account("mara").await;
    let (status, body) = get_tokens(&app, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    assert!(body["message"]
        .as_str()
        .expect("message")
        .contains("Bearer"));
    let (status, _) = get_tokens(&app, Some("dl_0000")).await;
    assert_eq!(status, 401);

    let (status, body, _) = login(
        &app,
        json!({"username": "mara", "password": PASSWORD, "expires_in_days": 0}),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (422, Some("invalid")));
    let (status, body, _) = login(&app, json!({"username": "mara", "pass": PASSWORD})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );
    let raw = app
        .client
        .post(app.url("/api/v1/tokens"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(raw.status().as_u16(), 400);
    let missing = app.get("/api/v1/no-such-thing").await;
    assert_eq!(missing.status().as_u16(), 404);
    assert_eq!(
        missing.json::<Value>().await.expect("JSON")["error"],
        "not_found"
    );

    // An expired token is refused.
    let account = app
        .store
        .account(&Username::parse("mara").expect("name"))
        .await
        .expect("read")
        .expect("there");
    let old = ApiToken::generate().expect("token");
    let then = Timestamp::now() - SignedDuration::from_hours(48);
    app.store
        .create_token(
            account.id,
            &old.digest(),
            then,
            then + SignedDuration::from_hours(24),
        )
        .await
        .expect("stored");
    assert_eq!(get_tokens(&app, Some(old.expose())).await.0, 401);

    // A disabled account gets no token, and its tokens stop working.
    let (_, body, _) = login(&app, json!({"username": "mara", "password": PASSWORD})).await;
    let token = body["token"].as_str().expect("token").to_string();
    app.store
        .set_disabled(
            &Username::parse("mara").expect("name"),
            true,
            Timestamp::now(),
        )
        .await
        .expect("disable");
    let (status, _, _) = login(&app, json!({"username": "mara", "password": PASSWORD})).await;
    assert_eq!(status, 403);
    assert_eq!(get_tokens(&app, Some(&token)).await.0, 401);
}

#[tokio::test]
async fn wrong_passwords_are_limited_per_account() {
    let app = with_account("mara").await;
    let (status, body, _) = login(
        &app,
        json!({"username": "nobody", "password": "whatever it is"}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "wrong username or password");
    for _ in 0..5 {
        let (status, body, _) = login(
            &app,
            json!({"username": "mara", "password": "a wrong password"}),
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(body["message"], "wrong username or password");
    }
    // The right password is refused too, until the window passes.
    let (status, body, headers) =
        login(&app, json!({"username": "mara", "password": PASSWORD})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("rate_limited"))
    );
    let wait: u64 = headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=900).contains(&wait), "{wait}");
}
