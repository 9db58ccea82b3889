//! LivePerson's limits on structured content (json-pollock's schema), kept
//! by everything convsync writes: what would be refused is split (a text
//! over 5,000 characters into several texts, a layout over 256 elements
//! into nested layouts, a carousel over 10 cards into carousels of at most
//! 10 and a lone card), shortened with a note (a button title over 128
//! characters, a reply over 256, a caption or tooltip), or written as a
//! text a person can read (a link that is not a URL or is too long, an
//! image URL over 2,048 characters). Never written: what LivePerson's
//! renderer rejects.

use serde_json::{Map, Value, json};

pub const TEXT_MAX: usize = 5000;
pub const BUTTON_TITLE_MAX: usize = 128;
pub const PUBLISH_TEXT_MAX: usize = 256;
pub const LINK_URI_MAX: usize = 1024;
pub const NAME_MAX: usize = 256;
pub const IMAGE_URL_MAX: usize = 2048;
pub const CAPTION_MAX: usize = 128;
pub const TOOLTIP_MAX: usize = 256;
pub const ALT_MAX: usize = 2000;
pub const ELEMENTS_MAX: usize = 256;
pub const CAROUSEL_MIN: usize = 2;
pub const CAROUSEL_MAX: usize = 10;

/// `sc` within LivePerson's limits; each change is described in `notes`.
pub fn fit(sc: Value, notes: &mut Vec<String>) -> Value {
    let mut out = fit_el(sc, notes);
    if out.len() == 1 {
        out.pop().expect("one")
    } else {
        layout("vertical", out, notes)
    }
}

/// The characters of `s` up to `max`, with a note when it was longer.
fn shorten(s: &str, max: usize, what: &str, notes: &mut Vec<String>) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some(_) => {
            notes.push(format!(
                "{what} of {} characters shortened to {max}",
                s.chars().count()
            ));
            let keep: String = s.chars().take(max.saturating_sub(1)).collect();
            format!("{keep}…")
        }
    }
}

fn shorten_field(
    o: &mut Map<String, Value>,
    key: &str,
    max: usize,
    what: &str,
    notes: &mut Vec<String>,
) {
    if let Some(Value::String(s)) = o.get(key)
        && s.chars().nth(max).is_some()
    {
        let short = shorten(s, max, what, notes);
        o.insert(key.into(), short.into());
    }
}

/// Whether `s` is an absolute URI (RFC 3986: a scheme, then only the
/// characters a URI may hold).
pub fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut sc = scheme.chars();
    if !sc.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !sc.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        || rest.is_empty()
    {
        return false;
    }
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
            continue;
        }
        let ok = c.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&c);
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

fn text(t: &str) -> Value {
    json!({"type": "text", "text": t})
}

/// Texts of at most [`TEXT_MAX`] characters holding all of `t`.
fn texts(t: &str, notes: &mut Vec<String>) -> Vec<Value> {
    if t.chars().nth(TEXT_MAX).is_none() {
        return vec![text(t)];
    }
    notes.push(format!(
        "text of {} characters split into texts of at most {TEXT_MAX}",
        t.chars().count()
    ));
    let chars: Vec<char> = t.chars().collect();
    chars
        .chunks(TEXT_MAX)
        .map(|c| text(&c.iter().collect::<String>()))
        .collect()
}

/// A layout of `elements`, nested when there are more than it may hold.
fn layout(kind: &str, mut elements: Vec<Value>, notes: &mut Vec<String>) -> Value {
    if elements.len() > ELEMENTS_MAX {
        notes.push(format!(
            "{} elements in one layout: nested in layouts of at most {ELEMENTS_MAX}",
            elements.len()
        ));
        while elements.len() > ELEMENTS_MAX {
            elements = elements
                .chunks(ELEMENTS_MAX)
                .map(|c| json!({"type": "vertical", "elements": c}))
                .collect();
        }
    }
    json!({"type": kind, "elements": elements})
}

/// One element within the limits: itself, or what replaces it (several
/// elements, or none).
fn fit_el(el: Value, notes: &mut Vec<String>) -> Vec<Value> {
    let Value::Object(mut o) = el else {
        return vec![el];
    };
    for (key, max) in [("tooltip", TOOLTIP_MAX), ("alt", ALT_MAX)] {
        shorten_field(&mut o, key, max, key, notes);
    }
    let kind = o
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    match kind.as_str() {
        "vertical" | "horizontal" => {
            let elements = take_elements(&mut o, notes);
            let mut l = layout(&kind, elements, notes);
            for (k, v) in o {
                if k != "type" && k != "elements" {
                    l[k] = v;
                }
            }
            vec![l]
        }
        "carousel" => {
            let cards = take_elements(&mut o, notes);
            let n = cards.len();
            let mut out: Vec<Value> = Vec::new();
            for chunk in cards.chunks(CAROUSEL_MAX) {
                if chunk.len() >= CAROUSEL_MIN {
                    let mut c = o.clone();
                    c.insert("elements".into(), Value::Array(chunk.to_vec()));
                    out.push(Value::Object(c));
                } else {
                    out.extend(chunk.iter().cloned());
                }
            }
            if !(CAROUSEL_MIN..=CAROUSEL_MAX).contains(&n) {
                notes.push(format!(
                    "carousel of {n} card(s): LivePerson takes {CAROUSEL_MIN} to {CAROUSEL_MAX}; written as {} part(s)",
                    out.len()
                ));
            }
            out
        }
        "text" => {
            let t = o
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let mut parts = texts(&t, notes);
            if parts.len() == 1 {
                o.insert("text".into(), t.into());
                parts = vec![Value::Object(o)];
            }
            parts
        }
        "button" => {
            let title = o
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            // A link LivePerson cannot open: the title and the link as text.
            let bad_link = o["click"]["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["type"] == "link")
                .find_map(|a| {
                    let uri = a["uri"].as_str().unwrap_or("");
                    (!is_uri(uri) || uri.len() > LINK_URI_MAX).then(|| uri.to_owned())
                });
            if let Some(uri) = bad_link {
                notes.push(format!(
                    "button {:?}: its link is not a URL LivePerson takes: written as text",
                    shorten(&title, 40, "", &mut Vec::new())
                ));
                let t = if title.is_empty() {
                    uri
                } else {
                    format!("{title}: {uri}")
                };
                return texts(&t, notes);
            }
            o.insert(
                "title".into(),
                shorten(&title, BUTTON_TITLE_MAX, "button title", notes).into(),
            );
            if let Some(Value::Array(actions)) =
                o.get_mut("click").and_then(|c| c.get_mut("actions"))
            {
                for a in actions.iter_mut().filter_map(Value::as_object_mut) {
                    match a.get("type").and_then(Value::as_str) {
                        Some("publishText") => {
                            shorten_field(a, "text", PUBLISH_TEXT_MAX, "reply", notes)
                        }
                        Some("link") | Some("navigate") => {
                            shorten_field(a, "name", NAME_MAX, "link name", notes)
                        }
                        _ => {}
                    }
                }
            }
            vec![Value::Object(o)]
        }
        "image" => {
            let url = o
                .get("url")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if url.is_empty() || url.len() > IMAGE_URL_MAX {
                notes.push(format!(
                    "image URL of {} characters: written as text",
                    url.len()
                ));
                let caption = o.get("caption").and_then(Value::as_str).unwrap_or("");
                let t = if caption.is_empty() {
                    url
                } else {
                    format!("{caption}: {url}")
                };
                return texts(&t, notes);
            }
            shorten_field(&mut o, "caption", CAPTION_MAX, "image caption", notes);
            vec![Value::Object(o)]
        }
        _ => vec![Value::Object(o)],
    }
}

fn take_elements(o: &mut Map<String, Value>, notes: &mut Vec<String>) -> Vec<Value> {
    match o.remove("elements") {
        Some(Value::Array(els)) => els.into_iter().flat_map(|e| fit_el(e, notes)).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(i: usize) -> Value {
        json!({"type": "vertical", "elements": [{"type": "text", "text": format!("card {i}")}]})
    }

    #[test]
    fn a_carousel_keeps_two_to_ten_cards() {
        let mut notes = Vec::new();
        let c = fit(
            json!({"type": "carousel", "padding": 10, "elements": (0..11).map(card).collect::<Vec<_>>()}),
            &mut notes,
        );
        assert_eq!(c["type"], "vertical");
        assert_eq!(c["elements"][0]["type"], "carousel");
        assert_eq!(c["elements"][0]["elements"].as_array().unwrap().len(), 10);
        assert_eq!(c["elements"][1], card(10));
        assert_eq!(notes.len(), 1);
        let one = fit(
            json!({"type": "carousel", "elements": [card(0)]}),
            &mut notes,
        );
        assert_eq!(one, card(0));
        let ten = json!({"type": "carousel", "elements": (0..10).map(card).collect::<Vec<_>>()});
        let mut quiet = Vec::new();
        assert_eq!(fit(ten.clone(), &mut quiet), ten);
        assert!(quiet.is_empty());
    }

    #[test]
    fn long_texts_split_and_titles_shorten() {
        let mut notes = Vec::new();
        let long = "é".repeat(TEXT_MAX + 3);
        let v = fit(
            json!({"type": "vertical", "elements": [{"type": "text", "text": long},
            {"type": "button", "title": "t".repeat(200), "click": {"actions": [{"type": "publishText", "text": "p".repeat(300)}]}}]}),
            &mut notes,
        );
        let els = v["elements"].as_array().unwrap();
        assert_eq!(els.len(), 3);
        let joined: String = els[..2]
            .iter()
            .map(|e| e["text"].as_str().unwrap())
            .collect();
        assert_eq!(joined, long, "nothing of the text is lost");
        assert_eq!(
            els[2]["title"].as_str().unwrap().chars().count(),
            BUTTON_TITLE_MAX
        );
        assert_eq!(
            els[2]["click"]["actions"][0]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            PUBLISH_TEXT_MAX
        );
        assert_eq!(notes.len(), 3, "{notes:?}");
    }

    #[test]
    fn a_link_that_is_not_a_url_becomes_text() {
        let mut notes = Vec::new();
        let v = fit(
            json!({"type": "vertical", "elements": [
            {"type": "button", "title": "Go", "click": {"actions": [{"type": "link", "uri": "not a url"}]}},
            {"type": "button", "title": "Ok", "click": {"actions": [{"type": "link", "uri": "https://example.com/a?b=c%20d"}]}}]}),
            &mut notes,
        );
        assert_eq!(
            v["elements"][0],
            json!({"type": "text", "text": "Go: not a url"})
        );
        assert_eq!(v["elements"][1]["type"], "button");
        assert!(is_uri("mailto:a@b.c") && is_uri("tel:+123"));
        assert!(
            !is_uri("https://exa mple.com") && !is_uri("/relative") && !is_uri("https://é.com")
        );
        assert!(!is_uri("https://x/%zz") && !is_uri("https://x/%"));
    }

    #[test]
    fn many_elements_nest() {
        let mut notes = Vec::new();
        let els: Vec<Value> = (0..600).map(|i| text(&i.to_string())).collect();
        let v = fit(json!({"type": "vertical", "elements": els}), &mut notes);
        let outer = v["elements"].as_array().unwrap();
        assert_eq!(outer.len(), 3);
        assert_eq!(outer[0]["elements"].as_array().unwrap().len(), ELEMENTS_MAX);
        assert_eq!(outer[2]["elements"][87]["text"], "599");
    }
}
