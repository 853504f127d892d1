//! Payment methods on SQLite. Writes run on the single writer inside `BEGIN IMMEDIATE`, so a
//! change of the default cannot interleave with another; reads use the reader pool. Every
//! query names the user: another user's method is not found.

use crate::time_text::{from_text, to_text};
use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use sqlx::{Sqlite, Transaction};
use time::OffsetDateTime;
use tmcp_domain::UserId;
use tmcp_repository::{
    NewPaymentMethod, PaymentMethod, PaymentMethodRepository, RepoError, RepoResult,
};
use uuid::Uuid;

pub(crate) const METHOD_COLUMNS: &str = "id, user_id, type, provider, provider_method_id, \
     method_data, is_default, is_active, created_at, updated_at";

pub(crate) type MethodRow = (
    Uuid,
    Uuid,
    String,
    String,
    String,
    String,
    bool,
    bool,
    String,
    String,
);

pub(crate) fn method_from_row(row: MethodRow) -> RepoResult<PaymentMethod> {
    let (id, user, kind, provider, token, data, is_default, is_active, created, updated) = row;
    Ok(PaymentMethod {
        id,
        user_id: UserId(user),
        method_type: kind,
        provider,
        provider_method_id: token,
        method_data: serde_json::from_str(&data)
            .map_err(|e| RepoError::Internal(format!("bad stored method_data: {e}")))?,
        is_default,
        is_active,
        created_at: from_text(&created)?,
        updated_at: from_text(&updated)?,
    })
}

pub(crate) async fn active_method(
    tx: &mut Transaction<'static, Sqlite>,
    user: UserId,
    id: Uuid,
) -> RepoResult<Option<PaymentMethod>> {
    let row: Option<MethodRow> = sqlx::query_as(&format!(
        "SELECT {METHOD_COLUMNS} FROM payment_methods \
         WHERE id = $1 AND user_id = $2 AND is_active = 1"
    ))
    .bind(id)
    .bind(user.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_sqlx_error)?;
    row.map(method_from_row).transpose()
}

async fn clear_default(
    tx: &mut Transaction<'static, Sqlite>,
    user: UserId,
    at: OffsetDateTime,
) -> RepoResult<()> {
    sqlx::query(
        "UPDATE payment_methods SET is_default = 0, updated_at = $2 \
         WHERE user_id = $1 AND is_default = 1",
    )
    .bind(user.0)
    .bind(to_text(at))
    .execute(&mut **tx)
    .await
    .map_err(map_sqlx_error)?;
    Ok(())
}

impl SqliteDatabase {
    async fn begin_methods(&self) -> RepoResult<Transaction<'static, Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_sqlx_error)
    }
}

#[async_trait]
impl PaymentMethodRepository for SqliteDatabase {
    async fn add_payment_method(&self, new: NewPaymentMethod) -> RepoResult<PaymentMethod> {
        let mut tx = self.begin_methods().await?;
        let (defaults,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM payment_methods WHERE user_id = $1 AND is_default = 1",
        )
        .bind(new.user_id.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let make_default = new.make_default || defaults == 0;
        if make_default && defaults > 0 {
            clear_default(&mut tx, new.user_id, new.at).await?;
        }
        let row: MethodRow = sqlx::query_as(&format!(
            "INSERT INTO payment_methods (id, user_id, type, provider, provider_method_id, \
             method_data, is_default, is_active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) RETURNING {METHOD_COLUMNS}"
        ))
        .bind(new.id)
        .bind(new.user_id.0)
        .bind(&new.method_type)
        .bind(&new.provider)
        .bind(&new.provider_method_id)
        .bind(new.method_data.to_string())
        .bind(make_default)
        .bind(to_text(new.at))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        method_from_row(row)
    }

    async fn payment_methods(&self, user: UserId) -> RepoResult<Vec<PaymentMethod>> {
        let rows: Vec<MethodRow> = sqlx::query_as(&format!(
            "SELECT {METHOD_COLUMNS} FROM payment_methods WHERE user_id = $1 AND is_active = 1 \
             ORDER BY created_at, id"
        ))
        .bind(user.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter().map(method_from_row).collect()
    }

    async fn payment_method(&self, user: UserId, id: Uuid) -> RepoResult<Option<PaymentMethod>> {
        let row: Option<MethodRow> = sqlx::query_as(&format!(
            "SELECT {METHOD_COLUMNS} FROM payment_methods \
             WHERE id = $1 AND user_id = $2 AND is_active = 1"
        ))
        .bind(id)
        .bind(user.0)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        row.map(method_from_row).transpose()
    }

    async fn remove_payment_method(
        &self,
        user: UserId,
        id: Uuid,
        at: OffsetDateTime,
    ) -> RepoResult<bool> {
        let removed = sqlx::query(
            "UPDATE payment_methods SET is_active = 0, is_default = 0, updated_at = $3 \
             WHERE id = $1 AND user_id = $2 AND is_active = 1",
        )
        .bind(id)
        .bind(user.0)
        .bind(to_text(at))
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        Ok(removed == 1)
    }

    async fn set_default_payment_method(
        &self,
        user: UserId,
        id: Uuid,
        at: OffsetDateTime,
    ) -> RepoResult<Option<PaymentMethod>> {
        let mut tx = self.begin_methods().await?;
        if active_method(&mut tx, user, id).await?.is_none() {
            tx.rollback().await.map_err(map_sqlx_error)?;
            return Ok(None);
        }
        clear_default(&mut tx, user, at).await?;
        let row: MethodRow = sqlx::query_as(&format!(
            "UPDATE payment_methods SET is_default = 1, updated_at = $3 \
             WHERE id = $1 AND user_id = $2 AND is_active = 1 RETURNING {METHOD_COLUMNS}"
        ))
        .bind(id)
        .bind(user.0)
        .bind(to_text(at))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        method_from_row(row).map(Some)
    }
}
