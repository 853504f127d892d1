//! The analytics service's errors as API answers.

use super::{field_errors, ApiError};
use axum::http::StatusCode;
use serde_json::{json, Map, Value};
use tmcp_usecases::analytics::AnalyticsError;

impl From<AnalyticsError> for ApiError {
    fn from(error: AnalyticsError) -> Self {
        let message = error.to_string();
        match error {
            AnalyticsError::InvalidItem {
                index,
                reason,
                fields,
                ..
            } => {
                let fields: Map<String, Value> = fields
                    .iter()
                    .map(|(f, m)| (f.to_owned(), Value::String(m.to_owned())))
                    .collect();
                let mut details = json!({ "fields": fields, "reason": reason });
                if let Some(index) = index {
                    details["index"] = json!(index);
                }
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "VALIDATION_FAILED",
                    match index {
                        Some(i) => format!("item {i} of the batch is invalid; nothing was stored"),
                        None => "the request is invalid; nothing was stored".to_owned(),
                    },
                )
                .with_details(details)
            }
            AnalyticsError::InvalidQuery(fields) => field_errors(&fields),
            AnalyticsError::UserRequired => {
                ApiError::new(StatusCode::FORBIDDEN, "INSUFFICIENT_PERMISSIONS", message)
            }
            AnalyticsError::AppNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "APP_NOT_FOUND", message)
            }
            AnalyticsError::Repository(e) => e.into(),
        }
    }
}
