//! Payment methods: tokens only. `method_data` is display data (brand, last4, expiry,
//! holder name); a full card number or a security code is refused before anything is
//! stored, wherever it hides (a key named like one, or a string of 12–19 digits).

use super::{WalletPorts, WalletServiceError};
use crate::fields::FieldErrors;
use serde_json::{Map, Value};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::UserId;
use tmcp_repository::{NewPaymentMethod, PaymentMethod, RepoError};
use uuid::Uuid;

pub const METHOD_TYPES: &[&str] = &["card", "bank_account", "digital_wallet"];
/// At most this many display fields, each value at most [`MAX_VALUE_LEN`] characters.
pub const MAX_FIELDS: usize = 16;
pub const MAX_VALUE_LEN: usize = 100;
pub const MAX_KEY_LEN: usize = 40;

/// Keys that would carry what must never be stored (compared without `_`/`-`, lowercase).
const FORBIDDEN_KEYS: &[&str] = &[
    "number",
    "cardnumber",
    "pan",
    "accountnumber",
    "cvv",
    "cvv2",
    "cvc",
    "cvc2",
    "csc",
    "securitycode",
    "pin",
];

#[derive(Debug, Clone)]
pub struct AddMethod {
    pub user: UserId,
    pub method_type: String,
    pub provider: String,
    pub provider_method_id: String,
    pub method_data: Value,
    pub make_default: bool,
}

fn visible_ascii(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether `text` looks like a card or account number: 12 or more digits once spaces and
/// dashes are taken out (a last4 or an expiry has far fewer).
fn looks_like_a_number(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let only_digits_and_separators = text
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
    digits >= 12 && only_digits_and_separators
}

/// Display data rules: a flat object of short scalars, no card number, no security code.
pub fn check_method_data(data: &Value, errors: &mut FieldErrors) {
    let Some(object) = data.as_object() else {
        errors.add("method_data", "must be an object of display fields");
        return;
    };
    if object.len() > MAX_FIELDS {
        errors.add("method_data", format!("at most {MAX_FIELDS} fields"));
        return;
    }
    for (key, value) in object {
        let normalised: String = key
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if FORBIDDEN_KEYS.contains(&normalised.as_str()) {
            errors.add(
                "method_data",
                "card numbers and security codes are never stored; send the provider's token",
            );
            return;
        }
        if key.is_empty() || key.chars().count() > MAX_KEY_LEN {
            errors.add(
                "method_data",
                format!("field names are 1 to {MAX_KEY_LEN} characters"),
            );
            return;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(_) | Value::Null => continue,
            _ => {
                errors.add("method_data", "values must be strings, numbers or booleans");
                return;
            }
        };
        if text.chars().count() > MAX_VALUE_LEN {
            errors.add(
                "method_data",
                format!("values are at most {MAX_VALUE_LEN} characters"),
            );
            return;
        }
        if looks_like_a_number(&text) {
            errors.add(
                "method_data",
                "card numbers and security codes are never stored; send the provider's token",
            );
            return;
        }
    }
    if let Some(last4) = object.get("last4") {
        let ok = last4
            .as_str()
            .is_some_and(|s| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            errors.add("method_data", "last4 must be four digits");
        }
    }
}

pub async fn add_method(
    ports: WalletPorts<'_>,
    add: AddMethod,
) -> Result<PaymentMethod, WalletServiceError> {
    let mut errors = FieldErrors::new();
    if !METHOD_TYPES.contains(&add.method_type.as_str()) {
        errors.add("type", "must be one of card, bank_account, digital_wallet");
    }
    let processor = ports.processors.get(&add.provider);
    match processor {
        None => errors.add(
            "provider",
            format!(
                "must be one of: {}",
                ports.processors.providers().join(", ")
            ),
        ),
        Some(processor) => {
            if !visible_ascii(&add.provider_method_id, 255) {
                errors.add("provider_method_id", "1 to 255 visible ASCII characters");
            } else if !processor.accepts_token(&add.provider_method_id) {
                errors.add("provider_method_id", "not a token of this provider");
            }
        }
    }
    check_method_data(&add.method_data, &mut errors);
    errors.into_result()?;
    let at = ports.clock.now();
    let added = ports
        .db
        .add_payment_method(NewPaymentMethod {
            id: uuid_v7_at(at),
            user_id: add.user,
            method_type: add.method_type,
            provider: add.provider,
            provider_method_id: add.provider_method_id,
            method_data: Value::Object(
                add.method_data
                    .as_object()
                    .cloned()
                    .unwrap_or_else(Map::new),
            ),
            make_default: add.make_default,
            at,
        })
        .await;
    match added {
        Ok(method) => Ok(method),
        Err(RepoError::Conflict { .. }) => Err(WalletServiceError::MethodExists),
        Err(other) => Err(other.into()),
    }
}

pub async fn list_methods(
    ports: WalletPorts<'_>,
    user: UserId,
) -> Result<Vec<PaymentMethod>, WalletServiceError> {
    Ok(ports.db.payment_methods(user).await?)
}

pub async fn remove_method(
    ports: WalletPorts<'_>,
    user: UserId,
    id: Uuid,
) -> Result<(), WalletServiceError> {
    if ports
        .db
        .remove_payment_method(user, id, ports.clock.now())
        .await?
    {
        Ok(())
    } else {
        Err(WalletServiceError::MethodNotFound)
    }
}

pub async fn make_default(
    ports: WalletPorts<'_>,
    user: UserId,
    id: Uuid,
) -> Result<PaymentMethod, WalletServiceError> {
    ports
        .db
        .set_default_payment_method(user, id, ports.clock.now())
        .await?
        .ok_or(WalletServiceError::MethodNotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_for(data: Value) -> FieldErrors {
        let mut errors = FieldErrors::new();
        check_method_data(&data, &mut errors);
        errors
    }

    #[test]
    fn display_data_passes_and_secrets_do_not() {
        assert!(errors_for(
            json!({"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030})
        )
        .is_empty());
        for bad in [
            json!({"number": "4242"}),
            json!({"card_number": "x"}),
            json!({"CVV": "123"}),
            json!({"security-code": "123"}),
            json!({"note": "4242 4242 4242 4242"}),
            json!({"pan_hint": 4242424242424242_u64}),
            json!({"last4": "42424"}),
            json!({"nested": {"a": 1}}),
            json!(["not", "an", "object"]),
        ] {
            assert!(!errors_for(bad.clone()).is_empty(), "{bad}");
        }
    }
}
