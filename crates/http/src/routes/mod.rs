pub mod bench;
pub mod meta;
pub mod storage;
pub mod wellknown;
