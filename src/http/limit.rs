//! What keeps convsync polite: a GCRA quota per upstream and a pause gate
//! that a 429 closes for every task of that upstream at once.

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use rand::Rng;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The quota: `requests_per_second` on average, at most `burst` at once.
pub struct Limit<C: Clock = DefaultClock> {
    limiter: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
}

impl Limit {
    pub fn new(requests_per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Limit::with_clock(requests_per_second, burst, DefaultClock::default())
    }

    /// Waits for a cell. (No jitter here: a late wake-up is rate lost for
    /// good, and the cells themselves already space the requests out.)
    pub async fn ready(&self) {
        self.limiter.until_ready().await;
    }
}

impl<C: Clock> Limit<C> {
    pub fn with_clock(requests_per_second: NonZeroU32, burst: NonZeroU32, clock: C) -> Self {
        let quota = Quota::per_second(requests_per_second).allow_burst(burst);
        Limit {
            limiter: RateLimiter::direct_with_clock(quota, clock),
        }
    }

    /// Takes a cell if one is free now.
    pub fn try_take(&self) -> bool {
        self.limiter.check().is_ok()
    }
}

/// Closed while an upstream asked us to wait. Every request of that upstream
/// passes it first, so one 429 holds all of them back, not only the task
/// that got it.
#[derive(Debug, Default)]
pub struct PauseGate {
    closed_until: Mutex<Option<Instant>>,
}

impl PauseGate {
    /// Keeps the gate closed until at least `until`.
    pub fn close_until(&self, until: Instant) {
        let mut c = self.closed_until.lock().expect("gate lock");
        if c.is_none_or(|cur| cur < until) {
            *c = Some(until);
        }
    }

    /// When the gate opens; `None` if it is open.
    pub fn closed_until(&self) -> Option<Instant> {
        let c = *self.closed_until.lock().expect("gate lock");
        c.filter(|&u| u > Instant::now())
    }

    /// Waits until the gate is open. A task that had to wait adds a random
    /// share of a tenth of the pause (at most a second), so waiting tasks
    /// do not all fire the moment it reopens. Returns how long it waited.
    pub async fn wait(&self) -> Duration {
        let start = Instant::now();
        while let Some(until) = self.closed_until() {
            let pause = until.saturating_duration_since(Instant::now());
            let spread = (pause / 10).min(Duration::from_secs(1));
            let jitter = spread.mul_f64(rand::rng().random::<f64>());
            tokio::time::sleep_until(until + jitter).await;
        }
        start.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::sync::Arc;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn quota_allows_the_burst_then_one_per_interval() {
        let clock = FakeRelativeClock::default();
        let limit = Limit::with_clock(nz(20), nz(3), clock.clone());
        assert!((0..3).all(|_| limit.try_take()), "the burst is allowed");
        assert!(!limit.try_take(), "then the quota is spent");
        clock.advance(Duration::from_millis(49));
        assert!(!limit.try_take(), "not before 50 ms at 20/s");
        clock.advance(Duration::from_millis(1));
        assert!(limit.try_take());
        assert!(!limit.try_take());
        // Over one simulated second, never more than 20 (+ the burst it began with).
        let mut taken = 0;
        for _ in 0..1000 {
            clock.advance(Duration::from_millis(1));
            taken += usize::from(limit.try_take());
        }
        assert_eq!(taken, 20);
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_gate_holds_every_task_until_it_opens() {
        let gate = Arc::new(PauseGate::default());
        let t0 = Instant::now();
        gate.close_until(t0 + Duration::from_secs(5));
        // A shorter pause never shortens the current one.
        gate.close_until(t0 + Duration::from_secs(2));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let g = Arc::clone(&gate);
            tasks.push(tokio::spawn(async move {
                g.wait().await;
                Instant::now()
            }));
        }
        let mut passed = Vec::new();
        for t in tasks {
            passed.push(t.await.unwrap() - t0);
        }
        for p in &passed {
            assert!(*p >= Duration::from_secs(5), "passed at {p:?}");
            assert!(
                *p <= Duration::from_millis(5500),
                "jitter is at most a tenth: {p:?}"
            );
        }
        assert!(gate.closed_until().is_none());
        assert_eq!(gate.wait().await, Duration::ZERO);
    }
}
