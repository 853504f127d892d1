//! One payment at a time: request, replay, authorize, read, fail, expire.

use super::*;
use crate::support::on_both_engines;

on_both_engines!(setup = setup, runtime = (flavor = "multi_thread", worker_threads = 4);
    request_authorize_and_read_back,
    replays_answer_the_first_reply_and_other_bodies_conflict,
    insufficient_funds_fail_the_payment_cleanly,
    the_session_authorizes_and_the_fee_goes_to_the_platform,
    requests_expire_after_five_minutes,
    listing_pages_newest_first_with_a_status_filter,
    rate_limits_apply_per_user_and_app,
);

async fn request_authorize_and_read_back(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 10_000).await;
    let created = pay.request(&token, &body("12.5", "k1")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let p = &created.json;
    assert_eq!(p["status"], "pending_authorization");
    assert_eq!(p["amount"], "12.50");
    assert_eq!(p["currency"], "USD");
    assert_eq!(p["merchant"]["app_id"], SHOP);
    assert_eq!(p["merchant"]["name"], format!("App {SHOP}"));
    assert_eq!(p["mfa_required"], false);
    assert_eq!(p["items"][0]["unit_price"], "1.25");
    let created_at = time::OffsetDateTime::parse(
        p["created_at"].as_str().expect("created_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    let expires_at = time::OffsetDateTime::parse(
        p["expires_at"].as_str().expect("expires_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    assert_eq!(expires_at - created_at, Duration::minutes(5));
    assert!(created.headers.contains_key("x-ratelimit-limit"));
    let id = p["payment_id"].as_str().expect("id").to_owned();

    let read = pay.get(&token, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json["status"], "pending_authorization");

    let done = pay.authorize(&token, &id).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.json["status"], "completed");
    assert!(done.json["completed_at"].is_string());
    assert_eq!(
        pay.balance(WalletOwner::User(pay.alice)).await,
        10_000 - 1_250
    );
    let shop = tmcp_domain::AppId::parse(SHOP).expect("app id");
    assert_eq!(pay.balance(WalletOwner::Merchant(shop)).await, 1_250);

    // Any other transition is refused.
    let again = pay.authorize(&token, &id).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "INVALID_STATE_TRANSITION");
    assert_eq!(again.json["error"]["details"]["status"], "completed");
    let read = pay.get(&token, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(read.json["status"], "completed");
    pay.assert_ledger_clean().await;
}

async fn replays_answer_the_first_reply_and_other_bodies_conflict(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    let first = pay.request(&token, &body("3.00", "same")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    // The same body with its keys in another order and other spacing is the same request.
    let text = body("3.00", "same").to_string();
    let value: serde_json::Map<String, Value> = serde_json::from_str(&text).expect("object");
    let reordered = value
        .iter()
        .rev()
        .map(|(k, v)| format!("{k:?} :  {v}"))
        .collect::<Vec<_>>()
        .join(" ,\n ");
    let replay = pay
        .call_text(
            Method::POST,
            "/api/v1/payments/request",
            &token,
            &format!("{{ {reordered} }}"),
        )
        .await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.text);
    assert_eq!(replay.text, first.text, "byte for byte");

    let other = pay.request(&token, &body("3.01", "same")).await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    assert_eq!(other.code(), "DUPLICATE_TRANSACTION");

    // The same key of another app, or of another user, is another key.
    let cafe = pay.tep(Some(pay.alice), CAFE, PAY).await;
    assert_eq!(
        pay.request(&cafe, &body("3.00", "same")).await.status,
        StatusCode::CREATED
    );
    let bob = pay.tep(Some(pay.bob), SHOP, PAY).await;
    assert_eq!(
        pay.request(&bob, &body("3.00", "same")).await.status,
        StatusCode::CREATED
    );
}

async fn insufficient_funds_fail_the_payment_cleanly(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 500).await;
    let id = pay.new_payment(&token, "7.25", "short").await;
    let refused = pay.authorize(&token, &id).await;
    assert_eq!(
        refused.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        refused.text
    );
    assert_eq!(refused.code(), "INSUFFICIENT_FUNDS");
    let details = &refused.json["error"]["details"];
    assert_eq!(
        (details["required"].as_str(), details["available"].as_str()),
        (Some("7.25"), Some("5.00"))
    );
    let read = pay.get(&token, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(read.json["status"], "failed");
    assert_eq!(read.json["failure_reason"], "insufficient_funds");
    assert_eq!(pay.balance(WalletOwner::User(pay.alice)).await, 500);
    // A failed payment stays failed.
    assert_eq!(
        pay.authorize(&token, &id).await.status,
        StatusCode::CONFLICT
    );

    // Without any wallet at all: the same answer, nothing available.
    let bob = pay.tep(Some(pay.bob), SHOP, PAY).await;
    let id = pay.new_payment(&bob, "1.00", "nowallet").await;
    let refused = pay.authorize(&bob, &id).await;
    assert_eq!(refused.code(), "INSUFFICIENT_FUNDS");
    assert_eq!(refused.json["error"]["details"]["available"], "0.00");
    pay.assert_ledger_clean().await;
}

async fn the_session_authorizes_and_the_fee_goes_to_the_platform(mut pay: Pay) {
    std::sync::Arc::make_mut(&mut pay.env.state.settings)
        .payments
        .fee_basis_points = 250;
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 5_000).await;
    let id = pay.new_payment(&token, "40", "fee").await;
    let session = pay.env.session.clone();
    let done = pay.authorize(&session, &id).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let shop = tmcp_domain::AppId::parse(SHOP).expect("app id");
    assert_eq!(pay.balance(WalletOwner::Merchant(shop)).await, 3_900);
    assert_eq!(pay.balance(WalletOwner::Platform).await, 100);
    assert_eq!(pay.balance(WalletOwner::User(pay.alice)).await, 1_000);
    // The session sees its payments of every app.
    let list = pay.get(&session, "/api/v1/payments").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.json["payments"][0]["payment_id"], id.as_str());
    pay.assert_ledger_clean().await;
}

async fn requests_expire_after_five_minutes(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 5_000).await;
    let id = pay.new_payment(&token, "1.00", "late").await;
    pay.env.fixture.clock.advance(Duration::minutes(4));
    let read = pay.get(&token, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(read.json["status"], "pending_authorization");
    pay.env.fixture.clock.advance(Duration::minutes(1));
    let read = pay.get(&token, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(read.json["status"], "expired", "lazily, on read");
    let late = pay.authorize(&token, &id).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(late.json["error"]["details"]["status"], "expired");

    // Lazily on the transition too, without a read first.
    let id = pay.new_payment(&token, "1.00", "later").await;
    pay.env.fixture.clock.advance(Duration::minutes(6));
    let late = pay.authorize(&token, &id).await;
    assert_eq!(late.code(), "INVALID_STATE_TRANSITION");
    assert_eq!(pay.balance(WalletOwner::User(pay.alice)).await, 5_000);
    pay.assert_ledger_clean().await;
}

async fn listing_pages_newest_first_with_a_status_filter(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 10_000).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(pay.new_payment(&token, "1.00", &format!("list{i}")).await);
        pay.env.fixture.clock.advance(Duration::milliseconds(5));
    }
    assert_eq!(pay.authorize(&token, &ids[1]).await.status, StatusCode::OK);
    let page = pay.get(&token, "/api/v1/payments?limit=2").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let got: Vec<&str> = page.json["payments"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|p| p["payment_id"].as_str())
        .collect();
    assert_eq!(got, vec![ids[4].as_str(), ids[3].as_str()]);
    assert_eq!(page.json["pagination"]["has_more"], true);
    let cursor = page.json["pagination"]["next_cursor"]
        .as_str()
        .expect("cursor");
    let next = pay
        .get(&token, &format!("/api/v1/payments?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(next.json["payments"][0]["payment_id"], ids[2].as_str());
    let done = pay.get(&token, "/api/v1/payments?status=completed").await;
    assert_eq!(done.json["payments"].as_array().map(Vec::len), Some(1));
    assert_eq!(done.json["payments"][0]["payment_id"], ids[1].as_str());
    for bad in [
        "status=paid",
        "limit=0",
        "limit=101",
        "cursor=%%%",
        "cursor=bm9wZQ",
    ] {
        let reply = pay.get(&token, &format!("/api/v1/payments?{bad}")).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            reply.text
        );
    }
}

async fn rate_limits_apply_per_user_and_app(mut pay: Pay) {
    std::sync::Arc::make_mut(&mut pay.env.state.settings).payments =
        tmcp_usecases::payments::PaymentSettings::default();
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    for i in 0..5 {
        pay.new_payment(&token, "1.00", &format!("rl{i}")).await;
    }
    let limited = pay.request(&token, &body("1.00", "rl5")).await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.text
    );
    assert!(limited.headers.contains_key("retry-after"));
    // Another app of the same user has its own bucket.
    let cafe = pay.tep(Some(pay.alice), CAFE, PAY).await;
    let id = pay.new_payment(&cafe, "1.00", "rl-cafe").await;
    // Authorizations: 3 per user.
    for _ in 0..3 {
        let reply = pay.authorize(&cafe, &id).await;
        assert_ne!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    }
    let limited = pay.authorize(&cafe, &id).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
}
