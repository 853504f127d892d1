//! The key listing, and the page rules every storage listing shares (page sizes, one extra
//! row fetched to learn whether another page follows).

use super::error::{CheckFields, StorageError};
use super::Caller;
use crate::fields::FieldErrors;
use tmcp_domain::storage::cursor::KeyCursor;
use tmcp_domain::storage::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use tmcp_domain::Clock;
use tmcp_repository::{Database, EntrySummary, ListQuery};

/// One page of a listing.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The page size used.
    pub limit: i64,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Cuts `found` (fetched with `limit + 1`) to `limit` rows; when a row was left over,
    /// the cursor of the last row kept points at the next page.
    pub(super) fn from_overfetch(
        mut found: Vec<T>,
        limit: i64,
        cursor_of: impl Fn(&T) -> String,
    ) -> Self {
        let limit_rows = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_more = found.len() > limit_rows;
        found.truncate(limit_rows);
        let next_cursor = has_more.then(|| found.last().map(&cursor_of)).flatten();
        Self {
            items: found,
            limit,
            next_cursor,
            has_more,
        }
    }
}

/// A page size as the request gives it (text): 1..=max, `default` when absent. Anything
/// else records a `limit` field error.
pub fn page_limit(raw: Option<&str>, default: i64, max: i64, errors: &mut FieldErrors) -> i64 {
    match raw {
        None => default,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                errors.add("limit", format!("limit must be an integer from 1 to {max}"));
                default
            }
        },
    }
}

/// A listing request as the client sent it.
#[derive(Debug, Default)]
pub struct ListInput<'a> {
    /// Only keys starting with these bytes (empty: all keys).
    pub prefix: Option<String>,
    pub limit: Option<&'a str>,
    /// `next_cursor` of the previous page (empty: the first page).
    pub cursor: Option<&'a str>,
}

/// The caller's live keys in byte order, one page at a time (summaries, no values). Field
/// problems are reported before a bad cursor.
pub async fn list_keys(
    db: &dyn Database,
    clock: &dyn Clock,
    caller: &Caller,
    input: ListInput<'_>,
) -> Result<Page<EntrySummary>, StorageError> {
    let mut errors = FieldErrors::default();
    let limit = page_limit(input.limit, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, &mut errors);
    let prefix = input.prefix.filter(|p| !p.is_empty());
    if let Some(p) = &prefix {
        if p.len() > 256 || p.chars().any(char::is_control) {
            errors.add(
                "prefix",
                "prefix must be at most 256 bytes without control characters",
            );
        }
    }
    errors.check()?;
    let after = match input.cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => Some(
            KeyCursor::decode(text)
                .ok_or(StorageError::InvalidCursor)?
                .0,
        ),
    };
    let query = ListQuery {
        prefix,
        after,
        limit: limit + 1,
    };
    let found = db
        .list_entries(caller.user, &caller.app, &query, clock.now())
        .await?;
    Ok(Page::from_overfetch(found, limit, |s| {
        KeyCursor(s.key.clone()).encode()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_limits_default_and_refuse_out_of_range() {
        let mut errors = FieldErrors::default();
        assert_eq!(page_limit(None, 100, 1000, &mut errors), 100);
        assert_eq!(page_limit(Some("1000"), 100, 1000, &mut errors), 1000);
        assert!(errors.is_empty());
        assert_eq!(page_limit(Some("0"), 100, 1000, &mut errors), 100);
        assert_eq!(
            errors.iter().collect::<Vec<_>>(),
            [("limit", "limit must be an integer from 1 to 1000")]
        );
        let mut errors = FieldErrors::default();
        page_limit(Some("ten"), 100, 1000, &mut errors);
        assert!(!errors.is_empty());
    }

    #[test]
    fn an_overfetched_row_means_another_page() {
        let page = Page::from_overfetch(vec![1, 2, 3], 2, i32::to_string);
        assert_eq!(page.items, [1, 2]);
        assert_eq!(page.next_cursor.as_deref(), Some("2"));
        assert!(page.has_more);
        let page = Page::from_overfetch(vec![1, 2], 2, i32::to_string);
        assert_eq!((page.next_cursor, page.has_more), (None, false));
    }
}
