//! LivePerson structured content (rich content) <-> Hubster message types.
//!
//! LivePerson -> Hubster: a vertical layout becomes a `card` (texts give title,
//! subtitle and content; the first image the card's url; buttons its actions),
//! a carousel a `carousel`, anything else a `text` made of its text elements.
//! Hubster -> LivePerson: cards, carousels, lists, contacts, images, links
//! and locations become vertical / carousel layouts of text, image, button and
//! map elements.

use super::hubster::Content;
use serde_json::{Map, Value, json};

/// What a layout's elements say, flattened in reading order.
#[derive(Default)]
struct Parts {
    texts: Vec<String>,
    image: Option<String>,
    actions: Vec<Value>,
}

fn collect(el: &Value, parts: &mut Parts) {
    match el.get("type").and_then(Value::as_str) {
        Some("text") => {
            if let Some(t) = el.get("text").and_then(Value::as_str) {
                parts.texts.push(t.to_owned());
            }
        }
        Some("image") => {
            if parts.image.is_none()
                && let Some(u) = el.get("url").and_then(Value::as_str)
            {
                parts.image = Some(u.to_owned());
            }
        }
        Some("button") => parts.actions.push(button_action(el)),
        Some("map") => {
            let text = el
                .get("tooltip")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| Some(format!("{}, {}", el.get("la")?, el.get("lo")?)));
            parts.texts.extend(text);
        }
        _ => {}
    }
    if let Some(children) = el.get("elements").and_then(Value::as_array) {
        for c in children {
            collect(c, parts);
        }
    }
}

/// A LivePerson button as a Hubster action.
fn button_action(el: &Value) -> Value {
    let title = el.get("title").and_then(Value::as_str).unwrap_or("");
    let first = el.pointer("/click/actions/0");
    match first.and_then(|a| a.get("type")).and_then(Value::as_str) {
        Some("link") => json!({"type": "link", "title": title,
            "url": first.and_then(|a| a.get("uri")).and_then(Value::as_str).unwrap_or("")}),
        Some("publishText") => json!({"type": "reply", "title": title,
            "payload": first.and_then(|a| a.get("text")).and_then(Value::as_str).unwrap_or(title)}),
        _ => json!({"type": "postback", "title": title,
            "payload": el.get("click").map(Value::to_string).unwrap_or_default()}),
    }
}

fn card_fields(parts: Parts) -> Map<String, Value> {
    let mut m = Map::new();
    let mut texts = parts.texts.into_iter();
    if let Some(t) = texts.next() {
        m.insert("title".into(), t.into());
    }
    if let Some(t) = texts.next() {
        m.insert("subtitle".into(), t.into());
    }
    let rest: Vec<String> = texts.collect();
    if !rest.is_empty() {
        m.insert("content".into(), rest.join("\n").into());
    }
    if let Some(u) = parts.image {
        m.insert("urlType".into(), "Image".into());
        m.insert("url".into(), u.into());
    }
    if !parts.actions.is_empty() {
        m.insert("actions".into(), parts.actions.into());
    }
    m
}

/// LivePerson structured content -> a Hubster message content.
pub fn to_hubster_content(v: &Value) -> Content<'static> {
    let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "vertical" => {
            let mut parts = Parts::default();
            collect(v, &mut parts);
            Content::Built {
                kind: "card",
                fields: card_fields(parts),
            }
        }
        "carousel" => {
            let items: Vec<Value> = v
                .get("elements")
                .and_then(Value::as_array)
                .map(|els| {
                    els.iter()
                        .map(|el| {
                            let mut parts = Parts::default();
                            collect(el, &mut parts);
                            Value::Object(card_fields(parts))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut m = Map::new();
            m.insert("items".into(), items.into());
            Content::Built {
                kind: "carousel",
                fields: m,
            }
        }
        _ => {
            let mut parts = Parts::default();
            collect(v, &mut parts);
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
    }
}

fn text_el(text: &str, bold: bool) -> Value {
    if bold {
        json!({"type": "text", "text": text, "style": {"bold": true}})
    } else {
        json!({"type": "text", "text": text})
    }
}

/// A Hubster action as a LivePerson button.
fn action_button(a: &Value) -> Value {
    let title = a.get("title").and_then(Value::as_str).unwrap_or("");
    let action = match a.get("type").and_then(Value::as_str) {
        Some("link") => json!({"type": "link", "name": title,
            "uri": a.get("url").and_then(Value::as_str).unwrap_or("")}),
        _ => {
            let payload = match a.get("payload") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => title.to_owned(),
            };
            json!({"type": "publishText", "text": payload})
        }
    };
    json!({"type": "button", "title": title, "click": {"actions": [action]}})
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Elements for a card-like item (card, carousel/list item, contact).
fn item_elements(item: &Value) -> Vec<Value> {
    let mut els = Vec::new();
    let image = str_field(item, "url").filter(|_| {
        item.get("urlType")
            .and_then(Value::as_str)
            .is_none_or(|t| t.eq_ignore_ascii_case("image"))
    });
    if let Some(url) = image.or_else(|| str_field(item, "imageUrl")) {
        els.push(json!({"type": "image", "url": url}));
    }
    if let Some(t) = str_field(item, "title") {
        els.push(text_el(t, true));
    }
    for k in ["subtitle", "content"] {
        if let Some(t) = str_field(item, k) {
            els.push(text_el(t, false));
        }
    }
    if let Some(props) = item.get("properties").and_then(Value::as_array) {
        for p in props {
            let k = p.get("key").and_then(Value::as_str).unwrap_or("");
            let v = p
                .get("value")
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            els.push(text_el(&format!("{k}: {}", v.unwrap_or_default()), false));
        }
    }
    if let Some(actions) = item.get("actions").and_then(Value::as_array) {
        els.extend(actions.iter().map(action_button));
    }
    els
}

fn vertical(elements: Vec<Value>) -> Value {
    json!({"type": "vertical", "elements": elements})
}

/// A Hubster message -> LivePerson structured content; `None` for a plain
/// `text` (that is a text/plain ContentEvent) or a type with no equivalent.
pub fn to_structured(msg: &Value) -> Option<Value> {
    let kind = msg.get("type").and_then(Value::as_str)?;
    Some(match kind {
        "text" => {
            let items = msg
                .get("items")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty());
            let actions = msg
                .get("actions")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty());
            if items.is_none() && actions.is_none() {
                return None;
            }
            let mut els = vec![text_el(
                msg.get("text").and_then(Value::as_str).unwrap_or(""),
                false,
            )];
            for it in items.into_iter().flatten() {
                els.extend(item_elements(it));
            }
            els.extend(actions.into_iter().flatten().map(action_button));
            vertical(els)
        }
        "card" | "contact" => vertical(item_elements(msg)),
        "carousel" => {
            let items = msg
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut c = json!({"type": "carousel", "padding": 10,
                "elements": items.iter().map(|i| vertical(item_elements(i))).collect::<Vec<_>>()});
            if let Some(actions) = msg
                .get("actions")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
            {
                c["elements"]
                    .as_array_mut()
                    .expect("built as array")
                    .push(vertical(actions.iter().map(action_button).collect()));
            }
            c
        }
        "list" => {
            let mut els = Vec::new();
            for i in msg
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                els.extend(item_elements(i));
            }
            els.extend(
                msg.get("actions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(action_button),
            );
            vertical(els)
        }
        "image" => {
            let mut img = json!({"type": "image", "url": msg.get("url").and_then(Value::as_str).unwrap_or("")});
            if let Some(alt) = str_field(msg, "alt") {
                img["tooltip"] = alt.into();
            }
            let mut els = vec![img];
            if let Some(t) = str_field(msg, "title") {
                els.push(text_el(t, false));
            }
            vertical(els)
        }
        "attachment" | "video" | "audio" | "youtube" | "vimeo" => {
            let url = msg.get("url").and_then(Value::as_str).unwrap_or("");
            let label = str_field(msg, "label").unwrap_or(url);
            vertical(vec![
                text_el(label, false),
                json!({"type": "button", "title": "Open", "click": {"actions": [{"type": "link", "name": "Open", "uri": url}]}}),
            ])
        }
        "location" => {
            let address = str_field(msg, "address");
            match (
                msg.get("latitude").and_then(Value::as_f64),
                msg.get("longitude").and_then(Value::as_f64),
            ) {
                (Some(la), Some(lo)) => {
                    let mut m = json!({"type": "map", "la": la, "lo": lo});
                    if let Some(a) = address {
                        m["tooltip"] = a.into();
                    }
                    vertical(vec![m])
                }
                _ => vertical(vec![text_el(address.unwrap_or(""), false)]),
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vertical_becomes_a_card() {
        let v = json!({"type":"vertical","elements":[
            {"type":"image","url":"https://x/i.png"},
            {"type":"text","text":"Title"},{"type":"text","text":"Sub"},{"type":"text","text":"More"},
            {"type":"button","title":"Go","click":{"actions":[{"type":"link","uri":"https://x"}]}},
            {"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}]}}]});
        let Content::Built { kind, fields } = to_hubster_content(&v) else {
            panic!()
        };
        assert_eq!(kind, "card");
        assert_eq!(
            Value::Object(fields),
            json!({"title":"Title","subtitle":"Sub","content":"More",
            "urlType":"Image","url":"https://x/i.png",
            "actions":[{"type":"link","title":"Go","url":"https://x"},{"type":"reply","title":"Yes","payload":"yes"}]})
        );
    }

    #[test]
    fn horizontal_becomes_text_of_its_texts() {
        let v = json!({"type":"horizontal","elements":[{"type":"text","text":"a"},{"type":"text","text":"b"}]});
        assert!(matches!(to_hubster_content(&v), Content::Text(t) if t == "a\nb"));
        let v = json!({"type":"horizontal","elements":[]});
        assert!(
            matches!(to_hubster_content(&v), Content::Text(t) if t == "[rich content: horizontal]")
        );
    }

    #[test]
    fn location_becomes_a_map() {
        let m = json!({"type":"location","latitude":1.5,"longitude":-2.0,"address":"Here"});
        assert_eq!(
            to_structured(&m).unwrap()["elements"][0],
            json!({"type":"map","la":1.5,"lo":-2.0,"tooltip":"Here"})
        );
        assert_eq!(to_structured(&json!({"type":"text","text":"hi"})), None);
    }
}
