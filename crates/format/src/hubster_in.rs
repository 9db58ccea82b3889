//! Hubster activities as read: typed views of every documented message type,
//! action and event type.
//!
//! An activity read from Hubster stays a `serde_json::Value` (so nothing we
//! do not model is lost, and the original can travel whole); these types are
//! how the converter looks at it. A message or event that does not fit its
//! documented shape reads as `None` and is carried as it is instead.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `message`: every message type the engine documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Message {
    Text {
        #[serde(default)]
        text: String,
        #[serde(default)]
        items: Vec<Item>,
        #[serde(default)]
        actions: Vec<Action>,
    },
    Image {
        #[serde(default)]
        url: String,
        #[serde(default, rename = "urlAnchor")]
        url_anchor: Option<String>,
        #[serde(default)]
        alt: Option<String>,
        #[serde(default)]
        title: Option<String>,
    },
    Attachment(Media),
    Video(Media),
    Audio(Media),
    Youtube(Media),
    Vimeo(Media),
    Location {
        #[serde(default)]
        address: Option<String>,
        #[serde(default)]
        latitude: Option<f64>,
        #[serde(default)]
        longitude: Option<f64>,
    },
    Contact {
        #[serde(default)]
        title: Option<String>,
        #[serde(default, rename = "imageUrl")]
        image_url: Option<String>,
        #[serde(default)]
        subtitle: Option<String>,
        #[serde(default)]
        properties: Vec<Property>,
    },
    Card(Item),
    Carousel {
        #[serde(default)]
        items: Vec<Item>,
        #[serde(default)]
        actions: Vec<Action>,
    },
    List {
        #[serde(default)]
        items: Vec<Item>,
        #[serde(default)]
        actions: Vec<Action>,
    },
    /// A command to the channel; no LivePerson equivalent.
    Command,
}

/// attachment / video / audio / youtube / vimeo.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
}

/// A card, or an item of a carousel, list or text.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub subtitle: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub url_type: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub fallback_image_url: Option<String>,
    /// The card's picture, as the documentation's own card example gives
    /// it (its field table says `url`).
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub actions: Vec<Action>,
    /// An item of a text may be a `contact`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// A contact item's properties.
    #[serde(default)]
    pub properties: Vec<Property>,
}

/// A contact's property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Property {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: Value,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// `actions[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Action {
    Postback {
        #[serde(default)]
        title: String,
        #[serde(default)]
        payload: Value,
    },
    Reply {
        #[serde(default)]
        title: String,
        #[serde(default)]
        payload: Value,
    },
    Link {
        #[serde(default)]
        title: String,
        #[serde(default)]
        url: String,
    },
}

/// `event`: every event type the engine documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    #[serde(rename = "seen")]
    Seen,
    #[serde(rename = "typing_on")]
    TypingOn,
    #[serde(rename = "typing_off")]
    TypingOff,
    #[serde(rename = "payload")]
    Payload {
        #[serde(rename = "payloadType", default)]
        payload_type: String,
        #[serde(default)]
        payload: Value,
    },
}

impl Message {
    /// The documented view of an activity's `message`, if it has one.
    pub fn of(message: &Value) -> Option<Message> {
        Message::deserialize(message).ok()
    }
}

impl Event {
    /// The documented view of an activity's `event`, if it has one.
    pub fn of(event: &Value) -> Option<Event> {
        Event::deserialize(event).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documented_shapes_read_and_others_do_not() {
        let fixture: Value = serde_json::from_str(include_str!(
            "../../../tests/data/hubster-get-activities.json"
        ))
        .unwrap();
        assert_eq!(
            Message::of(&fixture[0]["message"]),
            Some(Message::Text {
                text: "Hi there!".into(),
                items: vec![],
                actions: vec![]
            })
        );
        let card = json!({"type": "card", "title": "T", "actions": [{"type": "link", "title": "Go", "url": "u"}], "extra": 1});
        assert!(
            matches!(Message::of(&card), Some(Message::Card(Item { title: Some(t), .. })) if t == "T")
        );
        assert_eq!(Message::of(&json!({"type": "hologram"})), None);
        assert_eq!(Message::of(&json!({"type": "text", "text": 5})), None);
        assert_eq!(
            Event::of(&json!({"type": "typing_on"})),
            Some(Event::TypingOn)
        );
        assert_eq!(
            Event::of(&json!({"type": "payload", "payloadType": "x", "payload": [1]})),
            Some(Event::Payload {
                payload_type: "x".into(),
                payload: json!([1])
            })
        );
        for t in [
            "image",
            "attachment",
            "video",
            "audio",
            "youtube",
            "vimeo",
            "location",
            "contact",
            "carousel",
            "list",
            "command",
        ] {
            assert!(Message::of(&json!({"type": t})).is_some(), "{t}");
        }
    }
}
