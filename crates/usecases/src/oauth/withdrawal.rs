//! A user cuts an app off — all of its grant, or some scopes. Every token the app holds for
//! the user dies at once (access and refresh), whatever its scopes; a `scope.revoked` event
//! is written to the webhook outbox in the same transaction when anything was revoked.

use super::error::OAuthServiceError;
use time::OffsetDateTime;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::scope::rules;
use tmcp_domain::{Clock, UserId};
use tmcp_repository::withdrawal_tx::Withdrawn as WithdrawnConsent;
use tmcp_repository::{ConsentWithdrawal, Database};

/// The outcome, with the client id as stored and the instant every earlier token died.
#[derive(Debug)]
pub struct Withdrawn {
    pub client_id: String,
    pub withdrawn: WithdrawnConsent,
    pub revoked_at: OffsetDateTime,
}

fn invalid(field: &'static str, message: &'static str) -> OAuthServiceError {
    OAuthServiceError::InvalidField { field, message }
}

/// Withdraws the user's grant to `client_id` (only `scopes` when given). Idempotent: an app
/// the user never used, or one already withdrawn, comes back with nothing revoked.
pub async fn withdraw_grant(
    db: &dyn Database,
    clock: &dyn Clock,
    user: UserId,
    client_id: &str,
    scopes: Option<Vec<String>>,
) -> Result<Withdrawn, OAuthServiceError> {
    if client_id.is_empty() || client_id.len() > 255 {
        return Err(invalid("client_id", "1 to 255 characters"));
    }
    if scopes.as_ref().is_some_and(|scopes| {
        scopes.is_empty() || scopes.len() > 20 || scopes.iter().any(|s| rules(s).is_none())
    }) {
        return Err(invalid("scopes", "1 to 20 known scopes"));
    }
    let client = db
        .find_client(client_id)
        .await?
        .ok_or(OAuthServiceError::UnknownClient)?;
    let now = clock.now();
    let app_id = client
        .app_id
        .clone()
        .unwrap_or_else(|| client.client_id.clone());
    let withdrawn = db
        .withdraw_consent(ConsentWithdrawal {
            user,
            client_id: client.client_id.clone(),
            scopes,
            at: now,
            event_id: uuid_v7_at(now),
            app_id,
        })
        .await?;
    Ok(Withdrawn {
        client_id: client.client_id,
        withdrawn,
        revoked_at: now,
    })
}
