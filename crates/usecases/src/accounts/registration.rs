//! Creating an account: the same rules for `POST /api/v1/auth/register` and
//! `tmcp-server admin create-user`.

use super::password::hash_secret;
use super::{validate, AccountPorts, AccountsError};
use crate::fields::FieldErrors;
use tmcp_domain::user::Role;
use tmcp_domain::UserId;
use tmcp_repository::{NewUser, RepoError, User};

/// An account to create, as given (validated here).
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

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("phone", &self.phone)
            .field("role", &self.role)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The cipher context of a user's sealed phone number.
pub fn phone_context(user: UserId) -> String {
    format!("users.phone:{user}")
}

/// Validates, hashes the password (Argon2id, off the executor), encrypts the phone and
/// creates the user. A taken username or email is `AccountsError::Taken` naming the field.
pub async fn create_account(
    ports: AccountPorts<'_>,
    account: NewAccount,
) -> Result<User, AccountsError> {
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
        return Err(AccountsError::internal("validated fields missing"));
    };

    let password_hash = hash_secret(account.password).await?;
    let now = ports.clock.now();
    let id = UserId::new_v7(now);
    let phone_ciphertext = phone.map(|p| ports.cipher.encrypt(p.as_bytes(), &phone_context(id)));
    let created = ports
        .db
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
            Err(AccountsError::Taken {
                field: "username",
                message: "this username is taken",
            })
        }
        Err(RepoError::Conflict { constraint }) if constraint.contains("email") => {
            Err(AccountsError::Taken {
                field: "email",
                message: "an account with this email already exists",
            })
        }
        Err(other) => Err(other.into()),
    }
}
