//! Hubster engine Activities.
//!
//! Activities we write are typed ([`Activity`]) and serialize straight from
//! borrowed input. Activities we read stay `serde_json::Value`s: every field,
//! known or not, is kept, and the reverse converter looks at them through the
//! accessors below.

use super::json::Str;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// Hubster's integration types. `System` senders exist on the hub but have no
/// LivePerson counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum IntegrationType {
    Customer,
    Agent,
    Bot,
    System,
}

impl IntegrationType {
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationType::Customer => "Customer",
            IntegrationType::Agent => "Agent",
            IntegrationType::Bot => "Bot",
            IntegrationType::System => "System",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Customer" => IntegrationType::Customer,
            "Agent" => IntegrationType::Agent,
            "Bot" => IntegrationType::Bot,
            "System" => IntegrationType::System,
            _ => return None,
        })
    }

    /// `message:<side>` / `event:<side>`.
    pub fn message_trigger(self) -> &'static str {
        match self {
            IntegrationType::Customer => "message:customer",
            IntegrationType::Agent => "message:agent",
            IntegrationType::Bot => "message:bot",
            IntegrationType::System => "message:system",
        }
    }

    pub fn event_trigger(self) -> &'static str {
        match self {
            IntegrationType::Customer => "event:customer",
            IntegrationType::Agent => "event:agent",
            IntegrationType::Bot => "event:bot",
            IntegrationType::System => "event:system",
        }
    }
}

impl fmt::Display for IntegrationType {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `sender` / `recipient`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Participant<'a> {
    pub integration_id: &'a str,
    pub integration_type: IntegrationType,
    pub channel_type: &'a str,
}

impl Serialize for Participant<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("integrationId", self.integration_id)?;
        m.serialize_entry("integrationType", self.integration_type.as_str())?;
        m.serialize_entry("channelType", self.channel_type)?;
        m.end()
    }
}

/// A provenance value: written as a string in `channels` metadata, and as
/// typed JSON inside a payload.
#[derive(Debug, Clone)]
pub enum PVal<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    /// JSON text taken from the input as it was.
    Raw(&'a RawValue),
    /// JSON text built by the converter.
    Json(Box<RawValue>),
}

impl<'a> From<&'a Str<'a>> for PVal<'a> {
    fn from(s: &'a Str<'a>) -> Self {
        PVal::Str(Cow::Borrowed(s.as_str()))
    }
}

impl PVal<'_> {
    pub fn json(v: &impl Serialize) -> PVal<'static> {
        PVal::Json(serde_json::value::to_raw_value(v).expect("values always serialize"))
    }
}

/// Provenance as typed JSON (inside a payload).
struct AsJson<'b, 'a>(&'b PVal<'a>);
impl Serialize for AsJson<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            PVal::Str(v) => s.serialize_str(v),
            PVal::Int(v) => s.serialize_i64(*v),
            PVal::Raw(v) => v.serialize(s),
            PVal::Json(v) => v.serialize(s),
        }
    }
}

/// Provenance as a string (a `channels` metadata value).
struct AsString<'b, 'a>(&'b PVal<'a>);
impl Serialize for AsString<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            PVal::Str(v) => s.serialize_str(v),
            PVal::Int(v) => s.collect_str(v),
            PVal::Raw(v) => s.serialize_str(v.get()),
            PVal::Json(v) => s.serialize_str(v.get()),
        }
    }
}

pub type Fields<'a> = Vec<(&'static str, PVal<'a>)>;

/// The `channels` array holding LivePerson provenance.
pub struct Channels<'b, 'a>(pub &'b Fields<'a>);
impl Serialize for Channels<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Meta<'b, 'a>(&'b Fields<'a>);
        impl Serialize for Meta<'_, '_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    struct Kv<'b, 'a>(&'static str, &'b PVal<'a>);
                    impl Serialize for Kv<'_, '_> {
                        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                            let mut m = s.serialize_map(Some(2))?;
                            m.serialize_entry("key", self.0)?;
                            m.serialize_entry("value", &AsString(self.1))?;
                            m.end()
                        }
                    }
                    seq.serialize_element(&Kv(k, v))?;
                }
                seq.end()
            }
        }
        let mut seq = s.serialize_seq(Some(1))?;
        struct Chan<'b, 'a>(&'b Fields<'a>);
        impl Serialize for Chan<'_, '_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("type", LIVEPERSON_CHANNEL)?;
                m.serialize_entry("metadata", &Meta(self.0))?;
                m.end()
            }
        }
        seq.serialize_element(&Chan(self.0))?;
        seq.end()
    }
}

/// The channel type that marks LivePerson provenance on a message.
pub const LIVEPERSON_CHANNEL: &str = "LivePerson";

/// A message's content, before provenance is attached.
#[derive(Debug, Clone)]
pub enum Content<'a> {
    Text(Cow<'a, str>),
    Image {
        url: String,
        alt: Option<Cow<'a, str>>,
    },
    Attachment {
        label: Cow<'a, str>,
        mime_type: &'static str,
        url: String,
    },
    /// Built content (cards, carousels, text with actions), fields besides `type`.
    Built {
        kind: &'static str,
        fields: Map<String, Value>,
    },
}

impl Content<'_> {
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Text(_) => "text",
            Content::Image { .. } => "image",
            Content::Attachment { .. } => "attachment",
            Content::Built { kind, .. } => kind,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub content: Content<'a>,
    pub provenance: Fields<'a>,
}

impl Serialize for Message<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", self.content.kind())?;
        match &self.content {
            Content::Text(text) => m.serialize_entry("text", text)?,
            Content::Image { url, alt } => {
                m.serialize_entry("url", url)?;
                if let Some(alt) = alt {
                    m.serialize_entry("alt", alt)?;
                }
            }
            Content::Attachment {
                label,
                mime_type,
                url,
            } => {
                m.serialize_entry("label", label)?;
                m.serialize_entry("mimeType", mime_type)?;
                m.serialize_entry("url", url)?;
            }
            Content::Built { fields, .. } => {
                for (k, v) in fields {
                    m.serialize_entry(k, v)?;
                }
            }
        }
        m.serialize_entry("channels", &Channels(&self.provenance))?;
        m.end()
    }
}

/// What a `payload` event carries.
#[derive(Debug, Clone)]
pub enum Payload<'a> {
    /// Named fields (status, sequenceList, ... plus provenance).
    Fields(Fields<'a>),
    /// The original LivePerson record, whole.
    Record(&'a super::liveperson::Record<'a>),
}

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Payload::Fields(fields) => {
                let mut m = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    m.serialize_entry(k, &AsJson(v))?;
                }
                m.end()
            }
            Payload::Record(r) => r.serialize(s),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PayloadEvent<'a> {
    pub payload_type: &'static str,
    pub payload: Payload<'a>,
}

impl Serialize for PayloadEvent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("type", "payload")?;
        m.serialize_entry("payloadType", self.payload_type)?;
        m.serialize_entry("payload", &self.payload)?;
        m.end()
    }
}

#[derive(Debug, Clone)]
pub enum Body<'a> {
    Message(Message<'a>),
    Event(PayloadEvent<'a>),
}

/// An activity the converter built from a LivePerson record.
#[derive(Debug, Clone)]
pub struct BuiltActivity<'a> {
    pub event_id: i64,
    pub external_id: String,
    pub interaction_id: Option<String>,
    pub sender: Participant<'a>,
    pub recipient: Participant<'a>,
    pub body: Body<'a>,
}

/// An activity the converter produced: built from a record, or restored
/// exactly from Hubster provenance a record carried.
#[derive(Debug, Clone)]
pub enum Activity<'a> {
    Built(BuiltActivity<'a>),
    Restored(Value),
}

impl Activity<'_> {
    pub fn event_id(&self) -> Option<i64> {
        match self {
            Activity::Built(a) => Some(a.event_id),
            Activity::Restored(v) => v.get("eventId").and_then(Value::as_i64),
        }
    }

    pub fn external_id(&self) -> Option<&str> {
        match self {
            Activity::Built(a) => Some(&a.external_id),
            Activity::Restored(v) => v.get("externalId").and_then(Value::as_str),
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("activities always serialize")
    }
}

impl Serialize for Activity<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = match self {
            Activity::Restored(v) => return v.serialize(s),
            Activity::Built(a) => a,
        };
        let mut m = s.serialize_map(None)?;
        let (kind, trigger) = match &a.body {
            Body::Message(_) => ("message", a.sender.integration_type.message_trigger()),
            Body::Event(_) => ("event", a.sender.integration_type.event_trigger()),
        };
        m.serialize_entry("type", kind)?;
        m.serialize_entry("eventTrigger", trigger)?;
        m.serialize_entry("eventId", &a.event_id)?;
        m.serialize_entry("externalId", &a.external_id)?;
        m.serialize_entry("isEcho", &false)?;
        if let Some(id) = &a.interaction_id {
            m.serialize_entry("interactionId", id)?;
        }
        m.serialize_entry("flowProcess", "Default")?;
        m.serialize_entry("sender", &a.sender)?;
        m.serialize_entry("recipient", &a.recipient)?;
        match &a.body {
            Body::Message(msg) => m.serialize_entry("message", msg)?,
            Body::Event(ev) => m.serialize_entry("event", ev)?,
        }
        m.end()
    }
}

/// One line of Hubster JSONL: `{"conversationId": ..., "activities": [...]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationLine {
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub activities: Vec<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Read-side accessors over an activity held as JSON.
pub trait ActivityExt {
    fn str_at(&self, path: &[&str]) -> Option<&str>;
}

impl ActivityExt for Value {
    fn str_at(&self, path: &[&str]) -> Option<&str> {
        let mut v = self;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str()
    }
}
