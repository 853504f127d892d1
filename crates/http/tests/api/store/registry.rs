//! Registration, the review workflow, roles and tenants.

use super::*;
use crate::support::on_both_engines;
use tmcp_domain::oauth::client_secret_hash;
use tmcp_domain::Clock;
use tmcp_repository::{AuditEntry, NewRegistration, OAuthClient, RepoError};

on_both_engines!(setup = setup, runtime = ();
    registration_returns_each_secret_once,
    registration_is_atomic,
    registration_is_for_developers_and_validated,
    review_workflow,
    rejection_and_resubmission,
    other_developers_and_users_are_refused,
    categories_form_a_tree,
    capabilities_need_no_credentials,
    webhook_log_is_the_developers,
    apps_registered_by_the_cli_show_their_listing_parts_as_objects,
);

async fn registration_returns_each_secret_once(store: Store) {
    let hybrid = store.register("Weather Now", "hybrid").await;
    let app_id = hybrid["miniapp_id"].as_str().expect("id");
    assert!(app_id.starts_with("ma_weather_now_"), "{app_id}");
    assert_eq!(hybrid["status"], "pending_review");
    let credentials = &hybrid["credentials"];
    assert_eq!(credentials["client_id"], app_id);
    assert_eq!(
        credentials["backend_client_id"],
        format!("{app_id}_backend")
    );
    let secret = credentials["client_secret"].as_str().expect("secret");
    assert!(credentials["webhook_secret"]
        .as_str()
        .expect("whsec")
        .starts_with("whsec_"));
    let db = &store.env.state.db;
    let public = db
        .find_client(app_id)
        .await
        .expect("db")
        .expect("public client");
    assert!(public.client_secret_hash.is_none());
    let backend = db
        .find_client(&format!("{app_id}_backend"))
        .await
        .expect("db")
        .expect("backend client");
    assert_eq!(
        backend.client_secret_hash.as_deref(),
        Some(client_secret_hash(secret).as_str())
    );
    assert!(backend
        .grant_types
        .iter()
        .any(|g| g == "client_credentials"));
    let endpoint = db
        .find_webhook_endpoint(app_id)
        .await
        .expect("db")
        .expect("endpoint");
    assert!(
        !endpoint.secret_sealed.windows(6).any(|w| w == b"whsec_"),
        "sealed, not plain"
    );

    let public_app = store.register("Notes", "public").await;
    assert!(public_app["credentials"]["client_secret"].is_null());
    assert!(public_app["credentials"]["backend_client_id"].is_null());
    let status = store
        .call(
            Method::GET,
            &format!("/mini-apps/v1/{app_id}/status"),
            &store.dev,
            None,
        )
        .await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.json()["status"], "pending_review");
    // Nothing secret is readable afterwards.
    let detail = store
        .call(
            Method::GET,
            &format!("/api/v1/developer/apps/{app_id}"),
            &store.dev,
            None,
        )
        .await;
    assert!(!detail.text().contains(secret));
}

async fn registration_is_atomic(store: Store) {
    let db = &store.env.state.db;
    let now = store.env.fixture.clock.now();
    let taken = "ma_taken_client";
    db.create_client(OAuthClient {
        client_id: taken.into(),
        client_secret_hash: None,
        app_id: None,
        name: "Taken".into(),
        redirect_uris: vec![],
        grant_types: vec!["refresh_token".into()],
        scopes: vec!["user:read".into()],
        is_official: false,
        is_active: true,
        created_at: now,
    })
    .await
    .expect("client");
    let registered = store.register("Atomic", "public").await;
    let template = db
        .find_store_app(registered["miniapp_id"].as_str().expect("id"))
        .await
        .expect("db")
        .expect("app");
    let mut app = template.clone();
    app.app_id = "ma_atomic_second".into();
    let client = |id: &str| OAuthClient {
        client_id: id.into(),
        client_secret_hash: None,
        app_id: Some(app.app_id.clone()),
        name: "Atomic".into(),
        redirect_uris: vec![],
        grant_types: vec!["refresh_token".into()],
        scopes: vec!["user:read".into()],
        is_official: false,
        is_active: true,
        created_at: now,
    };
    // The second client clashes: nothing of the registration may remain.
    let result = db
        .register_app(NewRegistration {
            app: app.clone(),
            clients: vec![client("ma_atomic_second"), client(taken)],
            webhook: None,
            audit: AuditEntry {
                id: tmcp_domain::ids::uuid_v7_at(now),
                actor_id: None,
                app_id: Some(app.app_id.clone()),
                action: "registered".into(),
                detail: json!({}),
                created_at: now,
            },
        })
        .await;
    assert!(
        matches!(result, Err(RepoError::Conflict { .. })),
        "{result:?}"
    );
    assert!(db
        .find_store_app("ma_atomic_second")
        .await
        .expect("db")
        .is_none());
    assert!(db
        .find_client("ma_atomic_second")
        .await
        .expect("db")
        .is_none());
    assert!(db
        .audit_log("ma_atomic_second", 10)
        .await
        .expect("db")
        .is_empty());
}

async fn registration_is_for_developers_and_validated(store: Store) {
    let user = store
        .call(
            Method::POST,
            "/mini-apps/v1/register",
            &store.env.session,
            Some(registration("Nope", "public")),
        )
        .await;
    assert_eq!(user.status, StatusCode::FORBIDDEN);
    assert_eq!(code(&user), "INSUFFICIENT_PERMISSIONS");
    let mut bad = registration("", "sideways");
    bad["technical"]["entry_url"] = json!("http://insecure.example/");
    bad["technical"]["webhook_url"] = json!("https://127.0.0.1/hook");
    bad["technical"]["scopes_requested"] = json!(["system:notifications", "nope"]);
    bad["branding"]["primary_color"] = json!("blue");
    let reply = store
        .call(
            Method::POST,
            "/mini-apps/v1/register",
            &store.dev,
            Some(bad),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    let fields = &reply.json()["error"]["details"]["fields"];
    for field in [
        "name",
        "technical.entry_url",
        "technical.client_type",
        "technical.webhook_url",
        "technical.scopes_requested",
        "branding.primary_color",
    ] {
        assert!(fields.get(field).is_some(), "{field} in {fields}");
    }
    let unknown = store
        .call(
            Method::POST,
            "/mini-apps/v1/register",
            &store.dev,
            Some(json!({"name": "x", "technical": {}, "extra": 1})),
        )
        .await;
    assert!(unknown.status.is_client_error());
    // The refused registrations left nothing behind for the developer who sent them.
    let mine = store
        .call(Method::GET, "/api/v1/developer/apps", &store.dev, None)
        .await;
    assert_eq!(mine.json()["apps"], json!([]));
}

async fn review_workflow(store: Store) {
    let app_id = store.register("Calculator Plus", "confidential").await["miniapp_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let submit = |version: &'static str| {
        let path = format!("/api/v1/developer/apps/{app_id}/submit");
        let store = &store;
        async move {
            store
                .call(
                    Method::POST,
                    &path,
                    &store.dev,
                    Some(json!({"version": version})),
                )
                .await
        }
    };
    assert_eq!(
        submit("1.0.0").await.status,
        StatusCode::NOT_FOUND,
        "nothing uploaded"
    );
    store.uploaded(&app_id, "1.0.0").await;
    let approve_early = store
        .call(
            Method::POST,
            &format!("/api/v1/admin/apps/{app_id}/approve"),
            &store.admin,
            None,
        )
        .await;
    assert_eq!(approve_early.status, StatusCode::CONFLICT);
    assert_eq!(code(&approve_early), "INVALID_STATE_TRANSITION");
    assert_eq!(submit("1.0.0").await.status, StatusCode::OK);
    let again = submit("1.0.0").await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "a submitted version is immutable"
    );
    let queue = store
        .call(
            Method::GET,
            "/api/v1/admin/apps/review-queue",
            &store.admin,
            None,
        )
        .await;
    assert_eq!(queue.status, StatusCode::OK);
    assert_eq!(queue.json()["apps"][0]["miniapp_id"], app_id.as_str());
    let as_developer = store
        .call(
            Method::POST,
            &format!("/api/v1/admin/apps/{app_id}/approve"),
            &store.dev,
            None,
        )
        .await;
    assert_eq!(
        as_developer.status,
        StatusCode::FORBIDDEN,
        "a non-admin cannot approve"
    );
    let queue_as_dev = store
        .call(
            Method::GET,
            "/api/v1/admin/apps/review-queue",
            &store.dev,
            None,
        )
        .await;
    assert_eq!(queue_as_dev.status, StatusCode::FORBIDDEN);
    let approved = store
        .call(
            Method::POST,
            &format!("/api/v1/admin/apps/{app_id}/approve"),
            &store.admin,
            None,
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    assert_eq!(approved.json()["status"], "active");
    assert_eq!(approved.json()["version"], "1.0.0");
    let events = store
        .env
        .state
        .db
        .pending_outbox_events(100)
        .await
        .expect("outbox");
    assert!(events
        .iter()
        .any(|e| e.app_id == app_id && e.event == "app.approved"));

    // An active app keeps its version while the next one waits for review.
    store.uploaded(&app_id, "1.1.0").await;
    assert_eq!(submit("1.1.0").await.json()["status"], "active");
    let detail = store
        .call(
            Method::GET,
            &format!("/api/v1/store/apps/{app_id}"),
            &store.env.session,
            None,
        )
        .await;
    assert_eq!(detail.json()["version"], "1.0.0");
    let approved = store
        .call(
            Method::POST,
            &format!("/api/v1/admin/apps/{app_id}/approve"),
            &store.admin,
            None,
        )
        .await;
    assert_eq!(approved.json()["version"], "1.1.0");

    let flags = store
        .call(
            Method::PUT,
            &format!("/api/v1/admin/apps/{app_id}/flags"),
            &store.admin,
            Some(json!({"featured": true, "mandatory": true})),
        )
        .await;
    assert_eq!(
        flags.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "mandatory needs official"
    );
    let flags = store
        .call(
            Method::PUT,
            &format!("/api/v1/admin/apps/{app_id}/flags"),
            &store.admin,
            Some(json!({"featured": true})),
        )
        .await;
    assert_eq!(flags.json()["featured"], true);
    let deprecated = store
        .call(
            Method::POST,
            &format!("/api/v1/admin/apps/{app_id}/deprecate"),
            &store.admin,
            None,
        )
        .await;
    assert_eq!(deprecated.json()["status"], "deprecated");
    let install = store
        .call(
            Method::POST,
            &format!("/api/v1/store/apps/{app_id}/install"),
            &store.env.session,
            None,
        )
        .await;
    assert_eq!(install.status, StatusCode::CONFLICT);
    assert_eq!(code(&install), "APP_NOT_INSTALLABLE");
    let removed = store
        .call(
            Method::POST,
            &format!("/api/v1/admin/apps/{app_id}/remove"),
            &store.admin,
            None,
        )
        .await;
    assert_eq!(removed.json()["status"], "removed");
    let twice = store
        .call(
            Method::POST,
            &format!("/api/v1/admin/apps/{app_id}/remove"),
            &store.admin,
            None,
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let audit = store
        .call(
            Method::GET,
            &format!("/api/v1/developer/apps/{app_id}/audit"),
            &store.dev,
            None,
        )
        .await;
    let actions: Vec<String> = audit.json()["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect();
    for action in [
        "registered",
        "submitted",
        "approved",
        "flags_changed",
        "deprecate",
        "remove",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

async fn rejection_and_resubmission(store: Store) {
    let app_id = store.register("Flashlight", "public").await["miniapp_id"]
        .as_str()
        .expect("id")
        .to_owned();
    store.uploaded(&app_id, "0.9.0").await;
    let path = format!("/api/v1/developer/apps/{app_id}/submit");
    store
        .call(
            Method::POST,
            &path,
            &store.dev,
            Some(json!({"version": "0.9.0"})),
        )
        .await;
    let empty = store
        .call(
            Method::POST,
            &format!("/api/v1/admin/apps/{app_id}/reject"),
            &store.admin,
            Some(json!({"reason": " "})),
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let rejected = store
        .call(
            Method::POST,
            &format!("/api/v1/admin/apps/{app_id}/reject"),
            &store.admin,
            Some(json!({"reason": "The icon is blurry"})),
        )
        .await;
    assert_eq!(rejected.status, StatusCode::OK);
    let status = store
        .call(
            Method::GET,
            &format!("/mini-apps/v1/{app_id}/status"),
            &store.dev,
            None,
        )
        .await;
    assert_eq!(status.json()["status"], "rejected");
    assert_eq!(status.json()["rejection_reason"], "The icon is blurry");
    let rejected_version = store
        .env
        .state
        .db
        .find_version(&app_id, "0.9.0")
        .await
        .expect("db")
        .expect("version");
    assert_eq!(rejected_version.status, VersionStatus::Removed);
    let events = store
        .env
        .state
        .db
        .pending_outbox_events(100)
        .await
        .expect("outbox");
    assert!(events
        .iter()
        .any(|e| e.app_id == app_id && e.event == "app.rejected"));
    store.uploaded(&app_id, "0.9.1").await;
    let resubmitted = store
        .call(
            Method::POST,
            &path,
            &store.dev,
            Some(json!({"version": "0.9.1"})),
        )
        .await;
    assert_eq!(resubmitted.json()["status"], "pending_review");
    assert!(resubmitted.json()["rejection_reason"].is_null());
}

async fn other_developers_and_users_are_refused(store: Store) {
    let app_id = store.published("Private Diary").await;
    for (method, path, body) in [
        (
            Method::GET,
            format!("/api/v1/developer/apps/{app_id}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/developer/apps/{app_id}"),
            Some(json!({"name": "Mine"})),
        ),
        (
            Method::POST,
            format!("/api/v1/developer/apps/{app_id}/submit"),
            Some(json!({"version": "1.0.0"})),
        ),
        (
            Method::GET,
            format!("/api/v1/developer/apps/{app_id}/audit"),
            None,
        ),
        (Method::GET, format!("/mini-apps/v1/{app_id}/status"), None),
    ] {
        let reply = store
            .call(method.clone(), &path, &store.other_dev, body.clone())
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(code(&reply), "APP_NOT_FOUND");
        let user = store
            .call(method.clone(), &path, &store.env.session, body)
            .await;
        assert!(
            matches!(user.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{method} {path}: {}",
            user.status
        );
    }
    let mine = store
        .call(
            Method::GET,
            "/api/v1/developer/apps",
            &store.other_dev,
            None,
        )
        .await;
    assert_eq!(mine.json()["apps"], json!([]));
    let renamed = store
        .call(
            Method::PATCH,
            &format!("/api/v1/developer/apps/{app_id}"),
            &store.dev,
            Some(json!({"name": "Private Diary 2", "primary_color": "#00ff00"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text());
    assert_eq!(renamed.json()["name"], "Private Diary 2");
    for admin_path in ["summary"] {
        let reply = store
            .call(
                Method::GET,
                &format!("/api/v1/admin/apps/{app_id}/{admin_path}"),
                &store.dev,
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
    }
    let summary = store
        .call(
            Method::GET,
            &format!("/api/v1/admin/apps/{app_id}/summary"),
            &store.admin,
            None,
        )
        .await;
    assert_eq!(summary.status, StatusCode::OK);
    assert_eq!(summary.json()["install_count"], 0);
}

async fn categories_form_a_tree(store: Store) {
    let create = |body: Value| {
        let store = &store;
        async move {
            store
                .call(
                    Method::POST,
                    "/api/v1/admin/categories",
                    &store.admin,
                    Some(body),
                )
                .await
        }
    };
    let tools = create(json!({"name": "tools", "display_name": "Tools"})).await;
    assert_eq!(tools.status, StatusCode::CREATED, "{}", tools.text());
    let tools_id = tools.json()["id"].as_str().expect("id").to_owned();
    let calc = create(
        json!({"name": "calculators", "display_name": "Calculators", "parent_id": tools_id}),
    )
    .await;
    assert_eq!(calc.status, StatusCode::CREATED);
    let calc_id = calc.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(
        create(json!({"name": "tools", "display_name": "Again"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        create(json!({"name": "Bad Name", "display_name": "x"}))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let as_dev = store
        .call(
            Method::POST,
            "/api/v1/admin/categories",
            &store.dev,
            Some(json!({"name": "x", "display_name": "x"})),
        )
        .await;
    assert_eq!(as_dev.status, StatusCode::FORBIDDEN);
    let cycle = store
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/categories/{tools_id}"),
            &store.admin,
            Some(json!({"parent_id": calc_id})),
        )
        .await;
    assert_eq!(
        cycle.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        cycle.text()
    );
    let tree = store
        .call(
            Method::GET,
            "/api/v1/store/categories",
            &store.env.session,
            None,
        )
        .await;
    assert_eq!(tree.status, StatusCode::OK);
    assert_eq!(tree.json()["categories"][0]["name"], "tools");
    assert_eq!(
        tree.json()["categories"][0]["children"][0]["name"],
        "calculators"
    );
    let busy = store
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/categories/{tools_id}"),
            &store.admin,
            None,
        )
        .await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    let deleted = store
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/categories/{calc_id}"),
            &store.admin,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    // An app can now name the category.
    let mut body = registration("Tool Box", "public");
    body["category"] = json!("tools");
    let reply = store
        .call(
            Method::POST,
            "/mini-apps/v1/register",
            &store.dev,
            Some(body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let mut body = registration("Tool Box", "public");
    body["category"] = json!("calculators");
    let reply = store
        .call(
            Method::POST,
            "/mini-apps/v1/register",
            &store.dev,
            Some(body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn capabilities_need_no_credentials(store: Store) {
    let reply = store
        .env
        .send(
            Request::get("/api/v1/capabilities")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["protocol"], "TMCP");
    assert!(body["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .any(|s| s == "wallet:pay"));
    assert!(body["services"]
        .as_array()
        .expect("services")
        .iter()
        .any(|s| s == "store"));
}

async fn webhook_log_is_the_developers(store: Store) {
    let app_id = store.published("Hook Watcher").await;
    let list = store
        .call(
            Method::GET,
            &format!("/api/v1/developer/apps/{app_id}/webhooks/events"),
            &store.dev,
            None,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    let event = list.json()["events"][0].clone();
    assert_eq!(event["event"], "app.approved");
    assert_eq!(event["status"], "pending");
    let event_id = event["event_id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/developer/apps/{app_id}/webhooks/events/{event_id}");
    let detail = store.call(Method::GET, &path, &store.dev, None).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_eq!(detail.json()["log"], json!([]));
    let redeliver = store
        .call(Method::POST, &format!("{path}/redeliver"), &store.dev, None)
        .await;
    assert_eq!(
        redeliver.status,
        StatusCode::CONFLICT,
        "a pending event is not redeliverable"
    );
    for token in [&store.other_dev, &store.env.session] {
        let reply = store.call(Method::GET, &path, token, None).await;
        assert!(matches!(
            reply.status,
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
        ));
    }
    let other_app = store.published("Other Hooks").await;
    let crossed = store
        .call(
            Method::GET,
            &format!("/api/v1/developer/apps/{other_app}/webhooks/events/{event_id}"),
            &store.dev,
            None,
        )
        .await;
    assert_eq!(
        crossed.status,
        StatusCode::NOT_FOUND,
        "an event of another app"
    );
}

/// `admin create-client --developer` registers the app without developer, technical and
/// branding details; its views answer them as the empty objects the document promises (the
/// API fuzzer found them as `null`).
async fn apps_registered_by_the_cli_show_their_listing_parts_as_objects(store: Store) {
    tmcp_usecases::oauth::register_client(
        store.env.state.db.as_ref(),
        store.env.state.clock.as_ref(),
        tmcp_usecases::oauth::ClientRegistration {
            client_id: "ma_cli_listed".into(),
            name: "CLI Listed".into(),
            scopes: "storage:read".into(),
            developer: Some("dev_dana".into()),
            ..Default::default()
        },
    )
    .await
    .expect("client and app");
    let mine = store
        .call(
            Method::GET,
            "/api/v1/developer/apps/ma_cli_listed",
            &store.dev,
            None,
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text());
    let listed = store
        .call(Method::GET, "/api/v1/developer/apps", &store.dev, None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    for app in [mine.json(), listed.json()["apps"][0].clone()] {
        for part in ["developer", "technical", "branding"] {
            assert_eq!(app[part], json!({}), "{part} of {app}");
        }
    }
}
