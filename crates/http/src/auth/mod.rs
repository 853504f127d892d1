//! Authentication building blocks shared by every protected route.

pub mod keys;
pub mod tep;

pub use tep::{MintedTep, TepMint, TepPrincipal, TepService, TepSettings};
