//! Payment, refund and challenge rows of SQLite, read by name (too many columns for a
//! tuple). Timestamps are TEXT, JSON is TEXT, booleans are 0/1.

use crate::map_sqlx_error;
use crate::time_text::{from_opt_text, from_text};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use tmcp_domain::payment_state::PaymentState;
use tmcp_domain::{AppId, Currency, Money, PaymentId, UserId};
use tmcp_repository::{
    ChallengeMethod, ChallengeStatus, MfaChallenge, Payment, Refund, RepoError, RepoResult,
};

pub(crate) const PAYMENT_COLUMNS: &str = "payment_id, user_id, app_id, amount, currency, \
     description, merchant_order_id, items, metadata, callback_url, state, mfa_required, \
     mfa_method, mfa_verified, mfa_attempts, hold_id, refunded_amount, fee_amount, \
     failure_reason, created_at, updated_at, expires_at, completed_at";

pub(crate) const REFUND_COLUMNS: &str = "refund_id, payment_id, payment_created_at, user_id, \
     app_id, amount, fee_amount, currency, reason, movement_id, created_at";

pub(crate) const CHALLENGE_COLUMNS: &str = "challenge_id, payment_id, payment_created_at, \
     user_id, methods, method_type, status, attempts, max_attempts, expires_at, created_at, \
     verified_at";

fn bad(what: &str, value: &str) -> RepoError {
    RepoError::Internal(format!("bad stored {what} {value:?}"))
}

fn json(text: String) -> RepoResult<serde_json::Value> {
    serde_json::from_str(&text).map_err(|_| bad("json", &text))
}

fn money(minor: i64, code: &str) -> RepoResult<Money> {
    let currency = Currency::parse(code).map_err(|_| bad("currency", code))?;
    Ok(Money { minor, currency })
}

fn app(raw: Option<String>) -> RepoResult<Option<AppId>> {
    raw.map(|a| AppId::parse(&a).map_err(|_| bad("app id", &a)))
        .transpose()
}

pub(crate) fn payment_from_row(row: &SqliteRow) -> RepoResult<Payment> {
    let get = |e: sqlx::Error| map_sqlx_error(e);
    let state: String = row.try_get("state").map_err(get)?;
    let currency: String = row.try_get("currency").map_err(get)?;
    Ok(Payment {
        id: PaymentId(row.try_get("payment_id").map_err(get)?),
        user_id: UserId(row.try_get("user_id").map_err(get)?),
        app_id: app(row.try_get("app_id").map_err(get)?)?,
        amount: money(row.try_get("amount").map_err(get)?, &currency)?,
        description: row.try_get("description").map_err(get)?,
        merchant_order_id: row.try_get("merchant_order_id").map_err(get)?,
        items: json(row.try_get("items").map_err(get)?)?,
        metadata: json(row.try_get("metadata").map_err(get)?)?,
        callback_url: row.try_get("callback_url").map_err(get)?,
        state: PaymentState::from_db(&state).ok_or_else(|| bad("payment state", &state))?,
        mfa_required: row.try_get("mfa_required").map_err(get)?,
        mfa_method: row.try_get("mfa_method").map_err(get)?,
        mfa_verified: row.try_get("mfa_verified").map_err(get)?,
        mfa_attempts: row.try_get("mfa_attempts").map_err(get)?,
        hold_id: row.try_get("hold_id").map_err(get)?,
        refunded: row.try_get("refunded_amount").map_err(get)?,
        fee: row.try_get("fee_amount").map_err(get)?,
        failure_reason: row.try_get("failure_reason").map_err(get)?,
        created_at: from_text(
            row.try_get::<String, _>("created_at")
                .map_err(get)?
                .as_str(),
        )?,
        updated_at: from_text(
            row.try_get::<String, _>("updated_at")
                .map_err(get)?
                .as_str(),
        )?,
        expires_at: from_opt_text(
            row.try_get::<Option<String>, _>("expires_at")
                .map_err(get)?,
        )?,
        completed_at: from_opt_text(
            row.try_get::<Option<String>, _>("completed_at")
                .map_err(get)?,
        )?,
    })
}

pub(crate) fn refund_from_row(row: &SqliteRow) -> RepoResult<Refund> {
    let get = |e: sqlx::Error| map_sqlx_error(e);
    let currency: String = row.try_get("currency").map_err(get)?;
    Ok(Refund {
        id: row.try_get("refund_id").map_err(get)?,
        payment_id: PaymentId(row.try_get("payment_id").map_err(get)?),
        payment_created_at: from_text(
            row.try_get::<String, _>("payment_created_at")
                .map_err(get)?
                .as_str(),
        )?,
        user_id: UserId(row.try_get("user_id").map_err(get)?),
        app_id: app(row.try_get("app_id").map_err(get)?)?,
        amount: money(row.try_get("amount").map_err(get)?, &currency)?,
        fee: row.try_get("fee_amount").map_err(get)?,
        reason: row.try_get("reason").map_err(get)?,
        movement_id: row.try_get("movement_id").map_err(get)?,
        created_at: from_text(
            row.try_get::<String, _>("created_at")
                .map_err(get)?
                .as_str(),
        )?,
    })
}

pub(crate) fn challenge_from_row(row: &SqliteRow) -> RepoResult<MfaChallenge> {
    let get = |e: sqlx::Error| map_sqlx_error(e);
    let methods = json(row.try_get("methods").map_err(get)?)?;
    let method: String = row.try_get("method_type").map_err(get)?;
    let status: String = row.try_get("status").map_err(get)?;
    Ok(MfaChallenge {
        id: row.try_get("challenge_id").map_err(get)?,
        payment_id: PaymentId(row.try_get("payment_id").map_err(get)?),
        payment_created_at: from_text(
            row.try_get::<String, _>("payment_created_at")
                .map_err(get)?
                .as_str(),
        )?,
        user_id: UserId(row.try_get("user_id").map_err(get)?),
        methods: methods_from_json(&methods)?,
        method: ChallengeMethod::from_db(&method).ok_or_else(|| bad("mfa method", &method))?,
        status: ChallengeStatus::from_db(&status)
            .ok_or_else(|| bad("challenge status", &status))?,
        attempts: row.try_get("attempts").map_err(get)?,
        max_attempts: row.try_get("max_attempts").map_err(get)?,
        expires_at: from_text(
            row.try_get::<String, _>("expires_at")
                .map_err(get)?
                .as_str(),
        )?,
        created_at: from_text(
            row.try_get::<String, _>("created_at")
                .map_err(get)?
                .as_str(),
        )?,
        verified_at: from_opt_text(
            row.try_get::<Option<String>, _>("verified_at")
                .map_err(get)?,
        )?,
    })
}

pub(crate) fn methods_json(methods: &[ChallengeMethod]) -> serde_json::Value {
    serde_json::Value::Array(
        methods
            .iter()
            .map(|m| serde_json::Value::String(m.as_db().into()))
            .collect(),
    )
}

fn methods_from_json(value: &serde_json::Value) -> RepoResult<Vec<ChallengeMethod>> {
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
