//! `[sync]`: the daemon's section (also the defaults of backfills and
//! migrations: the store, concurrency, retry budget).

use serde::{Deserialize, Serialize};
use std::num::NonZeroUsize;
use std::path::PathBuf;

/// `[sync]`: the daemon.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Where `convsync.redb` lives (systemd's `$STATE_DIRECTORY` when set).
    pub state_dir: PathBuf,
    /// The name checkpoints are kept under.
    pub pipeline: String,
    /// Conversations started before this are not synced: YYYY-MM-DD,
    /// RFC 3339 or epoch ms; default 30 days before the first run.
    pub since: Option<String>,
    /// Seconds between discovery cycles (and between polls of OPEN ones).
    pub poll_interval_secs: f64,
    /// After cycles in a row that fail and deliver nothing, the wait doubles from
    /// `poll_interval_secs` (with jitter) up to this many seconds; a cycle
    /// that succeeds resets it.
    pub max_backoff_secs: f64,
    /// Each cycle re-reads this many seconds before the watermark
    /// (LivePerson rounds to 10 minutes and lags up to a minute).
    pub lookback_secs: f64,
    /// Conversations synced at once.
    pub concurrency: NonZeroUsize,
    /// On SIGTERM, how long in-flight conversations may take to finish.
    pub shutdown_timeout_secs: f64,
    /// Failed runs in a row before a conversation goes to dead letters.
    pub retry_budget: u32,
    /// Where activities go.
    pub sink: SinkConfig,
    /// Where /metrics, /healthz and /status are served ("" turns it off).
    pub metrics_listen: String,
    /// While a job handed to the running daemon (a backfill, a migration,
    /// a dead-letter retry) runs beside live sync, the share of each
    /// upstream's requests live sync keeps when it wants them (0 to 1).
    #[serde(deserialize_with = "share")]
    pub live_share: f64,
    /// Conversations (and their dead letters and backfill windows) last
    /// updated longer ago than this many days leave the store of the
    /// pipelines that read the LivePerson API (which keeps 13 months);
    /// their ids stay as digests, so one returned again is not re-sent.
    /// 0: never.
    #[serde(deserialize_with = "days")]
    pub retention_days: f64,
}

fn days<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(serde::de::Error::custom(format!(
            "must be a number of days (0: never), not {v}"
        )));
    }
    Ok(v)
}

fn share<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if !(0.0..=1.0).contains(&v) {
        return Err(serde::de::Error::custom(format!(
            "must be a share between 0 and 1, not {v}"
        )));
    }
    Ok(v)
}

/// `sink = "hubster"` or `sink = { files = "dir" }`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkConfig {
    Hubster,
    Files(PathBuf),
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            state_dir: std::env::var_os("STATE_DIRECTORY")
                .map_or_else(|| PathBuf::from("state"), PathBuf::from),
            pipeline: "liveperson-to-hubster".into(),
            since: None,
            poll_interval_secs: 30.0,
            max_backoff_secs: 600.0,
            lookback_secs: 1200.0,
            concurrency: NonZeroUsize::new(8).expect("non-zero"),
            shutdown_timeout_secs: 20.0,
            retry_budget: 5,
            sink: SinkConfig::Hubster,
            metrics_listen: "127.0.0.1:9187".into(),
            live_share: 0.5,
            // LivePerson's 13 months (396 days), and a month more.
            retention_days: 426.0,
        }
    }
}

impl SyncConfig {
    pub fn store_path(&self) -> PathBuf {
        self.state_dir.join("convsync.redb")
    }

    /// The running daemon's control socket (mode 0600): commands hand it
    /// their jobs there.
    pub fn control_socket(&self) -> PathBuf {
        self.state_dir.join("convsync.sock")
    }

    /// Where a running daemon writes the address of its endpoint.
    pub fn endpoint_file(&self) -> PathBuf {
        self.state_dir.join("convsync.endpoint")
    }
}
