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
