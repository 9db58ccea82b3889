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
    subtitle: Option<Cow<'b, str>>,
    caption: Option<Cow<'b, str>>,
    alt: Option<Cow<'b, str>>,
    tooltip: Option<Cow<'b, str>>,
    la: Option<&'b RawValue>,
    lo: Option<&'b RawValue>,
    click: Option<&'b RawValue>,
    elements: Vec<El<'b>>,
    /// A quick replies template's buttons.
    replies: Vec<El<'b>>,
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
                        "subtitle" => el.subtitle = a.next_value::<MaybeStr>()?.0,
                        "caption" => el.caption = a.next_value::<MaybeStr>()?.0,
                        "alt" => el.alt = a.next_value::<MaybeStr>()?.0,
                        "tooltip" => el.tooltip = a.next_value::<MaybeStr>()?.0,
                        "la" => el.la = Some(a.next_value()?),
                        "lo" => el.lo = Some(a.next_value()?),
                        "click" => el.click = Some(a.next_value()?),
                        "elements" => el.elements = a.next_value::<Elements>()?.0,
                        "replies" => el.replies = a.next_value::<Elements>()?.0,
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
    /// (url, caption, alt)
    images: Vec<(String, Option<String>, Option<String>)>,
    actions: Vec<Action>,
    /// (la, lo, tooltip)
    maps: Vec<(f64, f64, Option<String>)>,
}

fn owned(s: &Option<Cow<str>>) -> Option<String> {
    s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned)
}

fn number(raw: Option<&RawValue>) -> Option<f64> {
    serde_json::from_str(raw?.get()).ok()
}

/// A web map of a point: how a Hubster card or action shows a map.
pub fn maps_url(la: f64, lo: f64) -> String {
    format!("{MAPS_URL}{la},{lo}")
}

/// The prefix of [`maps_url`].
pub const MAPS_URL: &str = "https://www.google.com/maps/search/?api=1&query=";

/// The point a [`maps_url`] shows.
pub fn maps_point(url: &str) -> Option<(f64, f64)> {
    let (la, lo) = url.strip_prefix(MAPS_URL)?.split_once(',')?;
    Some((la.parse().ok()?, lo.parse().ok()?))
}

fn collect(el: &El, parts: &mut Parts) {
    match el.kind.as_deref() {
        Some("text") => parts.texts.extend(owned(&el.text)),
        Some("image") => {
            if let Some(url) = owned(&el.url) {
                parts.images.push((
                    url,
                    owned(&el.caption),
                    owned(&el.alt).or(owned(&el.tooltip)),
                ));
            }
            // An image that opens a link: the link, under the image's caption.
            let title = owned(&el.caption).unwrap_or_else(|| "Open".into());
            parts.actions.extend(
                click_actions(el, &title)
                    .into_iter()
                    .filter(|a| !matches!(a, Action::Postback { .. })),
            );
        }
        Some("button") => {
            parts.texts.extend(owned(&el.subtitle));
            parts.actions.extend(button_actions(el));
        }
        Some("map") => {
            if let (Some(la), Some(lo)) = (number(el.la), number(el.lo)) {
                parts
                    .maps
                    .push((la, lo, owned(&el.tooltip).or_else(|| owned(&el.alt))));
            }
        }
        Some("quickReplies") => {
            for r in &el.replies {
                parts.actions.extend(button_actions(r));
            }
        }
        Some("vertical" | "horizontal" | "carousel") | None => {}
        Some(_) => {
            // Other templates (list, tabs, checklist, ...): what they say.
            for t in [&el.title, &el.subtitle, &el.text] {
                parts.texts.extend(owned(t));
            }
        }
    }
    for c in &el.elements {
        collect(c, parts);
    }
}

/// The click actions of a button.
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
    #[serde(default)]
    la: Option<f64>,
    #[serde(default)]
    lo: Option<f64>,
}

/// Every click action of an element as a Hubster action titled `title`:
/// a link as a link, a published text as a reply, a navigation as a link
/// to a map of its point, anything else as a postback carrying it.
fn click_actions(el: &El, title: &str) -> Vec<Action> {
    let Some(raw) = el.click else {
        return Vec::new();
    };
    let click: Click = serde_json::from_str(raw.get()).unwrap_or_default();
    let raw_actions: Vec<&RawValue> = serde_json::from_str::<ClickRaw>(raw.get())
        .map(|c| c.actions)
        .unwrap_or_default();
    let title = title.to_owned();
    click
        .actions
        .into_iter()
        .enumerate()
        .map(|(i, a)| match a.kind.as_deref() {
            Some("link") => Action::Link {
                title: title.clone(),
                url: a.uri.unwrap_or_default().into_owned(),
            },
            Some("publishText") => Action::Reply {
                title: title.clone(),
                payload: a.text.map_or_else(|| title.clone(), Cow::into_owned),
            },
            Some("navigate") if a.la.is_some() && a.lo.is_some() => Action::Link {
                title: title.clone(),
                url: maps_url(a.la.unwrap_or_default(), a.lo.unwrap_or_default()),
            },
            _ => Action::Postback {
                title: title.clone(),
                payload: raw_actions
                    .get(i)
                    .map_or_else(String::new, |r| r.get().to_owned()),
            },
        })
        .collect()
}

#[derive(Deserialize, Default)]
struct ClickRaw<'b> {
    #[serde(default, borrow)]
    actions: Vec<&'b RawValue>,
}

/// A LivePerson button as Hubster actions: one per click action (a button
/// without any is a reply of its title).
fn button_actions(el: &El) -> Vec<Action> {
    let title = el.title.as_deref().unwrap_or("").to_owned();
    let actions = click_actions(el, &title);
    if actions.is_empty() {
        return vec![Action::Reply {
            payload: title.clone(),
            title,
        }];
    }
    actions
}

fn card(parts: Parts) -> Card {
    let mut texts = parts.texts.into_iter();
    let title = texts.next();
    let subtitle = texts.next();
    let mut rest: Vec<String> = texts.collect();
    let mut images = parts.images.into_iter();
    let first = images.next();
    let mut actions = Vec::new();
    if let Some((_, Some(caption), _)) = &first {
        rest.push(caption.clone());
    }
    // More images than a card holds, and maps: links a person can open.
    for (url, caption, _) in images {
        actions.push(Action::Link {
            title: caption.unwrap_or_else(|| "Image".into()),
            url,
        });
    }
    for (la, lo, tooltip) in parts.maps {
        actions.push(Action::Link {
            title: tooltip.unwrap_or_else(|| "Map".into()),
            url: maps_url(la, lo),
        });
    }
    actions.extend(parts.actions);
    Card {
        title,
        subtitle,
        content: (!rest.is_empty()).then(|| rest.join("\n")),
        url: first.map(|(u, _, _)| u),
        actions,
    }
}

/// LivePerson structured content (JSON text) -> a Hubster message content;
/// `None` if the text is not a JSON object. Each element lands in its
/// Hubster equivalent: a map alone is a `location`, an image alone an
/// `image`, a button alone a `text` with its actions, quick replies
/// `reply` actions, a layout a `card` (further images and maps as links),
/// a carousel a `carousel`.
pub fn to_hubster_content(json: &str) -> Option<Content<'static>> {
    if !json.trim_start().starts_with('{') {
        return None;
    }
    let root: El = serde_json::from_str(json).ok()?;
    let kind = root.kind.as_deref().unwrap_or("");
    if kind == "carousel" {
        return Some(Content::Carousel(
            root.elements
                .iter()
                .map(|el| {
                    let mut parts = Parts::default();
                    collect(el, &mut parts);
                    card(parts)
                })
                .collect(),
            Vec::new(),
        ));
    }
    if kind == "text" {
        return Some(Content::Text(owned(&root.text).unwrap_or_default().into()));
    }
    let mut parts = Parts::default();
    collect(&root, &mut parts);
    let only_texts = |p: &Parts| p.actions.is_empty() && p.images.is_empty() && p.maps.is_empty();
    Some(match (kind, &parts) {
        ("button" | "quickReplies", _) if parts.images.is_empty() && parts.maps.is_empty() => {
            // A text message needs a text: what the button says.
            let text = match parts.texts.is_empty() {
                false => parts.texts.join("\n"),
                true => owned(&root.title).unwrap_or_default(),
            };
            Content::TextActions {
                text: text.into(),
                actions: parts.actions,
            }
        }
        (_, p) if p.maps.len() == 1 && p.images.is_empty() && p.actions.is_empty() => {
            let (la, lo, tooltip) = parts.maps[0].clone();
            let mut address: Vec<String> = tooltip.clone().into_iter().collect();
            address.extend(
                parts
                    .texts
                    .into_iter()
                    .filter(|t| Some(t) != tooltip.as_ref()),
            );
            Content::Location {
                latitude: la,
                longitude: lo,
                address: (!address.is_empty()).then(|| address.join("\n")),
            }
        }
        (_, p)
            if p.images.len() == 1
                && p.maps.is_empty()
                && p.texts.len() <= 1
                && p.actions.iter().all(|a| matches!(a, Action::Link { .. }))
                && p.actions.len() <= 1 =>
        {
            let (url, caption, alt) = parts.images[0].clone();
            let anchor = parts.actions.first().map(|a| match a {
                Action::Link { url, .. } => url.clone(),
                _ => unreachable!("links only"),
            });
            Content::Image {
                url,
                alt: alt.map(Cow::Owned),
                title: caption.or_else(|| parts.texts.first().cloned()),
                anchor,
            }
        }
        ("vertical" | "horizontal", _) => Content::Card(card(parts)),
        (_, p) if only_texts(p) => {
            if parts.texts.is_empty() {
                Content::Text(
                    format!(
                        "[rich content: {}]",
                        if kind.is_empty() { "unknown" } else { kind }
                    )
                    .into(),
                )
            } else {
                Content::Text(parts.texts.join("\n").into())
            }
        }
        _ => Content::Card(card(parts)),
    })
}

/// Quick replies (a `quickReplies` template, JSON text or object) as
/// Hubster actions.
pub fn quick_replies(json: &str) -> Vec<Action> {
    let json = match serde_json::from_str::<String>(json) {
        Ok(text) => text,
        Err(_) => json.to_owned(),
    };
    let Ok(root) = serde_json::from_str::<El>(&json) else {
        return Vec::new();
    };
    root.replies.iter().flat_map(button_actions).collect()
}

// ---- Hubster -> LivePerson ----

fn text_el(text: &str, bold: bool) -> Value {
    if bold {
        json!({"type": "text", "text": text, "style": {"bold": true}})
    } else {
        json!({"type": "text", "text": text})
    }
}

/// A Hubster action as a LivePerson click action (a link to a map of a
/// point as a navigation to it).
fn click_action(a: &In::Action) -> (&str, Value) {
    match a {
        In::Action::Link { title, url } => match maps_point(url) {
            Some((la, lo)) => (
                title,
                json!({"type": "navigate", "name": title, "la": la, "lo": lo}),
            ),
            None => (title, json!({"type": "link", "name": title, "uri": url})),
        },
        In::Action::Postback { title, payload } | In::Action::Reply { title, payload } => {
            let text = match payload {
                Value::String(s) => s.clone(),
                Value::Null => title.clone(),
                other => other.to_string(),
            };
            (title, json!({"type": "publishText", "text": text}))
        }
    }
}

/// Hubster actions as LivePerson buttons: actions in a row with the same
/// title (one LivePerson button with several click actions, as convsync
/// writes it the other way) are one button again, at most 4 actions.
fn action_buttons(actions: &[In::Action]) -> Vec<Value> {
    let mut out: Vec<(String, Vec<Value>)> = Vec::new();
    for a in actions {
        let (title, action) = click_action(a);
        match out.last_mut() {
            Some((t, acts)) if t == title && acts.len() < 4 => acts.push(action),
            _ => out.push((title.to_owned(), vec![action])),
        }
    }
    out.into_iter()
        .map(|(title, acts)| json!({"type": "button", "title": title, "click": {"actions": acts}}))
        .collect()
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// A contact's properties as texts (`key: value`).
fn property_texts(properties: &[In::Property]) -> Vec<Value> {
    properties
        .iter()
        .map(|p| {
            let v = p
                .value
                .as_str()
                .map_or_else(|| p.value.to_string(), str::to_owned);
            if p.key.is_empty() {
                text_el(&v, false)
            } else {
                text_el(&format!("{}: {v}", p.key), false)
            }
        })
        .collect()
}

/// How a media `urlType` is named on a button that opens it.
fn media_title(url_type: &str) -> String {
    match url_type.to_ascii_lowercase().as_str() {
        "youtube" => "YouTube".into(),
        "vimeo" => "Vimeo".into(),
        "video" => "Video".into(),
        "audio" => "Audio".into(),
        "" => "Open".into(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    }
}

/// Elements for a card-like item (card, carousel/list/text item, contact):
/// its picture, title, texts, properties, media as a button that opens it,
/// and actions.
fn item_elements(item: &In::Item) -> Vec<Value> {
    let mut els = Vec::new();
    let url_type = item.url_type.as_deref().unwrap_or("");
    let is_image = url_type.is_empty() || url_type.eq_ignore_ascii_case("image");
    let picture = non_empty(&item.image_url)
        .or_else(|| non_empty(&item.url).filter(|_| is_image))
        .or_else(|| non_empty(&item.fallback_image_url));
    if let Some(url) = picture {
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
    els.extend(property_texts(&item.properties));
    // Media LivePerson cannot show inline: a button that opens it.
    if let Some(url) = non_empty(&item.url).filter(|_| !is_image) {
        let title = media_title(url_type);
        els.push(json!({"type": "button", "title": title, "click": {"actions": [{"type": "link", "name": title, "uri": url}]}}));
    }
    els.extend(action_buttons(&item.actions));
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
            els.extend(action_buttons(actions));
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
            els.extend(property_texts(properties));
            vertical(els)
        }
        M::Carousel { items, actions } => {
            let mut elements: Vec<Value> =
                items.iter().map(|i| vertical(item_elements(i))).collect();
            if !actions.is_empty() {
                elements.push(vertical(action_buttons(actions)));
            }
            json!({"type": "carousel", "padding": 10, "elements": elements})
        }
        M::List { items, actions } => {
            let mut els: Vec<Value> = items.iter().flat_map(item_elements).collect();
            els.extend(action_buttons(actions));
            vertical(els)
        }
        M::Image {
            url,
            alt,
            title,
            url_anchor,
        } => {
            let mut img = json!({"type": "image", "url": url});
            if let Some(alt) = non_empty(alt) {
                img["alt"] = alt.into();
            }
            if let Some(anchor) = non_empty(url_anchor) {
                img["click"] = json!({"actions": [{"type": "link", "uri": anchor}]});
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
            let mut els = Vec::new();
            if let Some(a) = non_empty(address) {
                m["tooltip"] = a.into();
                els.push(m);
                els.push(text_el(a, false));
            } else {
                els.push(m);
            }
            vertical(els)
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
    fn a_horizontal_layout_is_a_card_with_its_images_and_maps() {
        let v = json!({"type":"horizontal","elements":[{"type":"text","text":"a"},{"type":"text","text":"b"}]});
        assert_eq!(
            written(to_hubster_content(&v.to_string()).unwrap()),
            json!({"type":"card","title":"a","subtitle":"b"})
        );
        let v = json!({"type":"horizontal","elements":[{"type":"image","url":"https://x/1.png"},
            {"type":"image","url":"https://x/2.png","caption":"two"},{"type":"map","la":1.5,"lo":2.5,"tooltip":"here"}]});
        assert_eq!(
            written(to_hubster_content(&v.to_string()).unwrap()),
            json!({"type":"card","urlType":"image","url":"https://x/1.png","actions":[
                {"type":"link","title":"two","url":"https://x/2.png"},
                {"type":"link","title":"here","url":maps_url(1.5, 2.5)}]})
        );
        let v = json!({"type":"list","elements":[]});
        assert!(
            matches!(to_hubster_content(&v.to_string()), Some(Content::Text(t)) if t == "[rich content: list]")
        );
    }

    #[test]
    fn single_elements_land_in_their_hubster_equivalents() {
        let map = json!({"type":"map","la":40.75,"lo":-73.99,"tooltip":"Store"});
        assert_eq!(
            written(to_hubster_content(&map.to_string()).unwrap()),
            json!({"type":"location","latitude":40.75,"longitude":-73.99,"address":"Store"})
        );
        let img = json!({"type":"image","url":"https://x/i.png","caption":"cap","alt":"alt text",
            "click":{"actions":[{"type":"link","uri":"https://x"}]}});
        assert_eq!(
            written(to_hubster_content(&img.to_string()).unwrap()),
            json!({"type":"image","url":"https://x/i.png","alt":"alt text","title":"cap","urlAnchor":"https://x"})
        );
        let button = json!({"type":"button","title":"Go","click":{"actions":[
            {"type":"link","uri":"https://x"},{"type":"publishText","text":"go"},{"type":"navigate","la":1.0,"lo":2.0}]}});
        assert_eq!(
            written(to_hubster_content(&button.to_string()).unwrap()),
            json!({"type":"text","text":"Go","actions":[{"type":"link","title":"Go","url":"https://x"},
                {"type":"reply","title":"Go","payload":"go"},{"type":"link","title":"Go","url":maps_url(1.0, 2.0)}]})
        );
        let replies = json!({"type":"quickReplies","replies":[{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yep"}]}}]});
        assert_eq!(
            quick_replies(&replies.to_string()),
            vec![Action::Reply {
                title: "Yes".into(),
                payload: "yep".into()
            }]
        );
        assert_eq!(
            quick_replies(&serde_json::to_string(&replies.to_string()).unwrap()).len(),
            1,
            "as JSON text too"
        );
    }

    #[test]
    fn one_button_with_several_actions_comes_back_as_one() {
        let msg: In::Message = serde_json::from_value(json!({"type":"text","text":"t","actions":[
            {"type":"link","title":"Go","url":"https://x"},{"type":"reply","title":"Go","payload":"go"},
            {"type":"link","title":"Map","url":maps_url(1.0, 2.0)}]})).unwrap();
        let sc = to_structured(&msg).unwrap();
        assert_eq!(
            sc["elements"][1]["click"]["actions"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            sc["elements"][2]["click"]["actions"][0],
            json!({"type":"navigate","name":"Map","la":1.0,"lo":2.0})
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
