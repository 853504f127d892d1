//! When a failed delivery is tried again: after 1 s, 5 s, 30 s, 2 min and 5 min; then, if
//! long retries are on, every 10 minutes doubling up to 6 hours, each delay jittered by
//! ±20 % so that receivers coming back up are not hit by every event at once; and never
//! later than `max_age` after the event, when it is dead-lettered instead. A `Retry-After`
//! from the receiver lengthens the delay (it never shortens it).

use rand::Rng;
use time::{Duration, OffsetDateTime};

/// Delays after attempts 1 to 5.
pub const FIXED_DELAYS_SECS: [i64; 5] = [1, 5, 30, 120, 300];
const LONG_FIRST_SECS: i64 = 600;
const LONG_CAP_SECS: i64 = 6 * 3600;

/// The inputs of one decision.
#[derive(Debug, Clone, Copy)]
pub struct RetryInput {
    /// The attempt that just failed (1 for the first).
    pub attempt: i32,
    pub created_at: OffsetDateTime,
    pub now: OffsetDateTime,
    pub retry_after: Option<Duration>,
    pub long_retries: bool,
    pub max_age: Duration,
}

/// The next attempt's time, or `None` when the event is to be dead-lettered.
pub fn next_attempt(input: RetryInput, rng: &mut dyn rand::RngCore) -> Option<OffsetDateTime> {
    let index = usize::try_from(input.attempt.max(1) - 1).unwrap_or(0);
    let base = match FIXED_DELAYS_SECS.get(index) {
        Some(secs) => Duration::seconds(*secs),
        None if input.long_retries => {
            let doublings = u32::try_from(index - FIXED_DELAYS_SECS.len())
                .unwrap_or(u32::MAX)
                .min(10);
            let secs = LONG_FIRST_SECS
                .saturating_mul(1i64 << doublings)
                .min(LONG_CAP_SECS);
            let jitter: f64 = rng.gen_range(0.8..1.2);
            Duration::seconds_f64(secs as f64 * jitter)
        }
        None => return None,
    };
    let delay = match input.retry_after {
        Some(asked) if asked > base => asked,
        _ => base,
    };
    let next = input.now + delay;
    (next <= input.created_at + input.max_age).then_some(next)
}

/// Reads `Retry-After`: delay seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u32>() {
        return Some(Duration::seconds(i64::from(secs)));
    }
    let at = OffsetDateTime::parse(
        &value.replace("GMT", "+0000"),
        &time::format_description::well_known::Rfc2822,
    )
    .ok()?;
    Some((at - now).max(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use time::macros::datetime;

    fn input(attempt: i32, long_retries: bool) -> RetryInput {
        let at = datetime!(2026-12-05 10:00:00 UTC);
        RetryInput {
            attempt,
            created_at: at,
            now: at,
            retry_after: None,
            long_retries,
            max_age: Duration::hours(72),
        }
    }

    #[test]
    fn fixed_delays_then_jittered_long_retries_then_dead() {
        let mut rng = StdRng::seed_from_u64(1);
        let at = datetime!(2026-12-05 10:00:00 UTC);
        for (attempt, secs) in (1..=5).zip(FIXED_DELAYS_SECS) {
            assert_eq!(
                next_attempt(input(attempt, true), &mut rng),
                Some(at + Duration::seconds(secs))
            );
        }
        assert_eq!(next_attempt(input(6, false), &mut rng), None);
        let long = next_attempt(input(6, true), &mut rng).expect("long retry");
        assert!((at + Duration::seconds(480)..=at + Duration::seconds(720)).contains(&long));
        let capped = next_attempt(input(30, true), &mut rng).expect("long retry");
        assert!(capped <= at + Duration::seconds(LONG_CAP_SECS * 12 / 10));
        let old = RetryInput {
            now: at + Duration::hours(71),
            ..input(30, true)
        };
        assert_eq!(next_attempt(old, &mut rng), None, "past 72 h: dead letter");
    }

    #[test]
    fn retry_after_lengthens_but_never_shortens() {
        let mut rng = StdRng::seed_from_u64(1);
        let at = datetime!(2026-12-05 10:00:00 UTC);
        let asked = RetryInput {
            retry_after: Some(Duration::seconds(90)),
            ..input(1, true)
        };
        assert_eq!(
            next_attempt(asked, &mut rng),
            Some(at + Duration::seconds(90))
        );
        let short = RetryInput {
            retry_after: Some(Duration::ZERO),
            ..input(3, true)
        };
        assert_eq!(
            next_attempt(short, &mut rng),
            Some(at + Duration::seconds(30))
        );
        assert_eq!(parse_retry_after("120", at), Some(Duration::seconds(120)));
        assert_eq!(
            parse_retry_after("Sat, 05 Dec 2026 10:01:00 GMT", at),
            Some(Duration::seconds(60))
        );
        assert_eq!(parse_retry_after("soon", at), None);
    }
}
