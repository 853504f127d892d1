//! `StorageRepository` on PostgreSQL. Request work runs as `tmcp_app` in transactions scoped
//! to the user (row-level security); writes are units of work ([`unit::PgUnit`]) that take the
//! (user, app)'s quota row first; purges run on the system pool with the same lock order. The
//! decisions (versions, last-write-wins, sync strategies) are the shared ones of
//! `tmcp_repository::storage_tx`.

mod rows;
mod unit;

use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use rows::{EntryRow, SummaryRow, ENTRY_COLUMNS, SUMMARY_COLUMNS};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use tmcp_domain::storage::cursor::ChangeCursor;
use tmcp_domain::storage::sync::SyncOpError;
use tmcp_domain::storage::StorageKey;
use tmcp_domain::{AppId, UserId};
use tmcp_repository::storage_tx;
use tmcp_repository::{
    Change, ChangeKind, ChangePage, ConflictRecord, ConflictResolution, EntrySummary, ListQuery,
    QuotaSnapshot, QuotaUsage, RepoError, RepoResult, ResolveOutcome, StorageRepository,
    StoredEntry, SyncApplied, SyncOp, SyncStatus, WriteContext, WriteOp, WriteOutcome,
};
use unit::PgUnit;
use uuid::Uuid;

type QuotaRow = (i64, i64, i32, i32, OffsetDateTime, bool);

impl PgDatabase {
    /// The stored quota row and whether expired entries wait to be purged.
    async fn quota_row(
        &self,
        user: UserId,
        app: &AppId,
        now: OffsetDateTime,
    ) -> RepoResult<Option<QuotaRow>> {
        let mut tx = self.scoped(user).await?;
        let row = sqlx::query_as(
            "SELECT total_bytes, used_bytes, total_keys, used_keys, last_updated, \
               EXISTS (SELECT 1 FROM storage_entries e WHERE e.user_id = q.user_id \
                       AND e.app_id = q.app_id AND e.expires_at IS NOT NULL \
                       AND e.expires_at <= $3) \
             FROM storage_quotas q WHERE user_id = $1 AND app_id = $2",
        )
        .bind(user.0)
        .bind(app.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(row)
    }

    /// Purges this (user, app)'s expired entries if there are any.
    async fn purge_expired_of(
        &self,
        user: UserId,
        app: &AppId,
        ctx: &WriteContext,
    ) -> RepoResult<()> {
        if let Some((.., expired)) = self.quota_row(user, app, ctx.now).await? {
            if expired {
                PgUnit::begin(self, user, app, ctx).await?.commit().await?;
            }
        }
        Ok(())
    }

    async fn quota_exceeded(&self, user: UserId, app: &AppId, ctx: &WriteContext) -> RepoError {
        match self.quota(user, app, ctx).await {
            Ok(snapshot) => RepoError::QuotaExceeded(snapshot.usage),
            Err(e) => e,
        }
    }
}

#[async_trait]
impl StorageRepository for PgDatabase {
    async fn write_entries(
        &self,
        user: UserId,
        app: &AppId,
        ops: Vec<WriteOp>,
        ctx: &WriteContext,
    ) -> RepoResult<Vec<WriteOutcome>> {
        let mut unit = PgUnit::begin(self, user, app, ctx).await?;
        match storage_tx::apply_write_ops(&mut unit, ops).await {
            Ok(outcomes) => {
                unit.commit().await?;
                Ok(outcomes)
            }
            Err(RepoError::QuotaExceeded(_)) => {
                unit.rollback().await?;
                Err(self.quota_exceeded(user, app, ctx).await)
            }
            Err(other) => {
                unit.rollback().await?;
                Err(other)
            }
        }
    }

    async fn get_entry(
        &self,
        user: UserId,
        app: &AppId,
        key: &StorageKey,
        now: OffsetDateTime,
    ) -> RepoResult<Option<StoredEntry>> {
        // One round trip: the function sets the RLS user for its own statement (migration
        // 0006), instead of BEGIN + set_config + SELECT + COMMIT.
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM tmcp_storage_get($1, $2, $3, $4)");
        let row: Option<EntryRow> = sqlx::query_as(&sql)
            .bind(user.0)
            .bind(app.as_str())
            .bind(key.as_str())
            .bind(now)
            .fetch_optional(self.app())
            .await
            .map_err(map_sqlx_error)?;
        row.map(rows::entry).transpose()
    }

    async fn get_entries(
        &self,
        user: UserId,
        app: &AppId,
        keys: &[StorageKey],
        now: OffsetDateTime,
    ) -> RepoResult<Vec<StoredEntry>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = keys.iter().map(|k| k.as_str().to_owned()).collect();
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM storage_entries WHERE user_id = $1 AND app_id = $2 \
             AND key = ANY($3) AND (expires_at IS NULL OR expires_at > $4)"
        );
        let mut tx = self.scoped(user).await?;
        let rows: Vec<EntryRow> = sqlx::query_as(&sql)
            .bind(user.0)
            .bind(app.as_str())
            .bind(names)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        rows.into_iter().map(rows::entry).collect()
    }

    async fn list_entries(
        &self,
        user: UserId,
        app: &AppId,
        query: &ListQuery,
        now: OffsetDateTime,
    ) -> RepoResult<Vec<EntrySummary>> {
        // The "C" collation compares bytes: for UTF-8 that is byte (= code point) order.
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM storage_entries WHERE user_id = $1 AND app_id = $2 \
             AND (expires_at IS NULL OR expires_at > $3) \
             AND ($4::text IS NULL OR starts_with(key, $4)) \
             AND ($5::text IS NULL OR key COLLATE \"C\" > $5) \
             ORDER BY key COLLATE \"C\" LIMIT $6"
        );
        let mut tx = self.scoped(user).await?;
        let rows: Vec<SummaryRow> = sqlx::query_as(&sql)
            .bind(user.0)
            .bind(app.as_str())
            .bind(now)
            .bind(query.prefix.as_deref())
            .bind(query.after.as_deref())
            .bind(query.limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(rows.into_iter().map(rows::summary).collect())
    }

    async fn quota(
        &self,
        user: UserId,
        app: &AppId,
        ctx: &WriteContext,
    ) -> RepoResult<QuotaSnapshot> {
        let Some(mut row) = self.quota_row(user, app, ctx.now).await? else {
            return Ok(QuotaSnapshot {
                usage: QuotaUsage {
                    total_bytes: ctx.limits.total_bytes,
                    used_bytes: 0,
                    total_keys: ctx.limits.total_keys,
                    used_keys: 0,
                },
                last_updated: None,
            });
        };
        let (total_bytes, used_bytes, total_keys, used_keys, _, expired) = row;
        let total_keys = i64::from(total_keys);
        let limits_move = (total_bytes, total_keys)
            != (ctx.limits.total_bytes, ctx.limits.total_keys)
            && used_bytes <= ctx.limits.total_bytes
            && i64::from(used_keys) <= ctx.limits.total_keys;
        if expired || limits_move {
            PgUnit::begin(self, user, app, ctx).await?.commit().await?;
            row = self
                .quota_row(user, app, ctx.now)
                .await?
                .ok_or_else(|| RepoError::Internal("quota row vanished".into()))?;
        }
        let (total_bytes, used_bytes, total_keys, used_keys, last_updated, _) = row;
        Ok(QuotaSnapshot {
            usage: QuotaUsage {
                total_bytes,
                used_bytes,
                total_keys: i64::from(total_keys),
                used_keys: i64::from(used_keys),
            },
            last_updated: Some(last_updated),
        })
    }

    async fn quota_usage(&self, user: UserId, app: &AppId) -> RepoResult<Option<QuotaUsage>> {
        let mut tx = self.scoped(user).await?;
        let row: Option<(i64, i64, i32, i32)> = sqlx::query_as(
            "SELECT total_bytes, used_bytes, total_keys, used_keys FROM storage_quotas \
             WHERE user_id = $1 AND app_id = $2",
        )
        .bind(user.0)
        .bind(app.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(row.map(
            |(total_bytes, used_bytes, total_keys, used_keys)| QuotaUsage {
                total_bytes,
                used_bytes,
                total_keys: i64::from(total_keys),
                used_keys: i64::from(used_keys),
            },
        ))
    }

    async fn recount_usage(&self, user: UserId, app: &AppId) -> RepoResult<(i64, i64)> {
        let mut tx = self.scoped(user).await?;
        let row = sqlx::query_as(
            "SELECT COALESCE(SUM(size), 0)::bigint, COUNT(*) FROM storage_entries \
             WHERE user_id = $1 AND app_id = $2",
        )
        .bind(user.0)
        .bind(app.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(row)
    }

    async fn purge_expired(&self, now: OffsetDateTime, limit: i64) -> RepoResult<u64> {
        let owners: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT DISTINCT user_id, app_id FROM ( \
               SELECT user_id, app_id FROM storage_entries \
               WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2) c",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.system())
        .await
        .map_err(map_sqlx_error)?;
        let mut purged = 0_u64;
        for (user, app) in owners {
            let budget = limit.saturating_sub(i64::try_from(purged).unwrap_or(i64::MAX));
            if budget <= 0 {
                break;
            }
            if let Some(mut unit) = PgUnit::begin_existing(self, UserId(user), app, now).await? {
                purged += unit.purge_expired(budget).await?;
                unit.commit().await?;
            }
        }
        Ok(purged)
    }

    async fn purge_sync_history(&self, before: OffsetDateTime, limit: i64) -> RepoResult<u64> {
        // Tombstones, per (user, app) with the quota row taken first (the writers' order).
        let candidates: Vec<(Uuid, String, String)> = sqlx::query_as(
            "SELECT user_id, app_id, key FROM storage_tombstones WHERE deleted_at < $1 \
             ORDER BY deleted_at LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(self.system())
        .await
        .map_err(map_sqlx_error)?;
        let mut by_owner: BTreeMap<(Uuid, String), Vec<String>> = BTreeMap::new();
        for (user, app, key) in candidates {
            by_owner.entry((user, app)).or_default().push(key);
        }
        let mut purged = 0_u64;
        for ((user, app), keys) in by_owner {
            let Some(mut unit) = PgUnit::begin_existing(self, UserId(user), app, before).await?
            else {
                continue;
            };
            let seqs: Vec<i64> = sqlx::query_scalar(
                "DELETE FROM storage_tombstones WHERE user_id = $1 AND app_id = $2 \
                 AND deleted_at < $3 AND key = ANY($4) \
                 RETURNING change_seq",
            )
            .bind(unit.user().0)
            .bind(unit.app().to_owned())
            .bind(before)
            .bind(keys)
            .fetch_all(unit.tx())
            .await
            .map_err(map_sqlx_error)?;
            if let Some(highest) = seqs.iter().max() {
                sqlx::query(
                    "UPDATE storage_quotas SET resync_floor_seq = greatest(resync_floor_seq, $3) \
                     WHERE user_id = $1 AND app_id = $2",
                )
                .bind(unit.user().0)
                .bind(unit.app().to_owned())
                .bind(highest)
                .execute(unit.tx())
                .await
                .map_err(map_sqlx_error)?;
            }
            purged += seqs.len() as u64;
            unit.commit().await?;
        }
        // Finished sync operations and settled conflicts: no ordering concerns.
        let ops = sqlx::query(
            "DELETE FROM storage_sync_operations WHERE id IN ( \
               SELECT id FROM storage_sync_operations \
               WHERE created_at < $1 AND status <> 'pending' ORDER BY created_at LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(self.system())
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        let conflicts = sqlx::query(
            "DELETE FROM storage_conflicts WHERE id IN ( \
               SELECT id FROM storage_conflicts \
               WHERE created_at < $1 AND status <> 'pending' ORDER BY created_at LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(self.system())
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        Ok(purged + ops + conflicts)
    }

    async fn delete_all_for_app(
        &self,
        user: UserId,
        app: &AppId,
        ctx: &WriteContext,
    ) -> RepoResult<u64> {
        let mut unit = PgUnit::begin(self, user, app, ctx).await?;
        let mut deleted = 0;
        for table in [
            "storage_entries",
            "storage_tombstones",
            "storage_sync_operations",
            "storage_conflicts",
        ] {
            // Table names are fixed identifiers, never input.
            let sql = format!("DELETE FROM {table} WHERE user_id = $1 AND app_id = $2");
            let affected = sqlx::query(&sql)
                .bind(user.0)
                .bind(app.as_str())
                .execute(unit.tx())
                .await
                .map_err(map_sqlx_error)?
                .rows_affected();
            if table == "storage_entries" {
                deleted = affected;
            }
        }
        // Every cursor issued so far must start over; usage is zero, so the configured
        // limits always fit.
        let floor = unit.take_seq();
        sqlx::query(
            "UPDATE storage_quotas SET resync_floor_seq = $3, total_bytes = $4, total_keys = $5 \
             WHERE user_id = $1 AND app_id = $2",
        )
        .bind(user.0)
        .bind(app.as_str())
        .bind(floor)
        .bind(ctx.limits.total_bytes)
        .bind(ctx.limits.total_keys)
        .execute(unit.tx())
        .await
        .map_err(map_sqlx_error)?;
        unit.commit().await?;
        Ok(deleted)
    }

    async fn pull_changes(
        &self,
        user: UserId,
        app: &AppId,
        cursor: Option<ChangeCursor>,
        limit: i64,
        ctx: &WriteContext,
    ) -> RepoResult<ChangePage> {
        self.purge_expired_of(user, app, ctx).await?;
        let mut tx = self.scoped(user).await?;
        // The feed position is read first: every change up to it is visible below.
        let (head, floor): (i64, i64) = sqlx::query_as(
            "SELECT change_seq, resync_floor_seq FROM storage_quotas \
             WHERE user_id = $1 AND app_id = $2",
        )
        .bind(user.0)
        .bind(app.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .unwrap_or((0, 0));
        let resync = cursor.is_some_and(|c| c.needs_resync(floor));
        let from = match cursor {
            Some(c) if !resync => c.seq,
            _ => 0,
        };
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM storage_entries WHERE user_id = $1 AND app_id = $2 \
             AND change_seq > $3 AND (expires_at IS NULL OR expires_at > $4) \
             ORDER BY change_seq LIMIT $5"
        );
        let sets: Vec<EntryRow> = sqlx::query_as(&sql)
            .bind(user.0)
            .bind(app.as_str())
            .bind(from)
            .bind(ctx.now)
            .bind(limit + 1)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        let deletions: Vec<(String, i32, i64, OffsetDateTime)> = sqlx::query_as(
            "SELECT key, version, change_seq, deleted_at FROM storage_tombstones \
             WHERE user_id = $1 AND app_id = $2 AND change_seq > $3 \
             ORDER BY change_seq LIMIT $4",
        )
        .bind(user.0)
        .bind(app.as_str())
        .bind(from)
        .bind(limit + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        let mut changes = Vec::with_capacity(sets.len() + deletions.len());
        for row in sets {
            let entry = rows::entry(row)?;
            changes.push(Change {
                seq: entry.change_seq,
                kind: ChangeKind::Set(entry),
            });
        }
        for (key, version, seq, deleted_at) in deletions {
            changes.push(Change {
                seq,
                kind: ChangeKind::Deleted {
                    key,
                    version: i64::from(version),
                    deleted_at,
                },
            });
        }
        Ok(storage_tx::page_of_changes(
            changes, cursor, from, head, floor, resync, limit,
        ))
    }

    async fn sync_apply(
        &self,
        user: UserId,
        app: &AppId,
        op: SyncOp,
        ctx: &WriteContext,
    ) -> RepoResult<SyncApplied> {
        let mut unit = PgUnit::begin(self, user, app, ctx).await?;
        match storage_tx::apply_sync_op(&mut unit, &op).await {
            Ok(applied) => {
                unit.commit().await?;
                Ok(applied)
            }
            Err(RepoError::QuotaExceeded(_)) => {
                unit.rollback().await?;
                let mut unit = PgUnit::begin(self, user, app, ctx).await?;
                let error = SyncOpError {
                    code: "STORAGE_QUOTA_EXCEEDED".into(),
                    message: "the write would exceed the storage quota".into(),
                };
                let applied = storage_tx::record_rejected_sync_op(&mut unit, &op, error).await?;
                unit.commit().await?;
                Ok(applied)
            }
            Err(other) => {
                unit.rollback().await?;
                Err(other)
            }
        }
    }

    async fn sync_status(&self, user: UserId, app: &AppId) -> RepoResult<SyncStatus> {
        let mut tx = self.scoped(user).await?;
        let (pending, failed, completed, last): (i64, i64, i64, Option<OffsetDateTime>) =
            sqlx::query_as(
                "SELECT count(*) FILTER (WHERE status = 'pending'), \
                    count(*) FILTER (WHERE status = 'failed'), \
                    count(*) FILTER (WHERE status = 'completed'), max(created_at) \
             FROM storage_sync_operations WHERE user_id = $1 AND app_id = $2",
            )
            .bind(user.0)
            .bind(app.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        let (open, head): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM storage_conflicts WHERE user_id = $1 AND app_id = $2 \
                     AND status = 'pending'), \
                    COALESCE((SELECT change_seq FROM storage_quotas \
                              WHERE user_id = $1 AND app_id = $2), 0)",
        )
        .bind(user.0)
        .bind(app.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(SyncStatus {
            pending_ops: pending,
            failed_ops: failed,
            completed_ops: completed,
            open_conflicts: open,
            last_push_at: last,
            change_seq: head,
        })
    }

    async fn list_conflicts(
        &self,
        user: UserId,
        app: &AppId,
        status: Option<&str>,
        after: Option<Uuid>,
        limit: i64,
    ) -> RepoResult<Vec<ConflictRecord>> {
        let sql = format!(
            "SELECT {} FROM storage_conflicts WHERE user_id = $1 AND app_id = $2 \
             AND ($3::text IS NULL OR status = $3) AND ($4::uuid IS NULL OR id > $4) \
             ORDER BY id LIMIT $5",
            rows::CONFLICT_COLUMNS
        );
        let mut tx = self.scoped(user).await?;
        let found: Vec<rows::ConflictRowTuple> = sqlx::query_as(&sql)
            .bind(user.0)
            .bind(app.as_str())
            .bind(status)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        found
            .into_iter()
            .map(|row| rows::conflict(row).map(storage_tx::ConflictRow::into_record))
            .collect()
    }

    async fn resolve_conflict(
        &self,
        user: UserId,
        app: &AppId,
        id: Uuid,
        resolution: ConflictResolution,
        ctx: &WriteContext,
    ) -> RepoResult<ResolveOutcome> {
        let mut unit = PgUnit::begin(self, user, app, ctx).await?;
        match storage_tx::resolve_conflict(&mut unit, id, resolution).await {
            Ok(outcome) => {
                unit.commit().await?;
                Ok(outcome)
            }
            Err(RepoError::QuotaExceeded(_)) => {
                unit.rollback().await?;
                Err(self.quota_exceeded(user, app, ctx).await)
            }
            Err(other) => {
                unit.rollback().await?;
                Err(other)
            }
        }
    }
}
