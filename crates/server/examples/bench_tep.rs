//! Bench and demo helper, not part of the server binary: makes sure the configured database
//! has users `bench_user`, `bench_user1`, … and a mini-app client `ma_bench_app` with the
//! storage scopes, and prints one TEP per user on stdout (one per line; the count is the
//! optional argument, default 1). It reads the same configuration as the server
//! (`TMCP_*`, or the file in `TMCP_CONFIG`) and signs with the same persisted key ring, so the
//! running server accepts the token.
//!
//! With `BENCH_SEED_KEY` set, each user also gets a 1 KiB value under that key (through the
//! storage use case, as a PUT would store it), so read benchmarks find it.
//!
//!     TMCP_DATA_DIR=… cargo run --release --example bench_tep [count]

use anyhow::Context;
use std::sync::Arc;
use tmcp_domain::scope::ScopeSet;
use tmcp_domain::user::Role;
use tmcp_domain::{AppId, Clock, SystemClock, UserId};
use tmcp_http::auth::TepMint;
use tmcp_repository::{NewUser, OAuthClient};
use tmcp_server::config::Config;
use tmcp_usecases::storage::entries::{write_entry, EntryInput};
use tmcp_usecases::storage::values::ValueInput;
use tmcp_usecases::storage::Caller;

const USERNAME: &str = "bench_user";
const CLIENT: &str = "ma_bench_app";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let file = std::env::var_os("TMCP_CONFIG").map(std::path::PathBuf::from);
    let config = Config::load(file.as_deref())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = tmcp_server::serve::build_state(&config, Arc::clone(&clock)).await?;
    let count: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("the argument is the number of tokens")?,
        None => 1,
    };
    let seed_key = std::env::var("BENCH_SEED_KEY").ok();
    let db = state.db.as_ref();
    let now = clock.now();
    if db.find_client(CLIENT).await?.is_none() {
        db.create_client(OAuthClient {
            client_id: CLIENT.into(),
            client_secret_hash: None,
            app_id: Some(CLIENT.into()),
            name: "Benchmark app".into(),
            redirect_uris: vec!["https://bench.invalid/cb".into()],
            grant_types: vec!["authorization_code".into()],
            scopes: vec!["storage:read".into(), "storage:write".into()],
            is_official: false,
            is_active: true,
            created_at: now,
        })
        .await?;
    }
    for i in 0..count {
        let username = if i == 0 {
            USERNAME.to_owned()
        } else {
            format!("{USERNAME}{i}")
        };
        let user = match db.find_user_by_login(&username).await? {
            Some(user) => user.id,
            None => {
                db.create_user(NewUser {
                    id: UserId::new_v7(now),
                    email: format!("{username}@example.com"),
                    username,
                    // Not a valid hash: this account cannot log in.
                    password_hash: "!bench".into(),
                    first_name: None,
                    last_name: None,
                    phone_ciphertext: None,
                    role: Role::User,
                    created_at: now,
                })
                .await?
                .id
            }
        };
        let minted = state
            .tep
            .mint(
                db,
                now,
                TepMint {
                    user_id: Some(user),
                    client_id: CLIENT.into(),
                    scopes: ScopeSet::parse("storage:read storage:write").context("scopes")?,
                    session_id: None,
                    lifetime: None,
                    user_context: None,
                    miniapp_context: None,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("minting failed: {}", e.message))?;
        if let Some(key) = &seed_key {
            seed(&state, &config, user, key).await?;
        }
        println!("{}", minted.token);
    }
    Ok(())
}

/// Stores the 1 KiB bench value under `key` for `user` in the bench app.
async fn seed(
    state: &tmcp_http::AppState,
    config: &Config,
    user: UserId,
    key: &str,
) -> anyhow::Result<()> {
    let caller = Caller {
        user,
        app: AppId::parse(CLIENT).context("bench app id")?,
    };
    let text = serde_json::to_string(&"v".repeat(1024))?;
    let value = serde_json::value::RawValue::from_string(text)?;
    let input = EntryInput {
        value: ValueInput {
            value: Some(&value),
            value_base64: None,
            content_type: None,
        },
        ttl: None,
        metadata: None,
        client_timestamp: None,
        expected: None,
    };
    write_entry(
        state.db.as_ref(),
        state.clock.as_ref(),
        &config.storage.settings(),
        &caller,
        key,
        input,
    )
    .await
    .map_err(|e| anyhow::anyhow!("seeding {key} failed: {e:?}"))?;
    Ok(())
}
