//! The key-value storage service (the TMCP protocol §3): its scopes, settings and limits.

pub mod settings;

pub use settings::StorageSettings;

pub const SCOPE_READ: &str = "storage:read";
pub const SCOPE_WRITE: &str = "storage:write";
