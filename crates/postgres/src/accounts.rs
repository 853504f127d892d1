use crate::sessions::revoke_all_in;
use crate::users::{UserRow, USER_COLUMNS};
use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use tmcp_domain::user::UserStatus;
use tmcp_domain::UserId;
use tmcp_repository::{
    AccountDetails, AccountRepository, AccountTombstone, AccountUpdate, Profile, RepoResult,
    RevokeReason, User,
};

type ProfileRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Date>,
    String,
    String,
    bool,
    serde_json::Value,
);

/// Reads the account inside the caller's (user-scoped) transaction; `lock` takes the users
/// row for update so concurrent partial updates do not lose each other's changes.
async fn load_details(
    conn: &mut PgConnection,
    user: UserId,
    lock: bool,
) -> RepoResult<Option<AccountDetails>> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row: Option<UserRow> = sqlx::query_as(&sql)
        .bind(user.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let user_row: User = row.try_into()?;
    let (avatar_url, phone_verified, preferences): (Option<String>, bool, serde_json::Value) =
        sqlx::query_as("SELECT avatar_url, phone_verified, preferences FROM users WHERE id = $1")
            .bind(user.0)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    let profile: Option<ProfileRow> = sqlx::query_as(
        "SELECT display_name, bio, location, website, birth_date, language, timezone, \
           public_profile, metadata FROM user_profiles WHERE user_id = $1",
    )
    .bind(user.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    let profile = profile
        .map(
            |(
                display_name,
                bio,
                location,
                website,
                birth_date,
                language,
                timezone,
                public,
                meta,
            )| {
                Profile {
                    display_name,
                    bio,
                    location,
                    website,
                    birth_date,
                    language,
                    timezone,
                    public_profile: public,
                    metadata: meta,
                }
            },
        )
        .unwrap_or_default();
    Ok(Some(AccountDetails {
        user: user_row,
        avatar_url,
        phone_verified,
        preferences,
        profile,
    }))
}

#[async_trait]
impl AccountRepository for PgDatabase {
    async fn account_details(&self, user: UserId) -> RepoResult<Option<AccountDetails>> {
        let mut tx = self.scoped(user).await?;
        let details = load_details(&mut tx, user, false).await?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(details)
    }

    async fn update_account(
        &self,
        user: UserId,
        update: AccountUpdate,
        now: OffsetDateTime,
    ) -> RepoResult<Option<AccountDetails>> {
        let mut tx = self.scoped(user).await?;
        let Some(mut details) = load_details(&mut tx, user, true).await? else {
            return Ok(None);
        };
        update.apply(&mut details);
        sqlx::query(
            "UPDATE users SET first_name = $2, last_name = $3, phone = $4, avatar_url = $5, \
               preferences = $6, updated_at = $7 WHERE id = $1",
        )
        .bind(user.0)
        .bind(&details.user.first_name)
        .bind(&details.user.last_name)
        .bind(&details.user.phone_ciphertext)
        .bind(&details.avatar_url)
        .bind(&details.preferences)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let p = &details.profile;
        sqlx::query(
            "INSERT INTO user_profiles (user_id, display_name, bio, location, website, \
               birth_date, language, timezone, public_profile, metadata, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (user_id) DO UPDATE SET display_name = EXCLUDED.display_name, \
               bio = EXCLUDED.bio, location = EXCLUDED.location, website = EXCLUDED.website, \
               birth_date = EXCLUDED.birth_date, language = EXCLUDED.language, \
               timezone = EXCLUDED.timezone, public_profile = EXCLUDED.public_profile, \
               metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at",
        )
        .bind(user.0)
        .bind(&p.display_name)
        .bind(&p.bio)
        .bind(&p.location)
        .bind(&p.website)
        .bind(p.birth_date)
        .bind(&p.language)
        .bind(&p.timezone)
        .bind(p.public_profile)
        .bind(&p.metadata)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let fresh = load_details(&mut tx, user, false).await?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(fresh)
    }

    async fn set_user_status(
        &self,
        user: UserId,
        status: UserStatus,
        now: OffsetDateTime,
    ) -> RepoResult<bool> {
        let done = sqlx::query("UPDATE users SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(user.0)
            .bind(status.as_db())
            .bind(now)
            .execute(self.app())
            .await
            .map_err(map_sqlx_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_account(
        &self,
        user: UserId,
        tombstone: AccountTombstone,
        now: OffsetDateTime,
    ) -> RepoResult<bool> {
        let mut tx = self.scoped(user).await?;
        let done = sqlx::query(
            "UPDATE users SET status = 'deleted', username = $2, email = $3, password_hash = $4, \
               first_name = NULL, last_name = NULL, phone = NULL, avatar_url = NULL, \
               email_verified = FALSE, phone_verified = FALSE, mfa_enabled = FALSE, \
               preferences = '{}', updated_at = $5 \
             WHERE id = $1",
        )
        .bind(user.0)
        .bind(&tombstone.username)
        .bind(&tombstone.email)
        .bind(&tombstone.password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        for sql in [
            "DELETE FROM user_profiles WHERE user_id = $1",
            "DELETE FROM mfa_methods WHERE user_id = $1",
            "DELETE FROM device_registrations WHERE user_id = $1",
        ] {
            sqlx::query(sql)
                .bind(user.0)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        }
        for sql in [
            "UPDATE oauth_consents SET revoked_at = $2, updated_at = $2 \
             WHERE user_id = $1 AND revoked_at IS NULL",
            "UPDATE oauth_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        ] {
            sqlx::query(sql)
                .bind(user.0)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        }
        revoke_all_in(&mut tx, user, now, RevokeReason::AccountDeleted).await?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(true)
    }
}
