//! The audit log's entries: who did what to what, when, and from where.

use jiff::Timestamp;

/// One action on the newsroom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its place in the log; 0 before it is stored.
    pub id: i64,
    pub at: Timestamp,
    /// The account that acted, if one did.
    pub account: Option<i64>,
    /// Who acted: a username, or `command line`.
    pub actor: String,
    /// What was done, such as `article.publish` or `token.create`.
    pub action: String,
    /// What it was done to, such as `article 12`.
    pub subject: String,
    /// The client address it came from, for actions over the network.
    pub address: Option<String>,
}
