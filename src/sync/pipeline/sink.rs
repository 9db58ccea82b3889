//! Where activities go: the Hubster engine, or a directory of JSONL files.
//! One request each; waiting and reading back are [`readback`](super::readback)'s.

use super::error::PipelineError;
use crate::format::Mapping;
use crate::format::hubster::IntegrationType;
use crate::platform::files::{FileError, append_activity, file_name, read_activity_lines};
use crate::platform::hubster::{HubsterClient, Side};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where activities go.
pub enum Sink {
    /// The Hubster engine: establish once, then one activity at a time.
    Hubster(Arc<HubsterClient>),
    /// A directory of `<conversation id>.jsonl` files, one activity a line.
    Files(PathBuf),
}

impl Sink {
    /// The target conversation for a source conversation, and whether it
    /// is new there (else the target may hold activities convsync sent
    /// before: Hubster's establish says `isNew: false` for a binding it
    /// has seen; a file that exists).
    pub(super) async fn open(
        &self,
        conversation_id: &str,
        mapping: &Mapping,
        profile: Option<&Value>,
    ) -> Result<(String, bool), PipelineError> {
        match self {
            Sink::Hubster(h) => {
                let by = mapping.integrations.get(mapping.establish_with);
                let e = h
                    .establish_with_profile(
                        &by.integration_id,
                        conversation_id,
                        &by.channel_type,
                        profile,
                    )
                    .await
                    .map_err(PipelineError::http(conversation_id))?;
                Ok((e.conversation_id, e.is_new))
            }
            Sink::Files(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| {
                    PipelineError::sink(conversation_id)(FileError::Write {
                        path: dir.clone(),
                        source,
                    })
                })?;
                let path = dir.join(format!("{}.jsonl", file_name(conversation_id)));
                Ok((conversation_id.to_owned(), !path.exists()))
            }
        }
    }

    /// Delivers one activity; the eventId the target gave it, if it gives
    /// them.
    pub(super) async fn deliver(
        &self,
        conversation_id: &str,
        target: &str,
        activity: &Value,
    ) -> Result<Option<i64>, PipelineError> {
        match self {
            Sink::Hubster(h) => {
                let side = match activity["sender"]["integrationType"]
                    .as_str()
                    .and_then(IntegrationType::parse)
                {
                    Some(t) => Side::of(t),
                    None => Side::Business,
                };
                // The engine assigns eventIds and says which.
                h.send_activity(target, side, activity)
                    .await
                    .map(|answer| answer["eventId"].as_i64())
                    .map_err(PipelineError::http(conversation_id))
            }
            Sink::Files(dir) => {
                let path = dir.join(format!("{}.jsonl", file_name(target)));
                append_activity(&path, activity)
                    .map(|()| None)
                    .map_err(PipelineError::sink(conversation_id))
            }
        }
    }

    /// How long an activity may take to show when read back, and how long
    /// a post whose answer was lost may still complete.
    pub(super) fn read_lag_and_settle(&self) -> (Duration, Duration) {
        match self {
            Sink::Hubster(h) => (h.read_lag(), h.unsure_settle()),
            Sink::Files(_) => (Duration::ZERO, Duration::ZERO),
        }
    }

    /// Of `external_ids`, those the target already has, with the eventId
    /// it gave each (if it gives them); and how many activities it holds
    /// that convsync did not post.
    pub(super) async fn delivered(
        &self,
        conversation_id: &str,
        target: &str,
        external_ids: &HashSet<String>,
    ) -> Result<Seen, PipelineError> {
        let found: Vec<Value> = match self {
            Sink::Hubster(h) => {
                let types = IntegrationType::SENDERS;
                h.activities(target, &types, 0)
                    .await
                    .map_err(PipelineError::http(conversation_id))?
            }
            Sink::Files(dir) => {
                let path = dir.join(format!("{}.jsonl", file_name(target)));
                read_activity_lines(&path)
                    .map_err(PipelineError::sink(conversation_id))?
                    .unwrap_or_default()
            }
        };
        let event_ids = matches!(self, Sink::Hubster(_));
        Ok(Seen {
            found: found
                .iter()
                .filter_map(|a| Some((a["externalId"].as_str()?, a["eventId"].as_i64())))
                .filter(|(e, _)| external_ids.contains(*e))
                .map(|(e, id)| (e.to_owned(), id.filter(|_| event_ids)))
                .collect(),
            foreign: found
                .iter()
                .filter(|a| {
                    is_foreign(a)
                        && !a["externalId"]
                            .as_str()
                            .is_some_and(|e| external_ids.contains(e))
                })
                .count() as u64,
        })
    }
}

/// What a read of the target found.
#[derive(Debug, Default)]
pub struct Seen {
    /// Of the activities looked for, those it holds, with their eventIds.
    pub found: HashMap<String, Option<i64>>,
    /// Activities it holds that convsync did not post ([`is_foreign`]).
    pub foreign: u64,
}

/// Whether a target's activity was posted by someone other than convsync
/// (a hub's bot or agent answering replayed history): its externalId is
/// not of convsync's form (`lp:{conversation}:...`), or it has none.
pub fn is_foreign(activity: &Value) -> bool {
    !activity["externalId"]
        .as_str()
        .is_some_and(|e| e.starts_with("lp:"))
}
