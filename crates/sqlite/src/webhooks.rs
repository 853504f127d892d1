//! Webhook endpoints and outbox delivery state on SQLite. Writes go through the single
//! writer connection, so a claim (one `UPDATE … RETURNING`) can never hand an event to two
//! workers; the lease covers a worker that died mid-delivery.

use crate::time_text::{from_opt_text, from_text, to_text};
use crate::{map_sqlx_error, SqliteDatabase};
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
    Option<String>,
    Option<String>,
    String,
    String,
);

type StateRow = (
    Uuid,
    String,
    String,
    String,
    i32,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn status_of(text: &str) -> RepoResult<DeliveryStatus> {
    DeliveryStatus::parse(text)
        .ok_or_else(|| RepoError::Internal(format!("unknown delivery status {text:?}")))
}

#[async_trait]
impl WebhookRepository for SqliteDatabase {
    async fn upsert_webhook_endpoint(&self, e: WebhookEndpoint) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO webhook_endpoints (app_id, url, secret_sealed, previous_secret_sealed, \
             previous_secret_expires_at, disabled_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (app_id) DO UPDATE SET url = excluded.url, \
             secret_sealed = excluded.secret_sealed, \
             previous_secret_sealed = excluded.previous_secret_sealed, \
             previous_secret_expires_at = excluded.previous_secret_expires_at, \
             disabled_at = excluded.disabled_at, updated_at = excluded.updated_at",
        )
        .bind(&e.app_id)
        .bind(&e.url)
        .bind(&e.secret_sealed)
        .bind(&e.previous_secret_sealed)
        .bind(e.previous_secret_expires_at.map(to_text))
        .bind(e.disabled_at.map(to_text))
        .bind(to_text(e.created_at))
        .bind(to_text(e.updated_at))
        .execute(&self.writer)
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
        .fetch_optional(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        row.map(
            |(app_id, url, secret, previous, expires, disabled, created, updated)| {
                Ok(WebhookEndpoint {
                    app_id,
                    url,
                    secret_sealed: secret,
                    previous_secret_sealed: previous,
                    previous_secret_expires_at: from_opt_text(expires)?,
                    disabled_at: from_opt_text(disabled)?,
                    created_at: from_text(&created)?,
                    updated_at: from_text(&updated)?,
                })
            },
        )
        .transpose()
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
        .bind(to_text(overlap_until))
        .bind(to_text(at))
        .execute(&self.writer)
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
        .bind(to_text(at))
        .execute(&self.writer)
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
        .bind(event.payload.to_string())
        .bind(to_text(event.created_at))
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn claim_due_events(&self, claim: ClaimRequest) -> RepoResult<Vec<ClaimedEvent>> {
        type Row = (Uuid, String, String, String, String, i32);
        let now = to_text(claim.now);
        let rows: Vec<Row> = sqlx::query_as(
            "UPDATE webhook_outbox SET lease_owner = $3, lease_until = $2, \
               attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM webhook_outbox \
               WHERE status = 'pending' AND coalesce(next_attempt_at, created_at) <= $1 \
               AND (lease_until IS NULL OR lease_until <= $1) \
               ORDER BY coalesce(next_attempt_at, created_at), id LIMIT $4) \
             RETURNING id, app_id, event, payload, created_at, attempts",
        )
        .bind(&now)
        .bind(to_text(claim.lease_until))
        .bind(claim.lease_owner)
        .bind(claim.limit)
        .fetch_all(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        let mut claimed = rows
            .into_iter()
            .map(|(id, app_id, event, payload, created, attempt)| {
                Ok(ClaimedEvent {
                    id,
                    app_id,
                    event,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| RepoError::Internal(format!("bad outbox payload: {e}")))?,
                    created_at: from_text(&created)?,
                    attempt,
                    lease_owner: claim.lease_owner,
                })
            })
            .collect::<RepoResult<Vec<_>>>()?;
        claimed.sort_by_key(|e| (e.created_at, e.id));
        Ok(claimed)
    }

    async fn record_delivery(
        &self,
        lease_owner: Uuid,
        attempt: DeliveryAttempt,
        outcome: DeliveryOutcome,
    ) -> RepoResult<bool> {
        let (status, next, delivered) = match &outcome {
            DeliveryOutcome::Delivered { at } => {
                (DeliveryStatus::Delivered, None, Some(to_text(*at)))
            }
            DeliveryOutcome::Retry { next_attempt_at } => (
                DeliveryStatus::Pending,
                Some(to_text(*next_attempt_at)),
                None,
            ),
            DeliveryOutcome::Stop { status } => (*status, None, None),
        };
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
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
        .bind(to_text(attempt.attempted_at))
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(true)
    }

    async fn oldest_due_event(&self, now: OffsetDateTime) -> RepoResult<Option<OffsetDateTime>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT coalesce(next_attempt_at, created_at) FROM webhook_outbox \
             WHERE status = 'pending' AND coalesce(next_attempt_at, created_at) <= $1 \
             ORDER BY coalesce(next_attempt_at, created_at), id LIMIT 1",
        )
        .bind(to_text(now))
        .fetch_optional(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        row.map(|(at,)| from_text(&at)).transpose()
    }

    async fn delivery_state(&self, event_id: Uuid) -> RepoResult<Option<DeliveryState>> {
        let row: Option<StateRow> = sqlx::query_as(
            "SELECT id, app_id, event, status, attempts, next_attempt_at, delivered_at, \
             last_error FROM webhook_outbox WHERE id = $1",
        )
        .bind(event_id)
        .fetch_optional(&self.writer)
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
                    next_attempt_at: from_opt_text(next)?,
                    delivered_at: from_opt_text(delivered)?,
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
        .fetch_all(&self.writer)
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
                        next_attempt_at: from_opt_text(next)?,
                        delivered_at: from_opt_text(delivered)?,
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
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, event_id, app_id, attempt, status_code, duration_ms, error, attempted_at \
             FROM webhook_attempts WHERE event_id = $1 ORDER BY attempted_at, attempt, id",
        )
        .bind(event_id)
        .fetch_all(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter()
            .map(
                |(id, event_id, app_id, attempt, status_code, duration_ms, error, at)| {
                    Ok(DeliveryAttempt {
                        id,
                        event_id,
                        app_id,
                        attempt,
                        status_code,
                        duration_ms,
                        error,
                        attempted_at: from_text(&at)?,
                    })
                },
            )
            .collect()
    }

    async fn requeue_event(&self, event_id: Uuid, at: OffsetDateTime) -> RepoResult<bool> {
        let done = sqlx::query(
            "UPDATE webhook_outbox SET status = 'pending', attempts = 0, next_attempt_at = $2, \
             lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND status IN ('dead', 'failed')",
        )
        .bind(event_id)
        .bind(to_text(at))
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_webhook_history(&self, before: OffsetDateTime, limit: i64) -> RepoResult<u64> {
        // Attempts go with their event (ON DELETE CASCADE; foreign keys are on).
        let done = sqlx::query(
            "DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM webhook_outbox \
             WHERE status IN ('delivered', 'failed', 'dead') AND created_at < $1 \
             ORDER BY created_at LIMIT $2)",
        )
        .bind(to_text(before))
        .bind(limit)
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected())
    }
}
