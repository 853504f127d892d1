//! TEP tokens (`tep.` + JWS) against a real key ring of three in-memory keys (RS256, ES256,
//! EdDSA), through `TepService::decode`, the signature-and-claims check every protected
//! route runs before touching the database.
//!
//! Asserts: arbitrary text never verifies; a valid token with any byte changed, cut or
//! spliced never verifies; tokens signed by another key under a known `kid`, HS256 tokens
//! keyed with a public key, and `alg: none` never verify; a token our key signed over
//! arbitrary claims verifies only when issuer, type, audience and times are all right.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::OnceLock;
use time::OffsetDateTime;
use tmcp_http::auth::keys::{ephemeral_key, KeyRing, LoadedKey};
use tmcp_http::auth::tep::{TepClaims, PREFIX, TOKEN_TYPE};
use tmcp_http::auth::{TepService, TepSettings};

const NOW: i64 = 1_800_000_000;
const KIDS: [(&str, Algorithm); 3] = [
    ("rs", Algorithm::RS256),
    ("es", Algorithm::ES256),
    ("ed", Algorithm::EdDSA),
];

struct Fixture {
    service: TepService,
    /// Copies of the ring's keys, to sign with.
    signers: HashMap<String, LoadedKey>,
    /// Same kids and algorithms as the ring, different key material.
    strangers: Vec<LoadedKey>,
    /// One valid token per ring key.
    tokens: Vec<String>,
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).expect("valid time")
}

fn valid_claims() -> TepClaims {
    TepClaims {
        iss: TepSettings::default().issuer,
        sub: "0190f5a4-0000-7000-8000-000000000001".into(),
        aud: "ma_fuzz".into(),
        client_id: "ma_fuzz".into(),
        azp: "ma_fuzz".into(),
        exp: NOW + 3600,
        iat: NOW,
        nbf: NOW,
        jti: "00112233445566778899aabbccddeeff".into(),
        token_type: TOKEN_TYPE.into(),
        scope: "storage:read storage:write".into(),
        wallet_id: None,
        session_id: None,
        user_context: None,
        miniapp_context: None,
    }
}

fn sign(key: &LoadedKey, claims: &TepClaims) -> String {
    let mut header = Header::new(key.algorithm);
    header.kid = Some(key.kid.clone());
    header.typ = Some("JWT".into());
    let encoding = key.encoding.as_ref().expect("can sign");
    format!(
        "{PREFIX}{}",
        jsonwebtoken::encode(&header, claims, encoding).expect("signs")
    )
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut keys = HashMap::new();
        let mut strangers = Vec::new();
        for (kid, algorithm) in KIDS {
            keys.insert(kid.to_owned(), ephemeral_key(kid, algorithm).expect("key"));
            strangers.push(ephemeral_key(kid, algorithm).expect("key"));
        }
        let tokens = KIDS
            .iter()
            .map(|(kid, _)| sign(&keys[*kid], &valid_claims()))
            .collect();
        let signers = keys
            .iter()
            .map(|(kid, k)| {
                let copy = LoadedKey {
                    kid: k.kid.clone(),
                    algorithm: k.algorithm,
                    encoding: k.encoding.clone(),
                    decoding: k.decoding.clone(),
                    jwk: k.jwk.clone(),
                    retire_after: k.retire_after,
                };
                (kid.clone(), copy)
            })
            .collect();
        let ring = KeyRing {
            keys,
            signing_kid: "es".into(),
        };
        let fixture = Fixture {
            service: TepService::new(ring, TepSettings::default()),
            signers,
            strangers,
            tokens,
        };
        for token in &fixture.tokens {
            fixture
                .service
                .decode(token, now())
                .expect("the valid tokens verify");
        }
        fixture
    })
}

/// A time claim: boundary values are spelled out, since random 64-bit integers almost never
/// land near the clock or the ends of the range.
#[derive(Debug, Arbitrary)]
enum Time {
    Any(i64),
    AroundNow(i16),
    NearMax(u8),
    NearMin(u8),
}

impl Time {
    fn value(&self) -> i64 {
        match *self {
            Time::Any(t) => t,
            Time::AroundNow(d) => NOW + i64::from(d),
            Time::NearMax(d) => i64::MAX - i64::from(d),
            Time::NearMin(d) => i64::MIN + i64::from(d),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct FuzzClaims {
    right_issuer: bool,
    issuer: String,
    sub: String,
    client_id: String,
    aud: Option<String>,
    azp: Option<String>,
    exp: Time,
    nbf: Time,
    iat: Time,
    right_type: bool,
    scope: String,
    session_id: Option<String>,
}

#[derive(Debug, Arbitrary)]
enum Input<'a> {
    /// Any text at all.
    Raw(&'a str),
    /// A valid token with bytes overwritten (kept ASCII so it stays a `&str`).
    Mutated { key: u8, edits: Vec<(u16, u8)> },
    /// A valid token cut at one point and joined with other text.
    Spliced {
        key: u8,
        cut: u16,
        tail_from: u16,
        insert: &'a str,
    },
    /// Claims of any shape, signed by a ring key.
    Signed { key: u8, claims: FuzzClaims },
    /// Valid claims signed by a key the ring does not hold, under a ring `kid`.
    Stranger { key: u8 },
    /// HS256 keyed with a ring key's public JWK text (algorithm confusion).
    Confused { key: u8 },
    /// `alg: none` with a ring `kid`.
    Unsigned { key: u8 },
}

fn pick(key: u8) -> usize {
    usize::from(key) % KIDS.len()
}

fn refused(token: &str) {
    let verdict = fixture().service.decode(token, now());
    assert!(
        verdict.is_err(),
        "verified a token it must refuse: {token:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let fx = fixture();
    match input {
        Input::Raw(text) => {
            if !fx.tokens.iter().any(|t| t == text) {
                refused(text);
            }
        }
        Input::Mutated { key, edits } => {
            let original = &fx.tokens[pick(key)];
            let mut bytes = original.clone().into_bytes();
            for (at, byte) in edits {
                let at = usize::from(at) % bytes.len();
                bytes[at] = byte & 0x7f;
            }
            let mutated = String::from_utf8(bytes).expect("ascii");
            if &mutated != original {
                refused(&mutated);
            }
        }
        Input::Spliced {
            key,
            cut,
            tail_from,
            insert,
        } => {
            let original = &fx.tokens[pick(key)];
            let cut = usize::from(cut) % (original.len() + 1);
            let tail_from = usize::from(tail_from) % (original.len() + 1);
            let spliced = format!("{}{insert}{}", &original[..cut], &original[tail_from..]);
            if &spliced != original {
                refused(&spliced);
            }
        }
        Input::Signed { key, claims: c } => {
            let settings = TepSettings::default();
            let claims = TepClaims {
                iss: if c.right_issuer {
                    settings.issuer.clone()
                } else {
                    c.issuer
                },
                sub: c.sub,
                aud: c.aud.unwrap_or_else(|| c.client_id.clone()),
                azp: c.azp.unwrap_or_else(|| c.client_id.clone()),
                client_id: c.client_id,
                exp: c.exp.value(),
                iat: c.iat.value(),
                nbf: c.nbf.value(),
                jti: "j".into(),
                token_type: if c.right_type {
                    TOKEN_TYPE.into()
                } else {
                    "other".into()
                },
                scope: c.scope,
                wallet_id: None,
                session_id: c.session_id,
                user_context: None,
                miniapp_context: None,
            };
            let (kid, _) = KIDS[pick(key)];
            let ring_key = fx_key(kid);
            let token = sign(ring_key, &claims);
            if let Ok(verified) = fx.service.decode(&token, now()) {
                let leeway = settings.leeway_seconds as i128;
                assert_eq!(verified.iss, settings.issuer);
                assert_eq!(verified.token_type, TOKEN_TYPE);
                assert!(verified.aud == verified.client_id && verified.azp == verified.client_id);
                assert!(i128::from(verified.exp) + leeway >= i128::from(NOW));
                assert!(i128::from(verified.nbf) - leeway <= i128::from(NOW));
            }
        }
        Input::Stranger { key } => {
            refused(&sign(&fx.strangers[pick(key)], &valid_claims()));
        }
        Input::Confused { key } => {
            let (kid, _) = KIDS[pick(key)];
            let secret = fx_key(kid).jwk.to_string();
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(kid.into());
            let jws = jsonwebtoken::encode(
                &header,
                &valid_claims(),
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .expect("signs");
            refused(&format!("{PREFIX}{jws}"));
        }
        Input::Unsigned { key } => {
            let (kid, _) = KIDS[pick(key)];
            let header = format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#);
            let claims = serde_json::to_string(&valid_claims()).expect("json");
            let body = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(claims)
            );
            refused(&format!("{PREFIX}{body}."));
            refused(&format!("{PREFIX}{body}"));
        }
    }
});

/// The ring's key of `kid`.
fn fx_key(kid: &str) -> &'static LoadedKey {
    &fixture().signers[kid]
}
