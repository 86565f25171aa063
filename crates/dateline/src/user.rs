//! `dateline user`: the newsroom's accounts from the command line.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};
use dateline_core::account::{Account, Grants, Password, Role, Username};
use dateline_core::Slug;
use dateline_storage::{StorageError, Store};
use jiff::Timestamp;

/// The password to set: the first line of standard input when it is not a terminal and holds
/// one, else a new random one, which the caller prints.
pub fn password_from(stdin: impl BufRead, is_terminal: bool) -> anyhow::Result<(Password, bool)> {
    if !is_terminal {
        if let Some(line) = stdin.lines().next() {
            let line = line.context("failed to read the password from standard input")?;
            if !line.is_empty() {
                return Ok((Password::parse(&line)?, false));
            }
        }
    }
    Ok((Password::generate()?, true))
}

/// The password from this process's standard input, or a generated one.
pub fn read_password() -> anyhow::Result<(Password, bool)> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    password_from(stdin.lock(), terminal)
}

/// Creates an account.
pub async fn add(
    store: &dyn Store,
    name: &str,
    roles: &[String],
    desks: &[String],
    password: &Password,
) -> anyhow::Result<Account> {
    let username = Username::parse(name)?;
    let roles = roles
        .iter()
        .map(|r| Role::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let desks = desks
        .iter()
        .map(|d| Slug::parse(d).with_context(|| format!("--desk {d:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let grants = Grants::new(roles, desks)?;
    match store
        .create_account(&username, &grants, &password.hash()?, Timestamp::now())
        .await
    {
        Ok(account) => Ok(account),
        Err(StorageError::NotFound(what)) => {
            let sections: Vec<String> = store
                .sections()
                .await?
                .into_iter()
                .map(|s| s.key.to_string())
                .collect();
            bail!(
                "--desk: there is no {what}; the sections are: {}",
                if sections.is_empty() {
                    "(none yet)".to_string()
                } else {
                    sections.join(", ")
                }
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// One line an account, for `dateline user list`.
pub fn describe(account: &Account) -> String {
    let roles: Vec<&str> = account.grants.roles().map(Role::name).collect();
    let desks: Vec<&str> = account.grants.desks().map(Slug::as_str).collect();
    format!(
        "{:<24} {:<28} {:<28} {}",
        account.username,
        roles.join(","),
        if desks.is_empty() {
            "-".to_string()
        } else {
            desks.join(",")
        },
        if account.disabled {
            "disabled"
        } else {
            "active"
        }
    )
}

/// An account that must exist, or an error that says so.
pub async fn existing(store: &dyn Store, name: &str) -> anyhow::Result<Username> {
    let username = Username::parse(name)?;
    if store.account(&username).await?.is_none() {
        bail!("there is no account {name:?}; `dateline user list` shows them");
    }
    Ok(username)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_come_from_a_pipe_or_are_made() {
        let (p, generated) = password_from(&b"a long enough secret\n"[..], false).unwrap();
        assert_eq!((p.expose(), generated), ("a long enough secret", false));
        let (_, generated) = password_from(&b""[..], false).unwrap();
        assert!(generated);
        let (_, generated) = password_from(&b"typed\n"[..], true).unwrap();
        assert!(
            generated,
            "a terminal is never read: the password would echo"
        );
        assert!(password_from(&b"short\n"[..], false).is_err());
    }
}
