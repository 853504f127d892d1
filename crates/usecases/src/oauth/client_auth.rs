//! Checking the client of a token, revocation or introspection request (RFC 6749 §2.3):
//! confidential clients prove themselves with their secret, public clients name themselves.
//! How the credentials arrived (HTTP Basic or the form) is the HTTP layer's business.

use super::issue::CallingClient;
use super::token_error::TokenError;
use tmcp_domain::oauth::{client_secret_hash, verify_client_secret};
use tmcp_repository::Database;

/// The credentials a request carries, before they are checked.
#[derive(Clone, Copy)]
pub struct ClientCredentials<'a> {
    pub client_id: &'a str,
    pub secret: Option<&'a str>,
}

impl std::fmt::Debug for ClientCredentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.map(|_| "<redacted>"))
            .finish()
    }
}

/// Checks the credentials. Unknown and inactive clients, wrong secrets, a missing secret for
/// a confidential client and a secret sent by a public client are all `InvalidClient`;
/// secrets are compared in constant time.
pub async fn authenticate_client(
    db: &dyn Database,
    credentials: ClientCredentials<'_>,
) -> Result<CallingClient, TokenError> {
    let found = db.find_client(credentials.client_id).await?;
    let Some(client) = found.filter(|c| c.is_active) else {
        if let Some(secret) = credentials.secret {
            // The same hashing work as for a real client.
            let _ = verify_client_secret(secret, &client_secret_hash("unknown-client"));
        }
        return Err(TokenError::InvalidClient);
    };
    match (&client.client_secret_hash, credentials.secret) {
        (Some(stored), Some(secret)) if verify_client_secret(secret, stored) => Ok(CallingClient {
            client,
            confidential: true,
        }),
        (None, None) => Ok(CallingClient {
            client,
            confidential: false,
        }),
        _ => Err(TokenError::InvalidClient),
    }
}

/// Identifies the client named in a token exchange: the session token is the caller's
/// proof, so no secret is needed; one that is sent is still checked.
pub async fn identify_client(
    db: &dyn Database,
    credentials: ClientCredentials<'_>,
) -> Result<CallingClient, TokenError> {
    if credentials.secret.is_some() {
        return authenticate_client(db, credentials).await;
    }
    let client = db
        .find_client(credentials.client_id)
        .await?
        .filter(|c| c.is_active)
        .ok_or(TokenError::InvalidClient)?;
    Ok(CallingClient {
        client,
        confidential: false,
    })
}
