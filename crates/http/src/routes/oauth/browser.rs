//! The browser side of the OAuth pages: the session cookie, and password login through the
//! accounts service's one password login (the same rules as `POST /api/v1/auth/login`).

use super::html::{cookie, set_cookie, SESSION_COOKIE};
use crate::auth::client::ClientInfo;
use crate::auth::session::resolve_session_token;
use crate::auth::throttle::LoginBudget;
use crate::error::ApiError;
use crate::AppState;
use axum::http::{HeaderMap, StatusCode};
use tmcp_repository::{Session, User};
use tmcp_usecases::accounts::{password_login, LoginError, PasswordLogin};

/// Whether cookies get `Secure`: the server is reached over https.
pub fn secure_cookies(state: &AppState) -> bool {
    state.tep.settings().issuer.starts_with("https://")
}

/// The signed-in user of the browser, if its session cookie names a live session.
pub async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Session, User)>, ApiError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    match resolve_session_token(state, token).await {
        Ok(found) => Ok(Some(found)),
        Err(e) if e.status.is_server_error() => Err(e),
        // Unknown, expired, revoked or suspended: treat as signed out.
        Err(_) => Ok(None),
    }
}

/// Why a page login failed, as shown to the person.
#[derive(Debug)]
pub struct LoginFailure {
    pub message: String,
    /// Ask for the one-time code.
    pub mfa: bool,
    pub status: StatusCode,
}

impl LoginFailure {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            mfa: false,
            status,
        }
    }
}

/// A successful page login: the new session and the cookie that carries it.
pub struct LoggedIn {
    pub user: User,
    pub set_cookie: String,
}

fn throttled(error: &ApiError) -> LoginFailure {
    let wait = error.details["retry_after"].as_i64().unwrap_or(60);
    LoginFailure::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("Too many attempts. Try again in {wait} seconds."),
    )
}

/// Password (+ second factor) login from a page form: the accounts service's one password
/// login, with the page's device name. The page asks for a one-time code (TOTP or the
/// transaction PIN) only: a biometric proof is a signature by a key inside the host app,
/// which a browser form cannot produce.
pub async fn login(
    state: &AppState,
    client: &ClientInfo,
    login: &str,
    password: &str,
    mfa_code: Option<&str>,
) -> Result<Result<LoggedIn, LoginFailure>, ApiError> {
    const WRONG: &str = "Wrong username or password.";
    let budget = LoginBudget::new(state, client.ip_key());
    let request = PasswordLogin {
        login: login.to_owned(),
        password: password.to_owned(),
        device_id: None,
        device_name: Some("Browser (OAuth sign-in)".into()),
        mfa_code: mfa_code.map(str::to_owned),
        mfa: None,
        user_agent: client.user_agent.clone(),
        ip_address: client.ip.map(|ip| ip.to_string()),
    };
    let failure = match password_login(
        state.account_ports(),
        &state.settings.auth,
        &budget,
        request,
    )
    .await
    {
        Ok(logged_in) => {
            let max_age = logged_in.expires_in;
            // The browser never refreshes; the refresh token is discarded unused.
            return Ok(Ok(LoggedIn {
                user: logged_in.user,
                set_cookie: set_cookie(
                    SESSION_COOKIE,
                    &logged_in.session_token,
                    max_age,
                    secure_cookies(state),
                    "Lax",
                ),
            }));
        }
        Err(failure) => failure,
    };
    Ok(Err(match failure {
        LoginError::InvalidFields(errors) => {
            if errors.iter().all(|(field, _)| field == "mfa_code") {
                LoginFailure {
                    message: CODE_NOT_VALID.into(),
                    mfa: true,
                    status: StatusCode::BAD_REQUEST,
                }
            } else {
                LoginFailure::new(StatusCode::BAD_REQUEST, WRONG)
            }
        }
        LoginError::Refused(refusal) => throttled(&refusal),
        LoginError::InvalidCredentials => LoginFailure::new(StatusCode::UNAUTHORIZED, WRONG),
        LoginError::Suspended => {
            LoginFailure::new(StatusCode::FORBIDDEN, "This account is suspended.")
        }
        LoginError::SecondFactorRequired { rejected, .. } => LoginFailure {
            message: if rejected {
                CODE_NOT_VALID.into()
            } else {
                "Enter the one-time code from your authenticator app (or your PIN).".into()
            },
            mfa: true,
            status: StatusCode::UNAUTHORIZED,
        },
        LoginError::Failed(error) => return Err(error.into()),
    }))
}

const CODE_NOT_VALID: &str = "That one-time code is not valid.";
