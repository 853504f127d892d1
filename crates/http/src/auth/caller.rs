//! `SessionOrTep`: routes the host app calls with the user's session and a mini-app calls with
//! a TEP (wallet reads, payment authorization and reads). A bearer token starting with `tep.`
//! is read as a TEP, anything else as a session token.

use super::{SessionPrincipal, TepPrincipal};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tmcp_domain::UserId;

#[derive(Debug, Clone)]
pub enum SessionOrTep {
    Session(SessionPrincipal),
    Tep(TepPrincipal),
}

impl FromRequestParts<AppState> for SessionOrTep {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let is_tep = super::session::bearer_token(&parts.headers)
            .is_some_and(|token| token.starts_with("tep."));
        if is_tep {
            Ok(Self::Tep(
                TepPrincipal::from_request_parts(parts, state).await?,
            ))
        } else {
            Ok(Self::Session(
                SessionPrincipal::from_request_parts(parts, state).await?,
            ))
        }
    }
}

impl SessionOrTep {
    /// The user acting: a session's, or a user TEP's when it carries `scope` (an app
    /// backend's client-credentials token acts for no user).
    pub fn user_with_scope(&self, scope: &str) -> Result<UserId, ApiError> {
        match self {
            Self::Session(session) => Ok(session.user_id),
            Self::Tep(tep) => {
                tep.require_scope(scope)?;
                tep.require_user()
            }
        }
    }
}
