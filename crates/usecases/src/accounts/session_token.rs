//! Resolving a presented session token to its live session and account: what the HTTP
//! session extractor does, and what OAuth token exchange does with a `subject_token`.

use super::AccountsError;
use time::Duration;
use tmcp_domain::auth::tokens::{hash_token, looks_like, TokenKind};
use tmcp_domain::user::UserStatus;
use tmcp_domain::Clock;
use tmcp_repository::{Database, Session, User};

/// `last_accessed_at` is written at most this often per session.
const TOUCH_INTERVAL: Duration = Duration::seconds(60);

/// The live session a token names and its account. Malformed, unknown, expired and revoked
/// tokens are `InvalidToken`; an account that is not active is `Suspended`.
pub async fn resolve_session_token(
    db: &dyn Database,
    clock: &dyn Clock,
    token: &str,
) -> Result<(Session, User), AccountsError> {
    if !looks_like(TokenKind::Session, token) {
        return Err(AccountsError::InvalidToken);
    }
    let now = clock.now();
    let session = db
        .find_live_session_by_token_hash(&hash_token(token), now)
        .await?
        .ok_or(AccountsError::InvalidToken)?;
    let user = db
        .find_user(session.user_id)
        .await?
        .ok_or(AccountsError::InvalidToken)?;
    if user.status != UserStatus::Active {
        return Err(AccountsError::Suspended);
    }
    if now - session.last_accessed_at >= TOUCH_INTERVAL {
        // Activity tracking is best effort: a failed write must not fail the request.
        if let Err(e) = db.touch_session(user.id, session.id, now).await {
            tracing::warn!(error = %e, "could not record session activity");
        }
    }
    Ok((session, user))
}
