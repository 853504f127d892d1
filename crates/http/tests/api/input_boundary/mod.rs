//! Request text at the boundary, on SQLite and PostgreSQL: a NUL character or invalid UTF-8
//! in any text a route takes (path parameter, query parameter, JSON or form field) answers
//! 400 in the route's error shape — the envelope, or RFC 6749 JSON on `/oauth2/*` — and
//! never reaches SQL (PostgreSQL refuses NUL in text with a driver error, which used to be a
//! 500). The table below lists every route and its text inputs; a test checks it against the
//! OpenAPI document, so a new route or field cannot be forgotten here.

mod support;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use support::*;
use tmcp_domain::scope::ScopeSet;
use tmcp_domain::Clock;
use tmcp_http::auth::TepMint;
use tmcp_http::ratelimit::LimitRule;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    Anonymous,
    /// `Authorization: Bearer <session token>`.
    Session,
    /// `Authorization: Bearer <TEP>` with the storage scopes.
    Tep,
    /// The OAuth pages: session and CSRF cookies, and the CSRF field in forms.
    Browser,
}

enum Payload {
    None,
    Json(Value),
    Form(Vec<(&'static str, &'static str)>),
}

/// One route: its OpenAPI method and path template, and every text input it takes.
struct Route {
    method: Method,
    path: &'static str,
    auth: Auth,
    payload: Payload,
    /// JSON pointers into the JSON body, or names of form fields. Each must point at a string.
    fields: &'static [&'static str],
    /// Query parameters with a plausible value.
    query: &'static [(&'static str, &'static str)],
}

const CSRF: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const SOME_ID: &str = "0190a5a4-0000-7000-8000-000000000001";

fn route(
    method: Method,
    path: &'static str,
    auth: Auth,
    payload: Payload,
    fields: &'static [&'static str],
) -> Route {
    Route {
        method,
        path,
        auth,
        payload,
        fields,
        query: &[],
    }
}

fn get(path: &'static str, auth: Auth) -> Route {
    route(Method::GET, path, auth, Payload::None, &[])
}

fn proof() -> Value {
    json!({"method": "totp", "code": "123456", "pin": "135790", "device_id": "dev-1",
           "signature": "c2ln", "timestamp": 1})
}

/// Every route with the text it takes. Bodies are plausible requests, so on an engine
/// without the boundary the poisoned text would reach the handlers and their queries.
fn routes() -> Vec<Route> {
    use Auth::*;
    use Method as M;
    let storage_value = json!({"value": "v", "value_base64": "dg==", "content_type": "text/plain",
                               "ttl": 60, "metadata": {"note": "n"}, "client_timestamp": 1});
    let auth_params = [
        ("response_type", "code"),
        ("client_id", PUBLIC),
        ("redirect_uri", REDIRECT),
        ("scope", "storage:read"),
        ("state", "st4te"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
        ("response_mode", "query"),
    ];
    let mut authorize_form = vec![
        ("action", "login"),
        ("csrf_token", CSRF),
        ("login", "oauth_alice"),
        ("password", PASSWORD),
        ("mfa_code", "123456"),
    ];
    authorize_form.extend(auth_params);
    vec![
        get("/health", Anonymous),
        get("/ready", Anonymous),
        get("/metrics", Anonymous),
        get("/.well-known/jwks.json", Anonymous),
        get("/.well-known/oauth-authorization-server", Anonymous),
        get("/.well-known/openid-configuration", Anonymous),
        // Accounts.
        route(
            M::POST,
            "/api/v1/auth/register",
            Anonymous,
            Payload::Json(json!({"username": "nul_bob", "email": "bob@example.com",
                "password": PASSWORD, "first_name": "Bob", "last_name": "B",
                "phone": "+15555550100"})),
            &[
                "/username",
                "/email",
                "/password",
                "/first_name",
                "/last_name",
                "/phone",
            ],
        ),
        route(
            M::POST,
            "/api/v1/auth/login",
            Anonymous,
            Payload::Json(json!({"login": "oauth_alice", "password": PASSWORD,
                "device_id": "dev-1", "device_name": "Phone", "mfa_code": "123456",
                "mfa": proof()})),
            &[
                "/login",
                "/password",
                "/device_id",
                "/device_name",
                "/mfa_code",
                "/mfa/method",
                "/mfa/code",
                "/mfa/pin",
                "/mfa/device_id",
                "/mfa/signature",
            ],
        ),
        route(
            M::POST,
            "/api/v1/auth/refresh",
            Anonymous,
            Payload::Json(json!({"refresh_token": "rt_x"})),
            &["/refresh_token"],
        ),
        get("/api/v1/auth/sessions", Session),
        get("/api/v1/users/me", Session),
        route(
            M::PATCH,
            "/api/v1/users/me",
            Session,
            Payload::Json(
                json!({"first_name": "A", "last_name": "B", "phone": "+15555550100",
                "avatar_url": "https://a.example/x.png", "preferences": {"theme": "dark"},
                "display_name": "Al", "bio": "b", "location": "l",
                "website": "https://a.example", "birth_date": "2000-01-01",
                "language": "en", "timezone": "UTC", "public_profile": true,
                "metadata": {"note": "n"}}),
            ),
            &[
                "/first_name",
                "/last_name",
                "/phone",
                "/avatar_url",
                "/preferences/theme",
                "/display_name",
                "/bio",
                "/location",
                "/website",
                "/birth_date",
                "/language",
                "/timezone",
                "/metadata/note",
            ],
        ),
        get("/api/v1/users/{id}/summary", Session),
        // Devices and second factors.
        route(
            M::POST,
            "/api/v1/devices",
            Session,
            Payload::Json(json!({"device_id": "dev-1", "device_name": "Phone",
                "device_type": "mobile", "platform": "ios",
                "public_key": {"alg": "ES256", "spki_b64": "AAAA"},
                "attestation": {"format": "none"}})),
            &[
                "/device_id",
                "/device_name",
                "/device_type",
                "/platform",
                "/public_key/alg",
                "/public_key/spki_b64",
                "/attestation/format",
            ],
        ),
        get("/api/v1/devices", Session),
        route(
            M::DELETE,
            "/api/v1/devices/{device_id}",
            Session,
            Payload::Json(proof()),
            &["/method", "/code", "/pin", "/device_id", "/signature"],
        ),
        get("/api/v1/auth/mfa/methods", Session),
        route(
            M::POST,
            "/api/v1/auth/mfa/methods",
            Session,
            Payload::Json(json!({"type": "transaction_pin", "password": PASSWORD,
                "pin": "135790", "device_id": "dev-1"})),
            &["/type", "/password", "/pin", "/device_id"],
        ),
        route(
            M::POST,
            "/api/v1/auth/mfa/methods/{id}/confirm",
            Session,
            Payload::Json(json!({"code": "123456"})),
            &["/code"],
        ),
        route(
            M::DELETE,
            "/api/v1/auth/mfa/methods/{id}",
            Session,
            Payload::Json(proof()),
            &["/method", "/code", "/pin", "/device_id", "/signature"],
        ),
        // OAuth.
        Route {
            query: &[
                ("response_type", "code"),
                ("client_id", PUBLIC),
                ("redirect_uri", REDIRECT),
                ("scope", "storage:read"),
                ("state", "st4te"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
                ("response_mode", "query"),
            ],
            ..get("/oauth2/authorize", Browser)
        },
        route(
            M::POST,
            "/oauth2/authorize",
            Browser,
            Payload::Form(authorize_form),
            &[
                "action",
                "csrf_token",
                "login",
                "password",
                "mfa_code",
                "response_type",
                "client_id",
                "redirect_uri",
                "scope",
                "state",
                "code_challenge",
                "code_challenge_method",
                "response_mode",
            ],
        ),
        route(
            M::POST,
            "/oauth2/token",
            Anonymous,
            Payload::Form(vec![
                ("grant_type", "authorization_code"),
                ("client_id", PUBLIC),
                ("client_secret", "cs_x"),
                ("code", "code_x"),
                ("redirect_uri", REDIRECT),
                ("code_verifier", "v"),
                ("refresh_token", "rt_x"),
                ("scope", "storage:read"),
                ("subject_token", "st_x"),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
                ("actor_token", "at_x"),
                ("audience", PUBLIC),
                ("miniapp_context", "{\"a\":\"b\"}"),
                ("device_code", "dc_x"),
            ]),
            &[
                "grant_type",
                "client_id",
                "client_secret",
                "code",
                "redirect_uri",
                "code_verifier",
                "refresh_token",
                "scope",
                "subject_token",
                "subject_token_type",
                "requested_token_type",
                "actor_token",
                "audience",
                "miniapp_context",
                "device_code",
            ],
        ),
        route(
            M::POST,
            "/oauth2/revoke",
            Anonymous,
            Payload::Form(vec![
                ("token", "rt_x"),
                ("token_type_hint", "refresh_token"),
                ("client_id", PUBLIC),
                ("client_secret", "cs_x"),
            ]),
            &["token", "token_type_hint", "client_id", "client_secret"],
        ),
        route(
            M::POST,
            "/oauth2/introspect",
            Anonymous,
            Payload::Form(vec![
                ("token", "rt_x"),
                ("token_type_hint", "refresh_token"),
                ("client_id", PUBLIC),
                ("client_secret", "cs_x"),
            ]),
            &["token", "token_type_hint", "client_id", "client_secret"],
        ),
        route(
            M::POST,
            "/oauth2/device/authorization",
            Anonymous,
            Payload::Form(vec![
                ("client_id", PUBLIC),
                ("client_secret", "cs_x"),
                ("scope", "storage:read"),
            ]),
            &["client_id", "client_secret", "scope"],
        ),
        Route {
            query: &[("user_code", "BCDF-GHJK")],
            ..get("/oauth2/device", Browser)
        },
        route(
            M::POST,
            "/oauth2/device",
            Browser,
            Payload::Form(vec![
                ("action", "login"),
                ("csrf_token", CSRF),
                ("user_code", "BCDF-GHJK"),
                ("login", "oauth_alice"),
                ("password", PASSWORD),
                ("mfa_code", "123456"),
            ]),
            &[
                "action",
                "csrf_token",
                "user_code",
                "login",
                "password",
                "mfa_code",
            ],
        ),
        route(
            M::POST,
            "/api/v1/auth/device/approve",
            Session,
            Payload::Json(json!({"user_code": "BCDF-GHJK", "approve": true})),
            &["/user_code"],
        ),
        route(
            M::POST,
            "/api/v1/auth/revoke",
            Session,
            Payload::Json(json!({"client_id": PUBLIC, "scopes": ["storage:read"]})),
            &["/client_id", "/scopes/0"],
        ),
        // Storage.
        Route {
            query: &[("prefix", "p"), ("limit", "10"), ("cursor", "c")],
            ..get("/api/v1/storage", Tep)
        },
        get("/api/v1/storage/{key}", Tep),
        route(
            M::PUT,
            "/api/v1/storage/{key}",
            Tep,
            Payload::Json(storage_value.clone()),
            &["/value", "/value_base64", "/content_type", "/metadata/note"],
        ),
        route(M::DELETE, "/api/v1/storage/{key}", Tep, Payload::None, &[]),
        get("/api/v1/storage/quota", Tep),
        route(
            M::POST,
            "/api/v1/storage/batch/get",
            Tep,
            Payload::Json(json!({"keys": ["k"]})),
            &["/keys/0"],
        ),
        route(
            M::POST,
            "/api/v1/storage/batch/set",
            Tep,
            Payload::Json(
                json!({"items": [{"key": "k", "value": "v", "value_base64": "dg==",
                "content_type": "text/plain", "ttl": 60, "metadata": {"note": "n"},
                "client_timestamp": 1}]}),
            ),
            &[
                "/items/0/key",
                "/items/0/value",
                "/items/0/value_base64",
                "/items/0/content_type",
                "/items/0/metadata/note",
            ],
        ),
        route(
            M::POST,
            "/api/v1/storage/batch/delete",
            Tep,
            Payload::Json(json!({"keys": ["k"]})),
            &["/keys/0"],
        ),
        route(
            M::POST,
            "/api/v1/storage/sync/push",
            Tep,
            Payload::Json(json!({"strategy": "manual", "operations": [{"op_id": "op1",
                "type": "set", "key": "k", "value": "v", "value_base64": "dg==",
                "content_type": "text/plain", "ttl": 60, "metadata": {"note": "n"},
                "client_timestamp": 1, "base_version": 0}]})),
            &[
                "/strategy",
                "/operations/0/op_id",
                "/operations/0/type",
                "/operations/0/key",
                "/operations/0/value",
                "/operations/0/value_base64",
                "/operations/0/content_type",
                "/operations/0/metadata/note",
            ],
        ),
        route(
            M::POST,
            "/api/v1/storage/sync/pull",
            Tep,
            Payload::Json(json!({"cursor": "c", "limit": 10})),
            &["/cursor"],
        ),
        get("/api/v1/storage/sync/status", Tep),
        Route {
            query: &[("status", "pending"), ("limit", "10"), ("cursor", "c")],
            ..get("/api/v1/storage/conflicts", Tep)
        },
        route(
            M::POST,
            "/api/v1/storage/conflicts/{id}/resolve",
            Tep,
            Payload::Json(
                json!({"resolution": "value", "value": "v", "value_base64": "dg==",
                "content_type": "text/plain", "ttl": 60, "metadata": {"note": "n"}}),
            ),
            &[
                "/resolution",
                "/value",
                "/value_base64",
                "/content_type",
                "/metadata/note",
            ],
        ),
        // Last: were one of these let through, it would end the session or the account the
        // probes use.
        route(M::POST, "/api/v1/auth/logout", Session, Payload::None, &[]),
        route(
            M::DELETE,
            "/api/v1/auth/sessions/{id}",
            Session,
            Payload::None,
            &[],
        ),
        route(
            M::DELETE,
            "/api/v1/users/me",
            Session,
            Payload::Json(json!({"password": PASSWORD})),
            &["/password"],
        ),
    ]
}

/// A plausible value for a path parameter.
fn path_value(name: &str) -> &'static str {
    match name {
        "key" => "k",
        "device_id" => "dev-1",
        _ => SOME_ID,
    }
}

fn path_params(template: &str) -> Vec<&str> {
    template
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// The template with every parameter filled, `poisoned` replaced by `raw` (already encoded).
fn fill(template: &str, poisoned: Option<(&str, &str)>) -> String {
    template
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => match poisoned {
                    Some((p, raw)) if p == name => raw.to_owned(),
                    _ => path_value(name).to_owned(),
                },
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// Stands for invalid UTF-8 in a JSON string: replaced by the byte 0xFF after serialising.
const BAD_BYTE_MARK: &str = "@@0xFF@@";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Poison {
    Nul,
    BadUtf8,
}

/// One request with one poisoned input.
struct Probe {
    uri: String,
    body: Option<(Vec<u8>, &'static str)>,
    what: String,
    /// `details.location` the envelope must name.
    location: &'static str,
}

fn query_string(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn form_body(pairs: &[(&str, &str)], poisoned: &str, poison: Poison) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| {
            let value = encode(&[(k, v)]);
            if *k != poisoned {
                return value;
            }
            match poison {
                Poison::Nul => encode(&[(k, &format!("{v}\0"))]),
                Poison::BadUtf8 => format!("{value}%FF"),
            }
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn json_body(base: &Value, pointer: &str, poison: Poison) -> Vec<u8> {
    let mut body = base.clone();
    let target = body
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} in {base}"));
    let text = target
        .as_str()
        .unwrap_or_else(|| panic!("{pointer} must be a string in {base}"))
        .to_owned();
    *target = Value::String(match poison {
        Poison::Nul => format!("{text}\0"),
        Poison::BadUtf8 => format!("{text}{BAD_BYTE_MARK}"),
    });
    let serialized = body.to_string();
    let mut bytes = serialized.into_bytes();
    if poison == Poison::BadUtf8 {
        let mark = BAD_BYTE_MARK.as_bytes();
        let at = bytes
            .windows(mark.len())
            .position(|w| w == mark)
            .expect("mark");
        bytes.splice(at..at + mark.len(), [0xFF]);
    }
    bytes
}

/// Every poisoned variant of a route's inputs (plus an undeclared query parameter: the rule
/// is the same for text a route does not read).
fn probes(route: &Route) -> Vec<Probe> {
    let mut out = Vec::new();
    let plain_query: Vec<(&str, String)> = route
        .query
        .iter()
        .map(|(k, v)| (*k, encode(&[("", v)])[1..].to_owned()))
        .collect();
    let base_uri = |path: String, query: &[(&str, String)]| {
        if query.is_empty() {
            path
        } else {
            format!("{path}?{}", query_string(query))
        }
    };
    let base_body = || match &route.payload {
        Payload::None => None,
        Payload::Json(v) => Some((v.to_string().into_bytes(), "application/json")),
        Payload::Form(pairs) => Some((
            encode(pairs).into_bytes(),
            "application/x-www-form-urlencoded",
        )),
    };
    for poison in [Poison::Nul, Poison::BadUtf8] {
        let (path_raw, query_raw) = match poison {
            Poison::Nul => ("%00x", "%00"),
            Poison::BadUtf8 => ("x%FF", "%FF"),
        };
        for name in path_params(route.path) {
            out.push(Probe {
                uri: base_uri(fill(route.path, Some((name, path_raw))), &plain_query),
                body: base_body(),
                what: format!("{poison:?} in path parameter {name}"),
                location: "path",
            });
        }
        let extra = [("unused", "")];
        for (name, value) in route.query.iter().chain(extra.iter()) {
            let mut query: Vec<(&str, String)> = plain_query
                .iter()
                .filter(|(k, _)| k != name)
                .cloned()
                .collect();
            query.push((
                name,
                format!("{}{query_raw}", encode(&[("", value)])[1..].to_owned()),
            ));
            out.push(Probe {
                uri: base_uri(fill(route.path, None), &query),
                body: base_body(),
                what: format!("{poison:?} in query parameter {name}"),
                location: "query",
            });
        }
        for field in route.fields {
            let body = match &route.payload {
                Payload::Json(base) => (json_body(base, field, poison), "application/json"),
                Payload::Form(pairs) => (
                    form_body(pairs, field, poison),
                    "application/x-www-form-urlencoded",
                ),
                Payload::None => panic!(
                    "{} {} lists fields but has no body",
                    route.method, route.path
                ),
            };
            out.push(Probe {
                uri: base_uri(fill(route.path, None), &plain_query),
                body: Some(body),
                what: format!("{poison:?} in body field {field}"),
                location: "body",
            });
        }
    }
    out
}

/// A TEP of the user for the public client with the storage scopes.
async fn tep(env: &Env) -> String {
    let request = TepMint {
        user_id: Some(env.user),
        client_id: PUBLIC.into(),
        scopes: ScopeSet::parse("storage:read storage:write").expect("scopes"),
        session_id: None,
        lifetime: Some(time::Duration::days(30)),
        user_context: None,
        miniapp_context: None,
    };
    env.state
        .tep
        .mint(env.state.db.as_ref(), env.fixture.clock.now(), request)
        .await
        .expect("minted")
        .token
}

/// What is wrong with the answer to a probe, if anything.
fn refusal_problem(reply: &Reply, route: &Route, probe: &Probe) -> Option<String> {
    let label = format!("{} {} ({})", route.method, probe.uri, probe.what);
    if reply.status != StatusCode::BAD_REQUEST {
        return Some(format!("{label}: {} {}", reply.status, reply.text()));
    }
    let body = reply.json();
    let shaped = if route.path.starts_with("/oauth2/") {
        body["error"] == "invalid_request"
            && body["error_description"].is_string()
            && reply.header("cache-control").as_deref() == Some("no-store")
    } else {
        body["error"]["code"] == "INVALID_REQUEST"
            && body["error"]["details"]["location"] == probe.location
            && body["error"]["request_id"].is_string()
    };
    (!shaped).then(|| format!("{label}: wrong shape {body}"))
}

async fn nul_and_invalid_utf8_are_refused_everywhere(mut env: Env) {
    env.state.settings.api_rate = LimitRule::per_minute("api_default", 1_000_000, 1_000_000);
    let tep = tep(&env).await;
    let mut sent = 0;
    let mut problems = Vec::new();
    for route in routes() {
        for probe in probes(&route) {
            let mut request = Request::builder()
                .method(route.method.clone())
                .uri(&probe.uri);
            match route.auth {
                Auth::Anonymous => {}
                Auth::Session => {
                    request = request.header("authorization", format!("Bearer {}", env.session));
                }
                Auth::Tep => request = request.header("authorization", format!("Bearer {tep}")),
                Auth::Browser => {
                    request = request.header(
                        "cookie",
                        format!("{}; tmcp_csrf={CSRF}", env.session_cookie()),
                    );
                }
            }
            let body = match probe.body.clone() {
                Some((bytes, content_type)) => {
                    request = request.header("content-type", content_type);
                    Body::from(bytes)
                }
                None => Body::empty(),
            };
            let reply = env.send(request.body(body).expect("request")).await;
            problems.extend(refusal_problem(&reply, &route, &probe));
            sent += 1;
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {sent} probes were not refused properly:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(sent > 300, "only {sent} probes");
}

/// `client_secret_basic` credentials are form-encoded text inside base64; the OAuth
/// endpoints decode them, so NUL there is refused too (401 `invalid_client`, as for any
/// undecodable credentials), never a 500.
async fn nul_in_basic_credentials_is_an_invalid_client(env: Env) {
    for path in [
        "/oauth2/token",
        "/oauth2/revoke",
        "/oauth2/introspect",
        "/oauth2/device/authorization",
    ] {
        for credentials in ["ma_oauth%00backend:secret", "ma_oauth\0backend:secret"] {
            let basic = format!("Basic {}", STANDARD.encode(credentials));
            let reply = env
                .form(
                    path,
                    &[("grant_type", "client_credentials"), ("token", "rt_x")],
                    &[],
                    &[("authorization", &basic)],
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{path} {credentials:?}: {}",
                reply.text()
            );
            assert_eq!(reply.json()["error"], "invalid_client", "{path}");
        }
    }
}

/// Header values cannot carry NUL at all; non-ASCII bytes in the user agent are dropped
/// rather than stored lossily.
async fn odd_user_agents_do_not_break_login(env: Env) {
    let request = Request::post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .header(
            "user-agent",
            HeaderValue::from_bytes(b"agent \xff\xfe").expect("obs-text is a valid header"),
        )
        .body(Body::from(
            json!({"login": "oauth_alice", "password": PASSWORD}).to_string(),
        ))
        .expect("request");
    let reply = env.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(HeaderValue::from_bytes(b"a\0b").is_err());
}

/// Ordinary text — non-ASCII, percent signs in JSON, escaped backslashes — still passes.
async fn clean_text_still_passes(mut env: Env) {
    env.state.settings.api_rate = LimitRule::per_minute("api_default", 1_000_000, 1_000_000);
    let tep = tep(&env).await;
    let request = Request::put("/api/v1/storage/caf%C3%A9")
        .header("authorization", format!("Bearer {tep}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"value":"100%00 \\u0000 \u00e9 ünïcode"}"#))
        .expect("request");
    let reply = env.send(request).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let read = Request::get("/api/v1/storage/caf%C3%A9")
        .header("authorization", format!("Bearer {tep}"))
        .body(Body::empty())
        .expect("request");
    let read = env.send(read).await;
    assert_eq!(read.json()["value"], "100%00 \\u0000 é ünïcode");
    let list = Request::get("/api/v1/storage?prefix=caf%C3%A9")
        .header("authorization", format!("Bearer {tep}"))
        .body(Body::empty())
        .expect("request");
    let list = env.send(list).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    assert_eq!(list.json()["items"][0]["key"], "café", "{}", list.text());
}

macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::Env::new(tmcp_contract_tests::engines::sqlite().await).await).await; })+
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::Env::new(tmcp_contract_tests::engines::postgres().await).await).await; })+
        }
    };
}

on_both_engines!(
    nul_and_invalid_utf8_are_refused_everywhere,
    nul_in_basic_credentials_is_an_invalid_client,
    odd_user_agents_do_not_break_login,
    clean_text_still_passes,
);

// ---------------------------------------------------------------------------------------
// The table against the OpenAPI document
// ---------------------------------------------------------------------------------------

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn is_numeric_or_bool(schema: &Value) -> bool {
    let kinds: Vec<&str> = match &schema["type"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => return false,
    };
    !kinds.is_empty()
        && kinds
            .iter()
            .all(|k| matches!(*k, "integer" | "number" | "boolean" | "null"))
}

/// Names of the properties that can hold text, at any depth.
fn text_properties(doc: &Value, schema: &Value, out: &mut BTreeSet<String>) {
    let schema = resolve(doc, schema);
    if let Some(props) = schema["properties"].as_object() {
        for (name, sub) in props {
            if !is_numeric_or_bool(resolve(doc, sub)) {
                out.insert(name.clone());
            }
            text_properties(doc, sub, out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if schema[key].is_object() {
            text_properties(doc, &schema[key], out);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for sub in schema[key].as_array().into_iter().flatten() {
            text_properties(doc, sub, out);
        }
    }
}

#[test]
fn the_table_covers_every_documented_route_and_text_field() {
    use utoipa::OpenApi;
    let doc = serde_json::to_value(tmcp_http::openapi::ApiDoc::openapi()).expect("json");
    let table = routes();
    let mut problems = Vec::new();
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let Some(route) = table
                .iter()
                .find(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method))
            else {
                problems.push(format!("{method} {path}: not in the table"));
                continue;
            };
            for param in operation["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap_or_default();
                let listed = match param["in"].as_str() {
                    Some("query") => route.query.iter().any(|(q, _)| *q == name),
                    Some("path") => path_params(route.path).contains(&name),
                    _ => true,
                };
                if !listed {
                    problems.push(format!("{method} {path}: parameter {name} not probed"));
                }
            }
            let mut documented = BTreeSet::new();
            if let Some(content) = operation["requestBody"]["content"].as_object() {
                for media in content.values() {
                    text_properties(&doc, &media["schema"], &mut documented);
                }
            }
            for name in documented {
                let probed = route
                    .fields
                    .iter()
                    .any(|f| f.trim_start_matches('/').split('/').any(|s| s == name));
                if !probed {
                    problems.push(format!("{method} {path}: body field {name} not probed"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
