//! `dateline`: the newsroom publishing system, in one binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use dateline::config::Config;
use dateline::server::{open_store, open_store_for, shutdown_signal, Server};
use dateline::{demo, import, user};
use dateline_core::import::{BodyFormat, FieldMap, ImportOptions, FIELDS};
use dateline_core::{Lang, Slug};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "dateline", version, about = "Dateline: a newsroom publishing system", long_about = None)]
struct Cli {
    /// The database, for any command: a SQLite file's path or a postgres:// URL (overrides the
    /// config file and DATELINE_DATABASE).
    #[arg(long, global = true, value_name = "PATH|URL")]
    database: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a complete demo newsroom and print its address.
    ///
    /// Three language editions, five sections, a series and a topic thread, on an embedded
    /// SQLite database. Loading it again into the same database changes nothing. One account
    /// per role is made (or given a new password) and printed as `login: ROLE USERNAME PASSWORD`.
    /// With --database, it is loaded into that database instead (a SQLite path or a postgres://
    /// URL); DATELINE_DATA_DIR says where its index and images go.
    Demo {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Serve the site.
    ///
    /// Settings come from the defaults, then the config file, then DATELINE_* variables:
    /// DATELINE_OUTLET, DATELINE_TIME_ZONE, DATELINE_DATELINE_FORMAT, DATELINE_LANGUAGES,
    /// DATELINE_ADDRESS_PATTERN, DATELINE_DATABASE, DATELINE_LISTEN, DATELINE_BASE_URL,
    /// DATELINE_PAGE_SIZE, DATELINE_IMAGE_HOSTS. See dateline.example.toml.
    Serve {
        /// A TOML config file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Manage the newsroom's accounts.
    User {
        /// A TOML config file (for the database).
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage the webhooks that receive the stream of changes.
    Webhook {
        /// A TOML config file (for the database).
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// Rebuild the search index from the database, with a progress bar.
    ///
    /// Beside a running server, the server rebuilds it and serves meanwhile; this shows its
    /// progress.
    Reindex {
        /// A TOML config file (for the database).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Write articles as IPTC ninjs documents, one JSON document a line.
    ///
    /// Every article in any state (its ninjs pubStatus says which), or those named with --id.
    /// The documents validate against IPTC's JSON schema of their version.
    Export {
        /// A TOML config file (for the database, the outlet and its public address).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The format to write.
        #[arg(long, value_enum, default_value_t = ExportFormat::Ninjs)]
        format: ExportFormat,
        /// The ninjs version: 3.1 or 2.2.
        #[arg(long = "ninjs-version", default_value = "3.1")]
        ninjs_version: String,
        /// Only these articles (repeat for more).
        #[arg(long = "id")]
        ids: Vec<i64>,
        /// The file to write (ninjs), or the folder (NewsML-G2) [default: standard output].
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Copy a whole newsroom from one database to another: SQLite to PostgreSQL, or back.
    ///
    /// The target is made (or migrated) first and must hold no article, account, change or
    /// section. Every table is copied row for row, ids and the stream's positions kept, in one
    /// transaction of the target, with a progress bar; then each table is counted on both
    /// sides, and the exit status is 1 if a count differs. Uploaded images are files: copy the
    /// media folder beside them. Each node builds its search index anew from the stream.
    MigrateStore {
        /// The database copied from: a SQLite file's path or a postgres:// URL.
        #[arg(long, value_name = "PATH|URL")]
        from: String,
        /// The database copied to: a SQLite file's path or a postgres:// URL.
        #[arg(long, value_name = "PATH|URL")]
        to: String,
    },
    /// Write a consistent copy of a SQLite newsroom to a new file, while it is served.
    ///
    /// The copy holds every commit made before it began and none after (SQLite's VACUUM INTO,
    /// one read transaction). For PostgreSQL use pg_dump (see docs/deploy.md).
    Backup {
        /// A TOML config file (for the database).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The new file to write.
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Restore a backup into an empty newsroom: a new SQLite file, or an empty PostgreSQL
    /// database.
    ///
    /// The backup is checked first (SQLite's integrity and foreign key checks), then copied as
    /// migrate-store copies, and counted on both sides. Stop the nodes of the newsroom that is
    /// replaced first; each builds its search index anew when it starts.
    Restore {
        /// A TOML config file (for the database restored into).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
    },
    /// Benchmarks on a generated archive.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Measure Dateline's rankings on a labelled corpus.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Import articles from JSON Lines files, one article a line.
    ///
    /// Importing a file again adds nothing: articles are matched on their "id". Each rejected
    /// line is reported with its number and reason, the others are committed, and the exit
    /// status is 2 if any line was rejected.
    #[command(after_help = import_help())]
    Import {
        /// A TOML config file (for the database, time zone and languages).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Read a Dateline field from another source field, e.g. --map headline=title.
        #[arg(long = "map", value_name = "FIELD=SOURCE")]
        maps: Vec<String>,
        /// The language of lines that name none [default: the outlet's primary language].
        #[arg(long)]
        lang: Option<String>,
        /// The section of lines that name none.
        #[arg(long, default_value = "news")]
        section: String,
        /// The publication time (RFC 3339) of lines that give none; without it they are rejected.
        #[arg(long, value_name = "TIME")]
        undated_at: Option<String>,
        /// Take the body's first paragraph as the headline where a line has none.
        #[arg(long)]
        headline_from_body: bool,
        /// How to read bodies.
        #[arg(long, value_enum, default_value_t = BodyArg::Auto)]
        body_format: BodyArg,
        /// Reject lines longer than this many bytes.
        #[arg(long, default_value_t = 4 << 20)]
        max_line_bytes: usize,
        /// What the files hold.
        #[arg(long, value_enum, default_value_t = ImportFormat::Jsonl)]
        format: ImportFormat,
        /// Folders of IPTC's ninjs schemas (ninjs-schema_X.Y.json, and the schemas they refer
        /// to): each ninjs document is validated against its version's before it is read.
        #[arg(long = "ninjs-schemas", value_name = "DIR")]
        ninjs_schemas: Vec<PathBuf>,
        /// Validate every ninjs document as this version (e.g. 1.0) whatever it declares.
        #[arg(long = "ninjs-version")]
        ninjs_version: Option<String>,
        /// The account that owns the drafts and scheduled posts of a WordPress export
        /// (without one they are skipped).
        #[arg(long, value_name = "USERNAME")]
        owner: Option<String>,
        /// The files: JSON Lines of import records, or ninjs documents (one a file, an array,
        /// or one a line).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ImportFormat {
    /// JSON Lines of Dateline import records (see the README).
    Jsonl,
    /// IPTC ninjs 1.x, 2.x or 3.x documents.
    Ninjs,
    /// A WordPress export (WXR).
    Wxr,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    /// IPTC ninjs (JSON), one document a line.
    Ninjs,
    /// IPTC NewsML-G2 NewsItems (XML), one file an article, in the folder --out names.
    Newsml,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Generate an archive into a new index, then time searches and related stories.
    ///
    /// The generator is seeded and documented in crates/dateline/src/bench.rs: headlines of 6 to
    /// 14 words and bodies of 150 to 900 from a Zipf-distributed vocabulary of 60,000 words,
    /// each article about one of N/40 stories with 40 words of its own.
    Search {
        /// How many articles to generate.
        #[arg(long, default_value_t = 100_000)]
        articles: u64,
        /// Where to build the index (left there; an index of the same count from an earlier run is
        /// timed again without indexing).
        #[arg(long)]
        dir: PathBuf,
        /// How many searches to time (a tenth as many related-stories rankings).
        #[arg(long, default_value_t = 2_000)]
        queries: usize,
    },
    /// Thread a generated archive one article at a time, as publishing would: items a second
    /// over each tenth of it (the last is the speed at the archive's full size), the threads
    /// made, and their agreement with the generated stories.
    Threads {
        /// How many articles to generate.
        #[arg(long, default_value_t = 1_000_000)]
        articles: u64,
    },
    /// Write a generated archive as import records (JSON Lines), for `dateline import`.
    ///
    /// Seeded and documented in crates/dateline/src/bench.rs (`archive`): ten desks at the
    /// rates of a general outlet, 400 reporters, bodies of 150 to 900 words in paragraphs, each
    /// story its topic, one article a minute up to now.
    Archive {
        /// How many articles to generate.
        #[arg(long, default_value_t = 1_000_000)]
        articles: u64,
        /// The file to write [default: standard output].
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Serve one file's bytes from memory with a bare axum handler, for every path: the
    /// reference `bench/run` measures Dateline's page cache against (what serving the bytes
    /// costs with nothing of Dateline's work), beside nginx.
    Static {
        /// The bytes to answer with.
        #[arg(long)]
        file: PathBuf,
        /// The media type they are answered as.
        #[arg(long, default_value = "text/html; charset=utf-8")]
        content_type: String,
        #[arg(long, default_value = "127.0.0.1:18082")]
        listen: std::net::SocketAddr,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Related stories against plain BM25 more-like-this: P@5, R-precision, MAP and nDCG@10.
    ///
    /// Loads a JSON Lines corpus (`id`, `title`, `body`, and `cluster` or `category`) into a
    /// temporary index in memory and ranks, for every article, all the others; an article is
    /// related to another when both have the same cluster (or category). Also reports the mean
    /// reciprocal rank of each article with its headline as the query.
    Related {
        /// The labelled corpus.
        #[arg(long)]
        data: PathBuf,
        /// Print {"queries": N, "rankings": {"dateline": {...}, "baseline": {...}}} only.
        #[arg(long)]
        json: bool,
    },
    /// How story threads agree with a labelled corpus of stories.
    ///
    /// Streams the corpus (JSON Lines: "title", "body", "cluster", optionally "lang") through
    /// the threader one item at a time, as publishing would, in several random orders, and
    /// reports the normalized mutual information, adjusted Rand index and adjusted mutual
    /// information against the labels, the threads made, and the items threaded a second
    /// (means over the orders).
    Threads {
        /// The labelled corpus.
        #[arg(long)]
        data: PathBuf,
        /// How many random orders.
        #[arg(long, default_value_t = 3)]
        orders: usize,
        /// The first order's seed (the next ones follow it).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print {"items", "orders", "threads", "nmi", "ari", "ami", "items_per_second"} only.
        #[arg(long)]
        json: bool,
        /// The cosine an article needs with a thread to join it [default: the threader's].
        #[arg(long)]
        join: Option<f32>,
        /// The cosine two threads need to become one [default: the threader's].
        #[arg(long)]
        merge: Option<f32>,
        /// The heaviest terms that stand for an article [default: the threader's].
        #[arg(long)]
        article_terms: Option<usize>,
        /// The terms an article needs in common with a thread to join it [default: the
        /// threader's].
        #[arg(long)]
        shared_terms: Option<usize>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. The password is the first line of standard input when it is piped;
    /// otherwise one is generated and printed.
    Add {
        /// The login name: lowercase letters, digits, '.', '_' or '-'.
        name: String,
        /// contributor, editor, chief_editor or admin; give --role more than once for several.
        #[arg(long = "role", required = true, value_name = "ROLE")]
        roles: Vec<String>,
        /// A section an editor works on; give --desk more than once for several.
        #[arg(long = "desk", value_name = "SECTION")]
        desks: Vec<String>,
    },
    /// List the accounts: name, roles, desks and whether each is active.
    List,
    /// Disable an account: it can do nothing until enabled again.
    Disable { name: String },
    /// Enable a disabled account.
    Enable { name: String },
    /// Set an account's password, from standard input when it is piped, else a generated one.
    Password { name: String },
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Send every change from now on to URL, as JSON signed with HMAC-SHA256 under a secret
    /// (given, or generated and printed).
    Add {
        url: String,
        /// The shared secret the receiver checks signatures with.
        #[arg(long)]
        secret: Option<String>,
    },
    /// List the webhooks: id, address, and how far each is in the stream of changes.
    List,
    /// Stop sending changes to a webhook.
    Remove { id: i64 },
}

#[derive(Clone, Copy, ValueEnum)]
enum BodyArg {
    /// HTML where it has tags, else plain text.
    Auto,
    Html,
    Text,
}

fn import_help() -> String {
    let mut s = String::from("Fields of a line (rename with --map FIELD=SOURCE):\n");
    for (field, about) in FIELDS {
        s.push_str(&format!("  {field:<16} {about}\n"));
    }
    s
}

/// Records an operator's action from the command line in the audit log.
async fn audit(
    store: &dyn dateline_storage::Store,
    action: &str,
    subject: String,
) -> anyhow::Result<()> {
    store
        .audit(&dateline_core::audit::AuditEntry {
            id: 0,
            at: jiff::Timestamp::now(),
            account: None,
            actor: "command line".to_string(),
            action: action.to_string(),
            subject,
            address: None,
        })
        .await
        .context("failed to record the action in the audit log")
}

async fn run_user(store: &dyn dateline_storage::Store, command: UserCommand) -> anyhow::Result<()> {
    let now = jiff::Timestamp::now();
    match command {
        UserCommand::Add { name, roles, desks } => {
            let (password, generated) = user::read_password()?;
            let account = user::add(store, &name, &roles, &desks, &password).await?;
            audit(
                store,
                "account.create",
                format!("account {}", account.username),
            )
            .await?;
            println!("created {}", user::describe(&account));
            if generated {
                println!("password: {}", password.expose());
            }
        }
        UserCommand::List => {
            for account in store.accounts().await? {
                println!("{}", user::describe(&account));
            }
        }
        UserCommand::Disable { name } => {
            let username = user::existing(store, &name).await?;
            store.set_disabled(&username, true, now).await?;
            audit(store, "account.disable", format!("account {username}")).await?;
            println!("disabled {username}");
        }
        UserCommand::Enable { name } => {
            let username = user::existing(store, &name).await?;
            store.set_disabled(&username, false, now).await?;
            audit(store, "account.enable", format!("account {username}")).await?;
            println!("enabled {username}");
        }
        UserCommand::Password { name } => {
            let username = user::existing(store, &name).await?;
            let (password, generated) = user::read_password()?;
            store
                .set_password(&username, &password.hash()?, now)
                .await?;
            audit(store, "account.password", format!("account {username}")).await?;
            println!("changed the password of {username}");
            if generated {
                println!("password: {}", password.expose());
            }
        }
    }
    Ok(())
}

async fn run_webhook(
    store: &dyn dateline_storage::Store,
    command: WebhookCommand,
) -> anyhow::Result<()> {
    use dateline_core::change::{generate_secret, WebhookUrl};
    match command {
        WebhookCommand::Add { url, secret } => {
            let url = WebhookUrl::parse(&url).map_err(anyhow::Error::msg)?;
            let (secret, generated) = match secret {
                Some(s) if s.len() >= 16 => (s, false),
                Some(_) => anyhow::bail!("--secret must be at least 16 characters"),
                None => (generate_secret().map_err(anyhow::Error::msg)?, true),
            };
            let hook = store
                .add_webhook(&url, &secret, jiff::Timestamp::now())
                .await?;
            println!(
                "webhook {} sends every change from now on to {}",
                hook.id, hook.url
            );
            if generated {
                println!("secret: {secret}");
            }
        }
        WebhookCommand::List => {
            let end = store.stream_end().await?;
            for hook in store.webhooks().await? {
                let at = store
                    .stream_position(&dateline_storage::webhook_consumer(hook.id))
                    .await?;
                println!(
                    "{:<6} {:<60} delivered to position {at} of {end}",
                    hook.id, hook.url
                );
            }
        }
        WebhookCommand::Remove { id } => {
            store.remove_webhook(id).await?;
            audit(store, "webhook.remove", format!("webhook {id}")).await?;
            println!("removed webhook {id}");
        }
    }
    Ok(())
}

/// See the dependency's note in `Cargo.toml`.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let filter = EnvFilter::try_from_env("DATELINE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tantivy=warn,html5ever=error"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // DATELINE_LOG_FORMAT=json: one JSON object a line, for a log collector.
    if std::env::var("DATELINE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().with_current_span(true).init();
    } else {
        logs.init();
    }
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `dateline migrate-store`: the copy, its progress bar, and the counts that verify it.
async fn migrate_store(from: &str, to: &str) -> anyhow::Result<ExitCode> {
    use dateline_storage::Progress;
    let bar = dateline::progress_bar(0, "{msg:>16} [{bar:40}] {pos}/{len} rows {eta}", true);
    let report = dateline_storage::copy_store(from, to, &mut |p| match p {
        Progress::Begin { rows } => bar.set_length(rows),
        Progress::Table { table, .. } => bar.set_message(table.to_string()),
        Progress::Rows(n) => bar.inc(n),
    })
    .await
    .with_context(|| format!("failed to copy the newsroom into {}", redact(to)))?;
    bar.finish_and_clear();
    println!("{:<18} {:>12} {:>12}", "table", "source", "target");
    for (table, source, target) in &report.tables {
        let mark = if source == target { "" } else { "  DIFFERS" };
        println!("{table:<18} {source:>12} {target:>12}{mark}");
    }
    if report.verified() {
        println!(
            "copied {} into {}: every count matches",
            redact(from),
            redact(to)
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("the copy's counts differ (above)");
        Ok(ExitCode::from(1))
    }
}

/// A database's name without its password, for messages.
fn redact(database: &str) -> String {
    let config = Config {
        database: PathBuf::from(database),
        ..Config::default()
    };
    config.database_label()
}

/// The settings: the defaults, the config file, DATELINE_* variables, then `--database`.
fn load(file: Option<&std::path::Path>, database: &Option<PathBuf>) -> anyhow::Result<Config> {
    let mut config = Config::load(file, |k| std::env::var(k).ok())?;
    if let Some(database) = database {
        config.database.clone_from(database);
    }
    Ok(config)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let database = cli.database;
    match cli.command {
        Command::Demo { listen } => {
            let mut config = demo::config();
            config.listen = listen;
            if let Some(db) = database {
                config.database = db;
            }
            // The index and images: where DATELINE_DATA_DIR says, else beside a SQLite demo
            // database, or for a PostgreSQL one in the temporary directory.
            config.data_dir = std::env::var_os("DATELINE_DATA_DIR")
                .map(PathBuf::from)
                .or_else(|| {
                    config
                        .is_postgres()
                        .then(|| std::env::temp_dir().join("dateline-demo.data"))
                });
            let store = open_store(&config).await?;
            let count = demo::load(store.as_ref(), &config)
                .await
                .context("failed to load the demo newsroom")?
                .len();
            let logins = demo::accounts(store.as_ref())
                .await
                .context("failed to make the demo accounts")?;
            let server = Server::bind(&config, store).await?;
            println!(
                "The Meridian Daily (demo): {count} articles in {}",
                config.database_label()
            );
            for (role, username, password) in &logins {
                println!("login: {role} {username} {}", password.expose());
            }
            println!("Serving at http://{}/  (Ctrl-C stops)", server.address);
            server.run(shutdown_signal()).await?;
        }
        Command::Serve { config } => {
            let config = load(config.as_deref(), &database)?;
            let store = open_store(&config).await?;
            let server = Server::bind(&config, store).await?;
            tracing::info!(address = %server.address, database = %config.database_label(), "serving");
            println!("Serving {} at http://{}/", config.outlet, server.address);
            server.run(shutdown_signal()).await?;
        }
        Command::Export {
            config,
            format: ExportFormat::Newsml,
            ids,
            out,
            ..
        } => {
            let config = load(config.as_deref(), &database)?;
            let site = config.site(config.listen)?;
            let store = open_store(&config).await?;
            if let Some(dir) = &out {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("failed to make the folder {}", dir.display()))?;
            }
            let mut stdout = std::io::stdout();
            let n = dateline::export::newsml(
                store.as_ref(),
                &site,
                &ids,
                out.as_deref(),
                &mut stdout,
                out.is_some() && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            )
            .await?;
            eprintln!("exported {n} articles as NewsML-G2 NewsItems");
        }
        Command::Export {
            config,
            format: ExportFormat::Ninjs,
            ninjs_version,
            ids,
            out,
        } => {
            let config = load(config.as_deref(), &database)?;
            let version =
                dateline_web::ninjs::Version::parse(&ninjs_version).with_context(|| {
                    format!("--ninjs-version {ninjs_version:?}: Dateline writes 3.1 and 2.2")
                })?;
            let site = config.site(config.listen)?;
            let store = open_store(&config).await?;
            let (mut sink, progress): (Box<dyn std::io::Write>, bool) = match &out {
                Some(path) => (
                    Box::new(std::io::BufWriter::new(
                        std::fs::File::create(path)
                            .with_context(|| format!("failed to create {}", path.display()))?,
                    )),
                    std::io::IsTerminal::is_terminal(&std::io::stderr()),
                ),
                None => (Box::new(std::io::BufWriter::new(std::io::stdout())), false),
            };
            let n =
                dateline::export::ninjs(store.as_ref(), &site, version, &ids, &mut *sink, progress)
                    .await?;
            eprintln!("exported {n} articles as ninjs {}", version.name());
        }
        Command::Backup { config, out } => {
            let config = load(config.as_deref(), &database)?;
            let store = open_store(&config).await?;
            store.backup(&out).await.with_context(|| {
                format!(
                    "failed to back up {} to {}",
                    config.database_label(),
                    out.display()
                )
            })?;
            let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            println!(
                "backed up {} to {} ({} articles, {size} bytes)",
                config.database_label(),
                out.display(),
                store.article_count().await?
            );
        }
        Command::Restore { config, from } => {
            let config = load(config.as_deref(), &database)?;
            dateline_storage::check_sqlite_file(&from)
                .await
                .with_context(|| format!("the backup {} cannot be restored", from.display()))?;
            let from = from.to_str().context("the backup's path is not UTF-8")?;
            let to = config
                .database
                .to_str()
                .context("the database's path is not UTF-8")?;
            return migrate_store(from, to).await;
        }
        Command::MigrateStore { from, to } => {
            return migrate_store(&from, &to).await;
        }
        Command::Reindex { config } => {
            let config = load(config.as_deref(), &database)?;
            let store = open_store(&config).await?;
            match dateline::reindex::run(&config, store).await? {
                Some(n) => println!("the search index holds {n} published articles"),
                None => println!("the running server rebuilt the search index"),
            }
        }
        Command::Bench {
            command: BenchCommand::Archive { articles, out },
        } => {
            let progress = out.is_some() && std::io::IsTerminal::is_terminal(&std::io::stderr());
            let mut sink: Box<dyn std::io::Write> = match &out {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("failed to create {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            };
            dateline::bench::archive(articles, &mut *sink, progress)?;
            eprintln!("generated {articles} articles");
        }
        Command::Bench {
            command:
                BenchCommand::Static {
                    file,
                    content_type,
                    listen,
                },
        } => {
            let bytes = axum::body::Bytes::from(
                std::fs::read(&file)
                    .with_context(|| format!("failed to read {}", file.display()))?,
            );
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("failed to listen on {listen}"))?;
            println!("Serving {} at http://{listen}/", file.display());
            let app = axum::Router::new().fallback(move || {
                let (bytes, content_type) = (bytes.clone(), content_type.clone());
                async move { ([(axum::http::header::CONTENT_TYPE, content_type)], bytes) }
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
        }
        Command::Bench {
            command: BenchCommand::Threads { articles },
        } => {
            let report =
                tokio::task::spawn_blocking(move || dateline::bench::threads(articles)).await??;
            print!("{report}");
        }
        Command::Bench {
            command:
                BenchCommand::Search {
                    articles,
                    dir,
                    queries,
                },
        } => {
            // A folder holding the archive of an earlier run (the same count) is timed again.
            let report = tokio::task::spawn_blocking(move || {
                dateline::bench::search(articles, &dir, queries)
            })
            .await??;
            print!("{report}");
        }
        Command::Eval {
            command: EvalCommand::Related { data, json },
        } => {
            let report =
                tokio::task::spawn_blocking(move || dateline::eval::related(&data, json)).await??;
            if json {
                println!("{}", report.json());
            } else {
                print!("{}", report.table());
            }
        }
        Command::Eval {
            command:
                EvalCommand::Threads {
                    data,
                    orders,
                    seed,
                    json,
                    join,
                    merge,
                    article_terms,
                    shared_terms,
                },
        } => {
            let mut params = dateline_search::threads::Params::default();
            params.join = join.unwrap_or(params.join);
            params.merge = merge.unwrap_or(params.merge);
            params.article_terms = article_terms.unwrap_or(params.article_terms);
            params.shared_terms = shared_terms.unwrap_or(params.shared_terms);
            let report = tokio::task::spawn_blocking(move || {
                dateline::eval::threads(&data, orders, seed, params)
            })
            .await??;
            if json {
                println!("{}", report.json());
            } else {
                print!("{}", report.table());
            }
        }
        Command::User { config, command } => {
            let config = load(config.as_deref(), &database)?;
            let store = open_store(&config).await?;
            run_user(store.as_ref(), command).await?;
        }
        Command::Webhook { config, command } => {
            let config = load(config.as_deref(), &database)?;
            let store = open_store(&config).await?;
            run_webhook(store.as_ref(), command).await?;
        }
        Command::Import {
            config,
            maps,
            lang,
            section,
            undated_at,
            headline_from_body,
            body_format,
            max_line_bytes,
            format,
            ninjs_schemas,
            ninjs_version,
            owner,
            files,
        } => {
            let config = load(config.as_deref(), &database)?;
            let default_lang = match lang {
                Some(l) => Lang::parse(&l).context("--lang")?,
                None => config.languages()?.remove(0),
            };
            let options = ImportOptions {
                fields: FieldMap::parse(maps.iter().map(String::as_str))?,
                sanitizer: std::sync::Arc::new(config.sanitizer()?),
                default_lang,
                default_section: Slug::parse(&section).context("--section")?,
                time_zone: config.time_zone()?,
                undated_at: undated_at
                    .map(|t| {
                        t.parse()
                            .with_context(|| format!("--undated-at {t:?} is not an RFC 3339 time"))
                    })
                    .transpose()?,
                headline_from_body,
                body_format: match body_format {
                    BodyArg::Auto => BodyFormat::Auto,
                    BodyArg::Html => BodyFormat::Html,
                    BodyArg::Text => BodyFormat::Text,
                },
                max_line_bytes,
            };
            let store = open_store_for(&config, dateline_storage::Workload::Bulk).await?;
            let mut schemas = if ninjs_schemas.is_empty() {
                None
            } else {
                Some(dateline::ninjs_import::Schemas::load(&ninjs_schemas)?)
            };
            let owner = match &owner {
                None => None,
                Some(name) => {
                    let username = dateline_core::account::Username::parse(name)
                        .with_context(|| format!("--owner {name:?}"))?;
                    let account = store
                        .account(&username)
                        .await?
                        .with_context(|| format!("--owner: there is no account {name:?}"))?;
                    Some(account.id)
                }
            };
            let mut rejected = 0;
            for file in &files {
                // What each format did, and what it says of each item it left out or changed.
                let (summary, said) = match format {
                    ImportFormat::Jsonl | ImportFormat::Ninjs => {
                        let report = if format == ImportFormat::Jsonl {
                            import::import_file(store.as_ref(), file, &options, true).await?
                        } else {
                            dateline::ninjs_import::import_file(
                                store.as_ref(),
                                file,
                                &options,
                                schemas.as_mut(),
                                ninjs_version.as_deref(),
                            )
                            .await?
                        };
                        rejected += report.rejected.len();
                        let said = report.rejected.iter().map(ToString::to_string).collect();
                        (report.to_string(), said)
                    }
                    // Pages, media and menus are counted and left out, not rejected.
                    ImportFormat::Wxr => {
                        let report =
                            dateline::wxr::import_file(store.as_ref(), file, &options, owner, true)
                                .await?;
                        let name = file.display();
                        let said: Vec<String> = report
                            .skipped
                            .iter()
                            .map(|(what, why)| format!("{name}: {what}: skipped: {why}"))
                            .chain(
                                report
                                    .notes
                                    .iter()
                                    .map(|(what, note)| format!("{name}: {what}: {note}")),
                            )
                            .collect();
                        (report.to_string(), said)
                    }
                };
                for line in said {
                    eprintln!("{line}");
                }
                audit(
                    store.as_ref(),
                    "import",
                    format!("{}: {summary}", file.display()),
                )
                .await?;
                println!("{}: {summary}", file.display());
            }
            if rejected > 0 {
                eprintln!("{rejected} lines were rejected; the others were imported");
                return Ok(ExitCode::from(2));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
