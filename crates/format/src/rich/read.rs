//! LivePerson structured content -> Hubster: cards, carousels, text,
//! and the actions of buttons, images and quick replies.

use super::element::El;
use crate::hubster::{Action, Card, Content};
use crate::maps::maps_url;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// What the mapping could not carry as it was: a warning kind (of
/// [`crate::report::kind`]) and what happened, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Degraded {
    pub kind: &'static str,
    pub detail: String,
}

/// Structured content as Hubster shows it, and what could not be carried
/// as it was.
#[derive(Debug, Clone)]
pub struct Read {
    pub content: Content<'static>,
    pub degraded: Vec<Degraded>,
}

/// An image of a layout.
struct Img {
    url: String,
    caption: Option<String>,
    /// Its alt text, else its tooltip (a Hubster image's `alt`).
    alt: Option<String>,
    /// Its own alt text (shown where a card cannot hold an alt).
    own_alt: Option<String>,
    /// The name of what the image opens, where it has one.
    link_name: Option<String>,
    /// Where the image leads: the url of its one click action, a link.
    link: Option<String>,
}

/// What a layout's elements say, flattened in reading order.
#[derive(Default)]
struct Parts {
    texts: Vec<String>,
    images: Vec<Img>,
    actions: Vec<Action>,
    /// (la, lo, tooltip)
    maps: Vec<(f64, f64, Option<String>)>,
    /// What has no Hubster element, as lines a person can read (shown
    /// after the texts).
    lines: Vec<String>,
    degraded: Vec<Degraded>,
}

impl Parts {
    fn degrade(&mut self, kind: &'static str, detail: String) {
        self.degraded.push(Degraded { kind, detail });
    }
}

fn owned(s: &Option<Cow<str>>) -> Option<String> {
    s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned)
}

fn number(raw: Option<&RawValue>) -> Option<f64> {
    serde_json::from_str(raw?.get()).ok()
}

/// Whether a point is a place on Earth (a map can show it).
fn is_place(la: f64, lo: f64) -> bool {
    la.is_finite() && lo.is_finite() && la.abs() <= 90.0 && lo.abs() <= 180.0
}

/// A point that is not a place, as a person can read what the source said.
fn not_a_place(label: &str, la: f64, lo: f64) -> String {
    format!("{label} (la {la}, lo {lo}: not a place on a map)")
}

fn collect(el: &El, parts: &mut Parts) {
    match el.kind.as_deref() {
        Some("text") => {
            let text = owned(&el.text);
            let actions = click_actions(el, text.as_deref(), "Open", parts);
            parts.actions.extend(actions);
            parts.texts.extend(text);
        }
        Some("image") => {
            let caption = owned(&el.caption);
            // The caption is shown with the image: a named action is
            // titled by its name alone.
            let named = link_name(el);
            let label = if named.is_some() {
                None
            } else {
                caption.as_deref()
            };
            let actions = click_actions(el, label, "Open", parts);
            if let Some(url) = owned(&el.url) {
                parts.images.push(Img {
                    url,
                    caption,
                    alt: owned(&el.alt).or(owned(&el.tooltip)),
                    own_alt: owned(&el.alt),
                    link_name: named,
                    link: match &actions[..] {
                        [Action::Link { url, .. }] => Some(url.clone()),
                        _ => None,
                    },
                });
            }
            // An image that opens a link: the link, named as it was.
            parts.actions.extend(actions);
        }
        Some("button") => {
            parts.texts.extend(owned(&el.subtitle));
            let actions = button_actions(el, parts);
            parts.actions.extend(actions);
        }
        Some("map") => {
            let label = owned(&el.tooltip).or_else(|| owned(&el.alt));
            // What the map is, said beside its name.
            parts
                .texts
                .extend(owned(&el.alt).filter(|a| label.as_ref() != Some(a)));
            match (number(el.la), number(el.lo)) {
                (Some(la), Some(lo)) if is_place(la, lo) => parts.maps.push((la, lo, label)),
                (Some(la), Some(lo)) => {
                    let line = not_a_place(label.as_deref().unwrap_or("Map"), la, lo);
                    parts.degrade(
                        crate::report::kind::NOT_A_PLACE,
                        format!("a map at la {la}, lo {lo} (not a place): written as text"),
                    );
                    parts.lines.push(line);
                }
                _ => parts.texts.extend(label),
            }
            let actions = click_actions(el, None, "Map", parts);
            parts.actions.extend(actions);
        }
        Some("linkPreview") => {
            // The preview is the client's: the link is what it shows.
            parts.texts.extend(owned(&el.url));
            let actions = click_actions(el, owned(&el.url).as_deref(), "Open", parts);
            parts.actions.extend(actions);
        }
        Some("quickReplies") => {
            for r in &el.replies {
                let actions = button_actions(r, parts);
                parts.actions.extend(actions);
            }
        }
        Some("template") => {
            // A quick reply template: its title, and each answer a reply.
            parts.texts.extend(owned(&el.title));
            parts.actions.extend(
                el.resp
                    .iter()
                    .filter(|r| !r.is_empty())
                    .map(|r| Action::Reply {
                        title: r.to_string(),
                        payload: r.to_string(),
                    }),
            );
        }
        Some("keyValuePairList") => {}
        None if el.key.is_some() => {
            // A key-value pair (of a keyValuePairList).
            let key = owned(&el.key).unwrap_or_default();
            parts.texts.push(match owned(&el.value) {
                Some(v) if key.is_empty() => v,
                Some(v) => format!("{key}: {v}"),
                None => key,
            });
        }
        Some("checklist") => {
            parts.degrade(
                crate::report::kind::SELECTION_NOT_CARRIED,
                format!(
                    "a checklist of {} option(s): each a reply (Hubster chooses one, not several)",
                    el.elements.len()
                ),
            );
        }
        Some("checkbox") => {
            // What checking it publishes, as a reply.
            let text = owned(&el.text).unwrap_or_default();
            let published = checked_text(el).unwrap_or_else(|| text.clone());
            parts.actions.push(Action::Reply {
                title: text,
                payload: published,
            });
        }
        Some("submitButton") => {
            // It sends the checklist's choices: with each option a reply
            // of its own, a postback of what it does.
            let title = owned(&el.title).unwrap_or_else(|| "Submit".into());
            parts.actions.push(Action::Postback {
                title,
                payload: el.click.map_or_else(String::new, |c| c.get().to_owned()),
            });
        }
        Some(
            "vertical" | "horizontal" | "carousel" | "tabs" | "carouselSelect" | "accordionSelect",
        ) => {
            let actions = click_actions(el, None, "Open", parts);
            parts.actions.extend(actions);
        }
        None => {}
        Some(kind) => {
            // Other templates (list, section, ...): what they say; an
            // element json-pollock's schema does not list is named.
            if !matches!(kind, "list" | "sectionList" | "section" | "buttonList") {
                parts.degrade(
                    crate::report::kind::UNKNOWN_ELEMENT,
                    format!(
                        "an element of type {kind:?}, which json-pollock's schema does not list: its title, subtitle and text kept"
                    ),
                );
            }
            for t in [&el.title, &el.subtitle, &el.text] {
                parts.texts.extend(owned(t));
            }
            let actions = click_actions(el, None, "Open", parts);
            parts.actions.extend(actions);
        }
    }
    for c in &el.elements {
        collect(c, parts);
        // Quick replies attached to a nested element follow it.
        if let Some(q) = &c.quick_replies {
            collect(q, parts);
        }
    }
}

/// What a checkbox publishes when checked.
fn checked_text(el: &El) -> Option<String> {
    #[derive(Deserialize)]
    struct Checked {
        #[serde(rename = "publishText")]
        publish_text: Option<String>,
    }
    #[derive(Deserialize)]
    struct C {
        #[serde(default)]
        actions: Vec<Checked>,
    }
    let c: C = serde_json::from_str(el.click?.get()).ok()?;
    c.actions.into_iter().find_map(|a| a.publish_text)
}

/// The name of the first named action of an element's click.
fn link_name(el: &El) -> Option<String> {
    let click: Click = serde_json::from_str(el.click?.get()).ok()?;
    click
        .actions
        .into_iter()
        .filter_map(|a| a.name)
        .find(|n| !n.trim().is_empty())
        .map(Cow::into_owned)
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
    #[serde(default, borrow)]
    name: Option<Cow<'b, str>>,
    /// What a date picker or a slot list says on itself.
    #[serde(default, borrow)]
    title: Option<Cow<'b, str>>,
    /// Coordinates, read as numbers where they are (a string or anything
    /// else is no point, and never loses the other actions).
    #[serde(default, borrow)]
    la: Option<&'b RawValue>,
    #[serde(default, borrow)]
    lo: Option<&'b RawValue>,
}

/// An action's title: what its element shows (`label`) and the action's
/// own name, each once; `fallback` when there is neither.
fn action_title(label: Option<&str>, name: Option<&str>, fallback: &str) -> String {
    let label = label.filter(|l| !l.trim().is_empty());
    let name = name.filter(|n| !n.trim().is_empty());
    match (label, name) {
        (Some(l), Some(n)) if l.contains(n.trim()) => l.to_owned(),
        (Some(l), Some(n)) if n.contains(l.trim()) => n.to_owned(),
        (Some(l), Some(n)) => format!("{l} ({n})"),
        (Some(l), None) => l.to_owned(),
        (None, Some(n)) => n.to_owned(),
        (None, None) => fallback.to_owned(),
    }
}

/// Every click action of an element as a Hubster action titled by what
/// the element shows (`label`) and the action's name: a link as a link, a
/// published text as a reply, a navigation as a link to a map of its
/// point, anything else as a postback carrying it (named in the report).
/// A navigation to a point that is not a place is a line of text.
fn click_actions(el: &El, label: Option<&str>, fallback: &str, parts: &mut Parts) -> Vec<Action> {
    let Some(raw) = el.click else {
        return Vec::new();
    };
    let click: Click = serde_json::from_str(raw.get()).unwrap_or_default();
    let raw_actions: Vec<&RawValue> = serde_json::from_str::<ClickRaw>(raw.get())
        .map(|c| c.actions)
        .unwrap_or_default();
    let mut out = Vec::with_capacity(click.actions.len());
    for (i, a) in click.actions.into_iter().enumerate() {
        let title = action_title(label, a.name.as_deref().or(a.title.as_deref()), fallback);
        let raw = || {
            raw_actions
                .get(i)
                .map_or_else(String::new, |r| r.get().to_owned())
        };
        out.push(match (a.kind.as_deref(), number(a.la), number(a.lo)) {
            (Some("link"), ..) => Action::Link {
                title,
                url: a.uri.unwrap_or_default().into_owned(),
            },
            (Some("publishText"), ..) => Action::Reply {
                payload: a.text.map_or_else(|| title.clone(), Cow::into_owned),
                title,
            },
            (Some("navigate"), Some(la), Some(lo)) if is_place(la, lo) => Action::Link {
                title,
                url: maps_url(la, lo),
            },
            (Some("navigate"), Some(la), Some(lo)) => {
                parts.degrade(
                    crate::report::kind::NOT_A_PLACE,
                    format!(
                        "a navigation \"{title}\" to la {la}, lo {lo} (not a place): written as text"
                    ),
                );
                parts.lines.push(not_a_place(&title, la, lo));
                continue;
            }
            (kind, ..) => {
                parts.degrade(
                    crate::report::kind::ACTION_AS_POSTBACK,
                    format!(
                        "a {} action \"{title}\" has no Hubster equivalent: a postback carrying it",
                        kind.unwrap_or("untyped")
                    ),
                );
                Action::Postback {
                    title,
                    payload: raw(),
                }
            }
        });
    }
    out
}

#[derive(Deserialize, Default)]
struct ClickRaw<'b> {
    #[serde(default, borrow)]
    actions: Vec<&'b RawValue>,
}

/// A LivePerson button as Hubster actions: one per click action (a button
/// without any is a reply of its title).
fn button_actions(el: &El, parts: &mut Parts) -> Vec<Action> {
    let title = el.title.as_deref().unwrap_or("");
    let actions = click_actions(el, Some(title), title, parts);
    if actions.is_empty() && !click_has_actions(el) {
        return vec![Action::Reply {
            payload: title.to_owned(),
            title: title.to_owned(),
        }];
    }
    actions
}

/// Whether an element's click lists any action (a navigation that is not
/// a place gives no Hubster action, but the button was not a reply).
fn click_has_actions(el: &El) -> bool {
    el.click.is_some_and(|raw| {
        serde_json::from_str::<ClickRaw>(raw.get()).is_ok_and(|c| !c.actions.is_empty())
    })
}

fn card(parts: Parts) -> (Card, Vec<Degraded>) {
    let mut texts = parts.texts.into_iter();
    let title = texts.next();
    let subtitle = texts.next();
    let mut rest: Vec<String> = texts.collect();
    let mut images = parts.images.into_iter();
    let first = images.next();
    let mut actions = Vec::new();
    if let Some(first) = &first {
        rest.extend(first.caption.clone());
        // A card has no alt: what the picture shows, said in its content.
        let shown = |t: &str| {
            [&title, &subtitle]
                .into_iter()
                .flatten()
                .chain(&rest)
                .any(|s| s.contains(t))
        };
        if let Some(alt) = first.own_alt.as_ref().filter(|a| !shown(a)) {
            rest.push(alt.clone());
        }
    }
    rest.extend(parts.lines);
    // More images than a card holds, and maps: links a person can open.
    for img in images {
        actions.push(Action::Link {
            title: img
                .caption
                .or(img.own_alt)
                .unwrap_or_else(|| "Image".into()),
            url: img.url,
        });
    }
    for (la, lo, tooltip) in parts.maps {
        actions.push(Action::Link {
            title: tooltip.unwrap_or_else(|| "Map".into()),
            url: maps_url(la, lo),
        });
    }
    actions.extend(parts.actions);
    (
        Card {
            title,
            subtitle,
            content: (!rest.is_empty()).then(|| rest.join("\n")),
            url: first.map(|i| i.url),
            actions,
        },
        parts.degraded,
    )
}

/// The cards of a carousel-like element (carousel, tabs, a selecting
/// carousel or accordion), each from one of its elements.
fn cards(root: &El, degraded: &mut Vec<Degraded>) -> Vec<Card> {
    let multiple = root
        .select_mode
        .as_ref()
        .is_some_and(|m| m.kind.as_deref() == Some("multiple"));
    if multiple {
        degraded.push(Degraded {
            kind: crate::report::kind::SELECTION_NOT_CARRIED,
            detail: format!(
                "a {} choosing several of {} card(s): each card's buttons as they are (Hubster chooses one, not several)",
                root.kind.as_deref().unwrap_or(""),
                root.elements.len()
            ),
        });
    }
    root.elements
        .iter()
        .enumerate()
        .map(|(i, el)| {
            let mut parts = Parts::default();
            // An accordion's title and what it adds head its card.
            if let Some(t) = root.titles.get(i) {
                parts.texts.extend(owned(&t.name));
                parts.texts.extend(owned(&t.additional));
            }
            collect(el, &mut parts);
            if let Some(q) = &el.quick_replies {
                collect(q, &mut parts);
            }
            let (card, d) = card(parts);
            degraded.extend(d);
            card
        })
        .collect()
}

/// LivePerson structured content (JSON text) -> a Hubster message content;
/// `None` if the text is not a JSON object.
pub fn to_hubster_content(json: &str) -> Option<Content<'static>> {
    read(json).map(|r| r.content)
}

/// LivePerson structured content (JSON text) -> a Hubster message content
/// and what could not be carried as it was; `None` if the text is not a
/// JSON object. Each element lands in its Hubster equivalent: a map alone
/// is a `location`, an image alone an `image`, a button alone a `text`
/// with its actions, quick replies (a template's, or those attached beside
/// the elements) `reply` actions, a layout a `card` (further images and
/// maps as links), a carousel (tabs, a selecting carousel or accordion) a
/// `carousel`. What has no equivalent is text in the same message, named
/// in `degraded`.
pub fn read(json: &str) -> Option<Read> {
    if !json.trim_start().starts_with('{') {
        return None;
    }
    let root: El = serde_json::from_str(json).ok()?;
    let kind = root.kind.as_deref().unwrap_or("");
    let mut degraded = Vec::new();
    let replies = match &root.quick_replies {
        Some(q) => {
            let mut parts = Parts::default();
            collect(q, &mut parts);
            degraded.append(&mut parts.degraded);
            parts.actions
        }
        None => Vec::new(),
    };
    let content = match kind {
        "carousel" | "tabs" | "carouselSelect" | "accordionSelect" => {
            Content::Carousel(cards(&root, &mut degraded), Vec::new())
        }
        "text" if root.click.is_none() => {
            Content::Text(owned(&root.text).unwrap_or_default().into())
        }
        _ => {
            let mut parts = Parts::default();
            collect(&root, &mut parts);
            degraded.append(&mut parts.degraded);
            layout(kind, &root, parts, &mut degraded)
        }
    };
    Some(Read {
        content: content.with_actions(replies),
        degraded,
    })
}

/// A single element or a layout as the Hubster content that shows it.
fn layout(
    kind: &str,
    root: &El,
    mut parts: Parts,
    degraded: &mut Vec<Degraded>,
) -> Content<'static> {
    let plain = |p: &Parts| p.images.is_empty() && p.maps.is_empty();
    if matches!(
        kind,
        "button" | "quickReplies" | "template" | "text" | "linkPreview"
    ) && plain(&parts)
    {
        // A text message needs a text: what the button says.
        let mut lines = parts.texts;
        lines.append(&mut parts.lines);
        let text = match lines.is_empty() {
            false => lines.join("\n"),
            true => owned(&root.title).unwrap_or_default(),
        };
        if parts.actions.is_empty() {
            return Content::Text(text.into());
        }
        return Content::TextActions {
            text: text.into(),
            actions: parts.actions,
        };
    }
    if parts.maps.len() == 1
        && parts.images.is_empty()
        && parts.actions.is_empty()
        && parts.lines.is_empty()
    {
        let (la, lo, tooltip) = parts.maps[0].clone();
        let mut address: Vec<String> = tooltip.clone().into_iter().collect();
        address.extend(
            parts
                .texts
                .into_iter()
                .filter(|t| Some(t) != tooltip.as_ref()),
        );
        return Content::Location {
            latitude: la,
            longitude: lo,
            address: (!address.is_empty()).then(|| address.join("\n")),
        };
    }
    if let Some(image) = lone_image(&parts) {
        return image;
    }
    if matches!(kind, "vertical" | "horizontal") {
        let (card, d) = card(parts);
        degraded.extend(d);
        return Content::Card(card);
    }
    if parts.actions.is_empty() && plain(&parts) {
        let mut lines = parts.texts;
        lines.append(&mut parts.lines);
        return Content::Text(if lines.is_empty() {
            format!(
                "[rich content: {}]",
                if kind.is_empty() { "unknown" } else { kind }
            )
            .into()
        } else {
            lines.join("\n").into()
        });
    }
    let (card, d) = card(parts);
    degraded.extend(d);
    Content::Card(card)
}

/// An image with at most one thing to say (its caption, a text, or the
/// name of the link it opens) and at most a link: a Hubster `image`, the
/// link its anchor. `None` where the image says more.
fn lone_image(parts: &Parts) -> Option<Content<'static>> {
    let [img] = &parts.images[..] else {
        return None;
    };
    if !parts.maps.is_empty() || !parts.lines.is_empty() {
        return None;
    }
    let anchor = match &parts.actions[..] {
        [] => None,
        [Action::Link { url, .. }] if img.link.as_ref() == Some(url) => Some(url.clone()),
        _ => return None,
    };
    // What the image says, each once.
    let mut said: Vec<&String> = Vec::new();
    for s in img.caption.iter().chain(&parts.texts).chain(&img.link_name) {
        if !said.iter().any(|t| t.contains(s.as_str())) {
            said.push(s);
        }
    }
    if said.len() > 1 {
        return None;
    }
    Some(Content::Image {
        url: img.url.clone(),
        alt: img.alt.clone().map(Cow::Owned),
        title: said.first().map(|s| (*s).clone()),
        anchor,
    })
}

/// Quick replies (a `quickReplies` template, JSON text or object) as
/// Hubster actions.
pub fn quick_replies(json: &str) -> Vec<Action> {
    read_quick_replies(json).0
}

/// Quick replies (a `quickReplies` template, JSON text or object) as
/// Hubster actions, and what could not be carried as it was.
pub fn read_quick_replies(json: &str) -> (Vec<Action>, Vec<Degraded>) {
    let json = match serde_json::from_str::<String>(json) {
        Ok(text) => text,
        Err(_) => json.to_owned(),
    };
    let Ok(root) = serde_json::from_str::<El>(&json) else {
        return (Vec::new(), Vec::new());
    };
    let mut parts = Parts::default();
    for r in &root.replies {
        let actions = button_actions(r, &mut parts);
        parts.actions.extend(actions);
    }
    // A reply to a point that is not a place: its line has nowhere else
    // to go than a button's title.
    for line in parts.lines {
        parts.actions.push(Action::Postback {
            payload: line.clone(),
            title: line,
        });
    }
    (parts.actions, parts.degraded)
}
