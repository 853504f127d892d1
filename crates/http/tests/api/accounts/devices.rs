//! Devices registered with real public keys (P-256, Ed25519) and the proofs they sign.

use super::*;
use crate::support::on_both_engines;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use axum::http::{Method, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};
use tmcp_domain::Clock;

fn p256_spki(pair: &EcdsaKeyPair) -> Vec<u8> {
    pair.public_key().as_der().expect("spki").as_ref().to_vec()
}

async fn devices_with_real_keys(app: App) {
    app.register("niaj").await;
    app.register("olivia").await;
    let (token, _, _) = app.login("niaj").await;
    let (other, _, _) = app.login("olivia").await;

    let p256 = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("p256");
    let p256_der = p256_spki(&p256);
    let created = app
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(&token),
            Some(json!({
                "device_id": "phone-es256",
                "device_name": "Phone",
                "device_type": "mobile",
                "platform": "android",
                "public_key": {"alg": "ES256", "spki_b64": STANDARD.encode(&p256_der)},
                "attestation": {"format": "none"}
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["public_key_hash"],
        format!("sha256:{}", hex::encode(Sha256::digest(&p256_der)))
    );

    let ed = Ed25519KeyPair::generate().expect("ed25519");
    let ed_der = ed.public_key().as_der().expect("spki").as_ref().to_vec();
    let created = app
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(&token),
            Some(json!({
                "device_id": "laptop-ed",
                "device_type": "desktop",
                "platform": "linux",
                "public_key": {"alg": "EdDSA", "spki_b64": STANDARD.encode(&ed_der)}
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["public_key"]["alg"], "EdDSA");

    let dup = app
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(&token),
            Some(json!({"device_id": "laptop-ed", "public_key": {"alg": "EdDSA", "spki_b64": STANDARD.encode(&ed_der)}})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    for (alg, key) in [
        ("ES256", STANDARD.encode(&ed_der)),
        ("EdDSA", STANDARD.encode(&p256_der)),
        ("ES256", STANDARD.encode(b"definitely not a key")),
        ("ES256", "%%%".to_owned()),
        ("RS256", STANDARD.encode(&p256_der)),
        ("ES256", STANDARD.encode(p256.public_key().as_ref())),
    ] {
        let bad = app
            .call(
                Method::POST,
                "/api/v1/devices",
                Some(&token),
                Some(json!({"device_id": "bad", "public_key": {"alg": alg, "spki_b64": key}})),
            )
            .await;
        assert_eq!(
            bad.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{alg}: {}",
            bad.body
        );
    }

    let list = app
        .call(Method::GET, "/api/v1/devices", Some(&token), None)
        .await;
    let ids: Vec<_> = list.body["devices"]
        .as_array()
        .expect("array")
        .iter()
        .map(|d| d["device_id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(ids, vec!["phone-es256", "laptop-ed"]);
    let others = app
        .call(Method::GET, "/api/v1/devices", Some(&other), None)
        .await;
    assert_eq!(others.body["devices"], json!([]));
    let foreign = app
        .call(
            Method::DELETE,
            "/api/v1/devices/phone-es256",
            Some(&other),
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    // Biometric MFA bound to the ES256 device: login needs its signature.
    let unregistered = app
        .call(
            Method::POST,
            "/api/v1/auth/mfa/methods",
            Some(&token),
            Some(json!({"type": "biometric", "password": "correct horse battery", "device_id": "nope"})),
        )
        .await;
    assert_eq!(unregistered.status, StatusCode::BAD_REQUEST);
    assert_eq!(unregistered.code(), "DEVICE_NOT_REGISTERED");
    let enrolled = app
        .call(
            Method::POST,
            "/api/v1/auth/mfa/methods",
            Some(&token),
            Some(json!({"type": "biometric", "password": "correct horse battery", "device_id": "phone-es256"})),
        )
        .await;
    assert_eq!(enrolled.status, StatusCode::CREATED, "{}", enrolled.body);
    assert_eq!(enrolled.body["is_active"], true);

    let required = app
        .login_with("niaj", "correct horse battery", json!({}))
        .await;
    assert_eq!(required.code(), "MFA_REQUIRED");
    assert_eq!(
        required.body["error"]["details"]["methods"],
        json!(["biometric"])
    );

    let rng = SystemRandom::new();
    let sign = |ts: i64| {
        let message = format!("tmcp-mfa:login:phone-es256:{ts}");
        STANDARD.encode(p256.sign(&rng, message.as_bytes()).expect("sign").as_ref())
    };
    let now = app.fixture.clock.now().unix_timestamp();
    let stale = app
        .login_with("niaj", "correct horse battery", json!({"mfa": {"device_id": "phone-es256", "signature": sign(now - 31), "timestamp": now - 31}}))
        .await;
    assert_eq!(
        stale.code(),
        "MFA_REQUIRED",
        "a timestamp older than 30 s is refused"
    );
    let wrong_action = {
        let message = format!("tmcp-mfa:delete_mfa_method:x:phone-es256:{now}");
        STANDARD.encode(p256.sign(&rng, message.as_bytes()).expect("sign").as_ref())
    };
    let mismatched = app
        .login_with("niaj", "correct horse battery", json!({"mfa": {"device_id": "phone-es256", "signature": wrong_action, "timestamp": now}}))
        .await;
    assert_eq!(mismatched.code(), "MFA_REQUIRED");
    let good = sign(now - 1);
    let ok = app
        .login_with(
            "niaj",
            "correct horse battery",
            json!({"mfa": {"device_id": "phone-es256", "signature": good, "timestamp": now - 1}}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let replay = app
        .login_with(
            "niaj",
            "correct horse battery",
            json!({"mfa": {"device_id": "phone-es256", "signature": good, "timestamp": now - 1}}),
        )
        .await;
    assert_eq!(
        replay.code(),
        "MFA_REQUIRED",
        "a signature is accepted once"
    );

    // The device carries the only second factor: a session alone cannot remove it (that
    // would turn MFA off without the second factor DELETE /mfa/methods/{id} asks for).
    let bare = app
        .call(
            Method::DELETE,
            "/api/v1/devices/phone-es256",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(bare.status, StatusCode::UNAUTHORIZED, "{}", bare.body);
    assert_eq!(bare.code(), "INVALID_MFA_CREDENTIALS");
    let login_signature = app
        .call(
            Method::DELETE,
            "/api/v1/devices/phone-es256",
            Some(&token),
            Some(json!({"device_id": "phone-es256", "signature": sign(now), "timestamp": now})),
        )
        .await;
    assert_eq!(
        login_signature.code(),
        "INVALID_MFA_CREDENTIALS",
        "a signature for another action is refused"
    );
    let still = app
        .call(Method::GET, "/api/v1/auth/mfa/methods", Some(&token), None)
        .await;
    assert_eq!(still.body["methods"].as_array().map(Vec::len), Some(1));
    // With the device's signature over the removal, the device and its method go.
    let removal = {
        let message = format!("tmcp-mfa:delete_device:phone-es256:phone-es256:{now}");
        STANDARD.encode(p256.sign(&rng, message.as_bytes()).expect("sign").as_ref())
    };
    let removed = app
        .call(
            Method::DELETE,
            "/api/v1/devices/phone-es256",
            Some(&token),
            Some(json!({"device_id": "phone-es256", "signature": removal, "timestamp": now})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    // A device without biometric MFA needs no proof.
    let plain = app
        .call(
            Method::DELETE,
            "/api/v1/devices/laptop-ed",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(plain.status, StatusCode::NO_CONTENT, "{}", plain.body);
    let methods = app
        .call(Method::GET, "/api/v1/auth/mfa/methods", Some(&token), None)
        .await;
    assert_eq!(methods.body["methods"], json!([]));
    app.login("niaj").await;
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 2);
    devices_with_real_keys,
);
