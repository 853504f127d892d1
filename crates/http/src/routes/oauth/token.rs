//! `POST /oauth2/token` (RFC 6749 §3.2): form body, client authentication, per-client rate
//! limit, then one module per grant type. Every answer is `Cache-Control: no-store`.

use super::client_auth::{authenticate, credentials, identify};
use super::error::{no_store, rate_headers, OAuthError, OAuthErrorBody};
use super::form::Form;
use super::grants;
use super::issue::TokenResponse;
use crate::auth::client::ClientInfo;
use crate::ratelimit::{LimitRule, RateDecision};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::time::Duration;
use tmcp_domain::oauth::secret_hash;
use tmcp_usecases::oauth::grants::check_grant_type;
use utoipa::ToSchema;

/// The form fields of a token request (documentation only; the body is parsed strictly by
/// hand so repeated parameters are refused).
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `authorization_code`, `refresh_token`, `client_credentials`,
    /// `urn:ietf:params:oauth:grant-type:token-exchange` or
    /// `urn:ietf:params:oauth:grant-type:device_code`.
    #[schema(schema_with = crate::schema_constraints::grant_type)]
    grant_type: String,
    /// Public clients, and `client_secret_post`.
    client_id: Option<String>,
    /// `client_secret_post` (or use HTTP Basic: `client_secret_basic`).
    client_secret: Option<String>,
    /// authorization_code: the code from the redirect.
    code: Option<String>,
    /// authorization_code: exactly the `redirect_uri` of the authorization request.
    redirect_uri: Option<String>,
    /// authorization_code: PKCE verifier.
    #[schema(min_length = 43, max_length = 128, pattern = r"^[A-Za-z0-9._~-]+$")]
    code_verifier: Option<String>,
    /// refresh_token: the current refresh token.
    refresh_token: Option<String>,
    /// Space-separated scopes (refresh: at most the original; exchange/client credentials:
    /// registered scopes).
    scope: Option<String>,
    /// token-exchange: the user's session token.
    subject_token: Option<String>,
    #[schema(schema_with = crate::schema_constraints::subject_token_type)]
    subject_token_type: Option<String>,
    /// token-exchange: JSON object copied into the TEP's `miniapp_context` (≤ 2 KiB).
    miniapp_context: Option<String>,
    /// device_code: the device code from `/oauth2/device/authorization`.
    device_code: Option<String>,
}

/// The token endpoint's rate limit: `token_rate_per_minute` per (client, caller address).
pub fn token_rule(state: &AppState) -> LimitRule {
    let rate = state.settings.oauth.token_rate_per_minute.max(1);
    LimitRule {
        name: "oauth_token",
        rate,
        period: Duration::from_secs(60),
        burst: rate,
    }
}

/// Takes one request from the caller's bucket.
pub async fn limit(state: &AppState, subject: &str) -> Result<RateDecision, OAuthError> {
    state
        .limiter
        .check(&token_rule(state), subject)
        .await
        .map_err(OAuthError::from)
}

/// `client|address`: a client's callers share nothing with other clients, and one address
/// cannot use up a public client's budget for everyone.
pub fn subject(client_id: &str, client: &ClientInfo) -> String {
    format!("{client_id}|{}", client.ip_key())
}

/// Issues tokens (RFC 6749, RFC 8628, RFC 8693).
#[utoipa::path(post, path = "/oauth2/token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "tokens issued (`Cache-Control: no-store`)", body = TokenResponse),
        (status = 400, description = "`invalid_request`, `invalid_grant`, `invalid_scope`, `unsupported_grant_type`, `unauthorized_client`, `authorization_pending`, `slow_down`, `access_denied`, `expired_token`", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`", body = OAuthErrorBody),
        (status = 403, description = "`consent_required` with `consent_required_scopes` and `consent_uri`", body = OAuthErrorBody),
        (status = 429, description = "`rate_limit_exceeded` (`Retry-After`)", body = OAuthErrorBody)))]
pub async fn token(
    State(state): State<AppState>,
    client_info: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&state, &client_info, &headers, &body).await {
        Ok((answer, decision)) => {
            let mut response = Json(answer).into_response();
            no_store(&mut response);
            for (name, value) in rate_headers(&decision) {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn handle(
    state: &AppState,
    client_info: &ClientInfo,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(TokenResponse, RateDecision), OAuthError> {
    let form = Form::parse(headers, body, true)?;
    let credentials = credentials(headers, &form)?;
    let grant_type = form.required("grant_type")?.to_owned();
    // Devices poll on their own schedule (governed by slow_down), so each device code has
    // its own bucket instead of sharing the client's.
    let bucket = match (grant_type.as_str(), form.get("device_code")) {
        (grants::DEVICE_CODE, Some(code)) => format!(
            "{}|device:{}",
            credentials.client_id,
            &secret_hash(code)[..16]
        ),
        _ => subject(&credentials.client_id, client_info),
    };
    let decision = limit(state, &bucket).await?;
    let result = async {
        let caller = if grant_type == grants::TOKEN_EXCHANGE {
            identify(state, &credentials).await?
        } else {
            authenticate(state, &credentials).await?
        };
        check_grant_type(&caller, &grant_type)?;
        grants::run(state, &caller, &grant_type, &form).await
    }
    .await;
    result
        .map(|answer| (answer, decision))
        .map_err(|e| e.with_rate(&decision))
}
