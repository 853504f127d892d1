//! `POST /api/v1/auth/login`: password (+ second factor when MFA is on) → a session.

use super::views::{TokenPair, UserView};
use crate::auth::client::ClientInfo;
use crate::auth::second_factor::SecondFactorProof;
use crate::auth::throttle::LoginBudget;
use crate::error::{login_error, ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::ratelimit::RateDecision;
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use tmcp_usecases::accounts::{password_login, LoginError, PasswordLogin};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username or email.
    #[schema(min_length = 1, max_length = 255)]
    pub login: String,
    #[schema(min_length = 1, max_length = 128)]
    pub password: String,
    /// The host app's device identifier, recorded on the session.
    #[schema(schema_with = crate::schema_constraints::identifier)]
    pub device_id: Option<String>,
    #[schema(schema_with = crate::schema_constraints::free_text::<255>)]
    pub device_name: Option<String>,
    /// TOTP code or transaction PIN, required when the account has MFA enabled.
    #[schema(max_length = 16)]
    pub mfa_code: Option<String>,
    /// Alternative second factor (e.g. a biometric signature with action `login`).
    pub mfa: Option<SecondFactorProof>,
}

crate::auth::redacted_debug!(LoginRequest { login, device_id, device_name, mfa; password, mfa_code });

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub user: UserView,
}

/// Logs in with a password (and second factor when enabled). Unknown accounts and wrong
/// passwords get the same answer after the same amount of work.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "session created", body = LoginResponse),
        (status = 401, description = "`INVALID_CREDENTIALS`, or `MFA_REQUIRED` with `details.methods`", body = ErrorEnvelope),
        (status = 403, description = "`ACCOUNT_SUSPENDED`", body = ErrorEnvelope),
        (status = 429, description = "too many attempts (`Retry-After`)", body = ErrorEnvelope)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<(HeaderMap, Json<LoginResponse>), ApiError> {
    let budget = LoginBudget::new(&state, client.ip_key());
    let request = PasswordLogin {
        login: body.login,
        password: body.password,
        device_id: body.device_id,
        device_name: body.device_name,
        mfa_code: body.mfa_code,
        mfa: body.mfa.map(Into::into),
        user_agent: client.user_agent,
        ip_address: client.ip.map(|ip| ip.to_string()),
    };
    let outcome = password_login(
        state.account_ports(),
        &state.settings.auth,
        &budget,
        request,
    )
    .await;
    let decision = budget.decision();
    let logged_in = outcome.map_err(|error| {
        // Answers about the account carry the address bucket's headers; a 429 has its own.
        let answer_about_account = matches!(
            error,
            LoginError::InvalidCredentials
                | LoginError::Suspended
                | LoginError::SecondFactorRequired { .. }
        );
        let answer = login_error(error);
        match decision {
            Some(decision) if answer_about_account => with_rate_headers(answer, &decision),
            _ => answer,
        }
    })?;
    let mut headers = HeaderMap::new();
    if let Some(decision) = decision {
        decision.apply_headers(&mut headers);
    }
    Ok((
        headers,
        Json(LoginResponse {
            tokens: TokenPair {
                session_id: logged_in.session.id.to_string(),
                session_token: logged_in.session_token,
                refresh_token: logged_in.refresh_token,
                token_type: "Bearer",
                expires_in: logged_in.expires_in,
                refresh_expires_in: logged_in.refresh_expires_in,
            },
            user: UserView::from_user(&state, &logged_in.user)?,
        }),
    ))
}

/// Adds the address bucket's `X-RateLimit-*` headers to an error answer.
fn with_rate_headers(mut error: ApiError, decision: &RateDecision) -> ApiError {
    if error.headers.is_empty() {
        error.headers = vec![
            ("x-ratelimit-limit", decision.limit.to_string()),
            ("x-ratelimit-remaining", decision.remaining.to_string()),
            ("x-ratelimit-reset", decision.reset.to_string()),
        ];
    }
    error
}
