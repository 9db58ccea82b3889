//! `convsync backfill`: history in bulk, through the daemon's pipeline and
//! checkpoints (so a backfill and the daemon never deliver an activity
//! twice). The range is walked in windows of at most three months on
//! 10-minute marks; each finished window is recorded, so a killed backfill
//! started again with the same arguments goes on where it stopped.

use super::deps::Deps;
use super::pipeline::{self, LpWork, PipelineError, Route};
use super::runner::{self, Ended, SetOutcome};
use super::select::{self, SelectError};
use crate::store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use tokio::sync::watch;

/// What to backfill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub since_ms: i64,
    pub until_ms: i64,
    /// Whether `until` was given (else it is "now", which moves between runs).
    pub until_given: bool,
    /// Only these conversations (from `--conversation-ids FILE`).
    pub ids: Option<Vec<String>>,
    /// Whether finished windows are recorded and skipped on the next run.
    /// Off for sources that change in place (files): every run then looks
    /// at every conversation, and the checkpoints send only what is new.
    pub remember_windows: bool,
    /// The widest search window (at most
    /// [`MAX_WINDOW_MS`](crate::platform::liveperson::MAX_WINDOW_MS)).
    pub window_ms: i64,
}

impl Request {
    /// Where its progress is kept: the same arguments find it again.
    fn key(&self, pipeline: &str) -> String {
        let ids = match &self.ids {
            Some(ids) => {
                let mut sorted = ids.clone();
                sorted.sort();
                crate::format::identity::uuid5_of(&sorted.join("\n")).to_string()
            }
            None => "all".into(),
        };
        let until = if self.until_given {
            self.until_ms.to_string()
        } else {
            "now".into()
        };
        crate::store::progress_key::backfill(pipeline, self.since_ms, &until, &ids)
    }
}

/// Stored progress: the windows (from, to) done for good: synced, every
/// conversation in them closed, and not the open-ended last one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Progress {
    done: BTreeSet<(i64, i64)>,
}

/// What happened, for the progress display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A window starts; `found` conversations in it (`skipped` if done before).
    Window {
        index: usize,
        of: usize,
        from: i64,
        to: i64,
        found: usize,
        skipped: bool,
    },
    /// Conversations found without searching windows (an id list, a hub's
    /// established list, files).
    Found { conversations: usize },
    /// Totals so far.
    Progress {
        done: u64,
        found: u64,
        delivered: u64,
        dead: u64,
    },
}

/// How it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub windows: usize,
    pub windows_skipped: usize,
    pub conversations: u64,
    pub activities_delivered: u64,
    pub dead_letters: u64,
    /// Conversations still failing when it stopped (retry by running again).
    pub failed: u64,
    /// Conversations held open: LivePerson's answers did not prove them
    /// whole (what they showed was delivered; running again, or the
    /// daemon, reads them again).
    pub held: u64,
    pub recovered: u64,
    /// Stopped by a signal before the end.
    pub interrupted: bool,
}

/// Why a backfill stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// LivePerson refused the credential on the account's listing.
    #[error("{0}")]
    Refused(String),
}

/// Runs a backfill until done or `stop`.
pub async fn run(
    deps: &Deps,
    route: &Route,
    req: &Request,
    stop: watch::Receiver<bool>,
    on: &mut (dyn FnMut(Event) + Send),
) -> Result<Summary, BackfillError> {
    let pipeline_name = deps.settings.pipeline.clone();
    let mut summary = Summary {
        recovered: pipeline::recover(&pipeline_name, &deps.store, &route.sink, &deps.claims)
            .await?,
        ..Summary::default()
    };
    let mut dead = deps.dead_letter_ids().await?;
    let key = req.key(&pipeline_name);
    let k = key.clone();
    let mut progress: Progress = if req.remember_windows {
        deps.store(move |s| s.progress(&k))
            .await?
            .unwrap_or_default()
    } else {
        Progress::default()
    };
    let work = LpWork::new(deps, route);

    // One "window" for an id list; else the range in 3-month windows.
    let spans: Vec<(i64, i64)> = match &req.ids {
        Some(_) => vec![(req.since_ms, req.until_ms)],
        None => select::spans(req.since_ms, req.until_ms, req.window_ms),
    };
    summary.windows = spans.len();
    let (mut found_total, mut done_total) = (0u64, 0u64);
    for (index, (from, to)) in spans.iter().copied().enumerate() {
        if *stop.borrow() {
            summary.interrupted = true;
            break;
        }
        if progress.done.contains(&(from, to)) {
            summary.windows_skipped += 1;
            on(Event::Window {
                index,
                of: spans.len(),
                from,
                to,
                found: 0,
                skipped: true,
            });
            continue;
        }
        // Whether every conversation of the window is closed (then it is
        // recorded done once synced); unknown for an id list.
        let window = match &req.ids {
            Some(ids) => select::Window {
                ids: ids.clone(),
                ..select::Window::default()
            },
            None => {
                let lp = route.source.liveperson().ok_or(SelectError::NoTimeRange)?;
                match select::window(lp, from, to).await {
                    Ok(w) => w,
                    Err(SelectError::Search { source, .. }) if source.is_refused() => {
                        let said = pipeline::account_refused(lp.upstream(), &source);
                        return Err(BackfillError::Refused(said));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        found_total += window.ids.len() as u64;
        on(Event::Window {
            index,
            of: spans.len(),
            from,
            to,
            found: window.ids.len(),
            skipped: false,
        });
        // Failing conversations get up to the retry budget of passes.
        let (base_done, base_delivered, base_dead) = (
            done_total,
            summary.activities_delivered,
            summary.dead_letters,
        );
        let mut each = |o: &SetOutcome, _: &Ended| {
            on(Event::Progress {
                done: base_done + o.done(),
                found: found_total,
                delivered: base_delivered + o.delivered,
                dead: base_dead + o.dead.len() as u64,
            })
        };
        let passes = deps.settings.retry_budget.max(1);
        work.closed(window.closed);
        let out = runner::run(deps, &work, window.ids, passes, &stop, &mut dead, &mut each).await?;
        done_total += out.done();
        summary.activities_delivered += out.delivered;
        summary.dead_letters += out.dead.len() as u64;
        summary.conversations = done_total;
        if *stop.borrow() {
            summary.interrupted = true;
            break;
        }
        summary.held += out.held.len() as u64;
        if !out.failed.is_empty() || !out.held.is_empty() {
            // Read again on the next run.
            summary.failed += out.failed.len() as u64;
            continue;
        }
        // A window that ends "now" is still filling, and one with OPEN
        // conversations may gain records in them: both are read again on
        // the next run (only what is new is sent), so nothing that arrives
        // later is missed.
        let filling = !req.until_given && index + 1 == spans.len();
        if !req.remember_windows || filling || !window.all_closed {
            continue;
        }
        progress.done.insert((from, to));
        let (k, p) = (key.clone(), progress.clone());
        deps.store(move |s| s.set_progress(&k, &p)).await?;
    }
    summary.conversations = done_total;
    Ok(summary)
}
