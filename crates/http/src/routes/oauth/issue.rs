//! The answer of a successful grant as RFC 6749 §5.1 shapes it; the grants themselves are
//! the OAuth service's use cases (`tmcp_usecases::oauth::grants`).

use serde::Serialize;
pub use tmcp_usecases::oauth::issue::ACCESS_TOKEN_TYPE;
use tmcp_usecases::oauth::IssuedTokens;
use utoipa::ToSchema;

/// A successful token answer (RFC 6749 §5.1, RFC 8693 §2.2.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// `tep.` + a signed JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// A rotating refresh token (authorization code, device and refresh grants).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scopes, space separated.
    pub scope: String,
    /// The user the token speaks for (absent for client credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The user's wallet (`tw_` + 32 hex; absent for client credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wallet_id: Option<String>,
    /// Token exchange only: `urn:ietf:params:oauth:token-type:access_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<String>,
}

impl From<IssuedTokens> for TokenResponse {
    fn from(issued: IssuedTokens) -> Self {
        Self {
            access_token: issued.access_token,
            token_type: "Bearer".into(),
            expires_in: issued.expires_in,
            refresh_token: issued.refresh_token,
            scope: issued.scope,
            user_id: issued.user_id.map(|u| u.to_string()),
            wallet_id: issued.wallet_id,
            issued_token_type: issued.issued_token_type.map(str::to_owned),
        }
    }
}
