//! The daemon's HTTP endpoint: `/metrics` (Prometheus text), `/healthz`,
//! and `/status` (JSON, what `convsync status` shows while the daemon holds
//! the store). It owns the counters: the engine only emits to them, and the
//! `run` operation serves them.

use crate::clock::now_ms;
use crate::http::Metrics;
use crate::store::Store;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters a run keeps (for STATUS, the summary and tests).
#[derive(Debug, Default)]
pub struct Counters {
    pub cycles: AtomicU64,
    pub conversations_synced: AtomicU64,
    pub activities_delivered: AtomicU64,
    pub failures: AtomicU64,
    pub dead_letters: AtomicU64,
    pub recovered: AtomicU64,
    /// Why the daemon is backing off (failed cycles in a row), while it is.
    pub degraded: std::sync::Mutex<Option<String>>,
}

impl Counters {
    /// Says the daemon is degraded, and why (`None`: healthy again).
    pub fn set_degraded(&self, why: Option<String>) {
        *self.degraded.lock().expect("degraded lock") = why;
    }

    pub fn degraded(&self) -> Option<String> {
        self.degraded.lock().expect("degraded lock").clone()
    }
}

/// What the endpoint reads.
#[derive(Clone)]
pub struct Telemetry {
    pub pipeline: String,
    pub counters: Arc<Counters>,
    pub http: Arc<Metrics>,
    pub store: Arc<Store>,
}

/// The daemon's state as `convsync status` prints it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Status {
    pub pipeline: String,
    pub store: String,
    pub conversations: u64,
    pub activities_delivered: u64,
    pub watermark_ms: Option<i64>,
    pub lag_seconds: Option<f64>,
    pub dead_letters: u64,
    pub pending_intents: u64,
    /// Counters of the running daemon (absent when read from the store).
    pub cycles: Option<u64>,
    /// Why the running daemon is backing off, while it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<String>,
}

impl Telemetry {
    pub fn status(&self) -> Status {
        let mut st = status_of(&self.store, &self.pipeline);
        st.cycles = Some(self.counters.cycles.load(Ordering::Relaxed));
        st.degraded = self.counters.degraded();
        st
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let c = &self.counters;
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let one = |v: u64| vec![(String::new(), v as f64)];
        let h = self.http.snapshot();
        let requests: Vec<(String, f64)> = h
            .requests
            .iter()
            .map(|(k, v)| {
                let mut p = k.splitn(3, ' ');
                let (u, e, o) = (
                    p.next().unwrap_or(""),
                    p.next().unwrap_or(""),
                    p.next().unwrap_or(""),
                );
                (
                    format!("{{upstream=\"{u}\",endpoint=\"{e}\",outcome=\"{o}\"}}"),
                    *v as f64,
                )
            })
            .collect();
        let per_upstream = |m: &std::collections::BTreeMap<String, u64>| -> Vec<(String, f64)> {
            m.iter()
                .map(|(u, v)| (format!("{{upstream=\"{u}\"}}"), *v as f64))
                .collect()
        };
        metric(
            "convsync_http_requests_total",
            "counter",
            "Requests by upstream, endpoint and outcome (status or error kind).",
            &requests,
        );
        metric(
            "convsync_http_retries_total",
            "counter",
            "Retries by upstream.",
            &per_upstream(&h.retries),
        );
        metric(
            "convsync_http_rate_limited_total",
            "counter",
            "429 answers by upstream.",
            &per_upstream(&h.rate_limited),
        );
        let waits: Vec<(String, f64)> = h
            .wait_seconds
            .iter()
            .map(|(u, v)| (format!("{{upstream=\"{u}\"}}"), *v))
            .collect();
        metric(
            "convsync_http_wait_seconds_total",
            "counter",
            "Seconds spent waiting on 429 pauses and retry backoff.",
            &waits,
        );
        metric(
            "convsync_activities_delivered_total",
            "counter",
            "Activities delivered.",
            &one(c.activities_delivered.load(Ordering::Relaxed)),
        );
        metric(
            "convsync_conversations_synced_total",
            "counter",
            "Conversation syncs that completed.",
            &one(c.conversations_synced.load(Ordering::Relaxed)),
        );
        metric(
            "convsync_sync_failures_total",
            "counter",
            "Conversation syncs that failed.",
            &one(c.failures.load(Ordering::Relaxed)),
        );
        metric(
            "convsync_dead_letters_total",
            "counter",
            "Conversations set aside as dead letters.",
            &one(c.dead_letters.load(Ordering::Relaxed)),
        );
        metric(
            "convsync_cycles_total",
            "counter",
            "Discovery cycles run.",
            &one(c.cycles.load(Ordering::Relaxed)),
        );
        let st = status_of(&self.store, &self.pipeline);
        if let Some(lag) = st.lag_seconds {
            metric(
                "convsync_discovery_lag_seconds",
                "gauge",
                "Seconds since the discovery watermark.",
                &[(String::new(), lag)],
            );
        }
        let (n, secs) = self.store.commit_stats();
        metric(
            "convsync_checkpoint_commit_seconds_sum",
            "counter",
            "Time spent in store commits.",
            &[(String::new(), secs)],
        );
        metric(
            "convsync_checkpoint_commit_seconds_count",
            "counter",
            "Store commits.",
            &one(n),
        );
        out
    }
}

/// A store's status (no daemon counters).
pub fn status_of(store: &Store, pipeline: &str) -> Status {
    let watermark = store.watermark(pipeline).ok().flatten();
    let (conversations, delivered) = store.totals(pipeline).unwrap_or((0, 0));
    Status {
        pipeline: pipeline.to_owned(),
        store: store.path().display().to_string(),
        conversations,
        activities_delivered: delivered,
        watermark_ms: watermark,
        lag_seconds: watermark.map(|w| (now_ms() - w) as f64 / 1000.0),
        dead_letters: store
            .dead_letters()
            .map(|d| d.iter().filter(|x| x.pipeline == pipeline).count() as u64)
            .unwrap_or(0),
        pending_intents: store
            .pending_intents(pipeline)
            .map(|p| p.len() as u64)
            .unwrap_or(0),
        cycles: None,
        degraded: None,
    }
}

/// The endpoint's routes. Each handler reads the store on a blocking
/// thread, never on the async ones.
pub fn router(t: Telemetry) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(t): State<Telemetry>| async move {
                let text = off_async(move || t.render()).await;
                ([("content-type", "text/plain; version=0.0.4")], text)
            }),
        )
        .route(
            "/healthz",
            get(|State(t): State<Telemetry>| async move {
                match t.counters.degraded() {
                    None => "ok\n".to_owned(),
                    Some(why) => format!("degraded: {why}\n"),
                }
            }),
        )
        .route(
            "/status",
            get(|State(t): State<Telemetry>| async move {
                axum::Json(off_async(move || t.status()).await).into_response()
            }),
        )
        .with_state(t)
}

async fn off_async<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("telemetry reads do not panic")
}

/// Serves the endpoint on `listen` until the process ends, and writes its
/// address to `endpoint_file` (for `convsync status`). Returns the address.
pub async fn serve(
    listen: &str,
    endpoint_file: &std::path::Path,
    t: Telemetry,
) -> Result<std::net::SocketAddr, TelemetryError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| TelemetryError::Listen {
            listen: listen.to_owned(),
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| TelemetryError::Listen {
            listen: listen.to_owned(),
            source,
        })?;
    let _ = std::fs::write(endpoint_file, addr.to_string());
    let app = router(t);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    tracing::info!(%addr, "metrics and health endpoint up");
    Ok(addr)
}

/// The endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("sync.metrics_listen: cannot listen on {listen}: {source}")]
    Listen {
        listen: String,
        source: std::io::Error,
    },
}
