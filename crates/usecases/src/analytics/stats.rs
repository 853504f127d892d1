//! The developer's stats of one app, read from the hourly rollups:
//! `GET /api/v1/developer/apps/{app_id}/stats?from=&to=&granularity=day|hour&tz=`.
//! Days are counted in the requested fixed offset (whole hours; default UTC). `from` and `to`
//! are dates in that offset, both included (default: the last 30 days up to today).

use super::AnalyticsError;
use crate::fields::FieldErrors;
use crate::store::apps::owned_app;
use crate::store::Caller;
use std::collections::BTreeMap;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, UtcOffset};
use tmcp_domain::analytics::{hour_start, parse_whole_hour_offset, percentile};
use tmcp_domain::Clock;
use tmcp_repository::{Database, StatsQuery, StatsRows};

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
    /// The period's first instant, in the requested offset.
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
    pub offset: UtcOffset,
    pub totals: Figures,
    pub series: Vec<Period>,
    pub versions: Vec<VersionFigures>,
}

fn bad(field: &str, message: &str) -> AnalyticsError {
    let mut fields = FieldErrors::new();
    fields.add(field, message);
    AnalyticsError::InvalidQuery(fields)
}

fn date(text: &str, field: &str) -> Result<Date, AnalyticsError> {
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map_err(|_| bad(field, "must be a date YYYY-MM-DD"))
}

fn days_since_epoch(date: Date) -> i64 {
    date.midnight()
        .assume_utc()
        .unix_timestamp()
        .div_euclid(86_400)
}

/// Turns the query into a rollup query: hours `[from, to)` and periods.
pub fn plan(
    app_id: &str,
    params: &StatsParams,
    now: OffsetDateTime,
) -> Result<(StatsQuery, Date, Date, Granularity, UtcOffset), AnalyticsError> {
    let offset_hours = match params.tz.as_deref() {
        None => 0,
        Some(tz) => parse_whole_hour_offset(tz).ok_or_else(|| {
            bad(
                "tz",
                "must be UTC or a whole-hour offset such as +03:00 (the rollups are hourly)",
            )
        })?,
    };
    let offset = UtcOffset::from_whole_seconds(i32::try_from(offset_hours * 3600).unwrap_or(0))
        .unwrap_or(UtcOffset::UTC);
    let granularity = match params.granularity.as_deref() {
        None | Some("day") => Granularity::Day,
        Some("hour") => Granularity::Hour,
        Some(_) => return Err(bad("granularity", "must be day or hour")),
    };
    let today = now.to_offset(offset).date();
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
    let query = StatsQuery {
        app_id: app_id.to_owned(),
        from_hour: days_since_epoch(from) * 24 - offset_hours,
        to_hour: (days_since_epoch(to) + 1) * 24 - offset_hours,
        period_hours: match granularity {
            Granularity::Day => 24,
            Granularity::Hour => 1,
        },
        offset_hours,
    };
    Ok((query, from, to, granularity, offset))
}

fn session_figures(figures: &mut Figures, histogram: &[(i64, i64)]) {
    figures.sessions = histogram.iter().map(|(_, n)| n).sum();
    figures.session_median_seconds = percentile(histogram.iter().copied(), 50);
    figures.session_p95_seconds = percentile(histogram.iter().copied(), 95);
}

#[allow(clippy::cast_precision_loss)] // counts and tenths of a millisecond are far below 2^52
fn tenths_to_ms(tenths: i64) -> f64 {
    tenths as f64 / 10.0
}

#[allow(clippy::cast_precision_loss)]
fn ratio(part: i64, whole: i64) -> f64 {
    part as f64 / whole as f64
}

/// Shapes the rollup rows into the answer.
pub fn assemble(
    query: &StatsQuery,
    rows: StatsRows,
    from: Date,
    to: Date,
    granularity: Granularity,
    offset: UtcOffset,
) -> AppStats {
    let width = query.period_hours;
    let first = (query.from_hour + query.offset_hours).div_euclid(width);
    let last = (query.to_hour + query.offset_hours).div_euclid(width);
    let mut periods: BTreeMap<i64, Figures> =
        (first..last).map(|p| (p, Figures::default())).collect();
    let mut totals = Figures::default();
    for c in &rows.counts {
        let f = periods.entry(c.period).or_default();
        f.installs += c.installs;
        f.uninstalls += c.uninstalls;
        f.updates += c.updates;
        f.launches += c.launches;
        totals.installs += c.installs;
        totals.uninstalls += c.uninstalls;
        totals.updates += c.updates;
        totals.launches += c.launches;
    }
    for (period, users) in &rows.active_users {
        periods.entry(*period).or_default().active_users = *users;
    }
    totals.active_users = rows.total_active_users;
    let mut by_period: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
    let mut all: BTreeMap<i64, i64> = BTreeMap::new();
    for (period, length, sessions) in &rows.session_lengths {
        by_period
            .entry(*period)
            .or_default()
            .push((*length, *sessions));
        *all.entry(*length).or_default() += sessions;
    }
    for (period, histogram) in &by_period {
        session_figures(periods.entry(*period).or_default(), histogram);
    }
    session_figures(&mut totals, &all.into_iter().collect::<Vec<_>>());
    let series = periods
        .into_iter()
        .map(|(p, figures)| Period {
            start: hour_start(p * width - query.offset_hours).to_offset(offset),
            figures,
        })
        .collect();
    let mut versions: BTreeMap<String, VersionFigures> = BTreeMap::new();
    let blank = |version: &str| VersionFigures {
        version: version.to_owned(),
        load_time_samples: 0,
        load_time_median_ms: None,
        load_time_p95_ms: None,
        crash_reports: 0,
        crashing_sessions: 0,
        crash_rate: None,
    };
    let mut loads: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for (version, tenths, samples) in &rows.load_times {
        loads
            .entry(version.clone())
            .or_default()
            .push((*tenths, *samples));
    }
    for (version, histogram) in loads {
        let v = versions
            .entry(version.clone())
            .or_insert_with(|| blank(&version));
        v.load_time_samples = histogram.iter().map(|(_, n)| n).sum();
        v.load_time_median_ms = percentile(histogram.iter().copied(), 50).map(tenths_to_ms);
        v.load_time_p95_ms = percentile(histogram.iter().copied(), 95).map(tenths_to_ms);
    }
    for (version, reports, crashing) in &rows.crashes {
        let v = versions
            .entry(version.clone())
            .or_insert_with(|| blank(version));
        v.crash_reports = *reports;
        v.crashing_sessions = *crashing;
        v.crash_rate = (*reports > 0).then(|| ratio(*crashing, *reports));
    }
    AppStats {
        app_id: query.app_id.clone(),
        from,
        to,
        granularity,
        offset,
        totals,
        series,
        versions: versions.into_values().collect(),
    }
}

/// The stats of `app_id` for its developer or an admin (404 `APP_NOT_FOUND` otherwise).
pub async fn app_stats(
    db: &dyn Database,
    clock: &dyn Clock,
    caller: Caller,
    app_id: &str,
    params: &StatsParams,
) -> Result<AppStats, AnalyticsError> {
    owned_app(db, caller, app_id).await?;
    let (query, from, to, granularity, offset) = plan(app_id, params, clock.now())?;
    let rows = db.stats(&query).await?;
    Ok(assemble(&query, rows, from, to, granularity, offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn days_in_an_offset_start_at_its_midnight() {
        let params = StatsParams {
            from: Some("2026-03-01".into()),
            to: Some("2026-03-02".into()),
            granularity: None,
            tz: Some("+03:00".into()),
        };
        let (q, ..) = plan("app", &params, datetime!(2026-03-05 00:00 UTC)).expect("plan");
        assert_eq!(hour_start(q.from_hour), datetime!(2026-02-28 21:00 UTC));
        assert_eq!(hour_start(q.to_hour), datetime!(2026-03-02 21:00 UTC));
        assert_eq!(
            (q.from_hour + q.offset_hours) / 24 * 24 - q.offset_hours,
            q.from_hour
        );
        let half = StatsParams {
            tz: Some("+05:30".into()),
            ..params
        };
        assert!(plan("app", &half, datetime!(2026-03-05 00:00 UTC)).is_err());
    }
}
