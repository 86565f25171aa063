//! The newsroom's domain: articles, sections, datelines, addresses and safe HTML.
//!
//! This crate knows nothing of SQL, HTTP or files: every function here is a plain,
//! synchronous transformation that a unit test reaches without a server.

pub mod accessibility;
pub mod account;
pub mod address;
pub mod article;
pub mod audit;
pub mod change;
pub mod collections;
pub mod dateline;
pub mod digest;
pub mod html;
pub mod import;
pub mod lang;
pub mod localized;
pub mod media;
pub mod ninjs;
pub mod revision;
pub mod slug;
pub mod text;
pub mod workflow;

pub use address::{AddressError, AddressParts, AddressPattern};
pub use article::{
    Article, ArticleDraft, ArticleError, ArticleId, ArticleKey, ArticleKeyError, ArticleLink,
    Correction, Field, NewArticle, SeriesEpisode,
};
pub use collections::{Section, Series, Topic};
pub use dateline::{DatelineFormat, DatelineFormatError};
pub use html::{HtmlPolicy, LocalizedHtml, SafeHtml, Sanitizer};
pub use lang::{Lang, LangError};
pub use localized::Localized;
pub use slug::{PersonKey, Slug, SlugError};
