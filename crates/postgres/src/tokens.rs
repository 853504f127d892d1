//! Signing keys, OAuth clients and issued tokens. Token checks run before any user context
//! exists, so everything here uses the system pool.

use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_repository::{
    IssuedToken, IssuedTokenRepository, OAuthClient, OAuthClientRepository, RepoResult,
    SigningKeyRepository, StoredSigningKey, TokenLiveness,
};

type KeyRow = (
    String,
    String,
    Vec<u8>,
    serde_json::Value,
    String,
    OffsetDateTime,
    Option<OffsetDateTime>,
);

#[async_trait]
impl SigningKeyRepository for PgDatabase {
    async fn list_signing_keys(&self) -> RepoResult<Vec<StoredSigningKey>> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT kid, algorithm, private_key_ciphertext, public_jwk, status, created_at, \
             retire_after FROM oauth_signing_keys WHERE status <> 'retired' ORDER BY created_at, kid",
        )
        .fetch_all(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    kid,
                    algorithm,
                    private_key_ciphertext,
                    public_jwk,
                    status,
                    created_at,
                    retire_after,
                )| {
                    StoredSigningKey {
                        kid,
                        algorithm,
                        private_key_ciphertext,
                        public_jwk,
                        status,
                        created_at,
                        retire_after,
                    }
                },
            )
            .collect())
    }

    async fn insert_signing_key(&self, key: StoredSigningKey) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO oauth_signing_keys (kid, algorithm, private_key_ciphertext, public_jwk, \
             status, created_at, retire_after) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(&key.private_key_ciphertext)
        .bind(&key.public_jwk)
        .bind(&key.status)
        .bind(key.created_at)
        .bind(key.retire_after)
        .execute(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn retire_active_signing_keys(&self, retire_after: OffsetDateTime) -> RepoResult<u64> {
        let done = sqlx::query(
            "UPDATE oauth_signing_keys SET status = 'retiring', retire_after = $1 WHERE status = 'active'",
        )
        .bind(retire_after)
        .execute(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected())
    }
}

type ClientRow = (
    String,
    Option<String>,
    Option<String>,
    String,
    Vec<String>,
    Vec<String>,
    Vec<String>,
    bool,
    bool,
    OffsetDateTime,
);

#[async_trait]
impl OAuthClientRepository for PgDatabase {
    async fn create_client(&self, client: OAuthClient) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO oauth_clients (id, client_id, client_secret_hash, app_id, name, \
             redirect_uris, grant_types, scopes, is_official, is_active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        )
        .bind(uuid_v7_at(client.created_at))
        .bind(&client.client_id)
        .bind(&client.client_secret_hash)
        .bind(&client.app_id)
        .bind(&client.name)
        .bind(&client.redirect_uris)
        .bind(&client.grant_types)
        .bind(&client.scopes)
        .bind(client.is_official)
        .bind(client.is_active)
        .bind(client.created_at)
        .execute(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn find_client(&self, client_id: &str) -> RepoResult<Option<OAuthClient>> {
        let row: Option<ClientRow> = sqlx::query_as(
            "SELECT client_id, client_secret_hash, app_id, name, redirect_uris, grant_types, \
             scopes, is_official, is_active, created_at FROM oauth_clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(row.map(
            |(
                client_id,
                client_secret_hash,
                app_id,
                name,
                redirect_uris,
                grant_types,
                scopes,
                is_official,
                is_active,
                created_at,
            )| {
                OAuthClient {
                    client_id,
                    client_secret_hash,
                    app_id,
                    name,
                    redirect_uris,
                    grant_types,
                    scopes,
                    is_official,
                    is_active,
                    created_at,
                }
            },
        ))
    }
}

#[async_trait]
impl IssuedTokenRepository for PgDatabase {
    async fn record_issued_token(&self, token: IssuedToken) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO oauth_tokens (id, client_id, user_id, token_type, token_hash, scopes, \
             expires_at, created_at, grant_id) VALUES ($1, $2, $3, 'access', $4, $5, $6, $7, $8)",
        )
        .bind(token.id)
        .bind(&token.client_id)
        .bind(token.user_id.map(|u| u.0))
        .bind(&token.token_hash)
        .bind(&token.scopes)
        .bind(token.expires_at)
        .bind(token.created_at)
        .bind(token.grant_id)
        .execute(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn token_is_live(&self, check: &TokenLiveness) -> RepoResult<bool> {
        let live: Option<bool> = sqlx::query_scalar(
            "SELECT TRUE FROM oauth_tokens t \
             JOIN oauth_clients c ON c.client_id = t.client_id AND c.is_active \
             WHERE t.token_hash = $1 AND t.client_id = $2 AND t.revoked_at IS NULL \
               AND t.user_id IS NOT DISTINCT FROM $3 \
               AND ($3::uuid IS NULL OR EXISTS ( \
                     SELECT 1 FROM users u WHERE u.id = $3 AND u.status = 'active')) \
               AND ($4::uuid IS NULL OR EXISTS ( \
                     SELECT 1 FROM user_sessions s \
                     WHERE s.id = $4 AND s.user_id = $3 AND s.revoked_at IS NULL)) \
               AND NOT EXISTS ( \
                     SELECT 1 FROM oauth_consents g \
                     WHERE g.user_id = t.user_id AND g.client_id = t.client_id \
                       AND g.revoked_at IS NOT NULL AND g.revoked_at >= t.created_at)",
        )
        .bind(&check.token_hash)
        .bind(&check.client_id)
        .bind(check.user_id.map(|u| u.0))
        .bind(check.session_id.map(|s| s.0))
        .fetch_optional(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(live.unwrap_or(false))
    }

    async fn revoke_token(&self, token_hash: &str, at: OffsetDateTime) -> RepoResult<bool> {
        let done = sqlx::query(
            "UPDATE oauth_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(at)
        .execute(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_consent(
        &self,
        user: tmcp_domain::UserId,
        client_id: &str,
        at: OffsetDateTime,
    ) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO oauth_consents (id, user_id, client_id, scopes, created_at, updated_at, revoked_at) \
             VALUES ($1, $2, $3, ARRAY[]::TEXT[], $4, $4, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET revoked_at = EXCLUDED.revoked_at, \
               scopes = ARRAY[]::TEXT[], updated_at = EXCLUDED.updated_at",
        )
        .bind(uuid_v7_at(at))
        .bind(user.0)
        .bind(client_id)
        .bind(at)
        .execute(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }
}
