//! `run`: the daemon with its endpoint and its control socket; `status`:
//! what it has done; `prune`: retention now, as a job.

use super::Error;
use super::store::{self, Held};
use crate::config::Config;
use crate::http::Metrics;
use crate::store::Pruned;
pub use crate::sync::daemon::Until;
use crate::sync::daemon::{Daemon, RunEnd};
use crate::sync::jobs::Job;
use crate::sync::jobs::host::JobHost;
use crate::telemetry::{self, Status, Telemetry};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How far a run has come: conversations its cycles set out to sync and
/// those that ended, activities delivered, dead letters, and the clients'
/// request counts (429s honoured, time waited).
pub struct RunProgress<'a> {
    pub to_sync: u64,
    pub settled: u64,
    pub delivered: u64,
    pub dead_letters: u64,
    pub http: &'a Arc<Metrics>,
}

/// Opens the store and builds the daemon of `config`.
pub fn open(config: &Config) -> Result<Daemon, Error> {
    let store = store::open(&config.sync, "")?;
    Ok(Daemon::new(config, store, Arc::new(Metrics::default()))?)
}

/// Serves the daemon's /metrics, /healthz and /status (unless
/// `sync.metrics_listen` is "").
pub async fn serve_endpoint(daemon: &Daemon) -> Result<(), Error> {
    if daemon.cfg.metrics_listen.is_empty() {
        return Ok(());
    }
    telemetry::serve(
        &daemon.cfg.metrics_listen,
        &daemon.cfg.endpoint_file(),
        Telemetry {
            pipeline: daemon.cfg.pipeline.clone(),
            counters: Arc::clone(&daemon.deps.counters),
            http: Arc::clone(&daemon.deps.http),
            store: Arc::clone(&daemon.deps.store),
        },
    )
    .await?;
    Ok(())
}

/// Runs the daemon of `config` until `shutdown` (or, with [`Until::Idle`],
/// until caught up).
/// `each` is told how far the run has come about once a second.
pub async fn run(
    config: &Config,
    until: Until,
    shutdown: impl Future<Output = ()>,
    each: &mut dyn FnMut(&RunProgress),
) -> Result<RunEnd, Error> {
    let daemon = open(config)?;
    serve_endpoint(&daemon).await?;
    // Jobs handed over the control socket run beside live sync, and stop
    // when it does.
    let (stopping, stop_rx) = tokio::sync::watch::channel(false);
    let jobs = JobHost::of(&daemon, config, stop_rx);
    jobs.resume().await;
    let socket = crate::control::serve(config.sync.control_socket(), Arc::clone(&jobs)).await?;
    let shutdown = async move {
        shutdown.await;
        let _ = stopping.send(true);
    };
    let (counters, http) = (
        Arc::clone(&daemon.deps.counters),
        Arc::clone(&daemon.deps.http),
    );
    let tell = |each: &mut dyn FnMut(&RunProgress)| {
        use std::sync::atomic::Ordering::Relaxed;
        each(&RunProgress {
            to_sync: counters.todo.load(Relaxed),
            settled: counters.settled.load(Relaxed),
            delivered: counters.activities_delivered.load(Relaxed),
            dead_letters: counters.dead_letters.load(Relaxed),
            http: &http,
        })
    };
    let run = daemon.run(until, shutdown);
    tokio::pin!(run);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let r = loop {
        tokio::select! {
            r = &mut run => break r,
            _ = tick.tick() => tell(&mut *each),
        }
    };
    tell(&mut *each);
    if r.is_ok() && until == Until::Idle {
        // Caught up means the jobs too.
        jobs.idle().await;
    }
    let _ = std::fs::remove_file(&socket);
    Ok(r?)
}

/// Applies retention to the store now (or as of `as_of`, a date
/// argument), as the daemon does at start and hourly: a job, which the
/// running daemon runs when it holds the store. What each pipeline lost.
pub async fn prune(config: &Config, as_of: Option<&str>) -> Result<Vec<Pruned>, Error> {
    let as_of_ms = match as_of {
        Some(d) => super::date_arg("--as-of", d)?,
        None => crate::clock::now_ms(),
    };
    let runner = super::jobs::Runner::decide(&config.sync, false)?;
    // (Quick: nothing cancels it.)
    let (_keep, never) = tokio::sync::watch::channel(false);
    match runner
        .run(config, Job::Prune { as_of_ms }, never, &mut |_| {})
        .await?
    {
        super::jobs::Finish::Done(end) => {
            Ok(serde_json::from_value(end.summary).expect("a prune's summary is its results"))
        }
        super::jobs::Finish::Resumes => Ok(Vec::new()),
    }
}

/// The daemon's state: from the store, or from the running daemon that
/// holds it.
pub async fn status(config: &Config) -> Result<Status, Error> {
    match store::open_or_daemon(&config.sync)? {
        Held::Here(store) => Ok(telemetry::status_of(&store, &config.sync.pipeline)),
        Held::Daemon { endpoint } => ask(&format!("http://{endpoint}/status"))
            .await
            .map_err(Error::Endpoint),
    }
}

/// One GET of the daemon's own endpoint on this machine (loopback, no
/// quota to keep: it is ours).
async fn ask<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, reqwest::Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .build()?;
    client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
}
