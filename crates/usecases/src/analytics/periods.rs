//! How the stats' periods map onto the hourly rollups. A period starts at any second: in
//! a zone such as `+05:30` local midnight is half past a UTC hour. Each period takes the
//! rollups of the whole hours inside it; the part of an hour where a period starts or ends
//! is read from the raw events as a span and rolled up on the spot. An hour split that way
//! becomes a period of its own in the rollup query that the answer leaves out, so nothing
//! is counted twice; when every boundary is a whole hour there are no spans and the rollup
//! query's periods are the answer's.

use time::OffsetDateTime;
use tmcp_domain::analytics::hour_start;

const HOUR: i64 = 3600;

/// Part of an hour read from the raw events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub lo: OffsetDateTime,
    pub hi: OffsetDateTime,
    /// The answer's period it belongs to.
    pub period: usize,
    /// Its hour lies outside the rollup query's range (the range's first or last hour), so
    /// its per-version figures are not in the rollup query's totals and are added from it.
    pub outside_rollups: bool,
}

/// The rollup query for periods given by their boundaries in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The rollup query's boundaries, hour numbers (consecutive ones may be equal).
    pub hours: Vec<i64>,
    /// For each period of the rollup query, the answer's period, or `None` for an hour
    /// that is read as spans instead.
    pub answer_period: Vec<Option<usize>>,
    pub spans: Vec<Span>,
}

/// The rollup query's period of answer period `answer`, from `answer_period` (as in
/// [`Split`]).
pub fn query_period(answer_period: &[Option<usize>], answer: usize) -> Option<i64> {
    let index = answer_period.iter().position(|p| *p == Some(answer))?;
    i64::try_from(index).ok()
}

fn floor_hour(second: i64) -> i64 {
    second.div_euclid(HOUR)
}

fn ceil_hour(second: i64) -> i64 {
    (second + HOUR - 1).div_euclid(HOUR)
}

fn instant(second: i64) -> OffsetDateTime {
    hour_start(floor_hour(second)) + time::Duration::seconds(second.rem_euclid(HOUR))
}

/// Splits the periods `[boundaries[k], boundaries[k + 1])` (seconds, ascending, at least
/// two; a period spans at most one partial hour at each end).
pub fn split(boundaries: &[i64]) -> Split {
    let mut out = Split {
        hours: Vec::new(),
        answer_period: Vec::new(),
        spans: Vec::new(),
    };
    for (k, pair) in boundaries.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        let lo = ceil_hour(a);
        let hi = floor_hour(b).max(lo);
        if k == 0 {
            out.hours.push(lo);
        } else if a.rem_euclid(HOUR) != 0 {
            // The hour holding `a`, between the previous period's whole hours and these.
            out.answer_period.push(None);
            out.hours.push(lo);
        }
        out.answer_period.push(Some(k));
        out.hours.push(hi);
        if a.rem_euclid(HOUR) != 0 {
            out.spans.push(Span {
                lo: instant(a),
                hi: instant(b.min(lo * HOUR)),
                period: k,
                outside_rollups: false,
            });
        }
        if b.rem_euclid(HOUR) != 0 && floor_hour(b) >= ceil_hour(a) {
            out.spans.push(Span {
                lo: instant(floor_hour(b) * HOUR),
                hi: instant(b),
                period: k,
                outside_rollups: false,
            });
        }
    }
    let (first, end) = (
        out.hours.first().copied().unwrap_or(0),
        out.hours.last().copied().unwrap_or(0),
    );
    for span in &mut out.spans {
        let hour = floor_hour(span.lo.unix_timestamp());
        span.outside_rollups = hour < first || hour >= end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 500_000;

    /// Each answer period's period in the rollup query, in order.
    fn query_periods(s: &Split) -> Vec<i64> {
        (0..)
            .map_while(|answer| query_period(&s.answer_period, answer))
            .collect()
    }

    fn at(hour: i64, minute: i64) -> OffsetDateTime {
        instant(hour * HOUR + minute * 60)
    }

    #[test]
    fn whole_hours_need_no_spans_and_keep_their_periods() {
        let s = split(&[H * HOUR, (H + 24) * HOUR, (H + 47) * HOUR]);
        assert_eq!(s.hours, vec![H, H + 24, H + 47]);
        assert_eq!(s.answer_period, vec![Some(0), Some(1)]);
        assert_eq!(query_periods(&s), vec![0, 1]);
        assert!(s.spans.is_empty());
    }

    #[test]
    fn days_starting_at_half_past_read_their_edges_as_spans() {
        let half = 30 * 60;
        let s = split(&[
            H * HOUR + half,
            (H + 24) * HOUR + half,
            (H + 48) * HOUR + half,
        ]);
        // Day 0: whole hours H+1..H+24; hour H+24 is split; day 1: H+25..H+48.
        assert_eq!(s.hours, vec![H + 1, H + 24, H + 25, H + 48]);
        assert_eq!(s.answer_period, vec![Some(0), None, Some(1)]);
        assert_eq!(query_periods(&s), vec![0, 2]);
        assert_eq!(
            s.spans,
            vec![
                Span {
                    lo: at(H, 30),
                    hi: at(H + 1, 0),
                    period: 0,
                    outside_rollups: true
                },
                Span {
                    lo: at(H + 24, 0),
                    hi: at(H + 24, 30),
                    period: 0,
                    outside_rollups: false
                },
                Span {
                    lo: at(H + 24, 30),
                    hi: at(H + 25, 0),
                    period: 1,
                    outside_rollups: false
                },
                Span {
                    lo: at(H + 48, 0),
                    hi: at(H + 48, 30),
                    period: 1,
                    outside_rollups: true
                },
            ]
        );
    }

    #[test]
    fn hours_of_a_day_starting_at_a_quarter_to_are_two_pieces_and_whole_hours() {
        // A local day of hour periods from 45 past: a 15-minute piece, whole hours, then the
        // 45-minute piece before the next day.
        let start = H * HOUR + 45 * 60;
        let mut boundaries = vec![start];
        boundaries.extend((H + 1..=H + 24).map(|h| h * HOUR));
        boundaries.push(start + 24 * HOUR);
        let s = split(&boundaries);
        assert_eq!(s.answer_period.len(), 25);
        assert_eq!(s.answer_period[0], Some(0));
        assert_eq!(s.answer_period[24], Some(24));
        assert!(s.answer_period.iter().all(Option::is_some));
        assert_eq!(s.hours.first(), Some(&(H + 1)));
        assert_eq!(s.hours.last(), Some(&(H + 24)));
        assert_eq!(query_periods(&s).len(), 25);
        assert_eq!(s.spans.len(), 2);
        assert_eq!((s.spans[0].lo, s.spans[0].hi), (at(H, 45), at(H + 1, 0)));
        assert_eq!(
            (s.spans[1].lo, s.spans[1].hi),
            (at(H + 24, 0), at(H + 24, 45))
        );
        assert_eq!((s.spans[1].period, s.spans[1].outside_rollups), (24, true));
    }

    #[test]
    fn every_second_of_the_range_belongs_to_exactly_one_place() {
        // Random boundaries at whole minutes, periods at least an hour long.
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let mut boundaries = vec![H * HOUR + rng.gen_range(0..60) * 60];
            for _ in 0..rng.gen_range(1..6) {
                let last = *boundaries.last().unwrap_or(&0);
                boundaries.push(last + rng.gen_range(60..(26 * 60)) * 60);
            }
            let s = split(&boundaries);
            for span in &s.spans {
                let hour = floor_hour(span.lo.unix_timestamp());
                let in_query = hour >= s.hours[0] && hour < s.hours[s.hours.len() - 1];
                assert_eq!(span.outside_rollups, !in_query, "{boundaries:?}");
            }
            let first = boundaries[0];
            let end = *boundaries.last().unwrap_or(&first);
            for second in (first..end).step_by(60) {
                let want = boundaries.partition_point(|b| *b <= second) - 1;
                let hour = floor_hour(second);
                let in_spans: Vec<usize> = s
                    .spans
                    .iter()
                    .filter(|p| instant(second) >= p.lo && instant(second) < p.hi)
                    .map(|p| p.period)
                    .collect();
                let q = s.hours.partition_point(|b| *b <= hour);
                let in_hours = (q > 0 && q < s.hours.len() && hour >= s.hours[0])
                    .then(|| s.answer_period[q - 1])
                    .flatten();
                match (in_spans.as_slice(), in_hours) {
                    ([p], None) => assert_eq!(*p, want, "{boundaries:?} {second}"),
                    ([], Some(p)) => assert_eq!(p, want, "{boundaries:?} {second}"),
                    other => panic!("{boundaries:?} second {second}: {other:?}"),
                }
            }
        }
    }
}
