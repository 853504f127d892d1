//! Token-bucket rate limits (GCRA: one timestamp per bucket). Buckets live in Redis when it
//! is configured, so every instance shares them; otherwise in this process. While Redis is
//! unavailable (its breaker is open, see `redis_link`) the in-process buckets take over
//! (degraded, never unlimited), and when it is back the in-process state is carried into
//! Redis bucket by bucket, so a client refused in-process stays refused.

use crate::error::ApiError;
use crate::redis_link::RedisLink;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

pub use tmcp_usecases::limits::LimitRule;

/// The outcome of an allowed request, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the bucket is full again.
    pub reset: i64,
}

impl RateDecision {
    pub fn apply_headers(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(self.reset));
    }
}

/// Result of one GCRA step, in microseconds.
#[derive(Debug, Clone, Copy)]
struct Step {
    allowed: bool,
    /// allowed: slack before the next refusal; refused: wait before a retry.
    slack_or_wait_us: i64,
    /// The bucket's theoretical arrival time after this step.
    tat_us: i64,
    now_us: i64,
}

fn gcra(stored_tat: Option<i64>, now_us: i64, rule: &LimitRule, consume: bool) -> Step {
    let interval = rule.interval_us();
    let tat = stored_tat.unwrap_or(now_us).max(now_us);
    let new_tat = tat + interval;
    let allow_at = new_tat - rule.tolerance_us();
    if now_us < allow_at {
        Step {
            allowed: false,
            slack_or_wait_us: allow_at - now_us,
            tat_us: tat,
            now_us,
        }
    } else {
        let tat_after = if consume { new_tat } else { tat };
        Step {
            allowed: true,
            slack_or_wait_us: now_us - allow_at,
            tat_us: tat_after,
            now_us,
        }
    }
}

// KEYS[1] bucket; ARGV: interval_us, tolerance_us, consume (1/0), carried_tat (the
// in-process bucket's TAT from an outage, 0 if none). Uses the server clock so instances
// with skewed clocks still share one notion of time; only a carried TAT comes from this
// instance's clock, once per bucket after an outage.
const GCRA_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
local carried = tonumber(ARGV[4])
if carried > tat then tat = carried end
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if now < allow_at then
  return {0, allow_at - now, tat, now}
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
  tat = new_tat
end
return {1, now - allow_at, tat, now}
";

pub struct RateLimiter {
    redis: Option<RedisLink>,
    script: redis::Script,
    local: Mutex<HashMap<String, i64>>,
    /// A prefix separating deployments (and tests) sharing one Redis.
    namespace: String,
}

const LOCAL_CAPACITY: usize = 200_000;

impl RateLimiter {
    pub fn new(redis: Option<RedisLink>, namespace: impl Into<String>) -> Self {
        Self {
            redis,
            script: redis::Script::new(GCRA_SCRIPT),
            local: Mutex::new(HashMap::new()),
            namespace: namespace.into(),
        }
    }

    /// True while buckets are shared through Redis (configured and its breaker closed).
    pub fn is_shared(&self) -> bool {
        self.redis.as_ref().is_some_and(RedisLink::is_available)
    }

    /// Takes one request from `subject`'s bucket of `rule`; 429 `RATE_LIMIT_EXCEEDED` when empty.
    pub async fn check(&self, rule: &LimitRule, subject: &str) -> Result<RateDecision, ApiError> {
        let step = self.step(rule, subject, true).await;
        decide(rule, step)
    }

    /// Like `check` but takes nothing: "would a request pass now?" (lockout checks).
    pub async fn peek(&self, rule: &LimitRule, subject: &str) -> Result<RateDecision, ApiError> {
        let step = self.step(rule, subject, false).await;
        decide(rule, step)
    }

    /// Empties a bucket (e.g. failure counter after a successful login).
    pub async fn reset(&self, rule: &LimitRule, subject: &str) {
        let key = self.key(rule, subject);
        if let Some(redis) = &self.redis {
            // While Redis is unavailable the shared bucket keeps its count: a reset that
            // cannot reach it errs on the strict side.
            let del = redis::cmd("DEL").arg(&key).to_owned();
            let _: Option<()> = redis
                .run(|mut conn| async move { del.query_async(&mut conn).await })
                .await;
        }
        self.buckets().remove(&key);
    }

    fn buckets(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key(&self, rule: &LimitRule, subject: &str) -> String {
        format!("{}:rl:{}:{}", self.namespace, rule.name, subject)
    }

    async fn step(&self, rule: &LimitRule, subject: &str, consume: bool) -> Step {
        let key = self.key(rule, subject);
        if let Some(redis) = &self.redis {
            let carried = self.buckets().get(&key).copied();
            let mut invocation = self.script.key(&key);
            invocation
                .arg(rule.interval_us())
                .arg(rule.tolerance_us())
                .arg(if consume { "1" } else { "0" })
                .arg(carried.unwrap_or(0));
            let result: Option<(i64, i64, i64, i64)> = redis
                .run(|mut conn| async move { invocation.invoke_async(&mut conn).await })
                .await;
            if let Some((allowed, slack, tat, now)) = result {
                let allowed = allowed == 1;
                if let (true, true, Some(carried)) = (allowed, consume, carried) {
                    // Redis now holds a TAT past the carried one; the local copy is done
                    // (unless a newer outage wrote a fresher one meanwhile).
                    let mut buckets = self.buckets();
                    if buckets.get(&key) == Some(&carried) {
                        buckets.remove(&key);
                    }
                }
                return Step {
                    allowed,
                    slack_or_wait_us: slack,
                    tat_us: tat,
                    now_us: now,
                };
            }
        }
        self.local_step(&key, rule, consume)
    }

    fn local_step(&self, key: &str, rule: &LimitRule, consume: bool) -> Step {
        let mut buckets = self.buckets();
        // Bucket timing needs a monotonic-enough microsecond clock, not the injected Clock:
        // limits are about real request spacing. Read under the lock, so a bucket's stored
        // time is never ahead of the time the next step compares it with (with a tiny
        // interval, a reading taken before another thread's update would refuse).
        #[allow(clippy::disallowed_methods)]
        let now_us =
            i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000).unwrap_or(0);
        if buckets.len() >= LOCAL_CAPACITY {
            buckets.retain(|_, tat| *tat > now_us);
        }
        let stored = buckets.get_mut(key);
        let step = gcra(stored.as_deref().copied(), now_us, rule, consume);
        if step.allowed && consume {
            // The common case (a known bucket) updates in place, without allocating a key.
            match stored {
                Some(tat) => *tat = step.tat_us,
                None => {
                    buckets.insert(key.to_owned(), step.tat_us);
                }
            }
        }
        step
    }
}

fn decide(rule: &LimitRule, step: Step) -> Result<RateDecision, ApiError> {
    let interval = rule.interval_us();
    let reset = (step.tat_us.max(step.now_us) + 999_999) / 1_000_000;
    if step.allowed {
        let remaining = u32::try_from(step.slack_or_wait_us / interval)
            .unwrap_or(u32::MAX)
            .min(rule.burst);
        return Ok(RateDecision {
            limit: rule.rate,
            remaining,
            reset,
        });
    }
    let retry_after = (step.slack_or_wait_us + 999_999) / 1_000_000;
    let retry_after = retry_after.max(1);
    let period = i64::try_from(rule.period.as_secs()).unwrap_or(i64::MAX);
    let mut error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMIT_EXCEEDED",
        "too many requests; slow down",
    )
    .with_details(serde_json::json!({
        "limit": rule.rate,
        "window_seconds": period,
        "retry_after": retry_after,
    }));
    error.headers = vec![
        ("retry-after", retry_after.to_string()),
        ("x-ratelimit-limit", rule.rate.to_string()),
        ("x-ratelimit-remaining", "0".to_owned()),
        (
            "x-ratelimit-reset",
            ((step.now_us / 1_000_000) + retry_after).to_string(),
        ),
    ];
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: LimitRule = LimitRule::per_minute("test", 60, 3);

    /// A limit far above any real rate never refuses, however the requests interleave: the
    /// interval may not round to zero, and a bucket's time may not run ahead of a reading
    /// taken by a thread that waited for the lock.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn huge_limits_never_refuse_concurrent_requests() {
        let limiter = std::sync::Arc::new(RateLimiter::new(None, "test-huge"));
        let rule = LimitRule::per_minute("huge", 1_000_000_000, 1_000_000_000);
        assert!(rule.interval_us() >= 1);
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let limiter = std::sync::Arc::clone(&limiter);
                tokio::spawn(async move {
                    let mut refused = 0;
                    for _ in 0..20_000 {
                        if limiter.check(&rule, "one-hot-key").await.is_err() {
                            refused += 1;
                        }
                    }
                    refused
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("task"), 0);
        }
    }

    #[test]
    fn burst_then_steady_rate() {
        let mut tat = None;
        let start = 1_000_000_000_000;
        for i in 0..3 {
            let step = gcra(tat, start, &RULE, true);
            assert!(step.allowed, "burst request {i}");
            tat = Some(step.tat_us);
        }
        assert!(!gcra(tat, start, &RULE, true).allowed, "burst exhausted");
        let refused = gcra(tat, start, &RULE, true);
        assert_eq!(
            refused.slack_or_wait_us, 1_000_000,
            "one interval (1 s) to wait"
        );
        assert!(
            gcra(tat, start + 1_000_000, &RULE, true).allowed,
            "refilled after one interval"
        );
    }

    #[test]
    fn peek_does_not_consume() {
        let start = 5_000_000;
        let step = gcra(None, start, &RULE, false);
        assert!(step.allowed);
        assert_eq!(step.tat_us, start);
    }

    #[test]
    fn refusal_carries_retry_after_and_details() {
        let step = Step {
            allowed: false,
            slack_or_wait_us: 1_500_000,
            tat_us: 10,
            now_us: 0,
        };
        let error = decide(&RULE, step).expect_err("refused");
        assert_eq!(error.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(error.details["retry_after"], 2);
        assert!(error
            .headers
            .iter()
            .any(|(name, value)| *name == "retry-after" && value == "2"));
    }
}
