pub mod meta;
pub mod wellknown;
