//! `POST /api/v1/auth/refresh`: rotates the session token and the refresh token.

use super::views::TokenPair;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use tmcp_usecases::accounts::sessions::refresh_session;
use tmcp_usecases::accounts::AccountsError;
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
    let refreshed = match refresh_session(
        state.account_ports(),
        &state.settings.auth,
        &body.refresh_token,
    )
    .await
    {
        Ok(refreshed) => refreshed,
        Err(error) => {
            if matches!(error, AccountsError::RefreshTokenReused) {
                // The session was revoked: TEPs minted from it stop at once here.
                state.tep.forget_all();
            }
            return Err(error.into());
        }
    };
    Ok(Json(TokenPair {
        session_id: refreshed.session.id.to_string(),
        session_token: refreshed.session_token,
        refresh_token: refreshed.refresh_token,
        token_type: "Bearer",
        expires_in: refreshed.expires_in,
        refresh_expires_in: refreshed.refresh_expires_in,
    }))
}
