//! What the store keeps, row by row.

use crate::format::{LpResume, Mark};
use serde::{Deserialize, Serialize};

/// What the store knows of one (pipeline, conversation). Stored as JSON
/// with one-letter names (schema 3; the long names of 1 and 2 still
/// read): a store holds one of these per conversation for 13 months.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationState {
    /// What was delivered (sequences, status keys, last eventId); empty
    /// once sealed.
    #[serde(
        rename = "r",
        alias = "resume",
        default,
        skip_serializing_if = "LpResume::is_empty"
    )]
    pub resume: LpResume,
    /// The target's conversation id (Hubster), once established.
    #[serde(
        rename = "t",
        alias = "target_conversation_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub target_conversation_id: Option<String>,
    /// Activities delivered so far.
    #[serde(rename = "n", alias = "delivered", default)]
    pub delivered: u64,
    /// Failed runs in a row.
    #[serde(
        rename = "a",
        alias = "attempts",
        default,
        skip_serializing_if = "is_zero"
    )]
    pub attempts: u32,
    #[serde(
        rename = "x",
        alias = "last_error",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_error: Option<String>,
    #[serde(
        rename = "p",
        alias = "last_polled_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_polled_ms: Option<i64>,
    /// The source's latest update time when last synced.
    #[serde(
        rename = "u",
        alias = "last_updated_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_updated_ms: Option<i64>,
    /// The latest eventId the target gave a delivered activity (Hubster
    /// assigns its own; the resume point keeps convsync's, which follow the
    /// source's timestamps).
    #[serde(
        rename = "e",
        alias = "target_event_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub target_event_id: Option<i64>,
    /// When the intents of the last try were written (its posts came
    /// after): until the target's settle time has passed since, an
    /// activity not yet seen there may still arrive.
    #[serde(
        rename = "w",
        alias = "intents_written_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub intents_written_ms: Option<i64>,
    /// Set when the source said the conversation is closed and every
    /// activity it converts to was delivered: a digest of their
    /// externalIds, which stands for the resume point (then empty). The
    /// same records read again are recognised by it; changed ones are
    /// looked up in the target before anything is sent.
    #[serde(
        rename = "s",
        alias = "sealed",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sealed: Option<String>,
    /// The store's trust epoch when this checkpoint was written (or read
    /// against the target): one of an older epoch is read against the
    /// target before it is believed.
    #[serde(rename = "v", default, skip_serializing_if = "is_zero64")]
    pub epoch: u64,
    /// Set while the source's answers do not prove the conversation whole
    /// (truncated, empty, or a 4xx that does not say why): never sealed,
    /// read again when due. Kept in the held index too (one commit).
    #[serde(rename = "h", default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
}

/// A conversation held open: the source's last answer did not prove it
/// whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// What the answer showed (`partial`, `empty`, `unexplained_4xx`).
    pub shown: String,
    /// Since when (epoch ms).
    pub since_ms: i64,
    /// Reads in a row that did not prove it whole.
    pub tries: u32,
    /// When to read it again (epoch ms).
    pub next_ms: i64,
    /// The source listed it closed: sealed once read whole.
    pub closed: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero64(n: &u64) -> bool {
    *n == 0
}

/// An activity about to be sent: if the process dies before the checkpoint
/// records it, recovery asks the target whether it arrived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub external_id: String,
    /// What marks it delivered in the resume point.
    pub mark: StoredMark,
    pub event_id: Option<i64>,
}

/// [`Mark`], owned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredMark {
    Sequence { dialog_id: String, sequence: i64 },
    Key(String),
}

impl From<&Mark<'_>> for StoredMark {
    fn from(m: &Mark) -> Self {
        match m {
            Mark::Sequence {
                dialog_id,
                sequence,
            } => StoredMark::Sequence {
                dialog_id: (*dialog_id).to_owned(),
                sequence: *sequence,
            },
            Mark::Key(k) => StoredMark::Key(k.clone()),
        }
    }
}

impl StoredMark {
    pub fn as_mark(&self) -> Mark<'_> {
        match self {
            StoredMark::Sequence {
                dialog_id,
                sequence,
            } => Mark::Sequence {
                dialog_id,
                sequence: *sequence,
            },
            StoredMark::Key(k) => Mark::Key(k.clone()),
        }
    }
}

/// What a prune removed from a pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pruned {
    pub pipeline: String,
    pub at_ms: i64,
    /// Nothing last updated at or after this was touched.
    pub cutoff_ms: i64,
    pub conversations: u64,
    /// Digests of conversations pruned before, forgotten (the source can
    /// no longer return them).
    #[serde(default)]
    pub forgotten: u64,
    pub dead_letters: u64,
    /// Finished backfill windows ending before the cutoff.
    pub progress: u64,
    /// The file's size before and after (after compacting, if it was).
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub compacted: bool,
}

/// A conversation set aside after its retry budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub pipeline: String,
    pub conversation_id: String,
    /// `convert`, `http`, `target`, ...
    pub class: String,
    pub message: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub attempts: u32,
}

/// A job a running daemon took over for a command, kept in the progress
/// table while it runs (`job:<id>`), so that a daemon killed during it
/// resumes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptJob {
    /// The job, as the engine describes it (its `kind` says which).
    pub job: serde_json::Value,
    pub started_ms: i64,
    /// In words, for `status` (empty in jobs kept by older versions).
    #[serde(default)]
    pub described: String,
}

impl KeptJob {
    /// In words: as described, else its kind.
    pub fn describe(&self) -> String {
        if self.described.is_empty() {
            self.job["kind"].as_str().unwrap_or("job").to_owned()
        } else {
            self.described.clone()
        }
    }
}
