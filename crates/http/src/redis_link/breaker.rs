//! A two-state circuit breaker with background recovery. Closed: callers use the dependency.
//! Open: callers skip it entirely (they have a fallback), and one background task probes
//! the dependency every `open_for` until it answers, then closes the breaker. No request
//! ever pays for a probe, so there is no "half-open" request path.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Breaker {
    open: AtomicBool,
    open_for: Duration,
}

impl Breaker {
    pub(crate) fn new(open_for: Duration) -> Self {
        Self {
            open: AtomicBool::new(false),
            open_for,
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    pub(crate) fn open_for(&self) -> Duration {
        self.open_for
    }

    /// Opens the breaker. True only for the caller that opened it, which then starts the
    /// recovery: concurrent failures of one outage start a single probe.
    pub(crate) fn trip(&self) -> bool {
        self.open
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn close(&self) {
        self.open.store(false, Ordering::Release);
    }
}

/// Waits `open_for`, then asks `probe`; repeats until a probe succeeds and closes the
/// breaker. Holds the breaker weakly: once its owner is dropped the task ends at its next
/// wake-up instead of probing a dependency nobody uses.
pub(crate) async fn recover<F, Fut>(breaker: Weak<Breaker>, open_for: Duration, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    loop {
        tokio::time::sleep(open_for).await;
        if breaker.strong_count() == 0 {
            return;
        }
        if probe().await {
            if let Some(breaker) = breaker.upgrade() {
                breaker.close();
            }
            return;
        }
    }
}

/// Opens `breaker` and, if this call opened it, spawns [`recover`] with `probe`. True when
/// this call opened it.
pub(crate) fn trip_and_recover<F, Fut>(breaker: &Arc<Breaker>, probe: F) -> bool
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    if !breaker.trip() {
        return false;
    }
    tokio::spawn(recover(Arc::downgrade(breaker), breaker.open_for(), probe));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    const OPEN_FOR: Duration = Duration::from_secs(5);

    /// A probe that fails `failures` times, then succeeds; counts its calls.
    fn probe(failures: usize) -> (Arc<AtomicUsize>, impl FnMut() -> std::future::Ready<bool>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let probe = move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            std::future::ready(n >= failures)
        };
        (calls, probe)
    }

    /// Lets the spawned task run up to `by` of virtual time.
    async fn advance(by: Duration) {
        tokio::time::sleep(by).await;
        tokio::task::yield_now().await;
    }

    #[tokio::test(start_paused = true)]
    async fn stays_open_while_probes_fail_and_closes_on_the_first_success() {
        let breaker = Arc::new(Breaker::new(OPEN_FOR));
        assert!(!breaker.is_open());
        let (calls, probe) = probe(2);
        assert!(trip_and_recover(&breaker, probe));
        assert!(breaker.is_open());

        advance(OPEN_FOR - Duration::from_millis(1)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0, "no probe before open_for");
        assert!(breaker.is_open());

        advance(Duration::from_millis(1)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "first probe fails");
        assert!(breaker.is_open());

        advance(OPEN_FOR).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2, "second probe fails");
        assert!(breaker.is_open());

        advance(OPEN_FOR).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(!breaker.is_open(), "third probe succeeded");

        advance(OPEN_FOR * 3).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3, "probing stops once closed");
    }

    #[tokio::test(start_paused = true)]
    async fn one_outage_starts_one_probe() {
        let breaker = Arc::new(Breaker::new(OPEN_FOR));
        let (first, probe_one) = probe(0);
        let (second, probe_two) = probe(0);
        assert!(trip_and_recover(&breaker, probe_one));
        assert!(
            !trip_and_recover(&breaker, probe_two),
            "already open: no second task"
        );
        advance(OPEN_FOR).await;
        assert_eq!(first.load(Ordering::SeqCst), 1);
        assert_eq!(second.load(Ordering::SeqCst), 0);
        assert!(!breaker.is_open());
        // A later outage trips it again.
        let (third, probe_three) = probe(0);
        assert!(trip_and_recover(&breaker, probe_three));
        advance(OPEN_FOR).await;
        assert_eq!(third.load(Ordering::SeqCst), 1);
        assert!(!breaker.is_open());
    }

    #[tokio::test(start_paused = true)]
    async fn the_probe_ends_when_the_breaker_is_dropped() {
        let breaker = Arc::new(Breaker::new(OPEN_FOR));
        let (calls, probe) = probe(usize::MAX);
        assert!(trip_and_recover(&breaker, probe));
        advance(OPEN_FOR).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        drop(breaker);
        advance(OPEN_FOR * 3).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "no probes for a dropped breaker"
        );
    }
}
