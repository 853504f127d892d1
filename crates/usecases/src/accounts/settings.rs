//! Account and session settings (`HttpSettings::auth` in the HTTP layer).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Lifetime of a session token (the host app's bearer); refreshed by rotation.
    pub session_ttl: Duration,
    /// Lifetime of a refresh token; each rotation issues a new one with a fresh lifetime.
    pub refresh_ttl: Duration,
    /// Take the client address from the first `X-Forwarded-For` entry. Only behind a proxy
    /// that overwrites the header; otherwise clients could choose their rate-limit key (the
    /// per-address login budget of this service).
    pub trust_forwarded_for: bool,
    /// Issuer shown by authenticator apps for TOTP enrolments.
    pub totp_issuer: String,
}

impl AccountSettings {
    /// The session lifetime as a `time` duration (saturating).
    pub fn session_lifetime(&self) -> time::Duration {
        to_time(self.session_ttl)
    }

    /// The refresh-token lifetime as a `time` duration (saturating).
    pub fn refresh_lifetime(&self) -> time::Duration {
        to_time(self.refresh_ttl)
    }
}

/// A std duration as a `time` one, saturating instead of failing.
pub fn to_time(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(24 * 3600),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            trust_forwarded_for: false,
            totp_issuer: "TMCP".into(),
        }
    }
}
