pub mod envelope;
pub mod metrics;
pub mod request_id;
pub mod trace;
