//! Installing and uninstalling apps. An install records the `installed` lifecycle event with
//! the installation. An uninstall withdraws the app's grant (its TEPs stop at once), wipes
//! the user's storage for the app, then marks the installation and records `uninstalled`:
//! each step is idempotent, so an uninstall cut short is completed by running it again.

use super::{Caller, StoreError};
use crate::oauth::withdrawal::withdraw_grant;
use crate::oauth::OAuthServiceError;
use crate::storage::{write_context, StorageSettings};
use serde_json::json;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::{AppId, Clock, UserId};
use tmcp_repository::{Database, InstallOutcome, Installation, StoreApp, StoreEvent};

/// Installs a listed app for the caller at its published version.
pub async fn install(
    db: &dyn Database,
    clock: &dyn Clock,
    user: UserId,
    app_id: &str,
) -> Result<(StoreApp, InstallOutcome), StoreError> {
    let app = visible_app(db, app_id).await?;
    if !app.status.installable() {
        return Err(StoreError::NotInstallable);
    }
    let now = clock.now();
    let event = StoreEvent {
        event_id: uuid_v7_at(now),
        event_type: "installed",
        data: json!({ "version": app.version, "source": "store" }),
    };
    let outcome = db
        .install_app(user, app_id, &app.version, now, event)
        .await?;
    Ok((app, outcome))
}

/// An app that exists and was ever published (pending and rejected apps are invisible).
async fn visible_app(db: &dyn Database, app_id: &str) -> Result<StoreApp, StoreError> {
    if AppId::parse(app_id).is_err() {
        return Err(StoreError::AppNotFound);
    }
    db.find_store_app(app_id)
        .await?
        .filter(|app| app.published_at.is_some())
        .ok_or(StoreError::AppNotFound)
}

/// Uninstalls: refused for mandatory apps; `NotInstalled` when there is nothing to remove.
pub async fn uninstall(
    db: &dyn Database,
    clock: &dyn Clock,
    storage: &StorageSettings,
    user: UserId,
    app_id: &str,
) -> Result<(), StoreError> {
    let app = visible_app(db, app_id).await?;
    if app.mandatory {
        return Err(StoreError::NotRemovable);
    }
    if db.installation(user, app_id).await?.is_none() {
        return Err(StoreError::NotInstalled);
    }
    remove(db, clock, storage, user, &app).await
}

async fn remove(
    db: &dyn Database,
    clock: &dyn Clock,
    storage: &StorageSettings,
    user: UserId,
    app: &StoreApp,
) -> Result<(), StoreError> {
    for client_id in [app.app_id.clone(), format!("{}_backend", app.app_id)] {
        match withdraw_grant(db, clock, user, &client_id, None).await {
            Ok(_) | Err(OAuthServiceError::UnknownClient) => {}
            Err(OAuthServiceError::Repository(e)) => return Err(e.into()),
            Err(other) => return Err(StoreError::Internal(other.to_string())),
        }
    }
    let app_id =
        AppId::parse(&app.app_id).map_err(|_| StoreError::Internal("stored app id".into()))?;
    let now = clock.now();
    let wiped = db
        .delete_all_for_app(user, &app_id, &write_context(now, storage, &app_id))
        .await?;
    let event = StoreEvent {
        event_id: uuid_v7_at(now),
        event_type: "uninstalled",
        data: json!({ "version": app.version, "storage_entries_deleted": wiped }),
    };
    db.uninstall_app(user, &app.app_id, now, event).await?;
    tracing::info!(%user, app_id = %app.app_id, wiped, "app uninstalled");
    Ok(())
}

/// The caller's live installations.
pub async fn installed(db: &dyn Database, caller: Caller) -> Result<Vec<Installation>, StoreError> {
    Ok(db.installed_apps(caller.user).await?)
}

/// Uninstalls every app of a user whose account is being deleted (mandatory ones too).
/// Failures are logged and skipped: the account deletion itself has happened.
pub async fn uninstall_all(
    db: &dyn Database,
    clock: &dyn Clock,
    storage: &StorageSettings,
    user: UserId,
) -> Result<usize, StoreError> {
    let mut removed = 0;
    for installation in db.installed_apps(user).await? {
        let Some(app) = db.find_store_app(&installation.app_id).await? else {
            continue;
        };
        match remove(db, clock, storage, user, &app).await {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::warn!(%user, app_id = %app.app_id, error = %e, "uninstall on account deletion failed")
            }
        }
    }
    Ok(removed)
}
