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
//! A record convsync cannot read (a `seq` that is missing or not a number,
//! a `type` it does not know, a field of the wrong type) makes the whole
//! conversation an error naming the conversation and the field.

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

/// The conversation id of a `conversationHistoryRecords[]` entry.
pub fn conversation_id(entry: &Value) -> Option<&str> {
    entry["info"]["conversationId"].as_str()
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
        let seq = match m.get("seq") {
            None | Some(Value::Null) => return Err(err(at("seq"), "is missing".into())),
            Some(v) => v
                .as_i64()
                .ok_or_else(|| err(at("seq"), format!("is {}, not an integer", kind_of(v))))?,
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
        let seq = match s.get("seq") {
            None | Some(Value::Null) => {
                // The messageId ends in `::msg:<n>`.
                s["messageId"]
                    .as_str()
                    .and_then(|m| m.rsplit_once("::msg:"))
                    .and_then(|(_, n)| n.parse::<i64>().ok())
                    .ok_or_else(|| err(at("seq"), "is missing".into()))?
            }
            Some(v) => v
                .as_i64()
                .ok_or_else(|| err(at("seq"), format!("is {}, not an integer", kind_of(v))))?,
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
        let mut ev = json!({"type": "ContentEvent", "contentType": ct, "message": t});
        if let Some(q) = data.get("quickReplies").filter(|q| !q.is_null()) {
            ev["quickReplies"] = json_text(&q["content"]).unwrap_or_else(|| q.clone());
        }
        Ok(ev)
    };
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
        other => Err((
            String::new(),
            format!(
                "unknown type {other:?} (convsync reads {})",
                MESSAGE_TYPES.join(", ")
            ),
        )),
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
mod tests {
    use super::*;
    use crate::identity::record_identity;

    /// Shaped as the Messaging Interactions documentation shows an entry.
    fn entry() -> Value {
        json!({
            "info": {"conversationId": "c1", "status": "CLOSE"},
            "messageRecords": [
                {"type": "TEXT_PLAIN", "messageData": {"msg": {"text": "hi"}},
                 "messageId": "ms::conv:c1::msg:0", "seq": 0, "dialogId": "undefined",
                 "participantId": "cons-1", "timeL": 1000, "sentBy": "Consumer", "audience": "ALL"},
                {"type": "TEXT_PLAIN", "messageData": {"msg": {"text": "hello"}},
                 "messageId": "ms::conv:c1::msg:1", "seq": 1, "dialogId": "c1",
                 "participantId": "3677470410", "timeL": 2000, "sentBy": "Agent"},
                {"type": "RICH_CONTENT", "messageData": {"richContent": {"content": "{\"type\":\"vertical\",\"elements\":[]}"}},
                 "seq": 4, "participantId": "bot-1", "timeL": 3000, "sentBy": "AGENT"},
                {"type": "HOSTED_FILE", "messageData": {"file": {"relativePath": "/p.png", "fileType": "PNG", "caption": "c"}},
                 "seq": 5, "participantId": "cons-1", "timeL": 4000, "sentBy": "consumer"},
                {"type": "TEXT_PLAIN", "messageData": {"msg": {"text": "note"}},
                 "seq": 6, "participantId": 3677470410u64, "timeL": 5000, "sentBy": "Agent",
                 "audience": "AGENTS_AND_MANAGERS"}
            ],
            "messageStatuses": [
                {"messageId": "ms::conv:c1::msg:1", "seq": 1, "timeL": 2100, "participantId": "cons-1",
                 "participantType": "Consumer", "messageDeliveryStatus": "ACCEPT"},
                {"messageId": "ms::conv:c1::msg:4", "seq": 4, "timeL": 2100, "participantId": "cons-1",
                 "participantType": "Consumer", "messageDeliveryStatus": "ACCEPT"},
                {"messageId": "ms::conv:c1::msg:0", "timeL": 1500, "participantId": "3677470410",
                 "participantType": "Agent", "messageDeliveryStatus": "READ"}
            ],
            "agentParticipants": [
                {"agentId": "3677470410", "userTypeName": "Human", "role": "AGENT", "permission": "ASSIGNED_AGENT"},
                {"agentId": "bot-1", "userTypeName": "Bot", "role": "AGENT", "permission": "ASSIGNED_AGENT"}
            ],
            "consumerParticipant": [
                {"participantId": "cons-1", "firstName": "Visitor", "lastName": "Test",
                 "email": "undefined", "consumerName": "Visitor"}
            ]
        })
    }

    #[test]
    fn messages_become_content_search_records_with_the_same_identity() {
        let t = transcript("c1", &entry()).unwrap();
        let content: Vec<&Value> = t
            .records
            .iter()
            .filter(|r| r["sequence"].is_i64())
            .collect();
        assert_eq!(content.len(), 5);
        // "undefined" is the main dialog, whose id is the conversation's.
        assert_eq!(content[0]["dialogId"], "c1");
        assert_eq!(record_identity("c1", content[0]), "lp:c1:c1:0");
        assert_eq!(content[0]["event"]["message"], "hi");
        assert_eq!(content[0]["originatorMetadata"]["role"], "CONSUMER");
        assert_eq!(content[1]["originatorMetadata"]["role"], "ASSIGNED_AGENT");
        assert_eq!(content[2]["originatorMetadata"]["role"], "CONTROLLER");
        assert_eq!(content[2]["event"]["type"], "RichContentEvent");
        assert!(content[2]["event"]["content"].is_string());
        assert_eq!(content[3]["event"]["contentType"], "hosted/file");
        assert_eq!(content[3]["event"]["message"]["relativePath"], "/p.png");
        assert_eq!(content[4]["originatorId"], "3677470410");
        assert_eq!(content[4]["audience"], "AGENTS_AND_MANAGERS");
        assert_eq!(content[1]["serverTimestamp"], 2000);
    }

    #[test]
    fn receipts_group_back_into_accept_status_events() {
        let t = transcript("c1", &entry()).unwrap();
        let receipts: Vec<&Value> = t
            .records
            .iter()
            .filter(|r| r["event"]["type"] == "AcceptStatusEvent")
            .collect();
        assert_eq!(receipts.len(), 2);
        let accept = receipts
            .iter()
            .find(|r| r["event"]["status"] == "ACCEPT")
            .unwrap();
        assert_eq!(accept["event"]["sequenceList"], json!([1, 4]));
        assert_eq!(accept["originatorMetadata"]["role"], "CONSUMER");
        // The same receipt as content search lists it has the same identity.
        let searched = json!({"dialogId": "c1", "originatorId": "cons-1", "serverTimestamp": 2100,
            "originatorMetadata": {"id": "cons-1", "role": "CONSUMER"},
            "event": {"type": "AcceptStatusEvent", "status": "ACCEPT", "sequenceList": [1, 4]}});
        assert_eq!(
            record_identity("c1", accept),
            record_identity("c1", &searched)
        );
        // A receipt with no seq takes it from its messageId.
        let read = receipts
            .iter()
            .find(|r| r["event"]["status"] == "READ")
            .unwrap();
        assert_eq!(read["event"]["sequenceList"], json!([0]));
    }

    #[test]
    fn the_consumer_profile_comes_from_the_participants_list() {
        let t = transcript("c1", &entry()).unwrap();
        assert_eq!(
            t.consumer,
            Some(
                json!({"first name": "Visitor", "last name": "Test", "full name": "Visitor Test"})
            )
        );
        let bare = json!({"messageRecords": []});
        assert_eq!(transcript("c1", &bare).unwrap().consumer, None);
    }

    #[test]
    fn a_malformed_record_names_the_conversation_and_the_field() {
        let cases: [(&str, Value, &str); 6] = [
            ("seq", json!("seven"), "messageRecords[1].seq"),
            ("seq", Value::Null, "messageRecords[1].seq"),
            ("type", json!("HOLOGRAM"), "messageRecords[1].type"),
            ("type", json!(3), "messageRecords[1].type"),
            ("timeL", json!([1]), "messageRecords[1].timeL"),
            (
                "messageData",
                json!({"msg": {"text": 5}}),
                "messageRecords[1].messageData.msg.text",
            ),
        ];
        for (key, value, field) in cases {
            let mut e = entry();
            e["messageRecords"][1][key] = value.clone();
            let err = transcript("c1", &e).unwrap_err();
            assert_eq!(err.field, field, "{key} = {value}");
            let text = err.to_string();
            assert!(text.starts_with("conversation c1: "), "{text}");
        }
        let mut e = entry();
        e["messageRecords"][1]
            .as_object_mut()
            .unwrap()
            .remove("seq");
        assert_eq!(
            transcript("c1", &e).unwrap_err().field,
            "messageRecords[1].seq"
        );
        let e = json!({"messageRecords": {"not": "a list"}});
        assert_eq!(transcript("c1", &e).unwrap_err().field, "messageRecords");
    }

    #[test]
    fn the_documented_spellings_of_types_and_lists_are_read() {
        let e = json!({"messagesRecords": [
            {"type": "text", "messageData": {"msg": {"text": "a"}}, "seq": 0, "sentBy": "Consumer"},
            {"type": "file", "messageData": {"fileData": {"relativePath": "/f.pdf", "fileType": "PDF"}}, "seq": 1},
            {"type": "SECURE_FORM_INVITATION", "messageData": {"secureForm": {"formId": "9", "formName": "Card", "invitationId": "i"}}, "seq": 2},
            {"type": "TEXT_PLAIN", "messageData": {"msg": {"text": "pick"}, "quickReplies": {"content": "{\"type\":\"quickReplies\",\"replies\":[]}"}}, "seq": 3}
        ]});
        let t = transcript("c", &e).unwrap();
        assert_eq!(t.records.len(), 4);
        assert_eq!(t.records[1]["event"]["message"]["relativePath"], "/f.pdf");
        assert_eq!(t.records[2]["event"]["message"]["title"], "Card");
        assert_eq!(
            t.records[3]["event"]["quickReplies"]["type"],
            "quickReplies"
        );
    }
}
