//! Shared setup of the HTTP tests: `Env`, a state over either engine with an account, a live
//! session, a public and a confidential client, and helpers to drive the pages and forms;
//! `seed` for users, clients and TEPs made directly; `on_both_engines!` to run each
//! scenario on SQLite and PostgreSQL.
#![allow(dead_code)]

mod engines;
pub mod package_objects;
pub mod seed;

pub(crate) use engines::on_both_engines;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http_body_util::BodyExt;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tmcp_contract_tests::Fixture;
use tmcp_domain::oauth::client_secret_hash;
use tmcp_domain::{Clock, UserId};
use tmcp_http::AppState;
use tmcp_repository::OAuthClient;
use tower::ServiceExt;

pub const PUBLIC: &str = "ma_oauth_public";
pub const BACKEND: &str = "ma_oauth_backend";
pub const REDIRECT: &str = "https://app.example/cb";
pub const PASSWORD: &str = "correct horse battery staple";
pub const ALL_GRANTS: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:device_code",
];

pub struct Env {
    pub fixture: Fixture,
    pub state: AppState,
    pub user: UserId,
    pub username: String,
    /// A live session token of the user (from the login API).
    pub session: String,
    pub backend_secret: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// `name=value` pairs of the answer's `Set-Cookie` headers.
    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(str::to_owned)
            .collect()
    }

    /// The hidden CSRF field of a page.
    pub fn csrf(&self) -> Option<String> {
        let text = self.text();
        let marker = "name=\"csrf_token\" value=\"";
        let start = text.find(marker)? + marker.len();
        let end = text[start..].find('"')?;
        Some(text[start..start + end].to_owned())
    }

    pub fn location(&self) -> String {
        self.header("location").unwrap_or_default()
    }
}

/// Sends `request` through a fresh router over `state`: the status, headers and whole body.
pub async fn call_router(
    state: &AppState,
    request: Request<Body>,
) -> (StatusCode, HeaderMap, Bytes) {
    let response = tmcp_http::router(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, headers, body)
}

/// The `code` of an error envelope (`{"error": {"code": …}}`), or "" if there is none.
pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// GET of the protected no-op route with a TEP, on the given instance.
pub async fn protected_on(app: &Router, token: &str) -> StatusCode {
    let request = Request::get("/bench/tep")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    app.clone()
        .oneshot(request)
        .await
        .expect("response")
        .status()
}

pub fn pkce() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let found = parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    found
}

pub fn encode(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

impl Env {
    pub async fn new(fixture: Fixture) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(fixture.clock.clone());
        let mut state = tmcp_http::testing::state(Arc::clone(&fixture.db), clock).await;
        std::sync::Arc::make_mut(&mut state.settings).bench_routes = true;
        let now = fixture.clock.now();
        for (client_id, name, secret, scopes, grants) in [
            (
                PUBLIC,
                "Public Test App",
                None,
                "storage:read storage:write user:read wallet:balance",
                ALL_GRANTS.to_vec(),
            ),
            (
                BACKEND,
                "Backend Test App",
                Some("cs_backend_secret_for_tests_only_0123456789abcdef"),
                "storage:read user:read webhook:send",
                [ALL_GRANTS, &["client_credentials"]].concat(),
            ),
        ] {
            fixture
                .db
                .create_client(OAuthClient {
                    client_id: client_id.into(),
                    client_secret_hash: secret.map(client_secret_hash),
                    app_id: Some(client_id.into()),
                    name: name.into(),
                    redirect_uris: vec![REDIRECT.into()],
                    grant_types: grants.iter().map(|g| (*g).to_owned()).collect(),
                    scopes: scopes.split(' ').map(str::to_owned).collect(),
                    is_official: false,
                    is_active: true,
                    created_at: now,
                })
                .await
                .expect("client");
        }
        let mut env = Self {
            fixture,
            state,
            user: UserId(uuid::Uuid::nil()),
            username: "oauth_alice".into(),
            session: String::new(),
            backend_secret: "cs_backend_secret_for_tests_only_0123456789abcdef".into(),
        };
        let registered = env
            .json(
                "/api/v1/auth/register",
                json!({"username": "oauth_alice", "email": "alice@example.com", "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(
            registered.status,
            StatusCode::CREATED,
            "{}",
            registered.text()
        );
        env.user = UserId(
            uuid::Uuid::parse_str(registered.json()["id"].as_str().unwrap_or("")).expect("user id"),
        );
        env.session = env.login().await;
        env
    }

    /// Logs in through the API; returns the session token.
    pub async fn login(&self) -> String {
        let login = self
            .json(
                "/api/v1/auth/login",
                json!({"login": "oauth_alice", "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text());
        login.json()["session_token"]
            .as_str()
            .expect("session token")
            .to_owned()
    }

    pub fn app(&self) -> Router {
        tmcp_http::router(self.state.clone())
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let (status, headers, body) = call_router(&self.state, request).await;
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn json(&self, path: &str, body: Value, bearer: Option<&str>) -> Reply {
        let mut request = Request::post(path).header("content-type", "application/json");
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(Body::from(body.to_string())).expect("request"))
            .await
    }

    /// POSTs a form with optional cookies and extra headers.
    pub async fn form(
        &self,
        path: &str,
        pairs: &[(&str, &str)],
        cookies: &[String],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request =
            Request::post(path).header("content-type", "application/x-www-form-urlencoded");
        if !cookies.is_empty() {
            request = request.header("cookie", cookies.join("; "));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::from(encode(pairs))).expect("request"))
            .await
    }

    pub async fn get(&self, path: &str, cookies: &[String]) -> Reply {
        let mut request = Request::get(path);
        if !cookies.is_empty() {
            request = request.header("cookie", cookies.join("; "));
        }
        self.send(request.body(Body::empty()).expect("request"))
            .await
    }

    pub async fn token(&self, pairs: &[(&str, &str)]) -> Reply {
        self.form("/oauth2/token", pairs, &[], &[]).await
    }

    /// A form POST without cookies (revocation, introspection, device authorization).
    pub async fn token_like(&self, path: &str, pairs: &[(&str, &str)]) -> Reply {
        self.form(path, pairs, &[], &[]).await
    }

    /// GET of the protected no-op route with a TEP.
    pub async fn protected(&self, token: &str) -> StatusCode {
        let request = Request::get("/bench/tep")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        self.send(request).await.status
    }

    pub fn session_cookie(&self) -> String {
        format!("tmcp_session={}", self.session)
    }

    pub fn authorize_path(
        &self,
        client: &str,
        scope: &str,
        state: &str,
        challenge: &str,
    ) -> String {
        format!(
            "/oauth2/authorize?{}",
            encode(&[
                ("response_type", "code"),
                ("client_id", client),
                ("redirect_uri", REDIRECT),
                ("scope", scope),
                ("state", state),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ])
        )
    }

    /// The consent step with the session cookie: returns the redirect to the client.
    pub async fn approve(&self, client: &str, scope: &str, state: &str, challenge: &str) -> String {
        let page = self
            .get(
                &self.authorize_path(client, scope, state, challenge),
                &[self.session_cookie()],
            )
            .await;
        if page.status == StatusCode::SEE_OTHER {
            // Nothing left to approve: the code comes at once.
            return page.location();
        }
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let csrf = page.csrf().expect("csrf field");
        let mut cookies = page.cookies();
        cookies.push(self.session_cookie());
        let decision = self
            .form(
                "/oauth2/authorize",
                &[
                    ("action", "approve"),
                    ("csrf_token", &csrf),
                    ("response_type", "code"),
                    ("client_id", client),
                    ("redirect_uri", REDIRECT),
                    ("scope", scope),
                    ("state", state),
                    ("code_challenge", challenge),
                    ("code_challenge_method", "S256"),
                ],
                &cookies,
                &[],
            )
            .await;
        assert_eq!(
            decision.status,
            StatusCode::SEE_OTHER,
            "{}",
            decision.text()
        );
        decision.location()
    }

    /// A code for the public client (PKCE), through the consent page.
    pub async fn code(&self, scope: &str) -> (String, String) {
        let (verifier, challenge) = pkce();
        let location = self.approve(PUBLIC, scope, "st4te", &challenge).await;
        assert!(location.starts_with(REDIRECT), "{location}");
        assert_eq!(query_param(&location, "state").as_deref(), Some("st4te"));
        (query_param(&location, "code").expect("code"), verifier)
    }

    /// Code + PKCE exchanged for tokens.
    pub async fn tokens(&self, scope: &str) -> Value {
        let (code, verifier) = self.code(scope).await;
        let reply = self
            .token(&[
                ("grant_type", "authorization_code"),
                ("client_id", PUBLIC),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()
    }

    pub async fn exchange(&self, client: &str, scope: &str) -> Reply {
        self.token(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("client_id", client),
            ("subject_token", &self.session),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("scope", scope),
        ])
        .await
    }

    /// Serves the app on a real loopback listener whose address is the issuer. The test
    /// clock starts at the real time (see `tmcp_contract_tests::START`), so outside verifiers
    /// with their own clocks agree on token times without moving the injected clock.
    pub async fn serve(&mut self) -> (String, tokio::task::JoinHandle<()>) {
        let now = self.fixture.clock.now();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let addr = listener.local_addr().expect("address");
        let base = format!("http://{addr}");
        let ring = tmcp_http::auth::keys::load_key_ring(
            self.state.db.as_ref(),
            &self.state.cipher,
            jsonwebtoken::Algorithm::RS256,
            now,
        )
        .await
        .expect("key ring");
        self.state.tep = Arc::new(tmcp_http::auth::TepService::new(
            ring,
            tmcp_http::auth::TepSettings {
                issuer: base.clone(),
                ..tmcp_http::auth::TepSettings::default()
            },
        ));
        let app = self.app();
        // The same connection handling as the binary.
        let task = tokio::spawn(tmcp_http::transport::serve(
            listener,
            app,
            tmcp_http::transport::ConnectionLimits::default(),
            std::future::pending(),
        ));
        (base, task)
    }

    /// Another server instance on the same database and signing keys: its own TEP caches,
    /// with the given liveness cache time.
    pub async fn other_instance(&self, liveness_cache: std::time::Duration) -> Router {
        let ring = tmcp_http::auth::keys::load_key_ring(
            self.state.db.as_ref(),
            &self.state.cipher,
            jsonwebtoken::Algorithm::RS256,
            self.fixture.clock.now(),
        )
        .await
        .expect("key ring");
        let mut state = self.state.clone();
        state.tep = Arc::new(tmcp_http::auth::TepService::new(
            ring,
            tmcp_http::auth::TepSettings {
                issuer: self.state.tep.settings().issuer.clone(),
                liveness_cache,
                ..tmcp_http::auth::TepSettings::default()
            },
        ));
        tmcp_http::router(state)
    }

    /// Moves the injected clock past the 1 s liveness cache and into the next second.
    pub fn tick(&self) {
        self.fixture.clock.advance(time::Duration::seconds(3));
    }
}
