//! SQLite has no timestamp type: timestamps are TEXT in one fixed UTC format with six
//! fraction digits, so lexical order equals time order and SQL comparisons work.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use tmcp_repository::RepoError;

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

pub fn to_text(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_default()
}

pub fn from_text(text: &str) -> Result<OffsetDateTime, RepoError> {
    PrimitiveDateTime::parse(text, FORMAT)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|e| RepoError::Internal(format!("bad stored timestamp {text:?}: {e}")))
}

pub fn from_opt_text(text: Option<String>) -> Result<Option<OffsetDateTime>, RepoError> {
    text.as_deref().map(from_text).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn round_trips_with_microseconds() {
        let at = datetime!(2026-11-25 10:00:00.123456 UTC);
        assert_eq!(to_text(at), "2026-11-25T10:00:00.123456Z");
        assert_eq!(from_text(&to_text(at)).ok(), Some(at));
    }
}
