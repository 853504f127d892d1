//! Wire shapes of the wallet API. Amounts are strings in major units with exactly the
//! currency's decimals (`"12.50"`, `"1250"` for JPY); a debit in the history is negative.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use tmcp_repository::{PaymentMethod, UserEntry};
use utoipa::ToSchema;

/// A decimal amount in major units, as a string.
pub const AMOUNT_PATTERN: &str = r"^-?[0-9]+(\.[0-9]+)?$";

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentMethodView {
    pub id: String,
    /// `card`, `bank_account` or `digital_wallet`.
    #[serde(rename = "type")]
    pub method_type: String,
    pub provider: String,
    pub provider_method_id: String,
    /// Display data only (brand, last4, expiry).
    #[schema(value_type = Object)]
    pub method_data: Value,
    pub is_default: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&PaymentMethod> for PaymentMethodView {
    fn from(method: &PaymentMethod) -> Self {
        Self {
            id: method.id.to_string(),
            method_type: method.method_type.clone(),
            provider: method.provider.clone(),
            provider_method_id: method.provider_method_id.clone(),
            method_data: method.method_data.clone(),
            is_default: method.is_default,
            created_at: method.created_at,
            updated_at: method.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentMethodList {
    pub payment_methods: Vec<PaymentMethodView>,
}

/// A top-up as `POST /wallet/v1/top-up` answers it (201), also on a replay.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopUpView {
    pub top_up_id: String,
    /// `completed` in a 201; `failed` top-ups answer an error envelope.
    pub status: String,
    #[schema(pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub amount: String,
    pub currency: String,
    pub payment_method_id: String,
    pub processor: String,
    pub processor_transaction_id: Option<String>,
    pub failure_reason: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub settled_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceView {
    pub currency: String,
    /// The account of this currency (`tw_…`).
    pub account_id: String,
    /// Spendable now.
    #[schema(pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub available: String,
    /// Set aside by payments waiting for capture.
    #[schema(pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub pending: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceResponse {
    /// The user's first wallet account (`tw_…`); `null` before the first top-up.
    pub wallet_id: Option<String>,
    pub balances: Vec<BalanceView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionView {
    /// `<account id>:<seq>`, unique.
    pub entry_id: String,
    /// The movement this entry is one leg of.
    pub movement_id: String,
    /// `top_up`, `payment`, `refund`, `transfer`, `withdrawal` or `adjustment`.
    #[serde(rename = "type")]
    pub entry_type: String,
    /// Signed: credits positive, debits negative.
    #[schema(pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub amount: String,
    pub currency: String,
    #[schema(pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub balance_after: String,
    pub account_id: String,
    pub payment_id: Option<String>,
    pub refund_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&UserEntry> for TransactionView {
    fn from(item: &UserEntry) -> Self {
        let money = |minor| tmcp_domain::Money {
            minor,
            currency: item.currency,
        };
        let entry = &item.entry;
        Self {
            entry_id: format!("{}:{}", entry.account_id.as_str(), entry.seq),
            movement_id: entry.movement_id.to_string(),
            entry_type: entry.entry_type.as_db().to_owned(),
            amount: money(entry.amount).to_major_string(),
            currency: item.currency.code().to_owned(),
            balance_after: money(entry.balance_after).to_major_string(),
            account_id: entry.account_id.as_str().to_owned(),
            payment_id: entry.payment_id.map(|p| p.to_string()),
            refund_id: entry.refund_id.map(|r| r.to_string()),
            created_at: entry.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionPagination {
    pub limit: u32,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionList {
    pub transactions: Vec<TransactionView>,
    pub pagination: TransactionPagination,
}
