//! The HTTP side of the payment service (the TMCP protocol §4): who may call and as whom.
//! A mini-app requests with its TEP (`wallet:pay`); the user authorizes through the host
//! app's session or a mini-app's TEP for them (`wallet:pay`); reads are own rows only (a
//! session: the user's; a user TEP: that user's payments to that app; an app backend's
//! client-credentials token: its app's). Rate limits are taken here, before the use case.

use crate::auth::{SessionOrTep, TepPrincipal};
use crate::error::ApiError;
use crate::ratelimit::RateDecision;
use crate::AppState;
use tmcp_domain::{AppId, UserId};
use tmcp_repository::PaymentViewer;
use tmcp_usecases::payments::{PaymentPorts, SCOPE_PAY};

/// Whose payments the caller may read: a session the user's; a user TEP (`wallet:pay`) that
/// user's payments to its app; an app backend (client credentials) its app's.
pub fn payment_reader(caller: &SessionOrTep) -> Result<PaymentViewer, ApiError> {
    match caller {
        SessionOrTep::Session(session) => Ok(PaymentViewer::User(session.user_id)),
        SessionOrTep::Tep(tep) if tep.user_id.is_none() => Ok(PaymentViewer::App(tep.app_id()?)),
        SessionOrTep::Tep(tep) => {
            let user = caller.user_with_scope(SCOPE_PAY)?;
            Ok(PaymentViewer::UserInApp(user, tep.app_id()?))
        }
    }
}

/// The paying user, for authorizations: a session, or a user TEP with `wallet:pay`.
pub fn payer(caller: &SessionOrTep) -> Result<(UserId, PaymentViewer), ApiError> {
    let user = caller.user_with_scope(SCOPE_PAY)?;
    match caller {
        SessionOrTep::Session(_) => Ok((user, PaymentViewer::User(user))),
        SessionOrTep::Tep(tep) => Ok((user, PaymentViewer::UserInApp(user, tep.app_id()?))),
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
        opened: &state.opened_accounts,
    }
}
