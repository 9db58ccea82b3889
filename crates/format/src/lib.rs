//! The format adapter: LivePerson `messageEventRecords` <-> Hubster Activities.
//!
//! Pure functions of (conversation id, input, mapping config, resume point): no
//! I/O, no clock, no randomness, so the same input always gives byte-identical
//! output. Nothing is silently lost: what has no faithful equivalent travels as
//! a payload (or a `hubster/activity` record) carrying the original, and every
//! lossy choice is counted in the [`Report`].
//!
//! - [`to_hubster()`]: one LivePerson conversation -> activities in delivery order.
//! - [`to_liveperson()`]: one Hubster conversation -> records.

pub mod hubster;
pub mod hubster_in;
pub mod identity;
pub mod interactions;
pub mod json;
pub mod limits;
pub mod liveperson;
pub mod mapping;
pub mod maps;
pub mod provenance;
pub mod report;
pub mod resume;
pub mod rich;
pub mod to_hubster;
pub mod to_liveperson;

pub use mapping::{Mapping, UnknownRole, UnsupportedEvents};
pub use report::{Report, Warning};
pub use resume::{HubsterResume, KeyDigests, LpResume, Mark, SeqSet};
pub use to_hubster::{ToHubster, next_event_id, to_hubster};
pub use to_liveperson::{ToLivePerson, to_liveperson};

/// `payloadType`s of the payload events that carry LivePerson data.
pub mod payload {
    pub const ACCEPT_STATUS: &str = "liveperson.accept-status";
    pub const SECURE_FORM_SUBMISSION: &str = "liveperson.secure-form-submission";
    pub const RICH_CONTENT: &str = "liveperson.rich-content";
    pub const CONTENT: &str = "liveperson.content";
    pub const EVENT: &str = "liveperson.event";
    /// A private message (agents and managers only), carried whole.
    pub const PRIVATE_MESSAGE: &str = "liveperson.private-message";
}

/// The record field holding the original activity of a record made from a
/// Hubster activity (so LivePerson -> Hubster restores it exactly).
pub const HUBSTER_ACTIVITY_FIELD: &str = "hubsterActivity";

/// The contentType of a record carrying an activity with no LivePerson
/// equivalent; its `message` is the activity.
pub const HUBSTER_ACTIVITY_CONTENT_TYPE: &str = "hubster/activity";

/// A conversation that cannot be converted. Everything else in the run goes on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConvertError {
    #[error("conversation {conversation_id}: {record}: {reason}")]
    Record {
        conversation_id: String,
        record: String,
        reason: String,
    },
    #[error("{0}")]
    Input(String),
}

/// The conversation id of a lone LivePerson conversation: the one dialogId its
/// records share (the main dialog's id is the conversation id).
pub fn main_dialog(records: &[liveperson::Record]) -> Result<Option<String>, ConvertError> {
    let mut dialogs: Vec<&str> = records
        .iter()
        .filter_map(|r| r.dialog_id.as_ref().map(json::Str::as_str))
        .collect();
    dialogs.sort_unstable();
    dialogs.dedup();
    match dialogs.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).to_owned())),
        many => Err(ConvertError::Input(format!(
            "cannot tell the conversation id: the records span {} dialogs ({}); pass --conversation-id",
            many.len(),
            many.join(", ")
        ))),
    }
}
