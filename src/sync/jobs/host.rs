//! The running daemon's jobs: those commands hand it (over the control
//! socket) and those an earlier process left. Each is kept in the store
//! while it runs, so that a daemon killed during it resumes it when it
//! starts again; it runs beside live sync, after the daemon has recovered
//! its pipeline.

use super::{Context, Job, JobEnd, JobEvent, Kind, run};
use crate::config::Config;
use crate::http::pace::{LANE, Lane};
use crate::store::{KeptJob, StoreError, progress_key};
use crate::sync::daemon::Daemon;
use crate::sync::deps::blocking;
use crate::telemetry::Counters;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{mpsc, watch};

/// What the host tells whoever handed it a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// How it goes, with the 429s the daemon's clients got (and the seconds
    /// they waited) since the job started.
    Event {
        event: JobEvent,
        rate_limited: u64,
        wait_seconds: f64,
    },
    /// How it ended (the last update).
    End(Result<JobEnd, (Kind, String)>),
    /// The daemon is stopping: it resumes the job when it starts again
    /// (the last update).
    Stopping,
}

/// Runs jobs for the daemon.
pub struct JobHost {
    ctx: Context,
    /// The daemon's: jobs wait until it has recovered its pipeline.
    daemon: Arc<Counters>,
    shutdown: watch::Receiver<bool>,
    running: AtomicUsize,
    ended: tokio::sync::Notify,
}

/// A new job's id: when it came, and a count (unique in this store: one
/// daemon holds it).
fn job_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{}-{}",
        crate::clock::now_ms(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl JobHost {
    /// The host of `daemon` (built from `config`), stopping its jobs when
    /// `shutdown` turns true.
    pub fn of(daemon: &Daemon, config: &Config, shutdown: watch::Receiver<bool>) -> Arc<JobHost> {
        Arc::new(JobHost {
            ctx: Context::hosted(daemon, config),
            daemon: Arc::clone(&daemon.deps.counters),
            shutdown,
            running: AtomicUsize::new(0),
            ended: tokio::sync::Notify::new(),
        })
    }

    /// Resumes the jobs an earlier process left unfinished.
    pub async fn resume(self: &Arc<Self>) {
        let kept = blocking(&self.ctx.store, |s| s.progress_under::<KeptJob>("job:"))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot read the jobs kept in the store");
                Vec::new()
            });
        for (key, k) in kept {
            let id = key.trim_start_matches("job:").to_owned();
            let job: Job = match serde_json::from_value(k.job) {
                Ok(j) => j,
                Err(e) => {
                    tracing::error!(job = %id, error = %e, "a kept job this version cannot read: left in the store");
                    continue;
                }
            };
            tracing::info!(job = %id, "resuming {}", job.describe());
            // Nobody can cancel it (but the daemon stopping stops it), and
            // nobody follows it: its end is logged.
            let (tx, mut rx) = mpsc::unbounded_channel();
            let (cancel, cancel_rx) = watch::channel(false);
            self.start(id, job, cancel_rx, tx, cancel);
            tokio::spawn(async move { while rx.recv().await.is_some() {} });
        }
    }

    /// Takes `job`: keeps it in the store, then runs it. Its updates come
    /// on the receiver returned (with its id); `cancel` turning true stops
    /// it after the conversations in flight.
    pub async fn take(
        self: &Arc<Self>,
        job: Job,
        cancel: watch::Receiver<bool>,
    ) -> Result<(String, mpsc::UnboundedReceiver<Update>), StoreError> {
        let id = job_id();
        let kept = KeptJob {
            job: serde_json::to_value(&job).expect("jobs serialize"),
            started_ms: crate::clock::now_ms(),
            described: job.describe(),
        };
        let key = progress_key::job(&id);
        blocking(&self.ctx.store, move |s| s.set_progress(&key, &kept)).await?;
        tracing::info!(job = %id, "{} handed over", job.describe());
        let (tx, rx) = mpsc::unbounded_channel();
        self.start(id.clone(), job, cancel, tx, ());
        Ok((id, rx))
    }

    /// Waits until no job runs.
    pub async fn idle(&self) {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            ended.await;
        }
    }

    /// Runs a kept job in a task of its own (its requests in the jobs'
    /// lane); `keep` lives as long as it runs.
    fn start<K: Send + 'static>(
        self: &Arc<Self>,
        id: String,
        job: Job,
        cancel: watch::Receiver<bool>,
        tx: mpsc::UnboundedSender<Update>,
        keep: K,
    ) {
        let host = Arc::clone(self);
        self.running.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(LANE.scope(Lane::Job, async move {
            host.run_kept(id, job, cancel, tx).await;
            drop(keep);
        }));
    }

    /// The daemon's 429s and waits so far.
    fn waits(&self) -> (u64, f64) {
        let m = self.ctx.http.snapshot();
        (m.rate_limited.values().sum(), m.wait_seconds.values().sum())
    }

    /// Runs a kept job to its end and forgets it, unless the daemon is
    /// stopping (then it stays kept, for the next start).
    async fn run_kept(
        self: Arc<Self>,
        id: String,
        job: Job,
        cancel: watch::Receiver<bool>,
        tx: mpsc::UnboundedSender<Update>,
    ) {
        // Stops on a cancel or when the daemon stops.
        let (stop_tx, stop) = watch::channel(false);
        let (mut c, mut s) = (cancel.clone(), self.shutdown.clone());
        let stopper = tokio::spawn(async move {
            tokio::select! {
                _ = c.wait_for(|v| *v) => {}
                _ = s.wait_for(|v| *v) => {}
            }
            let _ = stop_tx.send(true);
        });
        // Not before the daemon has recovered its pipeline.
        let mut stopped = stop.clone();
        tokio::select! {
            () = self.daemon.until_ready() => {}
            _ = stopped.wait_for(|v| *v) => {}
        }
        let (r0, w0) = self.waits();
        let mut on = |event: JobEvent| {
            let (r, w) = self.waits();
            let _ = tx.send(Update::Event {
                event,
                rate_limited: r.saturating_sub(r0),
                wait_seconds: (w - w0).max(0.0),
            });
        };
        let end = run(&self.ctx, &job, stop, &mut on)
            .await
            .map_err(|e| (e.kind(), e.to_string()));
        stopper.abort();
        let stopping = *self.shutdown.borrow() && !*cancel.borrow();
        if stopping {
            tracing::info!(job = %id, "daemon stopping: the job resumes at the next start");
            let _ = tx.send(Update::Stopping);
        } else {
            let key = progress_key::job(&id);
            if let Err(e) = blocking(&self.ctx.store, move |s| s.remove_progress(&key)).await {
                tracing::error!(job = %id, error = %e, "cannot forget the finished job");
            }
            match &end {
                Err((_, message)) => {
                    tracing::error!(job = %id, "{} failed: {message}", job.describe())
                }
                Ok(_) => tracing::info!(job = %id, "{} ended", job.describe()),
            }
            let _ = tx.send(Update::End(end));
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.ended.notify_waiters();
    }
}
