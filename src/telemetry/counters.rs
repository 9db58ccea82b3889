//! The counters a run keeps: every event of a run is logged and counted
//! here, in one place, so that what the logs say and what `/metrics`
//! counts never drift apart.

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters a run keeps (for STATUS, the summary and tests).
#[derive(Debug)]
pub struct Counters {
    pub cycles: AtomicU64,
    pub conversations_synced: AtomicU64,
    pub activities_delivered: AtomicU64,
    pub failures: AtomicU64,
    pub dead_letters: AtomicU64,
    pub recovered: AtomicU64,
    /// Conversations whose checkpoint was rebuilt from what the target
    /// holds (the store could not be believed).
    pub reconciled: AtomicU64,
    /// Reads that did not prove a conversation whole (it was held open).
    pub held: AtomicU64,
    /// Conversations that failed on a refused credential.
    pub refusals: AtomicU64,
    /// Activities seen in target conversations that convsync did not post.
    pub foreign: AtomicU64,
    /// The most foreign activities seen in each conversation (so each is
    /// counted once, and warned about once per conversation).
    foreign_seen: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    /// Set once the daemon has recovered its pipeline: jobs wait for it.
    ready: tokio::sync::watch::Sender<bool>,
    /// Why the daemon is backing off (failed cycles in a row), while it is.
    pub degraded: std::sync::Mutex<Option<String>>,
    /// How long each conversation's sync took (seconds), success or not.
    pub sync_seconds: Histogram,
    /// How fresh the hub is: for each message that appeared in LivePerson
    /// after the daemon caught up, the hub's acknowledgement time minus
    /// the message's LivePerson time (seconds).
    pub freshness: Histogram,
    /// The latest freshness values, for `status`'s quantiles.
    freshness_recent: std::sync::Mutex<std::collections::VecDeque<f64>>,
    /// When the daemon caught up (its first cycle ended; 0: not yet).
    caught_up_ms: std::sync::atomic::AtomicI64,
    /// Cycles that took longer than the poll interval.
    pub overruns: AtomicU64,
    /// Activities delivered with what the mapping could not carry as it
    /// was, by warning kind (one per warning).
    pub mapping_degradations: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
    /// The poll interval (ms), as the daemon keeps it.
    pub poll_interval_ms: AtomicU64,
    /// Conversations the cycles so far set out to sync, and how many of
    /// them ended (synced, held, failed or set aside): a one-shot run's
    /// progress.
    pub todo: AtomicU64,
    pub settled: AtomicU64,
}

/// How many of the latest freshness values `status` reads quantiles from.
const FRESHNESS_KEPT: usize = 10_000;

impl Default for Counters {
    fn default() -> Self {
        Counters {
            cycles: AtomicU64::default(),
            conversations_synced: AtomicU64::default(),
            activities_delivered: AtomicU64::default(),
            failures: AtomicU64::default(),
            dead_letters: AtomicU64::default(),
            recovered: AtomicU64::default(),
            reconciled: AtomicU64::default(),
            held: AtomicU64::default(),
            refusals: AtomicU64::default(),
            foreign: AtomicU64::default(),
            foreign_seen: std::sync::Mutex::default(),
            ready: tokio::sync::watch::Sender::new(false),
            degraded: std::sync::Mutex::default(),
            // 10 ms to about 160 s.
            sync_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 15)),
            // Fine around the usual poll intervals (15-60 s), whose
            // doubles the alert compares p99 with.
            freshness: Histogram::new([
                1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 32.0, 35.0, 40.0, 45.0, 50.0, 60.0,
                75.0, 90.0, 120.0, 180.0, 300.0, 600.0, 1800.0, 3600.0,
            ]),
            freshness_recent: std::sync::Mutex::default(),
            caught_up_ms: std::sync::atomic::AtomicI64::new(0),
            overruns: AtomicU64::default(),
            mapping_degradations: std::sync::Mutex::default(),
            poll_interval_ms: AtomicU64::default(),
            todo: AtomicU64::default(),
            settled: AtomicU64::default(),
        }
    }
}

/// The events of a run, each logged and counted here, in one place, so
/// that what the logs say and what /metrics counts never drift apart.
impl Counters {
    /// The daemon has recovered its pipeline.
    pub fn set_ready(&self) {
        self.ready.send_replace(true);
    }

    /// Waits until the daemon has recovered its pipeline.
    pub async fn until_ready(&self) {
        let mut ready = self.ready.subscribe();
        // The sender lives as long as these counters.
        let _ = ready.wait_for(|r| *r).await;
    }

    /// Says the daemon is degraded, and why (`None`: healthy again).
    pub fn set_degraded(&self, why: Option<String>) {
        let mut d = self.degraded.lock().expect("degraded lock");
        match (&why, d.is_some()) {
            (Some(w), _) => tracing::warn!("degraded: {w}"),
            (None, true) => tracing::info!("no longer degraded"),
            (None, false) => {}
        }
        *d = why;
    }

    /// A conversation synced, `delivered` items written.
    pub fn synced(&self, conversation: &str, delivered: u64) {
        self.conversations_synced.fetch_add(1, Ordering::Relaxed);
        self.activities_delivered
            .fetch_add(delivered, Ordering::Relaxed);
        tracing::debug!(conversation, delivered, "synced");
    }

    /// A conversation's sync failed; `again`: whether it is tried again
    /// (this run, or the next).
    pub fn sync_failed(&self, conversation: &str, error: &dyn std::fmt::Display, again: Again) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        match again {
            Again::ThisRun => {
                tracing::warn!(conversation, error = %error, "sync failed; trying again")
            }
            Again::NextRun => {
                tracing::warn!(conversation, error = %error, "sync failed; trying again on the next run")
            }
        }
    }

    /// A conversation set aside as a dead letter.
    pub fn dead_lettered(&self, conversation: &str, error: &dyn std::fmt::Display) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.dead_letters.fetch_add(1, Ordering::Relaxed);
        tracing::error!(conversation, error = %error, "dead letter");
    }

    /// Deliveries an interrupted run had made, found done by recovery.
    pub fn recovered(&self, n: u64) {
        self.recovered.fetch_add(n, Ordering::Relaxed);
        if n > 0 {
            tracing::info!(
                recovered = n,
                "recovery found deliveries of an interrupted run done"
            );
        }
    }

    /// A conversation's checkpoint could not be believed (the store was
    /// found restored or recreated, or had none while the target knew the
    /// conversation): the target was read, and what it held not sent again.
    /// Of `looked_for` activities, `found` were there.
    pub fn reconciled(&self, conversation: &str, looked_for: u64, found: u64) {
        self.reconciled.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            conversation,
            looked_for,
            found,
            "the store held no checkpoint to believe for the conversation: rebuilt it from the target ({found} of {looked_for} activities already there, not sent again)"
        );
    }

    /// A read of a target conversation found `n` activities convsync did
    /// not post (a hub's bot or agent answering replayed history): counted
    /// once each, warned about once per conversation. They are never taken
    /// for anything convsync sent.
    pub fn foreign(&self, conversation: &str, n: u64) {
        if n == 0 {
            return;
        }
        let before = {
            let mut seen = self.foreign_seen.lock().expect("foreign lock");
            let e = seen.entry(conversation.to_owned()).or_default();
            let before = *e;
            *e = before.max(n);
            before
        };
        if n <= before {
            return;
        }
        self.foreign.fetch_add(n - before, Ordering::Relaxed);
        if before == 0 {
            tracing::warn!(
                conversation,
                foreign = n,
                "the target conversation holds {n} activities convsync did not post (a hub's bot or agent answering replayed history?): left alone, never taken for what convsync sent; `migrate --verify` lists them"
            );
        }
    }

    /// Activities of a conversation were delivered with what the mapping
    /// could not carry as it was (`kinds`, one per warning: `convert
    /// --report` names each): counted by kind, said at info.
    pub fn mapping_degraded(&self, conversation: &str, kinds: &[&'static str]) {
        if kinds.is_empty() {
            return;
        }
        {
            let mut m = self.mapping_degradations.lock().expect("mapping lock");
            for k in kinds {
                *m.entry(k).or_default() += 1;
            }
        }
        tracing::info!(
            conversation,
            ?kinds,
            "delivered with what the mapping could not carry as it was (`convert --report` on the conversation says what)"
        );
    }

    /// A conversation's source answered what does not prove it whole: what
    /// it showed was delivered, and it is held open (said once, at warn,
    /// the first time; then at debug while it stays so).
    pub fn held(&self, conversation: &str, h: &crate::store::Held) {
        self.held.fetch_add(1, Ordering::Relaxed);
        let next = crate::clock::format_ms(h.next_ms);
        if h.tries == 1 {
            tracing::warn!(
                conversation,
                shown = %h.shown,
                "the source's answer does not prove the conversation whole ({}): what it showed was delivered; not sealed, held open and read again at {next}",
                h.shown
            );
        } else {
            tracing::debug!(conversation, shown = %h.shown, tries = h.tries, "still not proven whole; read again at {next}");
        }
    }

    /// A conversation failed because its upstream refused the credential:
    /// tried again, never set aside for it.
    pub fn refused(&self, conversation: &str, error: &dyn std::fmt::Display) {
        self.refusals.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(conversation, error = %error, "the credential was refused; the conversation is tried again (not a dead letter)");
    }

    /// A prune of the store ended.
    pub fn pruned(&self, r: &crate::store::Pruned) {
        if r.conversations + r.forgotten + r.dead_letters + r.progress > 0 {
            tracing::info!(
                pipeline = %r.pipeline,
                conversations = r.conversations,
                forgotten_ids = r.forgotten,
                dead_letters = r.dead_letters,
                backfill_windows = r.progress,
                bytes_before = r.bytes_before,
                bytes_after = r.bytes_after,
                compacted = r.compacted,
                "pruned what is older than the retention"
            );
        }
    }

    /// A daemon cycle ended; returns its number and a one-line status.
    pub fn cycle_ended(&self, delivered: u64, failed: u64) -> (u64, String) {
        let cycle = self.cycles.fetch_add(1, Ordering::Relaxed) + 1;
        let status = format!(
            "cycle {cycle}: {} conversations synced, {} activities delivered, {} dead letters",
            self.conversations_synced.load(Ordering::Relaxed),
            self.activities_delivered.load(Ordering::Relaxed),
            self.dead_letters.load(Ordering::Relaxed)
        );
        tracing::info!(cycle, delivered, failed, "{status}");
        (cycle, status)
    }

    /// The daemon has caught up (its first cycle ended): freshness counts
    /// the messages that appear in LivePerson from `at_ms` on.
    pub fn caught_up(&self, at_ms: i64) {
        if self
            .caught_up_ms
            .compare_exchange(0, at_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            tracing::info!("caught up: freshness is measured from here");
        }
    }

    /// A message that appeared in LivePerson at `source_ms` was acknowledged
    /// by the hub at `acked_ms`.
    pub fn fresh(&self, source_ms: i64, acked_ms: i64) {
        let from = self.caught_up_ms.load(Ordering::Relaxed);
        if from == 0 || source_ms < from {
            return;
        }
        let age = (acked_ms - source_ms).max(0) as f64 / 1000.0;
        self.freshness.observe(age);
        let mut recent = self.freshness_recent.lock().expect("freshness lock");
        if recent.len() == FRESHNESS_KEPT {
            recent.pop_front();
        }
        recent.push_back(age);
    }

    /// The p50 and p99 freshness (seconds) of the latest messages, and how
    /// many they are (`None` before any).
    pub fn freshness_quantiles(&self) -> Option<(f64, f64, usize)> {
        let mut v: Vec<f64> = self
            .freshness_recent
            .lock()
            .expect("freshness lock")
            .iter()
            .copied()
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
        Some((at(0.5), at(0.99), v.len()))
    }

    /// A cycle took `took`, longer than the poll interval: the next starts
    /// at once (a cycle is never run twice at the same time).
    pub fn overrun(&self, took: std::time::Duration, period: std::time::Duration) {
        self.overruns.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            took_secs = took.as_secs_f64(),
            poll_interval_secs = period.as_secs_f64(),
            "a cycle took longer than the poll interval: the next starts at once"
        );
    }

    pub fn degraded(&self) -> Option<String> {
        self.degraded.lock().expect("degraded lock").clone()
    }
}

/// When a failed conversation is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Again {
    ThisRun,
    NextRun,
}
