//! Lighthouse audits of the demo's home, article and search pages, on mobile and desktop: 100
//! in accessibility, best practices and SEO; and of the admin's desk, editor and history.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{repo_root, TestApp};

const CATEGORIES: [&str; 3] = ["accessibility", "best-practices", "seo"];
/// The admin is kept out of search engines on purpose: SEO is not asked of it.
const ADMIN_CATEGORIES: [&str; 2] = ["accessibility", "best-practices"];

/// Runs Lighthouse on one page, for these categories, with a session cookie if given.
fn audit_with(
    url: &str,
    desktop: bool,
    categories: &[&str],
    cookie: Option<&str>,
) -> (Vec<(String, f64)>, Vec<String>) {
    let bin = repo_root().join("tools/lighthouse/node_modules/.bin/lighthouse");
    assert!(
        bin.exists(),
        "Lighthouse is not installed: run scripts/test, which installs it with npm"
    );
    let profile = tempfile::tempdir().expect("profile");
    let mut cmd = Command::new(bin);
    cmd.arg(url)
        .arg("--output=json")
        .arg("--output-path=stdout")
        .arg("--quiet")
        .arg(format!("--only-categories={}", categories.join(",")))
        .arg(format!(
            "--chrome-flags=--headless --no-sandbox --disable-gpu --disable-background-networking \
             --disable-component-update --no-first-run --user-data-dir={}",
            profile.path().display()
        ))
        .env("CHROME_PATH", "/usr/bin/chromium");
    if desktop {
        cmd.arg("--preset=desktop");
    }
    if let Some(cookie) = cookie {
        cmd.arg(format!(
            "--extra-headers={}",
            serde_json::json!({ "Cookie": cookie })
        ));
    }
    let output = cmd.output().expect("lighthouse runs");
    assert!(
        output.status.success(),
        "lighthouse failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("lighthouse JSON");
    let scores = categories
        .iter()
        .map(|c| {
            (
                c.to_string(),
                report["categories"][c]["score"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let failed = report["audits"]
        .as_object()
        .map(|audits| {
            audits
                .iter()
                .filter(|(_, a)| {
                    a["score"].as_f64().is_some_and(|s| s < 1.0)
                        && a["scoreDisplayMode"] == "binary"
                })
                .map(|(id, a)| format!("{id}: {}", a["title"].as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    (scores, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_pages_score_100_in_accessibility_best_practices_and_seo() {
    let app = TestApp::demo().await;
    let home = app.page("/").await;
    let article = home.attrs(".lead .headline a", "href").remove(0);
    let thread = crate::threads::longest_thread(&app).await;
    let pages = [
        ("home", "/".to_string()),
        ("article", article),
        ("search", "/search?q=ambassador".to_string()),
        ("thread", format!("/thread/{thread}")),
    ];
    audit_all(&app, "", &pages, &CATEGORIES, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_the_editor_and_the_history_score_100_in_accessibility_and_best_practices() {
    let app = TestApp::demo().await;
    app.account(
        "chief",
        &[dateline_core::account::Role::ChiefEditor],
        &[],
        "a long enough password",
    )
    .await;
    let cookie = app.session_cookie("chief", "a long enough password").await;
    let desk = app
        .admin_page("/admin", &cookie)
        .await
        .text()
        .await
        .expect("desk");
    let first = scraper::Html::parse_document(&desk)
        .select(&scraper::Selector::parse(".stories a").expect("css"))
        .next()
        .and_then(|a| a.value().attr("href"))
        .map(str::to_string)
        .expect("the desk lists a story");
    let thread = crate::threads::longest_thread(&app).await;
    let pages = [
        ("desk", "/admin".to_string()),
        ("editor", first.clone()),
        ("history", format!("{first}/history")),
        ("threads", "/admin/threads".to_string()),
        ("thread", format!("/admin/threads/{thread}")),
    ];
    audit_all(&app, "admin ", &pages, &ADMIN_CATEGORIES, Some(&cookie)).await;
}

/// Audits each page on mobile and desktop, printing the scores, and fails with every page
/// that scored under 100 in a category and the audits it failed.
async fn audit_all(
    app: &TestApp,
    kind: &str,
    pages: &[(&str, String)],
    categories: &'static [&'static str],
    cookie: Option<&str>,
) {
    let mut report = Vec::new();
    for (name, path) in pages {
        for desktop in [false, true] {
            let url = app.url(path);
            let cookie = cookie.map(str::to_string);
            let (scores, failed) = tokio::task::spawn_blocking(move || {
                audit_with(&url, desktop, categories, cookie.as_deref())
            })
            .await
            .expect("audit");
            let form = if desktop { "desktop" } else { "mobile" };
            let line = scores
                .iter()
                .map(|(c, s)| format!("{c} {}", (s * 100.0).round()))
                .collect::<Vec<_>>()
                .join(", ");
            println!("lighthouse {kind}{name} {form}: {line}");
            if scores.iter().any(|(_, s)| *s < 1.0) {
                report.push(format!("{name} {form}: {line}; failing audits: {failed:?}"));
            }
        }
    }
    assert!(
        report.is_empty(),
        "Lighthouse found problems:\n{}",
        report.join("\n")
    );
}
