//! Interoperability with implementations that share no code with ours, against a real
//! loopback listener: the `oauth2` crate completes code + PKCE and a refresh, and
//! `jwt-simple` (pure-Rust RSA) verifies the TEP with the key from `/.well-known/jwks.json`.

use crate::support::on_both_engines;
use crate::support::*;
use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_simple::prelude::{HashSet, RS256PublicKey, RSAPublicKeyLike, VerificationOptions};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope,
    TokenResponse, TokenUrl,
};
use serde_json::{Map, Value};

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Plays the user agent: shows the consent page with the session cookie and approves.
async fn consent_in_browser(env: &Env, authorize_url: &str) -> String {
    let http = http_client();
    let session = env.session_cookie();
    let page = http
        .get(authorize_url)
        .header("cookie", &session)
        .send()
        .await
        .expect("consent page");
    assert_eq!(page.status(), StatusCode::OK);
    let csrf_cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tmcp_csrf="))
        .and_then(|v| v.split(';').next())
        .expect("csrf cookie")
        .to_owned();
    let html = page.text().await.expect("html");
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    let csrf = &html[start..start + html[start..].find('"').expect("end")];
    let url = url::Url::parse(authorize_url).expect("url");
    let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    form.push(("action".into(), "approve".into()));
    form.push(("csrf_token".into(), csrf.to_owned()));
    let base = format!("{}://{}", url.scheme(), url.authority());
    let decision = http
        .post(format!("{base}/oauth2/authorize"))
        .header("cookie", format!("{session}; {csrf_cookie}"))
        .form(&form)
        .send()
        .await
        .expect("decision");
    assert_eq!(decision.status(), StatusCode::SEE_OTHER);
    decision
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_owned()
}

async fn oauth2_crate_completes_code_with_pkce_and_refresh(mut env: Env) {
    let (base, server) = env.serve().await;
    let client = BasicClient::new(ClientId::new(PUBLIC.into()))
        .set_auth_uri(AuthUrl::new(format!("{base}/oauth2/authorize")).expect("auth url"))
        .set_token_uri(TokenUrl::new(format!("{base}/oauth2/token")).expect("token url"))
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).expect("redirect"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf_state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("storage:read".into()))
        .add_scope(Scope::new("user:read".into()))
        .set_pkce_challenge(challenge)
        .url();
    let location = consent_in_browser(&env, authorize_url.as_str()).await;
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some(csrf_state.secret().as_str())
    );
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(base.as_str())
    );
    let code = query_param(&location, "code").expect("code");

    let http = http_client();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the oauth2 crate accepts our token answer");
    let access = tokens.access_token().secret().clone();
    assert!(access.starts_with("tep."));
    let scopes: Vec<String> = tokens
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    assert_eq!(scopes, vec!["storage:read", "user:read"]);
    let refresh = tokens.refresh_token().expect("refresh token").clone();

    // A protected route accepts the token over the real listener.
    let called = http
        .get(format!("{base}/bench/tep"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("call");
    assert_eq!(called.status(), StatusCode::OK);

    let refreshed = client
        .exchange_refresh_token(&refresh)
        .request_async(&http)
        .await
        .expect("refresh through the oauth2 crate");
    assert_ne!(
        refreshed.refresh_token().map(|r| r.secret().clone()),
        Some(refresh.secret().clone())
    );

    // The code cannot be redeemed twice, even by a standard client.
    let (_, other_verifier) = PkceCodeChallenge::new_random_sha256();
    let replay = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(other_verifier)
        .request_async(&http)
        .await;
    assert!(replay.is_err());
    server.abort();
}

fn b64(value: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(value.as_str().expect("base64url member"))
        .expect("base64url")
}

async fn jwt_simple_verifies_a_tep_from_the_jwks(mut env: Env) {
    let (base, server) = env.serve().await;
    let http = http_client();
    let jwks: Value = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    let discovery: Value = http
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("metadata json");
    assert_eq!(
        discovery["jwks_uri"],
        format!("{base}/.well-known/jwks.json")
    );

    let exchanged: Value = http
        .post(format!("{base}/oauth2/token"))
        .form(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("client_id", PUBLIC),
            ("subject_token", env.session.as_str()),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("scope", "storage:read"),
        ])
        .send()
        .await
        .expect("exchange")
        .json()
        .await
        .expect("json");
    let token = exchanged["access_token"].as_str().expect("tep");
    let jws = token.strip_prefix("tep.").expect("prefix");
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jws.split('.').next().expect("header"))
            .expect("b64"),
    )
    .expect("header json");
    assert_eq!(header["alg"], "RS256");
    let kid = header["kid"].as_str().expect("kid");
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the token's key is published");
    assert_eq!(jwk["kty"], "RSA");
    let key = RS256PublicKey::from_components(&b64(&jwk["n"]), &b64(&jwk["e"])).expect("rsa key");
    let options = VerificationOptions {
        allowed_issuers: Some(HashSet::from_iter([base.clone()])),
        allowed_audiences: Some(HashSet::from_iter([PUBLIC.to_owned()])),
        ..VerificationOptions::default()
    };
    let verified = key
        .verify_token::<Map<String, Value>>(jws, Some(options.clone()))
        .expect("an independent library verifies the TEP");
    assert_eq!(
        verified.subject.as_deref(),
        Some(env.user.to_string().as_str())
    );
    assert_eq!(verified.custom["token_type"], "tep_access_token");
    assert_eq!(verified.custom["scope"], "storage:read");
    assert_eq!(verified.custom["client_id"], PUBLIC);

    // And it refuses a tampered one.
    let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("b64")).expect("json");
    claims["scope"] = Value::from("storage:read wallet:pay");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    assert!(key
        .verify_token::<Map<String, Value>>(&parts.join("."), Some(options))
        .is_err());
    server.abort();
}

on_both_engines!(
    setup = Env::new,
    runtime = (flavor = "current_thread");
    oauth2_crate_completes_code_with_pkce_and_refresh,
    jwt_simple_verifies_a_tep_from_the_jwks,
);
