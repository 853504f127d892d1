//! Authentication building blocks shared by every protected route: TEP tokens and signing
//! keys, the session extractor, password hashing, second-factor checks, login throttling,
//! settings and the error answers of the account area.

/// Implements `Debug` for a struct holding secrets: the `shown` fields print as usual, the
/// `secret` ones as `<redacted>`, so a `{:?}` in a log line can never leak a password, PIN,
/// code or token.
macro_rules! redacted_debug {
    ($ty:ident { $($shown:ident),* ; $($secret:ident),* $(,)? }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($secret), &"<redacted>"))*
                    .finish()
            }
        }
    };
}
pub(crate) use redacted_debug;

pub mod caller;
pub mod client;
pub mod errors;
pub mod keys;
pub mod second_factor;
pub mod session;
pub mod tep;
mod tep_extract;
mod tep_ports;
pub mod throttle;

pub use caller::SessionOrTep;
pub use session::SessionPrincipal;
pub use tep::{MintedTep, TepMint, TepPrincipal, TepService, TepSettings};
/// Argon2id hashing lives with the accounts service.
pub use tmcp_usecases::accounts::password;
/// Account and session settings live with the accounts service.
pub use tmcp_usecases::accounts::AccountSettings as AuthSettings;
