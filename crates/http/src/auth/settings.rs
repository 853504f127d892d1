//! Account and session settings (part of `HttpSettings`).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Lifetime of a session token (the host app's bearer); refreshed by rotation.
    pub session_ttl: Duration,
    /// Lifetime of a refresh token; each rotation issues a new one with a fresh lifetime.
    pub refresh_ttl: Duration,
    /// Take the client address from the first `X-Forwarded-For` entry. Only behind a proxy
    /// that overwrites the header; otherwise clients could choose their rate-limit key.
    pub trust_forwarded_for: bool,
    /// Issuer shown by authenticator apps for TOTP enrolments.
    pub totp_issuer: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(24 * 3600),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            trust_forwarded_for: false,
            totp_issuer: "TMCP".into(),
        }
    }
}
