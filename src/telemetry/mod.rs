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
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

mod counters;

pub use counters::{Again, Counters};

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
    /// Each upstream's rate and concurrency: what the running daemon uses
    /// now, or (from the store) what the last run learned.
    #[serde(default)]
    pub pace: std::collections::BTreeMap<String, crate::http::pace::Learned>,
    /// The store file's size in bytes.
    #[serde(default)]
    pub store_bytes: u64,
    /// The pipeline's last prune (retention), if any.
    #[serde(default)]
    pub last_prune: Option<crate::store::Pruned>,
    /// Jobs handed to the daemon and not finished (a daemon that stopped
    /// resumes them when it starts).
    #[serde(default)]
    pub jobs: Vec<String>,
    /// Conversations the running daemon rebuilt from the target since it
    /// started (absent when read from the store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled: Option<u64>,
    /// When the store was last found restored, recreated or replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_found: Option<crate::store::Finding>,
    /// Conversations held open (LivePerson's answers did not prove them
    /// whole), with what the last answer showed.
    #[serde(default)]
    pub held: Vec<HeldConversation>,
    /// The daemon's freshness (seconds; while it runs): p50 and p99 of the
    /// latest messages that appeared after it caught up, and how many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<FreshnessNow>,
}

/// Freshness quantiles, as `status` shows them.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct FreshnessNow {
    pub p50_seconds: f64,
    pub p99_seconds: f64,
    pub messages: usize,
}

/// A conversation held open, as `status` lists it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct HeldConversation {
    pub conversation_id: String,
    #[serde(flatten)]
    pub held: crate::store::Held,
}

impl Telemetry {
    pub fn status(&self) -> Status {
        let mut st = status_of(&self.store, &self.pipeline);
        st.cycles = Some(self.counters.cycles.load(Ordering::Relaxed));
        st.degraded = self.counters.degraded();
        st.reconciled = Some(self.counters.reconciled.load(Ordering::Relaxed));
        st.freshness = self
            .counters
            .freshness_quantiles()
            .map(|(p50, p99, messages)| FreshnessNow {
                p50_seconds: p50,
                p99_seconds: p99,
                messages,
            });
        st.pace.extend(self.http.snapshot().pace);
        st
    }

    /// The metrics in Prometheus' text format (0.0.4), through the
    /// Prometheus project's client: counters, gauges, the request, sync
    /// and commit histograms, build info and process metrics.
    pub fn render(&self) -> String {
        let mut reg = Registry::default();
        let c = &self.counters;
        let h = self.http.snapshot();
        let counter = |v: u64| {
            let x: Counter = Counter::default();
            x.inc_by(v);
            x
        };
        let fcounter = |v: f64| {
            let x: Counter<f64, std::sync::atomic::AtomicU64> = Counter::default();
            x.inc_by(v);
            x
        };
        let gauge = |v: f64| {
            let g: Gauge<f64, std::sync::atomic::AtomicU64> = Gauge::default();
            g.set(v);
            g
        };
        reg.register(
            "convsync_build",
            "The running build.",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );

        let requests: Family<RequestLabels, Counter> = Family::default();
        for (k, v) in &h.requests {
            let mut p = k.splitn(3, ' ');
            let labels = RequestLabels {
                upstream: p.next().unwrap_or("").to_owned(),
                endpoint: p.next().unwrap_or("").to_owned(),
                outcome: p.next().unwrap_or("").to_owned(),
            };
            requests.get_or_create(&labels).inc_by(*v);
        }
        reg.register(
            "convsync_http_requests",
            "Requests by upstream, endpoint and outcome (status or error kind)",
            requests,
        );
        reg.register(
            "convsync_http_request_duration_seconds",
            "How long one request took, answer read, by upstream and endpoint",
            self.http.durations.clone(),
        );
        let per_upstream = |m: &std::collections::BTreeMap<String, u64>| {
            let f: Family<UpstreamLabels, Counter> = Family::default();
            for (u, v) in m {
                f.get_or_create(&UpstreamLabels {
                    upstream: u.clone(),
                })
                .inc_by(*v);
            }
            f
        };
        reg.register(
            "convsync_http_retries",
            "Retries by upstream",
            per_upstream(&h.retries),
        );
        reg.register(
            "convsync_http_rate_limited",
            "429 answers by upstream",
            per_upstream(&h.rate_limited),
        );
        reg.register(
            "convsync_http_gave_up",
            "Calls that ran out of attempts or time, by upstream",
            per_upstream(&h.gave_up),
        );
        let waits: Family<UpstreamLabels, Counter<f64, std::sync::atomic::AtomicU64>> =
            Family::default();
        for (u, v) in &h.wait_seconds {
            waits
                .get_or_create(&UpstreamLabels {
                    upstream: u.clone(),
                })
                .inc_by(*v);
        }
        let rates: Family<UpstreamLabels, Gauge<f64, std::sync::atomic::AtomicU64>> =
            Family::default();
        let slots: Family<UpstreamLabels, Gauge> = Family::default();
        for (u, l) in &h.pace {
            let labels = UpstreamLabels {
                upstream: u.clone(),
            };
            rates.get_or_create(&labels).set(l.requests_per_second);
            slots.get_or_create(&labels).set(l.concurrency as i64);
        }
        reg.register(
            "convsync_http_rate_limit_requests_per_second",
            "The request rate an upstream is paced at (learned with \"auto\", else as configured)",
            rates,
        );
        reg.register(
            "convsync_http_concurrency_limit",
            "Requests an upstream may have in flight at once (learned with \"auto\", else as configured)",
            slots,
        );
        reg.register(
            "convsync_http_wait_seconds",
            "Seconds spent waiting on 429 pauses and retry backoff",
            waits,
        );
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        reg.register(
            "convsync_activities_delivered",
            "Activities delivered",
            counter(load(&c.activities_delivered)),
        );
        reg.register(
            "convsync_conversations_synced",
            "Conversation syncs that completed",
            counter(load(&c.conversations_synced)),
        );
        reg.register(
            "convsync_sync_failures",
            "Conversation syncs that failed",
            counter(load(&c.failures)),
        );
        reg.register(
            "convsync_dead_letters",
            "Conversations set aside as dead letters by this process",
            counter(load(&c.dead_letters)),
        );
        reg.register(
            "convsync_conversations_reconciled",
            "Conversations whose checkpoint was rebuilt from what the target holds, the store's own not believed",
            counter(load(&c.reconciled)),
        );
        reg.register(
            "convsync_transcripts_unproven",
            "Transcript reads that did not prove a conversation whole (truncated, empty, or a 4xx that does not say why): it was held open, not sealed",
            counter(load(&c.held)),
        );
        reg.register(
            "convsync_foreign_activities",
            "Activities seen in target conversations that convsync did not post (a hub's bot or agent answering replayed history), where the target was read: left alone",
            counter(load(&c.foreign)),
        );
        let degradations: Family<KindLabels, Counter> = Family::default();
        for (k, v) in c.mapping_degradations.lock().expect("mapping lock").iter() {
            degradations
                .get_or_create(&KindLabels {
                    kind: (*k).to_owned(),
                })
                .inc_by(*v);
        }
        reg.register(
            "convsync_mapping_degradations",
            "What the mapping could not carry as it was in activities delivered, by warning kind (e.g. not_a_place, action_as_postback, selection_not_carried, private_message): `convert --report` names each",
            degradations,
        );
        reg.register(
            "convsync_credential_refusals",
            "Conversation syncs that failed because an upstream refused the credential (401/403), or a hub had nobody to route a customer's message to (ENG005501): tried again, never set aside; several in a row pause the upstream",
            counter(load(&c.refusals)),
        );
        reg.register(
            "convsync_conversations_held",
            "Conversations held open now: LivePerson's answers did not prove them whole (read again when due)",
            gauge(self.store.held(&self.pipeline).map_or(0, |h| h.len()) as f64),
        );
        reg.register(
            "convsync_store_found_untrusted",
            "1 when this process found its store restored, recreated or replaced (its checkpoints are read against the target before they are believed)",
            gauge(if self.store.finding().is_some() { 1.0 } else { 0.0 }),
        );
        reg.register(
            "convsync_cycles",
            "Discovery cycles run",
            counter(load(&c.cycles)),
        );
        reg.register(
            "convsync_conversation_sync_duration_seconds",
            "How long one conversation's sync took",
            c.sync_seconds.clone(),
        );
        reg.register(
            "convsync_freshness_seconds",
            "For each message that appeared in LivePerson after the daemon caught up: the hub's acknowledgement time minus the message's LivePerson time",
            c.freshness.clone(),
        );
        reg.register(
            "convsync_poll_interval_seconds",
            "The poll interval (sync.poll_interval_secs): a cycle starts this often",
            gauge(load(&c.poll_interval_ms) as f64 / 1000.0),
        );
        reg.register(
            "convsync_poll_overruns",
            "Cycles that took longer than the poll interval (the next started at once)",
            counter(load(&c.overruns)),
        );
        reg.register(
            "convsync_checkpoint_commit_seconds",
            "How long one store commit took (durability Immediate)",
            self.store.commit_seconds.clone(),
        );
        let (_, checkpoints) = self.store.group_stats();
        reg.register(
            "convsync_checkpoints_committed",
            "Conversation checkpoints committed (those written side by side share a commit)",
            counter(checkpoints),
        );
        let st = status_of(&self.store, &self.pipeline);
        if let Some(lag) = st.lag_seconds {
            reg.register(
                "convsync_discovery_lag_seconds",
                "Seconds since the discovery watermark",
                gauge(lag),
            );
        }
        reg.register(
            "convsync_dead_letters_held",
            "Dead letters in the store",
            gauge(st.dead_letters as f64),
        );
        reg.register(
            "convsync_pending_intents",
            "Deliveries written as intents and not yet settled",
            gauge(st.pending_intents as f64),
        );
        reg.register(
            "convsync_degraded",
            "1 while failed cycles in a row hold the daemon back",
            gauge(if c.degraded().is_some() { 1.0 } else { 0.0 }),
        );
        if let Some(p) = process() {
            reg.register(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                gauge(p.rss_bytes),
            );
            reg.register(
                "process_cpu_seconds",
                "User and system CPU time spent in seconds",
                fcounter(p.cpu_seconds),
            );
            reg.register(
                "process_open_fds",
                "Open file descriptors",
                gauge(p.open_fds),
            );
            reg.register(
                "process_start_time_seconds",
                "Start time of the process since the epoch in seconds",
                gauge(p.start_time),
            );
        }
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &reg)
            .expect("writing to a String does not fail");
        out
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    upstream: String,
    endpoint: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    upstream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

/// The process's resources, from /proc (Linux).
struct ProcessStats {
    rss_bytes: f64,
    cpu_seconds: f64,
    open_fds: f64,
    start_time: f64,
}

fn process() -> Option<ProcessStats> {
    // Clock ticks per second: 100 on every Linux convsync runs on.
    const TICKS: f64 = 100.0;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces), from field 3.
    let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| -> Option<f64> { rest.get(n - 3)?.parse().ok() };
    let (utime, stime, start_ticks) = (field(14)?, field(15)?, field(22)?);
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as f64;
    Some(ProcessStats {
        rss_bytes: rss_kb * 1024.0,
        cpu_seconds: (utime + stime) / TICKS,
        open_fds,
        start_time: boot + start_ticks / TICKS,
    })
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
        pace: ["liveperson", "hubster"]
            .into_iter()
            .filter_map(|u| {
                store
                    .progress(&crate::store::progress_key::pace(u))
                    .ok()
                    .flatten()
                    .map(|l| (u.to_owned(), l))
            })
            .collect(),
        store_bytes: store.size(),
        last_prune: store
            .progress(&crate::store::progress_key::pruned(pipeline))
            .ok()
            .flatten(),
        jobs: store
            .progress_under::<crate::store::KeptJob>("job:")
            .unwrap_or_default()
            .into_iter()
            .map(|(k, j)| {
                format!(
                    "{} ({}, since {})",
                    j.describe(),
                    k.trim_start_matches("job:"),
                    crate::clock::format_ms(j.started_ms)
                )
            })
            .collect(),
        reconciled: None,
        store_found: store.last_finding().ok().flatten(),
        held: store
            .held(pipeline)
            .unwrap_or_default()
            .into_iter()
            .map(|(conversation_id, held)| HeldConversation {
                conversation_id,
                held,
            })
            .collect(),
        freshness: None,
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
