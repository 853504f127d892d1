//! `tmcp-server admin …`: bootstrap commands that work against the configured database and
//! print JSON on stdout (logs go to stderr).

use crate::config::Config;
use crate::{database, secrets};
use anyhow::{bail, Context};
use std::io::Read;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::user::Role;
use tmcp_domain::Clock;
use tmcp_http::routes::accounts::views::UserView;
use tmcp_repository::Database;
use tmcp_usecases::accounts::{create_account, AccountPorts, AccountsError, NewAccount};

/// The column cipher of the configured deployment (same key as the server uses).
pub fn cipher(config: &Config) -> anyhow::Result<FieldCipher> {
    let key = match &config.encryption_key {
        Some(encoded) => secrets::decode_key(encoded)?,
        None => secrets::load_or_create_key_file(&config.data_dir)?,
    };
    FieldCipher::new(&key).context("encryption key")
}

/// Reads a password from `input`: everything up to EOF, without one trailing newline.
pub fn read_password(input: impl Read) -> anyhow::Result<String> {
    let mut raw = String::new();
    input
        .take(4096)
        .read_to_string(&mut raw)
        .context("cannot read the password from standard input")?;
    let password = raw
        .strip_suffix("\r\n")
        .or_else(|| raw.strip_suffix('\n'))
        .unwrap_or(&raw)
        .to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

pub fn parse_role(raw: &str) -> anyhow::Result<Role> {
    Role::from_db(raw)
        .with_context(|| format!("--role must be user, developer or admin, not {raw:?}"))
}

/// Creates an account with the same rules as registration and returns its JSON (never the
/// password hash).
pub async fn create_user(
    db: &dyn Database,
    clock: &dyn Clock,
    cipher: &FieldCipher,
    username: &str,
    email: &str,
    password: String,
    role: Role,
) -> anyhow::Result<serde_json::Value> {
    let user = create_account(
        AccountPorts { db, clock, cipher },
        NewAccount {
            username: username.to_owned(),
            email: email.to_owned(),
            password,
            first_name: None,
            last_name: None,
            phone: None,
            role,
        },
    )
    .await
    .map_err(describe)?;
    let view = UserView::build(cipher, &user).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(serde_json::to_value(view)?)
}

/// The accounts service's error as the CLI reports it: the API's code, message and details,
/// so an operator reads the same words as a client would.
fn describe(error: AccountsError) -> anyhow::Error {
    let answer = tmcp_http::ApiError::from(error);
    anyhow::anyhow!("{}: {} {}", answer.code, answer.message, answer.details)
}

/// `admin create-user`: opens the configured database and creates the account.
pub async fn run_create_user(
    config: &Config,
    clock: &dyn Clock,
    username: &str,
    email: &str,
    role: &str,
    password: String,
) -> anyhow::Result<serde_json::Value> {
    let role = parse_role(role)?;
    let cipher = cipher(config)?;
    let db = database::open(config).await?;
    create_user(db.as_ref(), clock, &cipher, username, email, password, role).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_lose_one_trailing_newline_only() {
        assert_eq!(
            read_password(&b"secret pw\n"[..]).ok(),
            Some("secret pw".into())
        );
        assert_eq!(
            read_password(&b"secret pw\r\n"[..]).ok(),
            Some("secret pw".into())
        );
        assert_eq!(
            read_password(&b" spaced \n\n"[..]).ok(),
            Some(" spaced \n".into())
        );
        assert!(read_password(&b"\n"[..]).is_err());
        assert!(read_password(&b""[..]).is_err());
    }

    #[test]
    fn roles_parse() {
        assert_eq!(parse_role("admin").ok(), Some(Role::Admin));
        assert!(parse_role("root").is_err());
    }
}
