//! Webhook endpoints and outbox delivery state on PostgreSQL, on the system pool. Claims use
//! `FOR UPDATE SKIP LOCKED`, so concurrent workers pick disjoint events, and a lease, so an
//! event stays with its worker between the claim and the recorded outcome.

use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_repository::{
    ClaimRequest, ClaimedEvent, DeliveryAttempt, DeliveryOutcome, DeliveryState, DeliveryStatus,
    OutboxEvent, RepoError, RepoResult, WebhookEndpoint, WebhookRepository,
};
use uuid::Uuid;

type EndpointRow = (
    String,
    String,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    OffsetDateTime,
    OffsetDateTime,
);

type StateRow = (
    Uuid,
    String,
    String,
    String,
    i32,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    Option<String>,
);

fn status_of(text: &str) -> RepoResult<DeliveryStatus> {
    DeliveryStatus::parse(text)
        .ok_or_else(|| RepoError::Internal(format!("unknown delivery status {text:?}")))
}

#[async_trait]
impl WebhookRepository for PgDatabase {
    async fn upsert_webhook_endpoint(&self, e: WebhookEndpoint) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO webhook_endpoints (app_id, url, secret_sealed, previous_secret_sealed, \
             previous_secret_expires_at, disabled_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (app_id) DO UPDATE SET url = EXCLUDED.url, \
             secret_sealed = EXCLUDED.secret_sealed, \
             previous_secret_sealed = EXCLUDED.previous_secret_sealed, \
             previous_secret_expires_at = EXCLUDED.previous_secret_expires_at, \
             disabled_at = EXCLUDED.disabled_at, updated_at = EXCLUDED.updated_at",
        )
        .bind(&e.app_id)
        .bind(&e.url)
        .bind(&e.secret_sealed)
        .bind(&e.previous_secret_sealed)
        .bind(e.previous_secret_expires_at)
        .bind(e.disabled_at)
        .bind(e.created_at)
        .bind(e.updated_at)
        .execute(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn find_webhook_endpoint(&self, app_id: &str) -> RepoResult<Option<WebhookEndpoint>> {
        let row: Option<EndpointRow> = sqlx::query_as(
            "SELECT app_id, url, secret_sealed, previous_secret_sealed, \
             previous_secret_expires_at, disabled_at, created_at, updated_at \
             FROM webhook_endpoints WHERE app_id = $1",
        )
        .bind(app_id)
        .fetch_optional(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(row.map(
            |(app_id, url, secret, previous, expires, disabled, created, updated)| {
                WebhookEndpoint {
                    app_id,
                    url,
                    secret_sealed: secret,
                    previous_secret_sealed: previous,
                    previous_secret_expires_at: expires,
                    disabled_at: disabled,
                    created_at: created,
                    updated_at: updated,
                }
            },
        ))
    }

    async fn rotate_webhook_secret(
        &self,
        app_id: &str,
        new_secret_sealed: Vec<u8>,
        overlap_until: OffsetDateTime,
        at: OffsetDateTime,
    ) -> RepoResult<bool> {
        let done = sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret_sealed = secret_sealed, \
             previous_secret_expires_at = $3, secret_sealed = $2, updated_at = $4 \
             WHERE app_id = $1",
        )
        .bind(app_id)
        .bind(new_secret_sealed)
        .bind(overlap_until)
        .bind(at)
        .execute(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn disable_webhook_endpoint(&self, app_id: &str, at: OffsetDateTime) -> RepoResult<()> {
        sqlx::query(
            "UPDATE webhook_endpoints SET disabled_at = $2, updated_at = $2 \
             WHERE app_id = $1 AND disabled_at IS NULL",
        )
        .bind(app_id)
        .bind(at)
        .execute(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn enqueue_event(&self, event: OutboxEvent) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO webhook_outbox (id, app_id, event, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event.id)
        .bind(&event.app_id)
        .bind(&event.event)
        .bind(&event.payload)
        .bind(event.created_at)
        .execute(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn claim_due_events(&self, claim: ClaimRequest) -> RepoResult<Vec<ClaimedEvent>> {
        type Row = (Uuid, String, String, serde_json::Value, OffsetDateTime, i32);
        let rows: Vec<Row> = sqlx::query_as(
            "WITH due AS (SELECT id FROM webhook_outbox \
               WHERE status = 'pending' AND COALESCE(next_attempt_at, created_at) <= $1 \
               AND (lease_until IS NULL OR lease_until <= $1) \
               ORDER BY COALESCE(next_attempt_at, created_at), id LIMIT $4 \
               FOR UPDATE SKIP LOCKED) \
             UPDATE webhook_outbox o SET lease_owner = $3, lease_until = $2, \
               attempts = o.attempts + 1 \
             FROM due WHERE o.id = due.id \
             RETURNING o.id, o.app_id, o.event, o.payload, o.created_at, o.attempts",
        )
        .bind(claim.now)
        .bind(claim.lease_until)
        .bind(claim.lease_owner)
        .bind(claim.limit)
        .fetch_all(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        let mut claimed: Vec<ClaimedEvent> = rows
            .into_iter()
            .map(
                |(id, app_id, event, payload, created_at, attempt)| ClaimedEvent {
                    id,
                    app_id,
                    event,
                    payload,
                    created_at,
                    attempt,
                    lease_owner: claim.lease_owner,
                },
            )
            .collect();
        claimed.sort_by_key(|e| (e.created_at, e.id));
        Ok(claimed)
    }

    async fn record_delivery(
        &self,
        lease_owner: Uuid,
        attempt: DeliveryAttempt,
        outcome: DeliveryOutcome,
    ) -> RepoResult<bool> {
        let mut tx = self.system_tx().await?;
        let (status, next, delivered) = match &outcome {
            DeliveryOutcome::Delivered { at } => (DeliveryStatus::Delivered, None, Some(*at)),
            DeliveryOutcome::Retry { next_attempt_at } => {
                (DeliveryStatus::Pending, Some(*next_attempt_at), None)
            }
            DeliveryOutcome::Stop { status } => (*status, None, None),
        };
        let updated = sqlx::query(
            "UPDATE webhook_outbox SET status = $3, next_attempt_at = $4, delivered_at = $5, \
             last_error = $6, lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(attempt.event_id)
        .bind(lease_owner)
        .bind(status.as_str())
        .bind(next)
        .bind(delivered)
        .bind(&attempt.error)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        if updated.rows_affected() != 1 {
            tx.rollback().await.map_err(map_sqlx_error)?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhook_attempts (id, event_id, app_id, attempt, status_code, \
             duration_ms, error, attempted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(attempt.id)
        .bind(attempt.event_id)
        .bind(&attempt.app_id)
        .bind(attempt.attempt)
        .bind(attempt.status_code)
        .bind(attempt.duration_ms)
        .bind(&attempt.error)
        .bind(attempt.attempted_at)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(true)
    }

    async fn oldest_due_event(&self, now: OffsetDateTime) -> RepoResult<Option<OffsetDateTime>> {
        let row: Option<(OffsetDateTime,)> = sqlx::query_as(
            "SELECT COALESCE(next_attempt_at, created_at) FROM webhook_outbox \
             WHERE status = 'pending' AND COALESCE(next_attempt_at, created_at) <= $1 \
             ORDER BY COALESCE(next_attempt_at, created_at), id LIMIT 1",
        )
        .bind(now)
        .fetch_optional(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(row.map(|(at,)| at))
    }

    async fn delivery_state(&self, event_id: Uuid) -> RepoResult<Option<DeliveryState>> {
        let row: Option<StateRow> = sqlx::query_as(
            "SELECT id, app_id, event, status, attempts, next_attempt_at, delivered_at, \
             last_error FROM webhook_outbox WHERE id = $1",
        )
        .bind(event_id)
        .fetch_optional(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        row.map(
            |(id, app_id, event, status, attempts, next, delivered, last_error)| {
                Ok(DeliveryState {
                    id,
                    app_id,
                    event,
                    status: status_of(&status)?,
                    attempts,
                    next_attempt_at: next,
                    delivered_at: delivered,
                    last_error,
                })
            },
        )
        .transpose()
    }

    async fn app_events(&self, app_id: &str, limit: i64) -> RepoResult<Vec<DeliveryState>> {
        let rows: Vec<StateRow> = sqlx::query_as(
            "SELECT id, app_id, event, status, attempts, next_attempt_at, delivered_at, \
             last_error FROM webhook_outbox WHERE app_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(app_id)
        .bind(limit)
        .fetch_all(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter()
            .map(
                |(id, app_id, event, status, attempts, next, delivered, last_error)| {
                    Ok(DeliveryState {
                        id,
                        app_id,
                        event,
                        status: status_of(&status)?,
                        attempts,
                        next_attempt_at: next,
                        delivered_at: delivered,
                        last_error,
                    })
                },
            )
            .collect()
    }

    async fn delivery_attempts(&self, event_id: Uuid) -> RepoResult<Vec<DeliveryAttempt>> {
        type Row = (
            Uuid,
            Uuid,
            String,
            i32,
            Option<i32>,
            i64,
            Option<String>,
            OffsetDateTime,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, event_id, app_id, attempt, status_code, duration_ms, error, attempted_at \
             FROM webhook_attempts WHERE event_id = $1 ORDER BY attempted_at, attempt, id",
        )
        .bind(event_id)
        .fetch_all(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, event_id, app_id, attempt, status_code, duration_ms, error, attempted_at)| {
                    DeliveryAttempt {
                        id,
                        event_id,
                        app_id,
                        attempt,
                        status_code,
                        duration_ms,
                        error,
                        attempted_at,
                    }
                },
            )
            .collect())
    }

    async fn requeue_event(&self, event_id: Uuid, at: OffsetDateTime) -> RepoResult<bool> {
        let done = sqlx::query(
            "UPDATE webhook_outbox SET status = 'pending', attempts = 0, next_attempt_at = $2, \
             lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND status IN ('dead', 'failed')",
        )
        .bind(event_id)
        .bind(at)
        .execute(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_webhook_history(&self, before: OffsetDateTime, limit: i64) -> RepoResult<u64> {
        // Attempts go with their event (ON DELETE CASCADE).
        let done = sqlx::query(
            "DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM webhook_outbox \
             WHERE status IN ('delivered', 'failed', 'dead') AND created_at < $1 \
             ORDER BY created_at LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected())
    }
}
