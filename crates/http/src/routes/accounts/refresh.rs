//! `POST /api/v1/auth/refresh`: rotates the session token and the refresh token.

use super::views::TokenPair;
use crate::auth::errors::invalid_token;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use tmcp_domain::auth::tokens::{hash_token, issue, looks_like, TokenKind};
use tmcp_domain::user::UserStatus;
use tmcp_repository::{RefreshOutcome, RefreshRotation};
use tmcp_usecases::accounts::settings::to_time;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// `rt_` and 43 characters of base64url.
    #[schema(pattern = r"^rt_[A-Za-z0-9_-]{43}$")]
    pub refresh_token: String,
}

crate::auth::redacted_debug!(RefreshRequest { ; refresh_token });

/// Trades a refresh token for a new session token and a new refresh token. The old refresh
/// token stops working; presenting it again revokes the whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "accounts",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "new token pair", body = TokenPair),
        (status = 401, description = "`INVALID_TOKEN`: unknown, expired, revoked or reused", body = ErrorEnvelope),
        (status = 403, description = "`ACCOUNT_SUSPENDED`", body = ErrorEnvelope)))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    if !looks_like(TokenKind::Refresh, &body.refresh_token) {
        return Err(invalid_token());
    }
    let now = state.clock.now();
    let auth = &state.settings.auth;
    let session_token = issue(TokenKind::Session);
    let refresh_token = issue(TokenKind::Refresh);
    let outcome = state
        .db
        .rotate_refresh_token(RefreshRotation {
            presented_hash: hash_token(&body.refresh_token),
            new_session_token_hash: session_token.hash,
            new_refresh_token_hash: refresh_token.hash,
            expires_at: now + to_time(auth.session_ttl),
            refresh_expires_at: now + to_time(auth.refresh_ttl),
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
            state.tep.forget_all();
            return Err(invalid_token());
        }
        RefreshOutcome::Dead | RefreshOutcome::Unknown => return Err(invalid_token()),
    };
    let user = state
        .db
        .find_user(session.user_id)
        .await?
        .ok_or_else(invalid_token)?;
    if user.status != UserStatus::Active {
        return Err(crate::auth::errors::account_suspended());
    }
    Ok(Json(TokenPair {
        session_id: session.id.to_string(),
        session_token: session_token.token,
        refresh_token: refresh_token.token,
        token_type: "Bearer",
        expires_in: (session.expires_at - now).whole_seconds(),
        refresh_expires_in: to_time(auth.refresh_ttl).whole_seconds(),
    }))
}
