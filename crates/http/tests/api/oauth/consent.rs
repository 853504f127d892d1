//! The authorization and consent pages: no redirect to untrusted places, CSRF and
//! escaped client text.

use crate::support::on_both_engines;
use crate::support::*;
use axum::http::StatusCode;
use tmcp_domain::Clock;

async fn authorization_errors_never_redirect_to_untrusted_places(env: Env) {
    let cookie = [env.session_cookie()];
    let (_, challenge) = pkce();
    let with = |pairs: &[(&str, &str)]| format!("/oauth2/authorize?{}", encode(pairs));
    for (redirect, why) in [
        ("https://evil.example/cb", "foreign host"),
        ("https://app.example/cb/../../evil", "path traversal"),
        (
            "https://app.example/cb?next=https://evil.example",
            "extra query",
        ),
        ("https://app.example/CB", "case differs"),
        ("https://app.example.evil.example/cb", "suffix host"),
    ] {
        let reply = env
            .get(
                &with(&[
                    ("response_type", "code"),
                    ("client_id", PUBLIC),
                    ("redirect_uri", redirect),
                    ("state", "s"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ]),
                &cookie,
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{why}");
        assert!(reply.header("location").is_none(), "{why}: never redirect");
        assert!(reply.text().contains("Invalid redirect address"), "{why}");
    }
    let no_redirect = env
        .get(
            &with(&[
                ("response_type", "code"),
                ("client_id", PUBLIC),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ]),
            &cookie,
        )
        .await;
    assert_eq!(no_redirect.status, StatusCode::BAD_REQUEST);
    assert!(no_redirect.header("location").is_none());
    let unknown = env
        .get(
            &with(&[
                ("response_type", "code"),
                ("client_id", "ma_nobody"),
                ("redirect_uri", REDIRECT),
            ]),
            &cookie,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.header("location").is_none());
    assert!(unknown.text().contains("Unknown application"));

    // With a trusted redirect URI, the other errors go back to the client with state.
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("response_type", "token"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
            "unsupported_response_type",
        ),
        (vec![("response_type", "code")], "invalid_request"),
        (
            vec![
                ("response_type", "code"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            vec![("response_type", "code"), ("code_challenge", &challenge)],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("scope", "wallet:pay"),
            ],
            "invalid_scope",
        ),
        (
            vec![
                ("response_type", "code"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("scope", "admin:everything"),
            ],
            "invalid_scope",
        ),
    ];
    for (mut pairs, expected) in cases {
        pairs.extend([
            ("client_id", PUBLIC),
            ("redirect_uri", REDIRECT),
            ("state", "keep-me"),
        ]);
        let reply = env.get(&with(&pairs), &cookie).await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "{expected}: {}",
            reply.text()
        );
        let location = reply.location();
        assert!(location.starts_with(REDIRECT), "{location}");
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some(expected),
            "{location}"
        );
        assert_eq!(query_param(&location, "state").as_deref(), Some("keep-me"));
        assert!(query_param(&location, "code").is_none());
    }

    // Denying sends access_denied and records nothing.
    let page = env
        .get(
            &env.authorize_path(PUBLIC, "user:read", "d", &challenge),
            &cookie,
        )
        .await;
    let csrf = page.csrf().expect("csrf");
    let mut cookies = page.cookies();
    cookies.push(env.session_cookie());
    let denied = env
        .form(
            "/oauth2/authorize",
            &[
                ("action", "deny"),
                ("csrf_token", &csrf),
                ("response_type", "code"),
                ("client_id", PUBLIC),
                ("redirect_uri", REDIRECT),
                ("scope", "user:read"),
                ("state", "d"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
            &cookies,
            &[],
        )
        .await;
    assert_eq!(
        query_param(&denied.location(), "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&denied.location(), "state").as_deref(),
        Some("d")
    );
    assert_eq!(
        env.state
            .db
            .find_consent(env.user, PUBLIC)
            .await
            .expect("consent"),
        None
    );
}

async fn consent_needs_a_matching_csrf_token(env: Env) {
    let (_, challenge) = pkce();
    let page = env
        .get(
            &env.authorize_path(PUBLIC, "user:read wallet:balance", "c", &challenge),
            &[env.session_cookie()],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.csrf().expect("csrf");
    let csrf_cookie = page.cookies();
    let params = [
        ("action", "approve"),
        ("response_type", "code"),
        ("client_id", PUBLIC),
        ("redirect_uri", REDIRECT),
        ("scope", "user:read wallet:balance"),
        ("state", "c"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    type Attempt<'a> = (Vec<(&'a str, &'a str)>, Vec<String>, &'a str);
    let attempts: Vec<Attempt> = vec![
        (
            params.to_vec(),
            [csrf_cookie.clone(), vec![env.session_cookie()]].concat(),
            "no form token",
        ),
        (
            [
                params.to_vec(),
                vec![("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")],
            ]
            .concat(),
            [csrf_cookie.clone(), vec![env.session_cookie()]].concat(),
            "wrong token",
        ),
        (
            [params.to_vec(), vec![("csrf_token", csrf.as_str())]].concat(),
            vec![env.session_cookie()],
            "no cookie (cross-site post)",
        ),
    ];
    for (form, cookies, why) in attempts {
        let reply = env.form("/oauth2/authorize", &form, &cookies, &[]).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{why}");
        assert!(reply.header("location").is_none(), "{why}");
        assert!(reply.text().contains("could not be verified"), "{why}");
    }
    assert_eq!(
        env.state
            .db
            .find_consent(env.user, PUBLIC)
            .await
            .expect("consent"),
        None
    );
    // The exchange still needs consent: nothing was granted.
    let exchange = env.exchange(PUBLIC, "user:read").await;
    assert_eq!(exchange.status, StatusCode::FORBIDDEN);
}

async fn client_text_is_escaped_on_the_pages(env: Env) {
    let now = env.fixture.clock.now();
    env.state
        .db
        .create_client(tmcp_repository::OAuthClient {
            client_id: "ma_evil_name".into(),
            client_secret_hash: None,
            app_id: None,
            name: "<script>alert('x')</script>\"><img src=x>".into(),
            redirect_uris: vec![REDIRECT.into()],
            grant_types: ALL_GRANTS.iter().map(|g| (*g).to_owned()).collect(),
            scopes: vec!["user:read".into()],
            is_official: false,
            is_active: true,
            created_at: now,
        })
        .await
        .expect("client");
    let (_, challenge) = pkce();
    let state_param = "\"><script>alert(2)</script>";
    for cookies in [vec![], vec![env.session_cookie()]] {
        let page = env
            .get(
                &env.authorize_path("ma_evil_name", "user:read", state_param, &challenge),
                &cookies,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        let text = page.text();
        assert!(!text.contains("<script"), "{text}");
        assert!(!text.contains("<img"), "{text}");
        assert!(
            text.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt;"),
            "{text}"
        );
        assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
    }
}

on_both_engines!(
    setup = Env::new,
    runtime = (flavor = "current_thread");
    authorization_errors_never_redirect_to_untrusted_places,
    consent_needs_a_matching_csrf_token,
    client_text_is_escaped_on_the_pages,
);
