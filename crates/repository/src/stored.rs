//! Stored rows of the wallet and payment tables turned into domain values, written once for
//! both engines. An engine only says how it reads one column by name ([`StoredColumns`]:
//! PostgreSQL has timestamp and JSON types, SQLite stores both as TEXT); what the values
//! mean (currencies, states, scopes, the pairing of reply columns) is decided here.

use crate::idempotency::{IdempotencyRecord, IdempotencyScope, StoredReply};
use crate::payments::{ChallengeMethod, ChallengeStatus, MfaChallenge, Payment, Refund};
use crate::top_ups::TopUp;
use crate::{RepoError, RepoResult};
use serde_json::Value;
use time::OffsetDateTime;
use tmcp_domain::payment_state::PaymentState;
use tmcp_domain::wallet::TopUpState;
use tmcp_domain::{AppId, Currency, Money, PaymentId, UserId};
use uuid::Uuid;

/// One stored row, read column by column in the engine's own types.
pub trait StoredColumns {
    fn uuid(&self, column: &str) -> RepoResult<Uuid>;
    fn opt_uuid(&self, column: &str) -> RepoResult<Option<Uuid>>;
    fn text(&self, column: &str) -> RepoResult<String>;
    fn opt_text(&self, column: &str) -> RepoResult<Option<String>>;
    /// An `INT` column.
    fn int(&self, column: &str) -> RepoResult<i32>;
    fn opt_int(&self, column: &str) -> RepoResult<Option<i32>>;
    /// A `BIGINT` column.
    fn bigint(&self, column: &str) -> RepoResult<i64>;
    fn flag(&self, column: &str) -> RepoResult<bool>;
    fn bytes(&self, column: &str) -> RepoResult<Vec<u8>>;
    fn json(&self, column: &str) -> RepoResult<Value>;
    fn time(&self, column: &str) -> RepoResult<OffsetDateTime>;
    fn opt_time(&self, column: &str) -> RepoResult<Option<OffsetDateTime>>;
}

pub const PAYMENT_COLUMNS: &str = "payment_id, user_id, app_id, amount, currency, \
     description, merchant_order_id, items, metadata, callback_url, state, mfa_required, \
     mfa_method, mfa_verified, mfa_attempts, hold_id, refunded_amount, fee_amount, \
     failure_reason, created_at, updated_at, expires_at, completed_at";

pub const REFUND_COLUMNS: &str = "refund_id, payment_id, payment_created_at, user_id, \
     app_id, amount, fee_amount, currency, reason, movement_id, created_at";

pub const CHALLENGE_COLUMNS: &str = "challenge_id, payment_id, payment_created_at, \
     user_id, methods, method_type, status, attempts, max_attempts, expires_at, created_at, \
     verified_at";

pub const TOP_UP_COLUMNS: &str = "id, user_id, payment_method_id, amount, currency, state, \
     processor, provider_method_id, idempotency_key, processor_transaction_id, failure_reason, \
     movement_id, created_at, updated_at, settled_at";

pub const IDEMPOTENCY_COLUMNS: &str = "scope, user_id, idem_key, operation, fingerprint, \
     resource_id, reply_status, reply_body, created_at, expires_at";

fn bad(what: &str, value: &str) -> RepoError {
    RepoError::Internal(format!("bad stored {what} {value:?}"))
}

fn money(row: &impl StoredColumns) -> RepoResult<Money> {
    let code = row.text("currency")?;
    let currency = Currency::parse(&code).map_err(|_| bad("currency", &code))?;
    Ok(Money {
        minor: row.bigint("amount")?,
        currency,
    })
}

fn app(row: &impl StoredColumns) -> RepoResult<Option<AppId>> {
    row.opt_text("app_id")?
        .map(|a| AppId::parse(&a).map_err(|_| bad("app id", &a)))
        .transpose()
}

pub fn payment_from_row(row: &impl StoredColumns) -> RepoResult<Payment> {
    let state = row.text("state")?;
    Ok(Payment {
        id: PaymentId(row.uuid("payment_id")?),
        user_id: UserId(row.uuid("user_id")?),
        app_id: app(row)?,
        amount: money(row)?,
        description: row.opt_text("description")?,
        merchant_order_id: row.opt_text("merchant_order_id")?,
        items: row.json("items")?,
        metadata: row.json("metadata")?,
        callback_url: row.opt_text("callback_url")?,
        state: PaymentState::from_db(&state).ok_or_else(|| bad("payment state", &state))?,
        mfa_required: row.flag("mfa_required")?,
        mfa_method: row.opt_text("mfa_method")?,
        mfa_verified: row.flag("mfa_verified")?,
        mfa_attempts: row.int("mfa_attempts")?,
        hold_id: row.opt_uuid("hold_id")?,
        refunded: row.bigint("refunded_amount")?,
        fee: row.bigint("fee_amount")?,
        failure_reason: row.opt_text("failure_reason")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        expires_at: row.opt_time("expires_at")?,
        completed_at: row.opt_time("completed_at")?,
    })
}

pub fn refund_from_row(row: &impl StoredColumns) -> RepoResult<Refund> {
    Ok(Refund {
        id: row.uuid("refund_id")?,
        payment_id: PaymentId(row.uuid("payment_id")?),
        payment_created_at: row.time("payment_created_at")?,
        user_id: UserId(row.uuid("user_id")?),
        app_id: app(row)?,
        amount: money(row)?,
        fee: row.bigint("fee_amount")?,
        reason: row.text("reason")?,
        movement_id: row.uuid("movement_id")?,
        created_at: row.time("created_at")?,
    })
}

pub fn challenge_from_row(row: &impl StoredColumns) -> RepoResult<MfaChallenge> {
    let method = row.text("method_type")?;
    let status = row.text("status")?;
    Ok(MfaChallenge {
        id: row.uuid("challenge_id")?,
        payment_id: PaymentId(row.uuid("payment_id")?),
        payment_created_at: row.time("payment_created_at")?,
        user_id: UserId(row.uuid("user_id")?),
        methods: methods_from_json(&row.json("methods")?)?,
        method: ChallengeMethod::from_db(&method).ok_or_else(|| bad("mfa method", &method))?,
        status: ChallengeStatus::from_db(&status)
            .ok_or_else(|| bad("challenge status", &status))?,
        attempts: row.int("attempts")?,
        max_attempts: row.int("max_attempts")?,
        expires_at: row.time("expires_at")?,
        created_at: row.time("created_at")?,
        verified_at: row.opt_time("verified_at")?,
    })
}

/// The `methods` column of a challenge: a JSON array of method names.
pub fn challenge_methods_json(methods: &[ChallengeMethod]) -> Value {
    Value::Array(
        methods
            .iter()
            .map(|m| Value::String(m.as_db().into()))
            .collect(),
    )
}

fn methods_from_json(value: &Value) -> RepoResult<Vec<ChallengeMethod>> {
    let list = value
        .as_array()
        .ok_or_else(|| bad("challenge methods", &value.to_string()))?;
    list.iter()
        .map(|m| {
            m.as_str()
                .and_then(ChallengeMethod::from_db)
                .ok_or_else(|| bad("challenge method", &m.to_string()))
        })
        .collect()
}

pub fn top_up_from_row(row: &impl StoredColumns) -> RepoResult<TopUp> {
    let state = row.text("state")?;
    Ok(TopUp {
        id: row.uuid("id")?,
        user_id: UserId(row.uuid("user_id")?),
        payment_method_id: row.uuid("payment_method_id")?,
        amount: money(row)?,
        state: TopUpState::from_db(&state).ok_or_else(|| bad("top-up state", &state))?,
        processor: row.text("processor")?,
        provider_method_id: row.text("provider_method_id")?,
        idempotency_key: row.text("idempotency_key")?,
        processor_transaction_id: row.opt_text("processor_transaction_id")?,
        failure_reason: row.opt_text("failure_reason")?,
        movement_id: row.opt_uuid("movement_id")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        settled_at: row.opt_time("settled_at")?,
    })
}

pub fn idempotency_record_from_row(row: &impl StoredColumns) -> RepoResult<IdempotencyRecord> {
    let reply = match (row.opt_int("reply_status")?, row.opt_text("reply_body")?) {
        (Some(status), Some(body)) => Some(StoredReply {
            status: u16::try_from(status)
                .map_err(|_| bad("idempotency status", &status.to_string()))?,
            body,
        }),
        (None, None) => None,
        _ => return Err(bad("idempotency reply", "status and body disagree")),
    };
    let fingerprint = row.bytes("fingerprint")?;
    Ok(IdempotencyRecord {
        scope: IdempotencyScope::from_columns(&row.text("scope")?, UserId(row.uuid("user_id")?))?,
        key: row.text("idem_key")?,
        operation: row.text("operation")?,
        fingerprint: fingerprint
            .try_into()
            .map_err(|_| bad("idempotency fingerprint", "not 32 bytes"))?,
        resource_id: row.text("resource_id")?,
        reply,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
    })
}
