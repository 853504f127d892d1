//! The developer's stats of one app, read from the hourly rollups:
//! `GET /api/v1/developer/apps/{app_id}/stats?from=&to=&granularity=day|hour&tz=`.
//! Days are counted in the requested time zone (default UTC): a fixed offset or an IANA name
//! such as `Europe/Berlin`, whose local days may last 23 or 25 hours across a DST change.
//! `from` and `to` are dates in that zone, both included (default: the last 30 days up to
//! today). The rollups are hourly; where a local day starts inside a UTC hour (`+05:30`,
//! `Asia/Kolkata`, `Australia/Adelaide`, …) the parts of that hour on either side are rolled
//! up from the raw events at query time (`periods.rs`), so every figure stays exact — as far
//! back as the raw events are kept.

pub use super::answer::assemble;
use super::periods::{self, Span};
use super::AnalyticsError;
use crate::fields::FieldErrors;
use crate::store::apps::owned_app;
use crate::store::Caller;
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, UtcOffset};
use tmcp_domain::analytics::{parse_utc_offset, roll_up_span, HourRollup};
use tmcp_domain::Clock;
use tmcp_repository::{Database, StatsQuery};

/// The longest range one query covers.
pub const MAX_RANGE_DAYS: i64 = 92;

#[derive(Debug, Clone, Default)]
pub struct StatsParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub granularity: Option<String>,
    pub tz: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Hour,
}

/// Counters and session lengths of a period (or of the whole range).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub installs: i64,
    pub uninstalls: i64,
    pub updates: i64,
    pub launches: i64,
    pub active_users: i64,
    pub sessions: i64,
    pub session_median_seconds: Option<i64>,
    pub session_p95_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// The period's first instant, in the zone's offset at that instant.
    pub start: OffsetDateTime,
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VersionFigures {
    pub version: String,
    pub load_time_samples: i64,
    pub load_time_median_ms: Option<f64>,
    pub load_time_p95_ms: Option<f64>,
    pub crash_reports: i64,
    pub crashing_sessions: i64,
    /// crashing ÷ reported sessions; `None` without reports.
    pub crash_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppStats {
    pub app_id: String,
    pub from: Date,
    pub to: Date,
    pub granularity: Granularity,
    /// The zone as asked: its IANA name (`Europe/Berlin`), or the offset (`+03:00`).
    pub tz: String,
    pub totals: Figures,
    pub series: Vec<Period>,
    pub versions: Vec<VersionFigures>,
}

fn bad(field: &str, message: impl Into<String>) -> AnalyticsError {
    let mut fields = FieldErrors::new();
    fields.add(field, message);
    AnalyticsError::InvalidQuery(fields)
}

fn date(text: &str, field: &str) -> Result<Date, AnalyticsError> {
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map_err(|_| bad(field, "must be a date YYYY-MM-DD"))
}

const TZ_FORMS: &str =
    "must be UTC, an offset such as +03:00 or an IANA time-zone name such as Europe/Berlin";

/// The time zone days are counted in.
#[derive(Debug, Clone)]
pub struct Zone {
    /// What the answer echoes: the IANA name, or the offset as `+03:00`.
    pub name: String,
    tz: TimeZone,
}

fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `tz` of the query: absent or `UTC`, a fixed offset, or a name of the IANA time-zone
/// database (compiled into the binary). Unknown names are a field error.
pub fn zone(text: Option<&str>) -> Result<Zone, AnalyticsError> {
    let text = text.unwrap_or("").trim();
    if let Some(seconds) = parse_utc_offset(text) {
        let offset = Offset::from_seconds(seconds).map_err(|_| bad("tz", TZ_FORMS))?;
        return Ok(Zone {
            name: offset_text(seconds),
            tz: TimeZone::fixed(offset),
        });
    }
    if text.starts_with(['+', '-']) || text.len() > 64 {
        return Err(bad("tz", TZ_FORMS));
    }
    let tz = TimeZone::get(text)
        .map_err(|_| bad("tz", format!("unknown time zone {text:?}: {TZ_FORMS}")))?;
    Ok(Zone {
        name: tz.iana_name().unwrap_or(text).to_owned(),
        tz,
    })
}

impl Zone {
    /// The zone's offset from UTC at the instant `seconds` after the epoch.
    fn offset_at(&self, seconds: i64) -> UtcOffset {
        let offset = Timestamp::from_second(seconds)
            .map(|t| self.tz.to_offset(t).seconds())
            .unwrap_or(0);
        UtcOffset::from_whole_seconds(offset).unwrap_or(UtcOffset::UTC)
    }

    /// The local date of the instant `at`.
    fn date_of(&self, at: OffsetDateTime) -> Date {
        at.to_offset(self.offset_at(at.unix_timestamp())).date()
    }

    /// The first instant of the local day `day` (seconds after the epoch): local midnight,
    /// or the end of the gap where a DST change skips midnight.
    fn day_start(&self, day: Date) -> Option<i64> {
        let civil = jiff::civil::Date::new(
            i16::try_from(day.year()).ok()?,
            i8::try_from(u8::from(day.month())).ok()?,
            i8::try_from(day.day()).ok()?,
        )
        .ok()?;
        let start = civil.to_zoned_datetime(self.tz.clone()).ok()?;
        Some(start.timestamp().as_second())
    }

    /// The first instants (seconds) of the local days `from..=to` and of the day after.
    fn day_starts(&self, from: Date, to: Date) -> Result<Vec<i64>, AnalyticsError> {
        let mut starts = Vec::new();
        let mut day = from;
        loop {
            starts.push(
                self.day_start(day)
                    .ok_or_else(|| bad("to", "out of the supported dates"))?,
            );
            if day > to {
                return Ok(starts);
            }
            day = day
                .next_day()
                .ok_or_else(|| bad("to", "out of the supported dates"))?;
        }
    }
}

/// A stats query turned into periods of the rollups.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The rollup query (its `extra_users` filled from the spans once they are read).
    pub query: StatsQuery,
    pub from: Date,
    pub to: Date,
    pub granularity: Granularity,
    pub tz: String,
    pub zone: Zone,
    /// Each period's first instant, in the zone's offset at that instant.
    pub starts: Vec<OffsetDateTime>,
    /// Where the periods start or end inside an hour: those parts, read from the raw events.
    pub spans: Vec<Span>,
    /// For each period of `query`, the answer's period (`None`: an hour read as spans).
    pub answer_period: Vec<Option<usize>>,
}

/// Turns the query into a rollup query: the boundaries of its local days, or of every hour
/// in them. A zone whose days start inside a UTC hour (`+05:30`) also gets the spans of
/// those hours to read from the raw events; by hour, its periods are the UTC hours with a
/// partial period where each local day starts and ends.
pub fn plan(
    app_id: &str,
    params: &StatsParams,
    now: OffsetDateTime,
) -> Result<Plan, AnalyticsError> {
    let zone = zone(params.tz.as_deref())?;
    let granularity = match params.granularity.as_deref() {
        None | Some("day") => Granularity::Day,
        Some("hour") => Granularity::Hour,
        Some(_) => return Err(bad("granularity", "must be day or hour")),
    };
    let today = zone.date_of(now);
    let to = match params.to.as_deref() {
        Some(text) => date(text, "to")?,
        None => today,
    };
    let from = match params.from.as_deref() {
        Some(text) => date(text, "from")?,
        None => to - Duration::days(29),
    };
    if from > to {
        return Err(bad("from", "must not be after to"));
    }
    if (to - from).whole_days() >= MAX_RANGE_DAYS {
        return Err(bad("to", "the range covers at most 92 days"));
    }
    let days = zone.day_starts(from, to)?;
    let boundaries: Vec<i64> = match granularity {
        Granularity::Day => days,
        Granularity::Hour => {
            let mut all: Vec<i64> = days.clone();
            if let (Some(first), Some(last)) = (days.first(), days.last()) {
                let hours = first.div_euclid(3600) + 1..=last.div_euclid(3600);
                all.extend(hours.map(|h| h * 3600).filter(|s| s < last));
            }
            all.sort_unstable();
            all.dedup();
            all
        }
    };
    let starts = boundaries
        .iter()
        .take(boundaries.len().saturating_sub(1))
        .map(|second| {
            OffsetDateTime::from_unix_timestamp(*second)
                .map(|at| at.to_offset(zone.offset_at(*second)))
                .map_err(|_| bad("to", "out of the supported dates"))
        })
        .collect::<Result<_, _>>()?;
    let split = periods::split(&boundaries);
    Ok(Plan {
        query: StatsQuery {
            app_id: app_id.to_owned(),
            boundaries: split.hours,
            extra_users: Vec::new(),
        },
        from,
        to,
        granularity,
        tz: zone.name.clone(),
        zone,
        starts,
        spans: split.spans,
        answer_period: split.answer_period,
    })
}

/// The stats of `app_id` for its developer or an admin (404 `APP_NOT_FOUND` otherwise).
pub async fn app_stats(
    db: &dyn Database,
    clock: &dyn Clock,
    caller: Caller,
    app_id: &str,
    params: &StatsParams,
    raw_retention_days: i64,
) -> Result<AppStats, AnalyticsError> {
    owned_app(db, caller, app_id).await?;
    let now = clock.now();
    let mut plan = plan(app_id, params, now)?;
    let spans = read_spans(db, &mut plan, now, raw_retention_days).await?;
    let rows = db.stats(&plan.query).await?;
    Ok(assemble(plan, rows, &spans))
}

/// Rolls up the plan's spans from the raw events and adds their users to its rollup query.
/// Raw events are kept for `raw_retention_days` only, so a span older than that would come
/// back empty: refused instead of answered wrong.
async fn read_spans(
    db: &dyn Database,
    plan: &mut Plan,
    now: OffsetDateTime,
    raw_retention_days: i64,
) -> Result<Vec<HourRollup>, AnalyticsError> {
    let Some(oldest) = plan.spans.iter().map(|s| s.lo).min() else {
        return Ok(Vec::new());
    };
    let kept_since = now - Duration::days(raw_retention_days);
    if oldest < kept_since {
        return Err(bad(
            "from",
            format!(
                "{} starts its days inside a UTC hour, so the hours where days meet are \
                 counted from the raw events, which are kept {raw_retention_days} days: \
                 the range must start on or after {} (or use a zone whose offset is a \
                 whole number of hours, counted from the rollups)",
                plan.tz,
                plan.zone.date_of(kept_since).next_day().unwrap_or(plan.to)
            ),
        ));
    }
    let bounds: Vec<(OffsetDateTime, OffsetDateTime)> =
        plan.spans.iter().map(|s| (s.lo, s.hi)).collect();
    let raw = db.raw_spans(&plan.query.app_id, &bounds).await?;
    let rollups: Vec<HourRollup> = bounds
        .iter()
        .zip(raw)
        .map(|((lo, hi), raw)| roll_up_span(*lo, *hi, raw))
        .collect();
    for (span, rollup) in plan.spans.iter().zip(&rollups) {
        if let Some(period) = periods::query_period(&plan.answer_period, span.period) {
            plan.query
                .extra_users
                .extend(rollup.users.iter().map(|user| (period, *user)));
        }
    }
    Ok(rollups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use tmcp_domain::analytics::hour_start;

    fn params(from: &str, to: &str, granularity: &str, tz: &str) -> StatsParams {
        StatsParams {
            from: Some(from.into()),
            to: Some(to.into()),
            granularity: Some(granularity.into()),
            tz: Some(tz.into()),
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-11-05 00:00 UTC);

    #[test]
    fn days_in_an_offset_start_at_its_midnight() {
        let p = plan(
            "app",
            &params("2026-03-01", "2026-03-02", "day", "+03:00"),
            NOW,
        )
        .expect("plan");
        let b = &p.query.boundaries;
        assert_eq!(b.len(), 3);
        assert_eq!(hour_start(b[0]), datetime!(2026-02-28 21:00 UTC));
        assert_eq!(hour_start(b[2]), datetime!(2026-03-02 21:00 UTC));
        assert_eq!(p.starts[1], datetime!(2026-03-02 00:00 +03:00));
        assert_eq!(p.tz, "+03:00");
        assert!(p.spans.is_empty());
        assert!(plan(
            "app",
            &params("2026-03-01", "2026-03-02", "day", "Mars/Olympus"),
            NOW
        )
        .is_err());
    }

    #[test]
    fn dst_days_last_23_and_25_hours() {
        // Europe/Berlin: 2026-03-29 02:00 CET → 03:00 CEST; 2026-10-25 03:00 CEST → 02:00 CET.
        let spring = plan(
            "app",
            &params("2026-03-28", "2026-03-30", "day", "Europe/Berlin"),
            NOW,
        )
        .expect("plan");
        let b = &spring.query.boundaries;
        assert_eq!(
            b.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>(),
            [24, 23, 24]
        );
        assert_eq!(hour_start(b[1]), datetime!(2026-03-28 23:00 UTC));
        assert_eq!(spring.starts[1], datetime!(2026-03-29 00:00 +01:00));
        assert_eq!(spring.starts[2], datetime!(2026-03-30 00:00 +02:00));
        assert_eq!(spring.tz, "Europe/Berlin");
        let fall = plan(
            "app",
            &params("2026-10-25", "2026-10-25", "hour", "Europe/Berlin"),
            NOW,
        )
        .expect("plan");
        assert_eq!(fall.starts.len(), 25);
        assert_eq!(fall.starts[0], datetime!(2026-10-25 00:00 +02:00));
        // 02:00 comes twice: first in summer time, then in winter time.
        assert_eq!(fall.starts[2], datetime!(2026-10-25 02:00 +02:00));
        assert_eq!(fall.starts[3], datetime!(2026-10-25 02:00 +01:00));
        assert_eq!(fall.starts[24], datetime!(2026-10-25 23:00 +01:00));
        // Every hour of the query is one period.
        assert_eq!(fall.query.period_of(fall.query.from_hour() + 3), Some(3));
        assert_eq!(fall.query.period_of(fall.query.to_hour()), None);
    }

    #[test]
    fn days_starting_inside_a_utc_hour_read_where_they_meet_from_raw_events() {
        for (tz, minutes) in [("+05:30", 30), ("Asia/Kolkata", 30), ("Asia/Kathmandu", 45)] {
            let p = plan("app", &params("2026-03-01", "2026-03-02", "day", tz), NOW).expect("plan");
            assert_eq!(p.starts.len(), 2, "{tz}");
            assert_eq!(p.starts[0].date(), time::macros::date!(2026 - 03 - 01));
            assert_eq!((p.starts[0].hour(), p.starts[0].minute()), (0, 0));
            // Local midnight is `minutes` before the next UTC hour: that hour of each day
            // boundary is read as two spans, the range's first and last as one each.
            let first = p.starts[0].to_offset(time::UtcOffset::UTC);
            assert_eq!(i64::from(60 - first.minute()), minutes, "{tz}");
            assert_eq!(p.spans.len(), 4, "{tz}");
            assert_eq!(p.spans[0].lo, first);
            assert_eq!(p.spans[0].hi - p.spans[0].lo, Duration::minutes(minutes));
            assert!(p.spans[0].outside_rollups && p.spans[3].outside_rollups);
            assert_eq!(p.spans[1].hi, p.spans[2].lo);
            assert_eq!((p.spans[1].period, p.spans[2].period), (0, 1));
            // The rollup query: day 0's whole hours, the split hour, day 1's whole hours.
            assert_eq!(p.answer_period, vec![Some(0), None, Some(1)]);
            assert_eq!(p.query.boundaries[1] - p.query.boundaries[0], 23);
        }
    }

    #[test]
    fn hours_in_a_half_hour_zone_follow_the_utc_hours_with_partial_edges() {
        let p = plan(
            "app",
            &params("2026-03-01", "2026-03-01", "hour", "+05:30"),
            NOW,
        )
        .expect("plan");
        assert_eq!(p.starts.len(), 25);
        assert_eq!(p.starts[0], datetime!(2026-03-01 00:00 +05:30));
        assert_eq!(p.starts[1], datetime!(2026-03-01 00:30 +05:30));
        assert_eq!(p.starts[24], datetime!(2026-03-01 23:30 +05:30));
        assert_eq!(p.spans.len(), 2);
        assert_eq!((p.spans[0].period, p.spans[1].period), (0, 24));
        assert!(p.answer_period.iter().all(Option::is_some));
    }
}
