//! The wire form of a second-factor proof, and the account service's checks called with the
//! handlers' state (the rules live in `tmcp_usecases::accounts::second_factor`).

use super::errors::FieldErrors;
use crate::error::ApiError;
use crate::state::AppState;
use serde::Deserialize;
use serde_json::json;
use tmcp_domain::UserId;
use tmcp_repository::{MfaMethod, MfaMethodType};
use tmcp_usecases::accounts::second_factor as rules;
use tmcp_usecases::accounts::SecondFactor;
use utoipa::ToSchema;

/// A proof of the second factor. Give `code` (TOTP), `pin`, or `device_id` + `signature` +
/// `timestamp` (biometric: the device key's signature, base64, over
/// `tmcp-mfa:{action}:{device_id}:{timestamp}`, at most 30 s old).
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorProof {
    #[schema(schema_with = crate::schema_constraints::mfa_method_type_optional)]
    pub method: Option<String>,
    /// A 6-digit TOTP code (or, without `method`, a PIN).
    #[schema(max_length = 16)]
    pub code: Option<String>,
    #[schema(max_length = 16)]
    pub pin: Option<String>,
    #[schema(max_length = 255)]
    pub device_id: Option<String>,
    /// Base64 signature by the device key.
    #[schema(max_length = 1024)]
    pub signature: Option<String>,
    /// Unix seconds that were signed.
    pub timestamp: Option<i64>,
}

super::redacted_debug!(SecondFactorProof { method, device_id, timestamp; code, pin, signature });

impl From<SecondFactorProof> for SecondFactor {
    fn from(proof: SecondFactorProof) -> Self {
        Self {
            method: proof.method,
            code: proof.code,
            pin: proof.pin,
            device_id: proof.device_id,
            signature: proof.signature,
            timestamp: proof.timestamp,
        }
    }
}

impl SecondFactorProof {
    /// Adds an error to `errors` (field names under `prefix`) for each oversized field.
    pub fn check_sizes(&self, prefix: &str, errors: &mut FieldErrors) {
        SecondFactor::from(self.clone()).check_sizes(prefix, errors);
    }
}

/// A proof sent as an optional JSON body (empty when the operation needs none).
pub fn optional_proof(body: &[u8]) -> Result<SecondFactorProof, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(SecondFactorProof::default());
    }
    let proof: SecondFactorProof = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
            "request body does not match the expected shape",
        )
        .with_details(json!({ "fields": { "body": e.to_string() } }))
    })?;
    let mut errors = FieldErrors::new();
    proof.check_sizes("", &mut errors);
    errors.into_result()?;
    Ok(proof)
}

/// Checks `proof` against the user's active methods. Returns the type of the method that
/// accepted it, or `None`. `action` is what a biometric signature must name.
pub async fn verify_second_factor(
    state: &AppState,
    user: UserId,
    methods: &[MfaMethod],
    proof: &SecondFactorProof,
    action: &str,
) -> Result<Option<MfaMethodType>, ApiError> {
    let proof = SecondFactor::from(proof.clone());
    Ok(rules::verify_second_factor(state.account_ports(), user, methods, &proof, action).await?)
}
