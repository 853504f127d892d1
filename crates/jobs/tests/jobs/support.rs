//! Shared set-up: a delivery harness over a contract-suite fixture, events in the outbox,
//! and an independent verification of both signatures (RustCrypto `hmac`, while the code
//! under test signs with aws-lc-rs).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tmcp_contract_tests::Fixture;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::{Clock, ManualClock};
use tmcp_jobs::sender::HttpSender;
use tmcp_repository::{Database, OutboxEvent};
use tmcp_usecases::webhooks::delivery::{deliver_due, DeliveryPorts};
use tmcp_usecases::webhooks::{self, DeliveryReport, WebhookSecret, WebhookSettings};
use uuid::Uuid;

pub const APP: &str = "ma_hooks";

pub fn cipher() -> FieldCipher {
    FieldCipher::new(&[7u8; 32]).expect("key")
}

pub fn settings() -> WebhookSettings {
    WebhookSettings {
        allow_private_targets: true,
        batch_size: 10,
        ..WebhookSettings::default()
    }
}

/// Delivers batches the way the job does, with the test's clock.
pub struct Harness {
    pub db: Arc<dyn Database>,
    pub clock: ManualClock,
    pub cipher: FieldCipher,
    pub sender: HttpSender,
    pub settings: WebhookSettings,
    pub rng: Mutex<StdRng>,
}

impl Harness {
    pub fn new(fixture: &Fixture, settings: WebhookSettings) -> Self {
        Self {
            db: fixture.db.clone(),
            clock: fixture.clock.clone(),
            cipher: cipher(),
            sender: HttpSender::new(settings.allow_private_targets, Duration::from_secs(10))
                .expect("client"),
            settings,
            rng: Mutex::new(StdRng::seed_from_u64(3)),
        }
    }

    pub async fn deliver(&self) -> DeliveryReport {
        deliver_due(&DeliveryPorts {
            db: self.db.as_ref(),
            cipher: &self.cipher,
            clock: &self.clock,
            sender: &self.sender,
            settings: &self.settings,
            rng: &self.rng,
        })
        .await
        .expect("batch runs")
    }

    pub async fn register(&self, url: &str) -> WebhookSecret {
        let mut rng = StdRng::seed_from_u64(11);
        webhooks::register_endpoint(
            self.db.as_ref(),
            &self.cipher,
            &self.clock,
            &mut rng,
            &self.settings,
            APP,
            url,
        )
        .await
        .expect("endpoint registered")
    }

    pub async fn event(&self) -> Uuid {
        let now = self.clock.now();
        let id = uuid_v7_at(now);
        self.db
            .enqueue_event(OutboxEvent {
                id,
                app_id: APP.into(),
                event: "scope.revoked".into(),
                payload: serde_json::json!({
                    "event": "scope.revoked",
                    "client_id": APP,
                    "scopes": ["storage:read"],
                }),
                created_at: now,
            })
            .await
            .expect("event queued");
        id
    }

    pub fn advance(&self, secs: i64) {
        self.clock.advance(time::Duration::seconds(secs));
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// The protocol header: some `sha256=<hex>` of the body keyed by the whole secret string.
pub fn protocol_signature_valid(header: &str, body: &[u8], secret: &str) -> bool {
    let expected = format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), body))
    );
    header.split(' ').any(|candidate| candidate == expected)
}

/// The Standard Webhooks rule: decode the `whsec_` secret, sign `{id}.{timestamp}.{body}`,
/// compare the base64 with any `v1,` signature of the header.
pub fn standard_signature_valid(
    id: &str,
    timestamp: &str,
    header: &str,
    body: &[u8],
    secret: &str,
) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 secret");
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let expected = STANDARD.encode(hmac_sha256(&key, &signed));
    header
        .split(' ')
        .filter_map(|candidate| candidate.strip_prefix("v1,"))
        .any(|signature| signature == expected)
}

/// Instantiates each scenario on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(tmcp_contract_tests::engines::sqlite().await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(tmcp_contract_tests::engines::postgres().await).await;
                }
            )+
        }
    };
}
