//! Pure domain types of TMCP: typed identifiers, money, validated values, state machines and
//! the injected clock. Nothing here touches I/O, so every rule is unit-testable.

pub mod analytics;
pub mod auth;
pub mod clock;
pub mod crypto;
pub mod cursor;
pub mod ids;
pub mod money;
pub mod oauth;
pub mod payment_state;
pub mod scope;
pub mod storage;
pub mod store;
pub mod user;
pub mod wallet;

pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{AppId, PaymentId, SessionId, UserId};
pub use money::{Currency, Money, MoneyError};
