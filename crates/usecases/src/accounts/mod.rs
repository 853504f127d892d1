//! The accounts service: registration, password login with its second factors, and the
//! session settings. Callers: the account routes, the OAuth browser pages and the admin CLI.

pub mod deletion;
pub mod devices;
pub mod error;
pub mod login;
pub mod mfa;
pub mod mfa_changes;
pub mod password;
pub mod profile;
pub mod registration;
pub mod second_factor;
pub mod session_token;
pub mod sessions;
pub mod settings;
pub mod validate;

pub use error::AccountsError;
pub use login::{
    password_login, reauthenticate, AccountLockout, LoggedIn, LoginError, LoginThrottle,
    PasswordLogin,
};
pub use registration::{create_account, NewAccount};
pub use second_factor::SecondFactor;
pub use session_token::resolve_session_token;
pub use settings::AccountSettings;

use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::Clock;
use tmcp_repository::Database;

/// What the account use cases work with: the repositories, the clock and the column cipher
/// (phones and second-factor secrets are sealed with it).
#[derive(Clone, Copy)]
pub struct AccountPorts<'a> {
    pub db: &'a dyn Database,
    pub clock: &'a dyn Clock,
    pub cipher: &'a FieldCipher,
}
