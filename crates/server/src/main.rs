//! `tmcp-server`: the TMCP backend. With no configuration it serves on 127.0.0.1:8080 from
//! an embedded SQLite database in ./data.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tmcp_domain::SystemClock;
use tmcp_server::{
    admin, backup, config::Config, database, jobs, ledger_admin, oauth_admin, serve, telemetry,
    webhook_admin,
};

#[derive(Parser)]
#[command(name = "tmcp-server", version, about = "TMCP mini-app platform server")]
struct Cli {
    /// Optional TOML configuration file; TMCP_* environment variables override it.
    #[arg(long, global = true, env = "TMCP_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server and the background jobs (default).
    Serve {
        /// Serve the API only; run the jobs in `worker` processes.
        #[arg(long)]
        no_jobs: bool,
    },
    /// Run only the background jobs (upkeep, webhook delivery), no API.
    Worker {
        /// Serve the job metrics on `GET /metrics` at this address (e.g. 0.0.0.0:9100).
        #[arg(long)]
        metrics_listen: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write a backup of the configured database to a new file.
    Backup {
        #[arg(long)]
        output: PathBuf,
    },
    /// Restore a backup into the configured database (stop the server first on SQLite).
    Restore {
        #[arg(long)]
        input: PathBuf,
    },
    /// Print the effective configuration with secrets redacted.
    Config,
    /// Administrative bootstrap commands (print JSON on stdout).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account (same rules as registration); prints the user as JSON.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Read the password from standard input (it is never taken from the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// user, developer or admin.
        #[arg(long, default_value = "user")]
        role: String,
    },
    /// Register an OAuth client (mini-app); prints it as JSON, with the client secret of a
    /// confidential client (shown only this once).
    CreateClient {
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        name: String,
        /// Exact redirect URI for the authorization code flow (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Space-separated scopes the client may ever receive.
        #[arg(long)]
        scopes: String,
        /// An official app (may hold official-only scopes).
        #[arg(long)]
        official: bool,
        /// A confidential client (backend with a secret; may use client credentials).
        #[arg(long)]
        confidential: bool,
        /// The mini-app backend's webhook URL; the webhook secret is printed once.
        #[arg(long)]
        webhook_url: Option<String>,
        /// Also register the mini-app itself, owned by this user (login), so it can take
        /// payments into its developer's wallet.
        #[arg(long)]
        developer: Option<String>,
    },
    /// Give a client's webhook endpoint a new secret; the old one keeps signing for
    /// `webhooks.rotation_overlap_secs`. Prints the new secret once.
    RotateWebhookSecret {
        #[arg(long)]
        client_id: String,
    },
    /// Queue a dead-lettered (or refused) webhook event again, with the same event id.
    RedeliverWebhook {
        #[arg(long)]
        event_id: String,
    },
    /// Print a webhook event's delivery state and every attempt (status, duration, error).
    WebhookLog {
        #[arg(long)]
        event_id: String,
    },
    /// Start a new TEP signing key (old keys keep verifying until their tokens expire).
    RotateSigningKey,
    /// Verify every ledger invariant; prints a JSON report and exits with status 3 when it
    /// finds a violation (1 when it cannot run).
    LedgerCheck,
}

/// mimalloc instead of the system allocator: a request allocates and frees dozens of small
/// objects across two worker threads, which glibc's malloc serves with more lock and
/// consolidation work (see docs/benchmarks.md, "Hot path").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("configuration error: {e:#}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log_format, &config.log_level);
    let result = match cli.command.unwrap_or(Command::Serve { no_jobs: false }) {
        Command::Serve { no_jobs } => serve::run(config, !no_jobs).await,
        Command::Worker { metrics_listen } => jobs::run_worker(config, metrics_listen).await,
        Command::Migrate => database::open(&config).await.map(|db| {
            tracing::info!(engine = db.engine(), "migrations applied");
        }),
        Command::Backup { output } => backup::backup(&config, &output).await,
        Command::Restore { input } => backup::restore(&config, &input).await,
        Command::Config => config.to_toml().map(|text| print!("{text}")),
        Command::Admin {
            command:
                AdminCommand::CreateUser {
                    username,
                    email,
                    password_stdin: _,
                    role,
                },
        } => match admin::read_password(std::io::stdin().lock()) {
            Ok(password) => {
                admin::run_create_user(&config, &SystemClock, &username, &email, &role, password)
                    .await
                    .map(|user| println!("{user}"))
            }
            Err(e) => Err(e),
        },
        Command::Admin {
            command:
                AdminCommand::CreateClient {
                    client_id,
                    name,
                    redirect_uris,
                    scopes,
                    official,
                    confidential,
                    webhook_url,
                    developer,
                },
        } => webhook_admin::run_create_client(
            &config,
            &SystemClock,
            oauth_admin::ClientSpec {
                client_id,
                name,
                redirect_uris,
                scopes,
                official,
                confidential,
                developer,
            },
            webhook_url.as_deref(),
        )
        .await
        .map(|client| println!("{client}")),
        Command::Admin {
            command: AdminCommand::RotateWebhookSecret { client_id },
        } => webhook_admin::run_rotate_webhook_secret(&config, &SystemClock, &client_id)
            .await
            .map(|answer| println!("{answer}")),
        Command::Admin {
            command: AdminCommand::RedeliverWebhook { event_id },
        } => webhook_admin::run_redeliver(&config, &SystemClock, &event_id)
            .await
            .map(|answer| println!("{answer}")),
        Command::Admin {
            command: AdminCommand::WebhookLog { event_id },
        } => webhook_admin::run_delivery_log(&config, &event_id)
            .await
            .map(|answer| println!("{answer}")),
        Command::Admin {
            command: AdminCommand::LedgerCheck,
        } => ledger_admin::run_ledger_check(&config).await,
        Command::Admin {
            command: AdminCommand::RotateSigningKey,
        } => oauth_admin::run_rotate_signing_key(&config, &SystemClock)
            .await
            .map(|key| println!("{key}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<ledger_admin::LedgerViolations>() => {
            eprintln!("error: {e:#}");
            ExitCode::from(ledger_admin::FINDINGS_EXIT_CODE)
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "tmcp-server failed");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
