//! Where LivePerson records come from: the Messaging History API or a
//! directory of files.

use super::error::{PipelineError, Unconvertible};
use crate::platform::files::FileSet;
use crate::platform::liveperson::{
    LivePersonClient, RouteChoice, RouteMemory, Shown, TranscriptError,
};
use crate::store::Store;
use serde_json::Value;
use std::sync::Arc;

/// Where LivePerson records come from.
pub enum Source {
    /// The Messaging History API.
    LivePerson(Arc<LivePersonClient>),
    /// A directory of LivePerson files (see [`FileSet`]).
    Files(Arc<FileSet>),
}

/// One conversation as its source answered: its records, what the source
/// says of its consumer (Hubster's `properties.profile`), and what the
/// answer proves.
#[derive(Debug, Clone)]
pub struct Read {
    pub records: Vec<Value>,
    pub consumer: Option<Value>,
    pub shown: Shown,
}

impl Source {
    /// One conversation's records, as the source answered.
    pub async fn content(&self, conversation_id: &str) -> Result<Read, PipelineError> {
        match self {
            Source::LivePerson(lp) => match lp.transcript(conversation_id).await {
                Ok(f) => Ok(Read {
                    records: f.records,
                    consumer: f.consumer,
                    shown: f.shown,
                }),
                Err(TranscriptError::Http(source)) => Err(PipelineError::Http {
                    conversation_id: conversation_id.to_owned(),
                    source,
                }),
                Err(TranscriptError::Malformed(e)) => Err(PipelineError::convert(
                    conversation_id,
                    Unconvertible::Transcript(e),
                )),
            },
            // A directory holds what it holds.
            Source::Files(set) => set
                .records(conversation_id)
                .map(|records| Read {
                    records,
                    consumer: None,
                    shown: Shown::Whole,
                })
                .map_err(|e| PipelineError::convert(conversation_id, Unconvertible::Files(e))),
        }
    }

    /// Keeps what the LivePerson client learns of its transcript route in
    /// `store`, and reads what it learned before (blocking: at setup).
    pub fn remember_route_in(&self, store: &Arc<Store>) {
        if let Source::LivePerson(lp) = self {
            lp.remember_with(Arc::new(StoredRoute {
                store: Arc::clone(store),
                key: crate::store::progress_key::transcript_route(lp.account()),
            }));
        }
    }

    /// Says in which order conversations will be synced (the interactions
    /// route fetches them 100 at a time in that order).
    pub fn hint(&self, ids: &[String]) {
        if let Source::LivePerson(lp) = self {
            lp.hint(ids);
        }
    }

    /// The API client, when the source is the API.
    pub fn liveperson(&self) -> Option<&LivePersonClient> {
        match self {
            Source::LivePerson(lp) => Some(lp),
            Source::Files(_) => None,
        }
    }
}

/// `auto`'s transcript route, kept in the store's progress table.
struct StoredRoute {
    store: Arc<Store>,
    key: String,
}

impl RouteMemory for StoredRoute {
    fn load(&self) -> Option<RouteChoice> {
        match self.store.progress(&self.key) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the remembered transcript route");
                None
            }
        }
    }

    fn save(&self, choice: &RouteChoice) {
        if let Err(e) = self.store.set_progress(&self.key, choice) {
            tracing::warn!(error = %e, "cannot remember the transcript route");
        }
    }
}
