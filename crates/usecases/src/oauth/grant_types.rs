//! The grant types of `POST /oauth2/token`, and which a client may use.

pub const AUTHORIZATION_CODE: &str = "authorization_code";
pub const REFRESH_TOKEN: &str = "refresh_token";
pub const CLIENT_CREDENTIALS: &str = "client_credentials";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub const ALL: &[&str] = &[
    AUTHORIZATION_CODE,
    REFRESH_TOKEN,
    TOKEN_EXCHANGE,
    DEVICE_CODE,
    CLIENT_CREDENTIALS,
];

/// Whether the client registered `grant`. Refreshing is allowed to every client that can
/// obtain refresh tokens (authorization code or device grants).
pub fn client_may_use(client: &tmcp_repository::OAuthClient, grant: &str) -> bool {
    let has = |g: &str| client.grant_types.iter().any(|t| t == g);
    has(grant) || (grant == REFRESH_TOKEN && (has(AUTHORIZATION_CODE) || has(DEVICE_CODE)))
}
