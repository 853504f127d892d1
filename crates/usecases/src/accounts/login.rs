//! The one password login: used by `POST /api/v1/auth/login` (JSON) and by the OAuth
//! browser pages (HTML form), so both apply the same field rules, throttling, constant-work
//! failure path, second factors and session lifetimes.

use super::password::{verify_against_dummy, verify_secret};
use super::second_factor::{method_names, verify_second_factor, SecondFactor, MAX_CODE_CHARS};
use super::{validate, AccountPorts, AccountSettings, AccountsError};
use crate::fields::FieldErrors;
use async_trait::async_trait;
use tmcp_domain::auth::tokens::{issue, TokenKind};
use tmcp_domain::user::UserStatus;
use tmcp_domain::SessionId;
use tmcp_repository::User;
use tmcp_repository::{NewSession, RepoError, Session};

/// The per-account failure budget (the TMCP protocol §0: 5 failures in 15 minutes). The
/// caller owns the counters (shared through Redis in the server) and decides what a refusal
/// carries back (`Refusal`, e.g. its 429 answer with `Retry-After`).
#[async_trait]
pub trait AccountLockout: Send + Sync {
    type Refusal: Send;
    /// Refuses while `account_key` has used up its failures (takes nothing).
    async fn account_locked(&self, account_key: &str) -> Result<(), Self::Refusal>;
    async fn record_failure(&self, account_key: &str);
    /// A complete login clears the account's failures.
    async fn clear_failures(&self, account_key: &str);
}

/// The login budgets: the account's failures, and attempts per client address.
#[async_trait]
pub trait LoginThrottle: AccountLockout {
    /// Counts an attempt from the caller's address.
    async fn attempt(&self) -> Result<(), Self::Refusal>;
}

/// A login request as typed by the person or the host app.
#[derive(Clone, Default)]
pub struct PasswordLogin {
    /// Username or email.
    pub login: String,
    pub password: String,
    /// The host app's device identifier, recorded on the session.
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    /// A bare one-time code: TOTP, or the transaction PIN.
    pub mfa_code: Option<String>,
    /// A full second-factor proof (e.g. a biometric signature with action `login`); used
    /// instead of `mfa_code` when both are given.
    pub mfa: Option<SecondFactor>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
}

impl std::fmt::Debug for PasswordLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordLogin")
            .field("login", &self.login)
            .field("device_id", &self.device_id)
            .field("device_name", &self.device_name)
            .field("mfa", &self.mfa)
            .field("password", &"<redacted>")
            .field("mfa_code", &"<redacted>")
            .finish()
    }
}

/// A new session and its (only) copies of the tokens.
#[derive(Debug)]
pub struct LoggedIn {
    /// The account, with `last_login_at` set to this login.
    pub user: User,
    pub session: Session,
    pub session_token: String,
    pub refresh_token: String,
    /// Seconds until the session token expires.
    pub expires_in: i64,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
}

/// Why a login did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError<R> {
    #[error("some fields are invalid: {0}")]
    InvalidFields(FieldErrors),
    /// The caller's own refusal, carried through unchanged: a used-up budget of its
    /// throttle, or an input only the caller could read (such as a malformed proof body).
    #[error("refused by the caller")]
    Refused(R),
    /// Unknown login or wrong password: one answer for both, after the same work.
    #[error("invalid login or password")]
    InvalidCredentials,
    #[error("the account is suspended or deleted")]
    Suspended,
    /// MFA is on and no valid proof came; `rejected` when a proof was given and failed.
    #[error("a valid second factor is required")]
    SecondFactorRequired {
        methods: Vec<&'static str>,
        rejected: bool,
    },
    #[error(transparent)]
    Failed(#[from] AccountsError),
}

impl<R> From<RepoError> for LoginError<R> {
    fn from(error: RepoError) -> Self {
        Self::Failed(error.into())
    }
}

/// The field rules of a login, in the order their failures are reported.
pub fn check_fields(request: &PasswordLogin) -> FieldErrors {
    let mut errors = FieldErrors::new();
    if request.login.is_empty() || request.login.len() > 255 {
        errors.add("login", "1 to 255 characters");
    }
    let password_chars = request.password.chars().count();
    if password_chars == 0 || password_chars > validate::PASSWORD_MAX_CHARS {
        errors.add("password", "1 to 128 characters");
    }
    if let Some(Err(m)) = request.device_id.as_deref().map(validate::identifier) {
        errors.add("device_id", m);
    }
    if let Some(Err(m)) = request
        .device_name
        .as_deref()
        .map(|n| validate::text(n, 255))
    {
        errors.add("device_name", m);
    }
    if request
        .mfa_code
        .as_deref()
        .is_some_and(|c| c.chars().count() > MAX_CODE_CHARS)
    {
        errors.add("mfa_code", format!("at most {MAX_CODE_CHARS} characters"));
    }
    if let Some(proof) = &request.mfa {
        proof.check_sizes("mfa.", &mut errors);
    }
    errors
}

/// Logs in with a password (and a second factor when the account has MFA on) and opens a
/// session whose token lives `session_ttl` and whose refresh token lives `refresh_ttl`.
pub async fn password_login<T: LoginThrottle>(
    ports: AccountPorts<'_>,
    settings: &AccountSettings,
    throttle: &T,
    request: PasswordLogin,
) -> Result<LoggedIn, LoginError<T::Refusal>> {
    check_fields(&request)
        .into_result()
        .map_err(LoginError::InvalidFields)?;
    let device_id = request
        .device_id
        .as_deref()
        .map(validate::identifier)
        .transpose()
        .map_err(AccountsError::internal)?;
    let device_name = request
        .device_name
        .as_deref()
        .map(|n| validate::text(n, 255))
        .transpose()
        .map_err(AccountsError::internal)?;

    throttle.attempt().await.map_err(LoginError::Refused)?;
    let login = request.login.trim().to_ascii_lowercase();
    let user = ports.db.find_user_by_login(&login).await?;
    // Failures count per account (by id, so username and email share one budget); a login
    // naming no account gets its own bucket, so probing looks the same either way.
    let account_key = match &user {
        Some(user) => user.id.to_string(),
        None => format!("login:{login}"),
    };
    throttle
        .account_locked(&account_key)
        .await
        .map_err(LoginError::Refused)?;
    let Some(mut user) = user else {
        verify_against_dummy(request.password).await?;
        throttle.record_failure(&account_key).await;
        return Err(LoginError::InvalidCredentials);
    };
    if !verify_secret(request.password, user.password_hash.clone()).await? {
        throttle.record_failure(&account_key).await;
        return Err(LoginError::InvalidCredentials);
    }
    if user.status != UserStatus::Active {
        return Err(LoginError::Suspended);
    }
    if user.mfa_enabled {
        let methods = ports.db.list_mfa_methods(user.id).await?;
        let proof = request.mfa.or(request.mfa_code.map(SecondFactor::code));
        let accepted = match &proof {
            Some(proof) => verify_second_factor(ports, user.id, &methods, proof, "login")
                .await?
                .is_some(),
            None => false,
        };
        if !accepted {
            if proof.is_some() {
                throttle.record_failure(&account_key).await;
            }
            return Err(LoginError::SecondFactorRequired {
                methods: method_names(&methods),
                rejected: proof.is_some(),
            });
        }
    }
    throttle.clear_failures(&account_key).await;

    let now = ports.clock.now();
    let session_token = issue(TokenKind::Session);
    let refresh_token = issue(TokenKind::Refresh);
    let session = ports
        .db
        .create_session(NewSession {
            id: SessionId::new_v7(now),
            user_id: user.id,
            session_token_hash: session_token.hash,
            refresh_token_hash: refresh_token.hash,
            device_id,
            device_name,
            user_agent: request.user_agent,
            ip_address: request.ip_address,
            expires_at: now + settings.session_lifetime(),
            refresh_expires_at: now + settings.refresh_lifetime(),
            created_at: now,
        })
        .await?;
    user.last_login_at = Some(now);
    Ok(LoggedIn {
        user,
        expires_in: (session.expires_at - now).whole_seconds(),
        refresh_expires_in: settings.refresh_lifetime().whole_seconds(),
        session,
        session_token: session_token.token,
        refresh_token: refresh_token.token,
    })
}

/// Re-authentication of a signed-in user (account deletion, MFA enrolment). Wrong passwords
/// count against the same per-account budget as failed logins, so a stolen session token
/// cannot guess the password faster than the login route allows, and a locked account is
/// locked here too. A success does not clear the failures: only a complete login does
/// (otherwise the password alone would reset the budget of second-factor guesses).
pub async fn reauthenticate<L: AccountLockout>(
    lockout: &L,
    user: &User,
    password: String,
) -> Result<(), LoginError<L::Refusal>> {
    let account_key = user.id.to_string();
    lockout
        .account_locked(&account_key)
        .await
        .map_err(LoginError::Refused)?;
    if password.chars().count() > validate::PASSWORD_MAX_CHARS
        || !verify_secret(password, user.password_hash.clone()).await?
    {
        lockout.record_failure(&account_key).await;
        return Err(LoginError::InvalidCredentials);
    }
    Ok(())
}
