//! `SessionPrincipal`: the host app's session, from `Authorization: Bearer <session token>`.
//!
//! Missing, malformed, unknown, expired and revoked tokens all answer 401 `INVALID_TOKEN`
//! (with `WWW-Authenticate: Bearer`); a suspended or deleted account answers 403
//! `ACCOUNT_SUSPENDED`.

use super::errors::invalid_token;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use tmcp_domain::user::Role;
use tmcp_domain::{SessionId, UserId};
use tmcp_repository::{Session, User};

/// The authenticated session of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPrincipal {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub role: Role,
}

impl SessionPrincipal {
    /// 403 `INSUFFICIENT_PERMISSIONS` unless the account has `role` (admins pass everything).
    pub fn require_role(&self, role: Role) -> Result<(), ApiError> {
        if self.role == role || self.role == Role::Admin {
            Ok(())
        } else {
            Err(super::errors::insufficient_role(role.as_db()))
        }
    }
}

/// The bearer token of `Authorization: Bearer <token>`, if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Resolves a presented session token to its live session and account. This is what the
/// extractor does, and what OAuth token exchange calls with a `subject_token`.
pub async fn resolve_session_token(
    state: &AppState,
    token: &str,
) -> Result<(Session, User), ApiError> {
    Ok(tmcp_usecases::accounts::resolve_session_token(
        state.db.as_ref(),
        state.clock.as_ref(),
        token,
    )
    .await?)
}

impl FromRequestParts<AppState> for SessionPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<SessionPrincipal>() {
            return Ok(*principal);
        }
        let token = bearer_token(&parts.headers).ok_or_else(invalid_token)?;
        let (session, user) = resolve_session_token(state, token).await?;
        let principal = SessionPrincipal {
            user_id: user.id,
            session_id: session.id,
            role: user.role,
        };
        parts.extensions.insert(principal);
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_tokens_are_parsed_strictly() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer st_abc"),
        );
        assert_eq!(bearer_token(&headers), Some("st_abc"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer st_abc"),
        );
        assert_eq!(bearer_token(&headers), Some("st_abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&headers), None);
    }
}
