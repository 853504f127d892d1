//! Lifecycle analytics rules (API §6): the limits of ingestion, hourly buckets, what a session
//! is, how an hour's raw rows become its rollup and how percentiles are read from the
//! rollups. Pure functions: both engines and the property tests call the same rules.
//!
//! Definitions (docs/analytics.md):
//! - **Bucket**: an hour `[h·3600, (h+1)·3600)` seconds after the Unix epoch, numbered `h`.
//! - **Session**: the usage events of one `(user, session_id)` of an app. It starts at its
//!   first event and is attributed to that event's hour. It ends at its first `session_end`,
//!   or at the last event before a gap of more than 30 minutes without events, whichever
//!   comes first; nothing after 24 hours from its start belongs to it (capped at 24 h). Its
//!   length is `end − start` in whole seconds.
//! - **Active user**: a user with at least one lifecycle or usage event in the period.
//! - **Crash rate** of a version: crashing sessions ÷ sessions of that version, where each
//!   `crash_rate` metric item reports one session of that version (`metric_value` > 0: it
//!   crashed).
//! - **Percentiles**: nearest rank (the smallest value whose cumulative count reaches
//!   `⌈p·n⌉`), over exact values: session lengths in seconds, load times in tenths of a
//!   millisecond.

pub mod delta;

use std::collections::{BTreeMap, BTreeSet};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Items per request (one item or a batch of up to this many).
pub const MAX_BATCH_ITEMS: usize = 100;
/// `event_data` and `device_info`: serialized JSON size limit.
pub const MAX_JSON_BYTES: usize = 4096;
/// A client timestamp may be at most this far ahead of the server's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);
/// Events up to this old are accepted (and their buckets rolled up again).
pub const MAX_LATENESS: Duration = Duration::days(7);
/// A session without events for longer than this has ended.
pub const SESSION_IDLE: Duration = Duration::minutes(30);
/// No session is longer than this.
pub const SESSION_CAP: Duration = Duration::hours(24);
const HOUR_SECONDS: i64 = 3600;

pub const LIFECYCLE_EVENT_TYPES: [&str; 5] =
    ["installed", "updated", "uninstalled", "launched", "closed"];
pub const USAGE_EVENT_TYPES: [&str; 3] = ["session_start", "session_end", "feature_used"];
pub const METRIC_TYPES: [&str; 4] = ["crash_rate", "load_time", "memory_usage", "cpu_usage"];

/// The accepted range of a metric's value (inclusive), by type: `crash_rate` 0–1 (one
/// session: 0 clean, above 0 crashed), `load_time` milliseconds up to 10 minutes,
/// `memory_usage` MiB up to 1 TiB, `cpu_usage` percent up to 100 per core for 100 cores.
pub fn metric_range(metric_type: &str) -> Option<(f64, f64)> {
    match metric_type {
        "crash_rate" => Some((0.0, 1.0)),
        "load_time" => Some((0.0, 600_000.0)),
        "memory_usage" => Some((0.0, 1_048_576.0)),
        "cpu_usage" => Some((0.0, 10_000.0)),
        _ => None,
    }
}

/// The bucket (hour number) of an instant.
pub fn hour_of(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(HOUR_SECONDS)
}

/// The first instant of bucket `hour`.
pub fn hour_start(hour: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(hour.saturating_mul(HOUR_SECONDS))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A load time as stored in the rollups: tenths of a millisecond.
pub fn load_time_key(millis: f64) -> i64 {
    // Values are validated to 0..=600000 ms, so the product fits an i64 exactly.
    #[allow(clippy::cast_possible_truncation)]
    let key = (millis * 10.0).round() as i64;
    key
}

/// One usage event of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEvent {
    pub at: OffsetDateTime,
    pub is_end: bool,
}

/// The length in seconds of a session whose events are `events` (any order; the first in
/// time is its start). `None` for no events.
pub fn session_length(events: &[SessionEvent]) -> Option<i64> {
    let mut sorted: Vec<&SessionEvent> = events.iter().collect();
    sorted.sort_by_key(|e| (e.at, !e.is_end));
    let start = sorted.first()?.at;
    let mut end = start;
    for event in &sorted {
        if event.at - start > SESSION_CAP || event.at - end > SESSION_IDLE {
            break;
        }
        end = event.at;
        if event.is_end {
            break;
        }
    }
    Some((end - start).whole_seconds())
}

/// When a session starts (its first event) and its length in seconds. `None` for no
/// events.
pub fn session_start_and_length(events: &[SessionEvent]) -> Option<(OffsetDateTime, i64)> {
    let first = events.iter().map(|e| e.at).min()?;
    Some((first, session_length(events)?))
}

/// Where a session is counted: the hour of its first event and its length in seconds.
/// `None` for no events.
pub fn session_contribution(events: &[SessionEvent]) -> Option<(i64, i64)> {
    session_start_and_length(events).map(|(first, length)| (hour_of(first), length))
}

/// A usage row as the rollup reads it.
#[derive(Debug, Clone)]
pub struct UsageRow {
    pub user_id: Option<Uuid>,
    pub session_id: String,
    pub is_end: bool,
    pub at: OffsetDateTime,
}

/// A metric row as the rollup reads it (`load_time` and `crash_rate` only).
#[derive(Debug, Clone)]
pub struct MetricRow {
    pub version: String,
    pub metric_type: String,
    pub value: f64,
}

/// Everything the rollup of one (app, hour) reads from the raw tables.
#[derive(Debug, Clone, Default)]
pub struct RawBucket {
    /// `(event_type, count)` of the lifecycle events in the hour.
    pub lifecycle_counts: Vec<(String, i64)>,
    /// Users with any lifecycle or usage event in the hour.
    pub users: Vec<Uuid>,
    /// Every usage event of the sessions that have an event in the hour (or span), from
    /// their first event up to at least 24 hours after it ends (later ones are past the
    /// session cap of any session starting in it, so they change nothing).
    pub session_rows: Vec<UsageRow>,
    /// The hour's `load_time` and `crash_rate` metrics.
    pub metrics: Vec<MetricRow>,
}

/// Lifecycle counters of one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub installs: i64,
    pub uninstalls: i64,
    pub updates: i64,
    pub launches: i64,
    pub closes: i64,
}

impl Counts {
    /// Counts `n` lifecycle events of `event_type` (other types count nowhere).
    pub fn add(&mut self, event_type: &str, n: i64) {
        let slot = match event_type {
            "installed" => &mut self.installs,
            "uninstalled" => &mut self.uninstalls,
            "updated" => &mut self.updates,
            "launched" => &mut self.launches,
            "closed" => &mut self.closes,
            _ => return,
        };
        *slot += n;
    }
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Self) {
        self.installs += other.installs;
        self.uninstalls += other.uninstalls;
        self.updates += other.updates;
        self.launches += other.launches;
        self.closes += other.closes;
    }
}

/// The rollup of one (app, hour): what the stats read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HourRollup {
    pub counts: Counts,
    /// Distinct active users of the hour.
    pub users: BTreeSet<Uuid>,
    /// Sessions that started in the hour: length in seconds → sessions.
    pub session_lengths: BTreeMap<i64, i64>,
    /// (version, load time in 0.1 ms) → samples.
    pub load_times: BTreeMap<(String, i64), i64>,
    /// version → (sessions reported, crashing sessions).
    pub crashes: BTreeMap<String, (i64, i64)>,
}

impl HourRollup {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Computes the rollup of bucket `hour` from its raw rows.
pub fn roll_up(hour: i64, raw: RawBucket) -> HourRollup {
    roll_up_span(hour_start(hour), hour_start(hour + 1), raw)
}

/// Computes the rollup of the instants `[lo, hi)` from their raw rows (read for that span):
/// the stats read part of an hour this way where a local day starts inside it (a zone such
/// as `+05:30`). Sessions count where their first event lies, as in the hourly buckets.
pub fn roll_up_span(lo: OffsetDateTime, hi: OffsetDateTime, raw: RawBucket) -> HourRollup {
    let mut rollup = HourRollup::default();
    for (event_type, count) in raw.lifecycle_counts {
        rollup.counts.add(&event_type, count);
    }
    rollup.users = raw.users.into_iter().collect();
    let mut sessions: BTreeMap<(Option<Uuid>, String), Vec<SessionEvent>> = BTreeMap::new();
    for row in raw.session_rows {
        sessions
            .entry((row.user_id, row.session_id))
            .or_default()
            .push(SessionEvent {
                at: row.at,
                is_end: row.is_end,
            });
    }
    for events in sessions.values() {
        if let Some((first, length)) = session_start_and_length(events) {
            if first >= lo && first < hi {
                *rollup.session_lengths.entry(length).or_default() += 1;
            }
        }
    }
    for metric in raw.metrics {
        match metric.metric_type.as_str() {
            "load_time" => {
                *rollup
                    .load_times
                    .entry((metric.version, load_time_key(metric.value)))
                    .or_default() += 1;
            }
            "crash_rate" => {
                let entry = rollup.crashes.entry(metric.version).or_default();
                entry.0 += 1;
                if metric.value > 0.0 {
                    entry.1 += 1;
                }
            }
            _ => {}
        }
    }
    rollup
}

/// The nearest-rank `percent`-th percentile of a histogram given as (value, count) pairs in
/// ascending value order; `None` when it is empty.
pub fn percentile<I>(histogram: I, percent: u32) -> Option<i64>
where
    I: IntoIterator<Item = (i64, i64)> + Clone,
{
    let total: i64 = histogram.clone().into_iter().map(|(_, n)| n.max(0)).sum();
    if total == 0 {
        return None;
    }
    // ⌈percent · total / 100⌉, at least 1.
    let rank = (i64::from(percent) * total + 99) / 100;
    let rank = rank.max(1);
    let mut seen = 0;
    for (value, count) in histogram {
        seen += count.max(0);
        if seen >= rank {
            return Some(value);
        }
    }
    None
}

/// A fixed offset from UTC in seconds east (`UTC`, `Z`, `+03:00`, `-05`, `+0900`,
/// `+05:30`), at most 14 hours. Anything else (an IANA name) is `None`.
pub fn parse_utc_offset(text: &str) -> Option<i32> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("utc") || text == "Z" || text.is_empty() {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "00"),
    };
    if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
        return None;
    }
    if !hours
        .bytes()
        .chain(minutes.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    if minutes >= 60 || hours * 60 + minutes > 14 * 60 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn ev(minute: i64, is_end: bool) -> SessionEvent {
        SessionEvent {
            at: datetime!(2026-01-01 10:00 UTC) + Duration::minutes(minute),
            is_end,
        }
    }

    #[test]
    fn sessions_end_at_session_end_idle_gap_or_cap() {
        assert_eq!(session_length(&[ev(0, false), ev(10, true)]), Some(600));
        // Events after the end do not extend it.
        assert_eq!(
            session_length(&[ev(0, false), ev(10, true), ev(20, false)]),
            Some(600)
        );
        // A gap of more than 30 minutes ends the session at the event before it.
        assert_eq!(
            session_length(&[ev(0, false), ev(20, false), ev(51, true)]),
            Some(1200)
        );
        assert_eq!(
            session_length(&[ev(0, false), ev(30, false)]),
            Some(1800),
            "exactly 30 minutes is not a gap"
        );
        // Capped at 24 h even with steady activity.
        let steady: Vec<_> = (0..=60 * 25).step_by(20).map(|m| ev(m, false)).collect();
        assert_eq!(session_length(&steady), Some(86_400));
        // Arrival order does not matter.
        assert_eq!(session_length(&[ev(10, true), ev(0, false)]), Some(600));
        assert_eq!(session_length(&[]), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let h = vec![(1, 1), (2, 1), (3, 1), (4, 1)];
        assert_eq!(percentile(h.clone(), 50), Some(2));
        assert_eq!(percentile(h.clone(), 95), Some(4));
        assert_eq!(percentile(vec![(7, 3)], 50), Some(7));
        assert_eq!(percentile(Vec::<(i64, i64)>::new(), 50), None);
    }

    #[test]
    fn utc_offsets_parse_to_seconds() {
        assert_eq!(parse_utc_offset("UTC"), Some(0));
        assert_eq!(parse_utc_offset("+03:00"), Some(3 * 3600));
        assert_eq!(parse_utc_offset("-05"), Some(-5 * 3600));
        assert_eq!(parse_utc_offset("+0900"), Some(9 * 3600));
        assert_eq!(parse_utc_offset("+05:30"), Some(5 * 3600 + 1800));
        assert_eq!(parse_utc_offset("-09:30"), Some(-(9 * 3600 + 1800)));
        assert_eq!(parse_utc_offset("Europe/Paris"), None);
        assert_eq!(parse_utc_offset("+15:00"), None);
        assert_eq!(parse_utc_offset("+03:60"), None);
        assert_eq!(parse_utc_offset("+-3"), None);
    }

    #[test]
    fn hours_floor_before_the_epoch_too() {
        assert_eq!(hour_of(datetime!(1970-01-01 01:59:59 UTC)), 1);
        assert_eq!(hour_of(datetime!(1969-12-31 23:59:59 UTC)), -1);
        assert_eq!(hour_start(2), datetime!(1970-01-01 02:00 UTC));
    }
}
