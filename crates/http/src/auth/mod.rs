//! Authentication building blocks shared by every protected route: TEP tokens and signing
//! keys, the session extractor, password hashing, second-factor checks, login throttling,
//! settings and the error answers of the account area.

pub mod client;
pub mod errors;
pub mod keys;
pub mod password;
pub mod second_factor;
pub mod session;
pub mod settings;
pub mod tep;
pub mod throttle;

pub use session::SessionPrincipal;
pub use settings::AuthSettings;
pub use tep::{MintedTep, TepMint, TepPrincipal, TepService, TepSettings};
