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

/// The Rust files of the repository, relative to `crates/`, that contain `needle`.
fn files_containing(needle: &str) -> Vec<String> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&crates, &mut files);
    // Anything else in the repository that Cargo could build.
    let root = crates.join("..");
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() && !name.starts_with('.') && name != "crates" && name != "target" {
            rust_files(&path, &mut files);
        }
    }
    assert!(files.len() > 20, "the workspace was not found");
    let mut hits: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("tests/trust_boundary.rs"))
        .filter(|f| std::fs::read_to_string(f).unwrap().contains(needle))
        .map(|f| {
            f.strip_prefix(&crates)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_else(|_| f.to_string_lossy().to_string())
        })
        .collect();
    hits.sort();
    hits
}

#[test]
fn only_storage_wraps_stored_html_as_safe() {
    // The bare name: a call, a path taken as a value, an import.
    for hit in files_containing("from_storage") {
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
