//! `convsync backfill`: history in bulk, through the daemon's pipeline and
//! checkpoints (so a backfill and the daemon never deliver an activity
//! twice). The range is walked in windows of at most three months on
//! 10-minute marks; each finished window is recorded, so a killed backfill
//! started again with the same arguments goes on where it stopped.

use super::daemon::{Daemon, DaemonError};
use super::pipeline::{self, blocking};
use crate::platform::liveperson::{Search, windows_of};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use tokio::sync::watch;

/// What to backfill.
#[derive(Debug, Clone, PartialEq)]
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
                crate::format::to_hubster::uuid5_of(&sorted.join("\n")).to_string()
            }
            None => "all".into(),
        };
        let until = if self.until_given {
            self.until_ms.to_string()
        } else {
            "now".into()
        };
        format!("backfill:{pipeline}:{}:{until}:{ids}", self.since_ms)
    }
}

/// Stored progress: the windows (from, to) done for good: synced, every
/// conversation in them closed, and not the open-ended last one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Progress {
    done: BTreeSet<(i64, i64)>,
}

/// What happened, for the progress display.
#[derive(Debug, Clone, PartialEq)]
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
    pub recovered: u64,
    /// Stopped by a signal before the end.
    pub interrupted: bool,
}

/// Runs a backfill until done or `stop`.
pub async fn run(
    daemon: &Daemon,
    req: &Request,
    stop: watch::Receiver<bool>,
    on: &mut dyn FnMut(Event),
) -> Result<Summary, DaemonError> {
    let pipeline_name = daemon.cfg.pipeline.clone();
    let mut summary = Summary {
        recovered: pipeline::recover(&pipeline_name, &daemon.store, &daemon.sink).await?,
        ..Summary::default()
    };
    let dead = daemon.dead_letter_ids().await?;
    let key = req.key(&pipeline_name);
    let k = key.clone();
    let mut progress: Progress = if req.remember_windows {
        blocking(&daemon.store, move |s| s.progress(&k))
            .await?
            .unwrap_or_default()
    } else {
        Progress::default()
    };

    // One "window" for an id list; else the range in 3-month windows.
    let spans: Vec<(i64, i64)> = match &req.ids {
        Some(_) => vec![(req.since_ms, req.until_ms)],
        None => windows_of(req.since_ms, req.until_ms, req.window_ms),
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
        let mut all_closed = false;
        let ids: Vec<String> = match &req.ids {
            Some(ids) => ids.clone(),
            None => {
                let q = Search {
                    start_from: from,
                    start_to: to,
                    status: vec!["OPEN".into(), "CLOSE".into()],
                    latest_update_from: None,
                };
                let lp = daemon.source.liveperson().ok_or_else(|| {
                    DaemonError::Setup("a time range needs the LivePerson API as source".into())
                })?;
                let found = lp.search(&q).await.map_err(|e| {
                    DaemonError::Setup(format!("conversations/search {from}..{to}: {e}"))
                })?;
                all_closed = found.iter().all(|c| c.status.as_deref() == Some("CLOSE"));
                found.into_iter().map(|c| c.conversation_id).collect()
            }
        };
        found_total += ids.len() as u64;
        on(Event::Window {
            index,
            of: spans.len(),
            from,
            to,
            found: ids.len(),
            skipped: false,
        });
        // Failing conversations get up to the retry budget of passes.
        let mut todo = ids;
        let mut passes = 0;
        while !todo.is_empty() && !*stop.borrow() {
            let (base_done, base_delivered, base_dead) = (
                done_total,
                summary.activities_delivered,
                summary.dead_letters,
            );
            let mut each = |o: &super::daemon::SetOutcome| {
                on(Event::Progress {
                    done: base_done + (o.synced.len() + o.dead.len()) as u64,
                    found: found_total,
                    delivered: base_delivered + o.delivered,
                    dead: base_dead + o.dead.len() as u64,
                })
            };
            let out = daemon.sync_set_observed(todo, &stop, &mut each).await?;
            done_total += (out.synced.len() + out.dead.len()) as u64;
            // A dead letter of an earlier run that now syncs leaves the list.
            for id in out.synced.iter().filter(|id| dead.contains(*id)) {
                let (p, i) = (pipeline_name.clone(), id.clone());
                blocking(&daemon.store, move |s| s.remove_dead_letter(&p, &i)).await?;
                tracing::info!(conversation = %id, "synced: no longer a dead letter");
            }
            summary.activities_delivered += out.delivered;
            summary.dead_letters += out.dead.len() as u64;
            todo = out.failed;
            passes += 1;
            if passes >= daemon.cfg.retry_budget.max(1) {
                break;
            }
        }
        summary.conversations = done_total;
        if *stop.borrow() {
            summary.interrupted = true;
            break;
        }
        if !todo.is_empty() {
            summary.failed += todo.len() as u64;
            continue;
        }
        // A window that ends "now" is still filling, and one with OPEN
        // conversations may gain records in them: both are read again on
        // the next run (only what is new is sent), so nothing that arrives
        // later is missed.
        let filling = !req.until_given && index + 1 == spans.len();
        if !req.remember_windows || filling || !all_closed {
            continue;
        }
        progress.done.insert((from, to));
        let (k, p) = (key.clone(), progress.clone());
        blocking(&daemon.store, move |s| s.set_progress(&k, &p)).await?;
    }
    summary.conversations = done_total;
    debug_assert!(
        daemon.counters.activities_delivered.load(Ordering::Relaxed)
            >= summary.activities_delivered
    );
    Ok(summary)
}
