//! Which scopes a request may get: only known scopes the client registered, official-only
//! scopes only for official clients (the TMCP protocol §2).

use super::token_error::TokenError;
use tmcp_domain::oauth::APP_LEVEL_SCOPES;
use tmcp_domain::scope::{rules, ScopeSet};
use tmcp_repository::OAuthClient;

/// Longest accepted `scope` parameter.
pub const MAX_SCOPE_LEN: usize = 1024;

/// A short, printable rendering of client-supplied text for error descriptions.
pub fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// The scopes the client may ever receive: its registered, known scopes (official-only ones
/// only if the client is official).
pub fn registered(client: &OAuthClient) -> ScopeSet {
    let usable: Vec<&str> = client
        .scopes
        .iter()
        .map(String::as_str)
        .filter(|s| rules(s).is_some_and(|r| client.is_official || !r.official_only))
        .collect();
    ScopeSet::from_known(usable).unwrap_or_default()
}

/// Parses a requested `scope`: every entry must be known and registered by the client.
/// `None` when the parameter is absent.
pub fn parse_requested(
    raw: Option<&str>,
    client: &OAuthClient,
) -> Result<Option<ScopeSet>, TokenError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if raw.len() > MAX_SCOPE_LEN {
        return Err(TokenError::invalid_scope("scope is too long"));
    }
    let allowed = registered(client);
    for scope in raw.split(' ').filter(|s| !s.is_empty()) {
        if rules(scope).is_none() {
            return Err(TokenError::invalid_scope(format!(
                "unknown scope {}",
                printable(scope)
            )));
        }
        if !allowed.contains(scope) {
            return Err(TokenError::invalid_scope(format!(
                "scope {} is not registered for this client",
                printable(scope)
            )));
        }
    }
    ScopeSet::parse(raw)
        .map(Some)
        .map_err(|e| TokenError::invalid_scope(e.to_string()))
}

/// Scopes that need no user prompt (e.g. the app's own storage).
pub fn without_consent(scopes: &ScopeSet) -> ScopeSet {
    let free: Vec<&str> = scopes
        .iter()
        .filter(|s| rules(s).is_some_and(|r| !r.needs_consent))
        .collect();
    ScopeSet::from_known(free).unwrap_or_default()
}

/// The app-level scopes (usable without a user) among `scopes`.
pub fn app_level(scopes: &ScopeSet) -> ScopeSet {
    let app: Vec<&str> = scopes
        .iter()
        .filter(|s| APP_LEVEL_SCOPES.contains(s))
        .collect();
    ScopeSet::from_known(app).unwrap_or_default()
}

/// The known scopes among stored ones (a scope retired since is dropped).
pub fn from_stored(stored: &[String]) -> ScopeSet {
    let known: Vec<&str> = stored
        .iter()
        .map(String::as_str)
        .filter(|s| rules(s).is_some())
        .collect();
    ScopeSet::from_known(known).unwrap_or_default()
}
