//! `POST /api/v1/auth/login`: password (+ second factor when MFA is on) → a session.

use super::views::{TokenPair, UserView};
use crate::auth::client::ClientInfo;
use crate::auth::errors::{account_suspended, invalid_credentials, mfa_required, FieldErrors};
use crate::auth::password::{verify_against_dummy, verify_secret};
use crate::auth::second_factor::{
    method_names, verify_second_factor, SecondFactorProof, MAX_CODE_CHARS,
};
use crate::auth::throttle;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::ratelimit::RateDecision;
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::Duration;
use tmcp_domain::auth::tokens::{issue, TokenKind};
use tmcp_domain::user::UserStatus;
use tmcp_domain::SessionId;
use tmcp_repository::NewSession;
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
    #[schema(schema_with = crate::openapi::constraints::identifier)]
    pub device_id: Option<String>,
    #[schema(schema_with = crate::openapi::constraints::free_text::<255>)]
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

pub(crate) fn to_time(d: std::time::Duration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::MAX)
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
    let mut errors = FieldErrors::new();
    if body.login.is_empty() || body.login.len() > 255 {
        errors.add("login", "1 to 255 characters");
    }
    if body.password.is_empty() || body.password.chars().count() > 128 {
        errors.add("password", "1 to 128 characters");
    }
    let device_id = body
        .device_id
        .as_deref()
        .map(super::validate::identifier)
        .transpose();
    if let Err(m) = &device_id {
        errors.add("device_id", *m);
    }
    let device_name = body
        .device_name
        .as_deref()
        .map(|n| super::validate::text(n, 255))
        .transpose();
    if let Err(m) = &device_name {
        errors.add("device_name", m.clone());
    }
    if body
        .mfa_code
        .as_deref()
        .is_some_and(|c| c.chars().count() > MAX_CODE_CHARS)
    {
        errors.add("mfa_code", format!("at most {MAX_CODE_CHARS} characters"));
    }
    if let Some(proof) = &body.mfa {
        proof.check_sizes("mfa.", &mut errors);
    }
    errors.into_result()?;
    let (Ok(device_id), Ok(device_name)) = (device_id, device_name) else {
        return Err(ApiError::internal("validated fields missing"));
    };

    let decision = throttle::login_attempt(&state, &client.ip_key()).await?;
    let limited = |error: ApiError| with_rate_headers(error, &decision);
    let login = body.login.trim().to_ascii_lowercase();
    let user = state.db.find_user_by_login(&login).await?;
    // Failures count per account (by id, so username and email share one budget); a login
    // naming no account gets its own bucket, so probing looks the same either way.
    let account_key = match &user {
        Some(user) => user.id.to_string(),
        None => format!("login:{login}"),
    };
    throttle::account_locked(&state, &account_key)
        .await
        .map_err(limited)?;

    let Some(user) = user else {
        verify_against_dummy(body.password).await?;
        throttle::record_failure(&state, &account_key).await;
        return Err(limited(invalid_credentials()));
    };
    if !verify_secret(body.password, user.password_hash.clone()).await? {
        throttle::record_failure(&state, &account_key).await;
        return Err(limited(invalid_credentials()));
    }
    if user.status != UserStatus::Active {
        return Err(limited(account_suspended()));
    }
    if user.mfa_enabled {
        let methods = state.db.list_mfa_methods(user.id).await?;
        let proof = match (body.mfa, body.mfa_code) {
            (Some(proof), _) => Some(proof),
            (None, Some(code)) => Some(SecondFactorProof {
                code: Some(code),
                ..SecondFactorProof::default()
            }),
            (None, None) => None,
        };
        let accepted = match &proof {
            Some(proof) => verify_second_factor(&state, user.id, &methods, proof, "login")
                .await?
                .is_some(),
            None => false,
        };
        if !accepted {
            if proof.is_some() {
                throttle::record_failure(&state, &account_key).await;
            }
            return Err(limited(mfa_required(&method_names(&methods))));
        }
    }
    throttle::clear_failures(&state, &account_key).await;

    let now = state.clock.now();
    let auth = &state.settings.auth;
    let session_token = issue(TokenKind::Session);
    let refresh_token = issue(TokenKind::Refresh);
    let session = state
        .db
        .create_session(NewSession {
            id: SessionId::new_v7(now),
            user_id: user.id,
            session_token_hash: session_token.hash,
            refresh_token_hash: refresh_token.hash,
            device_id,
            device_name,
            user_agent: client.user_agent,
            ip_address: client.ip.map(|ip| ip.to_string()),
            expires_at: now + to_time(auth.session_ttl),
            refresh_expires_at: now + to_time(auth.refresh_ttl),
            created_at: now,
        })
        .await?;
    let mut user = user;
    user.last_login_at = Some(now);
    let mut headers = HeaderMap::new();
    decision.apply_headers(&mut headers);
    Ok((
        headers,
        Json(LoginResponse {
            tokens: TokenPair {
                session_id: session.id.to_string(),
                session_token: session_token.token,
                refresh_token: refresh_token.token,
                token_type: "Bearer",
                expires_in: (session.expires_at - now).whole_seconds(),
                refresh_expires_in: to_time(auth.refresh_ttl).whole_seconds(),
            },
            user: UserView::from_user(&state, &user)?,
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
