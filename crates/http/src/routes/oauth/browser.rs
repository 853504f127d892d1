//! The browser side of the OAuth pages: the session cookie, and password login through the
//! account area's building blocks (the same throttling, constant-work failure path, second
//! factor and session records as `POST /api/v1/auth/login`).

use super::html::{cookie, set_cookie, SESSION_COOKIE};
use crate::auth::client::ClientInfo;
use crate::auth::password::{verify_against_dummy, verify_secret};
use crate::auth::second_factor::{verify_second_factor, SecondFactorProof};
use crate::auth::session::resolve_session_token;
use crate::auth::throttle;
use crate::error::ApiError;
use crate::routes::accounts::login::to_time;
use crate::AppState;
use axum::http::{HeaderMap, StatusCode};
use tmcp_domain::auth::tokens::{issue, TokenKind};
use tmcp_domain::user::UserStatus;
use tmcp_domain::SessionId;
use tmcp_repository::{NewSession, Session, User};

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

/// Password (+ second factor) login from a page form.
pub async fn login(
    state: &AppState,
    client: &ClientInfo,
    login: &str,
    password: &str,
    mfa_code: Option<&str>,
) -> Result<Result<LoggedIn, LoginFailure>, ApiError> {
    const WRONG: &str = "Wrong username or password.";
    if login.is_empty()
        || login.len() > 255
        || password.is_empty()
        || password.chars().count() > 128
    {
        return Ok(Err(LoginFailure::new(StatusCode::BAD_REQUEST, WRONG)));
    }
    if let Err(e) = throttle::login_attempt(state, &client.ip_key()).await {
        return Ok(Err(throttled(&e)));
    }
    let login = login.trim().to_ascii_lowercase();
    let user = state.db.find_user_by_login(&login).await?;
    let account_key = match &user {
        Some(user) => user.id.to_string(),
        None => format!("login:{login}"),
    };
    if let Err(e) = throttle::account_locked(state, &account_key).await {
        return Ok(Err(throttled(&e)));
    }
    let Some(user) = user else {
        verify_against_dummy(password.to_owned()).await?;
        throttle::record_failure(state, &account_key).await;
        return Ok(Err(LoginFailure::new(StatusCode::UNAUTHORIZED, WRONG)));
    };
    if !verify_secret(password.to_owned(), user.password_hash.clone()).await? {
        throttle::record_failure(state, &account_key).await;
        return Ok(Err(LoginFailure::new(StatusCode::UNAUTHORIZED, WRONG)));
    }
    if user.status != UserStatus::Active {
        return Ok(Err(LoginFailure::new(
            StatusCode::FORBIDDEN,
            "This account is suspended.",
        )));
    }
    if user.mfa_enabled {
        let methods = state.db.list_mfa_methods(user.id).await?;
        let accepted = match mfa_code {
            Some(code) if code.len() <= 16 => {
                let proof = SecondFactorProof {
                    code: Some(code.to_owned()),
                    ..SecondFactorProof::default()
                };
                verify_second_factor(state, user.id, &methods, &proof, "login")
                    .await?
                    .is_some()
            }
            _ => false,
        };
        if !accepted {
            if mfa_code.is_some() {
                throttle::record_failure(state, &account_key).await;
            }
            return Ok(Err(LoginFailure {
                message: if mfa_code.is_some() {
                    "That one-time code is not valid.".into()
                } else {
                    "Enter the one-time code from your authenticator app (or your PIN).".into()
                },
                mfa: true,
                status: StatusCode::UNAUTHORIZED,
            }));
        }
    }
    throttle::clear_failures(state, &account_key).await;
    let now = state.clock.now();
    let auth = &state.settings.auth;
    let session_token = issue(TokenKind::Session);
    let refresh_token = issue(TokenKind::Refresh);
    let session = state
        .db
        .create_session(NewSession {
            id: SessionId::new_v7(now),
            user_id: user.id,
            session_token_hash: session_token.hash,
            // The browser never refreshes; the refresh token is discarded unused.
            refresh_token_hash: refresh_token.hash,
            device_id: None,
            device_name: Some("Browser (OAuth sign-in)".into()),
            user_agent: client.user_agent.clone(),
            ip_address: client.ip.map(|ip| ip.to_string()),
            expires_at: now + to_time(auth.session_ttl),
            refresh_expires_at: now + to_time(auth.session_ttl),
            created_at: now,
        })
        .await?;
    let max_age = (session.expires_at - now).whole_seconds();
    Ok(Ok(LoggedIn {
        user,
        set_cookie: set_cookie(
            SESSION_COOKIE,
            &session_token.token,
            max_age,
            secure_cookies(state),
            "Lax",
        ),
    }))
}
