//! The OAuth 2.0 authorization server through HTTP, on SQLite and PostgreSQL: discovery,
//! code + PKCE with its pages, refresh rotation, token exchange, device flow, client
//! credentials, revocation, introspection, grant withdrawal, and the attacks against them.

mod support;

use axum::http::StatusCode;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;
use support::*;
use tmcp_domain::Clock;

fn claims(token: &str) -> Value {
    let jws = token.strip_prefix("tep.").expect("tep prefix");
    let payload = jws.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json")
}

async fn discovery_documents_describe_the_server(env: Env) {
    let a = env
        .get("/.well-known/oauth-authorization-server", &[])
        .await;
    let b = env.get("/.well-known/openid-configuration", &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), b.json());
    let doc = a.json();
    let issuer = env.state.tep.settings().issuer.clone();
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    assert_eq!(doc["token_endpoint"], format!("{issuer}/oauth2/token"));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let grants = doc["grant_types_supported"].to_string();
    for grant in [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "token-exchange",
        "device_code",
    ] {
        assert!(grants.contains(grant), "{grant} in {grants}");
    }
    assert!(doc["token_endpoint_auth_methods_supported"]
        .to_string()
        .contains("client_secret_basic"));
}

async fn code_flow_with_pkce_through_the_login_page(env: Env) {
    let (verifier, challenge) = pkce();
    let path = env.authorize_path(PUBLIC, "storage:read user:read", "xyz", &challenge);
    // Not signed in: the login page, with a CSRF cookie.
    let login_page = env.get(&path, &[]).await;
    assert_eq!(login_page.status, StatusCode::OK);
    assert!(login_page.text().contains("Sign in"));
    assert!(login_page
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    assert_eq!(
        login_page.header("x-frame-options").as_deref(),
        Some("DENY")
    );
    let csp = login_page
        .header("content-security-policy")
        .unwrap_or_default();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
        "{csp}"
    );
    let csrf = login_page.csrf().expect("csrf");
    let cookies = login_page.cookies();
    assert!(cookies.iter().any(|c| c.starts_with("tmcp_csrf=")));
    let params = [
        ("response_type", "code"),
        ("client_id", PUBLIC),
        ("redirect_uri", REDIRECT),
        ("scope", "storage:read user:read"),
        ("state", "xyz"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let mut wrong = vec![
        ("action", "login"),
        ("csrf_token", csrf.as_str()),
        ("login", "oauth_alice"),
        ("password", "nope nope nope"),
    ];
    wrong.extend(params);
    let refused = env.form("/oauth2/authorize", &wrong, &cookies, &[]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.text().contains("Wrong username or password"));
    assert!(refused
        .cookies()
        .iter()
        .all(|c| !c.starts_with("tmcp_session=")));

    let mut login = vec![
        ("action", "login"),
        ("csrf_token", csrf.as_str()),
        ("login", "oauth_alice"),
        ("password", PASSWORD),
    ];
    login.extend(params);
    let signed_in = env.form("/oauth2/authorize", &login, &cookies, &[]).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text()
    );
    assert!(signed_in.location().starts_with("/oauth2/authorize?"));
    let session_cookie = signed_in
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("tmcp_session="))
        .expect("session cookie");
    let raw = signed_in.header("set-cookie").unwrap_or_default();
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Lax"),
        "{raw}"
    );

    let mut cookies = cookies;
    cookies.push(session_cookie);
    let consent = env.get(&signed_in.location(), &cookies).await;
    assert_eq!(consent.status, StatusCode::OK);
    let text = consent.text();
    assert!(
        text.contains("Public Test App") && text.contains("user:read"),
        "{text}"
    );
    let mut approve = vec![("action", "approve"), ("csrf_token", csrf.as_str())];
    approve.extend(params);
    let redirect = env.form("/oauth2/authorize", &approve, &cookies, &[]).await;
    assert_eq!(redirect.status, StatusCode::SEE_OTHER);
    let location = redirect.location();
    assert!(
        location.starts_with("https://app.example/cb?"),
        "{location}"
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
    assert_eq!(
        query_param(&location, "iss"),
        Some(env.state.tep.settings().issuer.clone())
    );
    let code = query_param(&location, "code").expect("code");
    assert!(code.len() >= 43, "at least 128 bits");

    let exchange = |verifier: String, code: String| {
        let env = &env;
        async move {
            env.token(&[
                ("grant_type", "authorization_code"),
                ("client_id", PUBLIC),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ])
            .await
        }
    };
    let tokens = exchange(verifier.clone(), code.clone()).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text());
    assert_eq!(tokens.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(tokens.header("pragma").as_deref(), Some("no-cache"));
    assert!(tokens.header("x-ratelimit-limit").is_some());
    let body = tokens.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "storage:read user:read");
    assert_eq!(body["user_id"], env.user.to_string());
    assert!(body["wallet_id"].as_str().unwrap_or("").starts_with("tw_"));
    assert!(body["refresh_token"].as_str().is_some());
    let access = body["access_token"].as_str().expect("access").to_owned();
    assert_eq!(claims(&access)["aud"], PUBLIC);
    assert_eq!(env.protected(&access).await, StatusCode::OK);

    // Consent is remembered: the next authorization redirects at once.
    let (_, challenge2) = pkce();
    let again = env
        .get(
            &env.authorize_path(PUBLIC, "user:read", "s2", &challenge2),
            &cookies,
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert!(query_param(&again.location(), "code").is_some());

    // The code is spent: a second use fails and kills what the first produced.
    let replay = exchange(verifier, code).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.json()["error"], "invalid_grant");
    assert_eq!(env.protected(&access).await, StatusCode::UNAUTHORIZED);
    let refresh = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            (
                "refresh_token",
                body["refresh_token"].as_str().unwrap_or(""),
            ),
        ])
        .await;
    assert_eq!(refresh.json()["error"], "invalid_grant");
}

async fn wrong_verifier_wrong_redirect_and_expired_codes_fail(env: Env) {
    let (code, verifier) = env.code("storage:read").await;
    let (other_verifier, _) = pkce();
    let wrong = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &other_verifier),
        ])
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.json()["error"], "invalid_grant");
    // The attempt burned the code.
    let late = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!(late.json()["error"], "invalid_grant");

    let (code, verifier) = env.code("storage:read").await;
    let no_verifier = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .await;
    assert_eq!(no_verifier.json()["error"], "invalid_grant");
    let _ = verifier;

    let (code, verifier) = env.code("storage:read").await;
    let other_redirect = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC),
            ("code", &code),
            ("redirect_uri", "https://app.example/cb2"),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!(other_redirect.json()["error"], "invalid_grant");

    let (code, verifier) = env.code("storage:read").await;
    env.fixture.clock.advance(time::Duration::seconds(61));
    let expired = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!(expired.json()["error"], "invalid_grant");
    assert!(expired.json()["error_description"]
        .as_str()
        .unwrap_or("")
        .contains("expired"));

    // Another client cannot redeem the code.
    let (code, verifier) = env.code("storage:read").await;
    let stolen = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!(
        stolen.json()["error"],
        "invalid_request",
        "client_id is required"
    );
    let basic = STANDARD.encode(format!("{BACKEND}:{}", env.backend_secret));
    let auth = format!("Basic {basic}");
    let stolen = env
        .form(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
            &[],
            &[("authorization", auth.as_str())],
        )
        .await;
    assert_eq!(stolen.json()["error"], "invalid_grant");
    // Garbage and repeated parameters.
    let garbage = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC),
            ("code", "ac_nope"),
            ("redirect_uri", REDIRECT),
        ])
        .await;
    assert_eq!(garbage.json()["error"], "invalid_grant");
    let repeated = env
        .send(
            axum::http::Request::post("/oauth2/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from("grant_type=refresh_token&grant_type=authorization_code&client_id=ma_oauth_public"))
                .expect("request"),
        )
        .await;
    assert_eq!(repeated.json()["error"], "invalid_request");
    let unsupported = env
        .token(&[("grant_type", "password"), ("client_id", PUBLIC)])
        .await;
    assert_eq!(unsupported.json()["error"], "unsupported_grant_type");
}

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

async fn refresh_tokens_rotate_and_reuse_revokes_the_grant(env: Env) {
    let first = env.tokens("storage:read user:read").await;
    let r1 = first["refresh_token"].as_str().expect("refresh").to_owned();
    let a1 = first["access_token"].as_str().expect("access").to_owned();

    // Escalation is refused and does not spend the token.
    let escalate = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &r1),
            ("scope", "storage:read user:read wallet:balance"),
        ])
        .await;
    assert_eq!(escalate.json()["error"], "invalid_scope");
    let foreign = env
        .form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("client_id", BACKEND),
                ("client_secret", &env.backend_secret),
            ],
            &[],
            &[],
        )
        .await;
    assert_eq!(foreign.json()["error"], "invalid_grant");

    env.tick();
    let narrower = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &r1),
            ("scope", "storage:read"),
        ])
        .await;
    assert_eq!(narrower.status, StatusCode::OK, "{}", narrower.text());
    let second = narrower.json();
    assert_eq!(second["scope"], "storage:read");
    let r2 = second["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let a2 = second["access_token"].as_str().expect("access").to_owned();
    assert_ne!(r1, r2);
    assert_eq!(env.protected(&a2).await, StatusCode::OK);

    // The new refresh token still carries the original scopes.
    env.tick();
    let third = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &r2),
        ])
        .await;
    assert_eq!(third.json()["scope"], "storage:read user:read");
    let r3 = third.json()["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();

    // Replaying r1 (already rotated): theft. Every token of the grant dies.
    let replay = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &r1),
        ])
        .await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.json()["error"], "invalid_grant");
    for access in [&a1, &a2] {
        assert_eq!(env.protected(access).await, StatusCode::UNAUTHORIZED);
    }
    let after = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &r3),
        ])
        .await;
    assert_eq!(after.json()["error"], "invalid_grant");
}

async fn token_exchange_grants_consented_and_free_scopes_only(env: Env) {
    let free = env.exchange(PUBLIC, "storage:read storage:write").await;
    assert_eq!(free.status, StatusCode::OK, "{}", free.text());
    let body = free.json();
    assert_eq!(body["scope"], "storage:read storage:write");
    assert_eq!(
        body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert!(body.get("refresh_token").is_none());
    let token = body["access_token"].as_str().expect("tep");
    let c = claims(token);
    assert_eq!(c["sub"], env.user.to_string());
    assert!(c["session_id"].as_str().is_some());
    assert_eq!(env.protected(token).await, StatusCode::OK);

    let needs = env
        .exchange(PUBLIC, "storage:read user:read wallet:balance")
        .await;
    assert_eq!(needs.status, StatusCode::FORBIDDEN);
    let body = needs.json();
    assert_eq!(body["error"], "consent_required");
    assert_eq!(
        body["consent_required_scopes"],
        serde_json::json!(["user:read", "wallet:balance"])
    );
    let uri = body["consent_uri"].as_str().unwrap_or("");
    let issuer = env.state.tep.settings().issuer.clone();
    assert!(
        uri.starts_with(&format!("{issuer}/oauth2/authorize?")),
        "{uri}"
    );
    assert_eq!(query_param(uri, "client_id").as_deref(), Some(PUBLIC));
    assert_eq!(
        query_param(uri, "scope").as_deref(),
        Some("storage:read user:read wallet:balance")
    );

    let unregistered = env.exchange(PUBLIC, "wallet:pay").await;
    assert_eq!(unregistered.status, StatusCode::BAD_REQUEST);
    assert_eq!(unregistered.json()["error"], "invalid_scope");
    let unknown = env.exchange(PUBLIC, "storage:read root").await;
    assert_eq!(unknown.json()["error"], "invalid_scope");
    let official = env.exchange(PUBLIC, "analytics:detailed").await;
    assert_eq!(official.json()["error"], "invalid_scope");

    // After the user approves user:read on the consent page, the exchange grants it.
    let (_, challenge) = pkce();
    env.approve(PUBLIC, "user:read", "s", &challenge).await;
    env.tick();
    let granted = env.exchange(PUBLIC, "user:read storage:read").await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text());
    assert_eq!(granted.json()["scope"], "storage:read user:read");
    // Default scope: everything grantable without a prompt.
    let default = env
        .token(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("client_id", PUBLIC),
            ("subject_token", &env.session),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ])
        .await;
    assert_eq!(
        default.json()["scope"],
        "storage:read storage:write user:read"
    );

    // Bad subject tokens and types.
    let bad = env
        .token(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("client_id", PUBLIC),
            (
                "subject_token",
                "st_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ])
        .await;
    assert_eq!(bad.json()["error"], "invalid_grant");
    let wrong_type = env
        .token(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("client_id", PUBLIC),
            ("subject_token", &env.session),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
        ])
        .await;
    assert_eq!(wrong_type.json()["error"], "invalid_request");

    // Logging out ends the session and every TEP minted from it.
    let token = granted.json()["access_token"]
        .as_str()
        .expect("tep")
        .to_owned();
    let logout = env
        .json(
            "/api/v1/auth/logout",
            serde_json::json!({}),
            Some(&env.session),
        )
        .await;
    assert!(logout.status.is_success(), "{}", logout.text());
    env.state.tep.forget_all();
    assert_eq!(env.protected(&token).await, StatusCode::UNAUTHORIZED);
}

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

async fn client_credentials_are_for_confidential_clients(env: Env) {
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{BACKEND}:{}", env.backend_secret))
    );
    let issued = env
        .form(
            "/oauth2/token",
            &[("grant_type", "client_credentials")],
            &[],
            &[("authorization", basic.as_str())],
        )
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text());
    let body = issued.json();
    assert_eq!(body["scope"], "webhook:send");
    assert!(body.get("user_id").is_none() && body.get("refresh_token").is_none());
    let c = claims(body["access_token"].as_str().expect("tep"));
    assert_eq!(c["sub"], BACKEND);
    assert_eq!(
        env.protected(body["access_token"].as_str().unwrap_or(""))
            .await,
        StatusCode::OK
    );

    let post = env
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", BACKEND),
            ("client_secret", &env.backend_secret),
            ("scope", "webhook:send"),
        ])
        .await;
    assert_eq!(post.status, StatusCode::OK);
    let user_scope = env
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", BACKEND),
            ("client_secret", &env.backend_secret),
            ("scope", "user:read"),
        ])
        .await;
    assert_eq!(user_scope.json()["error"], "invalid_scope");
    let public = env
        .token(&[("grant_type", "client_credentials"), ("client_id", PUBLIC)])
        .await;
    assert_eq!(public.json()["error"], "unauthorized_client");

    let wrong = format!("Basic {}", STANDARD.encode(format!("{BACKEND}:cs_wrong")));
    let refused = env
        .form(
            "/oauth2/token",
            &[("grant_type", "client_credentials")],
            &[],
            &[("authorization", wrong.as_str())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json()["error"], "invalid_client");
    assert!(refused
        .header("www-authenticate")
        .unwrap_or_default()
        .starts_with("Basic"));
    let missing = env
        .token(&[("grant_type", "client_credentials"), ("client_id", BACKEND)])
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    let both = env
        .form(
            "/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", &env.backend_secret),
            ],
            &[],
            &[("authorization", basic.as_str())],
        )
        .await;
    assert_eq!(both.json()["error"], "invalid_request");
    let public_with_secret = env
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", PUBLIC),
            ("client_secret", "cs_guess"),
        ])
        .await;
    assert_eq!(public_with_secret.status, StatusCode::UNAUTHORIZED);
}

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

async fn withdrawing_a_grant_kills_its_tokens_and_queues_a_webhook(env: Env) {
    let tokens = env.tokens("storage:read user:read wallet:balance").await;
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    env.tick();
    let exchanged = env.exchange(PUBLIC, "user:read").await.json();
    let exchanged = exchanged["access_token"].as_str().expect("tep").to_owned();
    assert_eq!(env.protected(&access).await, StatusCode::OK);
    assert_eq!(env.protected(&exchanged).await, StatusCode::OK);

    env.tick();
    let withdraw = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC, "scopes": ["wallet:balance"]}),
            Some(&env.session),
        )
        .await;
    assert_eq!(withdraw.status, StatusCode::OK, "{}", withdraw.text());
    assert_eq!(
        withdraw.json()["revoked_scopes"],
        serde_json::json!(["wallet:balance"])
    );
    assert_eq!(
        withdraw.json()["remaining_scopes"],
        serde_json::json!(["storage:read", "user:read"])
    );
    assert_eq!(withdraw.json()["tokens_revoked"], 2);
    assert_eq!(withdraw.json()["refresh_tokens_revoked"], 1);
    assert_eq!(env.protected(&access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(env.protected(&exchanged).await, StatusCode::UNAUTHORIZED);
    let refreshed = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(refreshed.json()["error"], "invalid_grant");
    let events = env
        .state
        .db
        .pending_outbox_events(10)
        .await
        .expect("outbox");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "scope.revoked");
    assert_eq!(events[0].app_id, PUBLIC);
    assert_eq!(
        events[0].payload["scopes"],
        serde_json::json!(["wallet:balance"])
    );
    assert_eq!(events[0].payload["user_id"], env.user.to_string());

    // What remains can be obtained again; the withdrawn scope needs consent again.
    env.tick();
    assert_eq!(
        env.exchange(PUBLIC, "user:read").await.status,
        StatusCode::OK
    );
    assert_eq!(
        env.exchange(PUBLIC, "wallet:balance").await.json()["error"],
        "consent_required"
    );

    env.tick();
    let all = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC}),
            Some(&env.session),
        )
        .await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(
        env.exchange(PUBLIC, "user:read").await.json()["error"],
        "consent_required"
    );
    assert_eq!(
        all.json()["revoked_scopes"],
        serde_json::json!(["storage:read", "user:read"])
    );
    assert_eq!(all.json()["tokens_revoked"], 1);
    // An app the user never used: nothing to revoke, still a success (no webhook).
    let never = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": BACKEND}),
            Some(&env.session),
        )
        .await;
    assert_eq!(never.status, StatusCode::OK, "{}", never.text());
    assert_eq!(never.json()["revoked_scopes"], serde_json::json!([]));
    assert_eq!(never.json()["tokens_revoked"], 0);
    assert_eq!(never.json()["refresh_tokens_revoked"], 0);
    let unknown = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": "ma_no_such_app"}),
            Some(&env.session),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"]["code"], "NOT_FOUND");
    let events = env
        .state
        .db
        .pending_outbox_events(10)
        .await
        .expect("outbox");
    assert_eq!(
        events.len(),
        2,
        "one event per withdrawal that revoked something"
    );
    let anonymous = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC}),
            None,
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let bad = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC, "scopes": ["root"]}),
            Some(&env.session),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Issue 7: `storage:read`/`storage:write` are granted without a consent row, and the user
/// could not cut such an app off (404, and its TEP kept working).
async fn withdrawing_an_app_with_only_pre_approved_scopes_ends_its_tokens(env: Env) {
    let exchanged = env.exchange(PUBLIC, "storage:read storage:write").await;
    assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.text());
    let tep = exchanged.json()["access_token"]
        .as_str()
        .expect("tep")
        .to_owned();
    // Another instance has already validated the TEP, so its liveness cache holds "live".
    let other = env
        .other_instance(std::time::Duration::from_millis(300))
        .await;
    assert_eq!(protected_on(&other, &tep).await, StatusCode::OK);
    assert_eq!(env.protected(&tep).await, StatusCode::OK);
    assert_eq!(
        env.state
            .db
            .find_consent(env.user, PUBLIC)
            .await
            .expect("find"),
        None,
        "pre-approved scopes leave no consent row"
    );

    env.tick();
    let withdraw = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC}),
            Some(&env.session),
        )
        .await;
    assert_eq!(withdraw.status, StatusCode::OK, "{}", withdraw.text());
    let body = withdraw.json();
    assert_eq!(body["client_id"], PUBLIC);
    assert_eq!(
        body["revoked_scopes"],
        serde_json::json!(["storage:read", "storage:write"])
    );
    assert_eq!(body["remaining_scopes"], serde_json::json!([]));
    assert_eq!(body["tokens_revoked"], 1);
    assert_eq!(body["refresh_tokens_revoked"], 0);
    assert!(body["revoked_at"].as_str().is_some());
    // This instance refuses at once; the other within its liveness cache time.
    assert_eq!(env.protected(&tep).await, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(protected_on(&other, &tep).await, StatusCode::UNAUTHORIZED);
    let events = env
        .state
        .db
        .pending_outbox_events(10)
        .await
        .expect("outbox");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "scope.revoked");
    assert_eq!(events[0].app_id, PUBLIC);
    assert_eq!(events[0].payload["user_id"], env.user.to_string());
    assert_eq!(
        events[0].payload["scopes"],
        serde_json::json!(["storage:read", "storage:write"])
    );

    // A refresh token for pre-approved scopes (code flow, no prompt) dies the same way.
    env.tick();
    let tokens = env.tokens("storage:read").await;
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_eq!(env.protected(&access).await, StatusCode::OK);
    env.tick();
    let again = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC}),
            Some(&env.session),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(
        again.json()["revoked_scopes"],
        serde_json::json!(["storage:read"])
    );
    assert_eq!(again.json()["tokens_revoked"], 1);
    assert_eq!(again.json()["refresh_tokens_revoked"], 1);
    assert_eq!(env.protected(&access).await, StatusCode::UNAUTHORIZED);
    let refreshed = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(refreshed.status, StatusCode::BAD_REQUEST);
    assert_eq!(refreshed.json()["error"], "invalid_grant");
    assert_eq!(
        env.state
            .db
            .pending_outbox_events(10)
            .await
            .expect("outbox")
            .len(),
        2
    );

    // Nothing left: a repeated withdrawal succeeds with nothing revoked and tells no one.
    let nothing = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC}),
            Some(&env.session),
        )
        .await;
    assert_eq!(nothing.status, StatusCode::OK);
    assert_eq!(nothing.json()["tokens_revoked"], 0);
    assert_eq!(nothing.json()["refresh_tokens_revoked"], 0);
    assert_eq!(
        env.state
            .db
            .pending_outbox_events(10)
            .await
            .expect("outbox")
            .len(),
        2
    );

    // Opening the app again (the host app exchanges the user's session) works as before.
    env.tick();
    let reopened = env.exchange(PUBLIC, "storage:read").await;
    assert_eq!(reopened.status, StatusCode::OK, "{}", reopened.text());
    let fresh = reopened.json()["access_token"]
        .as_str()
        .expect("tep")
        .to_owned();
    assert_eq!(env.protected(&fresh).await, StatusCode::OK);
}

async fn brute_force_on_the_token_endpoint_reaches_429(env: Env) {
    // The bucket refills in real time (one request per 2 s), so on a slow machine a few more
    // than 30 guesses may pass; what matters is that the 31st is never reached for free
    // and that the refusal comes.
    let mut last = None;
    for attempt in 0..60 {
        let guess = format!("cs_guess_{attempt}");
        let reply = env
            .token(&[
                ("grant_type", "client_credentials"),
                ("client_id", BACKEND),
                ("client_secret", &guess),
            ])
            .await;
        if attempt < 30 {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
            assert!(reply.header("x-ratelimit-remaining").is_some());
        }
        let refused = reply.status == StatusCode::TOO_MANY_REQUESTS;
        last = Some(reply);
        if refused {
            break;
        }
    }
    let last = last.expect("replies");
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(last.json()["error"], "rate_limit_exceeded");
    assert!(last.header("retry-after").is_some());
    assert_eq!(last.header("x-ratelimit-limit").as_deref(), Some("30"));
    // Even the right secret is refused now.
    let right = env
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", BACKEND),
            ("client_secret", &env.backend_secret),
        ])
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    // Other clients are not affected.
    let other = env.exchange(PUBLIC, "storage:read").await;
    assert_eq!(other.status, StatusCode::OK);
}

macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::Env::new(tmcp_contract_tests::engines::sqlite().await).await).await; })+
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::Env::new(tmcp_contract_tests::engines::postgres().await).await).await; })+
        }
    };
}

on_both_engines!(
    discovery_documents_describe_the_server,
    code_flow_with_pkce_through_the_login_page,
    wrong_verifier_wrong_redirect_and_expired_codes_fail,
    authorization_errors_never_redirect_to_untrusted_places,
    consent_needs_a_matching_csrf_token,
    client_text_is_escaped_on_the_pages,
    refresh_tokens_rotate_and_reuse_revokes_the_grant,
    token_exchange_grants_consented_and_free_scopes_only,
    device_flow_polls_slow_down_and_issues_after_approval,
    client_credentials_are_for_confidential_clients,
    revocation_and_introspection,
    withdrawing_a_grant_kills_its_tokens_and_queues_a_webhook,
    withdrawing_an_app_with_only_pre_approved_scopes_ends_its_tokens,
    brute_force_on_the_token_endpoint_reaches_429,
);

#[test]
fn openapi_documents_every_oauth_route_with_its_body_type() {
    use utoipa::OpenApi;
    let doc = serde_json::to_value(tmcp_http::openapi::ApiDoc::openapi()).expect("json");
    let paths = &doc["paths"];
    for (path, method) in [
        ("/.well-known/oauth-authorization-server", "get"),
        ("/.well-known/openid-configuration", "get"),
        ("/.well-known/jwks.json", "get"),
        ("/oauth2/authorize", "get"),
        ("/oauth2/device", "get"),
        ("/api/v1/auth/revoke", "post"),
        ("/api/v1/auth/device/approve", "post"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} documented"
        );
    }
    for path in [
        "/oauth2/authorize",
        "/oauth2/token",
        "/oauth2/revoke",
        "/oauth2/introspect",
        "/oauth2/device/authorization",
        "/oauth2/device",
    ] {
        let content = &paths[path]["post"]["requestBody"]["content"];
        assert!(
            content["application/x-www-form-urlencoded"]["schema"].is_object(),
            "POST {path} documents a form body: {content}"
        );
    }
    let token_ok = &paths["/oauth2/token"]["post"]["responses"]["200"];
    assert!(token_ok.to_string().contains("TokenResponse"), "{token_ok}");
    let withdraw = &paths["/api/v1/auth/revoke"]["post"]["responses"];
    for status in ["200", "400", "401", "403", "404", "413", "422", "500"] {
        assert!(
            withdraw[status].is_object(),
            "withdrawal documents {status}"
        );
    }
    let answer = &doc["components"]["schemas"]["WithdrawGrantResponse"]["properties"];
    for field in [
        "client_id",
        "revoked_scopes",
        "remaining_scopes",
        "tokens_revoked",
        "refresh_tokens_revoked",
        "revoked_at",
    ] {
        assert!(answer[field].is_object(), "WithdrawGrantResponse.{field}");
    }
}
