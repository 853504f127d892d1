//! The device authorization grant (RFC 8628): the device asks for a code pair, the user
//! enters the short code on the `/oauth2/device` page (or the host app approves it through
//! `POST /api/v1/auth/device/approve`), and the device polls the token endpoint.

use super::browser::{self, secure_cookies};
use super::client_auth::{authenticate, credentials};
use super::error::{no_store, rate_headers, OAuthError, OAuthErrorBody};
use super::form::Form;
use super::grants::{client_may_use, DEVICE_CODE};
use super::html::{
    self, csrf_token, csrf_valid, error_page, escape, hidden, page, see_other, with_cookies,
};
use super::scopes;
use super::token::{limit, subject};
use crate::auth::client::ClientInfo;
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::ratelimit::LimitRule;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tmcp_domain::oauth::user_code;
use tmcp_domain::UserId;
use tmcp_repository::{DeviceAuthorization, OAuthClient, User};
use tmcp_usecases::oauth::device_flow::{
    decide_device_authorization, find_pending_authorization, start_device_authorization,
};
use utoipa::{IntoParams, ToSchema};

/// User-code lookups per user (RFC 8628 §5.1: user codes are short, so guessing is limited).
pub const CODE_ENTRY: LimitRule = LimitRule::per_minute("device_code_entry", 10, 10);

/// Form fields of a device authorization request.
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
pub struct DeviceAuthorizationRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Space-separated scopes (default: all the client registered).
    scope: Option<String>,
}

/// RFC 8628 §3.2 answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceAuthorizationResponse {
    pub device_code: String,
    /// `XXXX-XXXX`, to be typed by the user.
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    /// Seconds (900).
    pub expires_in: i64,
    /// Seconds between polls (5).
    pub interval: i64,
}

/// Starts a device authorization.
#[utoipa::path(post, path = "/oauth2/device/authorization", tag = "oauth",
    request_body(content = DeviceAuthorizationRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "codes issued", body = DeviceAuthorizationResponse),
        (status = 400, description = "`invalid_request`, `invalid_scope`, `unauthorized_client`", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`", body = OAuthErrorBody),
        (status = 429, description = "`rate_limit_exceeded`", body = OAuthErrorBody)))]
pub async fn device_authorization(
    State(state): State<AppState>,
    client_info: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = async {
        let form = Form::parse(&headers, &body, true)?;
        let credentials = credentials(&headers, &form)?;
        let decision = limit(&state, &subject(&credentials.client_id, &client_info)).await?;
        let answer = async {
            let caller = authenticate(&state, &credentials).await?;
            if !client_may_use(&caller.client, DEVICE_CODE) {
                return Err(OAuthError::unauthorized_client(
                    "this client is not registered for the device grant",
                ));
            }
            let scopes = match scopes::parse_requested(form.get("scope"), &caller.client)? {
                Some(requested) => requested,
                None => scopes::registered(&caller.client),
            };
            if scopes.is_empty() {
                return Err(OAuthError::invalid_scope("no scope requested"));
            }
            start(&state, &caller.client, scopes.to_vec()).await
        }
        .await;
        answer
            .map(|a| (a, decision))
            .map_err(|e| e.with_rate(&decision))
    }
    .await;
    match outcome {
        Ok((answer, decision)) => {
            let mut response = Json(answer).into_response();
            no_store(&mut response);
            for (name, value) in rate_headers(&decision) {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn start(
    state: &AppState,
    client: &OAuthClient,
    scopes: Vec<String>,
) -> Result<DeviceAuthorizationResponse, OAuthError> {
    let issuer = &state.tep.settings().issuer;
    let started =
        start_device_authorization(state.db.as_ref(), state.clock.as_ref(), client, scopes).await?;
    let code = started.user_code;
    Ok(DeviceAuthorizationResponse {
        device_code: started.device_code,
        verification_uri: format!("{issuer}/oauth2/device"),
        verification_uri_complete: format!("{issuer}/oauth2/device?user_code={code}"),
        user_code: code,
        expires_in: started.expires_in,
        interval: started.interval,
    })
}

/// Looks a typed code up for `user` (rate limited per user).
async fn lookup(
    state: &AppState,
    user: UserId,
    typed: &str,
) -> Result<Option<(DeviceAuthorization, OAuthClient)>, ApiError> {
    state.limiter.check(&CODE_ENTRY, &user.to_string()).await?;
    Ok(find_pending_authorization(state.db.as_ref(), state.clock.as_ref(), typed).await?)
}

/// Records the user's decision; approval also records the consent. False when the code is
/// no longer pending.
async fn decide(
    state: &AppState,
    user: UserId,
    device: &DeviceAuthorization,
    approve: bool,
) -> Result<bool, ApiError> {
    Ok(decide_device_authorization(
        state.db.as_ref(),
        state.clock.as_ref(),
        user,
        device,
        approve,
    )
    .await?)
}

/// `user_code` of the device page.
#[allow(dead_code)]
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DevicePageQuery {
    /// The code shown on the device (`XXXX-XXXX`; case and dashes are ignored).
    user_code: Option<String>,
}

/// Form of the device page.
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
pub struct DevicePageForm {
    #[schema(schema_with = crate::schema_constraints::device_page_action)]
    action: String,
    /// Must equal the `tmcp_csrf` cookie.
    csrf_token: String,
    user_code: Option<String>,
    login: Option<String>,
    password: Option<String>,
    mfa_code: Option<String>,
}

fn entry_page(csrf: &str, error: Option<&str>, status: StatusCode) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Connect a device</h1><p>Enter the code shown on your device.</p>{error}\
         <form method=\"post\" action=\"/oauth2/device\">{}{}\
         <label for=\"user_code\">Code</label>\
         <input type=\"text\" id=\"user_code\" name=\"user_code\" autocomplete=\"off\" maxlength=\"32\" placeholder=\"XXXX-XXXX\" required>\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Continue</button></div></form>",
        hidden("action", "lookup"),
        hidden("csrf_token", csrf),
    );
    page(status, "Connect a device", &body)
}

fn confirm_page(
    csrf: &str,
    device: &DeviceAuthorization,
    client: &OAuthClient,
    user: &User,
) -> Response {
    let items: String = device
        .scopes
        .iter()
        .map(|scope| {
            format!(
                "<li>{} <span class=\"scope\">({})</span></li>",
                escape(scopes::describe(scope)),
                escape(scope)
            )
        })
        .collect();
    let name = escape(&client.name);
    let body = format!(
        "<h1>Connect <span id=\"client-name\">{name}</span>?</h1>\
         <p class=\"muted\">Signed in as {}. Code <strong>{}</strong>.</p>\
         <p>Only continue if this code is shown on a device you are setting up. {name} will be able to:</p>\
         <ul id=\"scopes\">{items}</ul>\
         <form method=\"post\" action=\"/oauth2/device\">{}{}\
         <div class=\"actions\">\
         <button type=\"submit\" name=\"action\" value=\"deny\" class=\"secondary\" id=\"deny\">Deny</button>\
         <button type=\"submit\" name=\"action\" value=\"approve\" class=\"primary\" id=\"approve\">Allow</button>\
         </div></form>",
        escape(&user.username),
        escape(&device.user_code),
        hidden("csrf_token", csrf),
        hidden("user_code", &device.user_code),
    );
    page(StatusCode::OK, "Connect a device", &body)
}

fn login_page(
    csrf: &str,
    typed: Option<&str>,
    error: Option<&str>,
    mfa: bool,
    status: StatusCode,
) -> Response {
    let hidden_code = typed.map(|c| hidden("user_code", c)).unwrap_or_default();
    let body = html::login_form(
        "/oauth2/device",
        &hidden_code,
        csrf,
        error,
        mfa,
        "Sign in to connect a device to your account.",
    );
    page(status, "Sign in", &body)
}

fn failure(error: ApiError) -> Response {
    if error.status == StatusCode::TOO_MANY_REQUESTS {
        return error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Please wait a minute and try again.",
        );
    }
    html::server_failure_page(&error)
}

/// The device verification page: sign in, enter the code, approve or deny.
#[utoipa::path(get, path = "/oauth2/device", tag = "oauth",
    params(DevicePageQuery),
    responses((status = 200, description = "HTML page (sign-in, code entry or confirmation)", content_type = "text/html")))]
pub async fn device_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let form = Form::from_query(query.as_deref()).unwrap_or_default();
    let typed = form.bounded("user_code", 32).ok().flatten();
    let (csrf, set_csrf) = csrf_token(&headers, secure_cookies(&state));
    let response = match browser::current(&state, &headers).await {
        Err(e) => failure(e),
        Ok(None) => login_page(&csrf, typed, None, false, StatusCode::OK),
        Ok(Some((_, user))) => match typed {
            None => entry_page(&csrf, None, StatusCode::OK),
            Some(typed) => match lookup(&state, user.id, typed).await {
                Ok(Some((device, client))) => confirm_page(&csrf, &device, &client, &user),
                Ok(None) => entry_page(
                    &csrf,
                    Some("That code is not valid or has expired."),
                    StatusCode::BAD_REQUEST,
                ),
                Err(e) => failure(e),
            },
        },
    };
    with_cookies(response, set_csrf)
}

/// Handles the device page's forms.
#[utoipa::path(post, path = "/oauth2/device", tag = "oauth",
    request_body(content = DevicePageForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "HTML result page", content_type = "text/html"),
        (status = 303, description = "after sign-in or code entry: back to the page"),
        (status = 400, description = "HTML page: invalid or expired code", content_type = "text/html"),
        (status = 403, description = "HTML page: missing or wrong CSRF token", content_type = "text/html")))]
pub async fn device_submit(
    State(state): State<AppState>,
    client_info: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match Form::parse(&headers, &body, true) {
        Ok(form) => form,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Invalid request", &e.description),
    };
    if !csrf_valid(&headers, form.get("csrf_token")) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Request could not be verified",
            "This form has expired or did not come from this site. Go back, reload the page and try again.",
        );
    }
    let (csrf, _) = csrf_token(&headers, secure_cookies(&state));
    let typed = form.bounded("user_code", 32).ok().flatten();
    let back_to_page = |code: Option<&str>| match code.and_then(user_code::normalize) {
        Some(code) => see_other(&format!("/oauth2/device?user_code={code}")),
        None => see_other("/oauth2/device"),
    };
    if form.get("action") == Some("login") {
        return match browser::login(
            &state,
            &client_info,
            form.get("login").unwrap_or(""),
            form.get("password").unwrap_or(""),
            form.get("mfa_code"),
        )
        .await
        {
            Ok(Ok(logged_in)) => with_cookies(back_to_page(typed), [logged_in.set_cookie]),
            Ok(Err(f)) => login_page(&csrf, typed, Some(&f.message), f.mfa, f.status),
            Err(e) => failure(e),
        };
    }
    let user = match browser::current(&state, &headers).await {
        Ok(Some((_, user))) => user,
        Ok(None) => {
            return login_page(
                &csrf,
                typed,
                Some("Sign in first."),
                false,
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(e) => return failure(e),
    };
    match form.get("action") {
        Some("lookup") => match typed.and_then(user_code::normalize) {
            Some(_) => back_to_page(typed),
            None => entry_page(
                &csrf,
                Some("Codes look like XXXX-XXXX."),
                StatusCode::BAD_REQUEST,
            ),
        },
        Some(decision @ ("approve" | "deny")) => {
            let Some(typed) = typed else {
                return entry_page(&csrf, None, StatusCode::BAD_REQUEST);
            };
            let device = match lookup(&state, user.id, typed).await {
                Ok(Some((device, _))) => device,
                Ok(None) => {
                    return entry_page(
                        &csrf,
                        Some("That code is not valid or has expired."),
                        StatusCode::BAD_REQUEST,
                    )
                }
                Err(e) => return failure(e),
            };
            let approve = decision == "approve";
            match decide(&state, user.id, &device, approve).await {
                Ok(true) if approve => page(
                    StatusCode::OK,
                    "Device connected",
                    "<h1>Device connected</h1><p id=\"result\">You can return to your device.</p>",
                ),
                Ok(true) => page(
                    StatusCode::OK,
                    "Request denied",
                    "<h1>Request denied</h1><p id=\"result\">The device was not connected.</p>",
                ),
                Ok(false) => entry_page(
                    &csrf,
                    Some("That code is not valid or has expired."),
                    StatusCode::BAD_REQUEST,
                ),
                Err(e) => failure(e),
            }
        }
        _ => error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "Unknown action.",
        ),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceApproveRequest {
    /// The code shown on the device.
    #[schema(max_length = 32)]
    pub user_code: String,
    /// `false` denies the request (default `true`).
    #[serde(default = "yes")]
    pub approve: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceApproveResponse {
    /// `approved` or `denied`.
    pub status: String,
    pub client_id: String,
    pub scopes: Vec<String>,
}

/// The host app approves (or denies) a device code for its signed-in user.
#[utoipa::path(post, path = "/api/v1/auth/device/approve", tag = "oauth",
    request_body = DeviceApproveRequest,
    security(("session" = [])),
    responses(
        (status = 200, description = "decision recorded", body = DeviceApproveResponse),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: unknown, used or expired code", body = ErrorEnvelope),
        (status = 429, description = "`RATE_LIMIT_EXCEEDED`", body = ErrorEnvelope)))]
pub async fn approve_device(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    ApiJson(body): ApiJson<DeviceApproveRequest>,
) -> Result<Json<DeviceApproveResponse>, ApiError> {
    if body.user_code.len() > 32 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
            "user_code is too long",
        )
        .with_details(serde_json::json!({"fields": {"user_code": "at most 32 characters"}})));
    }
    let not_found = || ApiError::not_found("no pending device authorization has this code");
    let (device, _) = lookup(&state, principal.user_id, &body.user_code)
        .await?
        .ok_or_else(not_found)?;
    if !decide(&state, principal.user_id, &device, body.approve).await? {
        return Err(not_found());
    }
    Ok(Json(DeviceApproveResponse {
        status: if body.approve { "approved" } else { "denied" }.into(),
        client_id: device.client_id,
        scopes: device.scopes,
    }))
}
