//! `GET /api/v1/developer/apps/{app_id}/stats`: the app's figures from the hourly rollups,
//! for its developer or an admin (anyone else: 404 `APP_NOT_FOUND`).

use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use tmcp_usecases::analytics::stats::{self, Figures, Granularity, StatsParams};
use tmcp_usecases::store::Caller;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQueryParams {
    /// First day (YYYY-MM-DD in `tz`), included; default `to` − 29 days.
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD in `tz`), included; default today. At most 92 days in all.
    pub to: Option<String>,
    /// `day` (default) or `hour`.
    pub granularity: Option<String>,
    /// The time zone days are counted in: `UTC` (default), a fixed offset such as `+03:00`
    /// or `-05:00`, or an IANA name such as `Europe/Berlin` or `America/New_York` (URL-encode
    /// the `/` as `%2F` and `+` as `%2B`). Across a DST change a local day has 23 or 25
    /// hours. In a zone whose days start inside a UTC hour (`+05:30`, `Asia/Kolkata`,
    /// `Australia/Adelaide`, `Asia/Kathmandu`) the hours where days meet are counted from
    /// the raw events, so `from` must lie within their retention (90 days by default; 422
    /// otherwise), and by hour the periods are the UTC hours (`00:30+05:30`, …) with a
    /// partial one where each local day starts and ends. Unknown names are 422.
    pub tz: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FiguresView {
    pub installs: i64,
    pub uninstalls: i64,
    pub updates: i64,
    pub launches: i64,
    /// Distinct users with any event in the period (exact).
    pub active_users: i64,
    /// Sessions that started in the period.
    pub sessions: i64,
    /// Nearest-rank median session length (seconds).
    pub session_median_seconds: Option<i64>,
    pub session_p95_seconds: Option<i64>,
}

impl From<&Figures> for FiguresView {
    fn from(f: &Figures) -> Self {
        Self {
            installs: f.installs,
            uninstalls: f.uninstalls,
            updates: f.updates,
            launches: f.launches,
            active_users: f.active_users,
            sessions: f.sessions,
            session_median_seconds: f.session_median_seconds,
            session_p95_seconds: f.session_p95_seconds,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodView {
    /// The period's first instant (RFC 3339, with the zone's offset at that instant: the
    /// hours of a DST change show e.g. `02:00+02:00` then `02:00+01:00`).
    pub start: String,
    #[serde(flatten)]
    pub figures: FiguresView,
}

/// One version's load times and crashes. Named apart from the store's `VersionView`: the
/// document keys schemas by name, and one of two types with the same name silently took the
/// other's place in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionStats {
    pub version: String,
    pub load_time_samples: i64,
    /// Nearest-rank median load time (ms, to 0.1 ms).
    pub load_time_median_ms: Option<f64>,
    pub load_time_p95_ms: Option<f64>,
    /// Sessions reported with a `crash_rate` metric.
    pub crash_reports: i64,
    pub crashing_sessions: i64,
    /// crashing_sessions ÷ crash_reports.
    pub crash_rate: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsResponse {
    pub app_id: String,
    pub from: String,
    pub to: String,
    pub granularity: String,
    /// The zone days were counted in: the IANA name as asked (`Europe/Berlin`), or the
    /// offset (`+03:00`; `+00:00` for UTC and by default).
    pub tz: String,
    pub totals: FiguresView,
    pub series: Vec<PeriodView>,
    pub versions: Vec<VersionStats>,
}

/// The app's installs, uninstalls, launches, active users, sessions and session lengths per
/// day or hour, and per version its load times and crash rate (docs/analytics.md has the
/// definitions). Figures come from the hourly rollups, which follow new events within the
/// rollup job's interval; in a zone whose days start inside a UTC hour, the hours where
/// days meet are read from the raw events.
#[utoipa::path(get, path = "/api/v1/developer/apps/{app_id}/stats", tag = "analytics",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255), StatsQueryParams),
    responses(
        (status = 200, description = "the app's stats", body = StatsResponse),
        (status = 404, description = "`APP_NOT_FOUND`: no such app, or not the caller's", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: a bad date, granularity, range (more than 92 days, or `from` older than the raw-event retention in a zone whose days start inside a UTC hour), or an unknown time zone", body = ErrorEnvelope)))]
pub async fn app_stats(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
    Query(query): Query<StatsQueryParams>,
) -> Result<Json<StatsResponse>, ApiError> {
    let caller = Caller {
        user: principal.user_id,
        role: principal.role,
    };
    let params = StatsParams {
        from: query.from,
        to: query.to,
        granularity: query.granularity,
        tz: query.tz,
    };
    let stats = stats::app_stats(
        state.reads.as_ref(),
        state.clock.as_ref(),
        caller,
        &app_id,
        &params,
        state.settings.analytics_raw_retention_days,
    )
    .await?;
    Ok(Json(StatsResponse {
        app_id: stats.app_id,
        from: stats.from.to_string(),
        to: stats.to.to_string(),
        granularity: match stats.granularity {
            Granularity::Day => "day",
            Granularity::Hour => "hour",
        }
        .to_owned(),
        tz: stats.tz,
        totals: FiguresView::from(&stats.totals),
        series: stats
            .series
            .iter()
            .map(|p| PeriodView {
                start: p.start.format(&Rfc3339).unwrap_or_default(),
                figures: FiguresView::from(&p.figures),
            })
            .collect(),
        versions: stats
            .versions
            .into_iter()
            .map(|v| VersionStats {
                version: v.version,
                load_time_samples: v.load_time_samples,
                load_time_median_ms: v.load_time_median_ms,
                load_time_p95_ms: v.load_time_p95_ms,
                crash_reports: v.crash_reports,
                crashing_sessions: v.crashing_sessions,
                crash_rate: v.crash_rate,
            })
            .collect(),
    }))
}
