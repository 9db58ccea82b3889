//! What every upstream's calls came to: counts of each outcome, retries,
//! 429s, waits, learned paces, and how long each request took.

use super::pace::Learned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// An upstream's endpoint, as a metric's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct EndpointLabels {
    pub upstream: String,
    pub endpoint: String,
}

/// Request durations per upstream and endpoint.
pub type Durations = prometheus_client::metrics::family::Family<
    EndpointLabels,
    prometheus_client::metrics::histogram::Histogram,
    fn() -> prometheus_client::metrics::histogram::Histogram,
>;

/// Counts of every outcome, for the metrics endpoint and tests, and how
/// long each request took (the time of one attempt, answer read).
#[derive(Debug)]
pub struct Metrics {
    inner: Mutex<MetricsSnapshot>,
    pub durations: Durations,
}

impl Default for Metrics {
    fn default() -> Self {
        fn histogram() -> prometheus_client::metrics::histogram::Histogram {
            // 5 ms to about 82 s.
            prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.005, 2.0, 15),
            )
        }
        Metrics {
            inner: Mutex::default(),
            durations: Durations::new_with_constructor(histogram),
        }
    }
}

/// A copy of the counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetricsSnapshot {
    /// `upstream endpoint outcome` -> count; outcome is the HTTP status or
    /// `timeout`, `connect`, `body`, `malformed`.
    pub requests: BTreeMap<String, u64>,
    /// Retries per upstream.
    pub retries: BTreeMap<String, u64>,
    /// 429 answers per upstream.
    pub rate_limited: BTreeMap<String, u64>,
    /// Calls that ran out of attempts or time, per upstream.
    pub gave_up: BTreeMap<String, u64>,
    /// Seconds spent waiting (pause gate and backoff) per upstream.
    pub wait_seconds: BTreeMap<String, f64>,
    /// Each upstream's rate and concurrency (learned or fixed).
    pub pace: BTreeMap<String, Learned>,
}

impl Metrics {
    pub(super) fn request(&self, upstream: &str, endpoint: &str, outcome: &str) {
        let mut m = self.inner.lock().expect("metrics lock");
        *m.requests
            .entry(format!("{upstream} {endpoint} {outcome}"))
            .or_default() += 1;
    }
    /// A call tried again after `wait`, because of `why`.
    pub(super) fn retry(
        &self,
        upstream: &str,
        endpoint: &str,
        attempt: u32,
        wait: Duration,
        why: &str,
    ) {
        tracing::debug!(upstream, endpoint, attempt, ?wait, why, "retrying");
        *self
            .inner
            .lock()
            .expect("metrics lock")
            .retries
            .entry(upstream.to_owned())
            .or_default() += 1;
    }
    /// A 429, and the pause it closed the upstream for.
    pub(super) fn rate_limited(
        &self,
        upstream: &str,
        endpoint: &str,
        retry_after: Option<&str>,
        pause: Duration,
    ) {
        tracing::debug!(
            upstream,
            endpoint,
            retry_after,
            ?pause,
            "429: pausing the upstream"
        );
        *self
            .inner
            .lock()
            .expect("metrics lock")
            .rate_limited
            .entry(upstream.to_owned())
            .or_default() += 1;
    }
    /// A call that ran out of attempts or time.
    pub(super) fn gave_up(
        &self,
        upstream: &str,
        endpoint: &str,
        attempts: u32,
        elapsed: Duration,
        why: &str,
    ) {
        tracing::warn!(upstream, endpoint, attempts, ?elapsed, why, "giving up");
        *self
            .inner
            .lock()
            .expect("metrics lock")
            .gave_up
            .entry(upstream.to_owned())
            .or_default() += 1;
    }
    pub(super) fn waited(&self, upstream: &str, d: Duration) {
        if !d.is_zero() {
            *self
                .inner
                .lock()
                .expect("metrics lock")
                .wait_seconds
                .entry(upstream.to_owned())
                .or_default() += d.as_secs_f64();
        }
    }
    /// An upstream's rate or concurrency changed (learned, or set).
    pub(super) fn paced(&self, upstream: &str, l: Learned) {
        tracing::debug!(
            upstream,
            requests_per_second = l.requests_per_second,
            concurrency = l.concurrency,
            "pace"
        );
        self.inner
            .lock()
            .expect("metrics lock")
            .pace
            .insert(upstream.to_owned(), l);
    }
    /// Sets an upstream's 429s and seconds waiting (a display fed by
    /// another process's figures).
    pub fn set_waits(&self, upstream: &str, rate_limited: u64, wait_seconds: f64) {
        let mut m = self.inner.lock().expect("metrics lock");
        m.rate_limited.insert(upstream.to_owned(), rate_limited);
        m.wait_seconds.insert(upstream.to_owned(), wait_seconds);
    }
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.inner.lock().expect("metrics lock").clone()
    }
}
