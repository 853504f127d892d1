//! The store's registry over HTTP on both engines: registration (atomic, secrets once),
//! the review workflow and its roles, cross-tenant refusals, installs (mandatory apps,
//! uninstall wiping storage and killing TEPs), reviews, categories, the summary and
//! capabilities.

mod registry;
mod users;

use crate::support::{Env, Reply, PASSWORD};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use tmcp_contract_tests::Fixture;
use tmcp_domain::store::VersionStatus;
use tmcp_domain::user::Role;
use tmcp_domain::Clock;
use tmcp_repository::StoredVersion;
use tmcp_usecases::accounts::{create_account, NewAccount};

/// Alice (a plain user, from `Env`), two developers and an admin, each with a session.
pub struct Store {
    pub env: Env,
    pub dev: String,
    pub other_dev: String,
    pub admin: String,
}

pub async fn setup(fixture: Fixture) -> Store {
    let env = Env::new(fixture).await;
    let mut tokens = Vec::new();
    for (name, role) in [
        ("dev_dana", Role::Developer),
        ("dev_omar", Role::Developer),
        ("root_rita", Role::Admin),
    ] {
        create_account(
            env.state.account_ports(),
            NewAccount {
                username: name.into(),
                email: format!("{name}@example.com"),
                password: PASSWORD.into(),
                first_name: None,
                last_name: None,
                phone: None,
                role,
            },
        )
        .await
        .expect("account");
        let login = env
            .json(
                "/api/v1/auth/login",
                json!({"login": name, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text());
        tokens.push(
            login.json()["session_token"]
                .as_str()
                .expect("token")
                .to_owned(),
        );
    }
    let admin = tokens.pop().expect("admin");
    let other_dev = tokens.pop().expect("other");
    let dev = tokens.pop().expect("dev");
    Store {
        env,
        dev,
        other_dev,
        admin,
    }
}

impl Store {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.env.send(request.body(body).expect("request")).await
    }

    /// Registers an app as `dev` and returns the registration answer.
    pub async fn register(&self, name: &str, client_type: &str) -> Value {
        let reply = self
            .call(
                Method::POST,
                "/mini-apps/v1/register",
                &self.dev,
                Some(registration(name, client_type)),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()
    }

    /// Stores an uploaded version row directly (package uploads have their own tests).
    pub async fn uploaded(&self, app_id: &str, version: &str) {
        let now = self.env.fixture.clock.now();
        self.env
            .state
            .db
            .put_version(StoredVersion {
                id: tmcp_domain::ids::uuid_v7_at(now),
                app_id: app_id.into(),
                version: version.into(),
                release_notes: Some(format!("release {version}")),
                download_url: None,
                package_size: Some(3),
                checksum: Some("00".repeat(32)),
                object_key: Some(format!("apps/{app_id}/{version}.pkg")),
                min_os_version: None,
                status: VersionStatus::Pending,
                submitted_at: None,
                created_at: now,
            })
            .await
            .expect("version");
    }

    /// Registers, uploads 1.0.0, submits and approves: an active app's id.
    pub async fn published(&self, name: &str) -> String {
        let app_id = self.register(name, "public").await["miniapp_id"]
            .as_str()
            .expect("id")
            .to_owned();
        self.uploaded(&app_id, "1.0.0").await;
        let submitted = self
            .call(
                Method::POST,
                &format!("/api/v1/developer/apps/{app_id}/submit"),
                &self.dev,
                Some(json!({"version": "1.0.0"})),
            )
            .await;
        assert_eq!(submitted.status, StatusCode::OK, "{}", submitted.text());
        let approved = self
            .call(
                Method::POST,
                &format!("/api/v1/admin/apps/{app_id}/approve"),
                &self.admin,
                None,
            )
            .await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
        app_id
    }
}

pub fn registration(name: &str, client_type: &str) -> Value {
    json!({
        "name": name,
        "short_name": name,
        "description": format!("{name} does useful things"),
        "developer": {"company_name": "Dana Labs", "email": "dana@example.com", "website": "https://dana.example"},
        "technical": {
            "entry_url": "https://app.dana.example/",
            "redirect_uris": ["https://app.dana.example/cb"],
            "webhook_url": "https://hooks.dana.example/tmcp",
            "scopes_requested": ["user:read", "storage:read", "storage:write"],
            "client_type": client_type
        },
        "branding": {"icon_url": "https://cdn.dana.example/icon.png", "primary_color": "#1A2B3C"}
    })
}

pub fn code(reply: &Reply) -> String {
    reply.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
