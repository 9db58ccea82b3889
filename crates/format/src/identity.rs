//! THE identity of a LivePerson record, the externalId it travels under
//! and the UUID v5 derived from it. Every part of convsync that asks "is
//! this the same record?" (the converter, the pipeline, files, verify) asks
//! here.
//!
//! - a content record: `lp:{conversationId}:{dialogId}:{sequence}`;
//! - an accept status: `lp:{conversationId}:{dialogId}:status:{uuid}`, the
//!   UUID v5 of (status, dialogId, originatorId, sequenceList,
//!   serverTimestamp);
//! - anything else: `lp:{conversationId}:{dialogId}:event:{uuid}`, the UUID
//!   v5 of the whole record.
//!
//! A record without a dialogId belongs to the main dialog, whose id is the
//! conversation id.

use crate::json::Str;
use crate::liveperson::Record;
use serde_json::Value;
use std::fmt::Write as _;

/// The namespace under which `interactionId`s are derived (UUID v5 of the
/// externalId). Fixed forever: changing it changes every interactionId.
pub const INTERACTION_NAMESPACE: uuid::Uuid = uuid::uuid!("5b0c3f1e-7c4d-5a8e-9b2f-6d1e0a4c8b37");

/// What kind of identity a record has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A sequenced record (content).
    Sequenced(i64),
    /// An accept status; the highest sequence it acknowledges.
    AcceptStatus { acknowledges: Option<i64> },
    /// Neither: identified by its whole text.
    Other,
}

/// The externalId of a content record.
pub fn sequence_external_id(conversation_id: &str, dialog_id: &str, sequence: i64) -> String {
    format!("lp:{conversation_id}:{dialog_id}:{sequence}")
}

/// The (dialogId, sequence) an externalId of a content record of
/// `conversation_id` names (see [`sequence_external_id`]); `None` for any
/// other externalId.
pub fn parse_sequence_external_id<'a>(
    conversation_id: &str,
    external_id: &'a str,
) -> Option<(&'a str, i64)> {
    let rest = external_id
        .strip_prefix("lp:")?
        .strip_prefix(conversation_id)?
        .strip_prefix(':')?;
    let (dialog, seq) = rest.rsplit_once(':')?;
    if dialog.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    Some((dialog, seq.parse().ok()?))
}

/// The externalId of `rec` in conversation `conversation_id`, and its kind.
/// `scratch` is a buffer the caller may reuse between calls.
pub fn external_id(conversation_id: &str, rec: &Record, scratch: &mut String) -> (String, Kind) {
    let dialog = rec.dialog_id.as_ref().map_or(conversation_id, Str::as_str);
    let mut key = String::with_capacity(conversation_id.len() + dialog.len() + 48);
    let _ = write!(key, "lp:{conversation_id}:{dialog}:");
    if let Some(seq) = rec.sequence {
        key.push_str(itoa::Buffer::new().format(seq));
        return (key, Kind::Sequenced(seq));
    }
    scratch.clear();
    match accept_status(rec, Some(scratch)) {
        Some((status, max)) => {
            // (dialogId, originatorId, status, sequenceList, serverTimestamp)
            let mut stamp = itoa::Buffer::new();
            let ts = rec.server_timestamp;
            for part in [
                status,
                dialog,
                rec.originator_id.as_ref().map_or("", Str::as_str),
                ts.map_or("", |t| stamp.format(t)),
            ] {
                scratch.push('\u{1f}');
                scratch.push_str(part);
            }
            key.push_str("status:");
            push_uuid5(&mut key, scratch);
            (key, Kind::AcceptStatus { acknowledges: max })
        }
        None => {
            key.push_str("event:");
            push_uuid5(
                &mut key,
                &serde_json::to_string(rec).expect("records serialize"),
            );
            (key, Kind::Other)
        }
    }
}

/// The identity of a record held as a JSON value (files, verify): its
/// externalId as [`external_id`] gives it. A value that is not a record is
/// identified by its whole text.
pub fn record_identity(conversation_id: &str, record: &Value) -> String {
    if let Some(seq) = record["sequence"].as_i64() {
        let dialog = record["dialogId"].as_str().unwrap_or(conversation_id);
        return sequence_external_id(conversation_id, dialog, seq);
    }
    let text = record.to_string();
    match serde_json::from_str::<Record>(&text) {
        Ok(rec) => external_id(conversation_id, &rec, &mut String::new()).0,
        Err(_) => {
            let mut key = format!("lp:{conversation_id}:invalid:");
            push_uuid5(&mut key, &text);
            key
        }
    }
}

/// UUID v5 of `name` under [`INTERACTION_NAMESPACE`]. The same as
/// `Uuid::new_v5`, with a SHA-1 that uses the CPU's SHA instructions.
pub fn uuid5_of(name: &str) -> uuid::Uuid {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(INTERACTION_NAMESPACE.as_bytes());
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// Appends the hyphenated UUID v5 of `name`.
fn push_uuid5(out: &mut String, name: &str) {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.push_str(uuid5_of(name).hyphenated().encode_lower(&mut buf));
}

/// `(status, max of sequenceList)` of a well-formed AcceptStatusEvent; the
/// list's numbers are appended to `list_text`.
pub(crate) fn accept_status<'a>(
    rec: &'a Record<'a>,
    list_text: Option<&mut String>,
) -> Option<(&'a str, Option<i64>)> {
    let ev = rec.event.as_ref()?;
    if ev.kind.as_ref()?.as_str() != "AcceptStatusEvent" {
        return None;
    }
    let status: &str = serde_json::from_str(ev.status?.get()).ok()?;
    let mut de = serde_json::Deserializer::from_str(ev.sequence_list?.get());
    let max = serde::de::DeserializeSeed::deserialize(ListSeed(list_text), &mut de).ok()?;
    Some((status, max))
}

/// Reads an array of integers without collecting it: appends `n,` for each
/// and gives back the largest.
struct ListSeed<'s>(Option<&'s mut String>);

impl<'de> serde::de::DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Option<i64>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ListSeed<'_> {
    type Value = Option<i64>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of integers")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        mut self,
        mut seq: A,
    ) -> Result<Self::Value, A::Error> {
        let mut max: Option<i64> = None;
        while let Some(n) = seq.next_element::<i64>()? {
            if let Some(text) = self.0.as_deref_mut() {
                text.push_str(itoa::Buffer::new().format(n));
                text.push(',');
            }
            max = Some(max.map_or(n, |m| m.max(n)));
        }
        Ok(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_content_record_externalid_reads_back() {
        let id = sequence_external_id("c", "d:1", 7);
        assert_eq!(parse_sequence_external_id("c", &id), Some(("d:1", 7)));
        assert_eq!(parse_sequence_external_id("other", &id), None);
        assert_eq!(parse_sequence_external_id("c", "lp:c:d:status:x"), None);
        assert_eq!(parse_sequence_external_id("c", "native-1"), None);
    }

    #[test]
    fn uuid5_is_the_standard_v5() {
        for name in ["", "lp:c:d:1", "ünïcode ✨", &"x".repeat(200)] {
            let want = uuid::Uuid::new_v5(&INTERACTION_NAMESPACE, name.as_bytes());
            assert_eq!(uuid5_of(name), want);
        }
    }

    #[test]
    fn a_value_has_the_identity_the_converter_gives_its_record() {
        let status = json!({"dialogId": "d", "originatorId": "o", "serverTimestamp": 5,
            "event": {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [1, 2]}});
        let other = json!({"dialogId": "d", "serverTimestamp": 5, "event": {"type": "X"}});
        for (v, prefix) in [
            (json!({"dialogId": "d", "sequence": 3}), "lp:c:d:3"),
            (json!({"sequence": 3}), "lp:c:c:3"),
            (status.clone(), "lp:c:d:status:"),
            (other.clone(), "lp:c:d:event:"),
            (json!({"dialogId": 7}), "lp:c:invalid:"),
        ] {
            let id = record_identity("c", &v);
            assert!(id.starts_with(prefix), "{id}");
            if let Ok(rec) = serde_json::from_str::<Record>(&v.to_string()) {
                assert_eq!(external_id("c", &rec, &mut String::new()).0, id);
            }
        }
        // Another reader of the same status, or another time, is another record.
        let mut later = status.clone();
        later["serverTimestamp"] = 6.into();
        assert_ne!(record_identity("c", &status), record_identity("c", &later));
    }
}
