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
use crate::sync::pipeline::{file_name, strip_bom};
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
    /// A conversation of a files source that cannot be read.
    #[error("conversation {conversation_id}: {message}")]
    Source {
        conversation_id: String,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where Hubster activities come from.
pub enum ActivitySource {
    /// The engine's get activities, merged over the integration types.
    Hubster(Arc<HubsterClient>),
    /// A directory of Hubster files (see [`FileSet`](super::files::FileSet)).
    Files(Arc<super::files::FileSet>),
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
                let types = [
                    IntegrationType::Customer,
                    IntegrationType::Agent,
                    IntegrationType::Bot,
                ];
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
                        .map_err(|message| ExportError::Source {
                            conversation_id: conversation_id.to_owned(),
                            message,
                        })?;
                all.retain(|a| a["eventId"].as_i64().is_none_or(|e| e >= leid));
                // Stable: activities without an eventId keep their place at the end.
                all.sort_by_key(|a| a["eventId"].as_i64().unwrap_or(i64::MAX));
                Ok(all)
            }
        }
    }
}

/// A conversation's activities from a directory: `<id>.jsonl` (one a line;
/// a last line cut short by a crash is left out) or `<id>.json` (an array).
pub fn read_activities(dir: &Path, conversation_id: &str) -> Result<Vec<Value>, ExportError> {
    let stem = file_name(conversation_id);
    let jsonl = dir.join(format!("{stem}.jsonl"));
    let json = dir.join(format!("{stem}.json"));
    let err = |path: &Path, message: String| ExportError::File {
        path: path.display().to_string(),
        message,
    };
    match std::fs::read_to_string(&jsonl) {
        Ok(text) => {
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let mut out = Vec::with_capacity(lines.len());
            for (i, l) in lines.iter().enumerate() {
                match serde_json::from_str::<Value>(l) {
                    Ok(v) if v.is_object() => out.push(v),
                    Ok(_) => {
                        return Err(err(
                            &jsonl,
                            format!("line {}: not an activity object", i + 1),
                        ));
                    }
                    Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
                    Err(e) => return Err(err(&jsonl, format!("line {}: {e}", i + 1))),
                }
            }
            return Ok(out);
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(err(&jsonl, e.to_string()));
        }
        Err(_) => {}
    }
    match std::fs::read(&json) {
        Ok(bytes) => match serde_json::from_slice::<Value>(strip_bom(&bytes)) {
            Ok(Value::Array(a)) => Ok(a),
            Ok(_) => Err(err(&json, "not an array of activities".into())),
            Err(e) => Err(err(&json, e.to_string())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(err(
            &jsonl,
            format!("no such file (nor {})", json.display()),
        )),
        Err(e) => Err(err(&json, e.to_string())),
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
    let key = format!("export:{pipeline}:{hub_conversation_id}");
    let (s, k) = (Arc::clone(store), key.clone());
    let resume: HubsterResume = tokio::task::spawn_blocking(move || s.progress(&k))
        .await
        .expect("no panic")?
        .unwrap_or_default();
    let activities = source
        .activities(hub_conversation_id, resume.last_event_id.unwrap_or(0))
        .await?;
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
            let doc: Value = serde_json::from_slice(strip_bom(&bytes))
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
