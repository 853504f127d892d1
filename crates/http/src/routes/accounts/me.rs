//! `GET /api/v1/users/me`, `PATCH /api/v1/users/me`.

use super::views::MeView;
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AccountsState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Deserializer};
use tmcp_usecases::accounts::profile::{account_details, update_profile, ProfileChanges};
use utoipa::ToSchema;

/// The caller's account and profile.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "accounts",
    security(("session" = [])),
    responses(
        (status = 200, description = "account and profile", body = MeView),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope)))]
pub async fn get_me(
    State(accounts): State<AccountsState>,
    principal: SessionPrincipal,
) -> Result<Json<MeView>, ApiError> {
    let details = account_details(accounts.ports(), principal.user_id).await?;
    Ok(Json(MeView::build(&accounts.cipher, &details)?))
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A partial update: absent fields stay, `null` clears a nullable field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchMeRequest {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = crate::schema_constraints::free_text::<100>)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = crate::schema_constraints::free_text::<100>)]
    pub last_name: Option<Option<String>>,
    /// International format; stored encrypted.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = crate::schema_constraints::phone)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = crate::schema_constraints::http_url)]
    pub avatar_url: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = crate::schema_constraints::free_text::<255>)]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = crate::schema_constraints::free_text::<2000>)]
    pub bio: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = crate::schema_constraints::free_text::<255>)]
    pub location: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = crate::schema_constraints::http_url)]
    pub website: Option<Option<String>>,
    /// `YYYY-MM-DD`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Date)]
    pub birth_date: Option<Option<String>>,
    /// BCP 47 tag such as `en` or `pt-BR`.
    #[schema(max_length = 10, pattern = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")]
    pub language: Option<String>,
    /// IANA zone name such as `Europe/Paris`.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$"
    )]
    pub timezone: Option<String>,
    pub public_profile: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// Updates the caller's account fields and profile.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "accounts",
    security(("session" = [])),
    request_body = PatchMeRequest,
    responses(
        (status = 200, description = "updated account and profile", body = MeView),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope),
        (status = 422, description = "invalid fields (`details.fields`)", body = ErrorEnvelope)))]
pub async fn patch_me(
    State(accounts): State<AccountsState>,
    principal: SessionPrincipal,
    ApiJson(body): ApiJson<PatchMeRequest>,
) -> Result<Json<MeView>, ApiError> {
    let changes = ProfileChanges {
        first_name: body.first_name,
        last_name: body.last_name,
        phone: body.phone,
        avatar_url: body.avatar_url,
        preferences: body.preferences,
        display_name: body.display_name,
        bio: body.bio,
        location: body.location,
        website: body.website,
        birth_date: body.birth_date,
        language: body.language,
        timezone: body.timezone,
        public_profile: body.public_profile,
        metadata: body.metadata,
    };
    let details = update_profile(accounts.ports(), principal.user_id, changes).await?;
    Ok(Json(MeView::build(&accounts.cipher, &details)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_absent_differ() {
        let absent: PatchMeRequest = serde_json::from_str("{}").expect("parse");
        assert!(absent.bio.is_none());
        let null: PatchMeRequest = serde_json::from_str(r#"{"bio":null}"#).expect("parse");
        assert_eq!(null.bio, Some(None));
        let set: PatchMeRequest = serde_json::from_str(r#"{"bio":"x"}"#).expect("parse");
        assert_eq!(set.bio, Some(Some("x".into())));
        assert!(serde_json::from_str::<PatchMeRequest>(r#"{"email":"x@y.zz"}"#).is_err());
    }
}
