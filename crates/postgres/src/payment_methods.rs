//! Payment methods on PostgreSQL: request work on the `tmcp_app` pool, scoped to the user by
//! row-level security (0001's `payment_methods_owner_policy`) and by every `WHERE`. Changes of
//! the default lock all of the user's methods first, so two racing changes queue instead of
//! tripping `uq_payment_methods_default`.

use crate::{map_sqlx_error, PgDatabase, PgTx};
use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use tmcp_domain::UserId;
use tmcp_repository::{
    NewPaymentMethod, PaymentMethod, PaymentMethodRepository, RepoError, RepoResult,
};
use uuid::Uuid;

pub(crate) const METHOD_COLUMNS: &str = "id, user_id, type, provider, provider_method_id, \
     method_data, is_default, is_active, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct MethodRow {
    id: Uuid,
    user_id: Uuid,
    #[sqlx(rename = "type")]
    method_type: String,
    provider: String,
    provider_method_id: String,
    method_data: Value,
    is_default: bool,
    is_active: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<MethodRow> for PaymentMethod {
    fn from(row: MethodRow) -> Self {
        Self {
            id: row.id,
            user_id: UserId(row.user_id),
            method_type: row.method_type,
            provider: row.provider,
            provider_method_id: row.provider_method_id,
            method_data: row.method_data,
            is_default: row.is_default,
            is_active: row.is_active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Locks every method of the user (the order of a default change) and tells whether one is
/// the default.
async fn lock_methods(tx: &mut PgTx, user: UserId) -> RepoResult<bool> {
    let defaults: Vec<(bool,)> = sqlx::query_as(
        "SELECT is_default FROM payment_methods WHERE user_id = $1 ORDER BY id FOR UPDATE",
    )
    .bind(user.0)
    .fetch_all(&mut **tx)
    .await
    .map_err(map_sqlx_error)?;
    Ok(defaults.iter().any(|(d,)| *d))
}

async fn active_method(tx: &mut PgTx, user: UserId, id: Uuid) -> RepoResult<Option<MethodRow>> {
    sqlx::query_as(&format!(
        "SELECT {METHOD_COLUMNS} FROM payment_methods \
         WHERE id = $1 AND user_id = $2 AND is_active"
    ))
    .bind(id)
    .bind(user.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_sqlx_error)
}

#[async_trait]
impl PaymentMethodRepository for PgDatabase {
    async fn add_payment_method(&self, new: NewPaymentMethod) -> RepoResult<PaymentMethod> {
        let mut tx = self.scoped(new.user_id).await?;
        let has_default = lock_methods(&mut tx, new.user_id).await?;
        let make_default = new.make_default || !has_default;
        if make_default && has_default {
            clear_default(&mut tx, new.user_id, new.at).await?;
        }
        let row: MethodRow = sqlx::query_as(&format!(
            "INSERT INTO payment_methods (id, user_id, type, provider, provider_method_id, \
             method_data, is_default, is_active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, $8, $8) RETURNING {METHOD_COLUMNS}"
        ))
        .bind(new.id)
        .bind(new.user_id.0)
        .bind(&new.method_type)
        .bind(&new.provider)
        .bind(&new.provider_method_id)
        .bind(&new.method_data)
        .bind(make_default)
        .bind(new.at)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(row.into())
    }

    async fn payment_methods(&self, user: UserId) -> RepoResult<Vec<PaymentMethod>> {
        let mut tx = self.scoped(user).await?;
        let rows: Vec<MethodRow> = sqlx::query_as(&format!(
            "SELECT {METHOD_COLUMNS} FROM payment_methods WHERE user_id = $1 AND is_active \
             ORDER BY created_at, id"
        ))
        .bind(user.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn payment_method(&self, user: UserId, id: Uuid) -> RepoResult<Option<PaymentMethod>> {
        let mut tx = self.scoped(user).await?;
        let row = active_method(&mut tx, user, id).await?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(row.map(Into::into))
    }

    async fn remove_payment_method(
        &self,
        user: UserId,
        id: Uuid,
        at: OffsetDateTime,
    ) -> RepoResult<bool> {
        let mut tx = self.scoped(user).await?;
        let removed = sqlx::query(
            "UPDATE payment_methods SET is_active = FALSE, is_default = FALSE, updated_at = $3 \
             WHERE id = $1 AND user_id = $2 AND is_active",
        )
        .bind(id)
        .bind(user.0)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(removed == 1)
    }

    async fn set_default_payment_method(
        &self,
        user: UserId,
        id: Uuid,
        at: OffsetDateTime,
    ) -> RepoResult<Option<PaymentMethod>> {
        let mut tx = self.scoped(user).await?;
        lock_methods(&mut tx, user).await?;
        if active_method(&mut tx, user, id).await?.is_none() {
            tx.rollback().await.map_err(map_sqlx_error)?;
            return Ok(None);
        }
        clear_default(&mut tx, user, at).await?;
        let row: MethodRow = sqlx::query_as(&format!(
            "UPDATE payment_methods SET is_default = TRUE, updated_at = $3 \
             WHERE id = $1 AND user_id = $2 AND is_active RETURNING {METHOD_COLUMNS}"
        ))
        .bind(id)
        .bind(user.0)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .ok_or_else(|| RepoError::Internal("locked payment method vanished".into()))?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(Some(row.into()))
    }
}

async fn clear_default(tx: &mut PgTx, user: UserId, at: OffsetDateTime) -> RepoResult<()> {
    sqlx::query(
        "UPDATE payment_methods SET is_default = FALSE, updated_at = $2 \
         WHERE user_id = $1 AND is_default",
    )
    .bind(user.0)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(map_sqlx_error)?;
    Ok(())
}
