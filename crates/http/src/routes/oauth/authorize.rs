//! `GET/POST /oauth2/authorize` (RFC 6749 §4.1, PKCE RFC 7636): the login and consent
//! pages of the authorization code flow.
//!
//! A bad `client_id` or `redirect_uri` shows an error page and never redirects (the target
//! is exactly what cannot be trusted). Every other problem is sent back to the client's
//! registered redirect URI as `error=…` with `state`. Public clients must use PKCE S256;
//! `plain` is refused. The consent decision is a POST with a CSRF token; approval records
//! the consent and redirects with a single-use code valid for 60 seconds.

use super::browser::{self, secure_cookies};
use super::form::Form;
use super::html::{
    self, csp_allowing_redirect_to, csrf_token, csrf_valid, error_page, escape, hidden,
    page_with_csp, see_other, with_cookies,
};
use super::scopes;
use crate::auth::client::ClientInfo;
use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use tmcp_repository::User;
use tmcp_usecases::oauth::authorization::{
    check_authorization_request, AuthorizationParams, AuthorizationRefusal as Refusal,
    CheckedAuthorization,
};
use tmcp_usecases::oauth::consent::{approve_authorization, needs_consent, AuthorizationRequest};
use utoipa::{IntoParams, ToSchema};

/// Query parameters of the authorization request (also the hidden fields of the forms).
#[allow(dead_code)]
#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    #[param(schema_with = crate::schema_constraints::response_type)]
    #[schema(schema_with = crate::schema_constraints::response_type)]
    response_type: String,
    client_id: String,
    /// Exactly one of the client's registered redirect URIs.
    redirect_uri: String,
    /// Space-separated scopes, all registered by the client (default: all registered).
    scope: Option<String>,
    /// Returned unchanged with the answer (recommended).
    #[param(max_length = 1024)]
    #[schema(max_length = 1024)]
    state: Option<String>,
    /// BASE64URL(SHA256(code_verifier)); required for public clients.
    #[param(pattern = r"^[A-Za-z0-9_-]{43}$")]
    #[schema(pattern = r"^[A-Za-z0-9_-]{43}$")]
    code_challenge: Option<String>,
    #[param(schema_with = crate::schema_constraints::code_challenge_method)]
    #[schema(schema_with = crate::schema_constraints::code_challenge_method)]
    code_challenge_method: Option<String>,
}

/// The consent or login form posted back to `/oauth2/authorize`.
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
pub struct AuthorizeForm {
    #[schema(schema_with = crate::schema_constraints::authorize_action)]
    action: String,
    /// Must equal the `tmcp_csrf` cookie.
    csrf_token: String,
    /// `action=login`: username or email.
    login: Option<String>,
    /// `action=login`.
    password: Option<String>,
    /// `action=login`, accounts with MFA: TOTP code or PIN.
    mfa_code: Option<String>,
    #[schema(schema_with = crate::schema_constraints::response_type)]
    response_type: String,
    client_id: String,
    redirect_uri: String,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    #[schema(schema_with = crate::schema_constraints::code_challenge_method)]
    code_challenge_method: Option<String>,
}

/// A checked authorization request (the OAuth service's rules).
type AuthRequest = CheckedAuthorization;

/// Checks the request's parameters, from the query or the posted form.
async fn validate(state: &AppState, form: &Form) -> Result<AuthRequest, Refusal> {
    let params = AuthorizationParams {
        client_id: form.get("client_id"),
        redirect_uri: form.get("redirect_uri"),
        state: form.get("state"),
        response_type: form.get("response_type"),
        response_mode: form.get("response_mode"),
        scope: form.get("scope"),
        code_challenge: form.get("code_challenge"),
        code_challenge_method: form.get("code_challenge_method"),
    };
    check_authorization_request(state.db.as_ref(), params).await
}

/// The request's parameters, to carry through forms and redirects.
fn parameters(request: &AuthRequest) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("response_type", "code".to_owned()),
        ("client_id", request.client.client_id.clone()),
        ("redirect_uri", request.redirect_uri.clone()),
        ("scope", request.scopes.to_string()),
    ];
    if let Some(state) = &request.state {
        params.push(("state", state.clone()));
    }
    if let Some(challenge) = &request.code_challenge {
        params.push(("code_challenge", challenge.clone()));
        params.push(("code_challenge_method", "S256".to_owned()));
    }
    params
}

fn hidden_fields(request: &AuthRequest) -> String {
    parameters(request)
        .iter()
        .map(|(k, v)| hidden(k, v))
        .collect()
}

fn authorize_url(request: &AuthRequest) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in parameters(request) {
        query.append_pair(k, &v);
    }
    format!("/oauth2/authorize?{}", query.finish())
}

/// The client's redirect URI with the answer's parameters appended (RFC 6749 §4.1.2).
fn redirect_with(state: &AppState, redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect address",
            "The registered redirect URI cannot be used.",
        );
    };
    {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in params {
            pairs.append_pair(k, v);
        }
        pairs.append_pair("iss", &state.tep.settings().issuer);
    }
    see_other(url.as_str())
}

/// CSP source for the redirect target of a registered URI.
fn redirect_source(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}

/// A refused request: a page when the client or redirect URI cannot be trusted (or our side
/// failed), otherwise back to the client.
fn refusal_response(state: &AppState, refusal: Refusal) -> Response {
    let page = |title, message| error_page(StatusCode::BAD_REQUEST, title, message);
    match refusal {
        Refusal::NoClient => page(
            "Unknown application",
            "The request names no valid application (client_id).",
        ),
        Refusal::UnknownClient => page(
            "Unknown application",
            "This application is not registered or has been disabled.",
        ),
        Refusal::UnregisteredRedirect => page(
            "Invalid redirect address",
            "The redirect_uri of this request is missing or is not registered for this application.",
        ),
        Refusal::StateTooLong => page("Invalid request", "The state parameter is too long."),
        Refusal::Repository(error) => html::server_failure_page(&ApiError::from(error)),
        Refusal::BackToClient {
            redirect_uri,
            state: request_state,
            error,
            description,
        } => {
            let mut params = vec![
                ("error", error),
                ("error_description", description.as_str()),
            ];
            if let Some(s) = request_state.as_deref() {
                params.push(("state", s));
            }
            redirect_with(state, &redirect_uri, &params)
        }
    }
}

fn login_page(
    request: &AuthRequest,
    csrf: &str,
    error: Option<&str>,
    mfa: bool,
    status: StatusCode,
) -> Response {
    let context = format!(
        "Sign in to continue to <strong>{}</strong>.",
        escape(&request.client.name)
    );
    let body = html::login_form(
        "/oauth2/authorize",
        &hidden_fields(request),
        csrf,
        error,
        mfa,
        &context,
    );
    page_with_csp(
        status,
        "Sign in",
        &body,
        csp_allowing_redirect_to(redirect_source(&request.redirect_uri).as_deref()),
    )
}

fn consent_page(request: &AuthRequest, user: &User, csrf: &str) -> Response {
    let name = escape(&request.client.name);
    let items: String = request
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
    let destination = url::Url::parse(&request.redirect_uri)
        .ok()
        .map(|u| {
            u.host_str()
                .map_or_else(|| u.scheme().to_owned(), str::to_owned)
        })
        .unwrap_or_default();
    let official = if request.client.is_official {
        " <span class=\"muted\">(official app)</span>"
    } else {
        ""
    };
    let body = format!(
        "<h1><span id=\"client-name\">{name}</span>{official} wants access to your account</h1>\
         <p class=\"muted\">Signed in as {}</p>\
         <p>This will allow {name} to:</p><ul id=\"scopes\">{items}</ul>\
         <p class=\"muted\">You will be returned to {}. You can withdraw this access at any time.</p>\
         <form method=\"post\" action=\"/oauth2/authorize\">{}{}\
         <div class=\"actions\">\
         <button type=\"submit\" name=\"action\" value=\"deny\" class=\"secondary\" id=\"deny\">Deny</button>\
         <button type=\"submit\" name=\"action\" value=\"approve\" class=\"primary\" id=\"approve\">Allow</button>\
         </div></form>",
        escape(&user.username),
        escape(&destination),
        hidden("csrf_token", csrf),
        hidden_fields(request),
    );
    page_with_csp(
        StatusCode::OK,
        "Authorize application",
        &body,
        csp_allowing_redirect_to(redirect_source(&request.redirect_uri).as_deref()),
    )
}

fn internal(error: ApiError) -> Response {
    if error.status == StatusCode::TOO_MANY_REQUESTS {
        return error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            "Please wait a moment and try again.",
        );
    }
    html::server_failure_page(&error)
}

/// The request as the consent use cases take it.
fn consent_request(request: &AuthRequest) -> AuthorizationRequest<'_> {
    AuthorizationRequest {
        client_id: &request.client.client_id,
        redirect_uri: &request.redirect_uri,
        scopes: &request.scopes,
        code_challenge: request.code_challenge.as_deref(),
    }
}

/// Whether the request has scopes the user still has to approve.
async fn needs_approval(
    state: &AppState,
    request: &AuthRequest,
    user: &User,
) -> Result<bool, ApiError> {
    Ok(needs_consent(state.db.as_ref(), user.id, consent_request(request)).await?)
}

/// Issues the code and sends the browser back to the client.
async fn approve(
    state: &AppState,
    request: &AuthRequest,
    user: &User,
) -> Result<Response, ApiError> {
    let code = approve_authorization(
        state.db.as_ref(),
        state.clock.as_ref(),
        user.id,
        consent_request(request),
    )
    .await?;
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = request.state.as_deref() {
        params.push(("state", s));
    }
    Ok(redirect_with(state, &request.redirect_uri, &params))
}

/// Shows the login page, the consent page, or (everything already approved) redirects with
/// a code.
#[utoipa::path(get, path = "/oauth2/authorize", tag = "oauth",
    params(AuthorizeQuery),
    responses(
        (status = 200, description = "HTML login or consent page", content_type = "text/html"),
        (status = 303, description = "redirect to the client with `code`+`state`+`iss`, or `error`+`state`"),
        (status = 400, description = "HTML error page: unknown client or unregistered redirect_uri", content_type = "text/html")))]
pub async fn authorize_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let form = match Form::from_query(query.as_deref()) {
        Ok(form) => form,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Invalid request", &e.description),
    };
    let request = match validate(&state, &form).await {
        Ok(request) => request,
        Err(refusal) => return refusal_response(&state, refusal),
    };
    let secure = secure_cookies(&state);
    let (csrf, set_csrf) = csrf_token(&headers, secure);
    let signed_in = match browser::current(&state, &headers).await {
        Ok(found) => found,
        Err(e) => return internal(e),
    };
    let response = match signed_in {
        None => login_page(&request, &csrf, None, false, StatusCode::OK),
        Some((_, user)) => match needs_approval(&state, &request, &user).await {
            Ok(true) => consent_page(&request, &user, &csrf),
            Ok(false) => match approve(&state, &request, &user).await {
                Ok(response) => response,
                Err(e) => return internal(e),
            },
            Err(e) => return internal(e),
        },
    };
    with_cookies(response, set_csrf)
}

/// Handles the login and consent forms.
#[utoipa::path(post, path = "/oauth2/authorize", tag = "oauth",
    request_body(content = AuthorizeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "HTML page (login error, consent)", content_type = "text/html"),
        (status = 303, description = "after login: back to the authorization page; after a decision: to the client with `code` or `error=access_denied`"),
        (status = 400, description = "HTML error page", content_type = "text/html"),
        (status = 401, description = "HTML login page with an error", content_type = "text/html"),
        (status = 403, description = "HTML error page: missing or wrong CSRF token (nothing recorded)", content_type = "text/html"),
        (status = 429, description = "HTML login page: too many attempts", content_type = "text/html")))]
pub async fn authorize_submit(
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
    let request = match validate(&state, &form).await {
        Ok(request) => request,
        Err(refusal) => return refusal_response(&state, refusal),
    };
    let secure = secure_cookies(&state);
    let (csrf, _) = csrf_token(&headers, secure);
    match form.get("action") {
        Some("login") => {
            let outcome = browser::login(
                &state,
                &client_info,
                form.get("login").unwrap_or(""),
                form.get("password").unwrap_or(""),
                form.get("mfa_code"),
            )
            .await;
            match outcome {
                Ok(Ok(logged_in)) => {
                    with_cookies(see_other(&authorize_url(&request)), [logged_in.set_cookie])
                }
                Ok(Err(failure)) => login_page(
                    &request,
                    &csrf,
                    Some(&failure.message),
                    failure.mfa,
                    failure.status,
                ),
                Err(e) => internal(e),
            }
        }
        Some(decision @ ("approve" | "deny")) => {
            let user = match browser::current(&state, &headers).await {
                Ok(Some((_, user))) => user,
                Ok(None) => {
                    return login_page(
                        &request,
                        &csrf,
                        Some("Your session has ended. Sign in again."),
                        false,
                        StatusCode::UNAUTHORIZED,
                    )
                }
                Err(e) => return internal(e),
            };
            if decision == "deny" {
                let mut params = vec![
                    ("error", "access_denied"),
                    ("error_description", "the user denied the request"),
                ];
                if let Some(s) = request.state.as_deref() {
                    params.push(("state", s));
                }
                return redirect_with(&state, &request.redirect_uri, &params);
            }
            approve(&state, &request, &user)
                .await
                .unwrap_or_else(internal)
        }
        _ => error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "Unknown action.",
        ),
    }
}
