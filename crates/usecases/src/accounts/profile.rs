//! Changes to one's own account fields and profile (`PATCH /api/v1/users/me`).

use super::registration::phone_context;
use super::{validate, AccountPorts, AccountsError};
use crate::fields::FieldErrors;
use time::macros::format_description;
use time::Date;
use tmcp_domain::UserId;
use tmcp_repository::{AccountDetails, AccountUpdate};

/// The changes asked for: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Default, Clone)]
pub struct ProfileChanges {
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub preferences: Option<serde_json::Value>,
    pub display_name: Option<Option<String>>,
    pub bio: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub website: Option<Option<String>>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<Option<String>>,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub public_profile: Option<bool>,
    pub metadata: Option<serde_json::Value>,
}

pub const JSON_DOC_LIMIT: usize = 16 * 1024;

pub fn language_ok(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    primary_ok
        && tag.len() <= 10
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

pub fn timezone_ok(zone: &str) -> bool {
    (1..=50).contains(&zone.len())
        && zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-/".contains(c))
        && !zone.starts_with('/')
        && !zone.contains("//")
}

/// Validates the changes into a repository update (the phone sealed for `user`).
fn to_update(
    ports: AccountPorts<'_>,
    user: UserId,
    body: ProfileChanges,
    today: Date,
) -> Result<AccountUpdate, AccountsError> {
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
                ports.cipher.encrypt(p.as_bytes(), &phone_context(user)),
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

/// Applies the changes; the account as it now is.
pub async fn update_profile(
    ports: AccountPorts<'_>,
    user: UserId,
    changes: ProfileChanges,
) -> Result<AccountDetails, AccountsError> {
    let now = ports.clock.now();
    let update = to_update(ports, user, changes, now.date())?;
    ports
        .db
        .update_account(user, update, now)
        .await?
        .ok_or(AccountsError::InvalidToken)
}

/// The account and its profile.
pub async fn account_details(
    ports: AccountPorts<'_>,
    user: UserId,
) -> Result<AccountDetails, AccountsError> {
    ports
        .db
        .account_details(user)
        .await?
        .ok_or(AccountsError::InvalidToken)
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
}
