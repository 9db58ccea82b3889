//! The running daemon's control socket: `<state_dir>/convsync.sock`, a Unix
//! socket of mode 0600 (only the service user and root may use it; the
//! metrics port stays read-only). A command that finds the store held by
//! the daemon hands its job (a backfill, a migration, a dead-letter retry
//! or drop) to it there; the daemon runs it beside live sync, with the
//! same clients (one quota per upstream, live sync keeping
//! `sync.live_share` of it), the same store and the same checkpoints, and
//! streams its progress back.
//!
//! The protocol is JSON lines. The command sends [`Ask::Run`]; the daemon
//! answers [`Reply::Accepted`], then progress, then one of
//! [`Reply::Done`], [`Reply::Failed`] or [`Reply::Stopping`]. The command
//! may send [`Ask::Cancel`] (Ctrl-C); a command that goes away cancels its
//! job too. A job is kept in the store while it runs: a daemon killed
//! during it resumes it when it starts again.

use crate::config::Config;
use crate::http::Metrics;
use crate::http::pace::{LANE, Lane};
use crate::store::{Store, progress_key};
use crate::sync::backfill::{self, Event, Request};
use crate::sync::daemon::Daemon;
use crate::sync::deps::{Claims, Deps, Settings, blocking};
use crate::sync::migrate::{self, Migration};
use crate::sync::pipeline::{LpWork, Route, Sink, Source};
use crate::sync::runner::Work;
use crate::telemetry::Counters;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};

/// A job for the daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Job {
    /// `convsync backfill`, its arguments read by the command.
    Backfill {
        pipeline: Option<String>,
        request: Request,
    },
    /// `convsync migrate NAME` (a run; dry runs and verifies read only and
    /// run in the command).
    Migrate { name: String },
    /// `convsync dead-letters retry|drop`.
    DeadLetters {
        pipeline: Option<String>,
        retry: bool,
        conversation_ids: Vec<String>,
    },
}

impl Job {
    /// In words, for logs and `status`.
    pub fn describe(&self) -> String {
        match self {
            Job::Backfill { pipeline, request } => format!(
                "backfill of {}{}",
                match &request.ids {
                    Some(ids) => format!("{} listed conversations", ids.len()),
                    None => format!(
                        "conversations started {} to {}",
                        crate::clock::format_ms(request.since_ms),
                        if request.until_given {
                            crate::clock::format_ms(request.until_ms)
                        } else {
                            "now".into()
                        }
                    ),
                },
                pipeline
                    .as_ref()
                    .map_or(String::new(), |p| format!(" (pipeline {p})"))
            ),
            Job::Migrate { name } => format!("migration {name}"),
            Job::DeadLetters {
                retry,
                conversation_ids,
                ..
            } => format!(
                "dead letters: {} {} conversation(s)",
                if *retry { "retry" } else { "drop" },
                conversation_ids.len()
            ),
        }
    }
}

/// A job kept in the store while it runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kept {
    pub job: Job,
    pub started_ms: i64,
}

/// What a command sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Ask {
    Run { job: Job },
    Cancel,
}

/// What the daemon answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Reply {
    Accepted {
        id: String,
    },
    /// Progress, with the 429s the daemon's clients got (and the seconds
    /// they waited) since the job started.
    Progress {
        event: Event,
        rate_limited: u64,
        wait_seconds: f64,
    },
    /// One conversation of a dead-letter job: what a retry wrote, or why
    /// not; a drop: `error` if it was no dead letter.
    Item {
        conversation_id: String,
        written: Option<u64>,
        error: Option<String>,
    },
    Done {
        summary: serde_json::Value,
        note: Option<String>,
        interrupted: bool,
        failed: u64,
        dead_letters: u64,
    },
    Failed {
        message: String,
        usage: bool,
    },
    /// The daemon is stopping: it resumes the job when it starts again.
    Stopping,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: not a socket: the daemon's control socket is not what is there; refusing to use it",
        path.display()
    )]
    NotSocket { path: PathBuf },
    #[error(
        "{}: mode {mode:04o}: other users could use the daemon's control socket; refusing to use it (it must be 0600)",
        path.display()
    )]
    Mode { path: PathBuf, mode: u32 },
    #[error(
        "{}: owned by uid {owner}, neither this user (uid {uid}) nor root: refusing to use it",
        path.display()
    )]
    Owner { path: PathBuf, owner: u32, uid: u32 },
    #[error("the daemon at {}: {reason}", path.display())]
    Protocol { path: PathBuf, reason: String },
    #[error(
        "the daemon at {} went away during the job: when it starts again it resumes the job",
        path.display()
    )]
    Gone { path: PathBuf },
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

/// This process's effective uid (the owner of `/proc/self`).
pub fn own_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// Checks the control socket before using it: a socket, of mode 0600 or
/// stricter, owned by this user or root.
pub fn check_socket(path: &Path) -> Result<(), ControlError> {
    let meta = std::fs::symlink_metadata(path).map_err(|source| ControlError::Io {
        path: path.to_owned(),
        source,
    })?;
    if !meta.file_type().is_socket() {
        return Err(ControlError::NotSocket {
            path: path.to_owned(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(ControlError::Mode {
            path: path.to_owned(),
            mode,
        });
    }
    let uid = own_uid();
    if meta.uid() != uid && meta.uid() != 0 {
        return Err(ControlError::Owner {
            path: path.to_owned(),
            owner: meta.uid(),
            uid,
        });
    }
    Ok(())
}

/// Hands `job` to the daemon at `path` and follows it: `on` gets every
/// reply but the last, which is returned. `cancel` turning true asks the
/// daemon to stop the job.
pub async fn submit(
    path: &Path,
    job: Job,
    mut cancel: watch::Receiver<bool>,
    on: &mut dyn FnMut(Reply),
) -> Result<Reply, ControlError> {
    check_socket(path)?;
    let io = |source| ControlError::Io {
        path: path.to_owned(),
        source,
    };
    let stream = UnixStream::connect(path).await.map_err(io)?;
    let (r, mut w) = stream.into_split();
    let mut line = serde_json::to_vec(&Ask::Run { job }).expect("asks serialize");
    line.push(b'\n');
    w.write_all(&line).await.map_err(io)?;
    let mut lines = BufReader::new(r).lines();
    let mut cancelled = false;
    loop {
        tokio::select! {
            l = lines.next_line() => {
                let Some(l) = l.map_err(io)? else {
                    return Err(ControlError::Gone { path: path.to_owned() });
                };
                let reply: Reply = serde_json::from_str(&l).map_err(|e| ControlError::Protocol {
                    path: path.to_owned(),
                    reason: format!("unreadable answer {l:?}: {e}"),
                })?;
                match reply {
                    Reply::Done { .. } | Reply::Failed { .. } | Reply::Stopping => return Ok(reply),
                    r => on(r),
                }
            }
            c = cancel.changed(), if !cancelled => {
                if c.is_err() || *cancel.borrow() {
                    cancelled = true;
                    let mut line = serde_json::to_vec(&Ask::Cancel).expect("asks serialize");
                    line.push(b'\n');
                    w.write_all(&line).await.map_err(io)?;
                }
            }
        }
    }
}

/// Runs jobs for the daemon: its store, clients and checkpoints.
pub struct JobHost {
    config: Config,
    store: Arc<Store>,
    http: Arc<Metrics>,
    mapping: Arc<crate::format::Mapping>,
    route: Route,
    claims: Arc<Claims>,
    daemon: Arc<Counters>,
    shutdown: watch::Receiver<bool>,
    running: AtomicUsize,
    ended: tokio::sync::Notify,
}

impl JobHost {
    /// The host of `daemon` (built from `config`), stopping its jobs when
    /// `shutdown` turns true.
    pub fn of(daemon: &Daemon, config: &Config, shutdown: watch::Receiver<bool>) -> Arc<JobHost> {
        Arc::new(JobHost {
            config: config.clone(),
            store: Arc::clone(&daemon.deps.store),
            http: Arc::clone(&daemon.deps.http),
            mapping: Arc::clone(&daemon.deps.mapping),
            route: daemon.route.clone(),
            claims: Arc::clone(&daemon.deps.claims),
            daemon: Arc::clone(&daemon.deps.counters),
            shutdown,
            running: AtomicUsize::new(0),
            ended: tokio::sync::Notify::new(),
        })
    }

    /// Binds the control socket (mode 0600), resumes the jobs an earlier
    /// process left unfinished, and serves commands until the process ends.
    pub async fn start(self: &Arc<Self>) -> Result<PathBuf, ControlError> {
        let path = self.config.sync.control_socket();
        let io = |source| ControlError::Io {
            path: path.clone(),
            source,
        };
        // This process holds the store: a socket left there is stale.
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
        let listener = UnixListener::bind(&path).map_err(io)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        let kept = blocking(&self.store, |s| s.progress_under::<Kept>("job:"))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot read the jobs kept in the store");
                Vec::new()
            });
        for (key, k) in kept {
            let id = key.trim_start_matches("job:").to_owned();
            tracing::info!(job = %id, "resuming {}", k.job.describe());
            let (tx, mut rx) = mpsc::unbounded_channel();
            // Nobody can cancel it (but the daemon stopping stops it).
            let (cancel, cancel_rx) = watch::channel(false);
            let host = Arc::clone(self);
            self.running.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(LANE.scope(Lane::Job, async move {
                host.run_kept(id, k.job, cancel_rx, tx).await;
                drop(cancel);
            }));
            // Nobody follows a resumed job: its end is logged.
            tokio::spawn(async move { while rx.recv().await.is_some() {} });
        }
        let host = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let h = Arc::clone(&host);
                        tokio::spawn(async move { h.serve_one(stream).await });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "control socket: accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            }
        });
        tracing::info!(socket = %path.display(), "control socket ready");
        Ok(path)
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

    async fn serve_one(self: Arc<Self>, stream: UnixStream) {
        let uid = own_uid();
        let peer = stream.peer_cred().map(|c| c.uid());
        let (r, mut w) = stream.into_split();
        let send = |reply: &Reply| {
            let mut line = serde_json::to_vec(reply).expect("replies serialize");
            line.push(b'\n');
            line
        };
        match peer {
            Ok(p) if p == uid || p == 0 => {}
            other => {
                tracing::warn!(peer = ?other, "control socket: refused a connection from another user");
                let _ = w
                    .write_all(&send(&Reply::Failed {
                        message: format!(
                            "only uid {uid} (the daemon's user) and root may hand jobs to this daemon"
                        ),
                        usage: false,
                    }))
                    .await;
                return;
            }
        }
        let mut lines = BufReader::new(r).lines();
        let job = match lines.next_line().await {
            Ok(Some(l)) => match serde_json::from_str::<Ask>(&l) {
                Ok(Ask::Run { job }) => job,
                Ok(Ask::Cancel) => return,
                Err(e) => {
                    let _ = w
                        .write_all(&send(&Reply::Failed {
                            message: format!("unreadable request: {e}"),
                            usage: true,
                        }))
                        .await;
                    return;
                }
            },
            _ => return,
        };
        let id = job_id();
        let kept = Kept {
            job: job.clone(),
            started_ms: crate::clock::now_ms(),
        };
        let key = progress_key::job(&id);
        if let Err(e) = blocking(&self.store, move |s| s.set_progress(&key, &kept)).await {
            let _ = w
                .write_all(&send(&Reply::Failed {
                    message: format!("cannot keep the job: {e}"),
                    usage: false,
                }))
                .await;
            return;
        }
        tracing::info!(job = %id, "{} handed over", job.describe());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let _ = tx.send(Reply::Accepted { id: id.clone() });
        let host = Arc::clone(&self);
        self.running.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(LANE.scope(Lane::Job, async move {
            host.run_kept(id, job, cancel_rx, tx).await;
        }));
        let mut gone = false;
        loop {
            tokio::select! {
                reply = rx.recv() => {
                    let Some(reply) = reply else { break };
                    if !gone && w.write_all(&send(&reply)).await.is_err() {
                        gone = true;
                        let _ = cancel_tx.send(true);
                    }
                }
                l = lines.next_line(), if !gone => match l {
                    Ok(Some(l)) => {
                        if matches!(serde_json::from_str::<Ask>(&l), Ok(Ask::Cancel)) {
                            tracing::info!("job cancelled by its command");
                            let _ = cancel_tx.send(true);
                        }
                    }
                    // The command went away: nobody wants the job any more.
                    _ => {
                        gone = true;
                        let _ = cancel_tx.send(true);
                    }
                },
            }
        }
    }

    /// Runs a kept job to its end and forgets it, unless the daemon is
    /// stopping (then it stays kept, for the next start).
    async fn run_kept(
        self: Arc<Self>,
        id: String,
        job: Job,
        cancel: watch::Receiver<bool>,
        tx: mpsc::UnboundedSender<Reply>,
    ) {
        // Stops on a cancel or when the daemon stops.
        let (stop_tx, stop_rx) = watch::channel(false);
        let (mut c, mut s) = (cancel.clone(), self.shutdown.clone());
        let stopper = tokio::spawn(async move {
            tokio::select! {
                _ = c.wait_for(|v| *v) => {}
                _ = s.wait_for(|v| *v) => {}
            }
            let _ = stop_tx.send(true);
        });
        let reply = match self.run(&job, stop_rx, &tx).await {
            Ok(r) => r,
            Err(e) => Reply::Failed {
                message: e.to_string(),
                usage: e.kind() == crate::ops::Kind::Usage,
            },
        };
        stopper.abort();
        let stopping = *self.shutdown.borrow() && !*cancel.borrow();
        if stopping {
            tracing::info!(job = %id, "daemon stopping: the job resumes at the next start");
            let _ = tx.send(Reply::Stopping);
        } else {
            let key = progress_key::job(&id);
            if let Err(e) = blocking(&self.store, move |s| s.remove_progress(&key)).await {
                tracing::error!(job = %id, error = %e, "cannot forget the finished job");
            }
            match &reply {
                Reply::Failed { message, .. } => {
                    tracing::error!(job = %id, "{} failed: {message}", job.describe())
                }
                _ => tracing::info!(job = %id, "{} ended", job.describe()),
            }
            let _ = tx.send(reply);
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.ended.notify_waiters();
    }

    fn deps(&self, pipeline: &str) -> Deps {
        Deps {
            settings: Settings::from_sync(&self.config.sync, pipeline),
            store: Arc::clone(&self.store),
            mapping: Arc::clone(&self.mapping),
            counters: Arc::new(Counters::default()),
            http: Arc::clone(&self.http),
            claims: Arc::clone(&self.claims),
        }
    }

    fn shared(&self) -> migrate::Shared {
        migrate::Shared {
            liveperson: match self.route.source.as_ref() {
                Source::LivePerson(c) => Some(Arc::clone(c)),
                _ => None,
            },
            hubster: match self.route.sink.as_ref() {
                Sink::Hubster(h) => Some(Arc::clone(h)),
                _ => None,
            },
            http: Some(Arc::clone(&self.http)),
            claims: Some(Arc::clone(&self.claims)),
        }
    }

    /// The daemon's 429s and waits so far.
    fn waits(&self) -> (u64, f64) {
        let m = self.http.snapshot();
        (m.rate_limited.values().sum(), m.wait_seconds.values().sum())
    }

    async fn run(
        &self,
        job: &Job,
        stop: watch::Receiver<bool>,
        tx: &mpsc::UnboundedSender<Reply>,
    ) -> Result<Reply, crate::ops::Error> {
        // Not before the daemon has recovered its pipeline.
        while !self.daemon.ready.load(Ordering::SeqCst) {
            if *stop.borrow() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (r0, w0) = self.waits();
        let mut on = |event: Event| {
            let (r, w) = self.waits();
            let _ = tx.send(Reply::Progress {
                event,
                rate_limited: r.saturating_sub(r0),
                wait_seconds: (w - w0).max(0.0),
            });
        };
        match job {
            Job::Backfill { pipeline, request } => {
                let p = pipeline.as_deref().unwrap_or(&self.config.sync.pipeline);
                let deps = self.deps(p);
                let s = backfill::run(&deps, &self.route, request, stop, &mut on)
                    .await
                    .map_err(crate::ops::Error::from)?;
                Ok(Reply::Done {
                    summary: serde_json::to_value(&s).expect("summaries serialize"),
                    note: None,
                    interrupted: s.interrupted,
                    failed: s.failed,
                    dead_letters: s.dead_letters,
                })
            }
            Job::Migrate { name } => {
                let m = Migration::with(&self.config, name, self.shared())
                    .map_err(|e| crate::ops::Error::MigrationConfig(Box::new(e)))?;
                let (s, state) = crate::ops::migrate::run(&m, &self.store, stop, &mut on).await?;
                Ok(Reply::Done {
                    summary: serde_json::to_value(&s).expect("summaries serialize"),
                    note: state.map(|st| format!("migration {name}: {}", st.describe())),
                    interrupted: s.interrupted,
                    failed: s.failed,
                    dead_letters: s.dead_letters,
                })
            }
            Job::DeadLetters {
                pipeline,
                retry,
                conversation_ids,
            } => {
                self.dead_letters(pipeline.as_deref(), *retry, conversation_ids, stop, tx)
                    .await
            }
        }
    }

    async fn dead_letters(
        &self,
        pipeline: Option<&str>,
        retry: bool,
        ids: &[String],
        stop: watch::Receiver<bool>,
        tx: &mpsc::UnboundedSender<Reply>,
    ) -> Result<Reply, crate::ops::Error> {
        let item = |id: &str, written: Option<u64>, error: Option<String>| {
            let _ = tx.send(Reply::Item {
                conversation_id: id.to_owned(),
                written,
                error,
            });
        };
        // A migration's name stands for its pipeline.
        let migration = pipeline.and_then(|p| {
            self.config
                .migrations
                .iter()
                .find(|m| m.name == p || m.pipeline() == p)
                .cloned()
        });
        let p = match (&migration, pipeline) {
            (Some(m), _) => m.pipeline().to_owned(),
            (None, Some(p)) => p.to_owned(),
            (None, None) => self.config.sync.pipeline.clone(),
        };
        let mut failed = 0u64;
        if !retry {
            for id in ids {
                let (pp, i) = (p.clone(), id.clone());
                let was = blocking(&self.store, move |s| s.remove_dead_letter(&pp, &i)).await?;
                item(
                    id,
                    None,
                    (!was).then(|| format!("{id} is not a dead letter")),
                );
            }
        } else if let Some(m) = migration.filter(|m| m.pipeline() != self.config.sync.pipeline) {
            let m = Migration::with(&self.config, &m.name, self.shared())
                .map_err(|e| crate::ops::Error::MigrationConfig(Box::new(e)))?;
            let mut done = Vec::new();
            let mut one = |id: &str, r: Result<u64, migrate::MigrateError>| match r {
                Ok(n) => done.push((id.to_owned(), n)),
                Err(e) => {
                    failed += 1;
                    item(id, None, Some(e.to_string()));
                }
            };
            m.retry(&self.store, ids, &mut one).await?;
            for (id, n) in done {
                let (pp, i) = (p.clone(), id.clone());
                blocking(&self.store, move |s| s.remove_dead_letter(&pp, &i)).await?;
                item(&id, Some(n), None);
            }
        } else {
            let deps = self.deps(&p);
            let work = LpWork::new(&deps, &self.route);
            for id in ids {
                if *stop.borrow() {
                    break;
                }
                let _claim = self.claims.claim(format!("{p}\u{1f}{id}")).await;
                match work.sync(id).await {
                    Ok(n) => {
                        let (pp, i) = (p.clone(), id.clone());
                        blocking(&self.store, move |s| s.remove_dead_letter(&pp, &i)).await?;
                        item(id, Some(n), None);
                    }
                    Err(e) => {
                        failed += 1;
                        item(
                            id,
                            None,
                            Some(crate::sync::daemon::DaemonError::from(e).to_string()),
                        );
                    }
                }
            }
        }
        Ok(Reply::Done {
            summary: serde_json::json!({ "still_failing": failed }),
            note: None,
            interrupted: *stop.borrow(),
            failed,
            dead_letters: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_others_could_use_or_someone_else_owns_is_refused_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let path = dir.join("convsync.sock");
        let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        check_socket(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = check_socket(&path).unwrap_err().to_string();
        assert!(
            e.contains("convsync.sock") && e.contains("0666") && e.contains("0600"),
            "{e}"
        );
        // A plain file where the socket should be.
        let file = dir.join("plain");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = check_socket(&file).unwrap_err().to_string();
        assert!(e.contains("plain") && e.contains("not a socket"), "{e}");
        // Owned by someone else (only root can arrange that).
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        if own_uid() == 0 {
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            let e = check_socket(&path).unwrap_err().to_string();
            assert!(
                e.contains("convsync.sock") && e.contains("uid 65534"),
                "{e}"
            );
        } else {
            eprintln!("skipped the owner check: only root can give the socket to another user");
        }
    }
}
