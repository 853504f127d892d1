//! The mini-app store and developer registry (docs/store.md): registration, the developer's
//! apps, versions and packages, the review workflow, categories, browse and search,
//! installs and reviews. Each submodule is one group of use cases; all share
//! [`StoreError`] and [`StoreSettings`].

pub mod apps;
pub mod categories;
pub mod error;
pub mod installs;
pub mod packages;
pub mod registration;
pub mod review;
pub mod reviews;
pub mod search;
pub mod search_cache;

pub use error::StoreError;

/// Limits of the store.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Largest package a developer may upload (bytes).
    pub max_package_bytes: u64,
    /// Longest page of a listing.
    pub max_page: i64,
    /// Webhook URLs may be private, loopback or plain `http` (local development only;
    /// follows `[webhooks] allow_private_targets`).
    pub allow_private_webhook_targets: bool,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            max_package_bytes: 20 * 1024 * 1024,
            max_page: 100,
            allow_private_webhook_targets: false,
        }
    }
}

/// Who is acting on the store: the session's user and role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user: tmcp_domain::UserId,
    pub role: tmcp_domain::user::Role,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == tmcp_domain::user::Role::Admin
    }
}
