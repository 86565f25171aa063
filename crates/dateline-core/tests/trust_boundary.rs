//! The HTML trust boundary, held in place: stored HTML is wrapped as safe only by storage, and
//! strings are marked safe for templates only in the web crate's one rendering module.
#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The files of the workspace, relative to `crates/`, that contain `needle`.
fn files_containing(needle: &str) -> Vec<String> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&crates, &mut files);
    assert!(files.len() > 20, "the workspace was not found");
    let mut hits: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("tests/trust_boundary.rs"))
        .filter(|f| std::fs::read_to_string(f).unwrap().contains(needle))
        .map(|f| {
            f.strip_prefix(&crates)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    hits.sort();
    hits
}

#[test]
fn only_storage_wraps_stored_html_as_safe() {
    for hit in files_containing("from_storage(") {
        assert!(
            hit.starts_with("dateline-storage/src/") || hit == "dateline-core/src/html.rs",
            "{hit} makes SafeHtml without the sanitizer"
        );
    }
}

#[test]
fn only_the_rendering_module_marks_strings_safe() {
    let hits = files_containing("from_safe_string");
    assert_eq!(hits, ["dateline-web/src/render.rs"]);
}
