//! `POST /oauth2/introspect` (RFC 7662), for confidential clients (mini-app backends). A
//! client learns about its own tokens; official clients about any. Anything unknown,
//! expired, revoked or not the caller's is `{"active":false}`.

use super::client_auth::{authenticate, credentials};
use super::error::{no_store, rate_headers, OAuthError, OAuthErrorBody};
use super::form::Form;
use super::grants;
use super::token::{limit, subject};
use crate::auth::client::ClientInfo;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tmcp_usecases::oauth::introspection::{introspect_token, ActiveToken};
use utoipa::ToSchema;

/// Form fields of an introspection request.
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
pub struct IntrospectRequest {
    /// A TEP (`tep.…`) or an OAuth refresh token.
    token: String,
    #[schema(schema_with = crate::schema_constraints::token_type_hint)]
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// RFC 7662 §2.2 answer.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct IntrospectResponse {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// User id, or the client id for client-credentials tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// `Bearer` for TEPs, `refresh_token` for refresh tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wallet_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// Describes a token to a confidential client.
#[utoipa::path(post, path = "/oauth2/introspect", tag = "oauth",
    request_body(content = IntrospectRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "`{\"active\":false}` or the token's claims", body = IntrospectResponse),
        (status = 400, description = "`invalid_request`", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client` (public clients cannot introspect)", body = OAuthErrorBody),
        (status = 429, description = "`rate_limit_exceeded`", body = OAuthErrorBody)))]
pub async fn introspect(
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
) -> Result<(IntrospectResponse, crate::ratelimit::RateDecision), OAuthError> {
    let form = Form::parse(headers, body, true)?;
    let credentials = credentials(headers, &form)?;
    let decision = limit(state, &subject(&credentials.client_id, client_info)).await?;
    let caller = authenticate(state, &credentials)
        .await
        .map_err(|e| e.with_rate(&decision))?;
    if !caller.confidential {
        return Err(OAuthError::invalid_client(credentials.basic).with_rate(&decision));
    }
    let token = form
        .bounded("token", 8192)
        .and_then(|t| t.ok_or_else(|| OAuthError::invalid_request("token is required")))
        .map_err(|e| e.with_rate(&decision))?;
    let answer = introspect_token(grants::ports(state), &caller, token)
        .await?
        .map_or_else(IntrospectResponse::default, IntrospectResponse::from);
    Ok((answer, decision))
}

impl From<ActiveToken> for IntrospectResponse {
    fn from(token: ActiveToken) -> Self {
        Self {
            active: true,
            scope: Some(token.scope),
            client_id: Some(token.client_id),
            sub: Some(token.sub),
            aud: token.aud,
            iss: Some(token.iss),
            exp: Some(token.exp),
            iat: Some(token.iat),
            nbf: token.nbf,
            jti: token.jti,
            token_type: Some(token.token_type.to_owned()),
            wallet_id: token.wallet_id,
            session_id: token.session_id,
        }
    }
}
