//! Bench helper for the payments rows of `bench/run.sh`, not part of the server binary.
//! Makes sure the configured database has a developer, `apps` mini-apps
//! (`ma_bench_m0`, `ma_bench_m1`, …, each an OAuth client with `wallet:pay`) and `users`
//! payers (`bench_payer0`, …) whose USD wallets hold at least 1,000,000.00, then prints one
//! TEP per payer on stdout: payer `i` pays app `i % apps`. With `apps = 1` every payment goes
//! to one merchant account (the hot account); with many apps the merchants are spread.
//! Wallets are funded by a clearing → user movement through the ledger, as a top-up would.
//!
//!     TMCP_DATA_DIR=… cargo run --release --example bench_wallet <users> <apps>

use anyhow::Context;
use std::sync::Arc;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::scope::ScopeSet;
use tmcp_domain::user::Role;
use tmcp_domain::wallet::{EntryType, MovementBuilder, WalletAccountId};
use tmcp_domain::{AppId, Clock, Currency, Money, SystemClock, UserId};
use tmcp_http::auth::TepMint;
use tmcp_http::AppState;
use tmcp_repository::{NewApp, NewUser, NewWalletAccount, OAuthClient, WalletOwner};
use tmcp_server::config::Config;

const DEVELOPER: &str = "bench_dev";
const PAYER: &str = "bench_payer";
/// Every payer's wallet is topped up to at least this (1,000,000.00 USD).
const FLOAT_MINOR: i64 = 100_000_000;
/// Parallel set-up tasks (each holds at most one database connection at a time).
const TASKS: usize = 8;

fn app_id(index: usize) -> String {
    format!("ma_bench_m{index}")
}

async fn user(state: &AppState, username: &str, role: Role) -> anyhow::Result<UserId> {
    let db = state.db.as_ref();
    if let Some(found) = db.find_user_by_login(username).await? {
        return Ok(found.id);
    }
    let now = SystemClock.now();
    let created = db
        .create_user(NewUser {
            id: UserId::new_v7(now),
            email: format!("{username}@example.com"),
            username: username.to_owned(),
            // Not a valid hash: this account cannot log in.
            password_hash: "!bench".into(),
            first_name: None,
            last_name: None,
            phone_ciphertext: None,
            role,
            created_at: now,
        })
        .await?;
    Ok(created.id)
}

async fn app(state: &AppState, index: usize, developer: UserId) -> anyhow::Result<()> {
    let db = state.db.as_ref();
    let id = app_id(index);
    if db.find_client(&id).await?.is_some() {
        return Ok(());
    }
    let now = SystemClock.now();
    db.create_app(NewApp {
        app_id: AppId::parse(&id).context("app id")?,
        name: format!("Bench shop {index}"),
        version: "1.0.0".into(),
        classification: "community".into(),
        developer_id: developer,
        developer_name: DEVELOPER.into(),
        status: "active".into(),
        created_at: now,
    })
    .await?;
    db.create_client(OAuthClient {
        client_id: id.clone(),
        client_secret_hash: None,
        app_id: Some(id),
        name: format!("Bench shop {index}"),
        redirect_uris: vec!["https://bench.invalid/cb".into()],
        grant_types: vec!["authorization_code".into()],
        scopes: vec!["wallet:pay".into(), "wallet:balance".into()],
        is_official: false,
        is_active: true,
        created_at: now,
    })
    .await?;
    Ok(())
}

/// Tops the payer's USD wallet up to [`FLOAT_MINOR`] from the clearing account.
async fn fund(state: &AppState, payer: UserId) -> anyhow::Result<()> {
    let db = state.db.as_ref();
    let usd = Currency::parse("USD").context("USD")?;
    let now = SystemClock.now();
    let open = |owner| NewWalletAccount {
        id: WalletAccountId::generate(&mut rand::rngs::OsRng),
        owner,
        currency: usd,
        at: now,
    };
    let (clearing, wallet) = (open(WalletOwner::Clearing), open(WalletOwner::User(payer)));
    let clearing = db.open_wallet_account(clearing).await?;
    let wallet = db.open_wallet_account(wallet).await?;
    let missing = FLOAT_MINOR - wallet.available();
    if missing <= 0 {
        return Ok(());
    }
    let amount = Money {
        minor: missing,
        currency: usd,
    };
    let movement = MovementBuilder::new(EntryType::TopUp)
        .debit(clearing.id, amount)
        .credit(wallet.id, amount)
        .build(uuid_v7_at(now))?;
    db.post_movement(&movement, now).await?;
    Ok(())
}

/// Creates (or finds) payer `index`, funds it and mints its TEP for its app.
async fn payer_token(state: &AppState, index: usize, apps: usize) -> anyhow::Result<String> {
    let payer = user(state, &format!("{PAYER}{index}"), Role::User).await?;
    fund(state, payer).await?;
    let minted = state
        .tep
        .mint(
            state.db.as_ref(),
            SystemClock.now(),
            TepMint {
                user_id: Some(payer),
                client_id: app_id(index % apps),
                scopes: ScopeSet::parse("wallet:pay wallet:balance").context("scopes")?,
                session_id: None,
                lifetime: None,
                user_context: None,
                miniapp_context: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("minting failed: {}", e.message))?;
    Ok(minted.token)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let file = std::env::var_os("TMCP_CONFIG").map(std::path::PathBuf::from);
    let config = Config::load(file.as_deref())?;
    let mut args = std::env::args().skip(1);
    let users: usize = args
        .next()
        .context("usage: bench_wallet <users> <apps>")?
        .parse()?;
    let apps: usize = args
        .next()
        .context("usage: bench_wallet <users> <apps>")?
        .parse()?;
    anyhow::ensure!(users > 0 && apps > 0, "users and apps must be positive");
    let state = tmcp_server::serve::build_state(&config, Arc::new(SystemClock)).await?;
    let developer = user(&state, DEVELOPER, Role::Developer).await?;
    for index in 0..apps {
        app(&state, index, developer).await?;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let state = state.clone();
        tasks.spawn(async move {
            let mut tokens = Vec::new();
            for index in (task..users).step_by(TASKS) {
                tokens.push((index, payer_token(&state, index, apps).await?));
            }
            anyhow::Ok(tokens)
        });
    }
    let mut tokens = Vec::with_capacity(users);
    while let Some(joined) = tasks.join_next().await {
        tokens.extend(joined??);
    }
    tokens.sort_by_key(|(index, _)| *index);
    for (_, token) in tokens {
        println!("{token}");
    }
    Ok(())
}
