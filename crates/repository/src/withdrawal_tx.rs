//! A user withdrawing a client's grant, shared by every engine. An engine opens one unit of
//! work for the (user, client), exposes it as a [`WithdrawalTx`] and calls [`withdraw`]; what
//! leaves the consent, what counts as revoked and whether the app is told are decided here
//! once.
//!
//! The consent row is the pair's revocation mark: its `revoked_at` kills every token issued
//! at or before it (see `IssuedTokenRepository::token_is_live`). A withdrawal therefore always
//! writes that row — even when the user never consented to anything, because scopes that need
//! no consent (`storage:read`/`storage:write`) are issued without one — so a token minted
//! concurrently with the withdrawal dies too, whether or not the row revocation saw it.

use crate::oauth::{ConsentWithdrawal, OutboxEvent};
use crate::{RepoError, RepoResult};
use async_trait::async_trait;
use std::collections::BTreeSet;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The `oauth_tokens.token_type` of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    pub fn from_db(text: &str) -> RepoResult<Self> {
        match text {
            "access" => Ok(Self::Access),
            "refresh" => Ok(Self::Refresh),
            other => Err(RepoError::Internal(format!("bad token type {other:?}"))),
        }
    }
}

/// A token row as it was just before the withdrawal revoked it.
#[derive(Debug, Clone, PartialEq)]
pub struct RevokedToken {
    pub kind: TokenKind,
    pub scopes: Vec<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// A refresh token already replaced by rotation.
    pub rotated: bool,
}

impl RevokedToken {
    /// Whether the app could still have used it. Rows that were dead already — expired,
    /// rotated, or issued before an earlier withdrawal's mark — are revoked too (for the
    /// record) but not reported as revoked.
    fn was_usable(&self, at: OffsetDateTime, earlier_mark: Option<OffsetDateTime>) -> bool {
        self.expires_at > at && !self.rotated && earlier_mark.is_none_or(|m| self.created_at > m)
    }
}

/// The pair's consent row as the withdrawal found it.
#[derive(Debug, Clone, PartialEq)]
pub struct LockedConsent {
    pub scopes: Vec<String>,
    /// The previous withdrawal's mark.
    pub revoked_at: Option<OffsetDateTime>,
}

/// One engine's open unit of work on one (user, client).
#[async_trait]
pub trait WithdrawalTx: Send {
    /// Makes sure the pair's consent row exists and holds it until the unit of work ends, so
    /// withdrawals, consents and refresh rotations of the pair are serialised. Returns the
    /// row as it was, or `None` when there was none (one is then created, empty).
    async fn lock_consent(&mut self, at: OffsetDateTime) -> RepoResult<Option<LockedConsent>>;

    /// Stores the consent's scopes with `revoked_at` = `updated_at` = `at`.
    async fn store_consent(&mut self, scopes: &[String], at: OffsetDateTime) -> RepoResult<()>;

    /// Sets `revoked_at` on every access and refresh token row of the pair not revoked yet,
    /// and returns those rows.
    async fn revoke_tokens(&mut self, at: OffsetDateTime) -> RepoResult<Vec<RevokedToken>>;

    /// Inserts a `webhook_outbox` row.
    async fn enqueue(&mut self, event: &OutboxEvent) -> RepoResult<()>;
}

/// What a withdrawal did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Withdrawn {
    /// Scopes the app lost: consented ones and those of the usable tokens that died (all of
    /// them, or those of the requested scopes, for a partial withdrawal). Sorted.
    pub revoked_scopes: Vec<String>,
    /// Consented scopes still approved (partial withdrawal). Sorted.
    pub remaining_scopes: Vec<String>,
    /// Unexpired access tokens (TEPs) that died.
    pub tokens_revoked: u64,
    /// Unexpired, unrotated refresh tokens that died.
    pub refresh_tokens_revoked: u64,
    /// A `scope.revoked` event was queued: only when something was revoked, so repeating a
    /// withdrawal, or withdrawing an app the user never used, tells the app nothing.
    pub event_queued: bool,
}

/// The `scope.revoked` event: the name of the outbox row and of its payload's `event`.
pub const SCOPE_REVOKED: &str = "scope.revoked";

/// Runs one withdrawal in `tx` (the caller commits).
pub async fn withdraw<T: WithdrawalTx + ?Sized>(
    tx: &mut T,
    withdrawal: &ConsentWithdrawal,
) -> RepoResult<Withdrawn> {
    let at = withdrawal.at;
    let (consented, earlier_mark) = match tx.lock_consent(at).await? {
        Some(row) => (row.scopes.into_iter().collect(), row.revoked_at),
        None => (BTreeSet::new(), None),
    };
    let tokens = tx.revoke_tokens(at).await?;
    let usable: Vec<&RevokedToken> = tokens
        .iter()
        .filter(|t| t.was_usable(at, earlier_mark))
        .collect();
    let held: BTreeSet<&String> = consented
        .iter()
        .chain(usable.iter().flat_map(|t| t.scopes.iter()))
        .collect();
    let chosen = |s: &String| {
        withdrawal
            .scopes
            .as_ref()
            .is_none_or(|only| only.contains(s))
    };
    let revoked_scopes: Vec<String> = held.into_iter().filter(|s| chosen(s)).cloned().collect();
    let remaining_scopes: Vec<String> = consented.into_iter().filter(|s| !chosen(s)).collect();
    tx.store_consent(&remaining_scopes, at).await?;
    let count = |kind: TokenKind| {
        let n = usable.iter().filter(|t| t.kind == kind).count();
        u64::try_from(n).unwrap_or(u64::MAX)
    };
    let mut withdrawn = Withdrawn {
        revoked_scopes,
        remaining_scopes,
        tokens_revoked: count(TokenKind::Access),
        refresh_tokens_revoked: count(TokenKind::Refresh),
        event_queued: false,
    };
    let anything = !withdrawn.revoked_scopes.is_empty()
        || withdrawn.tokens_revoked > 0
        || withdrawn.refresh_tokens_revoked > 0;
    if anything {
        tx.enqueue(&scope_revoked(withdrawal, &withdrawn)?).await?;
        withdrawn.event_queued = true;
    }
    Ok(withdrawn)
}

fn scope_revoked(withdrawal: &ConsentWithdrawal, done: &Withdrawn) -> RepoResult<OutboxEvent> {
    let revoked_at = withdrawal
        .at
        .format(&Rfc3339)
        .map_err(|e| RepoError::Internal(format!("withdrawal instant: {e}")))?;
    Ok(OutboxEvent {
        id: withdrawal.event_id,
        app_id: withdrawal.app_id.clone(),
        event: SCOPE_REVOKED.into(),
        payload: serde_json::json!({
            "event": SCOPE_REVOKED,
            "user_id": withdrawal.user.to_string(),
            "client_id": withdrawal.client_id,
            "scopes": done.revoked_scopes,
            "remaining_scopes": done.remaining_scopes,
            "revoked_at": revoked_at,
        }),
        created_at: withdrawal.at,
    })
}
