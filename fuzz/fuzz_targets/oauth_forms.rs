//! OAuth request parameters: form bodies and query strings of the OAuth endpoints,
//! `Authorization: Basic` client credentials, scope lists, PKCE values, device user codes
//! and redirect URIs.
//!
//! Asserts: a form is refused exactly when it is too large or repeats a non-empty parameter,
//! and an accepted one holds every non-empty parameter as sent; accepted Basic credentials
//! name a client of 1–255 bytes of clean text; a parsed scope list renders to text that
//! parses to the same set; user-code normalisation is idempotent; a PKCE verifier that
//! validates hashes to a challenge that validates.
#![no_main]

use axum::http::{header, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use tmcp_domain::oauth::{pkce, user_code, validate_redirect_uri};
use tmcp_domain::scope::ScopeSet;
use tmcp_http::routes::oauth::client_auth::credentials;
use tmcp_http::routes::oauth::form::{Form, MAX_FORM_BYTES};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            // The reference: count the non-empty parameters ourselves.
            let mut counts: HashMap<String, (usize, String)> = HashMap::new();
            for (k, v) in form_urlencoded::parse(rest) {
                if !v.is_empty() {
                    let entry = counts.entry(k.into_owned()).or_default();
                    entry.0 += 1;
                    entry.1 = v.into_owned();
                }
            }
            let repeated = counts.values().any(|(n, _)| *n > 1);
            match Form::from_bytes(rest) {
                Ok(form) => {
                    assert!(rest.len() <= MAX_FORM_BYTES && !repeated);
                    for (k, (_, v)) in &counts {
                        assert_eq!(form.get(k), Some(v.as_str()));
                    }
                }
                Err(e) => {
                    assert_eq!(e.error, "invalid_request");
                    assert!(rest.len() > MAX_FORM_BYTES || repeated);
                }
            }
        }
        1 => {
            // `Authorization: Basic <rest>` next to an empty form.
            let Ok(value) = HeaderValue::from_bytes(&[b"Basic ", rest].concat()) else {
                return;
            };
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value);
            if let Ok(found) = credentials(&headers, &Form::default()) {
                assert!(found.basic);
                assert!(!found.client_id.is_empty() && found.client_id.len() <= 255);
                assert!(!found.client_id.contains('\0'));
                assert!(found
                    .secret
                    .as_deref()
                    .is_none_or(|s| !s.is_empty() && !s.contains('\0')));
            }
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(scopes) = ScopeSet::parse(text) {
                assert_eq!(ScopeSet::parse(&scopes.to_string()), Ok(scopes));
            }
            if let Some(code) = user_code::normalize(text) {
                assert_eq!(code.len(), 9);
                assert_eq!(user_code::normalize(&code).as_deref(), Some(code.as_str()));
            }
            if pkce::valid_verifier(text) {
                let challenge = pkce::s256(text);
                assert!(pkce::valid_challenge(&challenge));
                assert!(pkce::verify_s256(text, &challenge));
            }
            if validate_redirect_uri(text).is_ok() {
                assert!(!text.is_empty() && text.len() <= 2000 && !text.contains('#'));
                assert!(!text.bytes().any(|b| b.is_ascii_control() || b == b' '));
            }
        }
    }
});
