//! Rate-limit rules: how many requests a service allows. The rules belong to the services
//! (login budgets, storage limits); the HTTP layer's limiter enforces them.

use std::time::Duration;

/// `rate` requests per `period`, with up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRule {
    pub name: &'static str,
    pub rate: u32,
    pub period: Duration,
    pub burst: u32,
}

impl LimitRule {
    pub const fn per_minute(name: &'static str, rate: u32, burst: u32) -> Self {
        Self {
            name,
            rate,
            period: Duration::from_secs(60),
            burst,
        }
    }

    /// Microseconds between two requests at the sustained rate.
    pub fn interval_us(&self) -> i64 {
        let period = i64::try_from(self.period.as_micros()).unwrap_or(i64::MAX);
        // At least 1 µs: a rate above one per microsecond would give a zero interval and a
        // zero burst, and a bucket that refuses whenever two requests share a microsecond.
        (period / i64::from(self.rate.max(1))).max(1)
    }

    /// How far ahead of the sustained rate a bucket may run (the burst), in microseconds.
    pub fn tolerance_us(&self) -> i64 {
        self.interval_us()
            .saturating_mul(i64::from(self.burst.max(1)))
    }
}
