pub mod boundary;
pub mod edge;
pub mod envelope;
pub mod head_limits;
pub mod limit;
pub mod metrics;
pub mod request_id;
