//! `POST /api/v1/auth/register`.

use super::views::UserView;
use crate::auth::client::ClientInfo;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use tmcp_domain::user::Role;
use tmcp_usecases::accounts::{create_account, NewAccount};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(min_length = 3, max_length = 32, pattern = r"^[a-z0-9_.]+$")]
    pub username: String,
    /// Compared case-insensitively (stored in lower case).
    #[schema(
        max_length = 255,
        pattern = r"^ *[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,} *$"
    )]
    pub email: String,
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    #[schema(schema_with = crate::schema_constraints::free_text::<100>)]
    pub first_name: Option<String>,
    #[schema(schema_with = crate::schema_constraints::free_text::<100>)]
    pub last_name: Option<String>,
    #[schema(schema_with = crate::schema_constraints::phone)]
    pub phone: Option<String>,
}

crate::auth::redacted_debug!(RegisterRequest { username, email, first_name, last_name, phone; password });

/// Creates an account. The password is hashed with Argon2id; the phone is stored encrypted.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "account created", body = UserView),
        (status = 409, description = "username or email taken (`details.field`)", body = ErrorEnvelope),
        (status = 422, description = "invalid fields (`details.fields`)", body = ErrorEnvelope),
        (status = 429, description = "too many registrations from this address", body = ErrorEnvelope)))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, HeaderMap, Json<UserView>), ApiError> {
    let decision = crate::auth::throttle::registration(&state, &client.ip_key()).await?;
    let mut headers = HeaderMap::new();
    decision.apply_headers(&mut headers);
    let user = create_account(
        state.account_ports(),
        NewAccount {
            username: body.username,
            email: body.email,
            password: body.password,
            first_name: body.first_name,
            last_name: body.last_name,
            phone: body.phone,
            role: Role::User,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        headers,
        Json(UserView::from_user(&state, &user)?),
    ))
}
