//! The newsroom's people: accounts, their roles and desks, and their passwords.

use std::collections::BTreeSet;
use std::fmt;

use argon2::password_hash::phc::PasswordHash as Phc;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

use crate::Slug;

/// A role, as integrators name it: `contributor`, `editor`, `chief_editor`, `admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Writes and submits their own drafts.
    Contributor,
    /// Edits, schedules, publishes, corrects and unpublishes in the desks given to them.
    Editor,
    /// Everything editorial, on every desk.
    ChiefEditor,
    /// Accounts and settings; editorial work only with an editorial role as well.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Contributor,
        Role::Editor,
        Role::ChiefEditor,
        Role::Admin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Contributor => "contributor",
            Role::Editor => "editor",
            Role::ChiefEditor => "chief_editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Result<Role, AccountError> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                AccountError(format!(
                    "{s:?} is not a role: use contributor, editor, chief_editor or admin"
                ))
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is wrong with an account's name, roles, desks or password.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct AccountError(pub String);

/// An account's login name: 1 to 64 lowercase letters, digits, `.`, `_` or `-`, starting with a
/// letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, AccountError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if ok {
            Ok(Username(s.to_string()))
        } else {
            Err(AccountError(format!(
                "{s:?} is not a username: use 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The roles and desks of an account, checked: at least one role; desks only for an editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    roles: BTreeSet<Role>,
    desks: BTreeSet<Slug>,
}

impl Grants {
    pub fn new(
        roles: impl IntoIterator<Item = Role>,
        desks: impl IntoIterator<Item = Slug>,
    ) -> Result<Grants, AccountError> {
        let roles: BTreeSet<Role> = roles.into_iter().collect();
        let desks: BTreeSet<Slug> = desks.into_iter().collect();
        if roles.is_empty() {
            return Err(AccountError(
                "an account needs a role: contributor, editor, chief_editor or admin".to_string(),
            ));
        }
        if !desks.is_empty() && !roles.contains(&Role::Editor) {
            return Err(AccountError(
                "desks are given to editors: add --role editor, or leave out --desk".to_string(),
            ));
        }
        if roles.contains(&Role::Editor) && desks.is_empty() {
            return Err(AccountError(
                "an editor works on desks: name at least one with --desk SECTION".to_string(),
            ));
        }
        Ok(Grants { roles, desks })
    }

    pub fn roles(&self) -> impl Iterator<Item = Role> + '_ {
        self.roles.iter().copied()
    }

    pub fn desks(&self) -> impl Iterator<Item = &Slug> + '_ {
        self.desks.iter()
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_desk(&self, desk: &Slug) -> bool {
        self.desks.contains(desk)
    }
}

/// An account as the newsroom knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub username: Username,
    pub grants: Grants,
    pub disabled: bool,
}

/// The fewest characters of a password a person chooses.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The most bytes of a password: Argon2 would take more, but nobody types them.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A password that meets the newsroom's rules; never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

impl Password {
    pub fn parse(s: &str) -> Result<Password, AccountError> {
        let chars = s.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(AccountError(format!(
                "the password is {chars} characters: use at least {MIN_PASSWORD_CHARS}"
            )));
        }
        if s.len() > MAX_PASSWORD_BYTES {
            return Err(AccountError(format!(
                "the password is {} bytes: use at most {MAX_PASSWORD_BYTES}",
                s.len()
            )));
        }
        if s.chars().any(char::is_control) {
            return Err(AccountError(
                "the password holds a control character (a line break, say)".to_string(),
            ));
        }
        Ok(Password(s.to_string()))
    }

    /// A new random password of 20 characters from an alphabet without look-alikes (about
    /// 116 bits), from the operating system's random source.
    pub fn generate() -> Result<Password, AccountError> {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes)
            .map_err(|e| AccountError(format!("no random numbers to make a password: {e}")))?;
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - 256 % ALPHABET.len();
        let text: String = bytes
            .iter()
            .filter(|b| usize::from(**b) < limit)
            .take(20)
            .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
            .collect();
        if text.len() < 20 {
            return Password::generate();
        }
        Ok(Password(text))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The password's Argon2id hash (with a random salt) as a PHC string.
    pub fn hash(&self) -> Result<PasswordHash, AccountError> {
        Argon2::default()
            .hash_password(self.0.as_bytes())
            .map(|h| PasswordHash(h.to_string()))
            .map_err(|e| AccountError(format!("the password could not be hashed: {e}")))
    }
}

/// An Argon2id hash of a password, as a PHC string (`$argon2id$v=19$...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// A hash read back from storage.
    pub fn from_stored(phc: String) -> PasswordHash {
        PasswordHash(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `attempt` is the password; a hash that does not parse matches nothing.
    pub fn verify(&self, attempt: &str) -> bool {
        match Phc::new(&self.0) {
            Ok(parsed) => Argon2::default()
                .verify_password(attempt.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// An API token as its holder sees it, once: `dl_` and 64 hex digits (256 random bits).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(…)")
    }
}

impl ApiToken {
    pub fn generate() -> Result<ApiToken, AccountError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| AccountError(format!("no random numbers to make a token: {e}")))?;
        Ok(ApiToken(format!(
            "dl_{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(&self.0)
    }
}

/// What storage keeps of an API token: its SHA-256, in hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenDigest(String);

impl TokenDigest {
    /// The digest of a token as presented; any text has one, and only a real token's is stored.
    pub fn of(presented: &str) -> TokenDigest {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(presented.as_bytes());
        TokenDigest(hash.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An API token as its holder may list it: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    pub created: jiff::Timestamp,
    pub expires: jiff::Timestamp,
    pub revoked: Option<jiff::Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_roles() {
        assert!(Username::parse("mara.lindqvist").is_ok());
        for bad in ["", "Mara", "-x", "a b", "ünï", &"x".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Ok(role));
        }
        assert!(Role::parse("chief-editor").is_err());
    }

    #[test]
    fn grants_make_sense() {
        let world = Slug::parse("world").unwrap();
        assert!(Grants::new([], []).is_err());
        assert!(Grants::new([Role::Editor], []).is_err());
        assert!(Grants::new([Role::Contributor], [world.clone()]).is_err());
        let g = Grants::new([Role::Editor, Role::Admin], [world.clone()]).unwrap();
        assert!(g.has(Role::Admin) && g.has_desk(&world));
    }

    #[test]
    fn passwords_hash_and_verify() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("long enough\nbut broken").is_err());
        let p = Password::generate().unwrap();
        assert_eq!(p.expose().len(), 20);
        assert_ne!(p, Password::generate().unwrap());
        assert_eq!(format!("{p:?}"), "Password(…)");
        let hash = p.hash().unwrap();
        assert!(
            hash.as_str().starts_with("$argon2id$v=19$"),
            "{}",
            hash.as_str()
        );
        assert!(hash.verify(p.expose()));
        assert!(!hash.verify("something else entirely"));
        assert!(!PasswordHash::from_stored("garbage".to_string()).verify(p.expose()));
    }

    #[test]
    fn tokens_are_random_and_kept_as_digests() {
        let t = ApiToken::generate().unwrap();
        assert!(t.expose().starts_with("dl_") && t.expose().len() == 67);
        assert_ne!(t, ApiToken::generate().unwrap());
        assert_eq!(t.digest(), TokenDigest::of(t.expose()));
        assert_eq!(t.digest().as_str().len(), 64);
        assert_eq!(
            TokenDigest::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
