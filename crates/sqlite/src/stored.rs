//! How SQLite reads a stored column by name (timestamps and JSON are TEXT, booleans 0/1);
//! what the rows of the wallet and payment tables mean is decided once in
//! `tmcp_repository::stored`.

use crate::map_sqlx_error;
use crate::time_text::{from_opt_text, from_text};
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use time::OffsetDateTime;
use tmcp_repository::stored::{self, StoredColumns};
use tmcp_repository::{
    IdempotencyRecord, MfaChallenge, Payment, Refund, RepoError, RepoResult, TopUp,
};
use uuid::Uuid;

struct Columns<'r>(&'r SqliteRow);

impl Columns<'_> {
    fn get<'r, T>(&'r self, column: &str) -> RepoResult<T>
    where
        T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
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
        let text: String = self.get(column)?;
        serde_json::from_str(&text)
            .map_err(|_| RepoError::Internal(format!("bad stored json {text:?}")))
    }
    fn time(&self, column: &str) -> RepoResult<OffsetDateTime> {
        from_text(&self.get::<String>(column)?)
    }
    fn opt_time(&self, column: &str) -> RepoResult<Option<OffsetDateTime>> {
        from_opt_text(self.get(column)?)
    }
}

pub(crate) fn payment_from_row(row: &SqliteRow) -> RepoResult<Payment> {
    stored::payment_from_row(&Columns(row))
}

pub(crate) fn refund_from_row(row: &SqliteRow) -> RepoResult<Refund> {
    stored::refund_from_row(&Columns(row))
}

pub(crate) fn challenge_from_row(row: &SqliteRow) -> RepoResult<MfaChallenge> {
    stored::challenge_from_row(&Columns(row))
}

pub(crate) fn top_up_from_row(row: &SqliteRow) -> RepoResult<TopUp> {
    stored::top_up_from_row(&Columns(row))
}

pub(crate) fn idempotency_record_from_row(row: &SqliteRow) -> RepoResult<IdempotencyRecord> {
    stored::idempotency_record_from_row(&Columns(row))
}
