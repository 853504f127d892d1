//! Request validation: every malformed field is a 400 or 422 envelope, never a 500, and
//! nothing is created.

use super::*;
use crate::support::on_both_engines;

on_both_engines!(setup = setup, runtime = (flavor = "multi_thread", worker_threads = 4);
    amounts_and_currencies_are_parsed_exactly,
    malformed_fields_are_refused_with_envelopes,
);

async fn amounts_and_currencies_are_parsed_exactly(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    let with = |amount: Value, currency: &str, key: &str| {
        let mut b = body("1.00", key);
        b["amount"] = amount;
        b["currency"] = currency.into();
        b["items"] = json!([]);
        b
    };
    for (i, good) in [json!("12.50"), json!(12.5), json!("0.01"), json!(7)]
        .into_iter()
        .enumerate()
    {
        let reply = pay
            .request(&token, &with(good.clone(), "USD", &format!("g{i}")))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{good}: {}", reply.text);
    }
    let jpy = pay.request(&token, &with(json!(1250), "JPY", "jpy")).await;
    assert_eq!(jpy.status, StatusCode::CREATED, "{}", jpy.text);
    assert_eq!(jpy.json["amount"], "1250");
    for (i, bad) in [
        json!("12.505"),
        json!(12.505),
        json!(0),
        json!("-1.00"),
        json!(-1),
        json!("1e3"),
        json!("abc"),
        json!(""),
        json!("99999999999999999999"),
        json!(null),
        json!(true),
        json!([1]),
    ]
    .into_iter()
    .enumerate()
    {
        let reply = pay
            .request(&token, &with(bad.clone(), "USD", &format!("b{i}")))
            .await;
        assert!(
            matches!(reply.status.as_u16(), 400 | 422),
            "{bad}: {} {}",
            reply.status,
            reply.text
        );
        assert!(
            reply.json["error"]["code"].is_string(),
            "{bad}: an envelope"
        );
    }
    // Exponents are not decimals in major units (sent as raw JSON text).
    for (i, number) in ["1e3", "1E+2", "-0", "01.00x"].into_iter().enumerate() {
        let text = format!(
            "{{\"amount\": {number}, \"currency\": \"USD\", \"description\": \"d\", \
             \"idempotency_key\": \"raw{i}\"}}"
        );
        let reply = pay
            .call_text(Method::POST, "/api/v1/payments/request", &token, &text)
            .await;
        assert!(
            matches!(reply.status.as_u16(), 400 | 422),
            "{number}: {}",
            reply.text
        );
    }
    let fractional_yen = pay.request(&token, &with(json!("12.5"), "JPY", "y1")).await;
    assert_eq!(fractional_yen.status, StatusCode::BAD_REQUEST);
    for code in ["XXX", "usd", "US", ""] {
        let reply = pay
            .request(&token, &with(json!("1.00"), code, &format!("c{code}")))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{code}: {}",
            reply.text
        );
    }
    let list = pay.get(&token, "/api/v1/payments?limit=100").await;
    assert_eq!(list.json["payments"].as_array().map(Vec::len), Some(5));
}

async fn malformed_fields_are_refused_with_envelopes(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    let cases: Vec<(&str, Value)> = vec![
        ("description", json!("a\u{0}b")),
        ("description", json!("")),
        ("description", json!("d".repeat(501))),
        ("merchant_order_id", json!("o".repeat(256))),
        ("merchant_order_id", json!("a\u{1}")),
        ("metadata", json!([1, 2])),
        ("metadata", json!({"big": "x".repeat(5000)})),
        ("metadata", json!({"nul": "a\u{0}"})),
        ("callback_url", json!("ftp://x")),
        ("callback_url", json!("not a url")),
        ("idempotency_key", json!("")),
        ("idempotency_key", json!("has space")),
        ("idempotency_key", json!("k".repeat(256))),
        (
            "items",
            json!([{"item_id": "", "name": "x", "quantity": 1, "unit_price": "1.00"}]),
        ),
        (
            "items",
            json!([{"item_id": "a", "name": "x", "quantity": 0, "unit_price": "1.00"}]),
        ),
        (
            "items",
            json!([{"item_id": "a", "name": "x", "quantity": 1, "unit_price": "1.001"}]),
        ),
        (
            "items",
            json!([{"item_id": "a", "name": "x", "quantity": 1.5, "unit_price": "1"}]),
        ),
        (
            "items",
            json!(vec![
                json!({"item_id": "a", "name": "x", "quantity": 1, "unit_price": "1"});
                101
            ]),
        ),
        ("unknown", json!(1)),
    ];
    for (i, (field, value)) in cases.into_iter().enumerate() {
        let mut b = body("1.00", &format!("v{i}"));
        b[field] = value.clone();
        let reply = pay.request(&token, &b).await;
        assert!(
            matches!(reply.status.as_u16(), 400 | 422),
            "{field}={value}: {} {}",
            reply.status,
            reply.text
        );
        assert!(reply.json["error"]["code"].is_string());
    }
    // Missing required fields, broken JSON, the wrong content type.
    for missing in ["amount", "currency", "description", "idempotency_key"] {
        let mut b = body("1.00", "m");
        b.as_object_mut().map(|o| o.remove(missing));
        let reply = pay.request(&token, &b).await;
        assert!(matches!(reply.status.as_u16(), 400 | 422), "{missing}");
    }
    let broken = pay
        .call_text(
            Method::POST,
            "/api/v1/payments/request",
            &token,
            "{\"amount\":",
        )
        .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    let list = pay.get(&token, "/api/v1/payments").await;
    assert_eq!(list.json["payments"].as_array().map(Vec::len), Some(0));
}
