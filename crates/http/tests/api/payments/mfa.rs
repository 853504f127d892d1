//! At or above the MFA threshold: the amount is held, a challenge answered by TOTP, PIN or a
//! biometric device signature completes the payment; wrong proofs count down to a lock that
//! fails it and releases the hold; challenges expire after 3 minutes.

use super::*;
use crate::support::on_both_engines;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tmcp_domain::auth::totp::TotpKey;

on_both_engines!(setup = setup, runtime = (flavor = "multi_thread", worker_threads = 4);
    totp_verifies_counts_down_and_locks,
    pin_challenges_expire_and_are_renewed,
    biometric_signatures_complete_the_payment,
    without_a_factor_or_funds_nothing_is_held,
    an_unverified_payment_expires_and_releases_its_hold,
    every_method_locks_after_three_failures_and_expires,
);

const PIN: &str = "482915";

impl Pay {
    async fn session_call(&self, path: &str, body: Value) -> Reply {
        let session = self.env.session.clone();
        self.call(Method::POST, path, &session, Some(&body)).await
    }

    async fn enrol_totp(&self) -> TotpKey {
        let enrol = self
            .session_call(
                "/api/v1/auth/mfa/methods",
                json!({"type": "totp", "password": support::PASSWORD}),
            )
            .await;
        assert_eq!(enrol.status, StatusCode::CREATED, "{}", enrol.text);
        let key = TotpKey::from_base32(enrol.json["secret_base32"].as_str().expect("secret"))
            .expect("key");
        let id = enrol.json["method_id"].as_str().expect("id");
        let confirmed = self
            .session_call(
                &format!("/api/v1/auth/mfa/methods/{id}/confirm"),
                json!({"code": key.code_at(self.unix())}),
            )
            .await;
        assert_eq!(confirmed.status.as_u16() / 100, 2, "{}", confirmed.text);
        // The confirmation used this time step; the next proof needs a later one.
        self.env.fixture.clock.advance(Duration::seconds(30));
        key
    }

    async fn enrol_pin(&self) {
        let enrol = self
            .session_call(
                "/api/v1/auth/mfa/methods",
                json!({"type": "transaction_pin", "password": support::PASSWORD, "pin": PIN}),
            )
            .await;
        assert_eq!(enrol.status, StatusCode::CREATED, "{}", enrol.text);
    }

    async fn enrol_biometric(&self) -> EcdsaKeyPair {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("p256");
        let spki = pair.public_key().as_der().expect("spki").as_ref().to_vec();
        let device = self
            .session_call(
                "/api/v1/devices",
                json!({"device_id": "phone", "device_type": "mobile", "platform": "android",
                       "public_key": {"alg": "ES256", "spki_b64": STANDARD.encode(&spki)}}),
            )
            .await;
        assert_eq!(device.status, StatusCode::CREATED, "{}", device.text);
        let enrol = self
            .session_call(
                "/api/v1/auth/mfa/methods",
                json!({"type": "biometric", "password": support::PASSWORD, "device_id": "phone"}),
            )
            .await;
        assert_eq!(enrol.status, StatusCode::CREATED, "{}", enrol.text);
        pair
    }

    fn unix(&self) -> u64 {
        u64::try_from(self.env.fixture.clock.now().unix_timestamp()).expect("positive")
    }

    async fn available(&self, owner: WalletOwner) -> i64 {
        self.env
            .fixture
            .db
            .find_wallet_account(&owner, usd())
            .await
            .expect("readable")
            .map_or(0, |a| a.available())
    }

    /// Requests and authorizes `amount`; returns the payment and its challenge id.
    async fn challenged(&self, token: &str, amount: &str, key: &str) -> (String, String) {
        let id = self.new_payment(token, amount, key).await;
        let reply = self.authorize(token, &id).await;
        assert_eq!(reply.status, StatusCode::PAYMENT_REQUIRED, "{}", reply.text);
        assert_eq!(reply.code(), "MFA_REQUIRED");
        let challenge = &reply.json["error"]["details"]["challenge"];
        assert_eq!(challenge["max_attempts"], 3);
        let challenge_id = challenge["challenge_id"]
            .as_str()
            .expect("challenge")
            .to_owned();
        (id, challenge_id)
    }

    /// Authorizes with a body (the optional device signature).
    async fn authorize_with(&self, token: &str, id: &str, body: Value) -> Reply {
        let path = format!("/api/v1/payments/{id}/authorize");
        self.call(Method::POST, &path, token, Some(&body)).await
    }

    /// Asks for a fresh challenge.
    async fn new_challenge(&self, token: &str, id: &str) -> Reply {
        let path = format!("/api/v1/payments/{id}/mfa/challenge");
        self.call(Method::POST, &path, token, None).await
    }

    async fn verify(&self, token: &str, id: &str, body: Value) -> Reply {
        let path = format!("/api/v1/payments/{id}/mfa/verify");
        self.call(Method::POST, &path, token, Some(&body)).await
    }
}

async fn totp_verifies_counts_down_and_locks(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 20_000).await;
    let key = pay.enrol_totp().await;
    let me = WalletOwner::User(pay.alice);

    let (id, challenge) = pay.challenged(&token, "60.00", "t1").await;
    assert_eq!(
        pay.available(me.clone()).await,
        14_000,
        "the amount is held"
    );
    assert_eq!(pay.balance(me.clone()).await, 20_000);
    let read = pay.get(&token, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(read.json["status"], "mfa_required");
    let wrong = pay
        .verify(
            &token,
            &id,
            json!({"challenge_id": challenge, "method": "totp", "code": "000000"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    assert_eq!(wrong.code(), "INVALID_MFA_CREDENTIALS");
    assert_eq!(wrong.json["error"]["details"]["attempts_remaining"], 2);
    let code = key.code_at(pay.unix());
    let done = pay
        .verify(
            &token,
            &id,
            json!({"challenge_id": challenge, "method": "totp", "code": code}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.json["status"], "completed");
    assert_eq!(pay.balance(me.clone()).await, 14_000);
    assert_eq!(pay.available(me.clone()).await, 14_000);
    let shop = tmcp_domain::AppId::parse(SHOP).expect("app id");
    assert_eq!(pay.balance(WalletOwner::Merchant(shop)).await, 6_000);

    // Three wrong proofs: the payment fails and its hold is released.
    let (id, challenge) = pay.challenged(&token, "70.00", "t2").await;
    assert_eq!(pay.available(me.clone()).await, 7_000);
    for remaining in [2, 1] {
        let wrong = pay
            .verify(
                &token,
                &id,
                json!({"challenge_id": challenge, "code": "111111"}),
            )
            .await;
        assert_eq!(
            wrong.json["error"]["details"]["attempts_remaining"],
            remaining
        );
    }
    let locked = pay
        .verify(
            &token,
            &id,
            json!({"challenge_id": challenge, "code": "111111"}),
        )
        .await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.text
    );
    assert_eq!(locked.code(), "MFA_LOCKED");
    let read = pay.get(&token, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(read.json["status"], "failed");
    assert_eq!(read.json["failure_reason"], "mfa_locked");
    assert_eq!(pay.available(me.clone()).await, 14_000);
    let again = pay.new_challenge(&token, &id).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    pay.assert_ledger_clean().await;
}

async fn pin_challenges_expire_and_are_renewed(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 10_000).await;
    pay.enrol_pin().await;
    let (id, challenge) = pay.challenged(&token, "50.00", "p1").await;
    pay.env.fixture.clock.advance(Duration::minutes(3));
    let late = pay
        .verify(
            &token,
            &id,
            json!({"challenge_id": challenge, "method": "pin", "pin": PIN}),
        )
        .await;
    assert_eq!(late.status, StatusCode::GONE, "{}", late.text);
    assert_eq!(late.code(), "MFA_CHALLENGE_EXPIRED");
    let fresh = pay.new_challenge(&token, &id).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    assert_eq!(
        fresh.json["challenge"]["methods"],
        json!(["transaction_pin"])
    );
    let renewed = fresh.json["challenge"]["challenge_id"]
        .as_str()
        .expect("id")
        .to_owned();
    // The replaced challenge no longer answers.
    let old = pay
        .verify(&token, &id, json!({"challenge_id": challenge, "pin": PIN}))
        .await;
    assert_eq!(old.code(), "MFA_CHALLENGE_EXPIRED");
    let unknown = pay
        .verify(
            &token,
            &id,
            json!({"challenge_id": "not-a-challenge", "pin": PIN}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let wrong = pay
        .verify(
            &token,
            &id,
            json!({"challenge_id": renewed, "method": "pin", "pin": "000001"}),
        )
        .await;
    assert_eq!(wrong.code(), "INVALID_MFA_CREDENTIALS");
    let done = pay
        .verify(
            &token,
            &id,
            json!({"challenge_id": renewed, "method": "pin", "pin": PIN}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(pay.balance(WalletOwner::User(pay.alice)).await, 5_000);
    pay.assert_ledger_clean().await;
}

async fn biometric_signatures_complete_the_payment(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 10_000).await;
    let pair = pay.enrol_biometric().await;
    let rng = SystemRandom::new();
    let sign = |payment: &str, ts: i64| {
        let message = format!("tmcp-mfa:payment:{payment}:phone:{ts}");
        STANDARD.encode(pair.sign(&rng, message.as_bytes()).expect("sign").as_ref())
    };
    let (id, challenge) = pay.challenged(&token, "80.00", "b1").await;
    let now = pay.env.fixture.clock.now().unix_timestamp();
    let forged = pay
        .verify(
            &token,
            &id,
            json!({"challenge_id": challenge, "method": "biometric",
            "device_id": "phone", "signature": sign("another-payment", now), "timestamp": now}),
        )
        .await;
    assert_eq!(forged.code(), "INVALID_MFA_CREDENTIALS", "{}", forged.text);
    let done = pay
        .verify(
            &token,
            &id,
            json!({"challenge_id": challenge, "method": "biometric",
            "device_id": "phone", "signature": sign(&id, now), "timestamp": now}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(pay.balance(WalletOwner::User(pay.alice)).await, 2_000);

    // The optional device signature on the authorization itself.
    let id = pay.new_payment(&token, "5.00", "b2").await;
    let amount_sig = |ts: i64| {
        let message = format!("{id}:500:USD:{ts}");
        STANDARD.encode(pair.sign(&rng, message.as_bytes()).expect("sign").as_ref())
    };
    let stale = now - 301;
    let refused = pay
        .authorize_with(
            &token,
            &id,
            json!({"device_id": "phone",
            "signature": amount_sig(stale), "timestamp": stale}),
        )
        .await;
    assert_eq!(refused.code(), "INVALID_SIGNATURE", "{}", refused.text);
    let unknown = pay
        .authorize_with(
            &token,
            &id,
            json!({"device_id": "tablet",
            "signature": amount_sig(now), "timestamp": now}),
        )
        .await;
    assert_eq!(unknown.code(), "DEVICE_NOT_REGISTERED");
    let signed = pay
        .authorize_with(
            &token,
            &id,
            json!({"device_id": "phone",
            "signature": amount_sig(now), "timestamp": now}),
        )
        .await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text);
    pay.assert_ledger_clean().await;
}

async fn without_a_factor_or_funds_nothing_is_held(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 3_000).await;
    let id = pay.new_payment(&token, "50.00", "n1").await;
    let refused = pay.authorize(&token, &id).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.code(), "MFA_NOT_ENROLLED");
    let read = pay.get(&token, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(read.json["status"], "pending_authorization");
    pay.enrol_pin().await;
    let short = pay.authorize(&token, &id).await;
    assert_eq!(short.status, StatusCode::PAYMENT_REQUIRED, "{}", short.text);
    assert_eq!(short.code(), "INSUFFICIENT_FUNDS");
    let read = pay.get(&token, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(read.json["status"], "failed");
    assert_eq!(pay.available(WalletOwner::User(pay.alice)).await, 3_000);
    pay.assert_ledger_clean().await;
}

async fn an_unverified_payment_expires_and_releases_its_hold(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 10_000).await;
    pay.enrol_pin().await;
    let (id, challenge) = pay.challenged(&token, "90.00", "e1").await;
    assert_eq!(pay.available(WalletOwner::User(pay.alice)).await, 1_000);
    pay.env.fixture.clock.advance(Duration::minutes(5));
    let read = pay.get(&token, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(read.json["status"], "expired");
    assert_eq!(pay.available(WalletOwner::User(pay.alice)).await, 10_000);
    let late = pay
        .verify(&token, &id, json!({"challenge_id": challenge, "pin": PIN}))
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    pay.assert_ledger_clean().await;
}

/// Lock and expiry are the challenge's rules, whatever the factor: for TOTP, PIN and
/// biometric alike, three wrong proofs fail the payment (429 `MFA_LOCKED`, hold released) and
/// a correct proof after 3 minutes is 410 `MFA_CHALLENGE_EXPIRED`.
async fn every_method_locks_after_three_failures_and_expires(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 10_000).await;
    let key = pay.enrol_totp().await;
    pay.enrol_pin().await;
    let pair = pay.enrol_biometric().await;
    let rng = SystemRandom::new();
    let me = WalletOwner::User(pay.alice);
    let proof = |method: &str, challenge: &str, payment: &str, good: bool| {
        let now = pay.env.fixture.clock.now().unix_timestamp();
        match method {
            "totp" => {
                let code = if good {
                    key.code_at(pay.unix())
                } else {
                    "000000".to_owned()
                };
                json!({"challenge_id": challenge, "method": "totp", "code": code})
            }
            "pin" => {
                let pin = if good { PIN } else { "000001" };
                json!({"challenge_id": challenge, "method": "pin", "pin": pin})
            }
            _ => {
                let signed = if good { payment } else { "another-payment" };
                let message = format!("tmcp-mfa:payment:{signed}:phone:{now}");
                let signature = pair.sign(&rng, message.as_bytes()).expect("sign");
                json!({"challenge_id": challenge, "method": "biometric", "device_id": "phone",
                       "signature": STANDARD.encode(signature.as_ref()), "timestamp": now})
            }
        }
    };
    for method in ["totp", "pin", "biometric"] {
        let (id, challenge) = pay
            .challenged(&token, "60.00", &format!("lock-{method}"))
            .await;
        assert_eq!(pay.available(me.clone()).await, 4_000, "{method}: held");
        for remaining in [2, 1] {
            let wrong = pay
                .verify(&token, &id, proof(method, &challenge, &id, false))
                .await;
            assert_eq!(
                wrong.code(),
                "INVALID_MFA_CREDENTIALS",
                "{method}: {}",
                wrong.text
            );
            assert_eq!(
                wrong.json["error"]["details"]["attempts_remaining"],
                remaining
            );
        }
        let locked = pay
            .verify(&token, &id, proof(method, &challenge, &id, false))
            .await;
        assert_eq!(
            locked.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{method}: {}",
            locked.text
        );
        assert_eq!(locked.code(), "MFA_LOCKED");
        // Even the right proof cannot revive a locked payment.
        let after = pay
            .verify(&token, &id, proof(method, &challenge, &id, true))
            .await;
        assert_ne!(after.status, StatusCode::OK, "{method}: {}", after.text);
        let read = pay.get(&token, &format!("/api/v1/payments/{id}")).await;
        assert_eq!(read.json["status"], "failed", "{method}");
        assert_eq!(
            pay.available(me.clone()).await,
            10_000,
            "{method}: released"
        );

        let (id, challenge) = pay
            .challenged(&token, "60.00", &format!("late-{method}"))
            .await;
        pay.env
            .fixture
            .clock
            .advance(Duration::minutes(3) + Duration::seconds(1));
        let late = pay
            .verify(&token, &id, proof(method, &challenge, &id, true))
            .await;
        assert_eq!(late.status, StatusCode::GONE, "{method}: {}", late.text);
        assert_eq!(late.code(), "MFA_CHALLENGE_EXPIRED");
        let read = pay.get(&token, &format!("/api/v1/payments/{id}")).await;
        assert_eq!(
            read.json["status"], "mfa_required",
            "{method}: a fresh challenge may follow"
        );
        let cancel = pay
            .call(
                Method::POST,
                &format!("/api/v1/payments/{id}/cancel"),
                &token,
                None,
            )
            .await;
        assert_eq!(cancel.status, StatusCode::OK, "{method}: {}", cancel.text);
        assert_eq!(
            pay.available(me.clone()).await,
            10_000,
            "{method}: released"
        );
        // The next TOTP proof needs a time step the last one did not use.
        pay.env.fixture.clock.advance(Duration::seconds(30));
    }
    assert_eq!(pay.balance(me).await, 10_000, "nothing moved");
    pay.assert_ledger_clean().await;
}
