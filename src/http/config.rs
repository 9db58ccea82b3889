//! `[*.http]`: an upstream's quota, timeouts and retries, as configured.

use super::pace::{PaceConfig, Setting};
use super::retry::RetryPolicy;
use serde::{Deserialize, Deserializer, Serialize};
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

/// `[liveperson.http]` / `[hubster.http]`: how hard convsync may press an
/// upstream, and how it waits and retries.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Average request rate (GCRA), or `"auto"`: learned from the
    /// upstream's answers (see [`pace`]).
    pub requests_per_second: Setting<NonZeroU32>,
    /// Requests that may go at once before the rate applies.
    pub burst: NonZeroU32,
    /// Requests in flight at once, or `"auto"`: learned.
    pub max_concurrency: Setting<NonZeroUsize>,
    /// The most a learned rate may reach (none: no ceiling but the
    /// upstream's answers).
    pub ceiling_requests_per_second: Option<f64>,
    /// The most learned concurrency may reach.
    pub ceiling_concurrency: Option<NonZeroUsize>,
    /// Seconds to establish a connection.
    #[serde(deserialize_with = "positive")]
    pub connect_timeout_secs: f64,
    /// Seconds for a whole request, body included.
    #[serde(deserialize_with = "positive")]
    pub timeout_secs: f64,
    /// Longest Retry-After honoured as given (seconds).
    #[serde(deserialize_with = "positive")]
    pub max_retry_after_secs: f64,
    /// Attempts per call, the first included.
    pub max_attempts: NonZeroU32,
    /// Seconds per call, waits included.
    #[serde(deserialize_with = "positive")]
    pub max_elapsed_secs: f64,
    /// Waits after successive 5xx answers; then doubling up to `max_backoff_secs`.
    pub server_error_delays_secs: Vec<f64>,
    /// First wait after a timeout, reset or truncated body; doubles, with full jitter.
    #[serde(deserialize_with = "positive")]
    pub transient_backoff_secs: f64,
    #[serde(deserialize_with = "positive")]
    pub max_backoff_secs: f64,
    /// Allow plain `http://` to hosts other than loopback.
    pub allow_insecure_http: bool,
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if !(v.is_finite() && v > 0.0) {
        return Err(serde::de::Error::custom(format!(
            "must be a positive number of seconds, not {v}"
        )));
    }
    Ok(v)
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            requests_per_second: Setting::Auto,
            burst: NonZeroU32::new(10).expect("non-zero"),
            max_concurrency: Setting::Auto,
            ceiling_requests_per_second: None,
            ceiling_concurrency: None,
            connect_timeout_secs: 5.0,
            timeout_secs: 30.0,
            max_retry_after_secs: 300.0,
            max_attempts: NonZeroU32::new(10).expect("non-zero"),
            max_elapsed_secs: 900.0,
            server_error_delays_secs: vec![5.0, 10.0, 15.0],
            transient_backoff_secs: 1.0,
            max_backoff_secs: 300.0,
            allow_insecure_http: false,
        }
    }
}

impl HttpConfig {
    pub fn pace(&self) -> PaceConfig {
        PaceConfig {
            rate: self.requests_per_second,
            burst: self.burst,
            concurrency: self.max_concurrency,
            max_rate: self.ceiling_requests_per_second.filter(|r| *r > 0.0),
            max_concurrency: self.ceiling_concurrency.map(NonZeroUsize::get),
        }
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        let secs = Duration::from_secs_f64;
        RetryPolicy {
            max_attempts: self.max_attempts.get(),
            max_elapsed: secs(self.max_elapsed_secs),
            server_error_delays: self
                .server_error_delays_secs
                .iter()
                .map(|s| secs(s.max(0.0)))
                .collect(),
            transient_base: secs(self.transient_backoff_secs),
            max_backoff: secs(self.max_backoff_secs),
            max_retry_after: secs(self.max_retry_after_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_rejects_zero_and_negative_values_by_name() {
        #[derive(Deserialize)]
        struct W {
            #[allow(dead_code)]
            http: HttpConfig,
        }
        let e = toml::from_str::<W>("[http]\nrequests_per_second = 0\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("nonzero"), "{e}");
        let e = toml::from_str::<W>("[http]\ntimeout_secs = -1\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("positive"), "{e}");
    }
}
