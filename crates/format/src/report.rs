//! What a conversion did: counts per kind, and every lossy or doubtful choice.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// How many warning examples a merged report keeps (counts are never capped).
pub const SAMPLE_LIMIT: usize = 20;

/// Counts and warnings of one conversion, or of a whole run once merged.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Conversations converted.
    pub conversations: u64,
    /// Conversations (or input lines) that could not be converted.
    pub failed: u64,
    /// Records or activities read.
    pub input: u64,
    /// Records or activities written.
    pub output: u64,
    /// Inputs that repeated an identity already seen (dropped).
    pub duplicates: u64,
    /// Inputs left out because the resume point says they were delivered.
    pub already_delivered: u64,
    /// Output per kind, e.g. `message:text`, `event:liveperson.accept-status`,
    /// `ContentEvent:text/plain`.
    pub kinds: BTreeMap<String, u64>,
    /// Warnings per kind (see [`WarningKind`]).
    pub warnings: BTreeMap<&'static str, u64>,
    /// The first warnings in full.
    pub samples: Vec<Warning>,
    /// The kinds warned since a conversion last took them (to tie each
    /// warning to the activity it was about).
    #[serde(skip)]
    pub(crate) recent: Vec<&'static str>,
}

/// One doubtful or lossy choice, with where it happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    pub kind: &'static str,
    pub conversation_id: String,
    pub detail: String,
}

/// The kinds of warning a conversion reports.
pub mod kind {
    pub const UNKNOWN_ROLE: &str = "unknown_role";
    pub const SKIPPED_ROLE: &str = "skipped_role";
    pub const UNPARSEABLE_RICH_CONTENT: &str = "unparseable_rich_content";
    pub const MALFORMED_EVENT: &str = "malformed_event";
    pub const UNKNOWN_CONTENT_TYPE: &str = "unknown_content_type";
    pub const UNKNOWN_EVENT_TYPE: &str = "unknown_event_type";
    pub const DROPPED_PREVIEW: &str = "dropped_preview";
    pub const DROPPED_TYPING: &str = "dropped_typing";
    pub const DROPPED_UNMAPPED: &str = "dropped_unmapped";
    pub const SKIPPED_SENDER: &str = "skipped_sender";
    /// A private message (agents and managers only) left out, or carried
    /// as an event (`mapping.private_messages`).
    pub const PRIVATE_MESSAGE: &str = "private_message";
    /// An event of a type Hubster does not document as supported (a chat
    /// state): carried as a payload, left out, or posted
    /// (`mapping.unsupported_events`).
    pub const UNSUPPORTED_EVENT: &str = "unsupported_event";
    /// A customer's structured content sent as text (a customer's
    /// integration sends messages, not cards).
    pub const CUSTOMER_CARD_AS_TEXT: &str = "customer_card_as_text";
    pub const UNMAPPED_ACTIVITY: &str = "unmapped_activity";
    pub const BROKEN_PROVENANCE: &str = "broken_provenance";
    /// Structured content split, shortened or written as text to keep
    /// within LivePerson's limits.
    pub const FITTED_TO_LIVEPERSON: &str = "fitted_to_liveperson";
    /// A document whose records name no conversation, named by its file.
    pub const CONVERSATION_ID_FROM_FILE_NAME: &str = "conversation_id_from_file_name";
    /// A record whose dialogId and sequence come from its activity's
    /// externalId only (its provenance did not travel).
    pub const FROM_EXTERNAL_ID: &str = "restored_from_external_id";
    /// A map or navigation to a point that is not a place on Earth
    /// (latitude beyond 90 or longitude beyond 180): what the source said,
    /// written as text.
    pub const NOT_A_PLACE: &str = "not_a_place";
    /// A structured-content action Hubster has no equivalent for (add to
    /// cart, a date picker, a custom action...): a postback carrying it.
    pub const ACTION_AS_POSTBACK: &str = "action_as_postback";
    /// A choice of several (a checklist, a carousel or accordion selecting
    /// several): each option a reply of its own.
    pub const SELECTION_NOT_CARRIED: &str = "selection_not_carried";
    /// A structured-content element of a type json-pollock's schema does
    /// not list: its title, subtitle and text kept.
    pub const UNKNOWN_ELEMENT: &str = "unknown_element";
}

impl Report {
    pub fn count(&mut self, kind: &str) {
        match self.kinds.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                self.kinds.insert(kind.to_owned(), 1);
            }
        }
        self.output += 1;
    }

    pub fn warn(&mut self, kind: &'static str, conversation_id: &str, detail: impl Into<String>) {
        *self.warnings.entry(kind).or_default() += 1;
        self.recent.push(kind);
        if self.samples.len() < SAMPLE_LIMIT {
            self.samples.push(Warning {
                kind,
                conversation_id: conversation_id.to_owned(),
                detail: detail.into(),
            });
        }
    }

    /// Adds another report's counts (and samples, up to the limit) to this one.
    pub fn merge(&mut self, other: Report) {
        self.conversations += other.conversations;
        self.failed += other.failed;
        self.input += other.input;
        self.output += other.output;
        self.duplicates += other.duplicates;
        self.already_delivered += other.already_delivered;
        for (k, v) in other.kinds {
            match self.kinds.get_mut(&k) {
                Some(n) => *n += v,
                None => {
                    self.kinds.insert(k, v);
                }
            }
        }
        for (k, v) in other.warnings {
            *self.warnings.entry(k).or_default() += v;
        }
        let room = SAMPLE_LIMIT.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.into_iter().take(room));
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(
            f,
            "converted {} conversation(s), {} failed; read {}, wrote {}, {} duplicate(s) dropped, {} already delivered",
            self.conversations,
            self.failed,
            self.input,
            self.output,
            self.duplicates,
            self.already_delivered
        )?;
        for (k, v) in &self.kinds {
            writeln!(f, "  {k:<44} {v:>10}")?;
        }
        if !self.warnings.is_empty() {
            writeln!(f, "warnings:")?;
            for (k, v) in &self.warnings {
                writeln!(f, "  {k:<44} {v:>10}")?;
            }
            for w in &self.samples {
                writeln!(
                    f,
                    "  - {} (conversation {}): {}",
                    w.kind, w.conversation_id, w.detail
                )?;
            }
            let total: u64 = self.warnings.values().sum();
            if total > self.samples.len() as u64 {
                writeln!(f, "  ... {} more", total - self.samples.len() as u64)?;
            }
        }
        Ok(())
    }
}
