//! The command line: `serve`, `migrate`, `keys list|rotate`, `admin create-token`,
//! `users create`, `config check`. Each command loads and checks the same settings,
//! so a bad value stops every command with the same message (META-3, CORE-2).

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::admin::{self, Actor, AdminContext};
use crate::app;
use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::jose::{self, KeyPolicy, KeyRing};
use crate::telemetry;

/// mcp-authz: an OAuth 2.1 authorization server for MCP servers.
#[derive(Debug, Parser)]
#[command(name = "mcp-authz", version, about, long_about = None)]
struct Cli {
    /// A TOML file overriding the built-in defaults; MCP_AUTHZ__SECTION__KEY
    /// environment variables override both.
    #[arg(
        long,
        short = 'c',
        global = true,
        value_name = "FILE",
        env = "MCP_AUTHZ_CONFIG"
    )]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (applies migrations and creates the first signing key if needed).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Inspect or rotate signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Administer the admin API.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Manage local user accounts.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Exit 0 when the server on server.listen answers /healthz (container health checks).
    Health,
    /// Check configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List signing keys with their publish / activate / retire / expire times.
    List,
    /// Publish a new key now; it starts signing after keys.publish_ahead.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an admin-API bearer token; it is printed once and stored hashed.
    CreateToken {
        /// A label for the token (shown in the audit log).
        #[arg(long, default_value = "cli")]
        name: String,
        /// Lifetime in seconds (default: no expiry).
        #[arg(long)]
        ttl_seconds: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Create a local user. The password is read from standard input (one line);
    /// without --password-stdin a random one is generated and printed.
    Create {
        /// Sign-in name.
        #[arg(long)]
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The person's verified email address (links external identities by email
        /// where an IdP's policy allows it).
        #[arg(long)]
        email: Option<String>,
        /// Give the user the admin role (the admin console at /admin).
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print the effective values, secrets redacted.
    Check,
}

/// Runs the command line; exit code 0 on success, 1 on any error (printed to stderr).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("mcp-authz: {error}");
            return ExitCode::from(2);
        }
    };
    if let Command::Config {
        command: ConfigCommand::Check,
    } = cli.command
    {
        println!("{}", settings.to_redacted_toml());
        eprintln!("configuration is valid");
        return ExitCode::SUCCESS;
    }
    telemetry::init_logging(settings.raw.log.format, &settings.raw.log.filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mcp-authz: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mcp-authz: {error}");
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

async fn run(command: Command, settings: Settings) -> CliResult {
    let clock: SharedClock = Arc::new(SystemClock);
    match command {
        Command::Serve => Ok(app::serve(settings, clock).await?),
        Command::Migrate => {
            let store = app::connect_store(&settings).await?;
            store.migrate().await?;
            println!("migrations applied ({:?})", store.kind());
            Ok(())
        }
        Command::Keys { command } => keys(command, settings, clock).await,
        Command::Admin {
            command: AdminCommand::CreateToken { name, ttl_seconds },
        } => {
            let ctx = admin_context(&settings, clock).await?;
            let (token, record) =
                admin::tokens::create(&ctx, &Actor::Cli, &name, ttl_seconds).await?;
            eprintln!(
                "created admin token {} ({}); it is shown only once:",
                record.token_id, record.name
            );
            println!("{token}");
            Ok(())
        }
        Command::Users {
            command:
                UsersCommand::Create {
                    username,
                    password_stdin,
                    email,
                    admin,
                },
        } => {
            let new = NewUser {
                username,
                password_stdin,
                email,
                admin,
            };
            create_user(settings, clock, new).await
        }
        Command::Health => health(&settings).await,
        Command::Config { .. } => Ok(()),
    }
}

/// Asks the local server for `/healthz` over plain HTTP/1.1. Runtime images have no
/// curl, so the binary checks itself.
async fn health(settings: &Settings) -> CliResult {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listen = settings.raw.server.listen;
    let host = match listen.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip if ip.is_unspecified() => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let target = std::net::SocketAddr::new(host, listen.port());
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(target).await?;
        let request =
            format!("GET /healthz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(std::time::Duration::from_secs(3), check)
        .await
        .map_err(|_| format!("no answer from {target} within 3s"))??;
    let status_line = String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    if status_line.split_whitespace().nth(1) == Some("200") {
        println!("healthy ({target})");
        Ok(())
    } else {
        Err(format!("unhealthy: {target} answered {status_line:?}").into())
    }
}

async fn keys(command: KeysCommand, settings: Settings, clock: SharedClock) -> CliResult {
    let store = app::connect_store(&settings).await?;
    store.migrate().await?;
    let kek = jose::load_key_encryption_key(&settings)?;
    let ring = KeyRing::load(store, kek, KeyPolicy::from_settings(&settings), clock.now()).await?;
    if let KeysCommand::Rotate = command {
        match ring.rotate(&Actor::Cli, clock.now()).await? {
            Some(kid) => {
                eprintln!("published key {kid}; it signs from keys.publish_ahead from now")
            }
            None => eprintln!("a successor key is already scheduled; nothing to do"),
        }
    }
    println!(
        "{:<18} {:<6} {:<10} {:>12} {:>12} {:>12} {:>12}",
        "KID", "ALG", "STATE", "PUBLISH_AT", "ACTIVATE_AT", "RETIRE_AT", "EXPIRE_AT"
    );
    let show = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), |t| t.to_string());
    for key in ring.summaries(clock.now()) {
        println!(
            "{:<18} {:<6} {:<10} {:>12} {:>12} {:>12} {:>12}",
            key.kid,
            key.algorithm,
            key.state,
            key.publish_at,
            key.activate_at,
            show(key.retire_at),
            show(key.expire_at)
        );
    }
    Ok(())
}

/// `users create` arguments.
struct NewUser {
    username: String,
    password_stdin: bool,
    email: Option<String>,
    admin: bool,
}

async fn create_user(settings: Settings, clock: SharedClock, new: NewUser) -> CliResult {
    let NewUser {
        username,
        password_stdin,
        email,
        admin,
    } = new;
    let ctx = admin_context(&settings, clock).await?;
    let (password, generated) = if password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (crate::crypto::random_token()?, true)
    };
    let body = admin::users::NewUserBody {
        username,
        password: SecretString::from(password.clone()),
        email,
        enabled: Some(true),
        admin: Some(admin),
    };
    let user = admin::users::create(&ctx, &Actor::Cli, body).await?;
    let role = if user.admin { ", admin" } else { "" };
    eprintln!("created user {} ({}{role})", user.username, user.user_id);
    if generated {
        eprintln!("generated password (shown only once):");
        println!("{password}");
    }
    Ok(())
}

async fn admin_context(
    settings: &Settings,
    clock: SharedClock,
) -> Result<AdminContext, Box<dyn std::error::Error>> {
    let store = app::connect_store(settings).await?;
    store.migrate().await?;
    let hasher = jose::load_key_encryption_key(settings)?.secret_hasher()?;
    Ok(app::admin_context(settings, store, hasher, clock, None))
}
