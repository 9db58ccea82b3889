//! What migrations return and keep: the state in the store, a run's
//! summary, and verify's report.

use crate::config::SyncConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What the store keeps about a migration (for `migrate --list`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub runs: u64,
    pub last_started_ms: Option<i64>,
    pub last_finished_ms: Option<i64>,
    /// Whether the last run got through everything (no failures, not stopped).
    pub complete: bool,
    /// Conversations and items (activities or records) of the last run.
    pub conversations: u64,
    pub written: u64,
    /// Items written over all runs.
    pub written_total: u64,
    pub dead_letters: u64,
    pub failed: u64,
    /// `since` as the first run resolved it when the config gives none, so
    /// that later runs walk the same windows (and skip those done).
    #[serde(default)]
    pub since_ms: Option<i64>,
}

impl State {
    pub fn key(name: &str) -> String {
        crate::store::progress_key::migration(name)
    }

    /// One line: "never run", "complete ...", "incomplete ...".
    pub fn describe(&self) -> String {
        let when = |ms: Option<i64>| {
            ms.and_then(chrono::DateTime::from_timestamp_millis)
                .map_or("?".into(), |d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
        };
        if self.runs == 0 {
            return "never run".into();
        }
        if self.last_finished_ms.is_none() || self.last_finished_ms < self.last_started_ms {
            return format!(
                "started {}, not finished (run it again to go on)",
                when(self.last_started_ms)
            );
        }
        let what = format!(
            "last run {} conversations, {} written; {} written in {} run{}; {} dead letters",
            self.conversations,
            self.written,
            self.written_total,
            self.runs,
            if self.runs == 1 { "" } else { "s" },
            self.dead_letters
        );
        if self.complete {
            format!("complete at {}: {what}", when(self.last_finished_ms))
        } else {
            format!(
                "incomplete at {} ({} failing: run it again): {what}",
                when(self.last_finished_ms),
                self.failed
            )
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub migration: String,
    pub source: String,
    pub target: String,
    /// Search windows (LivePerson API sources) and those done before.
    pub windows: usize,
    pub windows_skipped: usize,
    pub conversations: u64,
    /// Activities (to Hubster) or records (to LivePerson) written.
    pub written: u64,
    pub dead_letters: u64,
    /// Conversations still failing (run it again).
    pub failed: u64,
    /// Deliveries of an interrupted run found done.
    pub recovered: u64,
    pub interrupted: bool,
}

/// How many identities a difference lists in full.
pub(super) const LIST_LIMIT: usize = 20;

/// One conversation compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConversationCheck {
    pub conversation_id: String,
    /// Items the source converts to, and items the target holds.
    pub source: usize,
    pub target: usize,
    /// The target has no conversation for it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub target_missing: bool,
    /// In the source, not in the target.
    #[serde(skip_serializing_if = "is_zero")]
    pub missing: usize,
    /// In the source, not in the target, and new since the migration last
    /// read the source: the next run writes them (not a difference).
    #[serde(skip_serializing_if = "is_zero")]
    pub pending: usize,
    /// In the target, not from the source.
    #[serde(skip_serializing_if = "is_zero")]
    pub unexpected: usize,
    /// Held more than once by the target.
    #[serde(skip_serializing_if = "is_zero")]
    pub duplicated: usize,
    /// The first place where the target's order differs from the source's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_differs_at: Option<usize>,
    /// The first identities of each kind of difference.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// Why it could not be compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Activities in the target that convsync did not post (a hub's bot or
    /// agent answering replayed history): listed, not differences.
    #[serde(skip_serializing_if = "is_zero")]
    pub foreign: usize,
    /// The first of them: eventId, sender and what they say.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub foreign_examples: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl ConversationCheck {
    pub fn differences(&self) -> usize {
        self.missing
            + self.unexpected
            + self.duplicated
            + usize::from(self.order_differs_at.is_some())
            + usize::from(self.error.is_some())
            + usize::from(self.target_missing)
    }
}

/// The result of `--verify`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VerifyReport {
    pub migration: String,
    pub source: String,
    pub target: String,
    pub conversations: usize,
    pub conversations_matching: usize,
    pub conversations_differing: usize,
    /// Items (activities or records) the source converts to, and the
    /// target holds, over all conversations.
    pub source_items: usize,
    pub target_items: usize,
    pub missing: usize,
    /// New in the source since the migration read it: run it again.
    pub pending: usize,
    pub unexpected: usize,
    pub duplicated: usize,
    pub out_of_order: usize,
    pub errors: usize,
    /// The sum of every difference: 0 is success.
    pub differences: usize,
    /// Activities in the target that convsync did not post (not
    /// differences), and the conversations holding them.
    pub foreign: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub with_foreign: Vec<ConversationCheck>,
    /// Every conversation that differs, in detail.
    #[serde(rename = "differing")]
    pub conversations_differing_list: Vec<ConversationCheck>,
}

impl VerifyReport {
    pub(super) fn add(&mut self, c: &ConversationCheck) {
        self.conversations += 1;
        self.source_items += c.source;
        self.target_items += c.target;
        self.missing += c.missing;
        self.pending += c.pending;
        self.unexpected += c.unexpected;
        self.duplicated += c.duplicated;
        self.out_of_order += usize::from(c.order_differs_at.is_some());
        self.errors += usize::from(c.error.is_some());
        let d = c.differences();
        self.differences += d;
        self.foreign += c.foreign;
        if c.foreign > 0 && self.with_foreign.len() < LIST_LIMIT {
            self.with_foreign.push(c.clone());
        }
        if d == 0 {
            self.conversations_matching += 1;
        } else {
            self.conversations_differing += 1;
        }
    }
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "verify {}: {} -> {}",
            self.migration, self.source, self.target
        )?;
        writeln!(
            f,
            "  conversations: {} ({} match, {} differ)",
            self.conversations, self.conversations_matching, self.conversations_differing
        )?;
        writeln!(
            f,
            "  items: {} from the source, {} in the target",
            self.source_items, self.target_items
        )?;
        writeln!(
            f,
            "  missing {}, unexpected {}, duplicated {}, out of order {}, errors {}",
            self.missing, self.unexpected, self.duplicated, self.out_of_order, self.errors
        )?;
        for c in self.conversations_differing_list.iter().take(10) {
            let mut what = Vec::new();
            if c.target_missing {
                what.push("not in the target".to_owned());
            }
            if c.missing > 0 {
                what.push(format!("{} missing", c.missing));
            }
            if c.unexpected > 0 {
                what.push(format!("{} unexpected", c.unexpected));
            }
            if c.duplicated > 0 {
                what.push(format!("{} duplicated", c.duplicated));
            }
            if let Some(at) = c.order_differs_at {
                what.push(format!("order differs at {at}"));
            }
            if let Some(e) = &c.error {
                what.push(e.clone());
            }
            writeln!(f, "  {}: {}", c.conversation_id, what.join(", "))?;
        }
        if self.conversations_differing_list.len() > 10 {
            writeln!(
                f,
                "  ... and {} more (see the JSON report)",
                self.conversations_differing_list.len() - 10
            )?;
        }
        if self.foreign > 0 {
            writeln!(
                f,
                "  foreign {}: activities in the target convsync did not post (a hub's bot or agent answering replayed history?), not differences",
                self.foreign
            )?;
            for c in self.with_foreign.iter().take(10) {
                writeln!(
                    f,
                    "  {}: {} foreign: {}",
                    c.conversation_id,
                    c.foreign,
                    c.foreign_examples.join("; ")
                )?;
            }
        }
        if self.pending > 0 {
            writeln!(
                f,
                "  pending {}: new in the source since the migration read it (run it again to write them)",
                self.pending
            )?;
        }
        if self.differences == 0 {
            writeln!(f, "  0 differences")
        } else {
            writeln!(f, "  {} differences", self.differences)
        }
    }
}

/// Where `--verify` writes its report by default.
pub fn default_report_path(sync: &SyncConfig, name: &str) -> PathBuf {
    sync.state_dir.join(format!("{name}.verify.json"))
}
