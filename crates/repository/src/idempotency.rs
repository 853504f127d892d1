//! Idempotency keys of money-moving requests. A request that creates a resource claims its
//! key in the same unit of work that inserts the resource ([`IdempotencyTx`]), and stores
//! its reply in the same unit of work as the resource's final state change. A replay then
//! finds nothing (nothing happened), a running request (`reply == None`) or the final
//! answer, also after a crash or a restart. The rules that read a record (fingerprint
//! comparison, waiting for a running request) live in `tmcp_usecases::idempotency`.

use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::{AppId, UserId};

/// The `scope` column of a call made with a session (no app).
pub const SESSION_SCOPE: &str = "-";

/// Whose key it is: keys of different apps, or of a session and an app, never collide.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyScope {
    /// The calling mini-app; `None` for a call made with the user's session.
    pub app_id: Option<AppId>,
    pub user_id: UserId,
}

impl IdempotencyScope {
    /// The `scope` column: the app id, or [`SESSION_SCOPE`].
    pub fn scope_column(&self) -> &str {
        self.app_id.as_ref().map_or(SESSION_SCOPE, AppId::as_str)
    }

    /// Rebuilds the scope from the stored columns.
    pub fn from_columns(scope: &str, user_id: UserId) -> RepoResult<Self> {
        let app_id = if scope == SESSION_SCOPE {
            None
        } else {
            Some(AppId::parse(scope).map_err(|_| {
                crate::RepoError::Internal(format!("bad stored idempotency scope {scope:?}"))
            })?)
        };
        Ok(Self { app_id, user_id })
    }
}

/// A finished request's answer, replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    pub status: u16,
    /// The JSON text of the body.
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub scope: IdempotencyScope,
    /// 1..=255 visible ASCII characters (checked by the use case and the database).
    pub key: String,
    /// What the key was used for, e.g. `top_up`, `payment_request`, `payment_refund`.
    pub operation: String,
    /// SHA-256 of method + path + canonical JSON body.
    pub fingerprint: [u8; 32],
    /// The id of the resource the request created (top-up, payment, refund).
    pub resource_id: String,
    /// `None` while the request is still running.
    pub reply: Option<StoredReply>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// The idempotency steps inside an engine's money unit of work (`PgWalletTx`,
/// `SqliteWalletTx`), so the key commits or rolls back with the resource and its reply.
#[async_trait]
pub trait IdempotencyTx: Send {
    /// Inserts the record unless (scope, key) exists; returns the existing record then and
    /// inserts nothing. On PostgreSQL a concurrent claimer of the same key waits for the
    /// first one's transaction (`INSERT … ON CONFLICT DO NOTHING`) and then sees its row;
    /// if that transaction rolled back, the waiter's insert goes through.
    async fn claim_idempotency_key(
        &mut self,
        record: &IdempotencyRecord,
    ) -> RepoResult<Option<IdempotencyRecord>>;

    /// Stores the final reply of a running request. `RepoError::Conflict` with constraint
    /// [`REPLY_STORED`] when the key does not exist or already has a reply: a request
    /// finishes once.
    async fn store_idempotent_reply(
        &mut self,
        scope: &IdempotencyScope,
        key: &str,
        reply: &StoredReply,
    ) -> RepoResult<()>;
}

/// The constraint name of the conflict [`IdempotencyTx::store_idempotent_reply`] reports.
pub const REPLY_STORED: &str = "idempotency_keys_reply_stored";

#[async_trait]
pub trait IdempotencyRepository: Send + Sync {
    /// The record of (scope, key), as committed.
    async fn idempotency_record(
        &self,
        scope: &IdempotencyScope,
        key: &str,
    ) -> RepoResult<Option<IdempotencyRecord>>;

    /// [`IdempotencyTx::claim_idempotency_key`] as a unit of work of its own (for callers
    /// whose resource lives elsewhere, and for the contract suite).
    async fn claim_idempotency_key(
        &self,
        record: &IdempotencyRecord,
    ) -> RepoResult<Option<IdempotencyRecord>>;

    /// [`IdempotencyTx::store_idempotent_reply`] as a unit of work of its own.
    async fn store_idempotent_reply(
        &self,
        scope: &IdempotencyScope,
        key: &str,
        reply: &StoredReply,
    ) -> RepoResult<()>;

    /// Deletes up to `limit` records whose `expires_at <= now` and whose request finished
    /// (a record still running is kept until its resource is settled, so the recovery
    /// job can store its reply); returns how many went.
    async fn purge_idempotency_keys(&self, now: OffsetDateTime, limit: u32) -> RepoResult<u64>;
}
