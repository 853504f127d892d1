pub mod accounts;
pub mod bench;
pub mod devices;
pub mod meta;
pub mod mfa;
pub mod oauth;
pub mod storage;
pub mod wellknown;
