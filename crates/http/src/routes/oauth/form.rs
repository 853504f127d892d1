//! `application/x-www-form-urlencoded` bodies of the OAuth endpoints, parsed strictly:
//! RFC 6749 §3.2 forbids repeating a parameter, and empty values count as absent.

use super::error::OAuthError;
use axum::http::{header, HeaderMap};
use std::collections::HashMap;

/// Largest accepted form body (RFC 6749 requests are small).
pub const MAX_FORM_BYTES: usize = 64 * 1024;

#[derive(Debug, Default, Clone)]
pub struct Form {
    values: HashMap<String, String>,
}

impl Form {
    /// Parses a form body; `check_type` refuses other content types.
    pub fn parse(headers: &HeaderMap, body: &[u8], check_type: bool) -> Result<Self, OAuthError> {
        if check_type {
            let form_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase()
                })
                .is_some_and(|v| v == "application/x-www-form-urlencoded");
            if !form_type {
                return Err(OAuthError::invalid_request(
                    "expected Content-Type: application/x-www-form-urlencoded",
                ));
            }
        }
        Self::from_bytes(body)
    }

    pub fn from_bytes(body: &[u8]) -> Result<Self, OAuthError> {
        if body.len() > MAX_FORM_BYTES {
            return Err(OAuthError::invalid_request("request body is too large"));
        }
        let mut values = HashMap::new();
        for (key, value) in form_urlencoded::parse(body) {
            if value.is_empty() {
                continue;
            }
            if values
                .insert(key.clone().into_owned(), value.into_owned())
                .is_some()
            {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {} is repeated",
                    printable(&key)
                )));
            }
        }
        Ok(Self { values })
    }

    /// From a URL query string (the authorization endpoint's GET).
    pub fn from_query(query: Option<&str>) -> Result<Self, OAuthError> {
        Self::from_bytes(query.unwrap_or("").as_bytes())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    pub fn required(&self, key: &str) -> Result<&str, OAuthError> {
        self.get(key)
            .ok_or_else(|| OAuthError::invalid_request(format!("{key} is required")))
    }

    /// A parameter with a length limit.
    pub fn bounded(&self, key: &str, max: usize) -> Result<Option<&str>, OAuthError> {
        match self.get(key) {
            Some(v) if v.len() > max => Err(OAuthError::invalid_request(format!(
                "{key} is longer than {max} bytes"
            ))),
            other => Ok(other),
        }
    }
}

/// Client-supplied text in error descriptions is shortened the same way everywhere.
pub use tmcp_usecases::oauth::scopes::printable;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_ignored() {
        let form = Form::from_bytes(b"a=1&b=&c=x%20y").expect("parses");
        assert_eq!(form.get("a"), Some("1"));
        assert_eq!(form.get("b"), None);
        assert_eq!(form.get("c"), Some("x y"));
        let error = Form::from_bytes(b"a=1&a=2").expect_err("repeated");
        assert_eq!(error.error, "invalid_request");
    }

    #[test]
    fn content_type_is_checked() {
        let mut headers = HeaderMap::new();
        assert!(Form::parse(&headers, b"a=1", true).is_err());
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=UTF-8"
                .parse()
                .expect("header"),
        );
        assert!(Form::parse(&headers, b"a=1", true).is_ok());
    }
}
