//! The rules of a payment request's fields. Amounts arrive as the exact JSON text the client
//! sent (a number or a string in major units) and are parsed without a float round trip.

use super::PaymentsError;
use crate::amounts::parse_json_amount;
use crate::fields::FieldErrors;
use serde_json::Value;
use tmcp_domain::{Currency, Money};

pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_ORDER_ID_CHARS: usize = 255;
pub const MAX_ITEMS: usize = 100;
pub const MAX_ITEM_TEXT_CHARS: usize = 255;
pub const MAX_QUANTITY: i64 = 1_000_000;
pub const MAX_METADATA_BYTES: usize = 4096;
pub const MAX_CALLBACK_URL_CHARS: usize = 2048;
pub const MAX_REASON_CHARS: usize = 500;

/// One line of `items`, as sent.
#[derive(Debug, Clone)]
pub struct ItemInput {
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
    /// The JSON text of `unit_price`.
    pub unit_price: String,
}

/// A payment request's body, as sent (amounts as their JSON text).
#[derive(Debug, Clone)]
pub struct RequestInput {
    pub amount: String,
    pub currency: String,
    pub description: String,
    pub merchant_order_id: Option<String>,
    pub items: Option<Vec<ItemInput>>,
    pub metadata: Option<Value>,
    pub callback_url: Option<String>,
    pub idempotency_key: String,
}

/// The request's fields once they passed the rules.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    pub amount: Money,
    pub description: String,
    pub merchant_order_id: Option<String>,
    /// `[{item_id, name, quantity, unit_price}]` with `unit_price` in canonical major units.
    pub items: Value,
    pub metadata: Value,
    pub callback_url: Option<String>,
}

/// The currency of a request; unknown codes are a 400.
pub fn parse_currency(code: &str) -> Result<Currency, PaymentsError> {
    Currency::parse(code)
        .map_err(|_| PaymentsError::invalid("currency", "currency is not a known ISO 4217 code"))
}

/// An amount from its JSON text, by the shared wire rules of [`crate::amounts`].
pub fn parse_amount(
    field: &'static str,
    raw: &str,
    currency: Currency,
) -> Result<Money, PaymentsError> {
    parse_json_amount(raw, currency)
        .map_err(|e| PaymentsError::invalid(field, e.message(field, currency)))
}

/// Text without control characters (NUL included), within `max` characters.
pub fn check_text(errors: &mut FieldErrors, field: &str, value: &str, max: usize, required: bool) {
    if required && value.trim().is_empty() {
        errors.add(field, "must not be empty");
    } else if value.chars().count() > max {
        errors.add(field, format!("at most {max} characters"));
    } else if value.chars().any(char::is_control) {
        errors.add(field, "must not contain control characters");
    }
}

fn check_callback(errors: &mut FieldErrors, url: &str) {
    if url.chars().count() > MAX_CALLBACK_URL_CHARS || url.chars().any(char::is_control) {
        errors.add("callback_url", "must be a URL of at most 2048 characters");
        return;
    }
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "https" | "http") && parsed.has_host() => {}
        _ => errors.add("callback_url", "must be an absolute http(s) URL"),
    }
}

/// Checks every field; amount and currency problems are 400s, the rest 422 field errors.
pub fn validate(input: &RequestInput) -> Result<ValidRequest, PaymentsError> {
    let currency = parse_currency(&input.currency)?;
    let amount = parse_amount("amount", &input.amount, currency)?;
    let mut errors = FieldErrors::new();
    check_text(
        &mut errors,
        "description",
        &input.description,
        MAX_DESCRIPTION_CHARS,
        true,
    );
    if let Some(order) = &input.merchant_order_id {
        check_text(
            &mut errors,
            "merchant_order_id",
            order,
            MAX_ORDER_ID_CHARS,
            true,
        );
    }
    if let Some(url) = &input.callback_url {
        check_callback(&mut errors, url);
    }
    let metadata = input
        .metadata
        .clone()
        .unwrap_or_else(|| Value::Object(Default::default()));
    if !metadata.is_object() {
        errors.add("metadata", "must be a JSON object");
    } else if metadata.to_string().len() > MAX_METADATA_BYTES
        || metadata.to_string().contains("\\u0000")
    {
        errors.add(
            "metadata",
            "at most 4096 bytes of JSON, without NUL characters",
        );
    }
    let items = validate_items(&mut errors, input.items.as_deref(), currency)?;
    errors.into_result().map_err(PaymentsError::InvalidFields)?;
    Ok(ValidRequest {
        amount,
        description: input.description.clone(),
        merchant_order_id: input.merchant_order_id.clone(),
        items,
        metadata,
        callback_url: input.callback_url.clone(),
    })
}

fn validate_items(
    errors: &mut FieldErrors,
    items: Option<&[ItemInput]>,
    currency: Currency,
) -> Result<Value, PaymentsError> {
    let items = items.unwrap_or_default();
    if items.len() > MAX_ITEMS {
        errors.add("items", format!("at most {MAX_ITEMS} items"));
        return Ok(Value::Array(Vec::new()));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = |name: &str| format!("items[{i}].{name}");
        check_text(
            errors,
            &at("item_id"),
            &item.item_id,
            MAX_ITEM_TEXT_CHARS,
            true,
        );
        check_text(errors, &at("name"), &item.name, MAX_ITEM_TEXT_CHARS, true);
        if !(1..=MAX_QUANTITY).contains(&item.quantity) {
            errors.add(at("quantity"), format!("between 1 and {MAX_QUANTITY}"));
        }
        let price = parse_amount("unit_price", &item.unit_price, currency)?;
        out.push(serde_json::json!({
            "item_id": item.item_id,
            "name": item.name,
            "quantity": item.quantity,
            "unit_price": price.to_major_string(),
        }));
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_refuse_control_characters() {
        let mut errors = FieldErrors::new();
        check_text(&mut errors, "description", "a\u{0}b", 10, true);
        check_text(&mut errors, "x", "", 10, true);
        check_text(&mut errors, "y", &"z".repeat(11), 10, true);
        assert_eq!(errors.iter().count(), 3);
    }
}
