//! The API's OpenAPI document, as served, checked by a real OpenAPI 3.1 validator
//! (`openapi-spec-validator`, which scripts/test installs).

use std::process::Command;

use crate::helpers::TestApp;

const VALIDATE: &str = "import sys\nfrom openapi_spec_validator import validate\nfrom openapi_spec_validator.readers import read_from_filename\nspec, _ = read_from_filename(sys.argv[1])\nvalidate(spec)\nprint('valid')\n";

fn validator(path: &std::path::Path) -> std::process::Output {
    Command::new("python3")
        .args(["-c", VALIDATE])
        .arg(path)
        .output()
        .expect("python3 runs (scripts/test installs openapi-spec-validator)")
}

#[tokio::test]
async fn the_served_document_is_valid_openapi_3_1() {
    let dir = tempfile::tempdir().expect("dir");
    // A broken document first: the validator must refuse it, or this test proves nothing.
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, r#"{"openapi": "3.1.0", "info": {"title": "x"}, "paths": {"/a": {"get": {"responses": 7}}}}"#)
        .expect("write");
    assert!(
        !validator(&broken).status.success(),
        "the validator accepted a broken document"
    );

    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("application/json"));
    let served = dir.path().join("openapi.json");
    std::fs::write(&served, response.bytes().await.expect("body")).expect("write");
    let checked = validator(&served);
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}
