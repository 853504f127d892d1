//! Server-rendered pages of the authorization and device flows: self-contained HTML (inline
//! CSS, no scripts, no external assets), every piece of user or client text escaped, framing
//! forbidden, and a strict CSP. Forms carry a CSRF token that must equal the `tmcp_csrf`
//! cookie (double submit; the cookie is HttpOnly and SameSite=Strict).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "tmcp_session";
pub const CSRF_COOKIE: &str = "tmcp_csrf";
/// Both cookies are only sent to the OAuth pages.
pub const COOKIE_PATH: &str = "/oauth2";

pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '/' => out.push_str("&#x2F;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;\
background:#f4f5f7;color:#1d2330;margin:0;display:flex;justify-content:center}\
main{background:#fff;margin:48px 16px;padding:32px;border-radius:12px;max-width:420px;\
width:100%;box-shadow:0 2px 12px rgba(0,0,0,.08)}h1{font-size:1.35rem;margin:0 0 16px}\
p{line-height:1.45}label{display:block;margin:14px 0 4px;font-weight:600}\
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:10px;\
border:1px solid #c3c8d2;border-radius:8px;font-size:1rem}\
ul{padding-left:20px}li{margin:6px 0}.scope{font-family:ui-monospace,monospace;color:#59606e;\
font-size:.85rem}.error{background:#fdecec;color:#8a1c1c;padding:10px;border-radius:8px}\
.actions{display:flex;gap:12px;margin-top:24px}button{flex:1;padding:11px;border-radius:8px;\
font-size:1rem;border:1px solid #2456d6;cursor:pointer}button.primary{background:#2456d6;\
color:#fff}button.secondary{background:#fff;color:#2456d6}.muted{color:#6b7280;font-size:.9rem}";

/// A complete page. `body` must already be escaped HTML.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    page_with_csp(status, title, body, CSP.to_owned())
}

/// The CSP of a page whose form submission ends in a redirect to `redirect_source` (a CSP
/// source expression for the client's registered redirect URI): browsers apply
/// `form-action` to the redirects that follow a form post, so the client's own origin must
/// be allowed next to `'self'`.
pub fn csp_allowing_redirect_to(redirect_source: Option<&str>) -> String {
    match redirect_source {
        Some(source) => format!("{CSP} {source}"),
        None => CSP.to_owned(),
    }
}

pub fn page_with_csp(status: StatusCode, title: &str, body: &str, csp: String) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static(CSP)),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An error page (never a redirect: the redirect target is what could not be trusted).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    page(
        status,
        title,
        &format!(
            "<h1>{}</h1><p class=\"error\">{}</p>",
            escape(title),
            escape(message)
        ),
    )
}

/// The page for a failure that is not the person's doing: 503 with the error's `Retry-After`
/// while a dependency (the database) is down, 500 for anything else.
pub fn server_failure_page(error: &crate::error::ApiError) -> Response {
    if error.status != StatusCode::SERVICE_UNAVAILABLE {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Please try again later.",
        );
    }
    let mut response = error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The service is temporarily unavailable. Please try again in a moment.",
    );
    for (name, value) in &error.headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, value);
        }
    }
    response
}

/// A hidden form field.
pub fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

/// The value of cookie `name` in the request, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, `Secure` when the server is reached over https.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age_secs: i64,
    secure: bool,
    same_site: &str,
) -> String {
    format!(
        "{name}={value}; Path={COOKIE_PATH}; Max-Age={max_age_secs}; HttpOnly; SameSite={same_site}{}",
        if secure { "; Secure" } else { "" }
    )
}

fn csrf_shape(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The CSRF token for a form: the request's cookie if it has a good one, otherwise a new
/// one together with the `Set-Cookie` value that installs it.
pub fn csrf_token(headers: &HeaderMap, secure: bool) -> (String, Option<String>) {
    if let Some(existing) = cookie(headers, CSRF_COOKIE).filter(|v| csrf_shape(v)) {
        return (existing.to_owned(), None);
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let set = set_cookie(CSRF_COOKIE, &token, 3600, secure, "Strict");
    (token, Some(set))
}

/// True when the form's `csrf_token` equals the cookie (constant-time comparison).
pub fn csrf_valid(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    match (cookie(headers, CSRF_COOKIE), submitted) {
        (Some(cookie), Some(submitted)) if csrf_shape(cookie) => {
            cookie.as_bytes().ct_eq(submitted.as_bytes()).into()
        }
        _ => false,
    }
}

/// Adds `Set-Cookie` headers to a response.
pub fn with_cookies(mut response: Response, cookies: impl IntoIterator<Item = String>) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// 303 See Other to `location` (after a POST), with `no-store`.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The login form, posting back to `action` with the flow's own hidden fields.
pub fn login_form(
    action: &str,
    hidden_fields: &str,
    csrf: &str,
    error: Option<&str>,
    mfa: bool,
    context: &str,
) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let mfa_field = if mfa {
        "<label for=\"mfa_code\">One-time code</label>\
         <input type=\"text\" id=\"mfa_code\" name=\"mfa_code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"16\">"
    } else {
        ""
    };
    format!(
        "<h1>Sign in</h1><p>{context}</p>{error}\
         <form method=\"post\" action=\"{}\">{hidden_fields}{}{}\
         <label for=\"login\">Username or email</label>\
         <input type=\"text\" id=\"login\" name=\"login\" autocomplete=\"username\" required maxlength=\"255\">\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required maxlength=\"128\">\
         {mfa_field}\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\" id=\"sign-in\">Sign in</button></div></form>",
        escape(action),
        hidden("action", "login"),
        hidden("csrf_token", csrf),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_attributes() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt;&amp;&quot;"
        );
    }

    #[test]
    fn cookies_are_found_and_csrf_compared() {
        let mut headers = HeaderMap::new();
        let token = "a".repeat(43);
        headers.insert(
            header::COOKIE,
            format!("x=1; {CSRF_COOKIE}={token}; y=2")
                .parse()
                .expect("cookie"),
        );
        assert_eq!(cookie(&headers, "y"), Some("2"));
        assert!(csrf_valid(&headers, Some(&token)));
        assert!(!csrf_valid(&headers, Some(&"b".repeat(43))));
        assert!(!csrf_valid(&headers, None));
        assert!(!csrf_valid(&HeaderMap::new(), Some(&token)));
        let (same, set) = csrf_token(&headers, false);
        assert_eq!(same, token);
        assert!(set.is_none());
        let (fresh, set) = csrf_token(&HeaderMap::new(), true);
        assert_ne!(fresh, token);
        let set = set.expect("new cookie");
        assert!(
            set.contains("HttpOnly") && set.contains("Secure") && set.contains("SameSite=Strict")
        );
    }
}
