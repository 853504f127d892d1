//! Bench and demo helper, not part of the server binary: makes sure the configured database
//! has a user `bench_user` and a mini-app client `ma_bench_app` with the storage scopes, and
//! prints a TEP for them on stdout. It reads the same configuration as the server
//! (`TMCP_*`, or the file in `TMCP_CONFIG`) and signs with the same persisted key ring, so the
//! running server accepts the token.
//!
//!     TMCP_DATA_DIR=… cargo run --release --example bench_tep

use anyhow::Context;
use std::sync::Arc;
use tmcp_domain::scope::ScopeSet;
use tmcp_domain::user::Role;
use tmcp_domain::{Clock, SystemClock, UserId};
use tmcp_http::auth::TepMint;
use tmcp_repository::{NewUser, OAuthClient};
use tmcp_server::config::Config;

const USERNAME: &str = "bench_user";
const CLIENT: &str = "ma_bench_app";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let file = std::env::var_os("TMCP_CONFIG").map(std::path::PathBuf::from);
    let config = Config::load(file.as_deref())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = tmcp_server::serve::build_state(&config, Arc::clone(&clock)).await?;
    let db = state.db.as_ref();
    let now = clock.now();
    let user = match db.find_user_by_login(USERNAME).await? {
        Some(user) => user.id,
        None => {
            db.create_user(NewUser {
                id: UserId::new_v7(now),
                username: USERNAME.into(),
                email: format!("{USERNAME}@example.com"),
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
    println!("{}", minted.token);
    Ok(())
}
