//! The stream of changes: what readers can see changed, in the order it was committed.

use std::fmt;

use jiff::Timestamp;

use crate::ArticleId;

/// What kind of change a record tells of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// An article went live (an import of a new one, or its publication).
    ArticlePublished,
    /// A live article changed.
    ArticleUpdated,
    /// An article left the site (unpublished, or put under embargo).
    ArticleWithdrawn,
    SectionChanged,
    SeriesChanged,
    TopicChanged,
    /// An edition's top stories were placed anew.
    FrontChanged,
    /// The threader put an article in its story thread (its reach names the thread it left
    /// and the one it joined).
    ArticleThreaded,
    /// An editor changed a story thread (renamed, merged, split, moved an article, pinned it),
    /// or the threader took one into another; the subject is the thread's id, and the reach
    /// every thread and topic it touched.
    ThreadChanged,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 9] = [
        ChangeKind::ArticlePublished,
        ChangeKind::ArticleUpdated,
        ChangeKind::ArticleWithdrawn,
        ChangeKind::SectionChanged,
        ChangeKind::SeriesChanged,
        ChangeKind::TopicChanged,
        ChangeKind::FrontChanged,
        ChangeKind::ArticleThreaded,
        ChangeKind::ThreadChanged,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::ArticlePublished => "article.published",
            ChangeKind::ArticleUpdated => "article.updated",
            ChangeKind::ArticleWithdrawn => "article.withdrawn",
            ChangeKind::SectionChanged => "section.changed",
            ChangeKind::SeriesChanged => "series.changed",
            ChangeKind::TopicChanged => "topic.changed",
            ChangeKind::FrontChanged => "front.changed",
            ChangeKind::ArticleThreaded => "article.threaded",
            ChangeKind::ThreadChanged => "thread.changed",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One record of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its place in the stream: every record has a greater one than all before it.
    pub position: i64,
    pub kind: ChangeKind,
    /// What changed: an article's key, a section's, a series', a topic's, or an edition's
    /// language.
    pub subject: String,
    pub article: Option<ArticleId>,
    pub at: Timestamp,
    /// For a change of an article, the places it was in at its change before and is in now,
    /// as `kind:key` (`lang:en`, `section:world`, `topic:...`, `series:...`, `byline:...`,
    /// `group:...`, its translation group): every listing it may have left or joined.
    pub reach: Vec<String>,
}

/// An address that receives every change, and the secret its deliveries are signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub url: WebhookUrl,
    pub secret: String,
}

/// A webhook's address: `http` or `https`, with a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(text: &str) -> Result<WebhookUrl, String> {
        let url = url::Url::parse(text.trim()).map_err(|e| {
            format!("{text:?} is not an address such as https://example.org/hook: {e}")
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "{text:?} must be an http:// or https:// address with a host"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "{text:?} must not hold a user name or password: the signature authenticates"
            ));
        }
        Ok(WebhookUrl(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new webhook secret: 32 random bytes from the operating system, as 64 hex digits.
pub fn generate_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random numbers for a secret: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_addresses() {
        for kind in ChangeKind::ALL {
            assert_eq!(ChangeKind::parse(kind.name()), Some(kind));
        }
        assert!(WebhookUrl::parse("https://partner.example/hooks/dateline").is_ok());
        let secret = generate_secret().unwrap();
        assert_eq!(secret.len(), 64);
        assert_ne!(secret, generate_secret().unwrap());
        for bad in [
            "ftp://x.example/",
            "not a url",
            "https://user:pw@x.example/",
            "file:///etc/passwd",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
