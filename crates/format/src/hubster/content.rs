//! What a built activity carries: a message's content (text, media,
//! cards, carousels, lists, locations...) or an event's, and how each is
//! written as JSON.

use crate::json::{Str, write_i64, write_opt, write_str, write_value};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;

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

    /// As typed JSON (inside a payload).
    pub(super) fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            PVal::Str(v) => write_str(out, v),
            PVal::Int(v) => write_i64(out, *v),
            PVal::Raw(v) => out.extend_from_slice(v.get().as_bytes()),
            PVal::Json(v) => out.extend_from_slice(v.get().as_bytes()),
        }
    }

    /// As a string (a `channels` metadata value).
    fn write_string(&self, out: &mut Vec<u8>) {
        match self {
            PVal::Str(v) => write_str(out, v),
            PVal::Int(v) => {
                out.push(b'"');
                write_i64(out, *v);
                out.push(b'"');
            }
            PVal::Raw(v) => write_str(out, v.get()),
            PVal::Json(v) => write_str(out, v.get()),
        }
    }
}

pub type Fields<'a> = Vec<(&'static str, PVal<'a>)>;

/// The channel type that marks LivePerson provenance on a message.
pub const LIVEPERSON_CHANNEL: &str = "LivePerson";

/// `"channels":[{"type":"LivePerson","metadata":[{"key":..,"value":..},..]}]`
fn write_channels(out: &mut Vec<u8>, fields: &Fields) {
    out.extend_from_slice(b"\"channels\":[{\"type\":\"LivePerson\",\"metadata\":[");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        write_str(out, k);
        out.extend_from_slice(b",\"value\":");
        v.write_string(out);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}]");
}

/// A message's content, before provenance is attached.
#[derive(Debug, Clone)]
pub enum Content<'a> {
    Text(Cow<'a, str>),
    /// `text` with actions (a secure-form invitation).
    TextActions {
        text: Cow<'a, str>,
        actions: Vec<Action>,
    },
    Image {
        url: String,
        alt: Option<Cow<'a, str>>,
        title: Option<String>,
        /// Where the image leads when opened (`urlAnchor`).
        anchor: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        address: Option<String>,
    },
    Attachment {
        label: Cow<'a, str>,
        mime_type: &'static str,
        url: String,
    },
    Card(Card),
    /// Items, and actions under them.
    Carousel(Vec<Card>, Vec<Action>),
}

impl<'a> Content<'a> {
    /// A card or carousel as text a person can read (every title,
    /// subtitle, content, image and action, one a line): what a customer's
    /// structured content becomes, a customer's integration sending
    /// messages, not cards. `None` for other content.
    pub fn card_as_text(&self) -> Option<String> {
        fn card(c: &Card, out: &mut Vec<String>) {
            out.extend(
                [&c.title, &c.subtitle, &c.content]
                    .into_iter()
                    .flatten()
                    .filter(|t| !t.is_empty())
                    .cloned(),
            );
            if let Some(url) = &c.url {
                out.push(url.clone());
            }
            actions(&c.actions, out);
        }
        fn actions(actions: &[Action], out: &mut Vec<String>) {
            for a in actions {
                out.push(match a {
                    Action::Postback { title, .. } | Action::Reply { title, .. } => {
                        format!("[{title}]")
                    }
                    Action::Link { title, url } => format!("[{title}] {url}"),
                });
            }
        }
        let mut out = Vec::new();
        match self {
            Content::Card(c) => card(c, &mut out),
            Content::Carousel(cards, acts) => {
                for c in cards {
                    card(c, &mut out);
                }
                actions(acts, &mut out);
            }
            _ => return None,
        }
        Some(out.join("\n"))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Content::Text(_) | Content::TextActions { .. } => "text",
            Content::Image { .. } => "image",
            Content::Location { .. } => "location",
            Content::Attachment { .. } => "attachment",
            Content::Card(_) => "card",
            Content::Carousel(..) => "carousel",
        }
    }

    /// The content with `actions` added (quick replies): where its type
    /// has none, a card that shows the same.
    pub fn with_actions(self, actions: Vec<Action>) -> Content<'a> {
        if actions.is_empty() {
            return self;
        }
        match self {
            Content::Text(text) => Content::TextActions { text, actions },
            Content::TextActions {
                text,
                actions: mut a,
            } => {
                a.extend(actions);
                Content::TextActions { text, actions: a }
            }
            Content::Card(mut c) => {
                c.actions.extend(actions);
                Content::Card(c)
            }
            Content::Carousel(items, mut a) => {
                a.extend(actions);
                Content::Carousel(items, a)
            }
            Content::Image {
                url,
                alt,
                title,
                anchor,
            } => {
                let mut all: Vec<Action> = anchor
                    .map(|u| Action::Link {
                        title: title.clone().unwrap_or_else(|| "Open".into()),
                        url: u,
                    })
                    .into_iter()
                    .collect();
                all.extend(actions);
                Content::Card(Card {
                    title,
                    content: alt.map(Cow::into_owned),
                    url: Some(url),
                    actions: all,
                    ..Card::default()
                })
            }
            Content::Location {
                latitude,
                longitude,
                address,
            } => {
                let mut all = vec![Action::Link {
                    title: address.clone().unwrap_or_else(|| "Map".into()),
                    url: crate::maps::maps_url(latitude, longitude),
                }];
                all.extend(actions);
                Content::Card(Card {
                    title: address,
                    actions: all,
                    ..Card::default()
                })
            }
            Content::Attachment { label, url, .. } => {
                let mut all = vec![Action::Link {
                    title: label.clone().into_owned(),
                    url,
                }];
                all.extend(actions);
                Content::Card(Card {
                    title: Some(label.into_owned()),
                    actions: all,
                    ..Card::default()
                })
            }
        }
    }
}

/// A card, or one item of a carousel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Card {
    pub title: Option<String>,
    pub subtitle: Option<String>,
    pub content: Option<String>,
    /// An image url (`urlType` image, lower case as Hubster writes it).
    pub url: Option<String>,
    pub actions: Vec<Action>,
}

impl Card {
    /// The card's fields, each preceded by a comma.
    fn write_fields(&self, out: &mut Vec<u8>) {
        write_opt(out, "title", self.title.as_deref());
        write_opt(out, "subtitle", self.subtitle.as_deref());
        write_opt(out, "content", self.content.as_deref());
        if let Some(url) = &self.url {
            out.extend_from_slice(b",\"urlType\":\"image\",\"url\":");
            write_str(out, url);
        }
        if !self.actions.is_empty() {
            out.extend_from_slice(b",\"actions\":");
            Action::write_list(&self.actions, out);
        }
    }
}

/// A Hubster action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Postback { title: String, payload: String },
    Reply { title: String, payload: String },
    Link { title: String, url: String },
}

impl Action {
    fn write_list(actions: &[Action], out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, a) in actions.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let (kind, title, key, value) = match a {
                Action::Postback { title, payload } => ("postback", title, "payload", payload),
                Action::Reply { title, payload } => ("reply", title, "payload", payload),
                Action::Link { title, url } => ("link", title, "url", url),
            };
            out.extend_from_slice(b"{\"type\":\"");
            out.extend_from_slice(kind.as_bytes());
            out.extend_from_slice(b"\",\"title\":");
            write_str(out, title);
            out.extend_from_slice(b",\"");
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            write_str(out, value);
            out.push(b'}');
        }
        out.push(b']');
    }
}

#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub content: Content<'a>,
    pub provenance: Fields<'a>,
}

impl Message<'_> {
    /// The message alone, as JSON (tests and tools).
    pub fn to_value(&self) -> Value {
        let mut out = Vec::new();
        self.write(&mut out);
        serde_json::from_slice(&out).expect("messages are valid JSON")
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(self.content.kind().as_bytes());
        out.extend_from_slice(b"\"");
        match &self.content {
            Content::Text(text) => {
                out.extend_from_slice(b",\"text\":");
                write_str(out, text);
            }
            Content::TextActions { text, actions } => {
                out.extend_from_slice(b",\"text\":");
                write_str(out, text);
                out.extend_from_slice(b",\"actions\":");
                Action::write_list(actions, out);
            }
            Content::Image {
                url,
                alt,
                title,
                anchor,
            } => {
                out.extend_from_slice(b",\"url\":");
                write_str(out, url);
                write_opt(out, "alt", alt.as_deref());
                write_opt(out, "title", title.as_deref());
                write_opt(out, "urlAnchor", anchor.as_deref());
            }
            Content::Location {
                latitude,
                longitude,
                address,
            } => {
                out.extend_from_slice(b",\"latitude\":");
                write_value(out, latitude);
                out.extend_from_slice(b",\"longitude\":");
                write_value(out, longitude);
                write_opt(out, "address", address.as_deref());
            }
            Content::Attachment {
                label,
                mime_type,
                url,
            } => {
                out.extend_from_slice(b",\"label\":");
                write_str(out, label);
                out.extend_from_slice(b",\"mimeType\":");
                write_str(out, mime_type);
                out.extend_from_slice(b",\"url\":");
                write_str(out, url);
            }
            Content::Card(card) => card.write_fields(out),
            Content::Carousel(items, actions) => {
                out.extend_from_slice(b",\"items\":[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    let start = out.len();
                    item.write_fields(out);
                    // The fields come with a leading comma: it opens the object instead.
                    if out.len() > start {
                        out[start] = b'{';
                    } else {
                        out.push(b'{');
                    }
                    out.push(b'}');
                }
                out.push(b']');
                if !actions.is_empty() {
                    out.extend_from_slice(b",\"actions\":");
                    Action::write_list(actions, out);
                }
            }
        }
        if !self.provenance.is_empty() {
            out.push(b',');
            write_channels(out, &self.provenance);
        }
        out.push(b'}');
    }
}

/// What a `payload` event carries.
#[derive(Debug, Clone)]
pub enum Payload<'a> {
    /// Named fields (status, sequenceList, ... plus provenance).
    Fields(Fields<'a>),
    /// The original LivePerson record, whole.
    Record(&'a crate::liveperson::Record<'a>),
}

#[derive(Debug, Clone)]
pub struct PayloadEvent<'a> {
    pub payload_type: &'static str,
    pub payload: Payload<'a>,
}

impl PayloadEvent<'_> {
    pub(super) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"type\":\"payload\",\"payloadType\":");
        write_str(out, self.payload_type);
        out.extend_from_slice(b",\"payload\":");
        match &self.payload {
            Payload::Fields(fields) => {
                out.push(b'{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, k);
                    out.push(b':');
                    v.write_json(out);
                }
                out.push(b'}');
            }
            Payload::Record(r) => write_value(out, r),
        }
        out.push(b'}');
    }
}

#[derive(Debug, Clone)]
pub enum Body<'a> {
    Message(Message<'a>),
    Event(PayloadEvent<'a>),
    /// A documented event without a payload (`typing_on`, `typing_off`),
    /// with the record it came from in `channels`.
    Signal {
        kind: &'static str,
        provenance: Fields<'a>,
    },
}

impl Body<'_> {
    /// `,"message":{..}` or `,"event":{..}`, as the activity carries it.
    pub(super) fn write(&self, out: &mut Vec<u8>) {
        match self {
            Body::Message(m) => {
                out.extend_from_slice(b",\"message\":");
                m.write(out);
            }
            Body::Event(e) => {
                out.extend_from_slice(b",\"event\":");
                e.write(out);
            }
            Body::Signal { kind, provenance } => {
                out.extend_from_slice(b",\"event\":{\"type\":\"");
                out.extend_from_slice(kind.as_bytes());
                out.push(b'"');
                if !provenance.is_empty() {
                    out.push(b',');
                    write_channels(out, provenance);
                }
                out.push(b'}');
            }
        }
    }

    /// Without the copy of the LivePerson record messages and typing carry
    /// (`mapping.keep_original = false`); payload events keep what they
    /// carry, which is their content.
    pub fn drop_original(&mut self) {
        match self {
            Body::Message(m) => m.provenance.clear(),
            Body::Signal { provenance, .. } => provenance.clear(),
            Body::Event(_) => {}
        }
    }

    /// `message:<type>` or `event:<payloadType>`, for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Message(m) => match m.content.kind() {
                "text" => "message:text",
                "image" => "message:image",
                "attachment" => "message:attachment",
                "card" => "message:card",
                "carousel" => "message:carousel",
                "location" => "message:location",
                _ => "message:other",
            },
            Body::Signal { kind, .. } => match *kind {
                "typing_on" => "event:typing_on",
                "typing_off" => "event:typing_off",
                _ => "event:other",
            },
            Body::Event(e) => match e.payload_type {
                crate::payload::ACCEPT_STATUS => "event:liveperson.accept-status",
                crate::payload::SECURE_FORM_SUBMISSION => "event:liveperson.secure-form-submission",
                crate::payload::RICH_CONTENT => "event:liveperson.rich-content",
                crate::payload::CONTENT => "event:liveperson.content",
                crate::payload::EVENT => "event:liveperson.event",
                _ => "event:other",
            },
        }
    }
}
