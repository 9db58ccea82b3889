//! LivePerson Messaging History `messageEventRecords`, read without copying.
//!
//! Only the envelope (`sequence`, `dialogId`, `originatorId`, `serverTimestamp`,
//! `originatorMetadata`) and the event's own keys are modelled; every other
//! field is kept as its exact JSON text in [`Extras`], so a record we do not
//! understand still survives a round trip. Event fields whose shape depends on
//! the event type (`message`, `content`, `status`, `sequenceList`) stay raw
//! until the converter interprets them.

use super::json::{Extras, Str};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fmt;

/// One entry of `messageEventRecords`.
#[derive(Debug, Clone, Default)]
pub struct Record<'a> {
    pub sequence: Option<i64>,
    pub dialog_id: Option<Str<'a>>,
    pub originator_id: Option<Str<'a>>,
    pub server_timestamp: Option<i64>,
    pub originator_metadata: Option<OriginatorMetadata<'a>>,
    pub event: Option<Event<'a>>,
    pub extra: Extras<'a>,
}

/// `originatorMetadata`: `{id, role}` plus anything else.
#[derive(Debug, Clone, Default)]
pub struct OriginatorMetadata<'a> {
    pub id: Option<Str<'a>>,
    pub role: Option<Str<'a>>,
    pub extra: Extras<'a>,
}

/// The `event` object of a record.
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    /// `ContentEvent`, `RichContentEvent`, `AcceptStatusEvent`, or anything else.
    pub kind: Option<Str<'a>>,
    pub content_type: Option<Str<'a>>,
    pub message: Option<&'a RawValue>,
    pub content: Option<&'a RawValue>,
    pub status: Option<&'a RawValue>,
    pub sequence_list: Option<&'a RawValue>,
    pub extra: Extras<'a>,
}

impl Record<'_> {
    pub fn role(&self) -> Option<&str> {
        self.originator_metadata
            .as_ref()
            .and_then(|m| m.role.as_ref())
            .map(Str::as_str)
    }

    pub fn event_kind(&self) -> Option<&str> {
        self.event
            .as_ref()
            .and_then(|e| e.kind.as_ref())
            .map(Str::as_str)
    }

    /// The record as one JSON value (what a `liveperson.event` payload carries).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("records always serialize")
    }
}

/// The body of a content-search response: `{"messageEventRecords": [...]}`.
#[derive(Debug, Default)]
pub struct ContentSearch<'a> {
    pub records: Vec<Record<'a>>,
    pub extra: Extras<'a>,
}

/// One line of LivePerson JSONL: `{"conversationId": ..., "messageEventRecords": [...]}`.
#[derive(Debug, Default)]
pub struct ConversationLine<'a> {
    pub conversation_id: Option<Str<'a>>,
    pub records: Vec<Record<'a>>,
    pub extra: Extras<'a>,
}

macro_rules! object_visitor {
    ($ty:ident, $expect:literal, |$map:ident, $out:ident, $key:ident| $body:block) => {
        impl<'de: 'a, 'a> Deserialize<'de> for $ty<'a> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty<'de>;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expect)
                    }
                    fn visit_map<A: MapAccess<'de>>(
                        self,
                        mut $map: A,
                    ) -> Result<Self::Value, A::Error> {
                        let mut $out = $ty::default();
                        while let Some($key) = $map.next_key::<Str<'de>>()? {
                            $body
                        }
                        Ok($out)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

/// Reads a field once; a repeated key is an error rather than a silent overwrite.
fn set_once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

object_visitor!(
    Record,
    "a messageEventRecords entry (an object)",
    |map, out, key| {
        match key.as_str() {
            "sequence" => set_once(&mut map, &mut out.sequence, "sequence")?,
            "dialogId" => set_once(&mut map, &mut out.dialog_id, "dialogId")?,
            "originatorId" => set_once(&mut map, &mut out.originator_id, "originatorId")?,
            "serverTimestamp" => set_once(&mut map, &mut out.server_timestamp, "serverTimestamp")?,
            "originatorMetadata" => {
                set_once(&mut map, &mut out.originator_metadata, "originatorMetadata")?
            }
            "event" => set_once(&mut map, &mut out.event, "event")?,
            _ => out.extra.0.push((key, map.next_value()?)),
        }
    }
);

object_visitor!(
    OriginatorMetadata,
    "originatorMetadata (an object)",
    |map, out, key| {
        match key.as_str() {
            "id" => set_once(&mut map, &mut out.id, "id")?,
            "role" => set_once(&mut map, &mut out.role, "role")?,
            _ => out.extra.0.push((key, map.next_value()?)),
        }
    }
);

object_visitor!(Event, "an event (an object)", |map, out, key| {
    match key.as_str() {
        "type" => set_once(&mut map, &mut out.kind, "type")?,
        "contentType" => set_once(&mut map, &mut out.content_type, "contentType")?,
        "message" => set_once(&mut map, &mut out.message, "message")?,
        "content" => set_once(&mut map, &mut out.content, "content")?,
        "status" => set_once(&mut map, &mut out.status, "status")?,
        "sequenceList" => set_once(&mut map, &mut out.sequence_list, "sequenceList")?,
        _ => out.extra.0.push((key, map.next_value()?)),
    }
});

object_visitor!(
    ContentSearch,
    "a content-search response (an object)",
    |map, out, key| {
        match key.as_str() {
            "messageEventRecords" => out.records = map.next_value()?,
            _ => out.extra.0.push((key, map.next_value()?)),
        }
    }
);

object_visitor!(
    ConversationLine,
    "an object with conversationId and messageEventRecords",
    |map, out, key| {
        match key.as_str() {
            "conversationId" => set_once(&mut map, &mut out.conversation_id, "conversationId")?,
            "messageEventRecords" => out.records = map.next_value()?,
            _ => out.extra.0.push((key, map.next_value()?)),
        }
    }
);

fn entry<M: SerializeMap, T: Serialize>(m: &mut M, k: &str, v: &Option<T>) -> Result<(), M::Error> {
    match v {
        Some(v) => m.serialize_entry(k, v),
        None => Ok(()),
    }
}

impl Serialize for Record<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        entry(&mut m, "sequence", &self.sequence)?;
        entry(&mut m, "dialogId", &self.dialog_id)?;
        entry(&mut m, "originatorId", &self.originator_id)?;
        entry(&mut m, "serverTimestamp", &self.server_timestamp)?;
        entry(&mut m, "originatorMetadata", &self.originator_metadata)?;
        entry(&mut m, "event", &self.event)?;
        self.extra.serialize_into(&mut m)?;
        m.end()
    }
}

impl Serialize for OriginatorMetadata<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        entry(&mut m, "id", &self.id)?;
        entry(&mut m, "role", &self.role)?;
        self.extra.serialize_into(&mut m)?;
        m.end()
    }
}

impl Serialize for Event<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        entry(&mut m, "type", &self.kind)?;
        entry(&mut m, "contentType", &self.content_type)?;
        entry(&mut m, "message", &self.message)?;
        entry(&mut m, "content", &self.content)?;
        entry(&mut m, "status", &self.status)?;
        entry(&mut m, "sequenceList", &self.sequence_list)?;
        self.extra.serialize_into(&mut m)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_survive_reserialization() {
        let text = r#"{"sequence":3,"dialogId":"d","x":{"y":[1,2]},"event":{"type":"Odd","z":"é"},"originatorMetadata":{"id":"a","role":"AGENT","q":1}}"#;
        let rec: Record = serde_json::from_str(text).unwrap();
        assert_eq!(rec.extra.0.len(), 1);
        let back = rec.to_value();
        let orig: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, orig);
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let text = r#"{"dialogId":"plain","originatorId":"esc\"aped"}"#;
        let rec: Record = serde_json::from_str(text).unwrap();
        assert!(matches!(
            rec.dialog_id.unwrap().0,
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(rec.originator_id.unwrap().as_str(), "esc\"aped");
    }

    #[test]
    fn wrong_envelope_type_is_an_error_naming_it() {
        let err = serde_json::from_str::<Record>(r#"{"sequence":"3"}"#).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
        let err = serde_json::from_str::<Record>(r#"{"sequence":1,"sequence":2}"#).unwrap_err();
        assert!(
            err.to_string().contains("duplicate field `sequence`"),
            "{err}"
        );
    }
}
