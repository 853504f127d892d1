//! The store's JSON shapes.

use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tmcp_repository::{Category, Installation, RatingSummary, Review, StoreApp};
use utoipa::ToSchema;

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// A listing part as the document promises it, an object: apps registered with `admin
/// create-client --developer` have none stored (`null`), which reads as an empty one.
fn object_or_empty(part: &Value) -> Value {
    match part {
        Value::Object(_) => part.clone(),
        _ => Value::Object(serde_json::Map::new()),
    }
}

/// An app as its developer and admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppView {
    /// `ma_` + `[a-z0-9_]{3,60}`.
    pub miniapp_id: String,
    pub name: String,
    pub short_description: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    /// `official`, `verified`, `community` or `beta`.
    pub classification: String,
    /// `pending_review`, `active`, `rejected`, `deprecated` or `removed`.
    pub status: String,
    /// The published version (`0.0.0` before the first approval).
    pub version: String,
    pub developer_name: String,
    pub website: Option<String>,
    pub support_email: Option<String>,
    #[schema(value_type = Object)]
    pub developer: Value,
    #[schema(value_type = Object)]
    pub technical: Value,
    #[schema(value_type = Object)]
    pub branding: Value,
    pub featured: bool,
    pub mandatory: bool,
    /// Why the last submission was rejected.
    pub rejection_reason: Option<String>,
    pub submitted_at: Option<String>,
    pub published_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&StoreApp> for AppView {
    fn from(app: &StoreApp) -> Self {
        Self {
            miniapp_id: app.app_id.clone(),
            name: app.listing.name.clone(),
            short_description: app.listing.short_description.clone(),
            description: app.listing.description.clone(),
            category: app.listing.category.clone(),
            classification: app.classification.clone(),
            status: app.status.as_wire().to_owned(),
            version: app.version.clone(),
            developer_name: app.developer_name.clone(),
            website: app.listing.website.clone(),
            support_email: app.listing.support_email.clone(),
            developer: object_or_empty(&app.listing.developer),
            technical: object_or_empty(&app.listing.technical),
            branding: object_or_empty(&app.listing.branding),
            featured: app.featured,
            mandatory: app.mandatory,
            rejection_reason: app.rejection_reason.clone(),
            submitted_at: app.submitted_at.map(rfc3339),
            published_at: app.published_at.map(rfc3339),
            created_at: rfc3339(app.created_at),
            updated_at: rfc3339(app.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppList {
    pub apps: Vec<AppView>,
}

/// Stars 1–5 and how many active reviews gave each.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingView {
    pub average: f64,
    pub count: i64,
    /// Keys `"1"`…`"5"`.
    #[schema(value_type = Object)]
    pub histogram: Value,
}

impl From<&RatingSummary> for RatingView {
    fn from(summary: &RatingSummary) -> Self {
        let histogram: serde_json::Map<String, Value> = summary
            .histogram
            .iter()
            .enumerate()
            .map(|(i, n)| ((i + 1).to_string(), Value::from(*n)))
            .collect();
        Self {
            average: (summary.average * 100.0).round() / 100.0,
            count: summary.count,
            histogram: Value::Object(histogram),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryView {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub icon_url: Option<String>,
    pub parent_id: Option<String>,
    pub sort_order: i32,
    pub is_active: bool,
    /// Subcategories (only in the tree).
    #[schema(no_recursion)]
    pub children: Vec<CategoryView>,
}

impl From<&Category> for CategoryView {
    fn from(c: &Category) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            display_name: c.display_name.clone(),
            description: c.description.clone(),
            icon_url: c.icon_url.clone(),
            parent_id: c.parent_id.map(|p| p.to_string()),
            sort_order: c.sort_order,
            is_active: c.is_active,
            children: Vec::new(),
        }
    }
}

/// Nests `all` under their parents; categories whose parent is missing become roots.
pub(crate) fn category_tree(all: &[Category]) -> Vec<CategoryView> {
    fn children_of(
        all: &[Category],
        parent: Option<uuid::Uuid>,
        depth: usize,
    ) -> Vec<CategoryView> {
        if depth > 16 {
            return Vec::new();
        }
        all.iter()
            .filter(|c| {
                c.parent_id == parent
                    || (parent.is_none()
                        && c.parent_id.is_some_and(|p| !all.iter().any(|o| o.id == p)))
            })
            .map(|c| {
                let mut view = CategoryView::from(c);
                view.children = children_of(all, Some(c.id), depth + 1);
                view
            })
            .collect()
    }
    children_of(all, None, 0)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryTree {
    pub categories: Vec<CategoryView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstallationView {
    pub installation_id: String,
    pub miniapp_id: String,
    pub version: String,
    /// `installed` (or `updating`).
    pub status: String,
    pub installed_at: String,
}

impl From<&Installation> for InstallationView {
    fn from(i: &Installation) -> Self {
        Self {
            installation_id: i.installation_id.to_string(),
            miniapp_id: i.app_id.clone(),
            version: i.version.clone(),
            status: i.status.clone(),
            installed_at: rfc3339(i.installed_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    pub review_id: String,
    pub miniapp_id: String,
    pub username: String,
    pub rating: i32,
    pub title: Option<String>,
    pub comment: Option<String>,
    /// The version the author had installed when writing.
    pub version: Option<String>,
    pub helpful_count: i32,
    /// The author has installed the app.
    pub verified: bool,
    /// `active`, `hidden` or `removed`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Review> for ReviewView {
    fn from(r: &Review) -> Self {
        Self {
            review_id: r.review_id.to_string(),
            miniapp_id: r.app_id.clone(),
            username: r.username.clone(),
            rating: r.rating,
            title: r.title.clone(),
            comment: r.comment.clone(),
            version: r.version.clone(),
            helpful_count: r.helpful_count,
            verified: r.verified,
            status: r.status.clone(),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}
