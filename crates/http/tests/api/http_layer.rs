//! The cross-cutting behaviour every route shares: error envelope, request ids, limits,
//! timeouts, panics, readiness, metrics and the OpenAPI document.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tmcp_domain::SystemClock;
use tmcp_http::extract::ApiJson;
use tmcp_http::{AppState, HttpSettings};
use tmcp_sqlite::SqliteDatabase;
use tower::ServiceExt;

struct TestApp {
    state: AppState,
    sqlite: SqliteDatabase,
    _dir: tempfile::TempDir,
}

async fn test_app(settings: HttpSettings) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("http.db");
    let sqlite = SqliteDatabase::connect(&path.to_string_lossy())
        .await
        .expect("sqlite");
    let mut state =
        tmcp_http::testing::state(Arc::new(sqlite.clone()), Arc::new(SystemClock)).await;
    state.settings = std::sync::Arc::new(settings);
    TestApp {
        state,
        sqlite,
        _dir: dir,
    }
}

#[derive(serde::Deserialize)]
struct Echo {
    #[allow(dead_code)]
    name: String,
}

/// The real layers around a few routes that exercise them.
fn exercising_router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/echo", post(|ApiJson(_): ApiJson<Echo>| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/panic",
            get(|| async {
                if std::env::var("NEVER_SET_TMCP").is_err() {
                    panic!("secret internal detail");
                }
                "unreachable"
            }),
        );
    tmcp_http::with_layers(routes, state)
}

async fn send(
    router: Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn get_req(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

fn json_post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .expect("request")
}

/// Asserts the envelope shape and that its request id matches the header.
fn envelope(status: StatusCode, headers: &axum::http::HeaderMap, body: &[u8], code: &str) -> Value {
    let json: Value = serde_json::from_slice(body).unwrap_or_else(|_| {
        panic!(
            "{status}: body is not JSON: {}",
            String::from_utf8_lossy(body)
        )
    });
    let error = &json["error"];
    assert_eq!(error["code"], code, "{json}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(error["details"].is_object());
    assert!(error["timestamp"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    let header_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("request id header");
    assert_eq!(error["request_id"], header_id);
    json
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_with_the_envelope() {
    let app = test_app(HttpSettings::default()).await;
    let (status, headers, body) =
        send(tmcp_http::router(app.state.clone()), get_req("/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    envelope(status, &headers, &body, "NOT_FOUND");

    let request = Request::delete("/health")
        .body(Body::empty())
        .expect("request");
    let (status, headers, body) = send(tmcp_http::router(app.state), request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    envelope(status, &headers, &body, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn bad_json_wrong_shape_and_oversized_bodies_are_client_errors() {
    let settings = HttpSettings {
        body_limit_bytes: 1024,
        ..HttpSettings::default()
    };
    let app = test_app(settings).await;
    let router = exercising_router(app.state.clone());

    let (status, headers, body) = send(router.clone(), json_post("/echo", "{not json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    envelope(status, &headers, &body, "INVALID_REQUEST");

    let (status, headers, body) = send(router.clone(), json_post("/echo", r#"{"name": 7}"#)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let json = envelope(status, &headers, &body, "VALIDATION_FAILED");
    assert!(json["error"]["details"]["fields"].is_object());

    let missing_type = Request::post("/echo")
        .body(Body::from(r#"{"name":"x"}"#))
        .expect("request");
    let (status, headers, body) = send(router.clone(), missing_type).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    envelope(status, &headers, &body, "INVALID_REQUEST");

    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(2048));
    let (status, headers, body) = send(router.clone(), json_post("/echo", big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    envelope(status, &headers, &body, "PAYLOAD_TOO_LARGE");

    let (status, _, body) = send(router, json_post("/echo", r#"{"name":"ok"}"#)).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"ok"[..]));
}

#[tokio::test]
async fn panics_and_timeouts_never_leak_details() {
    let settings = HttpSettings {
        request_timeout: Duration::from_millis(100),
        ..HttpSettings::default()
    };
    let app = test_app(settings).await;
    let router = exercising_router(app.state.clone());

    let (status, headers, body) = send(router.clone(), get_req("/panic")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    envelope(status, &headers, &body, "INTERNAL_ERROR");
    assert!(!String::from_utf8_lossy(&body).contains("secret internal detail"));

    let (status, headers, body) = send(router, get_req("/slow")).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    envelope(status, &headers, &body, "REQUEST_TIMEOUT");
}

#[tokio::test]
async fn request_ids_are_kept_when_tame_and_replaced_otherwise() {
    let app = test_app(HttpSettings::default()).await;
    let router = tmcp_http::router(app.state.clone());
    let tame = Request::get("/nope")
        .header("x-request-id", "client-id-42")
        .body(Body::empty())
        .expect("req");
    let (_, headers, body) = send(router.clone(), tame).await;
    assert_eq!(headers["x-request-id"], "client-id-42");
    let json: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(json["error"]["request_id"], "client-id-42");

    let hostile = Request::get("/health")
        .header("x-request-id", "a b<script>")
        .body(Body::empty())
        .expect("req");
    let (_, headers, _) = send(router, hostile).await;
    let id = headers["x-request-id"].to_str().expect("ascii");
    assert!(id.starts_with("req_") && id.len() == 36, "{id}");
}

#[tokio::test]
async fn readiness_follows_the_database() {
    let app = test_app(HttpSettings::default()).await;
    let (status, _, body) = send(tmcp_http::router(app.state.clone()), get_req("/ready")).await;
    assert_eq!(status, StatusCode::OK);
    let json: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"status": "ready", "database": "sqlite", "redis": "not_configured", "replica": "not_configured"})
    );

    app.sqlite.close().await;
    let (status, headers, body) =
        send(tmcp_http::router(app.state.clone()), get_req("/ready")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let json = envelope(status, &headers, &body, "SERVICE_UNAVAILABLE");
    assert_eq!(json["error"]["details"]["dependency"], "database");
    assert!(
        headers.contains_key("retry-after"),
        "clients are told when to retry"
    );

    let (status, _, _) = send(tmcp_http::router(app.state), get_req("/health")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "liveness does not depend on the database"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = test_app(HttpSettings::default()).await;
    let router = tmcp_http::router(app.state.clone());
    send(router.clone(), get_req("/health")).await;
    send(router.clone(), get_req("/definitely/not/a/route/123")).await;
    let (status, headers, body) = send(router, get_req("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain"));
    let text = String::from_utf8(body).expect("utf-8");
    assert!(
        text.contains(r#"tmcp_http_requests_total{route="/health",method="GET",status="200"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="unmatched""#),
        "raw paths never become labels"
    );
    assert!(
        !text.contains("/definitely/not"),
        "raw paths never become labels"
    );
    assert!(text.contains("tmcp_http_request_duration_seconds_bucket"));
    assert!(text.contains("tmcp_db_pool_connections"));
}

#[tokio::test]
async fn openapi_document_and_docs_page_are_served_locally() {
    let app = test_app(HttpSettings::default()).await;
    let router = tmcp_http::router(app.state.clone());
    let (status, _, body) = send(router.clone(), get_req("/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_slice(&body).expect("json");
    assert!(doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1")));
    for path in ["/health", "/ready", "/metrics"] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["components"]["schemas"]["ErrorEnvelope"].is_object());

    let (status, _, body) = send(router.clone(), get_req("/docs/")).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(body).expect("utf-8");
    assert!(html.contains("swagger-ui"), "docs page served");
    for cdn in ["unpkg.com", "jsdelivr", "cdnjs", "googleapis"] {
        assert!(!html.contains(cdn), "no CDN assets ({cdn})");
    }
    let (status, _, _) = send(router, get_req("/docs/swagger-ui-bundle.js")).await;
    assert_eq!(status, StatusCode::OK, "assets come from the binary");
}

#[tokio::test]
async fn bench_routes_exist_only_when_enabled() {
    let app = test_app(HttpSettings::default()).await;
    for path in ["/bench/raw", "/bench/noop", "/bench/select1"] {
        let (status, _, _) = send(tmcp_http::router(app.state.clone()), get_req(path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path} is off by default");
    }
    let enabled = test_app(HttpSettings {
        bench_routes: true,
        ..HttpSettings::default()
    })
    .await;
    for path in ["/bench/raw", "/bench/noop", "/bench/select1"] {
        let (status, _, _) = send(tmcp_http::router(enabled.state.clone()), get_req(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (status, headers, _) = send(
        tmcp_http::router(enabled.state.clone()),
        get_req("/bench/raw"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers.get("x-request-id").is_none(),
        "the raw baseline bypasses every layer"
    );
    let (status, _, _) = send(tmcp_http::router(enabled.state), get_req("/bench/tep")).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the TEP baseline really checks tokens"
    );
}

#[tokio::test]
async fn api_routes_carry_the_default_rate_limit() {
    let app = test_app(HttpSettings::default()).await;
    let router = tmcp_http::router(app.state.clone());
    let (status, headers, _) = send(router.clone(), get_req("/api/v1/users/me")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["x-ratelimit-limit"], "300");
    assert_eq!(headers["x-ratelimit-remaining"], "299");
    assert!(headers.contains_key("x-ratelimit-reset"));
    let (_, headers, _) = send(router.clone(), get_req("/health")).await;
    assert!(
        !headers.contains_key("x-ratelimit-limit"),
        "operational routes are not limited"
    );
    // The bucket refills one request every 200 ms, so a slow run may see a few extra.
    let mut answered = 1;
    let (status, headers, body) = loop {
        let reply = send(router.clone(), get_req("/api/v1/users/me")).await;
        if reply.0 == StatusCode::TOO_MANY_REQUESTS || answered > 400 {
            break reply;
        }
        answered += 1;
    };
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(answered >= 300, "the first 300 requests pass ({answered})");
    assert!(headers.contains_key("retry-after"));
    let json = envelope(status, &headers, &body, "RATE_LIMIT_EXCEEDED");
    assert_eq!(json["error"]["details"]["limit"], 300);
}
