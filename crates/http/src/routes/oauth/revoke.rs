//! `POST /oauth2/revoke` (RFC 7009): a client revokes one of its own tokens. A TEP dies by
//! its `jti`; a refresh token takes its whole grant with it (every access and refresh token
//! of that authorization). The answer is 200 whether or not anything was revoked, so it
//! tells nothing about tokens of others.

use super::client_auth::{authenticate, credentials};
use super::error::{no_store, rate_headers, OAuthError, OAuthErrorBody};
use super::form::Form;
use super::grants;
use super::token::{limit, subject};
use crate::auth::client::ClientInfo;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tmcp_usecases::oauth::revocation::revoke_token;
use utoipa::ToSchema;

/// Form fields of a revocation request.
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
pub struct RevokeRequest {
    /// A TEP (`tep.…`) or a refresh token issued to the calling client.
    token: String,
    #[schema(schema_with = crate::schema_constraints::token_type_hint)]
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Revokes a token (always 200 once the client is authenticated).
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oauth",
    request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "revoked, or nothing to revoke"),
        (status = 400, description = "`invalid_request`", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`", body = OAuthErrorBody),
        (status = 429, description = "`rate_limit_exceeded`", body = OAuthErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    client_info: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&state, &client_info, &headers, &body).await {
        Ok(decision) => {
            let mut response = StatusCode::OK.into_response();
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
) -> Result<crate::ratelimit::RateDecision, OAuthError> {
    let form = Form::parse(headers, body, true)?;
    let credentials = credentials(headers, &form)?;
    let decision = limit(state, &subject(&credentials.client_id, client_info)).await?;
    let caller = authenticate(state, &credentials)
        .await
        .map_err(|e| e.with_rate(&decision))?;
    let token = form
        .bounded("token", 8192)
        .and_then(|t| t.ok_or_else(|| OAuthError::invalid_request("token is required")))
        .map_err(|e| e.with_rate(&decision))?;
    revoke_token(grants::ports(state), &caller, token).await?;
    Ok(decision)
}
