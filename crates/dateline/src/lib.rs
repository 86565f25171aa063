//! Dateline's commands, as a library that `main` and the integration tests share.

pub mod bench;
pub mod config;
pub mod demo;
pub mod eval;
pub mod export;
pub mod import;
pub mod ninjs_import;
pub mod reindex;
pub mod server;
pub mod user;
pub mod wxr;

pub use config::Config;

/// A progress bar for long work, drawn in `template` (indicatif's), or one that draws nothing
/// when `shown` is false (a test, or output that is not a terminal).
pub fn progress_bar(len: u64, template: &str, shown: bool) -> indicatif::ProgressBar {
    let bar = if shown {
        indicatif::ProgressBar::new(len)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}
