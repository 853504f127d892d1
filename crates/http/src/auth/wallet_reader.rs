//! `WalletReader`: who may read a wallet — the host app with the user's session, or a mini-app
//! with a TEP carrying the route's scope (`wallet:balance`, `wallet:history`). A bearer token
//! starting with `tep.` is read as a TEP, anything else as a session token.

use super::{SessionPrincipal, TepPrincipal};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tmcp_domain::UserId;

/// The user whose wallet is read, for a route needing scope `S::SCOPE` from a TEP.
pub struct WalletReader<S> {
    pub user_id: UserId,
    _scope: std::marker::PhantomData<S>,
}

/// The scope a TEP needs on a wallet read route.
pub trait ReadScope {
    const SCOPE: &'static str;
}

pub struct BalanceScope;
impl ReadScope for BalanceScope {
    const SCOPE: &'static str = "wallet:balance";
}

pub struct HistoryScope;
impl ReadScope for HistoryScope {
    const SCOPE: &'static str = "wallet:history";
}

impl<S: ReadScope + Send + Sync> FromRequestParts<AppState> for WalletReader<S> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let is_tep = super::session::bearer_token(&parts.headers)
            .is_some_and(|token| token.starts_with("tep."));
        let user_id = if is_tep {
            let tep = TepPrincipal::from_request_parts(parts, state).await?;
            tep.require_scope(S::SCOPE)?;
            tep.require_user()?
        } else {
            SessionPrincipal::from_request_parts(parts, state)
                .await?
                .user_id
        };
        Ok(Self {
            user_id,
            _scope: std::marker::PhantomData,
        })
    }
}
