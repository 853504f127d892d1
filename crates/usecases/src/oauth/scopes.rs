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
/// `None` when the parameter is absent; a refusal is `invalid_scope`.
pub fn parse_requested(
    raw: Option<&str>,
    client: &OAuthClient,
) -> Result<Option<ScopeSet>, TokenError> {
    check_requested(raw, client).map_err(TokenError::InvalidScope)
}

/// [`parse_requested`] with the refusal as its description alone (the authorization
/// pages send it back to the client's redirect URI).
pub fn check_requested(
    raw: Option<&str>,
    client: &OAuthClient,
) -> Result<Option<ScopeSet>, String> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if raw.len() > MAX_SCOPE_LEN {
        return Err("scope is too long".to_owned());
    }
    let allowed = registered(client);
    for scope in raw.split(' ').filter(|s| !s.is_empty()) {
        if rules(scope).is_none() {
            return Err(format!("unknown scope {}", printable(scope)));
        }
        if !allowed.contains(scope) {
            return Err(format!(
                "scope {} is not registered for this client",
                printable(scope)
            ));
        }
    }
    ScopeSet::parse(raw).map(Some).map_err(|e| e.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn client(scopes: &[&str], official: bool) -> OAuthClient {
        OAuthClient {
            client_id: "ma_notes".into(),
            client_secret_hash: None,
            app_id: None,
            name: "Notes".into(),
            redirect_uris: Vec::new(),
            grant_types: Vec::new(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            is_official: official,
            is_active: true,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn description(error: TokenError) -> String {
        match error {
            TokenError::InvalidScope(description) => description,
            other => panic!("expected invalid_scope, got {other:?}"),
        }
    }

    #[test]
    fn official_only_scopes_are_usable_by_official_clients_only() {
        let scopes = ["storage:read", "analytics:detailed"];
        assert_eq!(
            registered(&client(&scopes, false)).to_string(),
            "storage:read"
        );
        assert!(registered(&client(&scopes, true)).contains("analytics:detailed"));
    }

    #[test]
    fn requested_scopes_must_be_known_and_registered() {
        let notes = client(&["storage:read", "user:read"], false);
        assert!(parse_requested(None, &notes).expect("absent").is_none());
        let granted = parse_requested(Some("storage:read"), &notes)
            .expect("registered")
            .expect("present");
        assert_eq!(granted.to_string(), "storage:read");
        let unknown = parse_requested(Some("storage:read\u{7}bogus"), &notes).expect_err("unknown");
        assert_eq!(description(unknown), "unknown scope storage:readbogus");
        let unregistered = parse_requested(Some("wallet:pay"), &notes).expect_err("unregistered");
        assert_eq!(
            description(unregistered),
            "scope wallet:pay is not registered for this client"
        );
        let long = "a".repeat(MAX_SCOPE_LEN + 1);
        assert_eq!(
            description(parse_requested(Some(&long), &notes).expect_err("long")),
            "scope is too long"
        );
    }

    #[test]
    fn storage_needs_no_consent_and_webhooks_are_app_level() {
        let set = registered(&client(
            &["storage:read", "user:read", "webhook:send"],
            false,
        ));
        assert_eq!(without_consent(&set).to_string(), "storage:read");
        assert_eq!(app_level(&set).to_string(), "webhook:send");
        assert_eq!(
            from_stored(&["retired:scope".to_owned(), "user:read".to_owned()]).to_string(),
            "user:read"
        );
    }
}
