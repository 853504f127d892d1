//! The HTTP side of the payment service (the TMCP protocol §4): who may call and as whom.
//! A mini-app requests with its TEP (`wallet:pay`); the user authorizes through the host
//! app's session or a mini-app's TEP for them (`wallet:pay`); reads are own rows only (a
//! session: the user's; a user TEP: that user's payments to that app; an app backend's
//! client-credentials token: its app's). Rate limits are taken here, before the use case.

use crate::auth::{SessionPrincipal, TepPrincipal};
use crate::error::ApiError;
use crate::ratelimit::RateDecision;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tmcp_domain::{AppId, UserId};
use tmcp_repository::PaymentViewer;
use tmcp_usecases::payments::{PaymentPorts, SCOPE_PAY};

/// The caller of a payment route: a session or a TEP, told apart by the TEP's `tep.` prefix.
#[derive(Debug, Clone)]
pub enum PaymentCaller {
    Session(SessionPrincipal),
    Tep(TepPrincipal),
}

impl FromRequestParts<AppState> for PaymentCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let is_tep = crate::auth::session::bearer_token(&parts.headers)
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

impl PaymentCaller {
    /// Whose payments the caller may read.
    pub fn reader(&self) -> Result<PaymentViewer, ApiError> {
        match self {
            Self::Session(session) => Ok(PaymentViewer::User(session.user_id)),
            Self::Tep(tep) => match tep.user_id {
                Some(user) => {
                    tep.require_scope(SCOPE_PAY)?;
                    Ok(PaymentViewer::UserInApp(user, tep.app_id()?))
                }
                // An app backend (client credentials) reads its app's payments.
                None => Ok(PaymentViewer::App(tep.app_id()?)),
            },
        }
    }

    /// The paying user, for authorizations: a session, or a user TEP with `wallet:pay`.
    pub fn payer(&self) -> Result<(UserId, PaymentViewer), ApiError> {
        match self {
            Self::Session(session) => Ok((session.user_id, PaymentViewer::User(session.user_id))),
            Self::Tep(tep) => {
                tep.require_scope(SCOPE_PAY)?;
                let user = tep.require_user()?;
                Ok((user, PaymentViewer::UserInApp(user, tep.app_id()?)))
            }
        }
    }
}

/// A mini-app requesting for a user: `wallet:pay`, a user, an app; one request from the
/// (user, app)'s bucket.
pub async fn admit_request(
    state: &AppState,
    principal: &TepPrincipal,
) -> Result<(UserId, AppId, RateDecision), ApiError> {
    principal.require_scope(SCOPE_PAY)?;
    let user = principal.require_user()?;
    let app = principal.app_id()?;
    let rule = &state.settings.payments.request_rate;
    let decision = state.limiter.check(rule, &format!("{user}:{app}")).await?;
    Ok((user, app, decision))
}

/// One authorization (or MFA step) from the user's bucket.
pub async fn admit_payer(state: &AppState, user: UserId) -> Result<RateDecision, ApiError> {
    let rule = &state.settings.payments.authorize_rate;
    state.limiter.check(rule, &user.to_string()).await
}

pub fn ports(state: &AppState) -> PaymentPorts<'_> {
    PaymentPorts {
        db: state.db.as_ref(),
        clock: state.clock.as_ref(),
        cipher: &state.cipher,
    }
}
