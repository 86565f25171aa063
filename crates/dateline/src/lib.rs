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
