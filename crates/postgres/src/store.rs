//! The store's registry on PostgreSQL: registration, listings, the review workflow, flags,
//! categories and the audit log. Installs and reviews are in `store_users.rs`.

use crate::tx::PgTx;
use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::PgConnection;
use time::OffsetDateTime;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::store::search_text::terms;
use tmcp_domain::store::AppStatus;
use tmcp_domain::UserId;
use tmcp_repository::{
    AppListing, AuditEntry, Category, InstallOutcome, Installation, NewRegistration, RatingSummary,
    RepoError, RepoResult, Review, ReviewWrite, StatusChange, StoreApp, StoreEvent,
    StoreRepository,
};
use uuid::Uuid;

pub(crate) const APP_COLUMNS: &str = "app_id, name, short_description, description, category, \
     website, support_email, metadata, version, classification, developer_id, developer_name, \
     status, featured, mandatory, rejection_reason, submitted_at, published_at, created_at, \
     updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct AppRow {
    app_id: String,
    name: String,
    short_description: Option<String>,
    description: Option<String>,
    category: Option<String>,
    website: Option<String>,
    support_email: Option<String>,
    metadata: Value,
    version: String,
    classification: String,
    developer_id: Uuid,
    developer_name: String,
    status: String,
    featured: bool,
    mandatory: bool,
    rejection_reason: Option<String>,
    submitted_at: Option<OffsetDateTime>,
    published_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl AppRow {
    pub(crate) fn into_app(self) -> RepoResult<StoreApp> {
        let status = AppStatus::from_db(&self.status)
            .ok_or_else(|| RepoError::Internal(format!("bad app status {:?}", self.status)))?;
        let part = |name: &str| self.metadata.get(name).cloned().unwrap_or(Value::Null);
        Ok(StoreApp {
            listing: AppListing {
                developer: part("developer"),
                technical: part("technical"),
                branding: part("branding"),
                name: self.name,
                short_description: self.short_description,
                description: self.description,
                category: self.category,
                website: self.website,
                support_email: self.support_email,
            },
            app_id: self.app_id,
            version: self.version,
            classification: self.classification,
            developer_id: UserId(self.developer_id),
            developer_name: self.developer_name,
            status,
            featured: self.featured,
            mandatory: self.mandatory,
            rejection_reason: self.rejection_reason,
            submitted_at: self.submitted_at,
            published_at: self.published_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The JSON columns of a listing: `metadata` keeps the registration's sections as given,
/// `urls` the links clients display.
pub(crate) fn listing_json(listing: &AppListing) -> (Value, Value) {
    let metadata = json!({
        "developer": listing.developer,
        "technical": listing.technical,
        "branding": listing.branding,
    });
    let urls = json!({
        "icon_url": listing.branding.get("icon_url"),
        "entry_url": listing.technical.get("entry_url"),
        "website": listing.website,
    });
    (metadata, urls)
}

/// Moves the vocabulary from the terms of `old_name` to those of `new_name`. Terms are
/// touched in sorted order so two concurrent writers cannot deadlock on them.
pub(crate) async fn move_terms(
    conn: &mut PgConnection,
    old_name: Option<&str>,
    new_name: Option<&str>,
) -> RepoResult<()> {
    let old = old_name.map(terms).unwrap_or_default();
    let new = new_name.map(terms).unwrap_or_default();
    let mut removed: Vec<String> = old.iter().filter(|t| !new.contains(t)).cloned().collect();
    let mut added: Vec<String> = new.iter().filter(|t| !old.contains(t)).cloned().collect();
    removed.sort();
    added.sort();
    if !removed.is_empty() {
        sqlx::query("DELETE FROM app_search_terms WHERE term = ANY($1) AND app_count = 1")
            .bind(&removed)
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
        sqlx::query("UPDATE app_search_terms SET app_count = app_count - 1 WHERE term = ANY($1)")
            .bind(&removed)
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    }
    if !added.is_empty() {
        sqlx::query(
            "INSERT INTO app_search_terms (term, app_count) SELECT t, 1 FROM unnest($1::text[]) t \
             ON CONFLICT (term) DO UPDATE SET app_count = app_search_terms.app_count + 1",
        )
        .bind(&added)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
    }
    Ok(())
}

pub(crate) async fn insert_audit(conn: &mut PgConnection, entry: &AuditEntry) -> RepoResult<()> {
    sqlx::query(
        "INSERT INTO store_audit_log (id, actor_id, app_id, action, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entry.id)
    .bind(entry.actor_id.map(|u| u.0))
    .bind(&entry.app_id)
    .bind(&entry.action)
    .bind(&entry.detail)
    .bind(entry.created_at)
    .execute(conn)
    .await
    .map_err(map_sqlx_error)?;
    Ok(())
}

impl PgDatabase {
    async fn finish(tx: PgTx) -> RepoResult<()> {
        tx.commit().await.map_err(map_sqlx_error)
    }
}

#[async_trait]
impl StoreRepository for PgDatabase {
    async fn register_app(&self, registration: NewRegistration) -> RepoResult<()> {
        let app = &registration.app;
        let (metadata, urls) = listing_json(&app.listing);
        let mut tx = self.system_tx().await?;
        sqlx::query(
            "INSERT INTO apps (app_id, name, short_description, description, category, website, \
             support_email, metadata, urls, version, classification, developer_id, \
             developer_name, status, featured, mandatory, submitted_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $18)",
        )
        .bind(&app.app_id)
        .bind(&app.listing.name)
        .bind(&app.listing.short_description)
        .bind(&app.listing.description)
        .bind(&app.listing.category)
        .bind(&app.listing.website)
        .bind(&app.listing.support_email)
        .bind(&metadata)
        .bind(&urls)
        .bind(&app.version)
        .bind(&app.classification)
        .bind(app.developer_id.0)
        .bind(&app.developer_name)
        .bind(app.status.as_db())
        .bind(app.featured)
        .bind(app.mandatory)
        .bind(app.submitted_at)
        .bind(app.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        for client in &registration.clients {
            sqlx::query(
                "INSERT INTO oauth_clients (id, client_id, client_secret_hash, app_id, name, \
                 redirect_uris, grant_types, scopes, is_official, is_active, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
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
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        }
        if let Some(e) = &registration.webhook {
            sqlx::query(
                "INSERT INTO webhook_endpoints (app_id, url, secret_sealed, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(&e.app_id)
            .bind(&e.url)
            .bind(&e.secret_sealed)
            .bind(e.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        }
        move_terms(&mut tx, None, Some(&app.listing.name)).await?;
        insert_audit(&mut tx, &registration.audit).await?;
        Self::finish(tx).await
    }

    async fn find_store_app(&self, app_id: &str) -> RepoResult<Option<StoreApp>> {
        let row: Option<AppRow> =
            sqlx::query_as(&format!("SELECT {APP_COLUMNS} FROM apps WHERE app_id = $1"))
                .bind(app_id)
                .fetch_optional(self.app())
                .await
                .map_err(map_sqlx_error)?;
        row.map(AppRow::into_app).transpose()
    }

    async fn developer_apps(&self, developer: UserId) -> RepoResult<Vec<StoreApp>> {
        let rows: Vec<AppRow> = sqlx::query_as(&format!(
            "SELECT {APP_COLUMNS} FROM apps WHERE developer_id = $1 \
             ORDER BY created_at DESC, app_id LIMIT 1000"
        ))
        .bind(developer.0)
        .fetch_all(self.app())
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter().map(AppRow::into_app).collect()
    }

    async fn update_listing(
        &self,
        app_id: &str,
        listing: &AppListing,
        at: OffsetDateTime,
        audit: AuditEntry,
    ) -> RepoResult<bool> {
        let (metadata, urls) = listing_json(listing);
        let mut tx = self.system_tx().await?;
        let old: Option<String> =
            sqlx::query_scalar("SELECT name FROM apps WHERE app_id = $1 FOR UPDATE")
                .bind(app_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        let Some(old_name) = old else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE apps SET name = $2, short_description = $3, description = $4, category = $5, \
             website = $6, support_email = $7, metadata = $8, urls = $9, updated_at = $10 \
             WHERE app_id = $1",
        )
        .bind(app_id)
        .bind(&listing.name)
        .bind(&listing.short_description)
        .bind(&listing.description)
        .bind(&listing.category)
        .bind(&listing.website)
        .bind(&listing.support_email)
        .bind(&metadata)
        .bind(&urls)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        move_terms(&mut tx, Some(&old_name), Some(&listing.name)).await?;
        insert_audit(&mut tx, &audit).await?;
        Self::finish(tx).await?;
        Ok(true)
    }

    async fn change_status(&self, change: StatusChange) -> RepoResult<bool> {
        let mut tx = self.system_tx().await?;
        let (set_reason, reason) = match &change.rejection_reason {
            Some(reason) => (true, reason.clone()),
            None => (false, None),
        };
        let updated = sqlx::query(
            "UPDATE apps SET status = $3, version = COALESCE($4, version), \
             rejection_reason = CASE WHEN $5 THEN $6 ELSE rejection_reason END, \
             submitted_at = COALESCE($7, submitted_at), \
             published_at = COALESCE(published_at, $8), updated_at = $9 \
             WHERE app_id = $1 AND status = $2",
        )
        .bind(&change.app_id)
        .bind(change.from.as_db())
        .bind(change.to.as_db())
        .bind(&change.version)
        .bind(set_reason)
        .bind(reason)
        .bind(change.submitted_at)
        .bind(change.published_at)
        .bind(change.at)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        if let Some(event) = &change.outbox {
            sqlx::query(
                "INSERT INTO webhook_outbox (id, app_id, event, payload, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(event.id)
            .bind(&event.app_id)
            .bind(&event.event)
            .bind(&event.payload)
            .bind(event.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        }
        insert_audit(&mut tx, &change.audit).await?;
        Self::finish(tx).await?;
        Ok(true)
    }

    async fn set_flags(
        &self,
        app_id: &str,
        featured: Option<bool>,
        mandatory: Option<bool>,
        classification: Option<&str>,
        at: OffsetDateTime,
        audit: AuditEntry,
    ) -> RepoResult<bool> {
        let mut tx = self.system_tx().await?;
        let updated = sqlx::query(
            "UPDATE apps SET featured = COALESCE($2, featured), \
             mandatory = COALESCE($3, mandatory), \
             classification = COALESCE($5, classification), updated_at = $4 WHERE app_id = $1",
        )
        .bind(app_id)
        .bind(featured)
        .bind(mandatory)
        .bind(at)
        .bind(classification)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        insert_audit(&mut tx, &audit).await?;
        Self::finish(tx).await?;
        Ok(true)
    }

    async fn review_queue(&self, limit: i64, offset: i64) -> RepoResult<Vec<StoreApp>> {
        let rows: Vec<AppRow> = sqlx::query_as(&format!(
            "SELECT {APP_COLUMNS} FROM apps WHERE status = 'pending' AND submitted_at IS NOT NULL \
             ORDER BY submitted_at, app_id LIMIT $1 OFFSET $2"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.system())
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter().map(AppRow::into_app).collect()
    }

    async fn audit_log(&self, app_id: &str, limit: i64) -> RepoResult<Vec<AuditEntry>> {
        type Row = (
            Uuid,
            Option<Uuid>,
            Option<String>,
            String,
            Value,
            OffsetDateTime,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, actor_id, app_id, action, detail, created_at FROM store_audit_log \
             WHERE app_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(app_id)
        .bind(limit)
        .fetch_all(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, actor, app_id, action, detail, created_at)| AuditEntry {
                    id,
                    actor_id: actor.map(UserId),
                    app_id,
                    action,
                    detail,
                    created_at,
                },
            )
            .collect())
    }

    async fn append_audit(&self, entry: AuditEntry) -> RepoResult<()> {
        let mut conn = self.system().acquire().await.map_err(map_sqlx_error)?;
        insert_audit(&mut conn, &entry).await
    }

    async fn categories(&self) -> RepoResult<Vec<Category>> {
        type Row = (
            Uuid,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<Uuid>,
            i32,
            bool,
            OffsetDateTime,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, name, display_name, description, icon_url, parent_id, sort_order, \
             is_active, created_at FROM app_categories ORDER BY sort_order, name LIMIT 10000",
        )
        .fetch_all(self.app())
        .await
        .map_err(map_sqlx_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    name,
                    display_name,
                    description,
                    icon_url,
                    parent_id,
                    sort_order,
                    is_active,
                    created_at,
                )| {
                    Category {
                        id,
                        name,
                        display_name,
                        description,
                        icon_url,
                        parent_id,
                        sort_order,
                        is_active,
                        created_at,
                    }
                },
            )
            .collect())
    }

    async fn create_category(&self, c: Category, audit: AuditEntry) -> RepoResult<()> {
        let mut tx = self.system_tx().await?;
        sqlx::query(
            "INSERT INTO app_categories (id, name, display_name, description, icon_url, \
             parent_id, sort_order, is_active, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(c.id)
        .bind(&c.name)
        .bind(&c.display_name)
        .bind(&c.description)
        .bind(&c.icon_url)
        .bind(c.parent_id)
        .bind(c.sort_order)
        .bind(c.is_active)
        .bind(c.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        insert_audit(&mut tx, &audit).await?;
        Self::finish(tx).await
    }

    async fn update_category(&self, c: Category, audit: AuditEntry) -> RepoResult<bool> {
        let mut tx = self.system_tx().await?;
        let updated = sqlx::query(
            "UPDATE app_categories SET name = $2, display_name = $3, description = $4, \
             icon_url = $5, parent_id = $6, sort_order = $7, is_active = $8 WHERE id = $1",
        )
        .bind(c.id)
        .bind(&c.name)
        .bind(&c.display_name)
        .bind(&c.description)
        .bind(&c.icon_url)
        .bind(c.parent_id)
        .bind(c.sort_order)
        .bind(c.is_active)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        insert_audit(&mut tx, &audit).await?;
        Self::finish(tx).await?;
        Ok(true)
    }

    async fn delete_category(&self, id: Uuid, audit: AuditEntry) -> RepoResult<bool> {
        let mut tx = self.system_tx().await?;
        let deleted = sqlx::query("DELETE FROM app_categories WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        insert_audit(&mut tx, &audit).await?;
        Self::finish(tx).await?;
        Ok(true)
    }

    async fn install_app(
        &self,
        user: UserId,
        app_id: &str,
        version: &str,
        at: OffsetDateTime,
        event: StoreEvent,
    ) -> RepoResult<InstallOutcome> {
        crate::store_users::install_app(self, user, app_id, version, at, event).await
    }

    async fn uninstall_app(
        &self,
        user: UserId,
        app_id: &str,
        at: OffsetDateTime,
        event: StoreEvent,
    ) -> RepoResult<bool> {
        crate::store_users::uninstall_app(self, user, app_id, at, event).await
    }

    async fn installation(&self, user: UserId, app_id: &str) -> RepoResult<Option<Installation>> {
        crate::store_users::installation(self, user, app_id).await
    }

    async fn installed_apps(&self, user: UserId) -> RepoResult<Vec<Installation>> {
        crate::store_users::installed_apps(self, user).await
    }

    async fn write_review(&self, review: ReviewWrite) -> RepoResult<Review> {
        crate::store_users::write_review(self, review).await
    }

    async fn reviews(&self, app_id: &str, limit: i64, offset: i64) -> RepoResult<Vec<Review>> {
        crate::store_users::reviews(self, app_id, limit, offset).await
    }

    async fn find_review(&self, review_id: Uuid) -> RepoResult<Option<Review>> {
        crate::store_users::find_review(self, review_id).await
    }

    async fn vote_helpful(
        &self,
        review_id: Uuid,
        user: UserId,
        at: OffsetDateTime,
    ) -> RepoResult<bool> {
        crate::store_users::vote_helpful(self, review_id, user, at).await
    }

    async fn set_review_status(
        &self,
        review_id: Uuid,
        status: &str,
        audit: AuditEntry,
    ) -> RepoResult<bool> {
        let mut tx = self.system_tx().await?;
        let updated =
            sqlx::query("UPDATE app_reviews SET status = $2, updated_at = $3 WHERE review_id = $1")
                .bind(review_id)
                .bind(status)
                .bind(audit.created_at)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?
                .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        insert_audit(&mut tx, &audit).await?;
        Self::finish(tx).await?;
        Ok(true)
    }

    async fn rating_summary(&self, app_id: &str) -> RepoResult<RatingSummary> {
        crate::store_users::rating_summary(self, app_id).await
    }
}
