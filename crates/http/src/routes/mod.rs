pub mod bench;
pub mod meta;
pub mod wellknown;
