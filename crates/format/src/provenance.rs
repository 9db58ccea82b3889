//! LivePerson provenance on Hubster activities, and restoring the original
//! record from it.
//!
//! A message carries `channels: [{"type": "LivePerson", "metadata": [{"key",
//! "value"}...]}]` with string values; a `liveperson.*` payload event carries
//! the same keys as typed JSON fields of its payload. The keys:
//!
//! | key | holds |
//! |---|---|
//! | originatorId, role, dialogId, sequence, serverTimestamp | the record's envelope |
//! | contentType | ContentEvent's contentType |
//! | caption, relativePath, fileType, preview, invitationId, title | the message object's string fields |
//! | richContent / richContentJson | RichContentEvent content (a string / an object) |
//! | originatorMetadata | only when it is not `{id: originatorId, role}`: its JSON, or "" when absent |
//! | extra, eventExtra, messageExtra | JSON objects of fields not otherwise mapped |

use serde_json::{Map, Value};

pub mod key {
    pub const ORIGINATOR_ID: &str = "originatorId";
    pub const ROLE: &str = "role";
    pub const DIALOG_ID: &str = "dialogId";
    pub const SEQUENCE: &str = "sequence";
    pub const SERVER_TIMESTAMP: &str = "serverTimestamp";
    pub const ORIGINATOR_METADATA: &str = "originatorMetadata";
    pub const EXTRA: &str = "extra";
    pub const EVENT_EXTRA: &str = "eventExtra";
    pub const MESSAGE_EXTRA: &str = "messageExtra";
    pub const CONTENT_TYPE: &str = "contentType";
    pub const RICH_CONTENT: &str = "richContent";
    pub const RICH_CONTENT_JSON: &str = "richContentJson";
    pub const STATUS: &str = "status";
    pub const SEQUENCE_LIST: &str = "sequenceList";
    pub const CHAT_STATE: &str = "chatState";
}

/// The `originatorMetadata` value meaning "the record had none".
pub const ABSENT: &str = "";

/// Message object fields that travel as their own keys.
pub const MESSAGE_FIELDS: &[&str] = &[
    "caption",
    "relativePath",
    "fileType",
    "preview",
    "invitationId",
    "title",
];

/// Provenance read from either place, values normalized to JSON.
/// Provenance that cannot be read back: which key, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct BadProvenance(pub String);

pub struct Source {
    fields: Map<String, Value>,
    /// Metadata values are strings; payload values are typed.
    stringly: bool,
}

impl Source {
    /// From a message's `channels`; `None` if it has no LivePerson channel.
    pub fn from_channels(message: &Value) -> Option<Source> {
        let chan = message.get("channels")?.as_array()?.iter().find(|c| {
            c.get("type").and_then(Value::as_str) == Some(super::hubster::LIVEPERSON_CHANNEL)
        })?;
        let mut fields = Map::new();
        for kv in chan.get("metadata")?.as_array()? {
            let (Some(k), Some(v)) = (kv.get("key").and_then(Value::as_str), kv.get("value"))
            else {
                continue;
            };
            fields.insert(k.to_owned(), v.clone());
        }
        Some(Source {
            fields,
            stringly: true,
        })
    }

    /// From a payload object.
    pub fn from_payload(payload: &Map<String, Value>) -> Source {
        Source {
            fields: payload.clone(),
            stringly: false,
        }
    }

    pub fn has(&self, k: &str) -> bool {
        self.fields.contains_key(k)
    }

    pub fn str(&self, k: &str) -> Result<Option<&str>, BadProvenance> {
        match self.fields.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(BadProvenance(format!(
                "provenance key {k:?} is not a string"
            ))),
        }
    }

    pub fn int(&self, k: &str) -> Result<Option<i64>, BadProvenance> {
        match self.fields.get(k) {
            None => Ok(None),
            Some(Value::String(s)) if self.stringly => s.parse().map(Some).map_err(|_| {
                BadProvenance(format!("provenance key {k:?} is not an integer: {s:?}"))
            }),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| BadProvenance(format!("provenance key {k:?} is not an integer"))),
        }
    }

    /// A JSON value; in metadata it is JSON text. `Some(None)` = marked absent.
    pub fn json(&self, k: &str) -> Result<Option<Option<Value>>, BadProvenance> {
        match self.fields.get(k) {
            None => Ok(None),
            Some(Value::String(s)) if s == ABSENT => Ok(Some(None)),
            Some(Value::String(s)) if self.stringly => serde_json::from_str(s)
                .map(|v| Some(Some(v)))
                .map_err(|e| BadProvenance(format!("provenance key {k:?} is not JSON: {e}"))),
            Some(v) => Ok(Some(Some(v.clone()))),
        }
    }

    /// A value that must be an object when present (extra, eventExtra, ...).
    fn object(&self, k: &str) -> Result<Map<String, Value>, BadProvenance> {
        match self.json(k)? {
            None | Some(None) => Ok(Map::new()),
            Some(Some(Value::Object(o))) => Ok(o),
            Some(Some(_)) => Err(BadProvenance(format!(
                "provenance key {k:?} is not a JSON object"
            ))),
        }
    }

    /// The original record around `event` (whose own fields the caller set).
    pub fn record(&self, mut event: Map<String, Value>) -> Result<Value, BadProvenance> {
        let mut rec = Map::new();
        if let Some(v) = self.int(key::SEQUENCE)? {
            rec.insert("sequence".into(), v.into());
        }
        for k in [key::DIALOG_ID, key::ORIGINATOR_ID] {
            if let Some(v) = self.str(k)? {
                rec.insert(k.into(), v.into());
            }
        }
        if let Some(v) = self.int(key::SERVER_TIMESTAMP)? {
            rec.insert("serverTimestamp".into(), v.into());
        }
        match self.json(key::ORIGINATOR_METADATA)? {
            Some(None) => {}
            Some(Some(v)) => {
                rec.insert("originatorMetadata".into(), v);
            }
            None => {
                let mut om = Map::new();
                if let Some(id) = self.str(key::ORIGINATOR_ID)? {
                    om.insert("id".into(), id.into());
                }
                if let Some(role) = self.str(key::ROLE)? {
                    om.insert("role".into(), role.into());
                }
                rec.insert("originatorMetadata".into(), om.into());
            }
        }
        for (k, v) in self.object(key::EXTRA)? {
            rec.insert(k, v);
        }
        for (k, v) in self.object(key::EVENT_EXTRA)? {
            event.insert(k, v);
        }
        rec.insert("event".into(), event.into());
        Ok(rec.into())
    }

    /// The message object of a hosted/file or form record.
    pub fn message_object(&self) -> Result<Map<String, Value>, BadProvenance> {
        let mut m = Map::new();
        for k in MESSAGE_FIELDS {
            if let Some(v) = self.str(k)? {
                m.insert((*k).into(), v.into());
            }
        }
        for (k, v) in self.object(key::MESSAGE_EXTRA)? {
            m.insert(k, v);
        }
        Ok(m)
    }
}
