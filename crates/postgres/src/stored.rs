//! How PostgreSQL reads a stored column by name; what the rows of the wallet and payment
//! tables mean is decided once in `tmcp_repository::stored`.

use crate::map_sqlx_error;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::Row;
use time::OffsetDateTime;
use tmcp_repository::stored::{self, StoredColumns};
use tmcp_repository::{IdempotencyRecord, MfaChallenge, Payment, Refund, RepoResult, TopUp};
use uuid::Uuid;

struct Columns<'r>(&'r PgRow);

impl Columns<'_> {
    fn get<'r, T>(&'r self, column: &str) -> RepoResult<T>
    where
        T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        self.0.try_get(column).map_err(map_sqlx_error)
    }
}

impl StoredColumns for Columns<'_> {
    fn uuid(&self, column: &str) -> RepoResult<Uuid> {
        self.get(column)
    }
    fn opt_uuid(&self, column: &str) -> RepoResult<Option<Uuid>> {
        self.get(column)
    }
    fn text(&self, column: &str) -> RepoResult<String> {
        self.get(column)
    }
    fn opt_text(&self, column: &str) -> RepoResult<Option<String>> {
        self.get(column)
    }
    fn int(&self, column: &str) -> RepoResult<i32> {
        self.get(column)
    }
    fn opt_int(&self, column: &str) -> RepoResult<Option<i32>> {
        self.get(column)
    }
    fn bigint(&self, column: &str) -> RepoResult<i64> {
        self.get(column)
    }
    fn flag(&self, column: &str) -> RepoResult<bool> {
        self.get(column)
    }
    fn bytes(&self, column: &str) -> RepoResult<Vec<u8>> {
        self.get(column)
    }
    fn json(&self, column: &str) -> RepoResult<Value> {
        self.get(column)
    }
    fn time(&self, column: &str) -> RepoResult<OffsetDateTime> {
        self.get(column)
    }
    fn opt_time(&self, column: &str) -> RepoResult<Option<OffsetDateTime>> {
        self.get(column)
    }
}

pub(crate) fn payment_from_row(row: &PgRow) -> RepoResult<Payment> {
    stored::payment_from_row(&Columns(row))
}

pub(crate) fn refund_from_row(row: &PgRow) -> RepoResult<Refund> {
    stored::refund_from_row(&Columns(row))
}

pub(crate) fn challenge_from_row(row: &PgRow) -> RepoResult<MfaChallenge> {
    stored::challenge_from_row(&Columns(row))
}

pub(crate) fn top_up_from_row(row: &PgRow) -> RepoResult<TopUp> {
    stored::top_up_from_row(&Columns(row))
}

pub(crate) fn idempotency_record_from_row(row: &PgRow) -> RepoResult<IdempotencyRecord> {
    stored::idempotency_record_from_row(&Columns(row))
}
