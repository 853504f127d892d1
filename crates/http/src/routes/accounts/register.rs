//! `POST /api/v1/auth/register`.

use super::validate;
use super::views::UserView;
use crate::auth::client::ClientInfo;
use crate::auth::errors::{conflict_on, FieldErrors};
use crate::auth::password::hash_secret;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::user::Role;
use tmcp_domain::{Clock, UserId};
use tmcp_repository::{Database, NewUser, RepoError, User};
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
    #[schema(schema_with = crate::openapi::constraints::free_text::<100>)]
    pub first_name: Option<String>,
    #[schema(schema_with = crate::openapi::constraints::free_text::<100>)]
    pub last_name: Option<String>,
    #[schema(schema_with = crate::openapi::constraints::phone)]
    pub phone: Option<String>,
}

crate::auth::redacted_debug!(RegisterRequest { username, email, first_name, last_name, phone; password });

/// A validated account to create (from the API or the admin CLI).
#[derive(Clone)]
pub struct NewAccount {
    pub username: String,
    pub email: String,
    pub password: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub role: Role,
}

crate::auth::redacted_debug!(NewAccount { username, email, first_name, last_name, phone, role; password });

/// Validates, hashes the password (Argon2id, off the executor), encrypts the phone and
/// creates the user. Duplicates answer 409 `CONFLICT` naming the field.
pub async fn create_account(
    db: &dyn Database,
    clock: &dyn Clock,
    cipher: &FieldCipher,
    account: NewAccount,
) -> Result<User, ApiError> {
    let mut errors = FieldErrors::new();
    let username = validate::username(&account.username)
        .map_err(|m| errors.add("username", m))
        .ok();
    let email = validate::email(&account.email)
        .map_err(|m| errors.add("email", m))
        .ok();
    if let Err(m) = validate::password(&account.password) {
        errors.add("password", m);
    }
    let mut name = |field: &str, value: Option<String>| {
        value.and_then(|v| {
            validate::text(&v, 100)
                .map_err(|m| errors.add(field, m))
                .ok()
        })
    };
    let first_name = name("first_name", account.first_name);
    let last_name = name("last_name", account.last_name);
    let phone = account
        .phone
        .and_then(|p| validate::phone(&p).map_err(|m| errors.add("phone", m)).ok());
    errors.into_result()?;
    let (Some(username), Some(email)) = (username, email) else {
        return Err(ApiError::internal("validated fields missing"));
    };

    let password_hash = hash_secret(account.password).await?;
    let now = clock.now();
    let id = UserId::new_v7(now);
    let phone_ciphertext =
        phone.map(|p| cipher.encrypt(p.as_bytes(), &format!("users.phone:{id}")));
    let created = db
        .create_user(NewUser {
            id,
            username: username.as_str().to_owned(),
            email: email.as_str().to_owned(),
            password_hash,
            first_name,
            last_name,
            phone_ciphertext,
            role: account.role,
            created_at: now,
        })
        .await;
    match created {
        Ok(user) => Ok(user),
        Err(RepoError::Conflict { constraint }) if constraint.contains("username") => {
            Err(conflict_on("username", "this username is taken"))
        }
        Err(RepoError::Conflict { constraint }) if constraint.contains("email") => Err(
            conflict_on("email", "an account with this email already exists"),
        ),
        Err(other) => Err(other.into()),
    }
}

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
        state.db.as_ref(),
        state.clock.as_ref(),
        &state.cipher,
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
