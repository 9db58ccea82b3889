//! What a person sees crosses the platforms: every example of
//! `../shared/fixtures/real-docs/` (the platforms' own documentation and
//! SDKs) converted once, and its visible content looked for in what the
//! other platform would show, outside convsync's provenance copies; then
//! round-tripped with the copies removed between the legs. The outcomes
//! expected are in `tests/data/real-docs-visible.toml`: a regression names
//! the example.
//!
//! Visible content:
//! - LivePerson: a text message's text; a file's caption and path; a form
//!   invitation's title; in structured content and quick replies every
//!   `text` (but what a button publishes), `title`, `subtitle`,
//!   `caption`, `alt`, `url`/`uri` and coordinates (`la`/`lo`); a
//!   key-value pair's key and value; an accordion's titles; each action's
//!   `name` where it has no `text` of its own; a typing indicator
//!   (ChatStateEvent COMPOSING).
//! - Hubster: a message's `text`, `title`, `subtitle`, `content`, `label`,
//!   `alt`, `address`, urls (`url`, `imageUrl`, `urlAnchor`), action titles and link
//!   urls, contact property values, coordinates; a typing indicator
//!   (`typing_on`); a payload event's payload type.
//!
//! What a platform shows: LivePerson records' events except
//! `hubster/activity` content and the `hubsterActivity` copy; Hubster
//! messages except their LivePerson `channels` entry and `payload`
//! messages, events as what they are. A string crosses when some shown
//! string contains it; coordinates as a map or location, or a link whose
//! URL holds both numbers (never as bare text); coordinates that are no
//! place on a map as text holding both numbers.

use convsync::format::{self, HubsterResume, LpResume, Mapping};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
enum Atom {
    Text(String),
    Coord(f64, f64),
    Typing,
    Payload(String),
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real-docs")
}

fn push_text(out: &mut Vec<Atom>, s: &str) {
    let s = s.trim();
    if !s.is_empty() {
        out.push(Atom::Text(s.to_owned()));
    }
}

/// Visible atoms of LivePerson structured content (or quick replies).
fn structured_atoms(v: &Value, out: &mut Vec<Atom>) {
    match v {
        Value::Object(o) => {
            if let (Some(la), Some(lo)) = (
                o.get("la").and_then(Value::as_f64),
                o.get("lo").and_then(Value::as_f64),
            ) {
                out.push(Atom::Coord(la, lo));
            }
            // What a published text sends is not what the button shows.
            let sent = o.get("type").and_then(Value::as_str) == Some("publishText");
            // An action's name, where it has no text of its own.
            if o.contains_key("type")
                && !o.contains_key("text")
                && let Some(n) = o.get("name").and_then(Value::as_str)
            {
                push_text(out, n);
            }
            // An accordion's titles.
            if let Some(Value::Array(titles)) = o.get("titles") {
                for t in titles {
                    for k in ["name", "additional"] {
                        if let Some(s) = t.get(k).and_then(Value::as_str) {
                            push_text(out, s);
                        }
                    }
                }
            }
            for k in [
                "text", "title", "subtitle", "caption", "url", "uri", "alt", "key", "value",
            ] {
                if k == "text" && sent {
                    continue;
                }
                if let Some(s) = o.get(k).and_then(Value::as_str) {
                    push_text(out, s);
                }
            }
            for (k, c) in o {
                // Not shown: styles, metadata, tooltips, a selection's
                // name, a custom action's data, settings.
                if !matches!(
                    k.as_str(),
                    "style" | "metadata" | "tooltip" | "selectMode" | "data" | "customSettings"
                ) {
                    structured_atoms(c, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| structured_atoms(c, out)),
        _ => {}
    }
}

fn lp_atoms(records: &[Value]) -> Vec<Atom> {
    let mut out = Vec::new();
    for r in records {
        let ev = &r["event"];
        match ev["type"].as_str() {
            Some("ContentEvent") => {
                let ct = ev["contentType"].as_str().unwrap_or("");
                if ct == format::HUBSTER_ACTIVITY_CONTENT_TYPE {
                    continue;
                }
                match &ev["message"] {
                    Value::String(s) => push_text(&mut out, s),
                    Value::Object(m) => {
                        for k in ["caption", "relativePath", "title"] {
                            if let Some(s) = m.get(k).and_then(Value::as_str) {
                                push_text(&mut out, s);
                            }
                        }
                    }
                    _ => {}
                }
                if let Some(q) = ev.get("quickReplies") {
                    structured_atoms(q, &mut out);
                }
            }
            Some("RichContentEvent") => {
                let content = match &ev["content"] {
                    Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
                    other => other.clone(),
                };
                structured_atoms(&content, &mut out);
                if let Some(q) = ev.get("quickReplies") {
                    structured_atoms(q, &mut out);
                }
            }
            Some("ChatStateEvent") if ev["chatState"] == "COMPOSING" => out.push(Atom::Typing),
            _ => {}
        }
    }
    out
}

fn hubster_message_atoms(m: &Value, out: &mut Vec<Atom>) {
    match m {
        Value::Object(o) => {
            if let (Some(la), Some(lo)) = (
                o.get("latitude").and_then(Value::as_f64),
                o.get("longitude").and_then(Value::as_f64),
            ) {
                out.push(Atom::Coord(la, lo));
            }
            for k in [
                "text",
                "title",
                "subtitle",
                "content",
                "label",
                "alt",
                "address",
                "url",
                "imageUrl",
                "urlAnchor",
            ] {
                if let Some(s) = o.get(k).and_then(Value::as_str) {
                    push_text(out, s);
                }
            }
            for k in ["items", "actions", "properties"] {
                if let Some(c) = o.get(k) {
                    hubster_message_atoms(c, out);
                }
            }
            if o.contains_key("key")
                && let Some(v) = o.get("value")
            {
                match v {
                    Value::String(s) => push_text(out, s),
                    Value::Null => {}
                    other => push_text(out, &other.to_string()),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| hubster_message_atoms(c, out)),
        _ => {}
    }
}

fn hubster_atoms(acts: &[Value]) -> Vec<Atom> {
    let mut out = Vec::new();
    for a in acts {
        match a["type"].as_str() {
            Some("message") => {
                if a["message"]["type"] == "payload" {
                    continue;
                }
                hubster_message_atoms(&a["message"], &mut out);
            }
            Some("event") => match a["event"]["type"].as_str() {
                Some("typing_on") => out.push(Atom::Typing),
                // A chat state carried whole in the one event type Hubster
                // supports (mapping.unsupported_events = "payload").
                Some("payload")
                    if a["event"]["payloadType"] == "liveperson.event"
                        && a["event"]["payload"].to_string().contains("COMPOSING") =>
                {
                    out.push(Atom::Typing)
                }
                Some("payload") => {
                    if let Some(t) = a["event"]["payloadType"].as_str()
                        && !t.starts_with("liveperson.")
                    {
                        out.push(Atom::Payload(t.to_owned()));
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    out
}

/// Whether `atom` is among what `shown` holds.
fn shows(shown: &[Atom], atom: &Atom) -> bool {
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    match atom {
        Atom::Text(t) => shown.iter().any(|s| match s {
            Atom::Text(s) => s.contains(t.as_str()),
            Atom::Payload(p) => p.contains(t.as_str()),
            _ => false,
        }),
        // A point that is no place on a map: as text that says it.
        Atom::Coord(la, lo) if la.abs() > 90.0 || lo.abs() > 180.0 => {
            shown.iter().any(|s| match s {
                Atom::Text(t) => t.contains(&la.to_string()) && t.contains(&lo.to_string()),
                _ => false,
            })
        }
        // A point shows as a map, or as a link to one; not as bare text.
        Atom::Coord(la, lo) => shown.iter().any(|s| match s {
            Atom::Coord(a, b) => close(*a, *la) && close(*b, *lo),
            Atom::Text(t) => {
                t.starts_with("http") && t.contains(&la.to_string()) && t.contains(&lo.to_string())
            }
            _ => false,
        }),
        Atom::Typing => shown.contains(&Atom::Typing),
        Atom::Payload(p) => shown.iter().any(|s| match s {
            Atom::Text(t) => t.contains(p.as_str()),
            Atom::Payload(q) => q == p,
            _ => false,
        }),
    }
}

/// The input's atoms the output does not show.
fn missing(input: &[Atom], shown: &[Atom]) -> Vec<String> {
    input
        .iter()
        .filter(|a| !shows(shown, a))
        .map(|a| format!("{a:?}"))
        .collect()
}

fn strip_lp(records: Vec<Value>) -> Vec<Value> {
    records
        .into_iter()
        .map(|mut r| {
            if let Some(o) = r.as_object_mut() {
                o.remove(format::HUBSTER_ACTIVITY_FIELD);
            }
            r
        })
        .collect()
}

fn strip_hubster(acts: Vec<Value>) -> Vec<Value> {
    acts.into_iter()
        .filter(|a| {
            // A chat state travels as a `liveperson.event` payload (the one
            // event type Hubster supports): that is the item, not a copy.
            let chat_state = a["event"]["payloadType"] == "liveperson.event"
                && a["event"]["payload"].to_string().contains("ChatStateEvent");
            chat_state
                || !(a["message"]["type"] == "payload"
                    || a["event"]["payloadType"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("liveperson.")))
        })
        .map(|mut a| {
            for k in ["message", "event"] {
                if let Some(m) = a[k].as_object_mut() {
                    m.remove("channels");
                }
            }
            a
        })
        .collect()
}

/// What happened to one example.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    converts: bool,
    /// Input atoms the other platform does not show.
    lost: Vec<String>,
    /// Input atoms lost on a round trip without provenance copies.
    lost_round_trip: Vec<String>,
    /// A round trip with the copies gives the input back exactly.
    exact: bool,
}

thread_local! {
    /// The mapping conversions here use (each test runs on its own thread).
    static MAPPING: std::cell::RefCell<Mapping> = std::cell::RefCell::new(Mapping::default());
}

fn to_hubster(id: &str, records: &[Value]) -> Result<Vec<Value>, String> {
    let text = serde_json::to_string(records).unwrap();
    let recs: Vec<format::liveperson::Record> =
        serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let map = MAPPING.with(|m| m.borrow().clone());
    let out =
        format::to_hubster(id, &recs, &map, &LpResume::default()).map_err(|e| e.to_string())?;
    Ok(out.activities.iter().map(|a| a.to_value()).collect())
}

fn to_lp(id: &str, acts: &[Value]) -> Result<Vec<Value>, String> {
    let map = MAPPING.with(|m| m.borrow().clone());
    format::to_liveperson(id, acts, &map, &HubsterResume::default())
        .map(|o| o.records)
        .map_err(|e| e.to_string())
}

fn outcome(name: &str, doc: &Value) -> Outcome {
    let failed = |_e: String| Outcome {
        converts: false,
        lost: vec![],
        lost_round_trip: vec![],
        exact: false,
    };
    let canon = |v: &[Value]| {
        let mut t: Vec<String> = v.iter().map(Value::to_string).collect();
        t.sort();
        t
    };
    if name.starts_with("lp-") {
        let records = doc["messageEventRecords"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let id = records
            .iter()
            .find_map(|r| r["dialogId"].as_str())
            .unwrap_or(name)
            .to_owned();
        let input = lp_atoms(&records);
        let acts = match to_hubster(&id, &records) {
            Ok(a) => a,
            Err(e) => return failed(e),
        };
        let lost = missing(&input, &hubster_atoms(&acts));
        let exact = to_lp(&id, &acts).is_ok_and(|b| canon(&b) == canon(&records));
        let back = match to_lp(&id, &strip_hubster(acts)) {
            Ok(b) => b,
            Err(e) => return failed(e),
        };
        Outcome {
            converts: true,
            lost,
            lost_round_trip: missing(&input, &lp_atoms(&strip_lp(back))),
            exact,
        }
    } else {
        let acts = doc.as_array().cloned().unwrap_or_default();
        let input = hubster_atoms(&acts);
        let records = match to_lp(name, &acts) {
            Ok(r) => r,
            Err(e) => return failed(e),
        };
        let lost = missing(&input, &lp_atoms(&strip_lp(records.clone())));
        let exact = to_hubster(name, &records).is_ok_and(|b| canon(&b) == canon(&acts));
        let back = match to_hubster(name, &strip_lp(records)) {
            Ok(b) => b,
            Err(e) => return failed(e),
        };
        Outcome {
            converts: true,
            lost,
            lost_round_trip: missing(&input, &hubster_atoms(&strip_hubster(back))),
            exact,
        }
    }
}

/// Every example's outcome, by name (the file name without `.json`).
fn outcomes() -> BTreeMap<String, Outcome> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if p.extension().is_none_or(|e| e != "json") || name.starts_with("lp-pollock-ex-") {
            continue;
        }
        let doc: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        out.insert(name.clone(), outcome(&name, &doc));
    }
    out
}

#[derive(serde::Deserialize)]
struct Expected {
    /// Converts, and every visible item shows on the other platform.
    crosses: bool,
    /// ... and comes back whole without provenance copies.
    round_trip: bool,
    /// Why not, when not.
    #[serde(default)]
    why: String,
}

#[test]
fn what_a_person_sees_crosses_the_platforms() {
    let table: BTreeMap<String, Expected> = toml::from_str(
        &std::fs::read_to_string(crate::support::data("real-docs-visible.toml")).unwrap(),
    )
    .unwrap();
    let got = outcomes();
    assert_eq!(got.len(), 44, "the examples");
    let mut wrong = Vec::new();
    for (name, o) in &got {
        let crosses = o.converts && o.lost.is_empty();
        let round_trip = o.converts && o.lost_round_trip.is_empty();
        match table.get(name) {
            None => wrong.push(format!("{name}: not in the table: {o:?}")),
            Some(e) => {
                if e.crosses != crosses || e.round_trip != round_trip {
                    wrong.push(format!(
                        "{name}: expected crosses={} round_trip={}, got {o:?}",
                        e.crosses, e.round_trip
                    ));
                }
                if (!e.crosses || !e.round_trip) && e.why.is_empty() {
                    wrong.push(format!("{name}: the table must say why it loses content"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let crossing = got
        .values()
        .filter(|o| o.converts && o.lost.is_empty())
        .count();
    assert!(got.values().all(|o| o.converts), "every example converts");
    let inexact: Vec<&String> = got
        .iter()
        .filter(|(_, o)| !o.exact)
        .map(|(n, _)| n)
        .collect();
    assert!(
        inexact.is_empty(),
        "with provenance, round trips are exact: {inexact:?}"
    );
    assert_eq!(crossing, 44, "every documented example crosses whole");
}

#[test]
fn without_the_originals_what_a_person_sees_still_crosses_and_comes_back() {
    MAPPING.with(|m| m.borrow_mut().keep_original = false);
    for (name, o) in outcomes() {
        assert!(o.converts, "{name}");
        assert!(o.lost.is_empty(), "{name}: {:?}", o.lost);
        assert!(
            o.lost_round_trip.is_empty(),
            "{name}: {:?}",
            o.lost_round_trip
        );
    }
    // And no copy travels.
    let dir = dir();
    for name in [
        "lp-sc-card-simple",
        "hubster-docs-card-image",
        "lp-agentsdk-notifications",
    ] {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap())
                .unwrap();
        let out = if name.starts_with("lp-") {
            let recs = doc["messageEventRecords"].as_array().unwrap().clone();
            Value::Array(to_hubster("c", &recs).unwrap())
        } else {
            Value::Array(to_lp("c", doc.as_array().unwrap()).unwrap())
        };
        let text = out.to_string();
        assert!(
            !text.contains("\"channels\":[{\"type\":\"LivePerson\""),
            "{name}: {text:.300}"
        );
        assert!(
            !text.contains(format::HUBSTER_ACTIVITY_FIELD),
            "{name}: {text:.300}"
        );
    }
}

/// Prints every example's outcome (`cargo test visible -- --ignored --nocapture`).
#[test]
#[ignore]
fn print_outcomes() {
    for (name, o) in outcomes() {
        println!(
            "{name}: converts={} exact={} lost={:?} lost_round_trip={:?}",
            o.converts, o.exact, o.lost, o.lost_round_trip
        );
    }
}

#[derive(serde::Deserialize)]
struct ElementExpected {
    /// The warning kinds the conversion reports (empty: it crosses whole).
    degraded: Vec<String>,
    #[serde(default)]
    why: String,
}

/// One example of each json-pollock element and action
/// (`tests/data/pollock-elements/`), as an agent's RichContentEvent.
pub fn element_examples() -> BTreeMap<String, Value> {
    let dir = crate::support::data("pollock-elements");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        let doc: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        let mut event = serde_json::json!({"type": "RichContentEvent",
            "content": doc["content"].to_string()});
        if let Some(q) = doc.get("quickReplies") {
            event["quickReplies"] = q.clone();
        }
        out.insert(
            name.clone(),
            serde_json::json!({"sequence": 0, "dialogId": format!("c-{name}"),
                "serverTimestamp": 1_764_950_400_000i64, "originatorId": "agent-1",
                "originatorMetadata": {"id": "agent-1", "role": "ASSIGNED_AGENT"},
                "event": event}),
        );
    }
    out
}

#[test]
fn every_json_pollock_element_crosses_whole_or_is_named_as_degraded() {
    let table: BTreeMap<String, ElementExpected> = toml::from_str(
        &std::fs::read_to_string(crate::support::data("pollock-elements.toml")).unwrap(),
    )
    .unwrap();
    let examples = element_examples();
    assert_eq!(
        examples.keys().collect::<Vec<_>>(),
        table.keys().collect::<Vec<_>>(),
        "every example in the table, and only those"
    );
    let mut wrong = Vec::new();
    for (name, record) in &examples {
        let id = record["dialogId"].as_str().unwrap();
        let records = vec![record.clone()];
        let text = serde_json::to_string(&records).unwrap();
        let recs: Vec<format::liveperson::Record> = serde_json::from_str(&text).unwrap();
        let map = Mapping::default();
        let out = format::to_hubster(id, &recs, &map, &LpResume::default()).unwrap();
        let acts: Vec<Value> = out.activities.iter().map(|a| a.to_value()).collect();
        let kinds: Vec<String> = out.report.warnings.keys().map(|k| k.to_string()).collect();
        let e = &table[name];
        let input = lp_atoms(&records);
        let lost = missing(&input, &hubster_atoms(&acts));
        if kinds != e.degraded {
            wrong.push(format!(
                "{name}: reported {kinds:?}, expected {:?}: {:?}",
                e.degraded, out.report.samples
            ));
        }
        if e.degraded.is_empty() && !lost.is_empty() {
            wrong.push(format!(
                "{name}: crosses with nothing reported, yet loses {lost:?}: {acts:?}"
            ));
        }
        if !e.degraded.is_empty() && e.why.is_empty() {
            wrong.push(format!("{name}: the table must say why it is degraded"));
        }
        // Each warning is tied to the activity it is about.
        if out.degraded().len() as u64 != out.report.warnings.values().sum::<u64>() {
            wrong.push(format!(
                "{name}: warnings not tied to activities: {:?}",
                out.degraded()
            ));
        }
        // With provenance the round trip is exact; without, what a person
        // saw comes back.
        let back = to_lp(id, &acts).unwrap();
        if back != records {
            wrong.push(format!("{name}: not exact: {back:?}"));
        }
        let back = to_lp(id, &strip_hubster(acts)).unwrap();
        let lost_back = missing(&input, &lp_atoms(&strip_lp(back)));
        if e.degraded.is_empty() && !lost_back.is_empty() {
            wrong.push(format!("{name}: the round trip loses {lost_back:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
