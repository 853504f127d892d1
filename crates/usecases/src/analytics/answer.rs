//! The stats answer: the rollup query's rows and the spans' rollups folded into the
//! answer's periods, totals and per-version figures, with the percentiles taken.

use super::stats::{AppStats, Figures, Period, Plan, VersionFigures};
use std::collections::BTreeMap;
use tmcp_domain::analytics::{percentile, Counts, HourRollup};
use tmcp_repository::StatsRows;

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

fn add_counts(figures: &mut Figures, counts: &Counts) {
    figures.installs += counts.installs;
    figures.uninstalls += counts.uninstalls;
    figures.updates += counts.updates;
    figures.launches += counts.launches;
}

fn add_histogram(into: &mut BTreeMap<i64, i64>, length: i64, sessions: i64) {
    *into.entry(length).or_default() += sessions;
}

/// Shapes the rollup rows, and the rollups of the plan's spans (in the plan's order), into
/// the answer. Rows of an hour the plan reads as spans are left out (the spans hold it).
pub fn assemble(plan: Plan, rows: StatsRows, spans: &[HourRollup]) -> AppStats {
    let answer_period = |query_period: i64| {
        usize::try_from(query_period)
            .ok()
            .and_then(|i| plan.answer_period.get(i).copied().flatten())
    };
    let mut periods: Vec<Figures> = vec![Figures::default(); plan.starts.len()];
    let mut histograms: Vec<BTreeMap<i64, i64>> = vec![BTreeMap::new(); plan.starts.len()];
    let mut totals = Figures::default();
    let mut all: BTreeMap<i64, i64> = BTreeMap::new();
    for c in &rows.counts {
        if let Some(f) = answer_period(c.period).and_then(|i| periods.get_mut(i)) {
            add_counts(f, &c.counts);
            add_counts(&mut totals, &c.counts);
        }
    }
    for (period, users) in &rows.active_users {
        if let Some(f) = answer_period(*period).and_then(|i| periods.get_mut(i)) {
            f.active_users = *users;
        }
    }
    totals.active_users = rows.total_active_users;
    for (period, length, sessions) in &rows.session_lengths {
        if let Some(h) = answer_period(*period).and_then(|i| histograms.get_mut(i)) {
            add_histogram(h, *length, *sessions);
            add_histogram(&mut all, *length, *sessions);
        }
    }
    let mut loads: BTreeMap<String, BTreeMap<i64, i64>> = BTreeMap::new();
    for (version, tenths, samples) in &rows.load_times {
        add_histogram(loads.entry(version.clone()).or_default(), *tenths, *samples);
    }
    let mut crashes: BTreeMap<String, (i64, i64)> = rows
        .crashes
        .iter()
        .map(|(version, reports, crashing)| (version.clone(), (*reports, *crashing)))
        .collect();
    for (span, rollup) in plan.spans.iter().zip(spans) {
        if let (Some(f), Some(h)) = (
            periods.get_mut(span.period),
            histograms.get_mut(span.period),
        ) {
            add_counts(f, &rollup.counts);
            add_counts(&mut totals, &rollup.counts);
            for (length, sessions) in &rollup.session_lengths {
                add_histogram(h, *length, *sessions);
                add_histogram(&mut all, *length, *sessions);
            }
        }
        if span.outside_rollups {
            for ((version, tenths), samples) in &rollup.load_times {
                add_histogram(loads.entry(version.clone()).or_default(), *tenths, *samples);
            }
            for (version, (reports, crashing)) in &rollup.crashes {
                let entry = crashes.entry(version.clone()).or_default();
                entry.0 += reports;
                entry.1 += crashing;
            }
        }
    }
    for (f, h) in periods.iter_mut().zip(&histograms) {
        session_figures(f, &h.iter().map(|(l, n)| (*l, *n)).collect::<Vec<_>>());
    }
    session_figures(&mut totals, &all.into_iter().collect::<Vec<_>>());
    let series = plan
        .starts
        .iter()
        .zip(periods)
        .map(|(start, figures)| Period {
            start: *start,
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
    for (version, histogram) in loads {
        let v = versions
            .entry(version.clone())
            .or_insert_with(|| blank(&version));
        v.load_time_samples = histogram.values().sum();
        v.load_time_median_ms =
            percentile(histogram.iter().map(|(t, n)| (*t, *n)), 50).map(tenths_to_ms);
        v.load_time_p95_ms =
            percentile(histogram.iter().map(|(t, n)| (*t, *n)), 95).map(tenths_to_ms);
    }
    for (version, (reports, crashing)) in crashes {
        let v = versions
            .entry(version.clone())
            .or_insert_with(|| blank(&version));
        v.crash_reports = reports;
        v.crashing_sessions = crashing;
        v.crash_rate = (reports > 0).then(|| ratio(crashing, reports));
    }
    AppStats {
        app_id: plan.query.app_id,
        from: plan.from,
        to: plan.to,
        granularity: plan.granularity,
        tz: plan.tz,
        totals,
        series,
        versions: versions.into_values().collect(),
    }
}
