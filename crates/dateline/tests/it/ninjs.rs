//! IPTC ninjs: every export validated against IPTC's own JSON schemas with a JSON Schema
//! validator nobody here wrote (Python's jsonschema), from the API and from `dateline export`.

use std::process::Command;

use dateline_web::ninjs::Version;
use serde_json::Value;

use crate::helpers::{shared, TestApp};

const VALIDATE: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
v = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
bad, n = [], 0
for n, line in enumerate(open(sys.argv[2], encoding="utf-8"), 1):
    for e in sorted(v.iter_errors(json.loads(line)), key=lambda e: list(e.absolute_path)):
        bad.append(f"line {n}: {e.message} at {list(e.absolute_path)}")
print(json.dumps({"checked": n, "bad": bad}))
"#;

/// Validates each line of `file` against IPTC's schema of `version`.
fn validate(version: &str, file: &std::path::Path) -> Value {
    let schema = shared().join(format!(
        "standards/ninjs/specification/ninjs-schema_{version}.json"
    ));
    let output = Command::new("python3")
        .arg("-c")
        .arg(VALIDATE)
        .arg(&schema)
        .arg(file)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "jsonschema failed (scripts/test installs it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the validator's report")
}

async fn export(app: &TestApp, version: Version, ids: &[i64]) -> Vec<u8> {
    let site = app
        .config
        .site(
            app.address
                .trim_start_matches("http://")
                .parse()
                .expect("addr"),
        )
        .expect("site");
    let mut out = Vec::new();
    dateline::export::ninjs(app.store.as_ref(), &site, version, ids, &mut out, false)
        .await
        .expect("exported");
    out
}

#[tokio::test]
async fn every_article_exports_as_valid_ninjs_3_1_and_2_2() {
    let app = TestApp::demo().await;
    let dir = tempfile::tempdir().expect("dir");
    let count = app.store.article_ids().await.expect("ids").len();
    assert!(count > 20, "the demo has articles");
    for (version, name) in [(Version::V3_1, "3.1"), (Version::V2_2, "2.2")] {
        let bytes = export(&app, version, &[]).await;
        let file = dir.path().join(format!("export-{name}.jsonl"));
        std::fs::write(&file, &bytes).expect("written");
        let report = validate(name, &file);
        assert_eq!(report["bad"], serde_json::json!([]), "ninjs {name}");
        assert_eq!(report["checked"], count, "ninjs {name}");
    }
    // What the API gives is what the export gives.
    app.account(
        "ninjs-reader",
        &[dateline_core::account::Role::ChiefEditor],
        &[],
        "a long enough password",
    )
    .await;
    let token = app.token("ninjs-reader", "a long enough password").await;
    let id = app.store.article_ids().await.expect("ids")[0].get();
    let from_cli: Value =
        serde_json::from_slice(&export(&app, Version::V3_1, &[id]).await).expect("json");
    let from_api: Value = app
        .client
        .get(app.url(&format!("/api/v1/articles/{id}/ninjs")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(from_api, from_cli);
    assert_eq!(from_api["standard"]["version"], "3.1");
    let v2: Value = app
        .client
        .get(app.url(&format!("/api/v1/articles/{id}/ninjs?version=2.2")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(v2["standard"]["version"], "2.2");
    assert_eq!(v2["firstcreated"], from_api["firstCreated"]);
    let wrong = app
        .client
        .get(app.url(&format!("/api/v1/articles/{id}/ninjs?version=9")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong.status(), 422);
}

fn schema_dirs() -> Vec<std::path::PathBuf> {
    let ninjs = shared().join("standards/ninjs");
    vec![
        ninjs.join("specification"),
        // GeoJSON's schema, which the 2.x schemas refer to.
        ninjs.join("validation/test_suite"),
    ]
}

#[test]
fn the_import_side_passes_iptcs_validation_suite() {
    let mut schemas = dateline::ninjs_import::Schemas::load(&schema_dirs()).expect("schemas");
    let suite = shared().join("standards/ninjs/validation/test_suite");
    let (mut passed, mut failed) = (0, 0);
    let mut versions: Vec<String> = std::fs::read_dir(&suite)
        .expect("suite")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        // The development drafts have no published schema.
        .filter(|v| !v.contains("dev"))
        .collect();
    versions.sort();
    for version in &versions {
        for (folder, valid) in [("should_pass", true), ("should_fail", false)] {
            let dir = suite.join(version).join(folder);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("entry").path();
                let text = std::fs::read_to_string(&path).expect("read");
                let outcome = schemas.check_text(&text, Some(version));
                match (valid, outcome) {
                    (true, Ok(_)) => passed += 1,
                    (false, Err(reason)) => {
                        assert!(
                            reason.starts_with(&format!("not valid ninjs {version}: at "))
                                || reason.starts_with("not a ninjs document: not valid JSON"),
                            "{reason}"
                        );
                        failed += 1;
                    }
                    (true, Err(reason)) => panic!("{} was refused: {reason}", path.display()),
                    (false, Ok(_)) => panic!("{} was accepted", path.display()),
                }
            }
        }
    }
    println!("IPTC's suite: {passed} valid documents accepted, {failed} invalid ones refused with a reason");
    assert!(passed > 100 && failed > 40, "{passed} and {failed}");
}

#[tokio::test]
async fn a_round_trip_through_ninjs_changes_nothing() {
    let first = TestApp::demo().await;
    let site = first
        .config
        .site(
            first
                .address
                .trim_start_matches("http://")
                .parse()
                .expect("addr"),
        )
        .expect("site");
    let mut exported = Vec::new();
    dateline::export::ninjs(
        first.store.as_ref(),
        &site,
        Version::V3_1,
        &[],
        &mut exported,
        false,
    )
    .await
    .expect("exported");
    // Copy readers can see: drafts stay in their newsroom.
    let usable: Vec<Value> = exported
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).expect("json"))
        .filter(|d| d["pubStatus"] == "usable")
        .collect();
    assert!(usable.len() > 20);
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("demo.ninjs.jsonl");
    std::fs::write(
        &file,
        usable
            .iter()
            .map(|d| d.to_string() + "\n")
            .collect::<String>(),
    )
    .expect("written");

    let second = TestApp::spawn_with(|c| {
        let demo = dateline::demo::config();
        c.outlet = demo.outlet;
        c.time_zone = demo.time_zone;
        c.languages = demo.languages;
    })
    .await;
    let mut schemas = dateline::ninjs_import::Schemas::load(&schema_dirs()).expect("schemas");
    let report = dateline::ninjs_import::import_file(
        second.store.as_ref(),
        &file,
        &second.import_options(),
        Some(&mut schemas),
        None,
    )
    .await
    .expect("imported");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.inserted as usize, usable.len());
    let mut again = Vec::new();
    dateline::export::ninjs(
        second.store.as_ref(),
        &site,
        Version::V3_1,
        &[],
        &mut again,
        false,
    )
    .await
    .expect("exported again");
    let again: Vec<Value> = again
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).expect("json"))
        .collect();
    assert_eq!(again.len(), usable.len());
    for (a, b) in usable.iter().zip(&again) {
        assert_eq!(a, b, "the round trip changed {}", a["uri"]);
    }
    // The same file again changes nothing.
    let report = dateline::ninjs_import::import_file(
        second.store.as_ref(),
        &file,
        &second.import_options(),
        Some(&mut schemas),
        None,
    )
    .await
    .expect("imported");
    assert_eq!(
        (report.inserted, report.updated, report.unchanged as usize),
        (0, 0, usable.len())
    );
}

#[tokio::test]
async fn iptcs_example_articles_import_and_other_items_are_refused_with_a_reason() {
    let app = TestApp::spawn().await;
    let mut schemas = dateline::ninjs_import::Schemas::load(&schema_dirs()).expect("schemas");
    let examples = shared().join("standards/ninjs/documentation/includes/examples/3.1");
    let mut options = app.import_options();
    options.undated_at = Some("2024-01-01T00:00:00Z".parse().expect("time"));
    let complex = dateline::ninjs_import::import_file(
        app.store.as_ref(),
        &examples.join("005_complex_text_article.json"),
        &options,
        Some(&mut schemas),
        None,
    )
    .await
    .expect("imported");
    assert_eq!(complex.inserted, 1, "{:?}", complex.rejected);
    let photo = dateline::ninjs_import::import_file(
        app.store.as_ref(),
        &examples.join("006_photo_only.json"),
        &options,
        Some(&mut schemas),
        None,
    )
    .await
    .expect("imported");
    assert_eq!(photo.inserted, 0);
    assert!(
        photo.rejected[0].reason.contains("picture"),
        "{:?}",
        photo.rejected
    );
    let page = app.page("/").await;
    assert!(page
        .texts(".headline a")
        .iter()
        .any(|h| h == "Captain of wrecked cruise ship on trial in Italy"));
}
