//! Which answers are worth another try, and how long to wait before it.

use rand::Rng;
use std::time::{Duration, SystemTime};

/// How an upstream's answers are retried. Every field comes from config.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Time per call, waits included; the next wait must fit in it.
    pub max_elapsed: Duration,
    /// Waits after the first 5xx answers (LivePerson: 5, 10, 15 s); after
    /// them the wait doubles, up to `max_backoff`.
    pub server_error_delays: Vec<Duration>,
    /// First wait after a timeout, a reset or a truncated body; it doubles
    /// each time (full jitter), up to `max_backoff`.
    pub transient_base: Duration,
    pub max_backoff: Duration,
    /// The longest Retry-After honoured as given (longer ones are cut to it).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            max_elapsed: Duration::from_secs(15 * 60),
            server_error_delays: [5, 10, 15].map(Duration::from_secs).to_vec(),
            transient_base: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// What an HTTP status means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Success,
    /// 429: pause the whole upstream.
    RateLimited,
    /// 5xx: retry on the server-error schedule.
    ServerError,
    /// 408: retry with backoff.
    Transient,
    /// 401: the caller may refresh its credentials once.
    Unauthorized,
    /// Any other 4xx (and anything unexpected): never retried.
    Fatal,
}

pub fn classify(status: u16) -> Class {
    match status {
        200..=299 => Class::Success,
        429 => Class::RateLimited,
        408 => Class::Transient,
        401 => Class::Unauthorized,
        500..=599 => Class::ServerError,
        _ => Class::Fatal,
    }
}

/// A Retry-After value: delta-seconds or an HTTP-date (RFC 9110). `None`
/// if it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // Some servers send fractional seconds; honour them rounded up.
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.ceil()));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `random(0 ..= min(cap, base * 2^n))`: exponential backoff, full jitter.
fn full_jitter(base: Duration, n: u32, cap: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(1u32.checked_shl(n.min(30)).unwrap_or(u32::MAX))
        .min(cap);
    ceiling.mul_f64(rand::rng().random::<f64>())
}

impl RetryPolicy {
    /// The pause after the `n`-th 429 in a row (0-based): the Retry-After
    /// clamped to [1 s, `max_retry_after`]; without one (or an unreadable
    /// one), 1 s plus exponential backoff with full jitter.
    pub fn rate_limited(&self, retry_after: Option<&str>, n: u32, now: SystemTime) -> Duration {
        let floor = Duration::from_secs(1);
        match retry_after.and_then(|v| parse_retry_after(v, now)) {
            Some(d) => d.clamp(floor, self.max_retry_after.max(floor)),
            None => floor + full_jitter(floor, n, self.max_backoff),
        }
    }

    /// The wait after the `n`-th server error in a row (0-based).
    pub fn server_error(&self, n: u32) -> Duration {
        let base = match self.server_error_delays.get(n as usize) {
            Some(d) => *d,
            None => {
                let last = self
                    .server_error_delays
                    .last()
                    .copied()
                    .unwrap_or(self.transient_base);
                let extra = n as usize + 1 - self.server_error_delays.len();
                last.saturating_mul(1u32.checked_shl(extra.min(30) as u32).unwrap_or(u32::MAX))
            }
        }
        .min(self.max_backoff);
        // A tenth of jitter so that tasks failing together do not retry together.
        base + base.mul_f64(rand::rng().random::<f64>() / 10.0)
    }

    /// The wait after the `n`-th transient failure in a row (0-based).
    pub fn transient(&self, n: u32) -> Duration {
        full_jitter(self.transient_base, n, self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(classify(200), Class::Success);
        assert_eq!(classify(204), Class::Success);
        assert_eq!(classify(429), Class::RateLimited);
        assert_eq!(classify(503), Class::ServerError);
        assert_eq!(classify(408), Class::Transient);
        assert_eq!(classify(401), Class::Unauthorized);
        for s in [400, 403, 404, 409, 302] {
            assert_eq!(classify(s), Class::Fatal, "{s}");
        }
    }

    #[test]
    fn retry_after_in_both_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(" 2.2 ", now),
            Some(Duration::from_secs(3))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(42))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(42));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn a_429_waits_at_least_a_second_and_at_most_the_cap() {
        let p = RetryPolicy {
            max_retry_after: Duration::from_secs(300),
            ..RetryPolicy::default()
        };
        let now = SystemTime::now();
        assert_eq!(p.rate_limited(Some("0"), 0, now), Duration::from_secs(1));
        assert_eq!(p.rate_limited(Some("5"), 0, now), Duration::from_secs(5));
        assert_eq!(
            p.rate_limited(Some("86400"), 0, now),
            Duration::from_secs(300)
        );
        for n in 0..12 {
            let d = p.rate_limited(None, n, now);
            assert!(
                d >= Duration::from_secs(1) && d <= Duration::from_secs(301),
                "{d:?}"
            );
            let d = p.rate_limited(Some("garbage"), n, now);
            assert!(d >= Duration::from_secs(1), "{d:?}");
        }
    }

    #[test]
    fn server_errors_follow_the_schedule_then_double_to_the_cap() {
        let p = RetryPolicy::default();
        let within = |d: Duration, s: u64| {
            d >= Duration::from_secs(s) && d <= Duration::from_secs(s).mul_f64(1.1)
        };
        assert!(within(p.server_error(0), 5));
        assert!(within(p.server_error(1), 10));
        assert!(within(p.server_error(2), 15));
        assert!(within(p.server_error(3), 30));
        assert!(within(p.server_error(4), 60));
        assert!(within(p.server_error(40), 300));
    }

    #[test]
    fn transient_backoff_is_full_jitter_under_the_cap() {
        let p = RetryPolicy::default();
        for n in 0..40 {
            let cap = Duration::from_secs(1u64 << n.min(9)).min(p.max_backoff);
            assert!(p.transient(n) <= cap);
        }
    }
}
