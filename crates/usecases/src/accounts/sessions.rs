//! Sessions after login: refreshing (token rotation with reuse detection), listing, ending
//! one, logging out.

use super::{AccountPorts, AccountSettings, AccountsError};
use tmcp_domain::auth::tokens::{hash_token, issue, looks_like, TokenKind};
use tmcp_domain::user::UserStatus;
use tmcp_domain::{SessionId, UserId};
use tmcp_repository::{RefreshOutcome, RefreshRotation, RevokeReason, Session};

/// A rotated session: its new tokens (the only copies) and lifetimes.
#[derive(Debug)]
pub struct Refreshed {
    pub session: Session,
    pub session_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub refresh_expires_in: i64,
}

/// Trades a refresh token for a new session token and refresh token. The old refresh token
/// stops working; presenting it again revokes the whole session
/// (`AccountsError::RefreshTokenReused`).
pub async fn refresh_session(
    ports: AccountPorts<'_>,
    settings: &AccountSettings,
    refresh_token: &str,
) -> Result<Refreshed, AccountsError> {
    if !looks_like(TokenKind::Refresh, refresh_token) {
        return Err(AccountsError::InvalidToken);
    }
    let now = ports.clock.now();
    let session_token = issue(TokenKind::Session);
    let new_refresh = issue(TokenKind::Refresh);
    let outcome = ports
        .db
        .rotate_refresh_token(RefreshRotation {
            presented_hash: hash_token(refresh_token),
            new_session_token_hash: session_token.hash,
            new_refresh_token_hash: new_refresh.hash,
            expires_at: now + settings.session_lifetime(),
            refresh_expires_at: now + settings.refresh_lifetime(),
            now,
        })
        .await?;
    let session = match outcome {
        RefreshOutcome::Rotated(session) => session,
        RefreshOutcome::Reused {
            session_id,
            user_id,
        } => {
            tracing::warn!(%session_id, %user_id, "rotated refresh token presented again; session revoked");
            return Err(AccountsError::RefreshTokenReused);
        }
        RefreshOutcome::Dead | RefreshOutcome::Unknown => return Err(AccountsError::InvalidToken),
    };
    let user = ports
        .db
        .find_user(session.user_id)
        .await?
        .ok_or(AccountsError::InvalidToken)?;
    if user.status != UserStatus::Active {
        return Err(AccountsError::Suspended);
    }
    Ok(Refreshed {
        expires_in: (session.expires_at - now).whole_seconds(),
        refresh_expires_in: settings.refresh_lifetime().whole_seconds(),
        session,
        session_token: session_token.token,
        refresh_token: new_refresh.token,
    })
}

/// The user's live sessions, newest first.
pub async fn live_sessions(
    ports: AccountPorts<'_>,
    user: UserId,
) -> Result<Vec<Session>, AccountsError> {
    Ok(ports.db.list_live_sessions(user, ports.clock.now()).await?)
}

/// Ends one of the user's sessions: a logout when it is the calling one. Another user's
/// session, or one already ended, is `NotFound`.
pub async fn end_session(
    ports: AccountPorts<'_>,
    user: UserId,
    caller: SessionId,
    session: SessionId,
) -> Result<(), AccountsError> {
    let reason = if session == caller {
        RevokeReason::Logout
    } else {
        RevokeReason::User
    };
    let ended = ports
        .db
        .revoke_session(user, session, ports.clock.now(), reason)
        .await?;
    if ended {
        Ok(())
    } else {
        Err(AccountsError::NotFound("no such session"))
    }
}

/// Ends the calling session.
pub async fn log_out(
    ports: AccountPorts<'_>,
    user: UserId,
    session: SessionId,
) -> Result<(), AccountsError> {
    ports
        .db
        .revoke_session(user, session, ports.clock.now(), RevokeReason::Logout)
        .await?;
    Ok(())
}
