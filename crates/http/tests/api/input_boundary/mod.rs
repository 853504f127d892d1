//! Request text at the boundary, on SQLite and PostgreSQL: a NUL character or invalid UTF-8
//! in any text a route takes (path parameter, query parameter, JSON or form field) answers
//! 400 in the route's error shape — the envelope, or RFC 6749 JSON on `/oauth2/*` — and
//! never reaches SQL (PostgreSQL refuses NUL in text with a driver error, which used to be a
//! 500). The table below lists every route and its text inputs; a test checks it against the
//! OpenAPI document, so a new route or field cannot be forgotten here.

mod coverage;
mod refusals;
mod table;

use table::routes;

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tmcp_domain::Clock;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    Anonymous,
    /// `Authorization: Bearer <session token>`.
    Session,
    /// `Authorization: Bearer <TEP>` with the storage scopes.
    Tep,
    /// The OAuth pages: session and CSRF cookies, and the CSRF field in forms.
    Browser,
    /// `Authorization: Bearer <session token>` of a developer who owns [`PROBE_APP`].
    Developer,
}

/// The app of the developer the table's developer routes act for.
const PROBE_APP: &str = "ma_probe";
const MULTIPART_BOUNDARY: &str = "probe-boundary-41d2";

enum Payload {
    None,
    Json(Value),
    Form(Vec<(&'static str, &'static str)>),
    /// `multipart/form-data`: these text parts, then a binary `package` part.
    Multipart(Vec<(&'static str, &'static str)>),
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

/// A plausible value for a path parameter.
fn path_value(name: &str) -> &'static str {
    match name {
        "key" => "k",
        "device_id" => "dev-1",
        "app_id" | "miniapp_id" => PROBE_APP,
        "version" => "1.0.0",
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

fn multipart_content_type() -> &'static str {
    "multipart/form-data; boundary=probe-boundary-41d2"
}

/// The text parts (one poisoned, if named) and a binary package part holding NUL and 0xFF,
/// which is not text and must pass.
fn multipart_body(pairs: &[(&str, &str)], poisoned: Option<&str>, poison: Poison) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in pairs {
        body.extend_from_slice(
            format!(
                "--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}"
            )
            .as_bytes(),
        );
        if poisoned == Some(*name) {
            body.push(match poison {
                Poison::Nul => 0,
                Poison::BadUtf8 => 0xFF,
            });
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(
        format!(
            "--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name=\"package\"; \
             filename=\"p.pkg\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(b"pkg\0\xFFbytes\r\n");
    body.extend_from_slice(format!("--{MULTIPART_BOUNDARY}--\r\n").as_bytes());
    body
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
        Payload::Multipart(pairs) => Some((
            multipart_body(pairs, None, Poison::Nul),
            multipart_content_type(),
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
                Payload::Multipart(pairs) => (
                    multipart_body(pairs, Some(field), poison),
                    multipart_content_type(),
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
    let (now, lifetime) = (env.fixture.clock.now(), Some(time::Duration::days(30)));
    let scopes = "storage:read storage:write";
    seed::tep(&env.state, now, Some(env.user), PUBLIC, scopes, lifetime).await
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
