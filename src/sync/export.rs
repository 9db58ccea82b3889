//! Hubster -> LivePerson: one Hubster conversation's activities, read from a
//! `leid` cursor kept in the store, converted, and written as LivePerson JSON
//! (`{"messageEventRecords": [...]}`, one file per conversation). A second
//! run writes only what is new.

use crate::config::Mapping;
use crate::format::hubster::IntegrationType;
use crate::format::{self, HubsterResume};
use crate::http::HttpError;
use crate::platform::hubster::HubsterClient;
use crate::store::{Store, StoreError};
use crate::sync::pipeline::file_name;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("hubster conversation {conversation_id}: {source}")]
    Http {
        conversation_id: String,
        source: HttpError,
    },
    #[error("hubster conversation {conversation_id}: {message}")]
    Convert {
        conversation_id: String,
        message: String,
    },
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Exports one Hubster conversation into `dir/<name>.json`; `name` is also
/// the dialog id of records with no LivePerson provenance (the source
/// conversation id, when there is one). Returns the records written.
pub async fn export_conversation(
    pipeline: &str,
    hub: &HubsterClient,
    hub_conversation_id: &str,
    name: &str,
    dir: &Path,
    store: &Arc<Store>,
    mapping: &Mapping,
) -> Result<usize, ExportError> {
    let key = format!("export:{pipeline}:{hub_conversation_id}");
    let (s, k) = (Arc::clone(store), key.clone());
    let resume: HubsterResume = tokio::task::spawn_blocking(move || s.progress(&k))
        .await
        .expect("no panic")?
        .unwrap_or_default();
    let types = [
        IntegrationType::Customer,
        IntegrationType::Agent,
        IntegrationType::Bot,
    ];
    let activities = hub
        .activities(
            hub_conversation_id,
            &types,
            resume.last_event_id.unwrap_or(0),
        )
        .await
        .map_err(|source| ExportError::Http {
            conversation_id: hub_conversation_id.to_owned(),
            source,
        })?;
    let out = format::to_liveperson(name, &activities, mapping, &resume).map_err(|e| {
        ExportError::Convert {
            conversation_id: hub_conversation_id.to_owned(),
            message: e.to_string(),
        }
    })?;
    let written = if out.records.is_empty() {
        0
    } else {
        append_records(&dir.join(format!("{}.json", file_name(name))), out.records)?
    };
    // The file first, then the cursor: after a crash in between, the same
    // records come again and are recognized by their (dialog, sequence).
    let (s, next) = (Arc::clone(store), out.resume);
    tokio::task::spawn_blocking(move || s.set_progress(&key, &next))
        .await
        .expect("no panic")?;
    Ok(written)
}

/// A record's identity in a file: (dialogId, sequence), or the whole record
/// when it has no sequence.
fn identity(r: &Value) -> String {
    match r["sequence"].as_i64() {
        Some(s) => format!("{}\u{1f}{s}", r["dialogId"].as_str().unwrap_or("")),
        None => r.to_string(),
    }
}

/// Adds records to a LivePerson JSON file (written whole, atomically),
/// leaving out any it already holds. Returns how many it added.
fn append_records(path: &Path, records: Vec<Value>) -> Result<usize, ExportError> {
    let err = |m: String| ExportError::File {
        path: path.display().to_string(),
        message: m,
    };
    let mut existing: Vec<Value> = match std::fs::read(path) {
        Ok(bytes) => {
            let doc: Value = serde_json::from_slice(&bytes)
                .map_err(|e| err(format!("not a LivePerson JSON file: {e}")))?;
            match doc.get("messageEventRecords") {
                Some(Value::Array(a)) => a.clone(),
                _ => return Err(err("has no messageEventRecords array".into())),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(err(e.to_string())),
    };
    let have: HashSet<String> = existing.iter().map(identity).collect();
    let before = existing.len();
    existing.extend(records.into_iter().filter(|r| !have.contains(&identity(r))));
    let added = existing.len() - before;
    if added == 0 {
        return Ok(0);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(&json!({ "messageEventRecords": existing }))
        .expect("values serialize");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()
    };
    write().map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))?;
    Ok(added)
}
