//! Every answer the server gives is in its OpenAPI document: each documented operation is
//! called without credentials, with credentials and a body that is not JSON, and with
//! credentials and an empty body of the documented type; the status must be documented for
//! that operation, with the content type the answer has. (The schemathesis run of
//! `scripts/fuzz-api.sh` goes much further; this keeps the basics in the test suite.)

use crate::support::on_both_engines;
use crate::support::{Env, Reply, PUBLIC};
use axum::body::Body;
use axum::http::{header, Request};
use serde_json::Value;
use tmcp_http::ratelimit::LimitRule;
use utoipa::OpenApi;

/// The operations of the document as (method, path template, operation), logout last: it
/// ends the session the others use.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            found.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    found.sort_by_key(|(_, path, _)| path == "/api/v1/auth/logout");
    found
}

fn concrete(path: &str) -> String {
    path.replace("{key}", "k")
        .replace("{device_id}", "dev1")
        .replace("{id}", "00000000-0000-0000-0000-000000000000")
        .replace("{app_id}", "ma_conformance")
        .replace("{version}", "1.0.0")
}

fn security(operation: &Value) -> Option<String> {
    operation["security"]
        .as_array()?
        .iter()
        .find_map(|r| r.as_object()?.keys().next().cloned())
}

/// The documented response for `status`, `$ref`s resolved.
fn documented<'a>(doc: &'a Value, operation: &'a Value, status: u16) -> Option<&'a Value> {
    let response = operation["responses"]
        .get(status.to_string())
        .or_else(|| operation["responses"].get("default"))?;
    match response["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next()?;
            doc["components"]["responses"].get(name)
        }
        None => Some(response),
    }
}

/// Why `reply` does not conform to the document, if it does not.
fn nonconformity(doc: &Value, operation: &Value, reply: &Reply) -> Option<String> {
    let status = reply.status.as_u16();
    let Some(response) = documented(doc, operation, status) else {
        return Some(format!(
            "status {status} is not documented ({})",
            reply.text()
        ));
    };
    if reply.body.is_empty() || reply.status.is_redirection() {
        return None;
    }
    let media = reply.header("content-type").unwrap_or_default();
    let media = media.split(';').next().unwrap_or_default().trim();
    let content = response["content"].as_object();
    if content.is_some_and(|c| c.contains_key(media)) {
        None
    } else {
        Some(format!("{status} answers {media}, documented {content:?}"))
    }
}

async fn call(
    env: &Env,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &str)>,
) -> Reply {
    let mut request = Request::builder()
        .method(method.to_ascii_uppercase().as_str())
        .uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some((content_type, text)) => {
            request = request.header(header::CONTENT_TYPE, content_type);
            Body::from(text.to_owned())
        }
        None => Body::empty(),
    };
    env.send(request.body(body).expect("request")).await
}

async fn every_answer_is_documented(mut env: Env) {
    // Generous limits, so the calls reach the handlers (429 is documented all the same).
    std::sync::Arc::make_mut(&mut env.state.settings)
        .storage
        .rate = LimitRule::per_minute("storage", 100_000, 100_000);
    std::sync::Arc::make_mut(&mut env.state.settings)
        .storage
        .batch_rate = LimitRule::per_minute("batch", 100_000, 100_000);
    let exchanged = env.exchange(PUBLIC, "storage:read storage:write").await;
    let tep = exchanged.json()["access_token"]
        .as_str()
        .expect("a TEP")
        .to_owned();
    let doc = serde_json::to_value(tmcp_http::openapi::ApiDoc::openapi()).expect("json");
    let mut failures = Vec::new();
    for (method, template, operation) in operations(&doc) {
        let path = concrete(&template);
        let token = match security(&operation).as_deref() {
            Some("tep") => Some(tep.as_str()),
            Some(_) => Some(env.session.as_str()),
            None => None,
        };
        let body_type = operation["requestBody"]["content"]
            .as_object()
            .and_then(|c| c.keys().next().cloned());
        let mut replies = vec![call(&env, &method, &path, None, None).await];
        match body_type.as_deref() {
            Some(media) => {
                let empty = if media == "application/json" {
                    "{}"
                } else {
                    ""
                };
                replies.push(
                    call(
                        &env,
                        &method,
                        &path,
                        token,
                        Some(("text/plain", "not json")),
                    )
                    .await,
                );
                replies.push(call(&env, &method, &path, token, Some((media, empty))).await);
            }
            None => replies.push(call(&env, &method, &path, token, None).await),
        }
        for reply in &replies {
            if let Some(why) = nonconformity(&doc, &operation, reply) {
                failures.push(format!("{method} {template}: {why}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

on_both_engines!(
    setup = Env::new,
    runtime = (flavor = "current_thread");
every_answer_is_documented);
