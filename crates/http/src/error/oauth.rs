//! RFC 6749 §5.2 error answers: `{"error","error_description"}` plus extension members,
//! never cached. The OAuth endpoints answer these instead of the API envelope.

use super::ApiError;
use crate::ratelimit::RateDecision;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Wire shape of an OAuth error (for the OpenAPI document).
#[derive(Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`, `invalid_scope`, `authorization_pending`, `slow_down`,
    /// `access_denied`, `expired_token`, `consent_required`, `invalid_target`,
    /// `rate_limit_exceeded`, `server_error`, `temporarily_unavailable` (503 with
    /// `Retry-After`).
    pub error: String,
    pub error_description: String,
    /// `slow_down`: the polling interval to use from now on (seconds).
    pub interval: Option<i64>,
    /// `consent_required`: the scopes the user has not approved yet.
    pub consent_required_scopes: Option<Vec<String>>,
    /// `consent_required`: where the user can approve them.
    pub consent_uri: Option<String>,
    /// `rate_limit_exceeded`: seconds to wait.
    pub retry_after: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    pub extra: Map<String, Value>,
    pub headers: Vec<(&'static str, String)>,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            extra: Map::new(),
            headers: Vec::new(),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    /// 401 `invalid_client`; `basic` adds the challenge RFC 6749 §5.2 asks for when the
    /// client tried HTTP Basic.
    pub fn invalid_client(basic: bool) -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
        if basic {
            error
                .headers
                .push(("www-authenticate", "Basic realm=\"tmcp\"".into()));
        }
        error
    }

    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal server error",
        )
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    pub fn with_rate(mut self, decision: &RateDecision) -> Self {
        self.headers.extend(rate_headers(decision));
        self
    }
}

pub fn rate_headers(decision: &RateDecision) -> Vec<(&'static str, String)> {
    vec![
        ("x-ratelimit-limit", decision.limit.to_string()),
        ("x-ratelimit-remaining", decision.remaining.to_string()),
        ("x-ratelimit-reset", decision.reset.to_string()),
    ]
}

/// Envelope errors from shared code (repositories, the rate limiter) in OAuth form. A 429
/// keeps its `Retry-After` and `X-RateLimit-*` headers, a 503 (database unreachable) becomes
/// `temporarily_unavailable` with its `Retry-After`; everything else internal is a 500.
impl From<ApiError> for OAuthError {
    fn from(error: ApiError) -> Self {
        let mut converted = match error.status {
            StatusCode::TOO_MANY_REQUESTS => {
                let mut e = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_exceeded",
                    "too many requests; slow down",
                );
                if let Some(obj) = error.details.as_object() {
                    for (k, v) in obj {
                        e.extra.insert(k.clone(), v.clone());
                    }
                }
                e
            }
            // RFC 6749 §4.1.2.1's code for "overloaded or under maintenance"; the envelope's
            // `Retry-After` is kept below.
            StatusCode::SERVICE_UNAVAILABLE => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the service is temporarily unavailable; try again later",
            ),
            StatusCode::INTERNAL_SERVER_ERROR => {
                Self::new(error.status, "server_error", "internal server error")
            }
            status => Self::new(status, "invalid_request", error.message.clone()),
        };
        converted.headers = error.headers;
        converted
    }
}

impl From<tmcp_repository::RepoError> for OAuthError {
    fn from(error: tmcp_repository::RepoError) -> Self {
        ApiError::from(error).into()
    }
}

/// Headers every token-endpoint answer carries (RFC 6749 §5.1).
pub fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), Value::from(self.error));
        body.insert(
            "error_description".into(),
            Value::from(self.description.clone()),
        );
        for (k, v) in self.extra {
            body.insert(k, v);
        }
        let mut response = (self.status, axum::Json(Value::Object(body))).into_response();
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.headers_mut().insert(*name, value);
            }
        }
        no_store(&mut response);
        response
    }
}

/// The OAuth service's errors on the envelope routes (`/api/v1/auth/revoke`): the one place
/// that decides their answers.
impl From<tmcp_usecases::oauth::OAuthServiceError> for ApiError {
    fn from(error: tmcp_usecases::oauth::OAuthServiceError) -> Self {
        use tmcp_usecases::oauth::OAuthServiceError as E;
        match error {
            E::InvalidField { field, message } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_FAILED",
                "request body has invalid fields",
            )
            .with_details(serde_json::json!({ "fields": { field: message } })),
            E::UnknownClient => ApiError::not_found("no client with this id"),
            E::InvalidRegistration(message) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_FAILED",
                message,
            ),
            E::ClientExists(_) => ApiError::new(
                StatusCode::CONFLICT,
                "CONFLICT",
                "the resource already exists",
            ),
            E::UserCodesExhausted => ApiError::internal("no free device user code"),
            E::Repository(error) => error.into(),
        }
    }
}

/// The OAuth service's errors at the RFC 6749 endpoints.
impl From<tmcp_usecases::oauth::OAuthServiceError> for OAuthError {
    fn from(error: tmcp_usecases::oauth::OAuthServiceError) -> Self {
        use tmcp_usecases::oauth::OAuthServiceError as E;
        match error {
            E::Repository(error) => error.into(),
            E::UserCodesExhausted => Self::server_error(),
            other => ApiError::from(other).into(),
        }
    }
}

/// The token, revocation and introspection use cases' errors: the one place that decides
/// their RFC 6749 answers.
impl From<tmcp_usecases::oauth::TokenError> for OAuthError {
    fn from(error: tmcp_usecases::oauth::TokenError) -> Self {
        use tmcp_usecases::oauth::TokenError as E;
        let bad = |error: &'static str, description: &str| {
            Self::new(StatusCode::BAD_REQUEST, error, description)
        };
        match error {
            E::InvalidRequest(description) => Self::invalid_request(description),
            E::InvalidGrant(description) => Self::invalid_grant(description),
            E::InvalidScope(description) => Self::invalid_scope(description),
            E::UnauthorizedClient(description) => Self::unauthorized_client(description),
            // Callers that know the client tried HTTP Basic add its challenge
            // (`routes/oauth/client_auth.rs`).
            E::InvalidClient => Self::invalid_client(false),
            E::UnsupportedGrantType => bad("unsupported_grant_type", "unsupported grant_type"),
            E::AuthorizationPending => bad("authorization_pending", "the user has not decided yet"),
            E::SlowDown { interval_secs } => bad(
                "slow_down",
                "polling too fast; wait longer between requests",
            )
            .with("interval", interval_secs),
            E::AccessDenied => bad("access_denied", "the user denied the request"),
            E::ExpiredToken => bad("expired_token", "the device code expired"),
            E::ConsentRequired {
                missing,
                consent_uri,
            } => Self::new(
                StatusCode::FORBIDDEN,
                "consent_required",
                "the user has not approved some of the requested scopes",
            )
            .with("consent_required_scopes", missing)
            .with("consent_uri", consent_uri),
            E::Repository(error) => error.into(),
            E::Internal(cause) => ApiError::internal(cause).into(),
        }
    }
}
