//! Payment methods: tokens only, one default, the caller's own methods only.

use super::{code, setup, Wallet};
use crate::support::on_both_engines;
use axum::http::{Method, StatusCode};
use serde_json::json;

const METHODS: &str = "/wallet/v1/payment-methods";

async fn methods_are_tokens_with_one_default_and_private(w: Wallet) {
    let first = w.add_card(w.alice(), "pm_sandbox_ok-alice1").await;
    let second = w.add_card(w.alice(), "pm_sandbox_ok-alice2").await;
    let list = w.call(Method::GET, METHODS, None, w.alice()).await;
    assert_eq!(list.status, StatusCode::OK);
    let methods = list.json()["payment_methods"].clone();
    assert_eq!(methods.as_array().map(Vec::len), Some(2));
    assert_eq!(methods[0]["id"], first.as_str());
    assert_eq!(
        methods[0]["is_default"], true,
        "the first method is the default"
    );
    assert_eq!(methods[1]["is_default"], false);
    assert_eq!(methods[0]["method_data"]["last4"], "4242");

    // Refused before anything is stored.
    for (body, status) in [
        (
            json!({"type": "card", "provider": "sandbox", "provider_method_id": "pm_sandbox_ok-x",
                "method_data": {"number": "4242424242424242"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"type": "card", "provider": "sandbox", "provider_method_id": "pm_sandbox_ok-x",
                "method_data": {"cvv": "123"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"type": "card", "provider": "sandbox", "provider_method_id": "pm_sandbox_ok-x",
                "method_data": {"note": "4242 4242 4242 4242"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"type": "card", "provider": "stripe", "provider_method_id": "pm_1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"type": "card", "provider": "sandbox", "provider_method_id": "pm_real_card"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"type": "cash", "provider": "sandbox", "provider_method_id": "pm_sandbox_ok-y"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"type": "card", "provider": "sandbox", "provider_method_id": "pm_sandbox_ok-alice1"}),
            StatusCode::CONFLICT,
        ),
        (
            json!({"type": "card", "provider": "sandbox"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let reply = w
            .call(Method::POST, METHODS, Some(body.clone()), w.alice())
            .await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text());
        assert!(!code(&reply).is_empty(), "an envelope: {}", reply.text());
    }
    // The same token is taken for bob too: tokens are unique across users.
    let taken = w
        .call(
            Method::POST,
            METHODS,
            Some(json!({"type": "card", "provider": "sandbox", "provider_method_id": "pm_sandbox_ok-alice2"})),
            &w.bob,
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(code(&taken), "CONFLICT");

    // Bob sees none of alice's methods and cannot touch them.
    let bobs = w.call(Method::GET, METHODS, None, &w.bob).await;
    assert_eq!(bobs.json()["payment_methods"], json!([]));
    let path = format!("{METHODS}/{first}");
    assert_eq!(
        w.call(Method::DELETE, &path, None, &w.bob).await.status,
        StatusCode::NOT_FOUND
    );
    let steal = w
        .call(Method::POST, &format!("{path}/default"), None, &w.bob)
        .await;
    assert_eq!(steal.status, StatusCode::NOT_FOUND);
    assert_eq!(code(&steal), "NOT_FOUND");
    let garbage = w
        .call(
            Method::DELETE,
            &format!("{METHODS}/not-a-uuid"),
            None,
            w.alice(),
        )
        .await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);

    // Alice moves the default and removes a method.
    let made = w
        .call(
            Method::POST,
            &format!("{METHODS}/{second}/default"),
            None,
            w.alice(),
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    assert_eq!(made.json()["is_default"], true);
    let list = w.call(Method::GET, METHODS, None, w.alice()).await.json();
    let defaults: Vec<bool> = list["payment_methods"]
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["is_default"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(defaults, [false, true]);
    assert_eq!(
        w.call(Method::DELETE, &path, None, w.alice()).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        w.call(Method::DELETE, &path, None, w.alice()).await.status,
        StatusCode::NOT_FOUND
    );
    let left = w.call(Method::GET, METHODS, None, w.alice()).await.json();
    assert_eq!(left["payment_methods"].as_array().map(Vec::len), Some(1));

    // No session, no methods.
    let anonymous = w.call(Method::GET, METHODS, None, "st_nope").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

on_both_engines!(setup = setup, runtime = (flavor = "multi_thread", worker_threads = 2);
    methods_are_tokens_with_one_default_and_private,
);
