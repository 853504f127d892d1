//! Use cases: the rules and orchestration of each service, shared by the HTTP handlers, the
//! admin CLI and the background jobs. Nothing here knows about HTTP (no axum or http types):
//! a use case takes plain inputs and the ports it needs (repositories, clock, rng, settings)
//! and returns a result or its service's error enum, which each caller renders its own way.
//!
//! Layers: `tmcp-domain` → `tmcp-repository` (traits) → `tmcp-postgres` / `tmcp-sqlite` →
//! **`tmcp-usecases`** → `tmcp-http`, the CLI and `tmcp-jobs` → `tmcp-server` (the binary).
//!
//! One module per service: `accounts` (registration, password login, sessions, devices,
//! second factors, profile), `oauth` (client registration, the token endpoint's grants,
//! revocation, introspection, consent, grant withdrawal, the device flow, settings), `storage` (key-value rules, single-key operations,
//! settings and limits), `webhooks` (endpoints, signing, the delivery schedule) and
//! `idempotency` (keys, fingerprints and replays of money-moving requests), `wallet`
//! (payment methods, processors, top-ups, balances and history; docs/wallet.md) and
//! `payments` (payment requests, authorization, MFA, cancel, expiry, refunds, reads).

pub mod accounts;
pub mod amounts;
pub mod analytics;
pub mod fields;
pub mod idempotency;
pub mod limits;
pub mod oauth;
pub mod payments;
pub mod storage;
pub mod store;
pub mod wallet;
pub mod webhooks;
