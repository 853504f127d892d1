//! `GET /api/v1/users/me`, `PATCH /api/v1/users/me`.

use super::validate;
use super::views::MeView;
use crate::auth::errors::{invalid_token, FieldErrors};
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Deserializer};
use time::macros::format_description;
use time::Date;
use tmcp_repository::AccountUpdate;
use utoipa::ToSchema;

/// The caller's account and profile.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "accounts",
    security(("session" = [])),
    responses(
        (status = 200, description = "account and profile", body = MeView),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope)))]
pub async fn get_me(
    State(state): State<AppState>,
    principal: SessionPrincipal,
) -> Result<Json<MeView>, ApiError> {
    let details = state
        .db
        .account_details(principal.user_id)
        .await?
        .ok_or_else(invalid_token)?;
    Ok(Json(MeView::build(&state, &details)?))
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

const JSON_DOC_LIMIT: usize = 16 * 1024;

fn language_ok(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    primary_ok
        && tag.len() <= 10
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn timezone_ok(zone: &str) -> bool {
    (1..=50).contains(&zone.len())
        && zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-/".contains(c))
        && !zone.starts_with('/')
        && !zone.contains("//")
}

/// Validates the request into a repository update (phone encrypted for `user`).
fn to_update(
    state: &AppState,
    principal: &SessionPrincipal,
    body: PatchMeRequest,
    today: Date,
) -> Result<AccountUpdate, ApiError> {
    let mut errors = FieldErrors::new();
    let mut text =
        |field: &str, value: Option<Option<String>>, max: usize| -> Option<Option<String>> {
            match value {
                Some(Some(v)) => match validate::text(&v, max) {
                    Ok(v) => Some(Some(v)),
                    Err(m) => {
                        errors.add(field, m);
                        None
                    }
                },
                other => other,
            }
        };
    let first_name = text("first_name", body.first_name, 100);
    let last_name = text("last_name", body.last_name, 100);
    let display_name = text("display_name", body.display_name, 255);
    let bio = text("bio", body.bio, 2000);
    let location = text("location", body.location, 255);
    let mut url = |field: &str, value: Option<Option<String>>, max: usize| match value {
        Some(Some(v)) => match validate::url(&v, max) {
            Ok(v) => Some(Some(v)),
            Err(m) => {
                errors.add(field, m);
                None
            }
        },
        other => other,
    };
    let website = url("website", body.website, 500);
    let avatar_url = url("avatar_url", body.avatar_url, 500);
    let phone_ciphertext = match body.phone {
        Some(Some(p)) => match validate::phone(&p) {
            Ok(p) => Some(Some(
                state
                    .cipher
                    .encrypt(p.as_bytes(), &format!("users.phone:{}", principal.user_id)),
            )),
            Err(m) => {
                errors.add("phone", m);
                None
            }
        },
        Some(None) => Some(None),
        None => None,
    };
    let birth_date = match body.birth_date {
        Some(Some(raw)) => match Date::parse(&raw, format_description!("[year]-[month]-[day]")) {
            Ok(date) if date <= today && date.year() >= 1900 => Some(Some(date)),
            Ok(_) => {
                errors.add("birth_date", "between 1900-01-01 and today");
                None
            }
            Err(_) => {
                errors.add("birth_date", "a date as YYYY-MM-DD");
                None
            }
        },
        Some(None) => Some(None),
        None => None,
    };
    if let Some(language) = &body.language {
        if !language_ok(language) {
            errors.add("language", "a language tag such as 'en' or 'pt-BR'");
        }
    }
    if let Some(zone) = &body.timezone {
        if !timezone_ok(zone) {
            errors.add("timezone", "a time zone name such as 'Europe/Paris'");
        }
    }
    for (field, value) in [
        ("metadata", &body.metadata),
        ("preferences", &body.preferences),
    ] {
        if let Some(value) = value {
            if let Err(m) = validate::json_object(value, JSON_DOC_LIMIT) {
                errors.add(field, m);
            }
        }
    }
    errors.into_result()?;
    Ok(AccountUpdate {
        first_name,
        last_name,
        phone_ciphertext,
        avatar_url,
        preferences: body.preferences,
        display_name,
        bio,
        location,
        website,
        birth_date,
        language: body.language,
        timezone: body.timezone,
        public_profile: body.public_profile,
        metadata: body.metadata,
    })
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
    State(state): State<AppState>,
    principal: SessionPrincipal,
    ApiJson(body): ApiJson<PatchMeRequest>,
) -> Result<Json<MeView>, ApiError> {
    let now = state.clock.now();
    let update = to_update(&state, &principal, body, now.date())?;
    let details = state
        .db
        .update_account(principal.user_id, update, now)
        .await?
        .ok_or_else(invalid_token)?;
    Ok(Json(MeView::build(&state, &details)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_and_timezone_shapes() {
        for ok in ["en", "pt-BR", "zh-Hant", "fil"] {
            assert!(language_ok(ok), "{ok}");
        }
        for bad in ["", "e", "english", "en_US", "en--US", "12"] {
            assert!(!language_ok(bad), "{bad}");
        }
        for ok in [
            "UTC",
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert!(timezone_ok(ok), "{ok}");
        }
        for bad in ["", "/etc/passwd", "Europe//Paris", "Europe/Par is"] {
            assert!(!timezone_ok(bad), "{bad}");
        }
    }

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
