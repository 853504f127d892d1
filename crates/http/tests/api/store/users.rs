//! Installs and reviews.

use super::*;
use crate::support::{on_both_engines, seed};
use tmcp_domain::Clock;

on_both_engines!(setup = setup, runtime = ();
    install_is_idempotent_and_reactivates,
    uninstall_wipes_storage_and_kills_teps,
    mandatory_apps_cannot_be_removed,
    reviews_one_per_user_verified_and_moderated,
    unpublished_apps_are_invisible,
);

async fn install_is_idempotent_and_reactivates(store: Store) {
    let app_id = store.published("Step Counter").await;
    let path = format!("/api/v1/store/apps/{app_id}/install");
    let first = store
        .call(Method::POST, &path, &store.env.session, None)
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    assert_eq!(first.json()["outcome"], "installed");
    assert_eq!(first.json()["installation"]["version"], "1.0.0");
    let second = store
        .call(Method::POST, &path, &store.env.session, None)
        .await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.json()["outcome"], "already_installed");
    let detail = store
        .call(
            Method::GET,
            &format!("/api/v1/store/apps/{app_id}"),
            &store.env.session,
            None,
        )
        .await;
    assert_eq!(detail.json()["installed"], true);
    let list = store
        .call(
            Method::GET,
            "/api/v1/store/installed",
            &store.env.session,
            None,
        )
        .await;
    assert_eq!(
        list.json()["installations"][0]["miniapp_id"],
        app_id.as_str()
    );
    assert_eq!(
        store
            .call(Method::DELETE, &path, &store.env.session, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let gone = store
        .call(Method::DELETE, &path, &store.env.session, None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let again = store
        .call(Method::POST, &path, &store.env.session, None)
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.json()["outcome"], "reactivated");
    assert_eq!(
        again.json()["installation"]["installation_id"],
        first.json()["installation"]["installation_id"],
        "one row per (user, app)"
    );
    // Concurrent installs of one pair leave one live installation.
    let other = store.published("Sleep Timer").await;
    let path = format!("/api/v1/store/apps/{other}/install");
    let replies = futures::future::join_all(
        (0..8).map(|_| store.call(Method::POST, &path, &store.env.session, None)),
    )
    .await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(replies.iter().all(|r| r.status.is_success()));
    let summary = store
        .env
        .state
        .db
        .app_summary(&tmcp_domain::AppId::parse(&other).expect("id"))
        .await
        .expect("db")
        .expect("summary");
    assert_eq!(summary.install_count, 1);
}

async fn uninstall_wipes_storage_and_kills_teps(store: Store) {
    let app_id = store.published("Grocery List").await;
    let path = format!("/api/v1/store/apps/{app_id}/install");
    store
        .call(Method::POST, &path, &store.env.session, None)
        .await;
    let now = store.env.fixture.clock.now();
    let tep = seed::tep(
        &store.env.state,
        now,
        Some(store.env.user),
        &app_id,
        "storage:read storage:write",
        None,
    )
    .await;
    let put = store
        .call(
            Method::PUT,
            "/api/v1/storage/list",
            &tep,
            Some(json!({"value": ["milk"]})),
        )
        .await;
    assert!(put.status.is_success(), "{}", put.text());
    let read = store
        .call(Method::GET, "/api/v1/storage/list", &tep, None)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(
        store
            .call(Method::DELETE, &path, &store.env.session, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let dead = store
        .call(Method::GET, "/api/v1/storage/list", &tep, None)
        .await;
    assert_eq!(
        dead.status,
        StatusCode::UNAUTHORIZED,
        "the app's TEP stops at once"
    );
    store.env.fixture.clock.advance(time::Duration::seconds(2));
    store
        .call(Method::POST, &path, &store.env.session, None)
        .await;
    let fresh = seed::tep(
        &store.env.state,
        store.env.fixture.clock.now(),
        Some(store.env.user),
        &app_id,
        "storage:read",
        None,
    )
    .await;
    let wiped = store
        .call(Method::GET, "/api/v1/storage/list", &fresh, None)
        .await;
    assert_eq!(
        wiped.status,
        StatusCode::NOT_FOUND,
        "storage was wiped: {}",
        wiped.text()
    );
}

async fn mandatory_apps_cannot_be_removed(store: Store) {
    let app_id = store.published("Official Wallet").await;
    let flags = store
        .call(
            Method::PUT,
            &format!("/api/v1/admin/apps/{app_id}/flags"),
            &store.admin,
            Some(json!({"classification": "official", "mandatory": true})),
        )
        .await;
    assert_eq!(flags.status, StatusCode::OK, "{}", flags.text());
    let path = format!("/api/v1/store/apps/{app_id}/install");
    store
        .call(Method::POST, &path, &store.env.session, None)
        .await;
    let refused = store
        .call(Method::DELETE, &path, &store.env.session, None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(code(&refused), "APP_NOT_REMOVABLE");
    let still = store
        .call(
            Method::GET,
            "/api/v1/store/installed",
            &store.env.session,
            None,
        )
        .await;
    assert_eq!(
        still.json()["installations"].as_array().map(Vec::len),
        Some(1)
    );
}

async fn reviews_one_per_user_verified_and_moderated(store: Store) {
    let app_id = store.published("Recipe Book").await;
    let reviews = format!("/api/v1/store/apps/{app_id}/reviews");
    let unverified = store
        .call(
            Method::POST,
            &reviews,
            &store.dev,
            Some(json!({"rating": 4, "title": "Nice"})),
        )
        .await;
    assert_eq!(
        unverified.status,
        StatusCode::CREATED,
        "{}",
        unverified.text()
    );
    assert_eq!(unverified.json()["verified"], false);
    store
        .call(
            Method::POST,
            &format!("/api/v1/store/apps/{app_id}/install"),
            &store.env.session,
            None,
        )
        .await;
    let first = store
        .call(
            Method::POST,
            &reviews,
            &store.env.session,
            Some(json!({"rating": 2})),
        )
        .await;
    assert_eq!(first.json()["verified"], true);
    assert_eq!(first.json()["version"], "1.0.0");
    let updated = store
        .call(
            Method::POST,
            &reviews,
            &store.env.session,
            Some(json!({"rating": 5, "comment": "Better now"})),
        )
        .await;
    assert_eq!(
        updated.json()["review_id"],
        first.json()["review_id"],
        "one review per user"
    );
    assert_eq!(updated.json()["rating"], 5);
    for bad in [
        json!({"rating": 0}),
        json!({"rating": 6}),
        json!({"rating": 3, "title": "x".repeat(256)}),
    ] {
        let reply = store
            .call(Method::POST, &reviews, &store.env.session, Some(bad))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let review_id = updated.json()["review_id"].as_str().expect("id").to_owned();
    let helpful = format!("{reviews}/{review_id}/helpful");
    let own = store
        .call(Method::POST, &helpful, &store.env.session, None)
        .await;
    assert_eq!(own.status, StatusCode::BAD_REQUEST);
    let vote = store.call(Method::POST, &helpful, &store.dev, None).await;
    assert_eq!(vote.json()["counted"], true);
    let twice = store.call(Method::POST, &helpful, &store.dev, None).await;
    assert_eq!(twice.json()["counted"], false);
    assert_eq!(twice.json()["review"]["helpful_count"], 1);
    let list = store
        .call(Method::GET, &reviews, &store.other_dev, None)
        .await;
    let body = list.json();
    assert_eq!(
        body["reviews"][0]["review_id"],
        review_id.as_str(),
        "most helpful first"
    );
    assert_eq!(body["rating"]["count"], 2);
    assert_eq!(body["rating"]["histogram"]["5"], 1);
    assert_eq!(body["rating"]["histogram"]["4"], 1);
    let not_admin = store
        .call(
            Method::PUT,
            &format!("/api/v1/admin/reviews/{review_id}"),
            &store.dev,
            Some(json!({"status": "hidden"})),
        )
        .await;
    assert_eq!(not_admin.status, StatusCode::FORBIDDEN);
    let hidden = store
        .call(
            Method::PUT,
            &format!("/api/v1/admin/reviews/{review_id}"),
            &store.admin,
            Some(json!({"status": "hidden"})),
        )
        .await;
    assert_eq!(hidden.json()["status"], "hidden");
    let edited = store
        .call(
            Method::POST,
            &reviews,
            &store.env.session,
            Some(json!({"rating": 1})),
        )
        .await;
    assert_eq!(
        edited.json()["status"],
        "hidden",
        "editing does not undo moderation"
    );
    let list = store
        .call(Method::GET, &reviews, &store.other_dev, None)
        .await;
    assert_eq!(list.json()["rating"]["count"], 1);
}

async fn unpublished_apps_are_invisible(store: Store) {
    let pending = store.register("Secret Project", "public").await["miniapp_id"]
        .as_str()
        .expect("id")
        .to_owned();
    for (method, path) in [
        (Method::GET, format!("/api/v1/store/apps/{pending}")),
        (
            Method::POST,
            format!("/api/v1/store/apps/{pending}/install"),
        ),
        (Method::GET, format!("/api/v1/store/apps/{pending}/reviews")),
        (Method::GET, "/api/v1/store/apps/ma_no_such_app".to_owned()),
        (
            Method::GET,
            format!("/api/v1/store/apps/{}", "x".repeat(300)),
        ),
    ] {
        let reply = store
            .call(method.clone(), &path, &store.env.session, None)
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
}
