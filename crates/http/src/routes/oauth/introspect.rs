//! `POST /oauth2/introspect` (RFC 7662), for confidential clients (mini-app backends). A
//! client learns about its own tokens; official clients about any. Anything unknown,
//! expired, revoked or not the caller's is `{"active":false}`.

use super::client_auth::{authenticate, credentials};
use super::error::{no_store, rate_headers, OAuthError, OAuthErrorBody};
use super::form::Form;
use super::token::{limit, subject};
use crate::auth::client::ClientInfo;
use crate::auth::tep::{token_hash, PREFIX};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tmcp_domain::oauth::{looks_like, secret_hash, SecretKind};
use tmcp_domain::{SessionId, UserId};
use tmcp_repository::TokenLiveness;
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
    let may_see = |client_id: &str| caller.client.is_official || client_id == caller.id();
    let now = state.clock.now();
    let inactive = IntrospectResponse::default();
    if token.starts_with(PREFIX) {
        let Ok(claims) = state.tep.decode(token, now) else {
            return Ok((inactive, decision));
        };
        if !may_see(&claims.client_id) {
            return Ok((inactive, decision));
        }
        let user_id = uuid::Uuid::parse_str(&claims.sub).ok().map(UserId);
        let session_id = match claims.session_id.as_deref().map(str::parse::<SessionId>) {
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => return Ok((inactive, decision)),
            None => None,
        };
        let live = state
            .db
            .token_is_live(&TokenLiveness {
                token_hash: token_hash(&claims.jti),
                client_id: claims.client_id.clone(),
                user_id,
                session_id,
            })
            .await?;
        if !live {
            return Ok((inactive, decision));
        }
        return Ok((
            IntrospectResponse {
                active: true,
                scope: Some(claims.scope),
                client_id: Some(claims.client_id),
                sub: Some(claims.sub),
                aud: Some(claims.aud),
                iss: Some(claims.iss),
                exp: Some(claims.exp),
                iat: Some(claims.iat),
                nbf: Some(claims.nbf),
                jti: Some(claims.jti),
                token_type: Some("Bearer".into()),
                wallet_id: claims.wallet_id,
                session_id: claims.session_id,
            },
            decision,
        ));
    }
    if looks_like(SecretKind::RefreshToken, token) {
        let found = state
            .db
            .find_oauth_refresh_token(&secret_hash(token))
            .await?;
        if let Some(refresh) = found {
            let usable = refresh.rotated_at.is_none()
                && refresh.revoked_at.is_none()
                && refresh.expires_at > now
                && may_see(&refresh.client_id);
            if usable {
                return Ok((
                    IntrospectResponse {
                        active: true,
                        scope: Some(refresh.scopes.join(" ")),
                        client_id: Some(refresh.client_id),
                        sub: Some(refresh.user_id.to_string()),
                        exp: Some(refresh.expires_at.unix_timestamp()),
                        iat: Some(refresh.created_at.unix_timestamp()),
                        iss: Some(state.tep.settings().issuer.clone()),
                        token_type: Some("refresh_token".into()),
                        ..IntrospectResponse::default()
                    },
                    decision,
                ));
            }
        }
    }
    Ok((inactive, decision))
}
