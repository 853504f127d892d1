//! The OAuth 2.0 authorization server through HTTP, on SQLite and PostgreSQL: discovery,
//! code + PKCE with its pages, refresh rotation, token exchange, device flow, client
//! credentials, revocation, introspection, grant withdrawal, and the attacks against them.

mod client_credentials;
mod code_flow;
mod consent;
mod device_flow;
mod discovery;
mod refresh;
mod revocation;
mod token_exchange;
mod withdrawal;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

fn claims(token: &str) -> Value {
    let jws = token.strip_prefix("tep.").expect("tep prefix");
    let payload = jws.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json")
}
