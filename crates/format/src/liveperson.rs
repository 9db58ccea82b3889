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
    /// "record dialog/sequence" or "record at <timestamp>" for messages.
    pub fn name(&self) -> String {
        let dialog = self.dialog_id.as_ref().map_or("-", Str::as_str);
        match (self.sequence, self.server_timestamp) {
            (Some(s), _) => format!("record {dialog}/{s}"),
            (None, Some(t)) => format!(
                "{} record {dialog} at {t}",
                self.event_kind().unwrap_or("untyped")
            ),
            (None, None) => format!("{} record {dialog}", self.event_kind().unwrap_or("untyped")),
        }
    }

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
    /// Whether the object had a `messageEventRecords` at all.
    pub has_records: bool,
    pub extra: Extras<'a>,
}

/// One line of LivePerson JSONL: `{"conversationId": ..., "messageEventRecords": [...]}`.
#[derive(Debug, Default)]
pub struct ConversationLine<'a> {
    pub conversation_id: Option<Str<'a>>,
    pub records: Vec<Record<'a>>,
    /// Whether the line had a `messageEventRecords` at all.
    pub has_records: bool,
    pub extra: Extras<'a>,
}

impl Extras<'_> {
    /// What an object that should have held records held instead: its
    /// first keys, for an error that says what shape was found.
    pub fn shape(&self) -> String {
        let keys: Vec<&str> = self.0.iter().take(6).map(|(k, _)| k.as_str()).collect();
        if keys.is_empty() {
            "an empty object".into()
        } else {
            format!(
                "an object with {}{}",
                keys.join(", "),
                if self.0.len() > keys.len() {
                    ", ..."
                } else {
                    ""
                }
            )
        }
    }
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
            "messageEventRecords" => {
                out.records = map.next_value()?;
                out.has_records = true;
            }
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
            "messageEventRecords" => {
                out.records = map.next_value()?;
                out.has_records = true;
            }
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

// ---- Typed views of the documented ContentEvent messages ----

/// A message object split into its documented string fields (in the
/// documented order) and everything else. A documented field whose value is
/// not a string counts as "everything else", so nothing is lost.
#[derive(Debug, Clone, Default)]
pub struct MessageFields<'a> {
    pub fields: Vec<(&'static str, Str<'a>)>,
    pub extra: Extras<'a>,
}

impl<'a> MessageFields<'a> {
    /// `None` if `raw` is not an object.
    pub fn parse(raw: &'a RawValue, documented: &[&'static str]) -> Option<Self> {
        let all = serde_json::from_str::<RawObject<'a>>(raw.get()).ok()?.0;
        let mut out = MessageFields::default();
        for (k, v) in all {
            match documented.iter().find(|n| **n == k.as_str()) {
                Some(name) => match serde_json::from_str::<Str<'a>>(v.get()) {
                    Ok(s) => out.fields.push((name, s)),
                    Err(_) => out.extra.0.push((k, v)),
                },
                None => out.extra.0.push((k, v)),
            }
        }
        out.fields
            .sort_by_key(|(name, _)| documented.iter().position(|k| k == name));
        Some(out)
    }

    pub fn get(&self, name: &str) -> Option<&Str<'a>> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// An object as an ordered list of raw fields.
struct RawObject<'a>(Vec<(Str<'a>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(k) = m.next_key::<Str<'de>>()? {
                    v.push((k, m.next_value()?));
                }
                Ok(RawObject(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// `hosted/file`: `{caption, relativePath, fileType (JPG|PNG|GIF|TXT|PDF), preview}`.
#[derive(Debug, Clone)]
pub struct HostedFile<'a>(pub MessageFields<'a>);

/// `forms/secure-invitation`: `{invitationId, title}`.
#[derive(Debug, Clone)]
pub struct SecureInvitation<'a>(pub MessageFields<'a>);

/// `forms/secure-submission`: `{invitationId}`.
#[derive(Debug, Clone)]
pub struct SecureSubmission<'a>(pub MessageFields<'a>);

/// The four documented ContentEvent content types, read from a record.
#[derive(Debug, Clone)]
pub enum ContentMessage<'a> {
    /// `text/plain`: the message is a string.
    Text(Str<'a>),
    HostedFile(HostedFile<'a>),
    SecureInvitation(SecureInvitation<'a>),
    SecureSubmission(SecureSubmission<'a>),
}

impl<'a> HostedFile<'a> {
    pub const FIELDS: &'static [&'static str] = &["caption", "relativePath", "fileType", "preview"];

    pub fn relative_path(&self) -> &str {
        self.0.get("relativePath").map_or("", Str::as_str)
    }
    pub fn file_type(&self) -> &str {
        self.0.get("fileType").map_or("", Str::as_str)
    }
    pub fn caption(&self) -> Option<&Str<'a>> {
        self.0.get("caption")
    }
}

impl<'a> SecureInvitation<'a> {
    pub const FIELDS: &'static [&'static str] = &["invitationId", "title"];

    pub fn invitation_id(&self) -> &Str<'a> {
        self.0.get("invitationId").expect("checked when read")
    }
    pub fn title(&self) -> &Str<'a> {
        self.0.get("title").expect("checked when read")
    }
}

impl SecureSubmission<'_> {
    pub const FIELDS: &'static [&'static str] = &["invitationId"];
}

impl<'a> ContentMessage<'a> {
    /// The typed message of a ContentEvent of a documented content type.
    /// `Ok(None)`: another content type. `Err`: a documented content type
    /// whose message does not have the documented shape (says why).
    pub fn read(content_type: &str, message: &'a RawValue) -> Result<Option<Self>, &'static str> {
        let fields = |names| MessageFields::parse(message, names).ok_or("is not an object");
        Ok(Some(match content_type {
            "text/plain" => ContentMessage::Text(
                serde_json::from_str(message.get()).map_err(|_| "is not a string")?,
            ),
            "hosted/file" => {
                let f = fields(HostedFile::FIELDS)?;
                f.get("relativePath").ok_or("has no string relativePath")?;
                ContentMessage::HostedFile(HostedFile(f))
            }
            "forms/secure-invitation" => {
                let f = fields(SecureInvitation::FIELDS)?;
                f.get("invitationId")
                    .zip(f.get("title"))
                    .ok_or("lacks a string invitationId and title")?;
                ContentMessage::SecureInvitation(SecureInvitation(f))
            }
            "forms/secure-submission" => {
                let f = fields(SecureSubmission::FIELDS)?;
                f.get("invitationId").ok_or("lacks a string invitationId")?;
                ContentMessage::SecureSubmission(SecureSubmission(f))
            }
            _ => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_content_types_read_typed() {
        let raw = |s: &str| -> Box<RawValue> { RawValue::from_string(s.to_owned()).unwrap() };
        let t = raw(r#""hi""#);
        assert!(
            matches!(ContentMessage::read("text/plain", &t), Ok(Some(ContentMessage::Text(s))) if s.as_str() == "hi")
        );
        let f = raw(r#"{"fileType":"PDF","relativePath":"/a/b.pdf","caption":3,"x":1}"#);
        let Ok(Some(ContentMessage::HostedFile(file))) = ContentMessage::read("hosted/file", &f)
        else {
            panic!()
        };
        assert_eq!(
            (file.relative_path(), file.file_type(), file.caption()),
            ("/a/b.pdf", "PDF", None)
        );
        // Documented order, and the odd caption kept with the unknown field.
        assert_eq!(
            file.0.fields.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["relativePath", "fileType"]
        );
        assert_eq!(file.0.extra.to_json_object(), r#"{"caption":3,"x":1}"#);
        let i = raw(r#"{"invitationId":"i","title":"T"}"#);
        assert!(matches!(
            ContentMessage::read("forms/secure-invitation", &i),
            Ok(Some(ContentMessage::SecureInvitation(_)))
        ));
        assert_eq!(
            ContentMessage::read("forms/secure-submission", &t).unwrap_err(),
            "is not an object"
        );
        assert_eq!(
            ContentMessage::read("forms/secure-submission", &raw("{}")).unwrap_err(),
            "lacks a string invitationId"
        );
        assert!(matches!(ContentMessage::read("text/html", &t), Ok(None)));
    }

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
