//! The admin's user summary.

use super::*;
use crate::support::on_both_engines;
use axum::http::{Method, StatusCode};
use tmcp_domain::user::Role;
use tmcp_http::routes::accounts::register::{create_account, NewAccount};

async fn admin_summary(app: App) {
    let admin = create_account(
        app.state.db.as_ref(),
        app.state.clock.as_ref(),
        &app.state.cipher,
        NewAccount {
            username: "root".into(),
            email: "root@example.com".into(),
            password: "correct horse battery".into(),
            first_name: None,
            last_name: None,
            phone: None,
            role: Role::Admin,
        },
    )
    .await
    .expect("admin");
    let user = app.register("sybil").await;
    let (admin_token, _, _) = app.login("root").await;
    let (user_token, _, _) = app.login("sybil").await;
    let user_id = user["id"].as_str().expect("id");

    let forbidden = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{}/summary", admin.id),
            Some(&user_token),
            None,
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.code(), "INSUFFICIENT_PERMISSIONS");
    let summary = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{user_id}/summary"),
            Some(&admin_token),
            None,
        )
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.body);
    assert_eq!(summary.body["username"], "sybil");
    assert_eq!(summary.body["payment_count"], 0);
    let missing = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{}/summary", uuid::Uuid::now_v7()),
            Some(&admin_token),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let unauthenticated = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{user_id}/summary"),
            None,
            None,
        )
        .await;
    assert_invalid_token(&unauthenticated);
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 2);
    admin_summary,
);
