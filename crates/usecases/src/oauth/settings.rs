//! Settings of the OAuth service (`HttpSettings::oauth` in the HTTP layer).

/// Limits of the OAuth 2.0 endpoints.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// Requests per minute to `/oauth2/token`, `/oauth2/revoke`, `/oauth2/introspect` and
    /// `/oauth2/device/authorization` per (client, caller address). the TMCP protocol §0: 30.
    pub token_rate_per_minute: u32,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        Self {
            token_rate_per_minute: 30,
        }
    }
}
