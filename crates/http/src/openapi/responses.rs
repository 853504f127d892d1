//! Error answers every operation of a kind can give, declared once.
//!
//! Handlers annotate what is particular to them (success bodies, `404`, `409`, an OAuth
//! `400`, …). The answers that come from shared machinery are added here, from facts of the
//! operation the document already states, so no route can forget one and all share one
//! description (`#/components/responses/…`):
//!
//! | fact | answers added |
//! |---|---|
//! | path under `/api/` or `/wallet/` | 400 (request text), 429 (default rate limit), 408, 500, 503 |
//! | OAuth JSON endpoint (`/oauth2/…` but the pages) | 408, 500 and 503 as `server_error` |
//! | OAuth HTML page (`/oauth2/authorize`, `/oauth2/device`) | 400 also as JSON, 408, 500 and 503 pages |
//! | `session` or `tep` security | 401 `INVALID_TOKEN`, 403 |
//! | JSON request body | 400 (malformed JSON, wrong `Content-Type`), 413, 422 |
//! | any other request body | 413 (body limit) |
//!
//! A status the handler already declares keeps the handler's more specific description.
//! Request text that is not UTF-8 or holds NUL is refused before any handler, as the
//! envelope's 400 on `/api/` and as an OAuth `invalid_request` on `/oauth2/` (also on the
//! pages, which otherwise answer HTML); an unreadable body there is an OAuth error too.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{OneOfBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::Modify;

/// Adds the shared responses to every operation (see the module documentation).
pub struct SharedResponses;

const JSON: &str = "application/json";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    /// `/api/…`: the error envelope, the default rate limit.
    Api,
    /// OAuth endpoints answering RFC 6749 JSON errors.
    OAuthJson,
    /// The server-rendered OAuth pages.
    Page,
    /// Health, metrics, discovery documents: no database work of their own.
    Operational,
}

fn family(path: &str) -> Family {
    if path.starts_with("/api/") || path.starts_with("/wallet/") {
        Family::Api
    } else if path == "/oauth2/authorize" || path == "/oauth2/device" {
        Family::Page
    } else if path.starts_with("/oauth2/") {
        Family::OAuthJson
    } else {
        Family::Operational
    }
}

fn oauth_body() -> RefOr<Schema> {
    Ref::from_schema_name("OAuthErrorBody").into()
}

fn envelope() -> RefOr<Schema> {
    Ref::from_schema_name("ErrorEnvelope").into()
}

fn envelope_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(JSON, ContentBuilder::new().schema(Some(envelope())).build())
        .build()
}

fn retry_after() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        ))
        .description(Some("seconds to wait before retrying"))
        .build()
}

fn with_retry_after(mut response: Response) -> Response {
    response
        .headers
        .insert("Retry-After".into(), retry_after().into());
    response
}

/// `(name, response)` of every shared response, for `components.responses`.
fn definitions() -> Vec<(&'static str, Response)> {
    let oauth_or_envelope = || OneOfBuilder::new().item(oauth_body()).item(envelope());
    vec![
        ("BadRequest", envelope_response(
            "`INVALID_REQUEST`: request text that is not UTF-8 or holds NUL (`details.location`), \
             a body that is not JSON, or a `Content-Type` other than `application/json`",
        )),
        ("Unauthorized", envelope_response(
            "`INVALID_TOKEN`: the bearer token is missing, malformed, unknown, expired or revoked \
             (with `WWW-Authenticate: Bearer`)",
        )),
        ("Forbidden", envelope_response(
            "`ACCOUNT_SUSPENDED` (session of a suspended account) or `INSUFFICIENT_PERMISSIONS` \
             (role or TEP scope missing)",
        )),
        ("RequestTimeout", envelope_response("`REQUEST_TIMEOUT`: the request took too long")),
        ("PayloadTooLarge", envelope_response(
            "`PAYLOAD_TOO_LARGE`: the body is over the configured limit",
        )),
        ("ValidationFailed", envelope_response(
            "`VALIDATION_FAILED`: well-formed JSON of the wrong shape, or invalid fields \
             (`details.fields`)",
        )),
        ("RateLimited", with_retry_after(envelope_response(
            "`RATE_LIMIT_EXCEEDED` (`details.retry_after`); `X-RateLimit-*` headers",
        ))),
        ("InternalError", envelope_response(
            "`INTERNAL_ERROR`: a failure on the server's side (details only in its log)",
        )),
        ("ServiceUnavailable", with_retry_after(envelope_response(
            "`SERVICE_UNAVAILABLE`: the database or Redis cannot be reached; retry later",
        ))),
        ("OAuthServerError", ResponseBuilder::new()
            .description("`server_error` (or the envelope for a failure outside the handler)")
            .content(JSON, ContentBuilder::new().schema(Some(oauth_or_envelope())).build())
            .build()),
        ("OAuthUnavailable", with_retry_after(ResponseBuilder::new()
            .description("the database or Redis cannot be reached; retry later")
            .content(JSON, ContentBuilder::new().schema(Some(oauth_or_envelope())).build())
            .build())),
        ("OAuthPayloadTooLarge", ResponseBuilder::new()
            .description("the body is over the configured limit (`invalid_request`, or the envelope's `PAYLOAD_TOO_LARGE`)")
            .content(JSON, ContentBuilder::new().schema(Some(oauth_or_envelope())).build())
            .build()),
        ("PageBadRequest", ResponseBuilder::new()
            .description("HTML error page, or `invalid_request` for request text that is not UTF-8 or holds NUL")
            .content("text/html", ContentBuilder::new().build())
            .content(JSON, ContentBuilder::new().schema(Some(oauth_body())).build())
            .build()),
        ("PageError", ResponseBuilder::new()
            .description("HTML error page: a failure on the server's side, or (503) the database cannot be reached (the envelope for a failure outside the handler)")
            .content("text/html", ContentBuilder::new().build())
            .content(JSON, ContentBuilder::new().schema(Some(envelope())).build())
            .build()),
    ]
}

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, response) in definitions() {
            components.responses.insert(name.into(), response.into());
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let family = family(path);
            for operation in operations(item) {
                if family == Family::Page {
                    accept_oauth_json_400(operation);
                }
                for (status, name) in shared_for(family, operation) {
                    operation
                        .responses
                        .responses
                        .entry(status.into())
                        .or_insert_with(|| Ref::from_response_name(name).into());
                }
            }
        }
    }
}

/// A page's own 400 is HTML; the request-text check before it answers OAuth JSON.
fn accept_oauth_json_400(operation: &mut Operation) {
    if let Some(RefOr::T(response)) = operation.responses.responses.get_mut("400") {
        response.content.entry(JSON.into()).or_insert_with(|| {
            ContentBuilder::new()
                .schema(Some(oauth_body()))
                .build()
                .into()
        });
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Whether the operation requires one of the bearer schemes.
fn is_authenticated(operation: &Operation) -> bool {
    operation.security.iter().flatten().any(|requirement| {
        // The requirement's scheme names are private; its JSON form is `{name: scopes}`.
        serde_json::to_value(requirement)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .is_some_and(|o| o.contains_key("session") || o.contains_key("tep"))
    })
}

/// `(status, shared response name)` pairs for one operation.
fn shared_for(family: Family, operation: &Operation) -> Vec<(&'static str, &'static str)> {
    let mut shared = Vec::new();
    match family {
        Family::Api => shared.extend([
            ("400", "BadRequest"),
            ("408", "RequestTimeout"),
            ("429", "RateLimited"),
            ("500", "InternalError"),
            ("503", "ServiceUnavailable"),
        ]),
        Family::OAuthJson => shared.extend([
            ("408", "RequestTimeout"),
            ("500", "OAuthServerError"),
            ("503", "OAuthUnavailable"),
        ]),
        Family::Page => shared.extend([
            ("400", "PageBadRequest"),
            ("408", "RequestTimeout"),
            ("500", "PageError"),
            ("503", "PageError"),
        ]),
        Family::Operational => {}
    }
    if is_authenticated(operation) {
        shared.extend([("401", "Unauthorized"), ("403", "Forbidden")]);
    }
    if let Some(RefOr::T(body)) = &operation.request_body {
        shared.push(match family {
            Family::OAuthJson | Family::Page => ("413", "OAuthPayloadTooLarge"),
            Family::Api | Family::Operational => ("413", "PayloadTooLarge"),
        });
        if body.content.contains_key(JSON) {
            shared.extend([("400", "BadRequest"), ("422", "ValidationFailed")]);
        }
    }
    shared
}

#[cfg(test)]
mod tests {
    use crate::openapi::ApiDoc;
    use utoipa::OpenApi;

    fn statuses(doc: &utoipa::openapi::OpenApi, path: &str, method: &str) -> Vec<String> {
        let value = serde_json::to_value(doc).expect("document serialises");
        value["paths"][path][method]["responses"]
            .as_object()
            .expect("operation has responses")
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn shared_answers_are_added_by_kind_of_operation() {
        let doc = ApiDoc::openapi();
        let put = statuses(&doc, "/api/v1/storage/{key}", "put");
        for status in [
            "400", "401", "403", "408", "413", "422", "429", "500", "503",
        ] {
            assert!(
                put.contains(&status.to_owned()),
                "PUT storage lacks {status}"
            );
        }
        let me = statuses(&doc, "/api/v1/users/me", "get");
        assert!(me.contains(&"401".to_owned()) && !me.contains(&"422".to_owned()));
        assert!(statuses(&doc, "/oauth2/device", "get").contains(&"400".to_owned()));
        let register = statuses(&doc, "/api/v1/auth/register", "post");
        assert!(!register.contains(&"401".to_owned()) && register.contains(&"400".to_owned()));
        let token = statuses(&doc, "/oauth2/token", "post");
        assert!(token.contains(&"413".to_owned()) && token.contains(&"503".to_owned()));
        assert!(
            !token.contains(&"422".to_owned()),
            "form endpoints never answer 422"
        );
        assert_eq!(statuses(&doc, "/health", "get"), vec!["200".to_owned()]);
    }

    #[test]
    fn handler_descriptions_win() {
        let value = serde_json::to_value(ApiDoc::openapi()).expect("document serialises");
        let login_401 = &value["paths"]["/api/v1/auth/login"]["post"]["responses"]["401"];
        assert!(login_401.get("$ref").is_none(), "login keeps its own 401");
        let token_400 = &value["paths"]["/oauth2/token"]["post"]["responses"]["400"];
        assert!(
            token_400.get("$ref").is_none(),
            "the OAuth 400 is not the envelope"
        );
        let page_400 = &value["paths"]["/oauth2/authorize"]["get"]["responses"]["400"]["content"];
        assert!(page_400["text/html"].is_object() && page_400["application/json"].is_object());
        for name in ["Unauthorized", "RateLimited", "ServiceUnavailable"] {
            assert!(
                value["components"]["responses"][name].is_object(),
                "{name} defined"
            );
        }
    }
}
