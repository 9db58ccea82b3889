//! LivePerson structured content (rich content) <-> Hubster message types.
//!
//! LivePerson -> Hubster: a vertical layout becomes a `card` (texts give title,
//! subtitle and content; the first image the card's url; buttons its actions),
//! a carousel a `carousel`, anything else a `text` made of its text elements.
//! Hubster -> LivePerson: cards, carousels, lists, contacts, images, links
//! and locations become vertical / carousel layouts of text, image, button and
//! map elements.

use super::hubster::{Action, Card, Content};
use super::hubster_in as In;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::fmt;

// ---- LivePerson -> Hubster ----

/// A structured-content element, read leniently: fields of unexpected types
/// are ignored (the original travels in the provenance anyway).
#[derive(Debug, Default)]
struct El<'b> {
    kind: Option<Cow<'b, str>>,
    text: Option<Cow<'b, str>>,
    url: Option<Cow<'b, str>>,
    title: Option<Cow<'b, str>>,
    tooltip: Option<Cow<'b, str>>,
    la: Option<&'b RawValue>,
    lo: Option<&'b RawValue>,
    click: Option<&'b RawValue>,
    elements: Vec<El<'b>>,
}

/// Drains whatever value a visitor was handed.
macro_rules! ignore_the_rest {
    ($out:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
    };
}

/// A string if it is one; anything else reads as `None`.
struct MaybeStr<'b>(Option<Cow<'b, str>>);

impl<'de: 'b, 'b> Deserialize<'de> for MaybeStr<'b> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
            ignore_the_rest!(MaybeStr(None));
        }
        d.deserialize_any(V)
    }
}

/// `elements`: a list of elements, or nothing if it is not a list.
struct Elements<'b>(Vec<El<'b>>);

impl<'de: 'b, 'b> Deserialize<'de> for Elements<'b> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Elements<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(el) = a.next_element()? {
                    v.push(el);
                }
                Ok(Elements(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Elements(Vec::new()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Elements(Vec::new()))
            }
            ignore_the_rest!(Elements(Vec::new()));
        }
        d.deserialize_any(V)
    }
}

impl<'de: 'b, 'b> Deserialize<'de> for El<'b> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = El<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an element")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut el = El::default();
                while let Some(k) = a.next_key::<super::json::Str<'de>>()? {
                    match k.as_str() {
                        "type" => el.kind = a.next_value::<MaybeStr>()?.0,
                        "text" => el.text = a.next_value::<MaybeStr>()?.0,
                        "url" => el.url = a.next_value::<MaybeStr>()?.0,
                        "title" => el.title = a.next_value::<MaybeStr>()?.0,
                        "tooltip" => el.tooltip = a.next_value::<MaybeStr>()?.0,
                        "la" => el.la = Some(a.next_value()?),
                        "lo" => el.lo = Some(a.next_value()?),
                        "click" => el.click = Some(a.next_value()?),
                        "elements" => el.elements = a.next_value::<Elements>()?.0,
                        _ => {
                            a.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(el)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(El::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(El::default())
            }
            ignore_the_rest!(El::default());
        }
        d.deserialize_any(V)
    }
}

/// What a layout's elements say, flattened in reading order.
#[derive(Default)]
struct Parts {
    texts: Vec<String>,
    image: Option<String>,
    actions: Vec<Action>,
}

fn collect(el: &El, parts: &mut Parts) {
    match el.kind.as_deref() {
        Some("text") => parts.texts.extend(el.text.as_deref().map(str::to_owned)),
        Some("image") if parts.image.is_none() => {
            parts.image = el.url.as_deref().map(str::to_owned)
        }
        Some("button") => parts.actions.push(button_action(el)),
        Some("map") => {
            let text = match (&el.tooltip, el.la, el.lo) {
                (Some(t), _, _) => Some(t.to_string()),
                (None, Some(la), Some(lo)) => Some(format!("{}, {}", la.get(), lo.get())),
                _ => None,
            };
            parts.texts.extend(text);
        }
        _ => {}
    }
    for c in &el.elements {
        collect(c, parts);
    }
}

/// The first click action of a button.
#[derive(Deserialize, Default)]
struct Click<'b> {
    #[serde(default, borrow)]
    actions: Vec<ClickAction<'b>>,
}

#[derive(Deserialize, Default)]
struct ClickAction<'b> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'b, str>>,
    #[serde(default, borrow)]
    uri: Option<Cow<'b, str>>,
    #[serde(default, borrow)]
    text: Option<Cow<'b, str>>,
}

/// A LivePerson button as a Hubster action.
fn button_action(el: &El) -> Action {
    let title = el.title.as_deref().unwrap_or("").to_owned();
    let click: Click = el
        .click
        .and_then(|c| serde_json::from_str(c.get()).ok())
        .unwrap_or_default();
    let first = click.actions.into_iter().next().unwrap_or_default();
    match first.kind.as_deref() {
        Some("link") => Action::Link {
            title,
            url: first.uri.unwrap_or_default().into_owned(),
        },
        Some("publishText") => {
            let payload = first.text.map_or_else(|| title.clone(), Cow::into_owned);
            Action::Reply { title, payload }
        }
        _ => Action::Postback {
            title,
            payload: el.click.map_or_else(String::new, |c| c.get().to_owned()),
        },
    }
}

fn card(parts: Parts) -> Card {
    let mut texts = parts.texts.into_iter();
    let title = texts.next();
    let subtitle = texts.next();
    let rest: Vec<String> = texts.collect();
    Card {
        title,
        subtitle,
        content: (!rest.is_empty()).then(|| rest.join("\n")),
        url: parts.image,
        actions: parts.actions,
    }
}

/// LivePerson structured content (JSON text) -> a Hubster message content;
/// `None` if the text is not a JSON object.
pub fn to_hubster_content(json: &str) -> Option<Content<'static>> {
    if !json.trim_start().starts_with('{') {
        return None;
    }
    let root: El = serde_json::from_str(json).ok()?;
    let kind = root.kind.as_deref().unwrap_or("");
    Some(match kind {
        "vertical" => {
            let mut parts = Parts::default();
            collect(&root, &mut parts);
            Content::Card(card(parts))
        }
        "carousel" => Content::Carousel(
            root.elements
                .iter()
                .map(|el| {
                    let mut parts = Parts::default();
                    collect(el, &mut parts);
                    card(parts)
                })
                .collect(),
        ),
        _ => {
            let mut parts = Parts::default();
            collect(&root, &mut parts);
            let text = if parts.texts.is_empty() {
                format!(
                    "[rich content: {}]",
                    if kind.is_empty() { "unknown" } else { kind }
                )
            } else {
                parts.texts.join("\n")
            };
            Content::Text(text.into())
        }
    })
}

// ---- Hubster -> LivePerson ----

fn text_el(text: &str, bold: bool) -> Value {
    if bold {
        json!({"type": "text", "text": text, "style": {"bold": true}})
    } else {
        json!({"type": "text", "text": text})
    }
}

/// A Hubster action as a LivePerson button.
fn action_button(a: &In::Action) -> Value {
    let (title, action) = match a {
        In::Action::Link { title, url } => {
            (title, json!({"type": "link", "name": title, "uri": url}))
        }
        In::Action::Postback { title, payload } | In::Action::Reply { title, payload } => {
            let text = match payload {
                Value::String(s) => s.clone(),
                Value::Null => title.clone(),
                other => other.to_string(),
            };
            (title, json!({"type": "publishText", "text": text}))
        }
    };
    json!({"type": "button", "title": title, "click": {"actions": [action]}})
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Elements for a card-like item (card, carousel/list/text item).
fn item_elements(item: &In::Item) -> Vec<Value> {
    let mut els = Vec::new();
    let is_image = item
        .url_type
        .as_deref()
        .is_none_or(|t| t.eq_ignore_ascii_case("image"));
    if let Some(url) = non_empty(&item.url).filter(|_| is_image) {
        els.push(json!({"type": "image", "url": url}));
    }
    if let Some(t) = non_empty(&item.title) {
        els.push(text_el(t, true));
    }
    for t in [&item.subtitle, &item.content]
        .into_iter()
        .filter_map(non_empty)
    {
        els.push(text_el(t, false));
    }
    els.extend(item.actions.iter().map(action_button));
    els
}

fn vertical(elements: Vec<Value>) -> Value {
    json!({"type": "vertical", "elements": elements})
}

/// A Hubster message -> LivePerson structured content; `None` for a plain
/// `text` (that is a text/plain ContentEvent) or a type with no equivalent.
pub fn to_structured(msg: &In::Message) -> Option<Value> {
    use In::Message as M;
    Some(match msg {
        M::Text { items, actions, .. } if items.is_empty() && actions.is_empty() => return None,
        M::Text {
            text,
            items,
            actions,
        } => {
            let mut els = vec![text_el(text, false)];
            for it in items {
                els.extend(item_elements(it));
            }
            els.extend(actions.iter().map(action_button));
            vertical(els)
        }
        M::Card(item) => vertical(item_elements(item)),
        M::Contact {
            title,
            image_url,
            subtitle,
            properties,
        } => {
            let mut els = Vec::new();
            if let Some(url) = non_empty(image_url) {
                els.push(json!({"type": "image", "url": url}));
            }
            if let Some(t) = non_empty(title) {
                els.push(text_el(t, true));
            }
            if let Some(t) = non_empty(subtitle) {
                els.push(text_el(t, false));
            }
            for p in properties {
                let v = p
                    .value
                    .as_str()
                    .map_or_else(|| p.value.to_string(), str::to_owned);
                els.push(text_el(&format!("{}: {v}", p.key), false));
            }
            vertical(els)
        }
        M::Carousel { items, actions } => {
            let mut elements: Vec<Value> =
                items.iter().map(|i| vertical(item_elements(i))).collect();
            if !actions.is_empty() {
                elements.push(vertical(actions.iter().map(action_button).collect()));
            }
            json!({"type": "carousel", "padding": 10, "elements": elements})
        }
        M::List { items, actions } => {
            let mut els: Vec<Value> = items.iter().flat_map(item_elements).collect();
            els.extend(actions.iter().map(action_button));
            vertical(els)
        }
        M::Image {
            url, alt, title, ..
        } => {
            let mut img = json!({"type": "image", "url": url});
            if let Some(alt) = non_empty(alt) {
                img["tooltip"] = alt.into();
            }
            let mut els = vec![img];
            if let Some(t) = non_empty(title) {
                els.push(text_el(t, false));
            }
            vertical(els)
        }
        M::Attachment(m) | M::Video(m) | M::Audio(m) | M::Youtube(m) | M::Vimeo(m) => {
            let label = non_empty(&m.label).unwrap_or(&m.url);
            vertical(vec![
                text_el(label, false),
                json!({"type": "button", "title": "Open", "click": {"actions": [{"type": "link", "name": "Open", "uri": m.url}]}}),
            ])
        }
        M::Location {
            address,
            latitude: Some(la),
            longitude: Some(lo),
        } => {
            let mut m = json!({"type": "map", "la": la, "lo": lo});
            if let Some(a) = non_empty(address) {
                m["tooltip"] = a.into();
            }
            vertical(vec![m])
        }
        M::Location { address, .. } => {
            vertical(vec![text_el(address.as_deref().unwrap_or(""), false)])
        }
        M::Command => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hubster::{Fields, Message};

    /// The message JSON a content would be written as (without provenance).
    fn written(c: Content) -> Value {
        let mut v = Message {
            content: c,
            provenance: Fields::new(),
        }
        .to_value();
        v.as_object_mut().unwrap().remove("channels");
        v
    }

    #[test]
    fn vertical_becomes_a_card() {
        let v = json!({"type":"vertical","elements":[
            {"type":"image","url":"https://x/i.png"},
            {"type":"text","text":"Title"},{"type":"text","text":"Sub"},{"type":"text","text":"More"},
            {"type":"button","title":"Go","click":{"actions":[{"type":"link","uri":"https://x"}]}},
            {"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}]}}]});
        let c = to_hubster_content(&v.to_string()).unwrap();
        assert_eq!(
            written(c),
            json!({"type":"card","title":"Title","subtitle":"Sub","content":"More",
            "urlType":"image","url":"https://x/i.png",
            "actions":[{"type":"link","title":"Go","url":"https://x"},{"type":"reply","title":"Yes","payload":"yes"}]})
        );
    }

    #[test]
    fn horizontal_becomes_text_of_its_texts() {
        let v = json!({"type":"horizontal","elements":[{"type":"text","text":"a"},{"type":"text","text":"b"}]});
        assert!(
            matches!(to_hubster_content(&v.to_string()), Some(Content::Text(t)) if t == "a\nb")
        );
        let v = json!({"type":"horizontal","elements":[]});
        assert!(
            matches!(to_hubster_content(&v.to_string()), Some(Content::Text(t)) if t == "[rich content: horizontal]")
        );
    }

    #[test]
    fn odd_field_types_are_ignored_not_fatal() {
        let v = json!({"type":"carousel","elements":[{"type":"vertical","elements":[{"type":"text","text":5},{"type":"text","text":"ok"}]}, 7, "x"]});
        let c = to_hubster_content(&v.to_string()).unwrap();
        assert_eq!(
            written(c),
            json!({"type":"carousel","items":[{"title":"ok"},{},{}]})
        );
        assert!(to_hubster_content("[1]").is_none());
        assert!(to_hubster_content("{nope").is_none());
    }

    #[test]
    fn location_becomes_a_map() {
        let m = In::Message::of(
            &json!({"type":"location","latitude":1.5,"longitude":-2.0,"address":"Here"}),
        )
        .unwrap();
        assert_eq!(
            to_structured(&m).unwrap()["elements"][0],
            json!({"type":"map","la":1.5,"lo":-2.0,"tooltip":"Here"})
        );
        let text = In::Message::of(&json!({"type":"text","text":"hi"})).unwrap();
        assert_eq!(to_structured(&text), None);
    }
}
