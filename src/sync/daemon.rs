//! `convsync run`: keeps the target in step with LivePerson. Each cycle
//! discovers conversations updated since the watermark (less a lookback;
//! since `sync.since` on the first cycle), whenever they started within
//! LivePerson's 13 months, adds the OPEN ones it knows, syncs them with
//! bounded concurrency, then moves the watermark to the cycle's start, and
//! starts a cycle every `poll_interval` (at once after one that took longer).

use super::deps::{Deps, Settings};
use super::pipeline::{self, LpWork, PipelineError, Route, Sink, Source};
use super::retention::{self, Retention};
use super::runner::{self, Ended, SetOutcome};
use super::select::{self, SelectError};
use crate::clock::{DateError, now_ms};
use crate::config::{MissingSection, SinkConfig, SyncConfig};
use crate::http::HttpError;
use crate::http::Metrics;
use crate::platform::ClientError;
use crate::platform::hubster::HubsterClient;
use crate::platform::liveperson::LivePersonClient;
use crate::store::{Store, StoreError};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Section(#[from] MissingSection),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("sync.since: {0}")]
    Since(DateError),
    /// The target's credentials do not work.
    #[error("hubster: {0}")]
    Token(HttpError),
    #[error("the daemon reads from the LivePerson API")]
    NotLivePerson,
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// An upstream refuses the credential (a one-shot run ends on it;
    /// nothing was set aside for it).
    #[error("{0}")]
    Refused(String),
}

/// What the daemon says of a refusal while it waits it out.
fn probing(refusal: String) -> String {
    format!("{refusal}; paused, probing again with backoff")
}

/// How long after a cycle that took `took` (and delivered `delivered`)
/// the next starts, and whether it overran the poll interval. A cycle
/// starts every `period`, whatever the one before took; one that overran
/// is followed at once (never two at the same time). A one-shot run goes
/// on at once after a cycle that delivered, until one finds nothing to do.
fn next_start(until: Until, delivered: u64, took: Duration, period: Duration) -> (Duration, bool) {
    if until == Until::Idle && delivered > 0 {
        (Duration::ZERO, false)
    } else if took >= period {
        (Duration::ZERO, true)
    } else {
        (period - took, false)
    }
}

/// A backoff in progress, kept in the store so a restart honours it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Backoff {
    pub failures: u32,
    pub until_ms: i64,
    pub reason: String,
}

/// The wait after `failures` failed cycles in a row: `poll` doubled per
/// failure, capped at `cap`, with jitter (`r` in [0, 1): between half and
/// all of it).
pub fn backoff(poll: f64, cap: f64, failures: u32, r: f64) -> Duration {
    let full = (poll * 2f64.powi(failures.min(30) as i32)).min(cap.max(poll));
    Duration::from_secs_f64(full * (0.5 + 0.5 * r.clamp(0.0, 1.0)))
}

/// How long LivePerson keeps conversations (13 months, in days).
pub const RETENTION_MS: i64 = 396 * 24 * 3600 * 1000;

/// How a run should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Until a signal.
    Stopped,
    /// After the first cycle that delivered nothing and left nothing failing.
    Idle,
}

/// How a run ended: what it set aside or left held, for a one-shot run's
/// exit code.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunEnd {
    /// Conversations this run filed as dead letters.
    pub dead_letters: u64,
    /// Conversations held open when it ended (LivePerson's answers did not
    /// prove them whole), with why.
    pub held: Vec<(String, crate::store::Held)>,
}

/// The daemon: its section, what its runs need, and where it reads and
/// writes.
pub struct Daemon {
    pub cfg: SyncConfig,
    pub deps: Deps,
    pub route: Route,
    /// What retention prunes, and when.
    pub retention: Retention,
}

/// How often the daemon prunes.
const PRUNE_EVERY_MS: i64 = 3600 * 1000;

fn notify(states: &[sd_notify::NotifyState]) {
    // Outside systemd there is no socket and this does nothing.
    let _ = sd_notify::notify(false, states);
}

impl Daemon {
    /// The daemon of `config` over `store`, with its clients (counting
    /// their requests in `http`).
    pub fn new(
        config: &crate::config::Config,
        store: Arc<Store>,
        http: Arc<Metrics>,
    ) -> Result<Daemon, DaemonError> {
        let cfg = config.sync.clone();
        let source = Arc::new(Source::LivePerson(Arc::new(LivePersonClient::new(
            config.liveperson()?,
            Arc::clone(&http),
        )?)));
        source.remember_route_in(&store);
        let sink = match &cfg.sink {
            SinkConfig::Hubster => Sink::Hubster(Arc::new(HubsterClient::new(
                config.hubster()?,
                Arc::clone(&http),
            )?)),
            SinkConfig::Files(dir) => Sink::Files(dir.clone()),
        };
        let deps = Deps {
            settings: Settings::from_sync(&cfg, &cfg.pipeline),
            store,
            mapping: Arc::new(config.mapping.clone()),
            // The counters telemetry serves: the daemon only adds to them.
            counters: Arc::default(),
            http,
            claims: Arc::default(),
        };
        let route = Route {
            source,
            sink: Arc::new(sink),
        };
        // A Retry-After given to an earlier process binds this one too, and
        // what it learned of the upstreams' pace is where this one starts.
        super::deps::keep_pauses_in(&deps.store, &route.upstreams());
        for u in route.upstreams() {
            u.set_live_share(cfg.live_share);
        }
        Ok(Daemon {
            cfg,
            deps,
            route,
            retention: Retention::of(config),
        })
    }

    fn since_ms(&self) -> Result<i64, DaemonError> {
        match &self.cfg.since {
            None => Ok(now_ms() - 30 * 24 * 3600 * 1000),
            Some(s) => crate::clock::parse_date(s).map_err(DaemonError::Since),
        }
    }

    /// Applies retention as of `now` (epoch ms) to the pipelines it
    /// covers (see [`Retention`]).
    pub async fn prune(&self, now: i64) -> Result<Vec<crate::store::Pruned>, DaemonError> {
        let pruned = self.retention.prune(&self.deps.store, now).await?;
        for r in &pruned {
            self.deps.counters.pruned(r);
        }
        Ok(pruned)
    }

    fn backoff_key(&self) -> String {
        crate::store::progress_key::backoff(&self.cfg.pipeline)
    }

    async fn kept_backoff(&self) -> Result<Option<Backoff>, DaemonError> {
        let (store, k) = (Arc::clone(&self.deps.store), self.backoff_key());
        Ok(
            tokio::task::spawn_blocking(move || store.progress::<Option<Backoff>>(&k))
                .await
                .expect("no panic")?
                .flatten(),
        )
    }

    async fn keep_backoff(&self, b: Option<Backoff>) -> Result<(), DaemonError> {
        let (store, k) = (Arc::clone(&self.deps.store), self.backoff_key());
        tokio::task::spawn_blocking(move || store.set_progress(&k, &b))
            .await
            .expect("no panic")?;
        Ok(())
    }

    /// Runs cycles until `shutdown` resolves (or, with [`Until::Idle`],
    /// until there is nothing left to do). In-flight conversations get
    /// `shutdown_timeout` to finish; a second signal is the caller's to
    /// handle (recovery makes stopping anywhere safe).
    pub async fn run(
        &self,
        until: Until,
        shutdown: impl Future<Output = ()>,
    ) -> Result<RunEnd, DaemonError> {
        self.run_cycles(until, shutdown).await?;
        let (store, p) = (Arc::clone(&self.deps.store), self.cfg.pipeline.clone());
        let held = tokio::task::spawn_blocking(move || store.held(&p))
            .await
            .expect("no panic")?;
        Ok(RunEnd {
            dead_letters: self
                .deps
                .counters
                .dead_letters
                .load(std::sync::atomic::Ordering::Relaxed),
            held,
        })
    }

    async fn run_cycles(
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

    async fn cycles(
        &self,
        until: Until,
        since: i64,
        stop: watch::Receiver<bool>,
    ) -> Result<(), DaemonError> {
        let p = self.cfg.pipeline.clone();
        // A one-shot run ends on a refusal: no call waits its pause out.
        if until == Until::Idle {
            for u in self.route.upstreams() {
                u.fail_when_refused();
            }
        }
        // The first token proves the target's credentials before READY. A
        // client the identity service refuses ends a one-shot run; the
        // daemon pauses Hubster and probes again with backoff, as for any
        // refusal (exiting would have systemd ask again every few seconds).
        if let Sink::Hubster(h) = self.route.sink.as_ref() {
            match h.token(false).await {
                Ok(_) => {}
                Err(e) if e.is_refused() => {
                    let said = pipeline::account_refused(h.upstream(), &e);
                    self.deps.counters.refused("(token)", &e);
                    if until == Until::Idle {
                        return Err(DaemonError::Refused(said));
                    }
                }
                Err(e) => return Err(DaemonError::Token(e)),
            }
        }
        let recovered =
            pipeline::recover(&p, &self.deps.store, &self.route.sink, &self.deps.claims).await?;
        self.deps.counters.recovered(recovered);
        self.deps.counters.set_ready();
        self.deps.counters.poll_interval_ms.store(
            (self.cfg.poll_interval_secs * 1000.0) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        notify(&[sd_notify::NotifyState::Ready]);
        let mut open: BTreeSet<String> = BTreeSet::new();
        // Held conversations are read again when due, and all of them on
        // this process's first cycle.
        let mut first = true;
        let mut pruned_at = now_ms();
        self.prune(pruned_at).await?;
        // A backoff an earlier process was in holds this one too.
        let mut failures = 0;
        let mut last_failure: Option<String> = None;
        let mut was_refused = false;
        if let Some(b) = self.kept_backoff().await? {
            failures = b.failures;
            let left = b.until_ms - now_ms();
            if left > 0 {
                tracing::info!(wait_ms = left, "backing off as the last run was");
                self.deps.counters.set_degraded(Some(b.reason.clone()));
                let mut stop = stop.clone();
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(left as u64)) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(()),
                }
            }
        }
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let started = now_ms();
            if started - pruned_at >= PRUNE_EVERY_MS {
                self.prune(started).await?;
                pruned_at = started;
            }
            let (delivered, failed) = self
                .cycle(since, &mut open, first, &stop, &mut last_failure)
                .await?;
            let took = Duration::from_millis((now_ms() - started).max(0) as u64);
            let catching_up = first;
            if first {
                self.deps.counters.caught_up(now_ms());
            }
            first = false;
            let refused = self.route.refusals().into_iter().next();
            if let Some(msg) = &refused
                && until == Until::Idle
            {
                return Err(DaemonError::Refused(msg.clone()));
            }
            let refused = refused.map(probing);
            if let Some(msg) = &refused {
                last_failure.get_or_insert_with(|| msg.clone());
            }
            let (_, status) = self.deps.counters.cycle_ended(delivered, failed);
            notify(&[
                sd_notify::NotifyState::Status(&status),
                sd_notify::NotifyState::Watchdog,
            ]);
            for u in self.route.upstreams() {
                u.keep_pace(true);
            }
            if failed == 0 && !*stop.borrow() {
                // Never past the start of the cycle that read up to here.
                let (store, p) = (Arc::clone(&self.deps.store), p.clone());
                tokio::task::spawn_blocking(move || store.set_watermark(&p, started))
                    .await
                    .expect("no panic")?;
            }
            if until == Until::Idle && delivered == 0 && failed == 0 {
                // A one-shot run leaves a compact file (nothing of this
                // process writes after it).
                retention::compact_if_wasteful(&self.deps.store, 0.25).await?;
                return Ok(());
            }
            // A cycle that failed and moved nothing: the upstream is in
            // trouble (one that delivered while some conversations failed
            // is not).
            let nap = if failed > 0 && delivered == 0 {
                // Failing cycles in a row wait longer, and say why.
                failures += 1;
                let wait = backoff(
                    self.cfg.poll_interval_secs,
                    self.cfg.max_backoff_secs,
                    failures,
                    rand::random::<f64>(),
                );
                let why = format!(
                    "{failures} failed cycle(s) in a row ({}); next in {:.0?}",
                    last_failure
                        .take()
                        .unwrap_or_else(|| format!("{failed} conversation(s) failing")),
                    wait
                );
                // Kept before it is said: what /healthz shows a restart
                // honours.
                self.keep_backoff(Some(Backoff {
                    failures,
                    until_ms: now_ms() + wait.as_millis() as i64,
                    reason: why.clone(),
                }))
                .await?;
                self.deps.counters.set_degraded(Some(why));
                wait
            } else {
                if failures > 0 {
                    failures = 0;
                    self.keep_backoff(None).await?;
                    self.deps.counters.set_degraded(None);
                }
                let period = Duration::from_secs_f64(self.cfg.poll_interval_secs);
                let (nap, overran) = next_start(until, delivered, took, period);
                // (The first cycle reads the backlog: not an overrun.)
                if overran && !catching_up {
                    self.deps.counters.overrun(took, period);
                }
                nap
            };
            // Degraded while a credential is refused, whatever else went
            // (failing cycles already say it, with their count).
            if let Some(msg) = refused {
                if failures == 0 {
                    self.deps.counters.set_degraded(Some(msg));
                }
                was_refused = true;
            } else if was_refused && failures == 0 {
                self.deps.counters.set_degraded(None);
                was_refused = false;
            }
            let mut stop = stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                _ = stop.wait_for(|s| *s) => return Ok(()),
            }
        }
    }

    /// One discovery and sync pass. Returns (activities delivered, failures).
    async fn cycle(
        &self,
        since: i64,
        open: &mut BTreeSet<String>,
        all_held: bool,
        stop: &watch::Receiver<bool>,
        failure: &mut Option<String>,
    ) -> Result<(u64, u64), DaemonError> {
        let p = self.cfg.pipeline.clone();
        let store = Arc::clone(&self.deps.store);
        let watermark = tokio::task::spawn_blocking(move || store.watermark(&p))
            .await
            .expect("no panic")?;
        let lookback = (self.cfg.lookback_secs * 1000.0) as i64;
        // Updated since the watermark (since `since` on the first cycle),
        // started at any time LivePerson still keeps (13 months): a
        // conversation that started before `since` and gains messages is
        // found too.
        let updated_since = watermark.map_or(since, |w| w - lookback);
        let now = now_ms();
        // (Never further back: LivePerson keeps nothing older, and every
        // three months more is one more search a cycle.)
        let started_from = now - RETENTION_MS;
        let Some(lp) = self.route.source.liveperson() else {
            return Err(DaemonError::NotLivePerson);
        };
        let found = match select::updated(lp, started_from, now, Some(updated_since)).await {
            Ok(f) => f,
            Err(e) => {
                // The account's listing refused: the credential is, not a
                // conversation's.
                let why = match &e {
                    SelectError::Discover(h) if h.is_refused() => {
                        self.deps.counters.refused("(conversations/search)", h);
                        probing(pipeline::account_refused(lp.upstream(), h))
                    }
                    e => e.to_string(),
                };
                tracing::warn!(error = %e, "discovery failed; trying again next cycle");
                *failure = Some(format!("discovery: {why}"));
                return Ok((0, 1));
            }
        };
        let mut dead = self.deps.dead_letter_ids().await?;
        let mut todo: BTreeSet<String> = open.clone();
        for c in &found {
            if c.status.as_deref() == Some("OPEN") {
                open.insert(c.conversation_id.clone());
            } else {
                open.remove(&c.conversation_id);
            }
            todo.insert(c.conversation_id.clone());
        }
        // Held ones that are due (discovery may never list them again).
        let (store, p) = (Arc::clone(&self.deps.store), self.cfg.pipeline.clone());
        let held = tokio::task::spawn_blocking(move || store.held(&p))
            .await
            .expect("no panic")?;
        let mut held_closed = Vec::new();
        for (id, h) in held {
            if all_held || h.next_ms <= now || todo.contains(&id) {
                if h.closed {
                    held_closed.push(id.clone());
                }
                todo.insert(id);
            }
        }
        // Dead letters wait for `convsync dead-letters retry`.
        todo.retain(|id| !dead.contains(id));
        let work = LpWork::new(&self.deps, &self.route);
        work.closed(
            found
                .iter()
                .filter(|c| c.is_closed())
                .map(|c| c.conversation_id.clone())
                .chain(held_closed),
        );
        let mut synced = 0;
        let counters = &self.deps.counters;
        counters
            .todo
            .fetch_add(todo.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let settled_before = counters.settled.load(std::sync::atomic::Ordering::Relaxed);
        // Progress feeds the watchdog, and a one-shot run's display.
        let mut each = |o: &SetOutcome, _: &Ended| {
            if o.synced.len() > synced {
                synced = o.synced.len();
                notify(&[sd_notify::NotifyState::Watchdog]);
            }
            let settled = o.synced.len() + o.failed.len() + o.dead.len();
            counters.settled.store(
                settled_before + settled as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
        };
        let done = runner::run(
            &self.deps,
            &work,
            todo.into_iter().collect(),
            1,
            stop,
            &mut dead,
            &mut each,
        )
        .await?;
        for id in &done.dead {
            open.remove(id);
        }
        Ok((done.delivered, done.failed.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_starts_every_poll_interval_whatever_the_last_took() {
        let (p, s) = (Duration::from_secs(30), Duration::from_secs);
        // Live: the rest of the period, delivered or not.
        assert_eq!(next_start(Until::Stopped, 0, s(2), p), (s(28), false));
        assert_eq!(next_start(Until::Stopped, 500, s(12), p), (s(18), false));
        // An overrun: at once, counted.
        assert_eq!(next_start(Until::Stopped, 500, s(31), p), (s(0), true));
        assert_eq!(next_start(Until::Stopped, 0, s(30), p), (s(0), true));
        // One-shot: at once after a cycle that delivered.
        assert_eq!(next_start(Until::Idle, 1, s(2), p), (s(0), false));
        assert_eq!(next_start(Until::Idle, 0, s(2), p), (s(28), false));
    }

    #[test]
    fn waits_double_from_the_poll_interval_up_to_the_cap_with_jitter() {
        let secs = |f, r| backoff(30.0, 600.0, f, r).as_secs_f64();
        assert_eq!(secs(1, 1.0), 60.0);
        assert_eq!(secs(2, 1.0), 120.0);
        assert_eq!(secs(3, 0.0), 120.0, "half of 240 at the least");
        assert_eq!(secs(10, 1.0), 600.0, "capped");
        assert_eq!(secs(u32::MAX, 1.0), 600.0);
        // A cap below the poll interval never shortens the poll.
        assert_eq!(backoff(30.0, 5.0, 1, 1.0).as_secs_f64(), 30.0);
    }
}
