//! The role matrix: every route of the API, for anonymous callers, each role, an editor of
//! another desk and a disabled account, against the answer each must get.

use dateline_core::account::{Role, Username};
use dateline_core::{Localized, Section, Slug};
use jiff::Timestamp;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;

const PASSWORD: &str = "a matrix of passwords";

/// Who asks: a name for messages, and a token (none for anonymous).
struct Persona {
    name: &'static str,
    token: Option<String>,
}

async fn token(app: &TestApp, username: &str) -> String {
    app.token(username, PASSWORD).await
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    app.api(method, path, token, body).await
}

#[tokio::test]
async fn every_route_answers_every_persona_as_it_should() {
    let app = TestApp::spawn().await;
    for (key, code) in [("world", 1), ("sport", 2)] {
        app.store
            .put_section(&Section {
                key: Slug::parse(key).expect("slug"),
                code,
                name: Localized::new("en", key),
            })
            .await
            .expect("section");
    }
    let accounts: [(&str, &[Role], &[&str]); 6] = [
        ("contributor", &[Role::Contributor], &[]),
        ("world-editor", &[Role::Editor], &["world"]),
        ("sport-editor", &[Role::Editor], &["sport"]),
        ("chief", &[Role::ChiefEditor], &[]),
        ("admin", &[Role::Admin], &[]),
        ("disabled", &[Role::ChiefEditor], &[]),
    ];
    for (name, roles, desks) in accounts {
        app.account(name, roles, desks, PASSWORD).await;
    }
    let mut personas = vec![Persona {
        name: "anonymous",
        token: None,
    }];
    for (name, _, _) in accounts {
        personas.push(Persona {
            name,
            token: Some(token(&app, name).await),
        });
    }
    app.store
        .set_disabled(
            &Username::parse("disabled").expect("name"),
            true,
            Timestamp::now(),
        )
        .await
        .expect("disable");
    for (kind, key) in [("series", "talks"), ("topics", "thread")] {
        let (status, _) = call(
            &app,
            Method::PUT,
            &format!("/api/v1/{kind}/{key}"),
            personas[4].token.as_deref(),
            Some(json!({"title": {"en": key}})),
        )
        .await;
        assert_eq!(status, 200);
    }
    let chief = personas[4].token.clone().expect("chief");
    let contributor = personas[1].token.clone().expect("contributor");

    // A fresh article for each cell that changes one: (author's token, submitted?).
    let fresh = |by: String, submit: bool| {
        let app = &app;
        async move {
            let (status, a) = call(
                app,
                Method::POST,
                "/api/v1/articles",
                Some(&by),
                Some(json!({
                    "headline": "Matrix story", "section": "world", "body": "Text."
                })),
            )
            .await;
            assert_eq!(status, 201, "{a}");
            let id = a["id"].as_i64().expect("id");
            if submit {
                let (status, _) = call(
                    app,
                    Method::POST,
                    &format!("/api/v1/articles/{id}/actions"),
                    Some(&by),
                    Some(json!({"action": "submit"})),
                )
                .await;
                assert_eq!(status, 200);
            }
            id
        }
    };

    // The expected answer of each route, per persona in this order:
    // anonymous, contributor, world-editor, sport-editor, chief, admin, disabled.
    #[derive(Clone, Copy)]
    enum Route {
        Document,
        ListTokens,
        RevokeOwnToken,
        Create,
        ReadContributorsDraft,
        SaveContributorsDraft,
        SubmitContributorsDraft,
        PublishSubmitted,
        ScheduleSubmitted,
        UnpublishPublished,
        EmbargoDraft,
        ListRevisions,
        Diff,
        RestoreRevision,
        AuditLog,
        WhoAmI,
        ListWebhooks,
        AddWebhook,
        OpenDraft,
        ListArticles,
        ListAccounts,
        ListSections,
        PutSection,
        ListCorrections,
        CreateAccount,
        DisableAccount,
        EnableAccount,
        ReadRevision,
        GetSeries,
        PutSeries,
        GetTopic,
        PutTopic,
        RemoveWebhook,
        LogIn,
        LogOut,
        ChangePassword,
        IssueToken,
        CorrectPublished,
        FindLinks,
        UploadImage,
        ChangeGrants,
        Search,
        Suggestions,
        BlockSuggestion,
        UnblockSuggestion,
    }
    let matrix: [(Route, [u16; 7]); 45] = [
        (Route::Document, [200, 200, 200, 200, 200, 200, 200]),
        (Route::ListTokens, [401, 200, 200, 200, 200, 200, 401]),
        (Route::RevokeOwnToken, [401, 204, 204, 204, 204, 204, 401]),
        (Route::Create, [401, 201, 201, 201, 201, 403, 401]),
        (
            Route::ReadContributorsDraft,
            [401, 200, 200, 403, 200, 403, 401],
        ),
        (
            Route::SaveContributorsDraft,
            [401, 200, 200, 403, 200, 403, 401],
        ),
        (
            Route::SubmitContributorsDraft,
            [401, 200, 200, 403, 200, 403, 401],
        ),
        (Route::PublishSubmitted, [401, 403, 200, 403, 200, 403, 401]),
        (
            Route::ScheduleSubmitted,
            [401, 403, 200, 403, 200, 403, 401],
        ),
        (
            Route::UnpublishPublished,
            [401, 403, 200, 403, 200, 403, 401],
        ),
        (Route::EmbargoDraft, [401, 403, 200, 403, 200, 403, 401]),
        (Route::ListRevisions, [401, 200, 200, 403, 200, 403, 401]),
        (Route::Diff, [401, 200, 200, 403, 200, 403, 401]),
        (Route::RestoreRevision, [401, 200, 200, 403, 200, 403, 401]),
        (Route::AuditLog, [401, 403, 403, 403, 403, 200, 401]),
        (Route::WhoAmI, [401, 200, 200, 200, 200, 200, 401]),
        (Route::ListWebhooks, [401, 403, 403, 403, 403, 200, 401]),
        (Route::AddWebhook, [401, 403, 403, 403, 403, 201, 401]),
        (Route::OpenDraft, [401, 200, 200, 403, 200, 403, 401]),
        (Route::ListArticles, [401, 200, 200, 200, 200, 403, 401]),
        (Route::ListAccounts, [401, 403, 403, 403, 403, 200, 401]),
        (Route::ListSections, [401, 200, 200, 200, 200, 200, 401]),
        (Route::PutSection, [401, 403, 403, 403, 200, 200, 401]),
        (Route::ListCorrections, [401, 200, 200, 200, 200, 200, 401]),
        (Route::CreateAccount, [401, 403, 403, 403, 403, 201, 401]),
        (Route::DisableAccount, [401, 403, 403, 403, 403, 200, 401]),
        (Route::EnableAccount, [401, 403, 403, 403, 403, 200, 401]),
        (Route::ReadRevision, [401, 200, 200, 403, 200, 403, 401]),
        (Route::GetSeries, [401, 200, 200, 200, 200, 200, 401]),
        (Route::PutSeries, [401, 403, 403, 403, 200, 200, 401]),
        (Route::GetTopic, [401, 200, 200, 200, 200, 200, 401]),
        (Route::PutTopic, [401, 403, 403, 403, 200, 200, 401]),
        (Route::RemoveWebhook, [401, 403, 403, 403, 403, 204, 401]),
        // Logging in and getting a token ask for a password, not a token: the anonymous caller
        // sends a name that has no account; the disabled account its own.
        (Route::LogIn, [401, 201, 201, 201, 201, 201, 403]),
        (Route::IssueToken, [401, 201, 201, 201, 201, 201, 403]),
        // A caller with a bearer token has no session to end.
        (Route::LogOut, [401, 400, 400, 400, 400, 400, 401]),
        (Route::ChangePassword, [401, 204, 204, 204, 204, 204, 401]),
        (Route::CorrectPublished, [401, 403, 200, 403, 200, 403, 401]),
        (Route::FindLinks, [401, 200, 200, 200, 200, 403, 401]),
        (Route::UploadImage, [401, 201, 201, 201, 201, 403, 401]),
        (Route::ChangeGrants, [401, 403, 403, 403, 403, 200, 401]),
        // Searching finds only what readers may see: anyone may, with a token or without.
        (Route::Search, [200, 200, 200, 200, 200, 200, 200]),
        (Route::Suggestions, [401, 200, 200, 403, 200, 403, 401]),
        (Route::BlockSuggestion, [401, 204, 204, 403, 204, 403, 401]),
        (
            Route::UnblockSuggestion,
            [401, 204, 204, 403, 204, 403, 401],
        ),
    ];
    let png = {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(image::RgbImage::new(40, 30))
            .write_to(&mut bytes, image::ImageFormat::Png)
            .expect("a PNG");
        bytes.into_inner()
    };
    let mut checked = 0;
    for (route, expected) in matrix {
        for (persona, want) in personas.iter().zip(expected) {
            let token = persona.token.as_deref();
            let (got, body) = match route {
                Route::Suggestions => {
                    let id = fresh(contributor.clone(), false).await;
                    let path = format!("/api/v1/articles/{id}/suggestions");
                    call(&app, Method::GET, &path, token, None).await
                }
                Route::BlockSuggestion | Route::UnblockSuggestion => {
                    let id = fresh(contributor.clone(), false).await;
                    let method = if matches!(route, Route::BlockSuggestion) {
                        Method::POST
                    } else {
                        Method::DELETE
                    };
                    let path = format!("/api/v1/articles/{id}/suggestions/other-story/block");
                    call(&app, method, &path, token, None).await
                }
                Route::Search => {
                    call(&app, Method::GET, "/api/v1/search?q=matrix", token, None).await
                }
                Route::FindLinks => {
                    call(&app, Method::GET, "/api/v1/links?q=Matrix", token, None).await
                }
                Route::UploadImage => {
                    let mut request = app
                        .client
                        .post(app.url("/api/v1/media"))
                        .header("content-type", "image/png")
                        .body(png.clone());
                    if let Some(token) = token {
                        request = request.bearer_auth(token);
                    }
                    let response = request.send().await.expect("request");
                    let status = response.status().as_u16();
                    (status, response.json().await.unwrap_or(Value::Null))
                }
                Route::ChangeGrants => {
                    call(
                        &app,
                        Method::PUT,
                        "/api/v1/accounts/sport-editor",
                        token,
                        Some(json!({"roles": ["editor"], "desks": ["sport"]})),
                    )
                    .await
                }
                Route::Document => {
                    call(&app, Method::GET, "/api/v1/openapi.json", token, None).await
                }
                Route::ListTokens => call(&app, Method::GET, "/api/v1/tokens", token, None).await,
                Route::RevokeOwnToken => {
                    // A token of the persona's own, made for this cell.
                    let own = match &persona.token {
                        Some(_) if persona.name != "disabled" => {
                            Some(self::token(&app, persona.name).await)
                        }
                        other => other.clone(),
                    };
                    let (_, listed) =
                        call(&app, Method::GET, "/api/v1/tokens", own.as_deref(), None).await;
                    let id = listed["tokens"][0]["id"].as_i64().unwrap_or(0);
                    call(
                        &app,
                        Method::DELETE,
                        &format!("/api/v1/tokens/{id}"),
                        own.as_deref(),
                        None,
                    )
                    .await
                }
                Route::Create => {
                    call(
                        &app,
                        Method::POST,
                        "/api/v1/articles",
                        token,
                        Some(json!({
                            "headline": "New", "section": "world", "body": "Text."
                        })),
                    )
                    .await
                }
                Route::ReadContributorsDraft => {
                    let id = fresh(contributor.clone(), false).await;
                    call(
                        &app,
                        Method::GET,
                        &format!("/api/v1/articles/{id}"),
                        token,
                        None,
                    )
                    .await
                }
                Route::SaveContributorsDraft => {
                    let id = fresh(contributor.clone(), false).await;
                    call(&app, Method::PUT, &format!("/api/v1/articles/{id}"), token, Some(json!({
                        "headline": "Edited", "section": "world", "body": "Text.", "base_revision": 1
                    }))).await
                }
                Route::SubmitContributorsDraft => {
                    let id = fresh(contributor.clone(), false).await;
                    call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/articles/{id}/actions"),
                        token,
                        Some(json!({"action": "submit"})),
                    )
                    .await
                }
                Route::PublishSubmitted => {
                    let id = fresh(contributor.clone(), true).await;
                    call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/articles/{id}/actions"),
                        token,
                        Some(json!({"action": "publish"})),
                    )
                    .await
                }
                Route::ScheduleSubmitted => {
                    let id = fresh(contributor.clone(), true).await;
                    call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/articles/{id}/actions"),
                        token,
                        Some(json!({"action": "schedule", "at": "2099-01-01T00:00:00Z"})),
                    )
                    .await
                }
                Route::UnpublishPublished => {
                    let id = fresh(chief.clone(), true).await;
                    let (status, _) = call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/articles/{id}/actions"),
                        Some(&chief),
                        Some(json!({"action": "publish"})),
                    )
                    .await;
                    assert_eq!(status, 200);
                    call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/articles/{id}/actions"),
                        token,
                        Some(json!({"action": "unpublish"})),
                    )
                    .await
                }
                Route::ListRevisions => {
                    let id = fresh(contributor.clone(), false).await;
                    call(
                        &app,
                        Method::GET,
                        &format!("/api/v1/articles/{id}/revisions"),
                        token,
                        None,
                    )
                    .await
                }
                Route::Diff => {
                    let id = fresh(contributor.clone(), false).await;
                    let (status, _) = call(&app, Method::PUT, &format!("/api/v1/articles/{id}"), Some(&contributor), Some(json!({
                        "headline": "Second", "section": "world", "body": "Text.", "base_revision": 1
                    }))).await;
                    assert_eq!(status, 200);
                    call(
                        &app,
                        Method::GET,
                        &format!("/api/v1/articles/{id}/diff"),
                        token,
                        None,
                    )
                    .await
                }
                Route::RestoreRevision => {
                    let id = fresh(contributor.clone(), false).await;
                    call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/articles/{id}/revisions/1/restore"),
                        token,
                        Some(json!({"base_revision": 1})),
                    )
                    .await
                }
                Route::AuditLog => call(&app, Method::GET, "/api/v1/audit", token, None).await,
                Route::WhoAmI => call(&app, Method::GET, "/api/v1/session", token, None).await,
                Route::ListArticles => {
                    call(&app, Method::GET, "/api/v1/articles", token, None).await
                }
                Route::ListAccounts => {
                    call(&app, Method::GET, "/api/v1/accounts", token, None).await
                }
                Route::ListSections => {
                    call(&app, Method::GET, "/api/v1/sections", token, None).await
                }
                Route::PutSection => {
                    call(
                        &app,
                        Method::PUT,
                        "/api/v1/sections/world",
                        token,
                        Some(json!({"code": 1, "name": {"en": "World"}})),
                    )
                    .await
                }
                Route::ListCorrections => {
                    call(&app, Method::GET, "/api/v1/corrections", token, None).await
                }
                Route::CreateAccount => {
                    call(
                        &app,
                        Method::POST,
                        "/api/v1/accounts",
                        token,
                        Some(json!({
                            "username": format!("new-{}", persona.name), "roles": ["contributor"]
                        })),
                    )
                    .await
                }
                Route::DisableAccount | Route::EnableAccount => {
                    let target = format!("target-{}-{}", persona.name, checked);
                    app.account(&target, &[Role::Contributor], &[], PASSWORD)
                        .await;
                    let verb = if matches!(route, Route::DisableAccount) {
                        "disable"
                    } else {
                        "enable"
                    };
                    call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/accounts/{target}/{verb}"),
                        token,
                        None,
                    )
                    .await
                }
                Route::ReadRevision => {
                    let id = fresh(contributor.clone(), false).await;
                    call(
                        &app,
                        Method::GET,
                        &format!("/api/v1/articles/{id}/revisions/1"),
                        token,
                        None,
                    )
                    .await
                }
                Route::GetSeries => {
                    call(&app, Method::GET, "/api/v1/series/talks", token, None).await
                }
                Route::PutSeries => {
                    call(
                        &app,
                        Method::PUT,
                        "/api/v1/series/talks",
                        token,
                        Some(json!({"title": {"en": "Talks"}})),
                    )
                    .await
                }
                Route::GetTopic => {
                    call(&app, Method::GET, "/api/v1/topics/thread", token, None).await
                }
                Route::PutTopic => {
                    call(
                        &app,
                        Method::PUT,
                        "/api/v1/topics/thread",
                        token,
                        Some(json!({"title": {"en": "Thread"}})),
                    )
                    .await
                }
                Route::RemoveWebhook => {
                    let hook = app
                        .store
                        .add_webhook(
                            &dateline_core::change::WebhookUrl::parse("http://127.0.0.1:9/hook")
                                .expect("url"),
                            "a secret of sixteen chars",
                            Timestamp::now(),
                        )
                        .await
                        .expect("webhook");
                    call(
                        &app,
                        Method::DELETE,
                        &format!("/api/v1/webhooks/{}", hook.id),
                        token,
                        None,
                    )
                    .await
                }
                Route::LogIn | Route::IssueToken => {
                    let name = if persona.token.is_some() {
                        persona.name
                    } else {
                        "nobody"
                    };
                    let path = if matches!(route, Route::LogIn) {
                        "/api/v1/session"
                    } else {
                        "/api/v1/tokens"
                    };
                    call(
                        &app,
                        Method::POST,
                        path,
                        None,
                        Some(json!({"username": name, "password": PASSWORD})),
                    )
                    .await
                }
                Route::LogOut => call(&app, Method::DELETE, "/api/v1/session", token, None).await,
                Route::ChangePassword => {
                    call(
                        &app,
                        Method::POST,
                        "/api/v1/session/password",
                        token,
                        Some(json!({
                            "current_password": PASSWORD, "new_password": PASSWORD
                        })),
                    )
                    .await
                }
                Route::CorrectPublished => {
                    let id = fresh(chief.clone(), true).await;
                    let (status, _) = call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/articles/{id}/actions"),
                        Some(&chief),
                        Some(json!({"action": "publish"})),
                    )
                    .await;
                    assert_eq!(status, 200);
                    call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/articles/{id}/actions"),
                        token,
                        Some(json!({"action": "correct", "note": "A name was misspelt."})),
                    )
                    .await
                }
                Route::ListWebhooks => {
                    call(&app, Method::GET, "/api/v1/webhooks", token, None).await
                }
                Route::AddWebhook => {
                    call(
                        &app,
                        Method::POST,
                        "/api/v1/webhooks",
                        token,
                        Some(json!({"url": "http://127.0.0.1:9/hook"})),
                    )
                    .await
                }
                Route::OpenDraft => {
                    let id = fresh(contributor.clone(), false).await;
                    call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/articles/{id}/open"),
                        token,
                        None,
                    )
                    .await
                }
                Route::EmbargoDraft => {
                    let id = fresh(contributor.clone(), false).await;
                    call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/articles/{id}/actions"),
                        token,
                        Some(json!({"action": "embargo", "at": "2099-01-01T00:00:00Z"})),
                    )
                    .await
                }
            };
            assert_eq!(
                got,
                want,
                "{} as {}: {body}",
                route_name(route as usize),
                persona.name
            );
            if got >= 400 {
                assert!(
                    body["error"].is_string() && body["message"].is_string(),
                    "{body}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 45 * 7);

    // The admin reads who did what, from where.
    let admin = personas[5].token.clone().expect("admin");
    let (status, log) = call(
        &app,
        Method::GET,
        "/api/v1/audit?limit=500",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let entries = log["entries"].as_array().expect("entries");
    let seen = |action: &str, actor: &str| {
        entries
            .iter()
            .any(|e| e["action"] == action && e["actor"] == actor && e["address"] == "127.0.0.1")
    };
    for (action, actor) in [
        ("token.create", "contributor"),
        ("article.create", "contributor"),
        ("article.save", "world-editor"),
        ("article.publish", "chief"),
        ("article.unpublish", "world-editor"),
        ("article.restore", "chief"),
        ("token.revoke", "admin"),
    ] {
        assert!(
            seen(action, actor),
            "no {action} by {actor} in the audit log"
        );
    }
    let ids: Vec<i64> = entries
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");

    fn route_name(i: usize) -> &'static str {
        [
            "GET /openapi.json",
            "GET /tokens",
            "DELETE /tokens/{id}",
            "POST /articles",
            "GET /articles/{id} (a contributor's draft)",
            "PUT /articles/{id} (a contributor's draft)",
            "submit (a contributor's draft)",
            "publish (submitted)",
            "schedule (submitted)",
            "unpublish (published)",
            "embargo (a draft)",
            "GET /articles/{id}/revisions (a contributor's draft)",
            "GET /articles/{id}/diff (a contributor's draft)",
            "restore a revision (a contributor's draft)",
            "GET /audit",
            "GET /session",
            "GET /webhooks",
            "POST /webhooks",
            "POST /articles/{id}/open (a contributor's draft)",
            "GET /articles",
            "GET /accounts",
            "GET /sections",
            "PUT /sections/{key}",
            "GET /corrections",
            "POST /accounts",
            "POST /accounts/{username}/disable",
            "POST /accounts/{username}/enable",
            "GET /articles/{id}/revisions/{n} (a contributor's draft)",
            "GET /series/{key}",
            "PUT /series/{key}",
            "GET /topics/{key}",
            "PUT /topics/{key}",
            "DELETE /webhooks/{id}",
            "POST /session",
            "DELETE /session",
            "POST /session/password",
            "POST /tokens",
            "correct (published)",
            "GET /links",
            "POST /media",
            "PUT /accounts/{username}",
            "GET /search",
            "GET /articles/{id}/suggestions (a contributor's draft)",
            "POST /articles/{id}/suggestions/{key}/block (a contributor's draft)",
            "DELETE /articles/{id}/suggestions/{key}/block (a contributor's draft)",
        ][i]
    }
}
