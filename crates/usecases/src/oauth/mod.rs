//! The OAuth service: client registration (used by `admin create-client`, later by the
//! store's developer registration), the grant-type vocabulary and which client may use
//! which grant, and the service's settings.

pub mod clients;
pub mod device_flow;
pub mod error;
pub mod grant_types;
pub mod settings;
pub mod withdrawal;

pub use clients::{register_client, ClientRegistration, RegisteredClient};
pub use error::OAuthServiceError;
pub use settings::OAuthSettings;
pub use withdrawal::{withdraw_grant, Withdrawn};
