//! Revocation and introspection.

use crate::support::on_both_engines;
use crate::support::*;
use axum::http::StatusCode;

async fn revocation_and_introspection(env: Env) {
    let tokens = env.tokens("storage:read user:read").await;
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let introspect = |token: String| {
        let env = &env;
        async move {
            env.token_like(
                "/oauth2/introspect",
                &[
                    ("token", &token),
                    ("client_id", BACKEND),
                    ("client_secret", &env.backend_secret),
                ],
            )
            .await
        }
    };
    // The backend introspects only its own tokens.
    assert_eq!(
        introspect(access.clone()).await.json(),
        serde_json::json!({"active": false})
    );
    let own = env.exchange(BACKEND, "storage:read").await.json();
    let own_token = own["access_token"].as_str().expect("tep").to_owned();
    let seen = introspect(own_token.clone()).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.header("cache-control").as_deref(), Some("no-store"));
    let body = seen.json();
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], BACKEND);
    assert_eq!(body["sub"], env.user.to_string());
    assert_eq!(body["scope"], "storage:read");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["exp"].as_i64().is_some() && body["iat"].as_i64().is_some());
    assert_eq!(
        introspect("tep.garbage".into()).await.json(),
        serde_json::json!({"active": false})
    );
    assert_eq!(
        introspect("whatever".into()).await.json(),
        serde_json::json!({"active": false})
    );
    let public = env
        .token_like(
            "/oauth2/introspect",
            &[("token", &own_token), ("client_id", PUBLIC)],
        )
        .await;
    assert_eq!(public.status, StatusCode::UNAUTHORIZED);

    // RFC 7009: revoke the TEP, it stops working at once; unknown tokens answer 200 too.
    assert_eq!(env.protected(&own_token).await, StatusCode::OK);
    let revoked = env
        .token_like(
            "/oauth2/revoke",
            &[
                ("token", &own_token),
                ("client_id", BACKEND),
                ("client_secret", &env.backend_secret),
            ],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(env.protected(&own_token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(introspect(own_token).await.json()["active"], false);
    let unknown = env
        .token_like(
            "/oauth2/revoke",
            &[("token", "nothing"), ("client_id", PUBLIC)],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::OK);
    // Another client cannot revoke the public client's token.
    env.token_like(
        "/oauth2/revoke",
        &[
            ("token", &access),
            ("client_id", BACKEND),
            ("client_secret", &env.backend_secret),
        ],
    )
    .await;
    assert_eq!(env.protected(&access).await, StatusCode::OK);
    // Revoking the refresh token ends the whole grant.
    let gone = env
        .token_like(
            "/oauth2/revoke",
            &[
                ("token", &refresh),
                ("token_type_hint", "refresh_token"),
                ("client_id", PUBLIC),
            ],
        )
        .await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(env.protected(&access).await, StatusCode::UNAUTHORIZED);
    let refreshed = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(refreshed.json()["error"], "invalid_grant");
}

on_both_engines!(
    setup = Env::new,
    runtime = (flavor = "current_thread");
    revocation_and_introspection,
);
