//! `dateline user`: accounts made, listed, disabled and given new passwords from the command
//! line, as an operator would.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use dateline_core::account::Username;
use dateline_core::{Localized, Section, Slug};

use crate::helpers::test_database;

/// Runs `dateline user ARGS` on the database at `db`, with `stdin` piped in (or none at all).
fn user(db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dateline"))
        .arg("user")
        .args(args)
        .env("DATELINE_DATABASE", db)
        .env("DATELINE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dateline user");
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(pipe);
    child.wait_with_output().expect("wait")
}

fn out(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn err(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[tokio::test]
async fn an_operator_manages_accounts_from_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let db = test_database(dir.path()).await;
    let store = dateline_storage::open(db.to_str().expect("UTF-8"))
        .await
        .expect("store");
    for (key, code) in [("world", 1), ("sport", 2)] {
        store
            .put_section(&Section {
                key: Slug::parse(key).expect("slug"),
                code,
                name: Localized::new("en", key),
            })
            .await
            .expect("section");
    }

    // A password piped in is used; nothing is printed of it.
    let added = user(
        &db,
        &[
            "add", "mara", "--role", "editor", "--desk", "world", "--desk", "sport",
        ],
        Some("a piped secret phrase\n"),
    );
    assert!(added.status.success(), "{}", err(&added));
    assert!(!out(&added).contains("a piped secret phrase"));
    let hash = store
        .password_hash(&Username::parse("mara").expect("name"))
        .await
        .expect("read")
        .expect("stored");
    assert!(hash.as_str().starts_with("$argon2id$"));
    assert!(hash.verify("a piped secret phrase"));

    // Without one, a password is generated and printed once.
    let added = user(
        &db,
        &["add", "li.wen", "--role", "chief_editor", "--role", "admin"],
        None,
    );
    assert!(added.status.success(), "{}", err(&added));
    let printed = out(&added)
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a generated password")
        .to_string();
    assert_eq!(printed.len(), 20);
    let hash = store
        .password_hash(&Username::parse("li.wen").expect("name"))
        .await
        .expect("read")
        .expect("stored");
    assert!(hash.verify(&printed));

    // Mistakes are refused with what is wrong.
    for (args, reason) in [
        (
            vec!["add", "mara", "--role", "editor", "--desk", "world"],
            "the username mara is taken",
        ),
        (
            vec!["add", "ana", "--role", "writer"],
            "\"writer\" is not a role",
        ),
        (
            vec!["add", "ana", "--role", "editor"],
            "name at least one with --desk",
        ),
        (
            vec!["add", "ana", "--role", "editor", "--desk", "sprot"],
            "there is no section \"sprot\"; the sections are: world, sport",
        ),
        (
            vec!["add", "Ana", "--role", "contributor"],
            "is not a username",
        ),
        (vec!["disable", "nobody"], "there is no account \"nobody\""),
    ] {
        let refused = user(&db, &args, Some("another long secret\n"));
        assert_eq!(refused.status.code(), Some(1), "{args:?}");
        assert!(
            err(&refused).contains(reason),
            "{args:?}: {}",
            err(&refused)
        );
    }
    let short = user(
        &db,
        &["add", "ana", "--role", "contributor"],
        Some("short\n"),
    );
    assert!(err(&short).contains("use at least 10"), "{}", err(&short));

    // The list says who may do what.
    let list = out(&user(&db, &["list"], None));
    let lines: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        vec![
            vec!["li.wen", "chief_editor,admin", "-", "active"],
            vec!["mara", "editor", "sport,world", "active"],
        ]
    );

    // Disabled, enabled, and a new password.
    assert!(user(&db, &["disable", "mara"], None).status.success());
    assert!(out(&user(&db, &["list"], None)).contains("disabled"));
    assert!(
        store
            .account(&Username::parse("mara").expect("name"))
            .await
            .expect("read")
            .expect("there")
            .disabled
    );
    assert!(user(&db, &["enable", "mara"], None).status.success());
    let changed = user(&db, &["password", "mara"], Some("the next secret phrase\n"));
    assert!(changed.status.success(), "{}", err(&changed));
    let hash = store
        .password_hash(&Username::parse("mara").expect("name"))
        .await
        .expect("read")
        .expect("stored");
    assert!(hash.verify("the next secret phrase") && !hash.verify("a piped secret phrase"));

    // Each of these is in the audit log, as the command line's.
    let log = store.audit_log(None, 100).await.expect("audit log");
    let done: Vec<(&str, &str)> = log
        .iter()
        .rev()
        .map(|e| (e.action.as_str(), e.subject.as_str()))
        .collect();
    assert_eq!(
        done,
        vec![
            ("account.create", "account mara"),
            ("account.create", "account li.wen"),
            ("account.disable", "account mara"),
            ("account.enable", "account mara"),
            ("account.password", "account mara"),
        ]
    );
    assert!(log
        .iter()
        .all(|e| e.actor == "command line" && e.account.is_none()));
}

/// `dateline demo` prints one login per role, and each works.
#[tokio::test]
async fn the_demo_prints_a_login_for_every_role() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("dir");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_dateline"))
        .args(["demo", "--listen", "127.0.0.1:0", "--database"])
        .arg(test_database(dir.path()).await)
        .env("DATELINE_DATA_DIR", dir.path())
        .env("DATELINE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run dateline demo");
    let stdout = demo.stdout.take().expect("stdout");
    let mut logins = Vec::new();
    let mut address = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(login) = line.strip_prefix("login: ") {
            let parts: Vec<String> = login.split(' ').map(str::to_string).collect();
            logins.push(parts);
        }
        if let Some(at) = line.strip_prefix("Serving at ") {
            address = at
                .split_whitespace()
                .next()
                .map(|a| a.trim_end_matches('/').to_string());
            break;
        }
    }
    let address = address.expect("the demo says where it serves");
    let roles: Vec<&str> = logins.iter().map(|l| l[0].as_str()).collect();
    assert_eq!(roles, ["contributor", "editor", "chief_editor", "admin"]);
    let client = reqwest::Client::new();
    for login in &logins {
        let response = client
            .post(format!("{address}/api/v1/tokens"))
            .json(&serde_json::json!({"username": login[1], "password": login[2]}))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status().as_u16(), 201, "{login:?}");
    }
    let _ = demo.kill();
    let _ = demo.wait();
}
