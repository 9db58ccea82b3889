//! LivePerson structured content -> Hubster: cards, carousels, text,
//! and the actions of buttons, images and quick replies.

use crate::hubster::{Action, Card, Content};
use crate::maps::maps_url;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

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
                while let Some(k) = a.next_key::<crate::json::Str<'de>>()? {
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
