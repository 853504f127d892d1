use crate::mfa::recompute_mfa_enabled;
use crate::time_text::{from_opt_text, from_text, to_text};
use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::UserId;
use tmcp_repository::{Device, DeviceRepository, NewDevice, RepoError, RepoResult};
use uuid::Uuid;

const DEVICE_COLUMNS: &str = "id, user_id, device_id, device_name, device_type, platform, \
    public_key_alg, public_key_spki, public_key_hash, is_trusted, created_at, last_used_at, \
    last_seen_at";

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: Uuid,
    user_id: Uuid,
    device_id: String,
    device_name: Option<String>,
    device_type: Option<String>,
    platform: Option<String>,
    public_key_alg: Option<String>,
    public_key_spki: Option<Vec<u8>>,
    public_key_hash: Option<String>,
    is_trusted: bool,
    created_at: String,
    last_used_at: Option<String>,
    last_seen_at: String,
}

impl TryFrom<DeviceRow> for Device {
    type Error = RepoError;
    fn try_from(row: DeviceRow) -> Result<Self, RepoError> {
        Ok(Device {
            id: row.id,
            user_id: UserId(row.user_id),
            device_id: row.device_id,
            device_name: row.device_name,
            device_type: row.device_type,
            platform: row.platform,
            public_key_alg: row.public_key_alg,
            public_key_spki: row.public_key_spki,
            public_key_hash: row.public_key_hash,
            is_trusted: row.is_trusted,
            created_at: from_text(&row.created_at)?,
            last_used_at: from_opt_text(row.last_used_at)?,
            last_seen_at: from_text(&row.last_seen_at)?,
        })
    }
}

#[async_trait]
impl DeviceRepository for SqliteDatabase {
    async fn register_device(&self, device: NewDevice) -> RepoResult<Device> {
        let sql = format!(
            "INSERT INTO device_registrations (id, user_id, device_id, device_name, device_type, \
               platform, public_key_alg, public_key_spki, public_key_hash, attestation_data, \
               created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
             RETURNING {DEVICE_COLUMNS}"
        );
        let row: DeviceRow = sqlx::query_as(&sql)
            .bind(device.id)
            .bind(device.user_id.0)
            .bind(&device.device_id)
            .bind(&device.device_name)
            .bind(&device.device_type)
            .bind(&device.platform)
            .bind(&device.public_key_alg)
            .bind(&device.public_key_spki)
            .bind(&device.public_key_hash)
            .bind(device.attestation.as_ref().map(|v| v.to_string()))
            .bind(to_text(device.created_at))
            .fetch_one(&self.writer)
            .await
            .map_err(map_sqlx_error)?;
        row.try_into()
    }

    async fn list_devices(&self, user: UserId) -> RepoResult<Vec<Device>> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM device_registrations WHERE user_id = $1 \
             ORDER BY created_at, id"
        );
        let rows: Vec<DeviceRow> = sqlx::query_as(&sql)
            .bind(user.0)
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx_error)?;
        rows.into_iter().map(Device::try_from).collect()
    }

    async fn find_device(&self, user: UserId, device_id: &str) -> RepoResult<Option<Device>> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM device_registrations \
             WHERE user_id = $1 AND device_id = $2"
        );
        let row: Option<DeviceRow> = sqlx::query_as(&sql)
            .bind(user.0)
            .bind(device_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_sqlx_error)?;
        row.map(Device::try_from).transpose()
    }

    async fn remove_device(&self, user: UserId, device_id: &str) -> RepoResult<bool> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        let done =
            sqlx::query("DELETE FROM device_registrations WHERE user_id = $1 AND device_id = $2")
                .bind(user.0)
                .bind(device_id)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "DELETE FROM mfa_methods WHERE user_id = $1 AND method_type = 'biometric' \
             AND device_id = $2",
        )
        .bind(user.0)
        .bind(device_id)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        recompute_mfa_enabled(&mut tx, user).await?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(true)
    }

    async fn touch_device(
        &self,
        user: UserId,
        device_id: &str,
        now: OffsetDateTime,
    ) -> RepoResult<()> {
        sqlx::query(
            "UPDATE device_registrations SET last_used_at = $3, last_seen_at = $3 \
             WHERE user_id = $1 AND device_id = $2",
        )
        .bind(user.0)
        .bind(device_id)
        .bind(to_text(now))
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }
}
