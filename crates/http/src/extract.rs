//! Extractors that answer with the error envelope instead of axum's plain-text rejections.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::json;

/// `Json<T>` with envelope errors: malformed JSON → 400 `INVALID_REQUEST`, well-formed JSON of
/// the wrong shape → 422 `VALIDATION_FAILED`, too large → 413 `PAYLOAD_TOO_LARGE`.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

pub(crate) fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
            "request body does not match the expected shape",
        )
        .with_details(json!({ "fields": { "body": e.body_text() } })),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::invalid_request("request body is not valid JSON")
        }
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::invalid_request("expected Content-Type: application/json")
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "request body is too large",
            )
        }
        other => ApiError::invalid_request(other.body_text()),
    }
}

/// Parses a JSON body after the caller has been admitted (so a token without the scope
/// learns nothing from body validation): needs `Content-Type: application/json`; malformed
/// JSON → 400 `INVALID_REQUEST`; wrong shape → 422 `VALIDATION_FAILED`.
pub fn parse_body<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json")
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    if !is_json {
        return Err(ApiError::invalid_request(
            "expected Content-Type: application/json",
        ));
    }
    axum::Json::<T>::from_bytes(body)
        .map(|axum::Json(value)| value)
        .map_err(crate::extract::json_rejection)
}
