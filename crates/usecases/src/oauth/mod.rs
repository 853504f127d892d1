//! The OAuth service: client registration (used by `admin create-client`, later by the
//! store's developer registration), the grant-type vocabulary and which client may use
//! which grant, the grants of the token endpoint, revocation and introspection (through the
//! TEP ports in `tokens`), the device flow, withdrawal, and the service's settings.

pub mod authorization;
pub mod client_auth;
pub mod clients;
pub mod consent;
pub mod device_flow;
pub mod error;
pub mod grant_types;
pub mod grants;
pub mod introspection;
pub mod issue;
pub mod revocation;
pub mod scopes;
pub mod settings;
pub mod token_error;
pub mod tokens;
pub mod withdrawal;

pub use clients::{register_client, ClientRegistration, RegisteredClient};
pub use error::OAuthServiceError;
pub use issue::{CallingClient, IssuedTokens, TokenPorts};
pub use settings::OAuthSettings;
pub use token_error::TokenError;
pub use tokens::{GrantTep, SignedTep, TepClaims, TokenMinter, TokenVerifier};
pub use withdrawal::{withdraw_grant, Withdrawn};
