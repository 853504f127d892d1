//! One module per grant type of `POST /oauth2/token`.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod refresh_token;
pub mod token_exchange;

/// The grant vocabulary and who may use which grant are the OAuth service's rules.
pub use tmcp_usecases::oauth::grant_types::{
    client_may_use, ALL, AUTHORIZATION_CODE, CLIENT_CREDENTIALS, DEVICE_CODE, REFRESH_TOKEN,
    TOKEN_EXCHANGE,
};
