//! `backup` and `restore`. SQLite: `VACUUM INTO` (consistent while running) and a verified
//! copy back. PostgreSQL: `pg_dump --format=custom` and `pg_restore`, with the password from
//! configuration handed over in `PGPASSWORD` so it never shows in a process list.

use crate::config::{Config, DatabaseTarget};
use anyhow::{bail, Context};
use std::path::Path;
use tmcp_sqlite::SqliteDatabase;
use tokio::process::Command;

pub async fn backup(config: &Config, output: &Path) -> anyhow::Result<()> {
    if output.exists() {
        bail!(
            "{} already exists; refusing to overwrite a backup",
            output.display()
        );
    }
    match config.database_target() {
        DatabaseTarget::Sqlite(path) => {
            let db = SqliteDatabase::connect(&path.to_string_lossy()).await?;
            db.backup_to(output).await?;
            db.close().await;
        }
        DatabaseTarget::Postgres(url) => {
            let url = config.backup.database_url.clone().unwrap_or(url);
            let program = config.backup.pg_dump.as_deref().unwrap_or("pg_dump");
            let (dsn, password) = split_password(&url)?;
            let mut cmd = Command::new(program);
            cmd.arg("--format=custom")
                .arg("--file")
                .arg(output)
                .arg("--dbname")
                .arg(dsn);
            run_pg_tool(cmd, password, program).await?;
        }
    }
    Ok(())
}

/// Restores `input` into the configured database. For SQLite the server must be stopped; the
/// backup is integrity-checked before it replaces the live file.
pub async fn restore(config: &Config, input: &Path) -> anyhow::Result<()> {
    if !input.is_file() {
        bail!("{} is not a file", input.display());
    }
    match config.database_target() {
        DatabaseTarget::Sqlite(path) => {
            let check = SqliteDatabase::connect(&input.to_string_lossy())
                .await
                .context("backup is not a usable TMCP SQLite database")?;
            check.close().await;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let staging = path.with_extension("db.restoring");
            std::fs::copy(input, &staging).context("cannot stage the restore")?;
            for suffix in ["-wal", "-shm"] {
                let side = format!("{}{suffix}", path.display());
                let _ = std::fs::remove_file(side);
            }
            std::fs::rename(&staging, &path).context("cannot move the restored file in place")?;
        }
        DatabaseTarget::Postgres(url) => {
            let url = config.backup.database_url.clone().unwrap_or(url);
            let program = config.backup.pg_restore.as_deref().unwrap_or("pg_restore");
            let (dsn, password) = split_password(&url)?;
            let mut cmd = Command::new(program);
            cmd.args([
                "--clean",
                "--if-exists",
                "--no-owner",
                "--exit-on-error",
                "--single-transaction",
            ])
            .arg("--dbname")
            .arg(dsn)
            .arg(input);
            run_pg_tool(cmd, password, program).await?;
        }
    }
    Ok(())
}

/// Removes the password from a PostgreSQL URL, returning both parts.
fn split_password(raw: &str) -> anyhow::Result<(String, Option<String>)> {
    let mut url = url::Url::parse(raw).context("invalid PostgreSQL URL")?;
    let password = url.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    url.set_password(None)
        .map_err(|_| anyhow::anyhow!("cannot strip password from URL"))?;
    Ok((url.to_string(), password))
}

async fn run_pg_tool(
    mut cmd: Command,
    password: Option<String>,
    program: &str,
) -> anyhow::Result<()> {
    if let Some(password) = password {
        cmd.env("PGPASSWORD", password);
    }
    let output = cmd
        .output()
        .await
        .with_context(|| format!("cannot run {program}; install the PostgreSQL client tools"))?;
    if !output.status.success() {
        bail!(
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_password;

    #[test]
    fn passwords_leave_the_url() {
        let (dsn, password) =
            split_password("postgres://backup:s%40cret@db:5432/tmcp").expect("valid url");
        assert_eq!(dsn, "postgres://backup@db:5432/tmcp");
        assert_eq!(password.as_deref(), Some("s@cret"));
        let (_, none) = split_password("postgres://postgres@127.0.0.1/test").expect("valid url");
        assert_eq!(none, None);
    }
}
