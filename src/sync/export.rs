//! Hubster -> LivePerson: one Hubster conversation's activities, read from a
//! `leid` cursor kept in the store, converted, and written as LivePerson JSON
//! (`{"messageEventRecords": [...]}`, one file per conversation). A second
//! run writes only what is new.

use crate::format::Mapping;
use crate::format::hubster::IntegrationType;
use crate::format::{self, HubsterResume};
use crate::http::HttpError;
use crate::platform::files::{FileError, FileSet, Unreadable, append_records, file_name};
use crate::platform::hubster::HubsterClient;
use crate::store::{Store, StoreError, progress_key};
use crate::sync::deps::{Deps, Settings, blocking};
use crate::sync::runner::{Failure, Synced, Verdict, Work};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("hubster conversation {conversation_id}: {source}")]
    Http {
        conversation_id: String,
        source: HttpError,
    },
    #[error("hubster conversation {conversation_id}: {source}")]
    Convert {
        conversation_id: String,
        source: crate::format::ConvertError,
    },
    #[error(transparent)]
    File(#[from] FileError),
    /// A conversation whose files cannot be read.
    #[error("conversation {conversation_id}: {source}")]
    Source {
        conversation_id: String,
        source: Unreadable,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Failure for ExportError {
    fn class(&self) -> &'static str {
        match self {
            ExportError::Convert { .. } => "convert",
            ExportError::File { .. } => "file",
            ExportError::Source { .. } => "source",
            _ => "http",
        }
    }
    fn is_retryable(&self) -> bool {
        matches!(self, ExportError::Http { source, .. } if source.is_retryable())
    }
    fn store_error(self) -> Result<StoreError, Self> {
        match self {
            ExportError::Store(e) => Ok(e),
            e => Err(e),
        }
    }
}

/// Exporting conversations into a directory of LivePerson JSON files, as
/// the [runner](super::runner) works them: one that cannot be converted or
/// read is a dead letter at once; one whose reads fail is tried again.
pub struct ExportWork {
    settings: Settings,
    source: ActivitySource,
    dir: PathBuf,
    /// Conversations whose file is not named by their id (see
    /// [`export_conversation`]'s `name`).
    names: HashMap<String, String>,
    store: Arc<Store>,
    mapping: Arc<Mapping>,
}

impl ExportWork {
    pub fn new(
        deps: &Deps,
        source: ActivitySource,
        dir: &Path,
        names: HashMap<String, String>,
    ) -> Arc<ExportWork> {
        Arc::new(ExportWork {
            settings: deps.settings.clone(),
            source,
            dir: dir.to_owned(),
            names,
            store: Arc::clone(&deps.store),
            mapping: Arc::clone(&deps.mapping),
        })
    }
}

impl Work for ExportWork {
    type Error = ExportError;

    async fn sync(&self, id: &str) -> Result<Synced, ExportError> {
        let name = self.names.get(id).map_or(id, String::as_str);
        export_conversation(
            &self.settings.pipeline,
            &self.source,
            id,
            name,
            &self.dir,
            &self.store,
            &self.mapping,
        )
        .await
        .map(|n| Synced::from(n as u64))
    }

    async fn failed(&self, _id: &str, e: &ExportError) -> Result<Verdict, StoreError> {
        Ok(if e.is_retryable() {
            Verdict::Retry
        } else {
            Verdict::Dead
        })
    }
}

/// Where Hubster activities come from.
pub enum ActivitySource {
    /// The engine's get activities, merged over the integration types.
    Hubster(Arc<HubsterClient>),
    /// A directory of Hubster files (see [`FileSet`]).
    Files(Arc<FileSet>),
}

impl ActivitySource {
    /// One conversation's activities from eventId `leid` on, in eventId order.
    pub async fn activities(
        &self,
        conversation_id: &str,
        leid: i64,
    ) -> Result<Vec<Value>, ExportError> {
        match self {
            ActivitySource::Hubster(hub) => {
                let types = IntegrationType::SENDERS;
                hub.activities(conversation_id, &types, leid)
                    .await
                    .map_err(|source| ExportError::Http {
                        conversation_id: conversation_id.to_owned(),
                        source,
                    })
            }
            ActivitySource::Files(set) => {
                let mut all =
                    set.activities(conversation_id)
                        .map_err(|source| ExportError::Source {
                            conversation_id: conversation_id.to_owned(),
                            source,
                        })?;
                all.retain(|a| a["eventId"].as_i64().is_none_or(|e| e >= leid));
                // Stable: activities without an eventId keep their place at the end.
                all.sort_by_key(|a| a["eventId"].as_i64().unwrap_or(i64::MAX));
                Ok(all)
            }
        }
    }
}

/// Exports one Hubster conversation into `dir/<name>.json`; `name` is also
/// the dialog id of records with no LivePerson provenance. Returns the
/// records written.
pub async fn export_conversation(
    pipeline: &str,
    source: &ActivitySource,
    hub_conversation_id: &str,
    name: &str,
    dir: &Path,
    store: &Arc<Store>,
    mapping: &Mapping,
) -> Result<usize, ExportError> {
    let key = progress_key::export(pipeline, hub_conversation_id);
    let k = key.clone();
    let resume: HubsterResume = blocking(store, move |s| s.progress(&k))
        .await?
        .unwrap_or_default();
    let activities = source
        .activities(hub_conversation_id, resume.last_event_id.unwrap_or(0))
        .await?;
    let out = format::to_liveperson(name, &activities, mapping, &resume).map_err(|e| {
        ExportError::Convert {
            conversation_id: hub_conversation_id.to_owned(),
            source: e,
        }
    })?;
    let written = if out.records.is_empty() {
        0
    } else {
        append_records(&dir.join(format!("{}.json", file_name(name))), out.records)?
    };
    // The file first, then the cursor: after a crash in between, the same
    // records come again and are recognized by their (dialog, sequence).
    let next = out.resume;
    blocking(store, move |s| s.set_progress(&key, &next)).await?;
    Ok(written)
}
