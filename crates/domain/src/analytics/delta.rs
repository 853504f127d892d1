//! Rollups kept up to date from the raw rows added since the last pass, instead of
//! recomputing whole hours. An engine that can list the rows committed after a point (SQLite:
//! one writer, so rowids grow in commit order) feeds each new row here, plus the earlier
//! events of every session a new row belongs to, and adds the result to the stored rollups.
//! Adding a delta to the rollups of the rows before it gives the rollups of all the rows
//! (the property test below checks this against `roll_up`).

use super::{hour_of, load_time_key, session_contribution, Counts, HourRollup, SessionEvent};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;
use uuid::Uuid;

/// An (app, hour) bucket.
pub type Bucket = (String, i64);

/// What new raw rows add to (or, for sessions that moved, take from) the hourly rollups.
/// Buckets before `oldest_hour` are left alone, as a full recomputation leaves them: their
/// raw rows may be partly gone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollupDelta {
    oldest_hour: i64,
    pub counts: BTreeMap<Bucket, Counts>,
    /// Active users to add (a set insert: a user already counted stays counted once).
    pub users: BTreeSet<(Bucket, Uuid)>,
    /// (bucket, length in seconds) → sessions to add; negative where a session's earlier
    /// figures are taken back.
    pub session_lengths: BTreeMap<(Bucket, i64), i64>,
    /// (bucket, version, load time in 0.1 ms) → samples to add.
    pub load_times: BTreeMap<(Bucket, String, i64), i64>,
    /// (bucket, version) → (sessions reported, crashing sessions) to add.
    pub crashes: BTreeMap<(Bucket, String), (i64, i64)>,
}

impl RollupDelta {
    pub fn new(oldest_hour: i64) -> Self {
        Self {
            oldest_hour,
            ..Self::default()
        }
    }

    /// A whole bucket's rollup, as if all of it were new: what writing a recomputed bucket
    /// into emptied rollup tables adds. A non-empty rollup always gets its counters row, even
    /// at zero, as a recomputation has always written it.
    pub fn add_rollup(&mut self, app_id: &str, hour: i64, rollup: &HourRollup) {
        if rollup.is_empty() {
            return;
        }
        let bucket = (app_id.to_owned(), hour);
        *self.counts.entry(bucket.clone()).or_default() += rollup.counts;
        self.users
            .extend(rollup.users.iter().map(|u| (bucket.clone(), *u)));
        for (length, n) in &rollup.session_lengths {
            *self
                .session_lengths
                .entry((bucket.clone(), *length))
                .or_default() += n;
        }
        for ((version, tenths), n) in &rollup.load_times {
            *self
                .load_times
                .entry((bucket.clone(), version.clone(), *tenths))
                .or_default() += n;
        }
        for (version, (reports, crashing)) in &rollup.crashes {
            let slot = self
                .crashes
                .entry((bucket.clone(), version.clone()))
                .or_default();
            slot.0 += reports;
            slot.1 += crashing;
        }
    }

    fn bucket(&self, app_id: &str, at: OffsetDateTime) -> Option<Bucket> {
        let hour = hour_of(at);
        (hour >= self.oldest_hour).then(|| (app_id.to_owned(), hour))
    }

    /// A new lifecycle event.
    pub fn lifecycle(
        &mut self,
        app_id: &str,
        user_id: Option<Uuid>,
        event_type: &str,
        at: OffsetDateTime,
    ) {
        let Some(bucket) = self.bucket(app_id, at) else {
            return;
        };
        if let Some(user) = user_id {
            self.users.insert((bucket.clone(), user));
        }
        self.counts.entry(bucket).or_default().add(event_type, 1);
    }

    /// The user of a new usage event (its session is handled by `session_changed`).
    pub fn usage_user(&mut self, app_id: &str, user_id: Option<Uuid>, at: OffsetDateTime) {
        if let (Some(bucket), Some(user)) = (self.bucket(app_id, at), user_id) {
            self.users.insert((bucket, user));
        }
    }

    /// A new metric item (only `load_time` and `crash_rate` are rolled up).
    pub fn metric(
        &mut self,
        app_id: &str,
        version: &str,
        metric_type: &str,
        value: f64,
        at: OffsetDateTime,
    ) {
        let Some(bucket) = self.bucket(app_id, at) else {
            return;
        };
        match metric_type {
            "load_time" => {
                *self
                    .load_times
                    .entry((bucket, version.to_owned(), load_time_key(value)))
                    .or_default() += 1;
            }
            "crash_rate" => {
                let entry = self
                    .crashes
                    .entry((bucket, version.to_owned()))
                    .or_default();
                entry.0 += 1;
                if value > 0.0 {
                    entry.1 += 1;
                }
            }
            _ => {}
        }
    }

    /// A session gained events: `before` are its events already rolled up, `after` all of
    /// them. Its start hour or length may change, so its earlier figure is taken back and
    /// the new one added.
    pub fn session_changed(
        &mut self,
        app_id: &str,
        before: &[SessionEvent],
        after: &[SessionEvent],
    ) {
        let old = session_contribution(before);
        let new = session_contribution(after);
        if old == new {
            return;
        }
        for ((hour, length), change) in old.map(|o| (o, -1)).into_iter().chain(new.map(|n| (n, 1)))
        {
            if hour < self.oldest_hour {
                continue;
            }
            let key = ((app_id.to_owned(), hour), length);
            let slot = self.session_lengths.entry(key.clone()).or_default();
            *slot += change;
            if *slot == 0 {
                // Only this key can have reached zero; a scan of the whole map per session
                // made a pass quadratic in its sessions.
                self.session_lengths.remove(&key);
            }
        }
    }

    /// Every bucket the delta changes.
    pub fn buckets(&self) -> BTreeSet<&Bucket> {
        self.counts
            .keys()
            .chain(self.users.iter().map(|(b, _)| b))
            .chain(self.session_lengths.keys().map(|(b, _)| b))
            .chain(self.load_times.keys().map(|(b, _, _)| b))
            .chain(self.crashes.keys().map(|(b, _)| b))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{roll_up, HourRollup, MetricRow, RawBucket, UsageRow};
    use super::*;
    use proptest::prelude::*;
    use time::Duration;

    const LIFECYCLE: [&str; 5] = ["installed", "uninstalled", "updated", "launched", "closed"];

    /// A raw row of any table: (kind, app, user, session, minute from the start, detail).
    #[derive(Debug, Clone)]
    enum Raw {
        Lifecycle {
            app: u8,
            user: u8,
            kind: usize,
            minute: i64,
        },
        Usage {
            app: u8,
            user: u8,
            session: u8,
            end: bool,
            minute: i64,
        },
        Metric {
            app: u8,
            crash: bool,
            value: u16,
            minute: i64,
        },
    }

    fn start() -> OffsetDateTime {
        super::super::hour_start(480_000)
    }

    fn at(minute: i64) -> OffsetDateTime {
        start() + Duration::minutes(minute)
    }

    fn app(a: u8) -> String {
        format!("app{a}")
    }

    fn user(u: u8) -> Uuid {
        Uuid::from_u128(u128::from(u) + 1)
    }

    fn raw() -> impl Strategy<Value = Raw> {
        // Six hours, two apps, three users, three sessions: enough collisions for sessions
        // spanning hours, repeated users and shared metric values.
        prop_oneof![
            (0..2u8, 0..3u8, 0..5usize, 0..360i64).prop_map(|(app, user, kind, minute)| {
                Raw::Lifecycle {
                    app,
                    user,
                    kind,
                    minute,
                }
            }),
            (0..2u8, 0..3u8, 0..3u8, any::<bool>(), 0..360i64).prop_map(
                |(app, user, session, end, minute)| Raw::Usage {
                    app,
                    user,
                    session,
                    end,
                    minute
                }
            ),
            (0..2u8, any::<bool>(), 0..4u16, 0..360i64).prop_map(|(app, crash, value, minute)| {
                Raw::Metric {
                    app,
                    crash,
                    value,
                    minute,
                }
            }),
        ]
    }

    /// The rollups of `rows`, recomputed hour by hour as a full pass does.
    fn recomputed(rows: &[Raw], oldest: i64) -> BTreeMap<Bucket, HourRollup> {
        let mut hours = BTreeSet::new();
        for row in rows {
            let (a, m) = match row {
                Raw::Lifecycle { app, minute, .. }
                | Raw::Usage { app, minute, .. }
                | Raw::Metric { app, minute, .. } => (*app, *minute),
            };
            hours.insert((app(a), hour_of(at(m))));
        }
        let mut out = BTreeMap::new();
        for (app_id, hour) in hours.into_iter().filter(|(_, h)| *h >= oldest) {
            let mut raw_bucket = RawBucket::default();
            let mut counts: BTreeMap<String, i64> = BTreeMap::new();
            let mut users = BTreeSet::new();
            let mut sessions_here = BTreeSet::new();
            for row in rows {
                match row {
                    Raw::Lifecycle {
                        app: a,
                        user: u,
                        kind,
                        minute,
                    } if app(*a) == app_id && hour_of(at(*minute)) == hour => {
                        *counts.entry(LIFECYCLE[*kind].to_owned()).or_default() += 1;
                        users.insert(user(*u));
                    }
                    Raw::Usage {
                        app: a,
                        user: u,
                        session,
                        minute,
                        ..
                    } if app(*a) == app_id && hour_of(at(*minute)) == hour => {
                        users.insert(user(*u));
                        sessions_here.insert((*u, *session));
                    }
                    Raw::Metric {
                        app: a,
                        crash,
                        value,
                        minute,
                    } if app(*a) == app_id && hour_of(at(*minute)) == hour => {
                        raw_bucket.metrics.push(MetricRow {
                            version: "1.0".into(),
                            metric_type: if *crash { "crash_rate" } else { "load_time" }.into(),
                            value: f64::from(*value),
                        });
                    }
                    _ => {}
                }
            }
            for row in rows {
                if let Raw::Usage {
                    app: a,
                    user: u,
                    session,
                    end,
                    minute,
                } = row
                {
                    if app(*a) == app_id && sessions_here.contains(&(*u, *session)) {
                        raw_bucket.session_rows.push(UsageRow {
                            user_id: Some(user(*u)),
                            session_id: format!("s{session}"),
                            is_end: *end,
                            at: at(*minute),
                        });
                    }
                }
            }
            raw_bucket.lifecycle_counts = counts.into_iter().collect();
            raw_bucket.users = users.into_iter().collect();
            let rollup = roll_up(hour, raw_bucket);
            if !rollup.is_empty() {
                out.insert((app_id, hour), rollup);
            }
        }
        out
    }

    /// The delta of `new` on top of `old` (the rows already rolled up).
    fn delta(old: &[Raw], new: &[Raw], oldest: i64) -> RollupDelta {
        let mut delta = RollupDelta::new(oldest);
        let mut touched: BTreeMap<(u8, u8, u8), Vec<SessionEvent>> = BTreeMap::new();
        for row in new {
            match row {
                Raw::Lifecycle {
                    app: a,
                    user: u,
                    kind,
                    minute,
                } => {
                    delta.lifecycle(&app(*a), Some(user(*u)), LIFECYCLE[*kind], at(*minute));
                }
                Raw::Usage {
                    app: a,
                    user: u,
                    session,
                    end,
                    minute,
                } => {
                    delta.usage_user(&app(*a), Some(user(*u)), at(*minute));
                    touched
                        .entry((*a, *u, *session))
                        .or_default()
                        .push(SessionEvent {
                            at: at(*minute),
                            is_end: *end,
                        });
                }
                Raw::Metric {
                    app: a,
                    crash,
                    value,
                    minute,
                } => delta.metric(
                    &app(*a),
                    "1.0",
                    if *crash { "crash_rate" } else { "load_time" },
                    f64::from(*value),
                    at(*minute),
                ),
            }
        }
        for ((a, u, s), added) in touched {
            let before: Vec<SessionEvent> = old
                .iter()
                .filter_map(|row| match row {
                    Raw::Usage {
                        app: ra,
                        user: ru,
                        session: rs,
                        end,
                        minute,
                    } if (*ra, *ru, *rs) == (a, u, s) => Some(SessionEvent {
                        at: at(*minute),
                        is_end: *end,
                    }),
                    _ => None,
                })
                .collect();
            let mut after = before.clone();
            after.extend(added);
            delta.session_changed(&app(a), &before, &after);
        }
        delta
    }

    /// Stored rollups plus a delta, as an engine applies it.
    fn apply(rollups: &mut BTreeMap<Bucket, HourRollup>, delta: &RollupDelta) {
        for (bucket, c) in &delta.counts {
            rollups.entry(bucket.clone()).or_default().counts += *c;
        }
        for (bucket, u) in &delta.users {
            rollups.entry(bucket.clone()).or_default().users.insert(*u);
        }
        for ((bucket, length), n) in &delta.session_lengths {
            let r = rollups.entry(bucket.clone()).or_default();
            let slot = r.session_lengths.entry(*length).or_default();
            *slot += n;
            assert!(*slot >= 0, "a session was taken back from {bucket:?} twice");
            if *slot == 0 {
                r.session_lengths.remove(length);
            }
        }
        for ((bucket, version, key), n) in &delta.load_times {
            *rollups
                .entry(bucket.clone())
                .or_default()
                .load_times
                .entry((version.clone(), *key))
                .or_default() += n;
        }
        for ((bucket, version), (reports, crashing)) in &delta.crashes {
            let slot = rollups
                .entry(bucket.clone())
                .or_default()
                .crashes
                .entry(version.clone())
                .or_default();
            slot.0 += reports;
            slot.1 += crashing;
        }
        rollups.retain(|_, r| !r.is_empty());
    }

    proptest! {
        #[test]
        fn deltas_in_any_split_add_up_to_the_recomputed_rollups(
            rows in proptest::collection::vec(raw(), 0..60),
            cuts in proptest::collection::vec(0..60usize, 0..4),
            oldest_offset in 0..3i64,
        ) {
            let oldest = hour_of(start()) + oldest_offset;
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(rows.len())).collect();
            cuts.push(rows.len());
            cuts.sort_unstable();
            let mut rollups = BTreeMap::new();
            let mut done = 0;
            for cut in cuts {
                let d = delta(&rows[..done], &rows[done..cut], oldest);
                apply(&mut rollups, &d);
                done = cut;
            }
            prop_assert_eq!(rollups, recomputed(&rows, oldest));
        }

        #[test]
        fn recomputed_rollups_added_to_empty_tables_are_written_whole(
            rows in proptest::collection::vec(raw(), 0..60),
        ) {
            let expected = recomputed(&rows, 0);
            let mut delta = RollupDelta::new(0);
            for ((app_id, hour), rollup) in &expected {
                delta.add_rollup(app_id, *hour, rollup);
            }
            let mut written = BTreeMap::new();
            apply(&mut written, &delta);
            prop_assert_eq!(written, expected);
        }
    }

    #[test]
    fn a_session_that_gains_an_earlier_event_moves_to_that_hour() {
        let mut delta = RollupDelta::new(0);
        let late = [SessionEvent {
            at: at(70),
            is_end: false,
        }];
        let both = [
            late[0].clone(),
            SessionEvent {
                at: at(50),
                is_end: false,
            },
        ];
        delta.session_changed("a", &late, &both);
        let first = hour_of(start());
        assert_eq!(
            delta.session_lengths,
            BTreeMap::from([
                ((("a".to_owned(), first + 1), 0), -1),
                ((("a".to_owned(), first), 1200), 1),
            ])
        );
    }

    #[test]
    fn rows_before_the_oldest_hour_change_nothing() {
        let mut delta = RollupDelta::new(hour_of(start()) + 1);
        delta.lifecycle("a", Some(user(0)), "installed", at(10));
        delta.metric("a", "1.0", "load_time", 5.0, at(10));
        delta.usage_user("a", Some(user(0)), at(10));
        assert!(delta.buckets().is_empty());
    }
}
