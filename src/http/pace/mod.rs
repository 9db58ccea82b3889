//! How fast and how many at once: an upstream's request rate and
//! concurrency, each either fixed by config or learned (`"auto"`), in the
//! spirit of Vector's Adaptive Request Concurrency: additive increase while
//! answers are good and the limit is what holds the work back,
//! multiplicative decrease on a 429 (and, for concurrency, on latency well
//! above its mean), never above a configured ceiling.
//!
//! A 429 is blamed on what was holding the work back when it came:
//! requests waiting for a slot blame concurrency (cut to one below the
//! requests that were in flight: the server refused that many), otherwise
//! the rate (cut by a factor). After a cut the level that drew the 429 is
//! marked, and not probed again for a while (a minute, doubling with each
//! 429 there, up to ten): each probe costs a pause of the whole upstream.
//!
//! [`Control`] is the arithmetic, driven by explicit times so that tests
//! can run it against a model server; [`Pace`] wraps it for the requests.

mod control;
mod lanes;
mod slots;
#[cfg(test)]
mod tests;

pub use control::{Answer, Control, START_CONCURRENCY, START_RATE};
pub use lanes::{LANE, Lane, lane};
pub use slots::{Pace, Slot};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::num::{NonZeroU32, NonZeroUsize};

/// A limit: a fixed number, or `"auto"` (learned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting<T> {
    Auto,
    Fixed(T),
}

impl<T: Serialize> Serialize for Setting<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Setting::Auto => s.serialize_str("auto"),
            Setting::Fixed(v) => v.serialize(s),
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Setting<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s == "auto" => Ok(Setting::Auto),
            serde_json::Value::String(s) => Err(serde::de::Error::custom(format!(
                "expected a nonzero number or \"auto\", not {s:?}"
            ))),
            other => T::deserialize(other).map(Setting::Fixed).map_err(|e| {
                serde::de::Error::custom(format!("expected a nonzero number or \"auto\": {e}"))
            }),
        }
    }
}

/// What an upstream has learned (or is fixed at): remembered in the store
/// between runs, shown by `status` and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Learned {
    pub requests_per_second: f64,
    pub concurrency: usize,
}

/// How an upstream is paced, from its `[*.http]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct PaceConfig {
    pub rate: Setting<NonZeroU32>,
    pub burst: NonZeroU32,
    pub concurrency: Setting<NonZeroUsize>,
    /// Ceilings for learned values.
    pub max_rate: Option<f64>,
    pub max_concurrency: Option<usize>,
}
