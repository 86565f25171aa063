//! Dateline's integration tests: the real server, a fresh database per test.

mod accounts;
mod api_tokens;
mod article_page;
mod browser;
mod cache;
mod desk;
mod escaping;
mod feeds;
mod headers;
mod helpers;
mod html_validity;
mod import;
mod ingest;
mod lighthouse;
mod live;
mod newsml;
mod newsroom_api;
mod ninjs;
mod openapi;
mod roles;
mod search;
mod sessions;
mod site;
mod webhooks;
mod workflow;
mod wxr;
