//! One module per grant type of `POST /oauth2/token`, and the check every grant passes
//! first. The HTTP layer parses the form into each grant's input and renders the answer.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod refresh_token;
pub mod token_exchange;

use super::grant_types::{client_may_use, ALL};
use super::issue::CallingClient;
use super::token_error::TokenError;

/// A grant type this server knows, and that the client registered.
pub fn check_grant_type(caller: &CallingClient, grant_type: &str) -> Result<(), TokenError> {
    if !ALL.contains(&grant_type) {
        return Err(TokenError::UnsupportedGrantType);
    }
    if !client_may_use(&caller.client, grant_type) {
        return Err(TokenError::UnauthorizedClient(
            "this client is not registered for the grant type".into(),
        ));
    }
    Ok(())
}
