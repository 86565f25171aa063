//! A reader in headless Chromium: the demo's home page, then an article.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};

use crate::helpers::{repo_root, TestApp};

/// ChromeDriver, running Debian's Chromium headless; stopped when dropped.
pub struct Chromium {
    driver: Child,
    port: u16,
    profiles: std::sync::Mutex<Vec<tempfile::TempDir>>,
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // The browsers ChromeDriver started outlive it: each is found by its own profile, and
        // stopped with the processes it made.
        let profiles: Vec<Vec<u8>> = self
            .profiles
            .lock()
            .map(|p| {
                p.iter()
                    .map(|d| format!("--user-data-dir={}", d.path().display()).into_bytes())
                    .collect()
            })
            .unwrap_or_default();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            if cmdline
                .split(|b| *b == 0)
                .any(|arg| profiles.iter().any(|p| p.as_slice() == arg))
            {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

impl Chromium {
    pub fn start() -> Chromium {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (scripts/test installs Debian's chromium-driver)");
        Chromium {
            driver,
            port,
            profiles: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A new browser window with its own profile: its own cookies and storage.
    pub async fn session(&self) -> fantoccini::Client {
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = serde_json::json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--no-first-run", "--window-size=1280,1500",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        });
        if let Ok(mut profiles) = self.profiles.lock() {
            profiles.push(profile);
        }
        let caps = caps.as_object().cloned().expect("object");
        for _ in 0..50 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{}", self.port))
                .await
            {
                Ok(c) => return c,
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        panic!("chromedriver accepts no session");
    }
}

/// The text of the one element matching `css` on the current page.
pub async fn text_of(client: &fantoccini::Client, css: &str) -> String {
    let element = client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"));
    element
        .text()
        .await
        .unwrap_or_else(|e| panic!("no text in {css}: {e}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test]
async fn a_reader_opens_the_home_page_and_follows_a_story() {
    let chromium = Chromium::start();
    let client = chromium.session().await;

    let app = TestApp::demo().await;
    client.goto(&app.url("/")).await.expect("home page");
    assert_eq!(client.title().await.expect("title"), "The Meridian Daily");
    let lead = client
        .find(Locator::Css(".lead .headline a"))
        .await
        .expect("a lead story");
    let headline = lead.text().await.expect("text");
    // The README's screenshots are written only when asked: running the tests changes no
    // tracked file.
    let shots =
        std::env::var_os("DATELINE_SCREENSHOTS").map(|_| repo_root().join("docs/screenshots"));
    let home_shot = client.screenshot().await.expect("screenshot");
    assert!(home_shot.starts_with(b"\x89PNG"), "a screenshot is a PNG");
    if let Some(shots) = &shots {
        std::fs::create_dir_all(shots).expect("screenshot dir");
        std::fs::write(shots.join("home.png"), home_shot).expect("write");
    }

    lead.click().await.expect("follow the lead story");
    let url = client.current_url().await.expect("url");
    assert!(url.path().starts_with("/n3/"), "{url}");
    let h1 = text_of(&client, "h1").await;
    assert_eq!(h1, headline);
    let dateline = text_of(&client, ".dateline").await;
    assert!(dateline.starts_with("(The Meridian Daily) "), "{dateline}");
    let paragraphs = client
        .find_all(Locator::Css(".body p"))
        .await
        .expect("body");
    assert!(paragraphs.len() >= 3);
    let credits = text_of(&client, ".credits").await;
    assert!(credits.starts_with("(Web editor: "), "{credits}");
    let related = client
        .find_all(Locator::Css(".related .headline a"))
        .await
        .expect("related");
    assert!(!related.is_empty(), "the lead story has related stories");
    if let Some(shots) = &shots {
        std::fs::write(
            shots.join("article.png"),
            client.screenshot().await.expect("screenshot"),
        )
        .expect("write");
    }

    // The reader follows the first related story and lands on its page.
    let target = related[0].text().await.expect("text");
    related[0].click().await.expect("follow a related story");
    let h1 = text_of(&client, "h1").await;
    assert_eq!(h1, target);
    client.close().await.expect("close");
}
