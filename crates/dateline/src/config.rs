//! The operator's configuration: defaults, then a TOML file, then `DATELINE_*` variables.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use anyhow::{bail, Context};
use dateline_core::{AddressPattern, DatelineFormat, HtmlPolicy, Lang, Sanitizer};
use dateline_web::{Limits, Site};
use jiff::tz::TimeZone;
use serde::Deserialize;

/// Everything an operator can set. Every field has a default, so an empty file is valid.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The outlet's name, as the dateline prints it.
    pub outlet: String,
    /// The IANA time zone datelines and addresses are written in.
    pub time_zone: String,
    /// The strftime format of dateline times.
    pub dateline_format: String,
    /// Formats for languages that write dates their own way.
    pub dateline_formats: BTreeMap<String, String>,
    /// The outlet's languages; the first is the edition served at `/`.
    pub languages: Vec<String>,
    /// The article address pattern.
    pub address_pattern: String,
    /// The database: a SQLite file's path (the default, `dateline.db`), or a
    /// `postgres://user:password@host:port/name` URL, which several nodes may share.
    pub database: PathBuf,
    /// Where this node keeps uploaded images (`media/`) and its search index (`index/`). By
    /// default, beside a SQLite database (`dateline.db` keeping them in `dateline.media/` and
    /// `dateline.index/`); with PostgreSQL it must be given.
    pub data_dir: Option<PathBuf>,
    /// Where uploaded images are kept instead of `media/` in the data folder: an S3-compatible
    /// bucket, `s3://bucket` or `s3://bucket/prefix`, which every node shares; its credentials,
    /// region and endpoint come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`
    /// and `AWS_ENDPOINT` (with `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint).
    pub media_store: Option<String>,
    /// A read replica of a PostgreSQL database (a `postgres://` URL of a streaming standby):
    /// the public pages' reads go there, writes to `database`.
    pub database_replica: Option<String>,
    /// The bearer token a Prometheus scraper sends to `/metrics` from another machine; without
    /// it, `/metrics` answers only on loopback.
    pub metrics_token: Option<String>,
    pub listen: SocketAddr,
    /// The public origin for canonical links; by default, the listen address.
    pub base_url: Option<String>,
    /// Stories per page on section, topic and series pages.
    pub page_size: u32,
    /// Hosts, besides the site itself, that images in article bodies may come from.
    pub image_hosts: Vec<String>,
    /// What the server lets one client have.
    pub limits: LimitsConfig,
    pub feeds: FeedsConfig,
    /// The page cache, and the purge hook of a CDN in front.
    pub cache: CacheConfig,
    /// The partner feeds the outlet takes copy from.
    pub partners: Vec<PartnerConfig>,
}

/// `[cache]`: the memory the page cache may hold, and the hook that purges a CDN in front.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Megabytes of rendered pages (with their gzip and brotli forms) kept in memory; 0 keeps
    /// none.
    pub memory_mb: u64,
    /// An address that receives a POST naming the surrogate keys to purge whenever a change
    /// drops pages (Cloudflare's `purge_cache` takes it as is); with it, pages tell the CDN to
    /// keep them until purged.
    pub purge_url: Option<String>,
    /// Sent to the purge hook as `Authorization: Bearer ...`.
    pub purge_token: Option<String>,
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            memory_mb: 256,
            purge_url: None,
            purge_token: None,
        }
    }
}

impl CacheConfig {
    pub fn cache(&self) -> anyhow::Result<dateline_web::CacheSettings> {
        if self.memory_mb > 1 << 20 {
            bail!(
                "cache.memory_mb = {} is out of range: use 0 to 1048576",
                self.memory_mb
            );
        }
        let purge = match &self.purge_url {
            None => None,
            Some(text) => Some(
                dateline_core::change::WebhookUrl::parse(text)
                    .map_err(|e| anyhow::anyhow!("cache.purge_url: {e}"))?,
            ),
        };
        if self.purge_token.is_some() && purge.is_none() {
            bail!("cache.purge_token is set without cache.purge_url");
        }
        Ok(dateline_web::CacheSettings {
            bytes: usize::try_from(self.memory_mb << 20).unwrap_or(usize::MAX),
            purge,
            purge_token: self.purge_token.clone(),
        })
    }
}

/// `[[partners]]`: a partner's RSS, Atom or ninjs feed that Dateline follows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerConfig {
    /// The partner's name, as the dateline credits it: "Xinhua".
    pub name: String,
    pub url: String,
    /// "feed" (RSS or Atom) or "ninjs".
    #[serde(default = "default_partner_format")]
    pub format: String,
    /// Seconds between two reads of the feed.
    #[serde(default = "default_partner_every")]
    pub every_secs: u64,
    /// Publish what arrives (true), or make drafts for the desk (false).
    #[serde(default)]
    pub publish: bool,
    /// The section new items go to.
    #[serde(default = "default_partner_section")]
    pub section: String,
    /// The language of its items [default: the outlet's primary language].
    pub lang: Option<String>,
    /// The account drafts are made for; needed unless `publish` is true.
    pub owner: Option<String>,
}

fn default_partner_format() -> String {
    "feed".into()
}

fn default_partner_every() -> u64 {
    300
}

fn default_partner_section() -> String {
    "news".into()
}

/// `[feeds]`: what the outlet's feeds carry, and the WebSub hub they name.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedsConfig {
    /// Whether entries carry the whole article (true) or its summary only.
    pub full_content: bool,
    /// How many stories a feed lists.
    pub items: u32,
    /// The WebSub hub that feeds name and that every change is announced to.
    pub hub: Option<String>,
}

impl Default for FeedsConfig {
    fn default() -> FeedsConfig {
        FeedsConfig {
            full_content: true,
            items: 20,
            hub: None,
        }
    }
}

impl FeedsConfig {
    pub fn feeds(&self) -> anyhow::Result<dateline_web::Feeds> {
        if !(1..=200).contains(&self.items) {
            bail!("feeds.items = {} is out of range: use 1 to 200", self.items);
        }
        let hub = match &self.hub {
            None => None,
            Some(text) => {
                let url = url::Url::parse(text).with_context(|| {
                    format!("feeds.hub {text:?} is not an address such as https://hub.example.org/")
                })?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    bail!("feeds.hub {text:?} must be an http:// or https:// address");
                }
                Some(url.to_string())
            }
        };
        Ok(dateline_web::Feeds {
            full_content: self.full_content,
            items: self.items,
            hub,
        })
    }
}

/// The server's limits, in the units an operator writes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Seconds a request's headers may take to arrive; an idle keep-alive connection is closed
    /// when its next request does not begin in this time.
    pub header_timeout_secs: u64,
    /// Seconds a request may take to be answered.
    pub request_timeout_secs: u64,
    /// The most bytes of a request's line and headers.
    pub max_header_bytes: usize,
    /// The most open connections in all.
    pub max_connections: usize,
    /// The most open connections from one client address.
    pub max_connections_per_client: usize,
    /// Seconds shutdown waits for requests in flight.
    pub shutdown_grace_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        let l = Limits::default();
        LimitsConfig {
            header_timeout_secs: l.header_timeout.as_secs(),
            request_timeout_secs: l.request_timeout.as_secs(),
            max_header_bytes: l.max_header_bytes,
            max_connections: l.max_connections,
            max_connections_per_client: l.max_connections_per_client,
            shutdown_grace_secs: l.shutdown_grace.as_secs(),
        }
    }
}

impl LimitsConfig {
    /// The limits, checked.
    pub fn limits(&self) -> anyhow::Result<Limits> {
        let within = |name: &str, value: u64, range: std::ops::RangeInclusive<u64>| {
            if range.contains(&value) {
                Ok(value)
            } else {
                bail!(
                    "limits.{name} = {value} is out of range: use {} to {}",
                    range.start(),
                    range.end()
                )
            }
        };
        Ok(Limits {
            header_timeout: Duration::from_secs(within(
                "header_timeout_secs",
                self.header_timeout_secs,
                1..=300,
            )?),
            request_timeout: Duration::from_secs(within(
                "request_timeout_secs",
                self.request_timeout_secs,
                1..=600,
            )?),
            max_header_bytes: within(
                "max_header_bytes",
                self.max_header_bytes as u64,
                4096..=1 << 20,
            )? as usize,
            max_connections: within(
                "max_connections",
                self.max_connections as u64,
                1..=1_000_000,
            )? as usize,
            max_connections_per_client: within(
                "max_connections_per_client",
                self.max_connections_per_client as u64,
                1..=1_000_000,
            )? as usize,
            shutdown_grace: Duration::from_secs(within(
                "shutdown_grace_secs",
                self.shutdown_grace_secs,
                0..=3600,
            )?),
        })
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            outlet: "Dateline".to_string(),
            time_zone: "UTC".to_string(),
            dateline_format: "%H:%M, %B %-d, %Y".to_string(),
            dateline_formats: BTreeMap::from([
                ("zh".to_string(), "%Y年%-m月%-d日%H:%M".to_string()),
                ("ja".to_string(), "%Y年%-m月%-d日 %H:%M".to_string()),
                ("ru".to_string(), "%H:%M, %d.%m.%Y".to_string()),
            ]),
            languages: vec!["en".to_string()],
            address_pattern: "/n3/{year}/{month}{day}/c{section}-{id}.html".to_string(),
            database: PathBuf::from("dateline.db"),
            data_dir: None,
            media_store: None,
            database_replica: None,
            metrics_token: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: None,
            page_size: 20,
            image_hosts: vec![],
            limits: LimitsConfig::default(),
            feeds: FeedsConfig::default(),
            cache: CacheConfig::default(),
            partners: vec![],
        }
    }
}

/// The environment variables that override the file, with the field each sets.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("DATELINE_OUTLET", "outlet"),
    ("DATELINE_TIME_ZONE", "time_zone"),
    ("DATELINE_DATELINE_FORMAT", "dateline_format"),
    ("DATELINE_LANGUAGES", "languages (comma-separated)"),
    ("DATELINE_ADDRESS_PATTERN", "address_pattern"),
    ("DATELINE_DATABASE", "database"),
    ("DATELINE_DATA_DIR", "data_dir"),
    ("DATELINE_MEDIA_STORE", "media_store"),
    ("DATELINE_DATABASE_REPLICA", "database_replica"),
    ("DATELINE_METRICS_TOKEN", "metrics_token"),
    ("DATELINE_LISTEN", "listen"),
    ("DATELINE_BASE_URL", "base_url"),
    ("DATELINE_PAGE_SIZE", "page_size"),
    ("DATELINE_IMAGE_HOSTS", "image_hosts (comma-separated)"),
    ("DATELINE_FEEDS_HUB", "feeds.hub"),
];

impl Config {
    /// Reads the file, if given, then applies the environment.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Config> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("failed to read the config file {}", path.display())
                })?;
                toml::from_str(&text)
                    .with_context(|| format!("{} is not a valid Dateline config", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        Ok(config)
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        for (var, _) in ENV_VARS {
            let Some(value) = env(var) else { continue };
            match *var {
                "DATELINE_OUTLET" => self.outlet = value,
                "DATELINE_TIME_ZONE" => self.time_zone = value,
                "DATELINE_DATELINE_FORMAT" => self.dateline_format = value,
                "DATELINE_LANGUAGES" => {
                    self.languages = value
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                }
                "DATELINE_ADDRESS_PATTERN" => self.address_pattern = value,
                "DATELINE_DATABASE" => self.database = PathBuf::from(value),
                "DATELINE_DATA_DIR" => self.data_dir = Some(PathBuf::from(value)),
                "DATELINE_MEDIA_STORE" => self.media_store = Some(value),
                "DATELINE_DATABASE_REPLICA" => self.database_replica = Some(value),
                "DATELINE_METRICS_TOKEN" => self.metrics_token = Some(value),
                "DATELINE_LISTEN" => {
                    self.listen = value.parse().with_context(|| {
                        format!("{var}={value:?} is not an address such as 127.0.0.1:8080")
                    })?
                }
                "DATELINE_BASE_URL" => self.base_url = Some(value),
                "DATELINE_PAGE_SIZE" => {
                    self.page_size = value
                        .parse()
                        .with_context(|| format!("{var}={value:?} is not a whole number"))?
                }
                "DATELINE_IMAGE_HOSTS" => {
                    self.image_hosts = value
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                }
                "DATELINE_FEEDS_HUB" => self.feeds.hub = Some(value),
                _ => {}
            }
        }
        Ok(())
    }

    pub fn time_zone(&self) -> anyhow::Result<TimeZone> {
        TimeZone::get(&self.time_zone).with_context(|| {
            format!(
                "time_zone {:?} is not an IANA time zone such as Asia/Shanghai",
                self.time_zone
            )
        })
    }

    pub fn languages(&self) -> anyhow::Result<Vec<Lang>> {
        if self.languages.is_empty() {
            bail!(
                "languages is empty: name at least the outlet's primary language, such as [\"en\"]"
            );
        }
        let langs = self
            .languages
            .iter()
            .map(|l| Lang::parse(l).with_context(|| format!("languages: {l:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for (i, l) in langs.iter().enumerate() {
            if langs[..i].contains(l) {
                bail!("languages names {l} twice");
            }
        }
        Ok(langs)
    }

    /// The public origin, checked: `http` or `https`, a host, and nothing that could break
    /// out of the attributes and JSON it is written into.
    pub fn base_url(&self, bound: SocketAddr) -> anyhow::Result<String> {
        let Some(text) = &self.base_url else {
            return Ok(format!("http://{bound}"));
        };
        let url = url::Url::parse(text).with_context(|| {
            format!("base_url {text:?} is not an address such as https://news.example.org")
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("base_url {text:?} must start with http:// or https://");
        }
        if url.host_str().is_none()
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            bail!("base_url {text:?} must be an origin, such as https://news.example.org, with at most a path");
        }
        // The parser has percent-encoded quotes, spaces and angle brackets in the path.
        Ok(url.as_str().trim_end_matches('/').to_string())
    }

    /// The hosts images may come from, checked as host names.
    pub fn image_hosts(&self) -> anyhow::Result<Vec<String>> {
        self.image_hosts
            .iter()
            .map(|h| {
                let host = h.trim().to_ascii_lowercase();
                let ok = !host.is_empty()
                    && host.len() <= 253
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
                if ok {
                    Ok(host)
                } else {
                    bail!("image_hosts: {h:?} is not a host name such as media.example.org")
                }
            })
            .collect()
    }

    /// The outlet's sanitizer: images from the site itself and the hosts it allows.
    /// Where uploaded images are kept: see [`Config::data_dir`].
    pub fn media_dir(&self) -> anyhow::Result<PathBuf> {
        self.data_path("media")
    }

    /// Where the search index is kept: see [`Config::data_dir`]. It can always be rebuilt from
    /// the database.
    pub fn search_dir(&self) -> anyhow::Result<PathBuf> {
        self.data_path("index")
    }

    /// The store of uploaded images: [`Config::media_store`], or the media folder.
    pub fn media(&self) -> anyhow::Result<dateline_web::media::MediaStore> {
        use dateline_web::media::MediaStore;
        match &self.media_store {
            Some(url) if url.starts_with("s3://") => {
                MediaStore::s3(url).with_context(|| format!("media_store {url:?} cannot be used"))
            }
            Some(other) => bail!(
                "media_store {other:?} is not an S3 bucket such as s3://bucket/prefix \
                 (leave it out to keep images in the data folder)"
            ),
            None => {
                let dir = self.media_dir()?;
                MediaStore::folder(&dir)
                    .with_context(|| format!("the media folder {} cannot be made", dir.display()))
            }
        }
    }

    fn data_path(&self, what: &str) -> anyhow::Result<PathBuf> {
        match &self.data_dir {
            Some(dir) => Ok(dir.join(what)),
            None if self.is_postgres() => bail!(
                "data_dir (DATELINE_DATA_DIR) is needed with a PostgreSQL database: the folder \
                 where this node keeps its search index and images"
            ),
            None => Ok(self.database.with_extension(what)),
        }
    }

    /// Whether the database is PostgreSQL rather than a SQLite file.
    pub fn is_postgres(&self) -> bool {
        self.database
            .to_str()
            .is_some_and(dateline_storage::is_postgres)
    }

    /// The database as logs and messages name it: a URL without its password.
    pub fn database_label(&self) -> String {
        let text = self.database.display().to_string();
        match url::Url::parse(&text) {
            Ok(mut url) if self.is_postgres() => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("***"));
                }
                // libpq's parameters may carry it too (`?password=`).
                let query: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if k.eq_ignore_ascii_case("password") {
                            "***".into()
                        } else {
                            v
                        };
                        (k.into_owned(), v.into_owned())
                    })
                    .collect();
                if !query.is_empty() {
                    url.query_pairs_mut().clear().extend_pairs(query);
                }
                url.to_string()
            }
            _ => text,
        }
    }

    pub fn sanitizer(&self) -> anyhow::Result<Sanitizer> {
        let mut image_hosts = self.image_hosts()?;
        if let Some(base) = &self.base_url {
            if let Some(host) = url::Url::parse(base)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
            {
                image_hosts.push(host);
            }
        }
        Ok(Sanitizer::new(&HtmlPolicy { image_hosts }))
    }

    /// The partner feeds, checked.
    pub fn partners(&self, site: &Site) -> anyhow::Result<Vec<dateline_web::ingest::Partner>> {
        use dateline_web::ingest::{Partner, PartnerFormat};
        self.partners
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let at = format!("partners[{i}] ({:?})", p.name);
                if p.name.trim().is_empty() || p.name.chars().count() > 200 {
                    bail!("{at}: name must be 1 to 200 characters");
                }
                let url = url::Url::parse(&p.url)
                    .with_context(|| format!("{at}: url {:?} is not an address", p.url))?;
                if !matches!(url.scheme(), "http" | "https") {
                    bail!("{at}: url must be http:// or https://");
                }
                let format = match p.format.as_str() {
                    "feed" | "rss" | "atom" => PartnerFormat::Feed,
                    "ninjs" => PartnerFormat::Ninjs,
                    other => bail!("{at}: format {other:?} is not one Dateline reads: use feed (RSS or Atom) or ninjs"),
                };
                if !(1..=86_400).contains(&p.every_secs) {
                    bail!("{at}: every_secs = {} is out of range: use 1 to 86400", p.every_secs);
                }
                if !p.publish && p.owner.is_none() {
                    bail!("{at}: drafts need an owner: set owner to the account the desk's drafts are made for, or publish = true");
                }
                let lang = match &p.lang {
                    Some(l) => Lang::parse(l).with_context(|| format!("{at}: lang"))?,
                    None => site.primary().clone(),
                };
                Ok(Partner {
                    name: p.name.trim().to_string(),
                    url: url.to_string(),
                    format,
                    every: Duration::from_secs(p.every_secs),
                    publish: p.publish,
                    section: dateline_core::Slug::parse(&p.section)
                        .with_context(|| format!("{at}: section"))?,
                    lang,
                    owner: p.owner.clone(),
                })
            })
            .collect()
    }

    /// The site settings, checked; `bound` is the address the server listens on.
    pub fn site(&self, bound: SocketAddr) -> anyhow::Result<Site> {
        if !(1..=200).contains(&self.page_size) {
            bail!("page_size {} is out of range: use 1 to 200", self.page_size);
        }
        let base_url = self.base_url(bound)?;
        Ok(Site {
            outlet: self.outlet.clone(),
            time_zone: self.time_zone()?,
            dateline: DatelineFormat::new(&self.dateline_format, self.dateline_formats.clone())?,
            languages: self.languages()?,
            address: AddressPattern::parse(&self.address_pattern)?,
            base_url,
            page_size: self.page_size,
            image_hosts: self.image_hosts()?,
            sanitizer: std::sync::Arc::new(self.sanitizer()?),
            media: self.media()?,
            feeds: self.feeds.feeds()?,
            cache: self.cache.cache()?,
            metrics_token: self.metrics_token.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_feeds_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dateline.toml");
        std::fs::write(
            &path,
            "[[partners]]\nname = \"Xinhua\"\nurl = \"https://partner.example.org/rss\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), |_| None).unwrap();
        let site = config.site("127.0.0.1:8080".parse().unwrap()).unwrap();
        let e = config.partners(&site).unwrap_err().to_string();
        assert!(
            e.contains("partners[0] (\"Xinhua\"): drafts need an owner"),
            "{e}"
        );
        std::fs::write(
            &path,
            "[[partners]]\nname = \"Xinhua\"\nurl = \"ftp://x\"\npublish = true\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), |_| None).unwrap();
        let e = config.partners(&site).unwrap_err().to_string();
        assert!(e.contains("url must be http:// or https://"), "{e}");
        std::fs::write(
            &path,
            "[[partners]]\nname = \"Xinhua\"\nurl = \"https://x.example.org/\"\npublish = true\nevery_secs = 60\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), |_| None).unwrap();
        let partners = config.partners(&site).unwrap();
        assert_eq!(partners[0].every, Duration::from_secs(60));
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dateline.toml");
        std::fs::write(
            &path,
            "outlet = \"The Paper\"\ntime_zone = \"Europe/Berlin\"\nlanguages = [\"de\", \"en\"]\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), |v| {
            (v == "DATELINE_OUTLET").then(|| "Env Outlet".to_string())
        })
        .unwrap();
        assert_eq!(config.outlet, "Env Outlet");
        assert_eq!(config.time_zone, "Europe/Berlin");
        assert_eq!(config.languages, vec!["de", "en"]);
        assert!(config.site("127.0.0.1:1".parse().unwrap()).is_ok());
    }

    #[test]
    fn the_example_config_is_valid() {
        let example: Config =
            toml::from_str(include_str!("../../../dateline.example.toml")).unwrap();
        let site = example.site("127.0.0.1:1".parse().unwrap()).unwrap();
        assert_eq!(site.languages.len(), 3);
    }

    #[test]
    fn explains_bad_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dateline.toml");
        std::fs::write(&path, "outlet = \"x\"\ncolour = \"red\"\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&path), |_| None).unwrap_err());
        assert!(err.contains("unknown field `colour`"), "{err}");

        let bound = "127.0.0.1:1".parse().unwrap();
        let mut config = Config {
            time_zone: "Mars/Olympus".to_string(),
            ..Config::default()
        };
        assert!(format!("{:#}", config.site(bound).unwrap_err()).contains("Mars/Olympus"));
        config.time_zone = "UTC".to_string();
        config.address_pattern = "/news/{slug}".to_string();
        assert!(format!("{:#}", config.site(bound).unwrap_err()).contains("{id}"));
        let err = Config::load(None, |v| {
            (v == "DATELINE_LISTEN").then(|| "nowhere".to_string())
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("DATELINE_LISTEN"));

        // A base address is written into attributes and JSON: nothing may break out of them.
        for bad in [
            "javascript:alert(1)",
            "https://news.example.org/?q=1",
            "https://user:pw@news.example.org",
            "news.example.org",
            "https://",
        ] {
            let config = Config {
                base_url: Some(bad.to_string()),
                ..Config::default()
            };
            assert!(config.site(bound).is_err(), "{bad} was accepted");
        }
        let config = Config {
            base_url: Some("https://news.example.org/a\"b<c>/".to_string()),
            ..Config::default()
        };
        assert_eq!(
            config.site(bound).unwrap().base_url,
            "https://news.example.org/a%22b%3Cc%3E"
        );
        let config = Config {
            image_hosts: vec!["media.example.org\"><script>".to_string()],
            ..Config::default()
        };
        assert!(config.site(bound).is_err());
        let config = Config {
            limits: LimitsConfig {
                max_header_bytes: 10,
                ..LimitsConfig::default()
            },
            ..Config::default()
        };
        assert!(format!("{:#}", config.limits.limits().unwrap_err())
            .contains("limits.max_header_bytes"));
    }
}
