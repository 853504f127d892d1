//! The device authorization grant: polling, slow down, issue after approval.

use crate::support::on_both_engines;
use crate::support::*;
use axum::http::StatusCode;

async fn device_flow_polls_slow_down_and_issues_after_approval(env: Env) {
    let start = env
        .form(
            "/oauth2/device/authorization",
            &[("client_id", PUBLIC), ("scope", "storage:read user:read")],
            &[],
            &[],
        )
        .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text());
    let body = start.json();
    let device_code = body["device_code"]
        .as_str()
        .expect("device code")
        .to_owned();
    let user_code = body["user_code"].as_str().expect("user code").to_owned();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["interval"], 5);
    let issuer = env.state.tep.settings().issuer.clone();
    assert_eq!(body["verification_uri"], format!("{issuer}/oauth2/device"));
    assert_eq!(
        body["verification_uri_complete"],
        format!("{issuer}/oauth2/device?user_code={user_code}")
    );

    let poll = || {
        let env = &env;
        let device_code = device_code.clone();
        async move {
            env.token(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", PUBLIC),
                ("device_code", &device_code),
            ])
            .await
        }
    };
    assert_eq!(poll().await.json()["error"], "authorization_pending");
    let fast = poll().await;
    assert_eq!(fast.json()["error"], "slow_down");
    assert_eq!(fast.json()["interval"], 10);
    env.fixture.clock.advance(time::Duration::seconds(11));
    assert_eq!(poll().await.json()["error"], "authorization_pending");

    // The host app approves with the user's session (the typed code is normalised).
    let typed = user_code.to_lowercase().replace('-', " ");
    let approved = env
        .json(
            "/api/v1/auth/device/approve",
            serde_json::json!({"user_code": typed}),
            Some(&env.session),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    assert_eq!(approved.json()["status"], "approved");
    let again = env
        .json(
            "/api/v1/auth/device/approve",
            serde_json::json!({"user_code": user_code}),
            Some(&env.session),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let anonymous = env
        .json(
            "/api/v1/auth/device/approve",
            serde_json::json!({"user_code": user_code}),
            None,
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    env.fixture.clock.advance(time::Duration::seconds(11));
    let issued = poll().await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text());
    let tokens = issued.json();
    assert_eq!(tokens["scope"], "storage:read user:read");
    assert!(tokens["refresh_token"].as_str().is_some());
    assert_eq!(
        env.protected(tokens["access_token"].as_str().unwrap_or(""))
            .await,
        StatusCode::OK
    );
    env.fixture.clock.advance(time::Duration::seconds(11));
    assert_eq!(poll().await.json()["error"], "invalid_grant", "issued once");
    // The approval recorded consent.
    let consent = env
        .state
        .db
        .find_consent(env.user, PUBLIC)
        .await
        .expect("find")
        .expect("consent");
    assert!(consent.scopes.contains(&"user:read".to_owned()));

    // Second device: denied on the verification page; a third one expires.
    let second = env
        .form(
            "/oauth2/device/authorization",
            &[("client_id", PUBLIC)],
            &[],
            &[],
        )
        .await
        .json();
    let code2 = second["user_code"].as_str().expect("code").to_owned();
    let page = env
        .get(
            &format!("/oauth2/device?user_code={code2}"),
            &[env.session_cookie()],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(page.text().contains("Public Test App"));
    let csrf = page.csrf().expect("csrf");
    let mut cookies = page.cookies();
    cookies.push(env.session_cookie());
    let no_csrf = env
        .form(
            "/oauth2/device",
            &[("action", "deny"), ("user_code", &code2)],
            &cookies,
            &[],
        )
        .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let denied = env
        .form(
            "/oauth2/device",
            &[
                ("action", "deny"),
                ("csrf_token", &csrf),
                ("user_code", &code2),
            ],
            &cookies,
            &[],
        )
        .await;
    assert_eq!(denied.status, StatusCode::OK);
    assert!(denied.text().contains("Request denied"));
    let denied_poll = env
        .token(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", PUBLIC),
            ("device_code", second["device_code"].as_str().unwrap_or("")),
        ])
        .await;
    assert_eq!(denied_poll.json()["error"], "access_denied");

    let third = env
        .form(
            "/oauth2/device/authorization",
            &[("client_id", PUBLIC)],
            &[],
            &[],
        )
        .await
        .json();
    env.fixture.clock.advance(time::Duration::seconds(901));
    let expired = env
        .token(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", PUBLIC),
            ("device_code", third["device_code"].as_str().unwrap_or("")),
        ])
        .await;
    assert_eq!(expired.json()["error"], "expired_token");
}

on_both_engines!(
    setup = Env::new,
    runtime = (flavor = "current_thread");
    device_flow_polls_slow_down_and_issues_after_approval,
);
