//! The HTTP side of the storage service (the TMCP protocol §3): who may call (TEP scopes,
//! user and app only from the token), the rate limits, JSON body parsing and answers with
//! the rate-limit headers. The rules and operations are the storage use cases'
//! (`tmcp_usecases::storage`; the few pieces every handler needs are re-exported here);
//! their errors become answers in `crate::error::storage`.

use crate::auth::TepPrincipal;
use crate::error::ApiError;
use crate::ratelimit::RateDecision;
use crate::AppState;
use axum::response::{IntoResponse, Response};
use tmcp_domain::{AppId, UserId};
use tmcp_repository::WriteContext;

pub use tmcp_usecases::storage::{
    path_key, render_value, rfc3339, stored_value_json, write_context, Caller, StorageSettings,
    ValueInput, SCOPE_READ, SCOPE_WRITE,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    Single,
    Batch,
}

/// Checks the scope, that the token speaks for a user and a mini-app, and takes one request
/// from the (user, app)'s bucket of the route class.
pub async fn admit(
    state: &AppState,
    principal: &TepPrincipal,
    scope: &str,
    class: RouteClass,
) -> Result<(Caller, RateDecision), ApiError> {
    principal.require_scope(scope)?;
    let user = principal.require_user()?;
    let app = principal.app_id()?;
    let settings = &state.settings.storage;
    let rule = match class {
        RouteClass::Single => &settings.rate,
        RouteClass::Batch => &settings.batch_rate,
    };
    let decision = state.limiter.check(rule, &format!("{user}:{app}")).await?;
    Ok((Caller { user, app }, decision))
}

/// Answers with the rate-limit headers, success or error alike.
pub fn respond(decision: &RateDecision, result: Result<Response, ApiError>) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    decision.apply_headers(response.headers_mut());
    response
}

/// The clock and the configured limits of the caller's app.
pub fn context(state: &AppState, app: &AppId) -> WriteContext {
    write_context(state.clock.now(), &state.settings.storage, app)
}

/// Deletes all of a user's storage for an app and resets its quota (app uninstall, account
/// deletion). Returns how many live entries were deleted.
pub async fn delete_all_for_app(
    state: &AppState,
    user: UserId,
    app: &AppId,
) -> Result<u64, ApiError> {
    Ok(tmcp_usecases::storage::delete_all_for_app(
        state.db.as_ref(),
        state.clock.as_ref(),
        &state.settings.storage,
        user,
        app,
    )
    .await?)
}
