//! Store categories: a tree through `parent_id`, managed by admins, read by everyone.

use super::apps::{audit, require_admin, text};
use super::{Caller, StoreError};
use crate::fields::FieldErrors;
use serde_json::json;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::Clock;
use tmcp_repository::{Category, Database, RepoError};
use uuid::Uuid;

/// What an admin gives for a category (all fields on create; absent keeps on update).
#[derive(Debug, Clone, Default)]
pub struct CategoryInput {
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub icon_url: Option<String>,
    /// `Some(None)` makes it a root.
    pub parent_id: Option<Option<Uuid>>,
    pub sort_order: Option<i64>,
    pub is_active: Option<bool>,
}

fn check_name(errors: &mut FieldErrors, name: Option<&str>, required: bool) -> Option<String> {
    let name = text(errors, "name", name, 100, required)?;
    let valid = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if valid {
        Some(name)
    } else {
        errors.add("name", "lower-case letters, digits, _ and - only");
        None
    }
}

fn apply(errors: &mut FieldErrors, category: &mut Category, input: &CategoryInput) {
    if let Some(name) = check_name(errors, input.name.as_deref(), false) {
        category.name = name;
    }
    if let Some(display) = text(
        errors,
        "display_name",
        input.display_name.as_deref(),
        255,
        false,
    ) {
        category.display_name = display;
    }
    if input.description.is_some() {
        category.description = text(
            errors,
            "description",
            input.description.as_deref(),
            2000,
            false,
        );
    }
    if input.icon_url.is_some() {
        category.icon_url = super::apps::web_url(errors, "icon_url", input.icon_url.as_deref());
    }
    if let Some(parent) = input.parent_id {
        category.parent_id = parent;
    }
    if let Some(order) = input.sort_order {
        match i32::try_from(order) {
            Ok(order) if (-1_000_000..=1_000_000).contains(&order) => category.sort_order = order,
            _ => errors.add("sort_order", "must be between -1000000 and 1000000"),
        }
    }
    if let Some(active) = input.is_active {
        category.is_active = active;
    }
}

/// Every category, for the tree (callers nest them by `parent_id`).
pub async fn list(db: &dyn Database, include_inactive: bool) -> Result<Vec<Category>, StoreError> {
    let mut all = db.categories().await?;
    if !include_inactive {
        all.retain(|c| c.is_active);
    }
    Ok(all)
}

/// Whether making `parent` the parent of `id` would close a loop.
fn makes_cycle(all: &[Category], id: Uuid, parent: Option<Uuid>) -> bool {
    let mut cursor = parent;
    let mut steps = 0;
    while let Some(current) = cursor {
        if current == id || steps > all.len() {
            return true;
        }
        steps += 1;
        cursor = all
            .iter()
            .find(|c| c.id == current)
            .and_then(|c| c.parent_id);
    }
    false
}

pub async fn create(
    db: &dyn Database,
    clock: &dyn Clock,
    caller: Caller,
    input: CategoryInput,
) -> Result<Category, StoreError> {
    require_admin(caller)?;
    let mut errors = FieldErrors::new();
    check_name(&mut errors, input.name.as_deref(), true);
    text(
        &mut errors,
        "display_name",
        input.display_name.as_deref(),
        255,
        true,
    );
    let now = clock.now();
    let mut category = Category {
        id: uuid_v7_at(now),
        name: String::new(),
        display_name: String::new(),
        description: None,
        icon_url: None,
        parent_id: None,
        sort_order: 0,
        is_active: true,
        created_at: now,
    };
    apply(&mut errors, &mut category, &input);
    let all = db.categories().await?;
    if let Some(parent) = category.parent_id {
        if !all.iter().any(|c| c.id == parent) {
            errors.add("parent_id", "no such category");
        }
    }
    errors.into_result()?;
    let entry = audit(
        clock,
        caller,
        None,
        "category_created",
        json!({ "category_id": category.id, "name": category.name }),
    );
    match db.create_category(category.clone(), entry).await {
        Ok(()) => Ok(category),
        Err(RepoError::Conflict { .. }) => Err(StoreError::AlreadyExists(category.name)),
        Err(e) => Err(e.into()),
    }
}

pub async fn update(
    db: &dyn Database,
    clock: &dyn Clock,
    caller: Caller,
    id: Uuid,
    input: CategoryInput,
) -> Result<Category, StoreError> {
    require_admin(caller)?;
    let all = db.categories().await?;
    let mut category = all
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or(StoreError::CategoryNotFound)?;
    let mut errors = FieldErrors::new();
    apply(&mut errors, &mut category, &input);
    if let Some(parent) = category.parent_id {
        if !all.iter().any(|c| c.id == parent) {
            errors.add("parent_id", "no such category");
        } else if makes_cycle(&all, id, Some(parent)) {
            errors.add("parent_id", "would make the category its own ancestor");
        }
    }
    errors.into_result()?;
    let entry = audit(
        clock,
        caller,
        None,
        "category_updated",
        json!({ "category_id": id }),
    );
    match db.update_category(category.clone(), entry).await {
        Ok(true) => Ok(category),
        Ok(false) => Err(StoreError::CategoryNotFound),
        Err(RepoError::Conflict { .. }) => Err(StoreError::AlreadyExists(category.name)),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(
    db: &dyn Database,
    clock: &dyn Clock,
    caller: Caller,
    id: Uuid,
) -> Result<(), StoreError> {
    require_admin(caller)?;
    let all = db.categories().await?;
    if all.iter().any(|c| c.parent_id == Some(id)) {
        return Err(StoreError::CategoryInUse);
    }
    let entry = audit(
        clock,
        caller,
        None,
        "category_deleted",
        json!({ "category_id": id }),
    );
    match db.delete_category(id, entry).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(StoreError::CategoryNotFound),
        Err(RepoError::Constraint { .. }) => Err(StoreError::CategoryInUse),
        Err(e) => Err(e.into()),
    }
}
