//! The authorization code flow with PKCE, through the login page, and how it fails.

use super::*;
use crate::support::on_both_engines;
use crate::support::*;
use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

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

on_both_engines!(
    setup = Env::new,
    runtime = (flavor = "current_thread");
    code_flow_with_pkce_through_the_login_page,
    wrong_verifier_wrong_redirect_and_expired_codes_fail,
);
