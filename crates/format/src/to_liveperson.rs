//! Hubster Activities -> LivePerson `messageEventRecords` (one conversation).
//!
//! Activities that came from LivePerson (a `LivePerson` channel or a
//! `liveperson.*` payload) are restored to exactly the original record. The
//! rest are mapped per the contract and carry the original activity in the
//! record's `hubsterActivity` field, so LivePerson -> Hubster gives it back.

use super::hubster::{ActivityExt, IntegrationType};
use super::hubster_in as In;
use super::provenance::{BadProvenance, Source, key};
use super::report::{Report, kind as warn};
use super::resume::HubsterResume;
use super::{ConvertError, HUBSTER_ACTIVITY_CONTENT_TYPE, HUBSTER_ACTIVITY_FIELD, payload, rich};
use crate::mapping::Mapping;
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// The result of converting one conversation.
#[derive(Debug)]
pub struct ToLivePerson {
    /// New records, in eventId order.
    pub records: Vec<Value>,
    /// The resume point once these records are delivered.
    pub resume: HubsterResume,
    pub report: Report,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Customer,
    Business,
}

impl Side {
    fn of(t: IntegrationType) -> Side {
        if t == IntegrationType::Customer {
            Side::Customer
        } else {
            Side::Business
        }
    }
    fn other(self) -> Side {
        match self {
            Side::Customer => Side::Business,
            Side::Business => Side::Customer,
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// What an activity becomes before sequences are handed out.
enum Out {
    /// Restored from LivePerson provenance, exactly.
    Restored(Value),
    /// A new content record (gets the next sequence).
    Content {
        event: Map<String, Value>,
        side: Side,
    },
    /// A READ receipt from `side`.
    Seen { side: Side },
    /// An event record with no sequence (a chat state).
    Event { event: Map<String, Value> },
}

fn identity(a: &Value) -> String {
    let f = |k: &str| a.get(k).cloned().unwrap_or(Value::Null);
    Value::Array(vec![f("eventId"), f("interactionId"), f("externalId")]).to_string()
}

/// Converts one conversation's activities to LivePerson records.
pub fn to_liveperson(
    conversation_id: &str,
    activities: &[Value],
    map: &Mapping,
    resume: &HubsterResume,
) -> Result<ToLivePerson, ConvertError> {
    let mut report = Report {
        conversations: 1,
        input: activities.len() as u64,
        ..Report::default()
    };

    // 1. Dedup by (eventId, interactionId, externalId), order by eventId.
    let mut seen = HashSet::new();
    let mut acts: Vec<(Option<i64>, String, &Value)> = Vec::with_capacity(activities.len());
    for a in activities {
        let id = identity(a);
        if !seen.insert(id.clone()) {
            report.duplicates += 1;
            continue;
        }
        acts.push((a.get("eventId").and_then(Value::as_i64), id, a));
    }
    // Activities without an eventId go last, in input order.
    acts.sort_by_key(|(e, _, _)| (e.is_none(), *e));

    // 2. Leave out what was delivered; classify the rest.
    let mut next = resume.clone();
    let mut outs: Vec<(Option<i64>, &Value, Out)> = Vec::new();
    for (event_id, id, a) in acts {
        let delivered = match (event_id, resume.last_event_id) {
            (Some(e), Some(last)) => e < last || (e == last && resume.keys_at_last.contains(&id)),
            (Some(_), None) => false,
            (None, _) => resume.undated.contains(&id),
        };
        if delivered {
            report.already_delivered += 1;
            continue;
        }
        match event_id {
            Some(e) => {
                if next.last_event_id != Some(e) {
                    next.keys_at_last.clear();
                }
                next.last_event_id = Some(e);
                next.keys_at_last.insert(id);
            }
            None => {
                next.undated.insert(id);
            }
        }
        if let Some(out) = classify(a, map, conversation_id, &mut report) {
            outs.push((event_id, a, out));
        }
    }

    // 3. Sequences continue after the highest already present. A content
    // activity whose provenance did not travel (a hub that keeps only the
    // documented properties) but whose externalId names its record takes
    // that record's dialogId and sequence back.
    fn named<'v>(a: &'v Value, conversation_id: &str) -> Option<(&'v str, i64)> {
        a.get("externalId")
            .and_then(Value::as_str)
            .and_then(|e| crate::identity::parse_sequence_external_id(conversation_id, e))
    }
    let present = outs.iter().filter_map(|(_, a, o)| match o {
        Out::Restored(r) => r.get("sequence").and_then(Value::as_i64),
        Out::Content { .. } => named(a, conversation_id).map(|(_, s)| s),
        Out::Seen { .. } | Out::Event { .. } => None,
    });
    let mut last_seq = present.chain(resume.last_sequence).max();
    let mut unread: [Vec<i64>; 2] = [Vec::new(), Vec::new()];
    let mut records = Vec::with_capacity(outs.len());
    for (event_id, a, out) in outs {
        let rec = match out {
            Out::Restored(r) => {
                if let Some(s) = r.get("sequence").and_then(Value::as_i64) {
                    let side = r
                        .pointer("/originatorMetadata/role")
                        .and_then(Value::as_str)
                        .and_then(|role| map.roles.get(&role.to_ascii_uppercase()))
                        .map_or(Side::Business, |t| Side::of(*t));
                    unread[side.other().index()].push(s);
                }
                report.count(&format!("restored:{}", record_kind(&r)));
                r
            }
            Out::Content { event, side } => {
                let mut r = native(a, conversation_id, event_id, event, map);
                let seq = match named(a, conversation_id) {
                    Some((dialog, seq)) => {
                        r.insert("dialogId".into(), dialog.into());
                        report.warn(
                            warn::FROM_EXTERNAL_ID,
                            conversation_id,
                            format!(
                                "activity {}: no LivePerson provenance; dialogId and sequence from its externalId, originator and time from the hub",
                                event_id.map_or("-".to_owned(), |e| e.to_string())
                            ),
                        );
                        seq
                    }
                    None => {
                        let seq = last_seq.map_or(0, |s| s + 1);
                        last_seq = Some(seq);
                        seq
                    }
                };
                unread[side.other().index()].push(seq);
                r.insert("sequence".into(), seq.into());
                let r = Value::Object(r);
                report.count(&record_kind(&r));
                r
            }
            Out::Event { event } => {
                let r = Value::Object(native(a, conversation_id, event_id, event, map));
                report.count(&record_kind(&r));
                r
            }
            Out::Seen { side } => {
                let list = std::mem::take(&mut unread[side.index()]);
                let event =
                    json!({"type": "AcceptStatusEvent", "status": "READ", "sequenceList": list});
                let Value::Object(event) = event else {
                    unreachable!("built as object")
                };
                let r = Value::Object(native(a, conversation_id, event_id, event, map));
                report.count(&record_kind(&r));
                r
            }
        };
        records.push(rec);
    }
    next.last_sequence = last_seq;
    Ok(ToLivePerson {
        records,
        resume: next,
        report,
    })
}

fn record_kind(r: &Value) -> String {
    let ev = r.get("event");
    let t = ev
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    match ev
        .and_then(|e| e.get("contentType"))
        .and_then(Value::as_str)
    {
        Some(ct) => format!("{t}:{ct}"),
        None => t.to_owned(),
    }
}

/// A record for an activity with no LivePerson provenance.
fn native(
    a: &Value,
    conversation_id: &str,
    event_id: Option<i64>,
    event: Map<String, Value>,
    map: &Mapping,
) -> Map<String, Value> {
    let t = sender_type(a).unwrap_or(IntegrationType::Agent);
    let role = map.reverse_roles.role_for(t).unwrap_or("AGENT");
    let mut r = Map::new();
    r.insert("dialogId".into(), conversation_id.into());
    let mut om = Map::new();
    if let Some(id) = a.str_at(&["sender", "integrationId"]) {
        r.insert("originatorId".into(), id.into());
        om.insert("id".into(), id.into());
    }
    om.insert("role".into(), role.into());
    if let Some(e) = event_id {
        r.insert("serverTimestamp".into(), e.into());
    }
    r.insert("originatorMetadata".into(), om.into());
    let is_carried =
        event.get("contentType").and_then(Value::as_str) == Some(HUBSTER_ACTIVITY_CONTENT_TYPE);
    r.insert("event".into(), event.into());
    if !is_carried
        && map.keep_original
        && let Value::Object(o) = a
    {
        let mut blob = o.clone();
        blob.remove("eventId");
        r.insert(HUBSTER_ACTIVITY_FIELD.into(), blob.into());
    }
    r
}

fn sender_type(a: &Value) -> Option<IntegrationType> {
    IntegrationType::parse(a.str_at(&["sender", "integrationType"])?)
}

fn classify(a: &Value, map: &Mapping, conversation_id: &str, report: &mut Report) -> Option<Out> {
    let eid = a
        .get("eventId")
        .map_or_else(|| "-".to_owned(), Value::to_string);
    match restore(a) {
        Ok(Some(r)) => return Some(Out::Restored(r)),
        Ok(None) => {}
        Err(why) => report.warn(
            warn::BROKEN_PROVENANCE,
            conversation_id,
            format!("activity {eid}: {why}; converted as a Hubster activity"),
        ),
    }
    let unmapped = |report: &mut Report, what: String| -> Option<Out> {
        if map.drop_unmapped {
            report.warn(
                warn::DROPPED_UNMAPPED,
                conversation_id,
                format!("activity {eid}: {what} dropped (mapping.drop_unmapped)"),
            );
            return None;
        }
        report.warn(
            warn::UNMAPPED_ACTIVITY,
            conversation_id,
            format!("activity {eid}: {what} carried as {HUBSTER_ACTIVITY_CONTENT_TYPE}"),
        );
        let mut ev = Map::new();
        ev.insert("type".into(), "ContentEvent".into());
        ev.insert("contentType".into(), HUBSTER_ACTIVITY_CONTENT_TYPE.into());
        ev.insert("message".into(), a.clone());
        let side = sender_type(a).map_or(Side::Business, Side::of);
        Some(Out::Content { event: ev, side })
    };
    if !a.is_object() {
        return unmapped(report, "a non-object activity".into());
    }
    let Some(t) = sender_type(a) else {
        let what = a
            .str_at(&["sender", "integrationType"])
            .unwrap_or("missing");
        report.warn(
            warn::SKIPPED_SENDER,
            conversation_id,
            format!(
                "activity {eid}: sender integrationType {what:?} has no LivePerson role; skipped"
            ),
        );
        return None;
    };
    if map.reverse_roles.role_for(t).is_none() {
        report.warn(
            warn::SKIPPED_SENDER,
            conversation_id,
            format!("activity {eid}: {t} sender skipped (mapping.reverse_roles)"),
        );
        return None;
    }
    let side = Side::of(t);
    match a.get("type").and_then(Value::as_str) {
        Some("message") => {
            let mtype = a.str_at(&["message", "type"]).unwrap_or("");
            let mut ev = Map::new();
            match a.get("message").and_then(In::Message::of) {
                Some(In::Message::Text {
                    text,
                    items,
                    actions,
                }) if items.is_empty() && actions.is_empty() => {
                    ev.insert("type".into(), "ContentEvent".into());
                    ev.insert("contentType".into(), "text/plain".into());
                    ev.insert("message".into(), text.into());
                    Some(Out::Content { event: ev, side })
                }
                Some(msg) => match rich::to_structured(&msg) {
                    Some(sc) => {
                        // Within LivePerson's limits, or it is refused.
                        let mut notes = Vec::new();
                        let sc = crate::limits::fit(sc, &mut notes);
                        for n in notes {
                            report.warn(
                                warn::FITTED_TO_LIVEPERSON,
                                conversation_id,
                                format!("activity {eid}: {n}"),
                            );
                        }
                        ev.insert("type".into(), "RichContentEvent".into());
                        ev.insert("content".into(), sc.to_string().into());
                        Some(Out::Content { event: ev, side })
                    }
                    None => unmapped(report, format!("message type {mtype:?}")),
                },
                None => unmapped(
                    report,
                    format!("message type {mtype:?} (unknown, or not of its documented shape)"),
                ),
            }
        }
        Some("event") => match a.get("event").and_then(In::Event::of) {
            Some(In::Event::Seen) => Some(Out::Seen { side }),
            // Typing is a chat state on LivePerson.
            Some(e @ (In::Event::TypingOn | In::Event::TypingOff)) => {
                let state = if e == In::Event::TypingOn {
                    "COMPOSING"
                } else {
                    "PAUSE"
                };
                let mut ev = Map::new();
                ev.insert("type".into(), "ChatStateEvent".into());
                ev.insert("chatState".into(), state.into());
                Some(Out::Event { event: ev })
            }
            // A payload no LivePerson console renders: a text a person can
            // read, naming it (the activity itself travels with the record).
            Some(In::Event::Payload {
                payload_type,
                payload,
            }) => {
                let mut ev = Map::new();
                ev.insert("type".into(), "ContentEvent".into());
                ev.insert("contentType".into(), "text/plain".into());
                let shown = match &payload {
                    Value::Null => format!("[{payload_type}]"),
                    Value::String(s) => format!("[{payload_type}] {s}"),
                    other => format!("[{payload_type}] {other}"),
                };
                ev.insert("message".into(), shown.into());
                Some(Out::Content { event: ev, side })
            }
            None => unmapped(
                report,
                format!(
                    "event type {:?} (unknown, or not of its documented shape)",
                    a.str_at(&["event", "type"]).unwrap_or("")
                ),
            ),
        },
        other => unmapped(report, format!("activity type {:?}", other.unwrap_or(""))),
    }
}

/// The original LivePerson record, if the activity carries one.
fn restore(a: &Value) -> Result<Option<Value>, BadProvenance> {
    match a.get("type").and_then(Value::as_str) {
        Some("message") => {
            let Some(msg) = a.get("message") else {
                return Ok(None);
            };
            let Some(src) = Source::from_channels(msg) else {
                return Ok(None);
            };
            let mut ev = Map::new();
            if let Some(content) = src.str(key::RICH_CONTENT)? {
                ev.insert("type".into(), "RichContentEvent".into());
                ev.insert("content".into(), content.into());
            } else if let Some(Some(content)) = src.json(key::RICH_CONTENT_JSON)? {
                ev.insert("type".into(), "RichContentEvent".into());
                ev.insert("content".into(), content);
            } else if let Some(ct) = src.str(key::CONTENT_TYPE)? {
                ev.insert("type".into(), "ContentEvent".into());
                ev.insert("contentType".into(), ct.into());
                let message = if ct == "text/plain" {
                    msg.get("text")
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            BadProvenance("text/plain provenance on a message without text".into())
                        })?
                        .into()
                } else {
                    Value::Object(src.message_object()?)
                };
                ev.insert("message".into(), message);
            } else {
                return Err(BadProvenance(
                    "LivePerson channel names neither a contentType nor rich content".into(),
                ));
            }
            Ok(Some(src.record(ev)?))
        }
        Some("event") => {
            if let Some(ev) = a.get("event")
                && matches!(
                    ev.get("type").and_then(Value::as_str),
                    Some("typing_on" | "typing_off")
                )
            {
                let Some(src) = Source::from_channels(ev) else {
                    return Ok(None);
                };
                let Some(state) = src.str(key::CHAT_STATE)? else {
                    return Ok(None);
                };
                let mut e = Map::new();
                e.insert("type".into(), "ChatStateEvent".into());
                e.insert(key::CHAT_STATE.into(), state.into());
                return Ok(Some(src.record(e)?));
            }
            let Some(ptype) = a.str_at(&["event", "payloadType"]) else {
                return Ok(None);
            };
            if !ptype.starts_with("liveperson.") {
                return Ok(None);
            }
            let Some(p) = a.pointer("/event/payload") else {
                return Err(BadProvenance(format!("{ptype} event has no payload")));
            };
            if ptype == payload::CONTENT || ptype == payload::EVENT {
                return Ok(Some(p.clone()));
            }
            let Some(obj) = p.as_object() else {
                return Err(BadProvenance(format!("{ptype} payload is not an object")));
            };
            let src = Source::from_payload(obj);
            let mut ev = Map::new();
            match ptype {
                payload::ACCEPT_STATUS => {
                    ev.insert("type".into(), "AcceptStatusEvent".into());
                    for k in [key::STATUS, key::SEQUENCE_LIST] {
                        let v = obj
                            .get(k)
                            .ok_or_else(|| BadProvenance(format!("{ptype} payload has no {k}")))?;
                        ev.insert(k.into(), v.clone());
                    }
                }
                payload::SECURE_FORM_SUBMISSION => {
                    ev.insert("type".into(), "ContentEvent".into());
                    let ct = src
                        .str(key::CONTENT_TYPE)?
                        .unwrap_or("forms/secure-submission");
                    ev.insert("contentType".into(), ct.into());
                    ev.insert("message".into(), src.message_object()?.into());
                }
                payload::RICH_CONTENT => {
                    ev.insert("type".into(), "RichContentEvent".into());
                    let c = src.str(key::RICH_CONTENT)?.ok_or_else(|| {
                        BadProvenance(format!("{ptype} payload has no richContent"))
                    })?;
                    ev.insert("content".into(), c.into());
                }
                _ => return Err(BadProvenance(format!("unknown payload type {ptype:?}"))),
            }
            Ok(Some(src.record(ev)?))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::kind;
    use serde_json::json;

    #[test]
    fn an_activity_without_provenance_takes_its_record_back_from_its_externalid() {
        let acts = [
            json!({"type": "message", "eventId": 10, "externalId": "lp:c:d1:7",
                "sender": {"integrationId": "i", "integrationType": "Customer"},
                "message": {"type": "text", "text": "hi"}}),
            json!({"type": "message", "eventId": 11, "externalId": "native-x",
                "sender": {"integrationId": "j", "integrationType": "Agent"},
                "message": {"type": "text", "text": "yo"}}),
        ];
        let out =
            to_liveperson("c", &acts, &Mapping::default(), &HubsterResume::default()).unwrap();
        let r = &out.records;
        assert_eq!(
            (r[0]["dialogId"].as_str(), r[0]["sequence"].as_i64()),
            (Some("d1"), Some(7))
        );
        assert_eq!(r[0]["originatorMetadata"]["role"], "CONSUMER");
        // The rest continue after it, in the conversation's own dialog.
        assert_eq!(
            (r[1]["dialogId"].as_str(), r[1]["sequence"].as_i64()),
            (Some("c"), Some(8))
        );
        // What could not be restored is said.
        assert_eq!(out.report.warnings[kind::FROM_EXTERNAL_ID], 1);
    }
}
