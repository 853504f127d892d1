//! Use cases: the rules and orchestration of each service, shared by the HTTP handlers, the
//! admin CLI and the background jobs. Nothing here knows about HTTP (no axum or http types):
//! a use case takes plain inputs and the ports it needs (repositories, clock, rng, settings)
//! and returns a result or its service's error enum, which each caller renders its own way.
//!
//! Layers: `tmcp-domain` → `tmcp-repository` (traits) → `tmcp-postgres` / `tmcp-sqlite` →
//! **`tmcp-usecases`** → `tmcp-http`, the CLI and `tmcp-jobs` → `tmcp-server` (the binary).

pub mod webhooks;
