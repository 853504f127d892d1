//! Authentication building blocks shared by the account, device and MFA routes (and by the
//! OAuth layer): settings, password hashing, the session extractor, second-factor checks,
//! login throttling and the error answers they produce.

pub mod client;
pub mod errors;
pub mod password;
pub mod second_factor;
pub mod session;
pub mod settings;
pub mod throttle;

pub use session::SessionPrincipal;
pub use settings::AuthSettings;
