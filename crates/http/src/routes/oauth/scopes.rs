//! Which scopes a request may get is the OAuth service's rule (`tmcp_usecases::oauth::scopes`);
//! here the pages' wording of each scope, and the rule with its RFC 6749 answer.

use super::error::OAuthError;
use tmcp_domain::scope::ScopeSet;
use tmcp_repository::OAuthClient;
pub use tmcp_usecases::oauth::scopes::registered;

/// [`tmcp_usecases::oauth::scopes::parse_requested`], refused as `invalid_scope`.
pub fn parse_requested(
    raw: Option<&str>,
    client: &OAuthClient,
) -> Result<Option<ScopeSet>, OAuthError> {
    Ok(tmcp_usecases::oauth::scopes::parse_requested(raw, client)?)
}

/// Plain-language description of a scope for the consent pages.
pub fn describe(scope: &str) -> &'static str {
    match scope {
        "user:read" => "See your name and profile picture",
        "user:read:extended" => "See your full profile (email, phone, location)",
        "storage:read" => "Read data this app stored for you",
        "storage:write" => "Store data for you in this app",
        "wallet:balance" => "See your wallet balance",
        "wallet:history" => "See your wallet transaction history",
        "wallet:pay" => "Ask you to approve payments",
        "webhook:send" => "Send you notifications through its server",
        "analytics:detailed" => "Collect detailed usage analytics",
        "system:notifications" => "Send system notifications",
        _ => "Unknown permission",
    }
}
