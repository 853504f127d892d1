//! TEP tokens end to end on both engines: minting, the extractor, scopes, attacks,
//! revocation, key persistence and rotation.

use crate::support::{on_both_engines, seed};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http_body_util::BodyExt;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use std::sync::Arc;
use time::Duration;
use tmcp_contract_tests::Fixture;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::user::Role;
use tmcp_domain::{Clock, UserId};
use tmcp_http::auth::keys::{load_key_ring, rotate};
use tmcp_http::auth::TepPrincipal;
use tmcp_http::{ApiError, AppState};
use tmcp_repository::NewUser;
use tower::ServiceExt;

const CLIENT: &str = "ma_tep_test";

struct Setup {
    fixture: Fixture,
    state: AppState,
    user: UserId,
}

async fn setup(fixture: Fixture) -> Setup {
    let clock: Arc<dyn Clock> = Arc::new(fixture.clock.clone());
    let state = tmcp_http::testing::state(Arc::clone(&fixture.db), clock).await;
    let now = fixture.clock.now();
    let user = UserId(uuid::Uuid::now_v7());
    fixture
        .db
        .create_user(NewUser {
            id: user,
            username: "tep_user".into(),
            email: "tep@example.com".into(),
            password_hash: "x".into(),
            first_name: Some("Tep".into()),
            last_name: None,
            phone_ciphertext: None,
            role: Role::User,
            created_at: now,
        })
        .await
        .expect("user");
    let scopes = ["storage:read", "storage:write", "user:read"];
    seed::client(&fixture, CLIENT, "TEP test app", &scopes).await;
    Setup {
        fixture,
        state,
        user,
    }
}

async fn mint(setup: &Setup, scopes: &str) -> String {
    let now = setup.fixture.clock.now();
    seed::tep(&setup.state, now, Some(setup.user), CLIENT, scopes, None).await
}

fn protected(state: AppState) -> Router {
    let routes = Router::new().route(
        "/protected",
        get(|principal: TepPrincipal| async move {
            principal.require_scope("storage:read")?;
            Ok::<_, ApiError>(Json(json!({
                "user": principal.user_id.map(|u| u.to_string()),
                "client": principal.client_id,
                "app": principal.app_id()?.to_string(),
            })))
        }),
    );
    tmcp_http::with_layers(routes, state)
}

async fn call(state: &AppState, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::get("/protected");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = protected(state.clone())
        .oneshot(request.body(Body::empty()).expect("req"))
        .await
        .expect("ok");
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED {
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn code(body: &Value) -> &str {
    crate::support::error_code(body)
}

/// Re-signs `claims` with `header` using an HMAC secret: the classic key-confusion forgery.
fn forge(header: Value, claims: &Value, secret: &[u8]) -> String {
    use jsonwebtoken::{EncodingKey, Header};
    let mut h = Header::new(Algorithm::HS256);
    h.kid = header["kid"].as_str().map(str::to_owned);
    let jws = jsonwebtoken::encode(&h, claims, &EncodingKey::from_secret(secret)).expect("forged");
    format!("tep.{jws}")
}

fn parts(token: &str) -> (Value, Value, String) {
    let jws = token.strip_prefix("tep.").expect("prefix");
    let mut it = jws.split('.');
    let header = it.next().expect("header");
    let payload = it.next().expect("payload");
    let signature = it.next().expect("signature").to_owned();
    let decode = |s: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).expect("b64")).expect("json")
    };
    (decode(header), decode(payload), signature)
}

fn assemble(header: &Value, payload: &Value, signature: &str) -> String {
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("tep.{}.{}.{}", enc(header), enc(payload), signature)
}

async fn valid_token_reaches_the_route(setup: Setup) {
    let token = mint(&setup, "storage:read storage:write").await;
    let (status, body) = call(&setup.state, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"], setup.user.to_string());
    assert_eq!(body["app"], CLIENT);
    let (_, claims, _) = parts(&token);
    assert_eq!(claims["token_type"], "tep_access_token");
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(claims["wallet_id"].as_str().map(|w| w.len()), Some(35));
    assert_eq!(
        claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0),
        86_400
    );
}

async fn missing_scope_is_forbidden(setup: Setup) {
    let token = mint(&setup, "user:read").await;
    let (status, body) = call(&setup.state, Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&body), "INSUFFICIENT_PERMISSIONS");
    assert_eq!(body["error"]["details"]["required_scope"], "storage:read");
}

async fn forged_and_broken_tokens_are_refused(setup: Setup) {
    let token = mint(&setup, "storage:read").await;
    // The genuine token is verified (and its verification cached) first: every forgery
    // below differs in its text, so it must be verified from scratch and fail.
    assert_eq!(call(&setup.state, Some(&token)).await.0, StatusCode::OK);
    let (header, claims, signature) = parts(&token);

    let mut none_header = header.clone();
    none_header["alg"] = json!("none");
    let alg_none = assemble(&none_header, &claims, "")
        .trim_end_matches('.')
        .to_string();
    let jwk = setup.state.tep.jwks()["keys"][0].clone();
    let public_as_secret = serde_json::to_vec(&jwk).expect("jwk bytes");
    let mut tampered = claims.clone();
    tampered["scope"] = json!("storage:read storage:write wallet:pay");
    let mut other_aud = claims.clone();
    other_aud["aud"] = json!("ma_someone_else");
    let mut unknown_kid = header.clone();
    unknown_kid["kid"] = json!("no-such-key-id");

    let cases = [
        ("missing", None),
        (
            "no prefix",
            Some(token.trim_start_matches("tep.").to_owned()),
        ),
        ("garbage", Some("tep.not-a-jwt".to_owned())),
        ("alg none", Some(alg_none)),
        (
            "alg none, empty signature",
            Some(assemble(&none_header, &claims, "")),
        ),
        (
            "HS256 keyed with the public key",
            Some(forge(header.clone(), &claims, &public_as_secret)),
        ),
        (
            "HS256 keyed with n",
            Some(forge(
                header.clone(),
                &claims,
                jwk["n"].as_str().unwrap_or("").as_bytes(),
            )),
        ),
        (
            "tampered scope",
            Some(assemble(&header, &tampered, &signature)),
        ),
        (
            "wrong audience",
            Some(assemble(&header, &other_aud, &signature)),
        ),
        (
            "unknown kid",
            Some(assemble(&unknown_kid, &claims, &signature)),
        ),
    ];
    for (name, candidate) in cases {
        let (status, body) = call(&setup.state, candidate.as_deref()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        assert_eq!(code(&body), "INVALID_TOKEN", "{name}");
    }
}

async fn expired_tokens_are_refused(setup: Setup) {
    let token = mint(&setup, "storage:read").await;
    assert_eq!(
        call(&setup.state, Some(&token)).await.0,
        StatusCode::OK,
        "cached while valid"
    );
    setup
        .fixture
        .clock
        .advance(Duration::hours(24) + Duration::seconds(31));
    let (status, body) = call(&setup.state, Some(&token)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "INVALID_TOKEN")
    );
}

/// Expiry is decided by the injected clock alone, never the wall clock: a token minted and
/// checked a year ago (by the clock) is valid then, and one minted a year ahead is valid
/// there. With the JWT library's own time checks on, both would be refused.
async fn only_the_injected_clock_decides_expiry(setup: Setup) {
    let clock = &setup.fixture.clock;
    let start = clock.now();
    for offset in [Duration::days(-365), Duration::days(365)] {
        clock.set(start + offset);
        let token = mint(&setup, "storage:read").await;
        let (status, body) = call(&setup.state, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "minted at {offset}: {body}");
    }
}

/// The leeway is small: an expired token is accepted for at most the configured skew
/// (default 5 s) after `exp`, then refused.
async fn expired_tokens_get_only_the_small_leeway(setup: Setup) {
    let leeway = setup.state.tep.settings().leeway_seconds;
    assert!(leeway <= 10, "leeway {leeway}s");
    let token = mint(&setup, "storage:read").await;
    let (_, payload, _) = parts(&token);
    let exp = payload["exp"].as_i64().expect("exp");
    let at = |seconds: i64| time::OffsetDateTime::from_unix_timestamp(seconds).expect("valid time");
    // Fresh calls each time: past the 1 s liveness cache.
    setup
        .fixture
        .clock
        .set(at(exp + i64::try_from(leeway).expect("small")));
    assert_eq!(call(&setup.state, Some(&token)).await.0, StatusCode::OK);
    setup
        .fixture
        .clock
        .set(at(exp + i64::try_from(leeway).expect("small") + 1));
    let (status, body) = call(&setup.state, Some(&token)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "INVALID_TOKEN"),
        "{body}"
    );
}

async fn revocation_kills_live_tokens(setup: Setup) {
    let token = mint(&setup, "storage:read").await;
    assert_eq!(call(&setup.state, Some(&token)).await.0, StatusCode::OK);
    let (_, claims, _) = parts(&token);
    let jti = claims["jti"].as_str().expect("jti").to_owned();
    let hash = tmcp_http::auth::tep::token_hash(&jti);
    assert!(setup
        .state
        .db
        .revoke_token(&hash, setup.fixture.clock.now())
        .await
        .expect("revoked"));
    setup.state.tep.forget(&jti);
    assert_eq!(
        call(&setup.state, Some(&token)).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Withdrawing the grant kills every token issued before, not those issued after.
    let before = mint(&setup, "storage:read").await;
    setup.fixture.clock.advance(Duration::milliseconds(5));
    setup
        .state
        .db
        .revoke_consent(setup.user, CLIENT, setup.fixture.clock.now())
        .await
        .expect("grant withdrawn");
    setup.state.tep.forget_all();
    assert_eq!(
        call(&setup.state, Some(&before)).await.0,
        StatusCode::UNAUTHORIZED
    );
    setup.fixture.clock.advance(Duration::milliseconds(5));
    let after = mint(&setup, "storage:read").await;
    assert_eq!(call(&setup.state, Some(&after)).await.0, StatusCode::OK);
}

async fn keys_persist_and_rotate(setup: Setup) {
    let db = setup.state.db.as_ref();
    let cipher = FieldCipher::new(&[7u8; 32]).expect("key");
    let now = setup.fixture.clock.now();
    let first = load_key_ring(db, &cipher, Algorithm::RS256, now)
        .await
        .expect("loaded");
    let again = load_key_ring(db, &cipher, Algorithm::RS256, now)
        .await
        .expect("loaded");
    assert_eq!(
        first.signing_kid, again.signing_kid,
        "never regenerated at start-up"
    );

    let wrong = FieldCipher::new(&[9u8; 32]).expect("key");
    let refused = load_key_ring(db, &wrong, Algorithm::RS256, now).await;
    let message = refused.err().map(|e| format!("{e:#}")).unwrap_or_default();
    assert!(message.contains("cannot decrypt"), "{message}");
    let still = load_key_ring(db, &cipher, Algorithm::RS256, now)
        .await
        .expect("loaded");
    assert_eq!(
        still.signing_kid, first.signing_kid,
        "a wrong key did not cause a new one"
    );

    let old_token = mint(&setup, "storage:read").await;
    let new_kid = rotate(db, &cipher, Algorithm::RS256, now, Duration::hours(24))
        .await
        .expect("rotated");
    let ring = load_key_ring(db, &cipher, Algorithm::RS256, now)
        .await
        .expect("reloaded");
    assert_eq!(ring.signing_kid, new_kid);
    setup.state.tep.reload(ring);
    let kids: Vec<String> = setup.state.tep.jwks()["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str().map(str::to_owned))
        .collect();
    assert!(
        kids.contains(&first.signing_kid) && kids.contains(&new_kid),
        "{kids:?}"
    );
    assert_eq!(
        call(&setup.state, Some(&old_token)).await.0,
        StatusCode::OK,
        "old tokens still verify"
    );
    let new_token = mint(&setup, "storage:read").await;
    assert_eq!(parts(&new_token).0["kid"], new_kid.as_str());
    assert_eq!(call(&setup.state, Some(&new_token)).await.0, StatusCode::OK);
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "current_thread");
    valid_token_reaches_the_route,
    missing_scope_is_forbidden,
    forged_and_broken_tokens_are_refused,
    expired_tokens_are_refused,
    only_the_injected_clock_decides_expiry,
    expired_tokens_get_only_the_small_leeway,
    revocation_kills_live_tokens,
    keys_persist_and_rotate,
);
