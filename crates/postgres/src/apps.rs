use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::{AppId, UserId};
use tmcp_repository::{AppRepository, AppSummary, NewApp, RepoResult};
use uuid::Uuid;

#[async_trait]
impl AppRepository for PgDatabase {
    async fn create_app(&self, app: NewApp) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO apps (app_id, name, version, classification, developer_id, \
             developer_name, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(app.app_id.as_str())
        .bind(&app.name)
        .bind(&app.version)
        .bind(&app.classification)
        .bind(app.developer_id.0)
        .bind(&app.developer_name)
        .bind(&app.status)
        .bind(app.created_at)
        .execute(self.app())
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn record_installation(
        &self,
        user: UserId,
        app: &AppId,
        version: &str,
        at: OffsetDateTime,
    ) -> RepoResult<Uuid> {
        let id = uuid_v7_at(at);
        sqlx::query(
            "INSERT INTO app_installations (installation_id, app_id, user_id, version, source, \
             status, installed_at, updated_at) VALUES ($1, $2, $3, $4, 'store', 'installed', $5, $5)",
        )
        .bind(id)
        .bind(app.as_str())
        .bind(user.0)
        .bind(version)
        .bind(at)
        .execute(self.app())
        .await
        .map_err(map_sqlx_error)?;
        Ok(id)
    }

    async fn upsert_review(
        &self,
        user: UserId,
        app: &AppId,
        rating: i32,
        at: OffsetDateTime,
    ) -> RepoResult<Uuid> {
        let (id,): (Uuid,) = sqlx::query_as(
            "INSERT INTO app_reviews (review_id, app_id, user_id, rating, status, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $5) \
             ON CONFLICT (app_id, user_id) WHERE status = 'active' \
             DO UPDATE SET rating = EXCLUDED.rating, updated_at = EXCLUDED.updated_at \
             RETURNING review_id",
        )
        .bind(uuid_v7_at(at))
        .bind(app.as_str())
        .bind(user.0)
        .bind(rating)
        .bind(at)
        .fetch_one(self.app())
        .await
        .map_err(map_sqlx_error)?;
        Ok(id)
    }

    async fn app_summary(&self, app: &AppId) -> RepoResult<Option<AppSummary>> {
        let row: Option<(String, String, i64, i64, f64, i64, i64)> = sqlx::query_as(
            "SELECT app_id, name, install_count, review_count, average_rating, purchase_count, \
             total_revenue FROM app_summary WHERE app_id = $1",
        )
        .bind(app.as_str())
        .fetch_optional(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(row.map(
            |(app_id, name, installs, reviews, rating, purchases, revenue)| AppSummary {
                app_id,
                name,
                install_count: installs,
                review_count: reviews,
                average_rating: rating,
                purchase_count: purchases,
                total_revenue: revenue,
            },
        ))
    }

    async fn app_name(&self, app: &AppId) -> RepoResult<Option<String>> {
        sqlx::query_scalar("SELECT name FROM apps WHERE app_id = $1")
            .bind(app.as_str())
            .fetch_optional(self.system())
            .await
            .map_err(map_sqlx_error)
    }
}
