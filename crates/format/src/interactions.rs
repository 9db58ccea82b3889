//! LivePerson's second transcript shape: a Messaging Interactions
//! `conversationHistoryRecords[]` entry (`messageRecords`,
//! `messageStatuses`, participants lists) read into the same records as
//! content search's `messageEventRecords`, so that everything downstream
//! (identity, conversion, resume) is the same whichever route a transcript
//! came by:
//!
//! - a message becomes a record with the same `sequence` (`seq`), `dialogId`
//!   (the main dialog, whose id is the conversation id, when the field is
//!   missing or `"undefined"`), `originatorId` (`participantId`) and
//!   `serverTimestamp` (`timeL`), so its externalId is the one content
//!   search gives it;
//! - receipts (`messageStatuses`, one entry per message) are grouped back
//!   into AcceptStatusEvents by (dialog, participant, status, time), the
//!   sequences ascending: one receipt content search lists as
//!   `sequenceList [1, 2]` is the same record here;
//! - roles come from `sentBy` and the participants lists: Consumer ->
//!   `CONSUMER`; an agent participant that is a bot -> `CONTROLLER`; any
//!   other agent -> its permission (`ASSIGNED_AGENT`, `READER`, ...) or
//!   role, else `AGENT`;
//! - the consumer's names (`consumerParticipants`) become the profile a
//!   Hubster establish takes (`first name`, `last name`, `full name`,
//!   `email`).
//!
//! Every documented variant is read: `seq` as a number or a string holding
//! one (the field table types it "string"), the type spellings of the
//! field table ("text", "file"), `quickReplies` on text and on rich
//! content. A `type` convsync does not know is carried, never refused: a
//! ContentEvent whose `contentType` is the raw type and whose `message` is
//! its `messageData`, which the converter keeps whole (with a warning). A
//! record that cannot be read at all (a `seq` missing or not a number, a
//! field of the wrong type) makes the conversation an error naming the
//! conversation and the field.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// One conversation's transcript, read from Messaging Interactions.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// Records in content search's shape (content first, then receipts).
    pub records: Vec<Value>,
    /// What the participants lists say of the consumer, as Hubster's
    /// `properties.profile` takes it; `None` when they say nothing.
    pub consumer: Option<Value>,
}

/// A transcript that cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("conversation {conversation_id}: {field}: {reason}")]
pub struct InteractionsError {
    pub conversation_id: String,
    /// The field at fault, e.g. `messageRecords[3].seq`.
    pub field: String,
    pub reason: String,
}

/// The `messageRecords[].type`s convsync reads, with the spellings the
/// documentation's field table also uses.
pub const MESSAGE_TYPES: &[&str] = &[
    "TEXT_PLAIN",
    "TEXT_HTML",
    "LINK",
    "HOSTED_FILE",
    "IMG",
    "SECURE_FORM_INVITATION",
    "SECURE_FORM_SUBMIT",
    "RICH_CONTENT",
    "text",
    "file",
];

/// The `contentToRetrieve` a transcript needs.
pub const CONTENT_TO_RETRIEVE: &[&str] = &[
    "messageRecords",
    "messageStatuses",
    "agentParticipants",
    "consumerParticipants",
];

/// The conversation id a `conversationHistoryRecords[]` entry's `info`
/// names.
pub fn conversation_id(info: &Value) -> Option<&str> {
    info["conversationId"].as_str()
}

/// Reads one `conversationHistoryRecords[]` entry of conversation
/// `conversation_id`.
pub fn transcript(conversation_id: &str, entry: &Value) -> Result<Transcript, InteractionsError> {
    let err = |field: String, reason: String| InteractionsError {
        conversation_id: conversation_id.to_owned(),
        field,
        reason,
    };
    // Older examples spell some lists differently; accept both.
    let list = |names: &[&'static str]| -> Result<(&'static str, &[Value]), InteractionsError> {
        for name in names {
            match entry.get(*name) {
                None | Some(Value::Null) => continue,
                Some(Value::Array(a)) => return Ok((name, a.as_slice())),
                Some(other) => {
                    return Err(err(
                        (*name).to_owned(),
                        format!("is {}, not a list", kind_of(other)),
                    ));
                }
            }
        }
        Ok((names[0], &[]))
    };
    let (messages_name, messages) = list(&["messageRecords", "messagesRecords"])?;
    let (statuses_name, statuses) = list(&["messageStatuses", "messageStatus"])?;
    let (_, agents) = list(&["agentParticipants"])?;
    let (_, consumers) = list(&["consumerParticipants", "consumerParticipant"])?;

    let dialog_of = |v: &Value| match v.get("dialogId") {
        Some(Value::String(d)) if !d.is_empty() && d != "undefined" && d != "null" => {
            Some(d.clone())
        }
        _ => None,
    };
    // agentId -> (role, is a bot)
    let mut agent_roles: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for a in agents {
        let Some(id) = text_of(&a["agentId"]) else {
            continue;
        };
        let bot = a["userTypeName"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("bot"))
            || a["userType"].as_str() == Some("2");
        let role = ["permission", "role"]
            .iter()
            .filter_map(|k| a[*k].as_str())
            .find(|r| !r.is_empty() && *r != "undefined")
            .unwrap_or("AGENT")
            .to_ascii_uppercase();
        agent_roles.entry(id).or_insert((role, bot));
    }

    let mut records = Vec::with_capacity(messages.len() + statuses.len());
    // seq -> dialog, for receipts that do not say their dialog.
    let mut dialog_of_seq: BTreeMap<i64, String> = BTreeMap::new();
    for (i, m) in messages.iter().enumerate() {
        let at = |f: &str| format!("{messages_name}[{i}].{f}");
        let Value::Object(_) = m else {
            return Err(err(
                format!("{messages_name}[{i}]"),
                format!("is {}, not an object", kind_of(m)),
            ));
        };
        let seq = match opt_i64(m, "seq") {
            Ok(Some(seq)) => seq,
            Ok(None) => return Err(err(at("seq"), "is missing".into())),
            Err(why) => return Err(err(at("seq"), why.to_string())),
        };
        let time = opt_i64(m, "timeL").map_err(|r| err(at("timeL"), r.to_string()))?;
        let participant = match m.get("participantId") {
            None | Some(Value::Null) => None,
            Some(v) => Some(text_of(v).ok_or_else(|| {
                err(
                    at("participantId"),
                    format!("is {}, not a string", kind_of(v)),
                )
            })?),
        };
        let sent_by = match m.get("sentBy") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(v) => {
                return Err(err(
                    at("sentBy"),
                    format!("is {}, not a string", kind_of(v)),
                ));
            }
        };
        let kind_name = match m.get("type") {
            Some(Value::String(t)) => t.as_str(),
            None | Some(Value::Null) => return Err(err(at("type"), "is missing".into())),
            Some(v) => return Err(err(at("type"), format!("is {}, not a string", kind_of(v)))),
        };
        let data = match m.get("messageData") {
            None | Some(Value::Null) => &Value::Null,
            Some(v @ Value::Object(_)) => v,
            Some(v) => {
                return Err(err(
                    at("messageData"),
                    format!("is {}, not an object", kind_of(v)),
                ));
            }
        };
        let event = event_of(kind_name, data).map_err(|(f, r)| {
            err(
                if f.is_empty() {
                    at("type")
                } else {
                    at(&format!("messageData.{f}"))
                },
                r,
            )
        })?;
        let dialog = dialog_of(m).unwrap_or_else(|| conversation_id.to_owned());
        dialog_of_seq.entry(seq).or_insert_with(|| dialog.clone());
        let role = match sent_by {
            Some(s) if s.eq_ignore_ascii_case("consumer") => "CONSUMER".to_owned(),
            Some(s) if s.eq_ignore_ascii_case("agent") => participant
                .as_ref()
                .and_then(|p| agent_roles.get(p))
                .map_or_else(
                    || "AGENT".to_owned(),
                    |(role, bot)| {
                        if *bot {
                            "CONTROLLER".to_owned()
                        } else {
                            role.clone()
                        }
                    },
                ),
            Some(other) => other.to_ascii_uppercase(),
            None => "AGENT".to_owned(),
        };
        let mut rec = Map::new();
        rec.insert("sequence".into(), seq.into());
        rec.insert("dialogId".into(), dialog.into());
        if let Some(p) = &participant {
            rec.insert("originatorId".into(), p.clone().into());
        }
        if let Some(t) = time {
            rec.insert("serverTimestamp".into(), t.into());
        }
        let mut meta = Map::new();
        if let Some(p) = &participant {
            meta.insert("id".into(), p.clone().into());
        }
        meta.insert("role".into(), role.into());
        rec.insert("originatorMetadata".into(), Value::Object(meta));
        rec.insert("event".into(), event);
        if let Some(a) = m["audience"].as_str().filter(|a| *a != "ALL") {
            // A private note: kept, so that nothing is lost.
            rec.insert("audience".into(), a.into());
        }
        records.push(Value::Object(rec));
    }

    // (dialog, participant, status, time) -> (role, sequences)
    type Receipt = (String, String, String, i64);
    let mut receipts: BTreeMap<Receipt, (String, Vec<i64>)> = BTreeMap::new();
    for (i, s) in statuses.iter().enumerate() {
        let at = |f: &str| format!("{statuses_name}[{i}].{f}");
        let seq = match opt_i64(s, "seq") {
            Ok(Some(seq)) => seq,
            // The messageId ends in `::msg:<n>`.
            Ok(None) => s["messageId"]
                .as_str()
                .and_then(|m| m.rsplit_once("::msg:"))
                .and_then(|(_, n)| n.parse::<i64>().ok())
                .ok_or_else(|| err(at("seq"), "is missing".into()))?,
            Err(why) => return Err(err(at("seq"), why.to_string())),
        };
        let status = match s.get("messageDeliveryStatus") {
            Some(Value::String(t)) => t.clone(),
            None | Some(Value::Null) => {
                return Err(err(at("messageDeliveryStatus"), "is missing".into()));
            }
            Some(v) => {
                return Err(err(
                    at("messageDeliveryStatus"),
                    format!("is {}, not a string", kind_of(v)),
                ));
            }
        };
        let time = opt_i64(s, "timeL")
            .map_err(|r| err(at("timeL"), r.to_string()))?
            .unwrap_or(0);
        let participant = match s.get("participantId") {
            None | Some(Value::Null) => String::new(),
            Some(v) => text_of(v).ok_or_else(|| {
                err(
                    at("participantId"),
                    format!("is {}, not a string", kind_of(v)),
                )
            })?,
        };
        let role = match s["participantType"].as_str() {
            Some(t) if t.eq_ignore_ascii_case("consumer") => "CONSUMER".to_owned(),
            _ => agent_roles
                .get(&participant)
                .map_or("ASSIGNED_AGENT".to_owned(), |(r, bot)| {
                    if *bot {
                        "CONTROLLER".to_owned()
                    } else {
                        r.clone()
                    }
                }),
        };
        let dialog = dialog_of(s)
            .or_else(|| dialog_of_seq.get(&seq).cloned())
            .unwrap_or_else(|| conversation_id.to_owned());
        let e = receipts
            .entry((dialog, participant, status, time))
            .or_insert((role, Vec::new()));
        if !e.1.contains(&seq) {
            e.1.push(seq);
        }
    }
    for ((dialog, participant, status, time), (role, mut seqs)) in receipts {
        seqs.sort_unstable();
        let mut rec = json!({
            "dialogId": dialog,
            "serverTimestamp": time,
            "originatorMetadata": {"role": role},
            "event": {"type": "AcceptStatusEvent", "status": status, "sequenceList": seqs},
        });
        if !participant.is_empty() {
            rec["originatorId"] = participant.clone().into();
            rec["originatorMetadata"]["id"] = participant.into();
        }
        records.push(rec);
    }

    let consumer = consumers.iter().find_map(profile);
    Ok(Transcript { records, consumer })
}

/// The content search `event` of a message of type `kind` with
/// `messageData` `data`; on error, the field under `messageData` at fault
/// (empty: the type itself) and why.
fn event_of(kind: &str, data: &Value) -> Result<Value, (String, String)> {
    let text = |ct: &str| -> Result<Value, (String, String)> {
        let t = match &data["msg"]["text"] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            v => {
                return Err((
                    "msg.text".into(),
                    format!("is {}, not a string", kind_of(v)),
                ));
            }
        };
        Ok(json!({"type": "ContentEvent", "contentType": ct, "message": t}))
    };
    let mut ev = event_without_replies(kind, data, text)?;
    // Quick replies ride on text and on rich content alike.
    if let Some(q) = data.get("quickReplies").filter(|q| !q.is_null()) {
        ev["quickReplies"] = json_text(&q["content"]).unwrap_or_else(|| q.clone());
    }
    Ok(ev)
}

/// [`event_of`] but for the quick replies; `text` reads a text message.
fn event_without_replies(
    kind: &str,
    data: &Value,
    text: impl Fn(&str) -> Result<Value, (String, String)>,
) -> Result<Value, (String, String)> {
    // Container names for files, links and forms are shown in no example:
    // take the first object holding the expected keys.
    let object_with = |keys: &[&str]| -> Option<&Map<String, Value>> {
        let obj = data.as_object()?;
        obj.values()
            .filter_map(Value::as_object)
            .find(|o| keys.iter().any(|k| o.contains_key(*k)))
            .or_else(|| keys.iter().any(|k| obj.contains_key(*k)).then_some(obj))
    };
    let pick = |o: &Map<String, Value>, keys: &[&str]| {
        let mut out = Map::new();
        for k in keys {
            if let Some(v) = o.get(*k).filter(|v| !v.is_null()) {
                out.insert((*k).to_owned(), v.clone());
            }
        }
        out
    };
    match kind {
        "TEXT_PLAIN" | "text" => text("text/plain"),
        "TEXT_HTML" => text("text/html"),
        "HOSTED_FILE" | "IMG" | "file" => {
            let o = object_with(&["relativePath"]).ok_or_else(|| {
                (
                    "file".to_owned(),
                    "holds no relativePath (a file record needs one)".to_owned(),
                )
            })?;
            let m = pick(o, &["caption", "relativePath", "fileType", "preview"]);
            Ok(json!({"type": "ContentEvent", "contentType": "hosted/file", "message": m}))
        }
        "LINK" => {
            let o = object_with(&["externalFileLink", "url", "uri"]).ok_or_else(|| {
                (
                    "link".to_owned(),
                    "holds no externalFileLink (a link record needs one)".to_owned(),
                )
            })?;
            let m = pick(
                o,
                &["externalFileLink", "url", "uri", "fileType", "caption"],
            );
            Ok(json!({"type": "ContentEvent", "contentType": "link", "message": m}))
        }
        "SECURE_FORM_INVITATION" => {
            let o = object_with(&["invitationId", "formId"]).ok_or_else(|| {
                (
                    "form".to_owned(),
                    "holds no invitationId or formId".to_owned(),
                )
            })?;
            let mut m = pick(o, &["invitationId", "formId", "submissionId"]);
            if let Some(t) = o.get("formName").or_else(|| o.get("title")) {
                m.insert("title".into(), t.clone());
            }
            Ok(
                json!({"type": "ContentEvent", "contentType": "forms/secure-invitation", "message": m}),
            )
        }
        "SECURE_FORM_SUBMIT" => {
            let o = object_with(&["invitationId", "submissionId", "formId"]).ok_or_else(|| {
                (
                    "form".to_owned(),
                    "holds no invitationId, submissionId or formId".to_owned(),
                )
            })?;
            let m = pick(o, &["invitationId", "submissionId", "formId"]);
            Ok(
                json!({"type": "ContentEvent", "contentType": "forms/secure-submission", "message": m}),
            )
        }
        "RICH_CONTENT" => match &data["richContent"]["content"] {
            Value::String(s) => Ok(json!({"type": "RichContentEvent", "content": s})),
            Value::Null => Err((
                "richContent.content".into(),
                "is missing (a rich content record needs it)".into(),
            )),
            // Some answers may carry it parsed: content search carries text.
            v @ Value::Object(_) => {
                Ok(json!({"type": "RichContentEvent", "content": v.to_string()}))
            }
            v => Err((
                "richContent.content".into(),
                format!("is {}, not JSON text", kind_of(v)),
            )),
        },
        // A type not documented yet: carried whole, its raw type and data.
        other => Ok(json!({
            "type": "ContentEvent",
            "contentType": other,
            "message": if data.is_null() { json!({}) } else { data.clone() },
        })),
    }
}

/// JSON held as text, parsed; `None` if it is not text or not JSON.
fn json_text(v: &Value) -> Option<Value> {
    serde_json::from_str(v.as_str()?).ok()
}

/// A consumer participant as Hubster's profile (documented keys only).
fn profile(c: &Value) -> Option<Value> {
    let field = |k: &str| {
        c[k].as_str()
            .map(str::trim)
            .filter(|v| !v.is_empty() && *v != "undefined" && *v != "null")
    };
    let mut p = Map::new();
    if let Some(f) = field("firstName") {
        p.insert("first name".into(), f.into());
    }
    if let Some(l) = field("lastName") {
        p.insert("last name".into(), l.into());
    }
    let full = match (field("firstName"), field("lastName")) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        _ => field("consumerName").map(str::to_owned),
    };
    if let Some(n) = full {
        p.insert("full name".into(), n.into());
    }
    if let Some(e) = field("email").filter(|e| e.contains('@')) {
        p.insert("email".into(), e.into());
    }
    (!p.is_empty()).then_some(Value::Object(p))
}

/// What is wrong with a field that should hold a number.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotANumber {
    #[error("is {0}, not an integer")]
    Fraction(serde_json::Number),
    #[error("is {0:?}, not a number")]
    Text(String),
    #[error("is {0}, not a number")]
    Other(&'static str),
}

/// A number, or a string holding one (some fields come as either).
fn opt_i64(v: &Value, key: &str) -> Result<Option<i64>, NotANumber> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| NotANumber::Fraction(n.clone())),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| NotANumber::Text(s.clone())),
        Some(other) => Err(NotANumber::Other(kind_of(other))),
    }
}

/// A string, or a number written as one (ids come as either).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[path = "interactions_tests.rs"]
mod tests;
