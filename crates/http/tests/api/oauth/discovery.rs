//! Discovery documents and the OAuth routes in the OpenAPI document.

use crate::support::on_both_engines;
use crate::support::*;
use axum::http::StatusCode;

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

on_both_engines!(
    setup = Env::new,
    runtime = (flavor = "current_thread");
    discovery_documents_describe_the_server,
);
