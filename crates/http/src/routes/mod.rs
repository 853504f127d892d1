pub mod accounts;
pub mod devices;
pub mod meta;
pub mod mfa;
pub mod wellknown;
