//! The developer's view of their apps: ownership, the listing's rules, listing edits and
//! the app's status.

use super::{Caller, StoreError};
use crate::fields::FieldErrors;
use serde_json::{json, Value};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::user::Role;
use tmcp_domain::Clock;
use tmcp_repository::{AppListing, AuditEntry, Database, StoreApp, StoreRepository};

/// The app, when `caller` is its developer or an admin; otherwise (or when there is no such
/// app) `AppNotFound`, so nobody learns which ids other developers hold.
pub async fn owned_app<D: StoreRepository + ?Sized>(
    db: &D,
    caller: Caller,
    app_id: &str,
) -> Result<StoreApp, StoreError> {
    if app_id.is_empty() || app_id.len() > 255 {
        return Err(StoreError::AppNotFound);
    }
    let app = db
        .find_store_app(app_id)
        .await?
        .ok_or(StoreError::AppNotFound)?;
    if caller.is_admin() || app.developer_id == caller.user {
        Ok(app)
    } else {
        Err(StoreError::AppNotFound)
    }
}

/// 403 unless the caller may manage apps (developers and admins).
pub fn require_developer(caller: Caller) -> Result<(), StoreError> {
    match caller.role {
        Role::Developer | Role::Admin => Ok(()),
        Role::User => Err(StoreError::RoleRequired("developer")),
    }
}

/// 403 unless the caller is an admin.
pub fn require_admin(caller: Caller) -> Result<(), StoreError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(StoreError::RoleRequired("admin"))
    }
}

/// An audit row stamped now.
pub fn audit(
    clock: &dyn Clock,
    caller: Caller,
    app_id: Option<&str>,
    action: &str,
    detail: Value,
) -> AuditEntry {
    let now = clock.now();
    AuditEntry {
        id: uuid_v7_at(now),
        actor_id: Some(caller.user),
        app_id: app_id.map(str::to_owned),
        action: action.to_owned(),
        detail,
        created_at: now,
    }
}

/// Checks text: trimmed, 1..=max characters (or absent when optional), no control
/// characters except newlines and tabs in long text.
pub(crate) fn text(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
    max: usize,
    required: bool,
) -> Option<String> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        if required {
            errors.add(field, "is required");
        }
        return None;
    };
    if value.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
        return None;
    }
    if value
        .chars()
        .any(|c| c.is_control() && !(max > 500 && matches!(c, '\n' | '\t' | '\r')))
    {
        errors.add(field, "must not contain control characters");
        return None;
    }
    Some(value.to_owned())
}

/// An `https` URL of at most 500 characters (`http` only for loopback, in development).
pub(crate) fn web_url(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
) -> Option<String> {
    let value = text(errors, field, value, 500, false)?;
    match url::Url::parse(&value) {
        Ok(url) if url.scheme() == "https" && url.host().is_some() => Some(value),
        _ => {
            errors.add(field, "must be an https URL");
            None
        }
    }
}

/// A contact address: `local@domain`, at most 255 characters.
pub(crate) fn email(errors: &mut FieldErrors, field: &str, value: Option<&str>) -> Option<String> {
    let value = text(errors, field, value, 255, false)?;
    let valid = value
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !value.contains(char::is_whitespace);
    if valid {
        Some(value)
    } else {
        errors.add(field, "must be an email address");
        None
    }
}

/// `#rrggbb`.
pub(crate) fn color(errors: &mut FieldErrors, field: &str, value: Option<&str>) -> Option<String> {
    let value = value?;
    let valid = value.len() == 7
        && value.starts_with('#')
        && value[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if valid {
        Some(value.to_ascii_lowercase())
    } else {
        errors.add(field, "must be a color such as #1a2b3c");
        None
    }
}

/// The listing fields a developer edits after registration (all optional: absent keeps).
#[derive(Debug, Clone, Default)]
pub struct ListingEdit {
    pub name: Option<String>,
    pub short_description: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub website: Option<String>,
    pub support_email: Option<String>,
    pub icon_url: Option<String>,
    pub primary_color: Option<String>,
    pub entry_url: Option<String>,
}

/// Applies `edit` to the developer's app (or an admin's view of any app) and records it.
pub async fn update_listing(
    db: &dyn Database,
    clock: &dyn Clock,
    caller: Caller,
    app_id: &str,
    edit: ListingEdit,
) -> Result<StoreApp, StoreError> {
    require_developer(caller)?;
    let app = owned_app(db, caller, app_id).await?;
    let mut errors = FieldErrors::new();
    let mut listing = app.listing.clone();
    if let Some(name) = edit.name.as_deref() {
        listing.name = text(&mut errors, "name", Some(name), 255, true).unwrap_or_default();
    }
    if let Some(v) = edit.short_description.as_deref() {
        listing.short_description = text(&mut errors, "short_description", Some(v), 500, false);
    }
    if let Some(v) = edit.description.as_deref() {
        listing.description = text(&mut errors, "description", Some(v), 10_000, false);
    }
    if let Some(v) = edit.category.as_deref() {
        listing.category = category_name(db, &mut errors, v).await?;
    }
    if let Some(v) = edit.website.as_deref() {
        listing.website = web_url(&mut errors, "website", Some(v));
    }
    if let Some(v) = edit.support_email.as_deref() {
        listing.support_email = email(&mut errors, "support_email", Some(v));
    }
    let mut branding = listing.branding.as_object().cloned().unwrap_or_default();
    if let Some(v) = edit.icon_url.as_deref() {
        branding.insert(
            "icon_url".into(),
            json!(web_url(&mut errors, "icon_url", Some(v))),
        );
    }
    if let Some(v) = edit.primary_color.as_deref() {
        branding.insert(
            "primary_color".into(),
            json!(color(&mut errors, "primary_color", Some(v))),
        );
    }
    listing.branding = Value::Object(branding);
    let mut technical = listing.technical.as_object().cloned().unwrap_or_default();
    if let Some(v) = edit.entry_url.as_deref() {
        technical.insert(
            "entry_url".into(),
            json!(web_url(&mut errors, "entry_url", Some(v))),
        );
    }
    listing.technical = Value::Object(technical);
    errors.into_result()?;
    let changed: Vec<&str> = [
        ("name", edit.name.is_some()),
        ("short_description", edit.short_description.is_some()),
        ("description", edit.description.is_some()),
        ("category", edit.category.is_some()),
        ("website", edit.website.is_some()),
        ("support_email", edit.support_email.is_some()),
        ("icon_url", edit.icon_url.is_some()),
        ("primary_color", edit.primary_color.is_some()),
        ("entry_url", edit.entry_url.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect();
    let now = clock.now();
    let entry = audit(
        clock,
        caller,
        Some(app_id),
        "listing_updated",
        json!({ "fields": changed }),
    );
    if !db.update_listing(app_id, &listing, now, entry).await? {
        return Err(StoreError::AppNotFound);
    }
    owned_app(db, caller, app_id).await
}

/// A category given by `name`: it must exist and be active. Empty clears it.
pub(crate) async fn category_name(
    db: &dyn Database,
    errors: &mut FieldErrors,
    value: &str,
) -> Result<Option<String>, StoreError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let known = db
        .categories()
        .await?
        .into_iter()
        .any(|c| c.is_active && c.name == value);
    if known {
        Ok(Some(value.to_owned()))
    } else {
        errors.add("category", "must be the name of an active store category");
        Ok(None)
    }
}

/// `AppListing` text as read back: used by renderers that show a listing.
pub fn icon_url(listing: &AppListing) -> Option<String> {
    listing
        .branding
        .get("icon_url")
        .and_then(Value::as_str)
        .map(str::to_owned)
}
