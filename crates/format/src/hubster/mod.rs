//! Hubster engine Activities.
//!
//! Activities we write are typed ([`Activity`]) and serialize straight from
//! borrowed input. Activities we read stay `serde_json::Value`s: every field,
//! known or not, is kept, and the reverse converter looks at them through the
//! accessors below.

use crate::json::{write_i64, write_str, write_value};
use serde::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

mod content;

pub use content::{
    Action, Body, Card, Content, Fields, LIVEPERSON_CHANNEL, Message, PVal, Payload, PayloadEvent,
};

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
    /// The integration types that send activities in a conversation (every
    /// side Get Activities is asked for).
    pub const SENDERS: [IntegrationType; 3] = [
        IntegrationType::Customer,
        IntegrationType::Agent,
        IntegrationType::Bot,
    ];

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

impl Participant<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"integrationId\":");
        write_str(out, self.integration_id);
        out.extend_from_slice(b",\"integrationType\":\"");
        out.extend_from_slice(self.integration_type.as_str().as_bytes());
        out.extend_from_slice(b"\",\"channelType\":");
        write_str(out, self.channel_type);
        out.push(b'}');
    }
}

/// An activity the converter built from a LivePerson record.
#[derive(Debug, Clone)]
pub struct BuiltActivity<'a> {
    pub event_id: i64,
    pub external_id: String,
    pub interaction_id: Option<uuid::Uuid>,
    pub sender: Participant<'a>,
    pub recipient: Participant<'a>,
    pub body: Body<'a>,
}

/// An activity the converter produced: built from a record, or restored
/// exactly from Hubster provenance a record carried.
#[derive(Debug, Clone)]
// Nearly every activity is `Built`: boxing it would cost an allocation each.
#[allow(clippy::large_enum_variant)]
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
        let mut out = Vec::new();
        self.write_json(&mut out);
        serde_json::from_slice(&out).expect("activities are valid JSON")
    }

    /// Appends the activity as compact JSON.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let a = match self {
            Activity::Restored(v) => return write_value(out, v),
            Activity::Built(a) => a,
        };
        let (head, trigger): (&[u8], _) = match &a.body {
            Body::Message(_) => (
                b"{\"type\":\"message\",\"eventTrigger\":\"",
                a.sender.integration_type.message_trigger(),
            ),
            Body::Event(_) | Body::Signal { .. } => (
                b"{\"type\":\"event\",\"eventTrigger\":\"",
                a.sender.integration_type.event_trigger(),
            ),
        };
        out.extend_from_slice(head);
        out.extend_from_slice(trigger.as_bytes());
        out.extend_from_slice(b"\",\"eventId\":");
        write_i64(out, a.event_id);
        out.extend_from_slice(b",\"externalId\":");
        write_str(out, &a.external_id);
        out.extend_from_slice(b",\"isEcho\":false");
        if let Some(id) = &a.interaction_id {
            let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
            out.extend_from_slice(b",\"interactionId\":\"");
            out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(b",\"flowProcess\":\"Default\",\"sender\":");
        a.sender.write(out);
        out.extend_from_slice(b",\"recipient\":");
        a.recipient.write(out);
        a.body.write(out);
        out.push(b'}');
    }

    /// A list of activities as a compact JSON array.
    pub fn write_array(activities: &[Activity], out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, a) in activities.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            a.write_json(out);
        }
        out.push(b']');
    }
}

impl Serialize for Activity<'_> {
    /// Through [`Activity::write_json`], so there is one way to write one.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = Vec::new();
        self.write_json(&mut out);
        let text = String::from_utf8(out).map_err(serde::ser::Error::custom)?;
        RawValue::from_string(text)
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
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
