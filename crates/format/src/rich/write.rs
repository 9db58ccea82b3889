//! Hubster messages -> LivePerson structured content: vertical and
//! carousel layouts of text, image, button and map elements.

use crate::hubster_in as In;
use crate::maps::maps_point;
use serde_json::{Value, json};

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
