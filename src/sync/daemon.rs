//! `convsync run`: keeps the target in step with LivePerson. Each cycle
//! discovers conversations updated since the watermark (less a lookback),
//! adds the OPEN ones it knows, syncs them with bounded concurrency, then
//! moves the watermark to the cycle's start, and sleeps `poll_interval`.

use super::pipeline::{self, PipelineError, Sink, Source};
use crate::clock::now_ms;
use crate::config::Mapping;
use crate::http::Metrics;
use crate::platform::hubster::HubsterClient;
use crate::platform::liveperson::LivePersonClient;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::future::Future;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

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
            lookback_secs: 1200.0,
            concurrency: NonZeroUsize::new(8).expect("non-zero"),
            shutdown_timeout_secs: 20.0,
            retry_budget: 5,
            sink: SinkConfig::Hubster,
            metrics_listen: "127.0.0.1:9187".into(),
        }
    }
}

impl SyncConfig {
    pub fn store_path(&self) -> PathBuf {
        self.state_dir.join("convsync.redb")
    }

    /// Where a running daemon writes the address of its endpoint.
    pub fn endpoint_file(&self) -> PathBuf {
        self.state_dir.join("convsync.endpoint")
    }
}

/// Counters the daemon keeps (for STATUS, the summary and tests).
#[derive(Debug, Default)]
pub struct Counters {
    pub cycles: AtomicU64,
    pub conversations_synced: AtomicU64,
    pub activities_delivered: AtomicU64,
    pub failures: AtomicU64,
    pub dead_letters: AtomicU64,
    pub recovered: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// What [`Daemon::sync_set`] did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SetOutcome {
    /// Synced.
    pub synced: Vec<String>,
    pub delivered: u64,
    /// Failed, to be retried.
    pub failed: Vec<String>,
    /// Filed as dead letters.
    pub dead: Vec<String>,
}

/// How a run should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Until a signal.
    Stopped,
    /// After the first cycle that delivered nothing and left nothing failing.
    Idle,
}

/// Everything a run needs.
pub struct Daemon {
    pub cfg: SyncConfig,
    pub source: Arc<Source>,
    pub sink: Arc<Sink>,
    pub store: Arc<Store>,
    pub mapping: Arc<Mapping>,
    pub counters: Arc<Counters>,
    pub http: Arc<Metrics>,
}

fn notify(states: &[sd_notify::NotifyState]) {
    // Outside systemd there is no socket and this does nothing.
    let _ = sd_notify::notify(false, states);
}

impl Daemon {
    /// Opens the store and builds the clients from config.
    pub fn new(config: &crate::config::Config) -> Result<Daemon, DaemonError> {
        let cfg = config.sync.clone();
        let store = Arc::new(Store::open(&cfg.store_path())?);
        let http = Arc::new(Metrics::default());
        let source = Arc::new(Source::LivePerson(Arc::new(
            LivePersonClient::new(
                config.liveperson().map_err(DaemonError::Setup)?,
                Arc::clone(&http),
            )
            .map_err(DaemonError::Setup)?,
        )));
        let sink = match &cfg.sink {
            SinkConfig::Hubster => Sink::Hubster(Arc::new(
                HubsterClient::new(
                    config.hubster().map_err(DaemonError::Setup)?,
                    Arc::clone(&http),
                )
                .map_err(DaemonError::Setup)?,
            )),
            SinkConfig::Files(dir) => Sink::Files(dir.clone()),
        };
        Ok(Daemon {
            cfg,
            source,
            sink: Arc::new(sink),
            store,
            mapping: Arc::new(config.mapping.clone()),
            counters: Arc::new(Counters::default()),
            http,
        })
    }

    fn since_ms(&self) -> Result<i64, DaemonError> {
        match &self.cfg.since {
            None => Ok(now_ms() - 30 * 24 * 3600 * 1000),
            Some(s) => crate::clock::parse_date(s)
                .map_err(|e| DaemonError::Setup(format!("sync.since: {e}"))),
        }
    }

    /// Runs cycles until `shutdown` resolves (or, with [`Until::Idle`],
    /// until there is nothing left to do). In-flight conversations get
    /// `shutdown_timeout` to finish; a second signal is the caller's to
    /// handle (recovery makes stopping anywhere safe).
    pub async fn run(
        &self,
        until: Until,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), DaemonError> {
        let since = self.since_ms()?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop_on_signal = async {
            shutdown.await;
            tracing::info!("stopping: finishing conversations in flight");
            notify(&[sd_notify::NotifyState::Stopping]);
            let _ = stop_tx.send(true);
        };
        let work = self.cycles(until, since, stop_rx);
        tokio::pin!(work);
        tokio::select! {
            r = &mut work => return r,
            () = stop_on_signal => {}
        }
        let grace = Duration::from_secs_f64(self.cfg.shutdown_timeout_secs);
        match tokio::time::timeout(grace, work).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(?grace, "shutdown timeout: leaving the rest to recovery");
                Ok(())
            }
        }
    }

    /// Serves /metrics, /healthz and /status, and writes where to the
    /// state directory (for `convsync status`).
    async fn serve_telemetry(&self) -> Result<(), DaemonError> {
        if self.cfg.metrics_listen.is_empty() {
            return Ok(());
        }
        let listener = tokio::net::TcpListener::bind(&self.cfg.metrics_listen)
            .await
            .map_err(|e| {
                DaemonError::Setup(format!(
                    "sync.metrics_listen: cannot listen on {}: {e}",
                    self.cfg.metrics_listen
                ))
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| DaemonError::Setup(e.to_string()))?;
        let _ = std::fs::write(self.cfg.endpoint_file(), addr.to_string());
        let app = crate::telemetry::router(crate::telemetry::Telemetry {
            pipeline: self.cfg.pipeline.clone(),
            counters: Arc::clone(&self.counters),
            http: Arc::clone(&self.http),
            store: Arc::clone(&self.store),
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        tracing::info!(%addr, "metrics and health endpoint up");
        Ok(())
    }

    async fn cycles(
        &self,
        until: Until,
        since: i64,
        stop: watch::Receiver<bool>,
    ) -> Result<(), DaemonError> {
        let p = self.cfg.pipeline.clone();
        self.serve_telemetry().await?;
        // The first token proves the target's credentials before READY.
        if let Sink::Hubster(h) = self.sink.as_ref() {
            h.token(false)
                .await
                .map_err(|e| DaemonError::Setup(format!("hubster: {e}")))?;
        }
        let recovered = pipeline::recover(&p, &self.store, &self.sink).await?;
        self.counters
            .recovered
            .fetch_add(recovered, Ordering::Relaxed);
        notify(&[sd_notify::NotifyState::Ready]);
        let mut open: BTreeSet<String> = BTreeSet::new();
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let started = now_ms();
            let (delivered, failed) = self.cycle(since, &mut open, &stop).await?;
            let cycle = self.counters.cycles.fetch_add(1, Ordering::Relaxed) + 1;
            let status = format!(
                "cycle {cycle}: {} conversations synced, {} activities delivered, {} dead letters",
                self.counters.conversations_synced.load(Ordering::Relaxed),
                self.counters.activities_delivered.load(Ordering::Relaxed),
                self.counters.dead_letters.load(Ordering::Relaxed)
            );
            notify(&[
                sd_notify::NotifyState::Status(&status),
                sd_notify::NotifyState::Watchdog,
            ]);
            tracing::info!(cycle, delivered, failed, "{status}");
            if failed == 0 && !*stop.borrow() {
                // Never past the start of the cycle that read up to here.
                let (store, p) = (Arc::clone(&self.store), p.clone());
                tokio::task::spawn_blocking(move || store.set_watermark(&p, started))
                    .await
                    .expect("no panic")?;
            }
            if until == Until::Idle && delivered == 0 && failed == 0 {
                return Ok(());
            }
            let mut stop = stop.clone();
            let nap = Duration::from_secs_f64(self.cfg.poll_interval_secs);
            tokio::select! {
                _ = tokio::time::sleep(if delivered > 0 { Duration::ZERO } else { nap }) => {}
                _ = stop.wait_for(|s| *s) => return Ok(()),
            }
        }
    }

    /// One discovery and sync pass. Returns (activities delivered, failures).
    async fn cycle(
        &self,
        since: i64,
        open: &mut BTreeSet<String>,
        stop: &watch::Receiver<bool>,
    ) -> Result<(u64, u64), DaemonError> {
        let p = self.cfg.pipeline.clone();
        let store = Arc::clone(&self.store);
        let watermark = tokio::task::spawn_blocking(move || store.watermark(&p))
            .await
            .expect("no panic")?;
        let lookback = (self.cfg.lookback_secs * 1000.0) as i64;
        let updated_since = watermark.map(|w| w - lookback);
        let Some(lp) = self.source.liveperson() else {
            return Err(DaemonError::Setup(
                "the daemon reads from the LivePerson API".into(),
            ));
        };
        let found = match lp.discover(since, now_ms(), updated_since).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "discovery failed; trying again next cycle");
                return Ok((0, 1));
            }
        };
        let dead = self.dead_letter_ids().await?;
        let mut todo: BTreeSet<String> = open.clone();
        for c in &found {
            if c.status.as_deref() == Some("OPEN") {
                open.insert(c.conversation_id.clone());
            } else {
                open.remove(&c.conversation_id);
            }
            todo.insert(c.conversation_id.clone());
        }
        // Dead letters wait for `convsync dead-letters retry`.
        todo.retain(|id| !dead.contains(id));
        let done = self.sync_set(todo.into_iter().collect(), stop).await?;
        for id in &done.dead {
            open.remove(id);
        }
        Ok((done.delivered, done.failed.len() as u64))
    }

    /// Syncs these conversations, `concurrency` at a time, until done or
    /// `stop`. A failing one is retried on a later pass (or run) and filed
    /// as a dead letter when hopeless or out of retries.
    pub async fn sync_set(
        &self,
        ids: Vec<String>,
        stop: &watch::Receiver<bool>,
    ) -> Result<SetOutcome, DaemonError> {
        self.sync_set_observed(ids, stop, &mut |_| {}).await
    }

    /// As [`sync_set`](Self::sync_set), telling `each` the outcome so far
    /// after every conversation (for progress displays).
    pub async fn sync_set_observed(
        &self,
        ids: Vec<String>,
        stop: &watch::Receiver<bool>,
        each: &mut dyn FnMut(&SetOutcome),
    ) -> Result<SetOutcome, DaemonError> {
        let mut out = SetOutcome::default();
        let mut tasks = tokio::task::JoinSet::new();
        let mut queue = ids.into_iter();
        loop {
            while tasks.len() < self.cfg.concurrency.get() && !*stop.borrow() {
                let Some(id) = queue.next() else { break };
                let (source, sink, store, mapping) = (
                    Arc::clone(&self.source),
                    Arc::clone(&self.sink),
                    Arc::clone(&self.store),
                    Arc::clone(&self.mapping),
                );
                let p = self.cfg.pipeline.clone();
                tasks.spawn(async move {
                    let r = pipeline::sync_conversation(&p, &id, &source, &sink, &store, &mapping)
                        .await;
                    (id, r)
                });
            }
            let Some(done) = tasks.join_next().await else {
                break;
            };
            let (id, result) = done.expect("pipeline tasks do not panic");
            match result {
                Ok(o) => {
                    // Progress: the watchdog may be fed.
                    notify(&[sd_notify::NotifyState::Watchdog]);
                    out.delivered += o.delivered;
                    out.synced.push(id);
                    self.counters
                        .conversations_synced
                        .fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .activities_delivered
                        .fetch_add(o.delivered, Ordering::Relaxed);
                }
                Err(PipelineError::Store(e)) => return Err(e.into()),
                Err(e) => {
                    self.counters.failures.fetch_add(1, Ordering::Relaxed);
                    if self.give_up(&id, &e).await? {
                        out.dead.push(id);
                    } else {
                        out.failed.push(id);
                    }
                }
            }
            each(&out);
        }
        Ok(out)
    }

    /// This pipeline's dead letters.
    pub async fn dead_letter_ids(&self) -> Result<BTreeSet<String>, DaemonError> {
        let p = self.cfg.pipeline.clone();
        Ok(pipeline::blocking(&self.store, move |s| s.dead_letter_ids(&p)).await?)
    }

    /// Files a dead letter once a conversation is hopeless or out of
    /// retries. Whether it did.
    async fn give_up(&self, id: &str, e: &PipelineError) -> Result<bool, DaemonError> {
        let p = self.cfg.pipeline.clone();
        let store = Arc::clone(&self.store);
        let (id2, class, message, budget) = (
            id.to_owned(),
            e.class().to_owned(),
            e.to_string(),
            self.cfg.retry_budget,
        );
        let retryable = e.is_retryable();
        let dead = tokio::task::spawn_blocking(move || -> Result<bool, StoreError> {
            let mut st = store.conversation(&p, &id2)?.unwrap_or_default();
            st.attempts += 1;
            st.last_error = Some(message.clone());
            let dead = !retryable || st.attempts >= budget;
            store.checkpoint(&p, &id2, &st, &[])?;
            if dead {
                store.dead_letter(&p, &id2, &class, &message, now_ms())?;
            }
            Ok(dead)
        })
        .await
        .expect("no panic")?;
        if dead {
            self.counters.dead_letters.fetch_add(1, Ordering::Relaxed);
            tracing::error!(conversation = id, error = %e, "dead letter");
        } else {
            tracing::warn!(conversation = id, error = %e, "sync failed; retrying next cycle");
        }
        Ok(dead)
    }
}
