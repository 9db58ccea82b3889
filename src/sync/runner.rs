//! THE loop that works a set of conversations: `concurrency` at a time,
//! one conversation never twice at once, in passes up to a budget, a
//! failing one tried again on the next pass and given up as a dead letter
//! when its [`Work`] says so. The daemon's cycles, backfills, migrations in
//! both directions all run through it; what differs is the [`Work`].

use super::deps::{Deps, blocking};
use crate::clock::now_ms;
use crate::store::StoreError;
use crate::telemetry::Again;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::watch;

/// Why one conversation did not finish.
pub trait Failure: std::error::Error + Send + 'static {
    /// A short name for dead letters and metrics.
    fn class(&self) -> &'static str;
    /// Whether the same conversation may succeed on a later try.
    fn is_retryable(&self) -> bool;
    /// The store failed: the whole run stops (it cannot record anything).
    fn store_error(self) -> Result<StoreError, Self>
    where
        Self: Sized;
}

/// What becomes of a conversation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try it again on the next pass (or run, after the last pass).
    Retry,
    /// Set it aside as a dead letter.
    Dead,
    /// Its upstream refused it as it refuses every call like it: tried
    /// again as [`Verdict::Retry`], but said once (by the upstream and the
    /// run), not once a conversation.
    Refused,
}

/// How one conversation's sync ended well.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Synced {
    /// Items it wrote.
    pub written: u64,
    /// The source's answer did not prove it whole: what it showed was
    /// written, and the conversation is held open to be read again.
    pub held: bool,
}

impl From<u64> for Synced {
    fn from(written: u64) -> Synced {
        Synced {
            written,
            held: false,
        }
    }
}

/// One kind of conversation work.
pub trait Work: Send + Sync + 'static {
    type Error: Failure;
    /// Syncs one conversation.
    fn sync(&self, id: &str) -> impl Future<Output = Result<Synced, Self::Error>> + Send;
    /// Told, before each pass, which conversations it will be asked for
    /// and in what order (a source may fetch them in batches).
    fn plan(&self, _ids: &[String]) {}
    /// Whether conversations can get anywhere now (an upstream that
    /// refuses the credential blocks them all).
    fn blocked(&self) -> Blocked {
        Blocked::No
    }
    /// Decides (and records) what a failure means for the conversation.
    fn failed(
        &self,
        id: &str,
        e: &Self::Error,
    ) -> impl Future<Output = Result<Verdict, StoreError>> + Send;
}

/// How one conversation of a [`run`] ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ended {
    pub conversation_id: String,
    /// Items it wrote, when it synced.
    pub written: Option<u64>,
    /// Why not, when it did not.
    pub error: Option<String>,
}

/// Whether conversations can get anywhere now, as [`Work::blocked`] sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// Work as usual.
    No,
    /// Refused, and the pause is over: a pass tries one conversation, as a
    /// probe, and leaves the rest for later unless the probe gets through.
    Probe,
    /// Refused and paused: a pass tries nothing, leaving every conversation
    /// for later (a one-shot run ends saying why).
    Paused,
}

/// What a [`run`] did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SetOutcome {
    /// Synced.
    pub synced: Vec<String>,
    /// Items written.
    pub delivered: u64,
    /// Still failing after the last pass: for a later run.
    pub failed: Vec<String>,
    /// Filed as dead letters.
    pub dead: Vec<String>,
    /// Synced as far as the source's answer proved, and held open to be
    /// read again (also in `synced`).
    pub held: Vec<String>,
}

impl SetOutcome {
    /// Conversations finished either way (synced or set aside).
    pub fn done(&self) -> u64 {
        (self.synced.len() + self.dead.len()) as u64
    }
}

/// Works `ids` with `work` until done, out of passes, or `stop`. A
/// conversation in `dead` (the pipeline's dead letters) that now syncs
/// leaves the list. `each` is told how each conversation ended and the
/// outcome so far (for progress displays and the watchdog). Only a store
/// failure ends it early.
pub async fn run<W: Work>(
    deps: &Deps,
    work: &Arc<W>,
    ids: Vec<String>,
    passes: u32,
    stop: &watch::Receiver<bool>,
    dead: &mut BTreeSet<String>,
    each: &mut (dyn FnMut(&SetOutcome, &Ended) + Send),
) -> Result<SetOutcome, StoreError> {
    let mut out = SetOutcome::default();
    let concurrency = deps.settings.concurrency.get();
    let mut todo = ids;
    for pass in 1..=passes.max(1) {
        if todo.is_empty() || *stop.borrow() {
            break;
        }
        let last = pass == passes.max(1);
        work.plan(&todo);
        let mut again = Vec::new();
        let mut tasks = tokio::task::JoinSet::new();
        let mut queue = std::mem::take(&mut todo).into_iter();
        let mut probed = false;
        loop {
            while tasks.len() < concurrency && !*stop.borrow() {
                match work.blocked() {
                    Blocked::No => {}
                    // One conversation, once a pass, while nothing else runs.
                    Blocked::Probe if !probed && tasks.is_empty() => probed = true,
                    Blocked::Probe | Blocked::Paused => break,
                }
                let Some(id) = queue.next() else { break };
                let w = Arc::clone(work);
                let counters = Arc::clone(&deps.counters);
                let claims = Arc::clone(&deps.claims);
                let key = format!("{}\u{1f}{id}", deps.settings.pipeline);
                // Its requests keep the lane of the run (live or a job's).
                let lane = crate::http::pace::lane();
                tasks.spawn(crate::http::pace::LANE.scope(lane, async move {
                    // Never the same conversation of a pipeline twice at
                    // once, whoever else (live sync, a job) works it.
                    let _claim = claims.claim(key).await;
                    let started = std::time::Instant::now();
                    let r = w.sync(&id).await;
                    counters
                        .sync_seconds
                        .observe(started.elapsed().as_secs_f64());
                    (id, r)
                }));
            }
            let Some(done) = tasks.join_next().await else {
                // Left untried while blocked: for a later pass or run.
                if work.blocked() != Blocked::No {
                    if last {
                        out.failed.extend(queue);
                    } else {
                        again.extend(queue);
                    }
                }
                break;
            };
            let (id, result) = done.expect("conversation tasks do not panic");
            let ended = Ended {
                conversation_id: id.clone(),
                written: result.as_ref().ok().map(|s| s.written),
                error: result.as_ref().err().map(ToString::to_string),
            };
            match result {
                Ok(Synced { written: n, held }) => {
                    out.delivered += n;
                    deps.counters.synced(&id, n);
                    if held {
                        out.held.push(id.clone());
                    }
                    if dead.remove(&id) {
                        let (p, i) = (deps.settings.pipeline.clone(), id.clone());
                        blocking(&deps.store, move |s| s.remove_dead_letter(&p, &i)).await?;
                        tracing::info!(conversation = %id, "synced: no longer a dead letter");
                    }
                    out.synced.push(id);
                }
                Err(e) => {
                    let e = match e.store_error() {
                        Ok(store) => return Err(store),
                        Err(e) => e,
                    };
                    match work.failed(&id, &e).await? {
                        Verdict::Dead => {
                            let (p, i, class, message) = (
                                deps.settings.pipeline.clone(),
                                id.clone(),
                                e.class(),
                                e.to_string(),
                            );
                            blocking(&deps.store, move |s| {
                                s.dead_letter(&p, &i, class, &message, now_ms())
                            })
                            .await?;
                            deps.counters.dead_lettered(&id, &e);
                            out.dead.push(id);
                        }
                        Verdict::Retry if last => {
                            deps.counters.sync_failed(&id, &e, Again::NextRun);
                            out.failed.push(id);
                        }
                        Verdict::Retry => {
                            deps.counters.sync_failed(&id, &e, Again::ThisRun);
                            again.push(id);
                        }
                        Verdict::Refused if last => out.failed.push(id),
                        Verdict::Refused => again.push(id),
                    }
                }
            }
            each(&out, &ended);
        }
        todo = again;
    }
    Ok(out)
}
