//! Every LivePerson structured content convsync writes passes LivePerson's
//! own schema (json-pollock's, in `../shared/spec/`), with URI formats
//! checked (stricter than json-pollock): from the platforms' documented
//! Hubster examples, from the generator's corpus with provenance removed,
//! and from arbitrary Hubster activities (long texts, many items, odd
//! URLs).

use convsync::format::{self, HubsterResume, LpResume, Mapping};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::OnceLock;

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// json-pollock's validator: every schema file under one base, draft-07,
/// from `rich_content.json`.
fn pollock() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        const BASE: &str = "https://json-pollock.invalid/schema/";
        let dir = shared().join("spec/liveperson-structured-content-schema");
        let resources: Vec<(String, jsonschema::Resource)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| {
                let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (
                    format!("{BASE}{name}"),
                    jsonschema::Draft::Draft7.create_resource(v),
                )
            })
            .collect();
        assert!(resources.len() >= 30, "the schema files");
        let registry = jsonschema::Registry::new()
            .extend(resources)
            .unwrap()
            .prepare()
            .unwrap();
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .with_registry(&registry)
            .should_validate_formats(true)
            .build(&json!({"$ref": format!("{BASE}rich_content.json")}))
            .unwrap()
    })
}

/// The errors of one structured content (empty: valid).
fn errors(sc: &Value) -> Vec<String> {
    pollock()
        .iter_errors(sc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Every structured content in `records`, parsed.
fn structured(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r["event"]["type"] == "RichContentEvent")
        .filter_map(|r| serde_json::from_str(r["event"]["content"].as_str()?).ok())
        .collect()
}

fn to_lp(activities: &[Value]) -> Vec<Value> {
    format::to_liveperson(
        "c",
        activities,
        &Mapping::default(),
        &HubsterResume::default(),
    )
    .unwrap()
    .records
}

#[test]
fn the_validator_takes_json_pollocks_own_examples_and_refuses_what_it_should() {
    let dir = shared().join("fixtures/real-docs");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("lp-pollock-ex-") {
            let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            assert_eq!(errors(&v), Vec::<String>::new(), "{name}");
            n += 1;
        }
    }
    assert_eq!(n, 14);
    let card = |n: usize| json!({"type": "vertical", "elements": [{"type": "text", "text": n.to_string()}]});
    for bad in [
        json!({"type": "carousel", "elements": [card(1)]}),
        json!({"type": "carousel", "elements": (0..11).map(card).collect::<Vec<_>>()}),
        json!({"type": "button", "title": "x".repeat(129), "click": {"actions": []}}),
        json!({"type": "text", "text": "x".repeat(5001)}),
        json!({"type": "button", "title": "t", "click": {"actions": [{"type": "publishText", "text": "x".repeat(257)}]}}),
        json!({"type": "button", "title": "t", "click": {"actions": [{"type": "link", "uri": "not a url"}]}}),
        json!({"type": "image", "url": format!("https://x.com/{}", "a".repeat(2048))}),
        json!({"type": "vertical", "elements": (0..257).map(|i| json!({"type": "text", "text": i.to_string()})).collect::<Vec<_>>()}),
    ] {
        assert!(!errors(&bad).is_empty(), "refused: {bad:.200}");
    }
}

#[test]
fn structured_content_from_the_documented_hubster_examples_passes_the_schema() {
    let dir = shared().join("fixtures/real-docs");
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("hubster-") {
            continue;
        }
        let acts: Vec<Value> = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        for sc in structured(&to_lp(&acts)) {
            assert_eq!(errors(&sc), Vec::<String>::new(), "{name}: {sc}");
            checked += 1;
        }
    }
    assert!(checked >= 12, "{checked} structured contents");
}

#[test]
fn json_pollocks_element_examples_are_valid_and_what_they_become_written_back_is_too() {
    let examples = crate::visible::element_examples();
    assert!(examples.len() >= 20, "an example of each element");
    let mut written_back = 0;
    for (name, record) in &examples {
        let sc: Value = serde_json::from_str(record["event"]["content"].as_str().unwrap()).unwrap();
        assert_eq!(errors(&sc), Vec::<String>::new(), "{name}: {sc}");
        let id = record["dialogId"].as_str().unwrap();
        let text = serde_json::to_string(&[record]).unwrap();
        let recs: Vec<format::liveperson::Record> = serde_json::from_str(&text).unwrap();
        let map = Mapping::default();
        let out = format::to_hubster(id, &recs, &map, &LpResume::default()).unwrap();
        let acts = without_provenance(out.activities.iter().map(|a| a.to_value()).collect());
        for sc in structured(&to_lp(&acts)) {
            assert_eq!(
                errors(&sc),
                Vec::<String>::new(),
                "{name} written back: {sc}"
            );
            written_back += 1;
        }
    }
    assert!(
        written_back >= 15,
        "{written_back} written back as structured content"
    );
}

/// Hubster activities without what convsync's provenance carries: what a
/// hub keeping only documented properties gives back.
fn without_provenance(acts: Vec<Value>) -> Vec<Value> {
    acts.into_iter()
        .filter(|a| a["message"]["type"] != "payload" && a["type"] != "event")
        .map(|mut a| {
            if let Some(m) = a["message"].as_object_mut() {
                m.remove("channels");
            }
            a
        })
        .collect()
}

#[test]
fn structured_content_from_the_generators_corpus_passes_the_schema() {
    let mut buf = Vec::new();
    convsync::sim::generate::jsonl(11, 300, 12, &mut buf).unwrap();
    let mut checked = 0;
    for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let doc: Value = serde_json::from_slice(line).unwrap();
        let id = doc["conversationId"].as_str().unwrap();
        let text = doc["messageEventRecords"].to_string();
        let recs: Vec<format::liveperson::Record> = serde_json::from_str(&text).unwrap();
        let map = Mapping::default();
        let out = format::to_hubster(id, &recs, &map, &LpResume::default()).unwrap();
        let acts = without_provenance(out.activities.iter().map(|a| a.to_value()).collect());
        for sc in structured(&to_lp(&acts)) {
            assert_eq!(errors(&sc), Vec::<String>::new(), "{id}: {sc}");
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} structured contents");
}

fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z ]{0,20}",
        ".{0,60}",
        (1usize..7000).prop_map(|n| "ß".repeat(n)),
    ]
}

fn url_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "https://example\\.com/[a-z0-9/]{0,30}",
        Just("not a url".to_owned()),
        Just(String::new()),
        ".{0,40}",
        (1000usize..3000).prop_map(|n| format!("https://example.com/{}", "a".repeat(n))),
    ]
}

fn action_strategy() -> impl Strategy<Value = Value> {
    (0..3u8, text_strategy(), url_strategy(), text_strategy()).prop_map(
        |(k, title, url, payload)| match k {
            0 => json!({"type": "link", "title": title, "url": url}),
            1 => json!({"type": "reply", "title": title, "payload": payload}),
            _ => json!({"type": "postback", "title": title, "payload": payload}),
        },
    )
}

fn item_strategy() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(text_strategy()),
        proptest::option::of(text_strategy()),
        proptest::option::of(text_strategy()),
        proptest::option::of(url_strategy()),
        proptest::option::of(prop_oneof![Just("image"), Just("video"), Just("Image")]),
        proptest::collection::vec(action_strategy(), 0..6),
    )
        .prop_map(|(title, subtitle, content, url, url_type, actions)| {
            json!({"title": title, "subtitle": subtitle, "content": content, "url": url,
                "urlType": url_type, "actions": actions})
        })
}

fn message_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        (
            text_strategy(),
            proptest::collection::vec(item_strategy(), 0..3),
            proptest::collection::vec(action_strategy(), 0..6)
        )
            .prop_map(|(text, items, actions)| json!({"type": "text", "text": text, "items": items, "actions": actions})),
        item_strategy().prop_map(|mut i| {
            i["type"] = "card".into();
            i
        }),
        (
            proptest::collection::vec(item_strategy(), 0..14),
            proptest::collection::vec(action_strategy(), 0..3)
        )
            .prop_map(|(items, actions)| json!({"type": "carousel", "items": items, "actions": actions})),
        (1usize..320, text_strategy()).prop_map(|(n, t)| json!({"type": "list",
            "items": (0..n).map(|i| json!({"title": format!("{t}{i}")})).collect::<Vec<_>>()})),
        (
            proptest::option::of(text_strategy()),
            proptest::option::of(url_strategy()),
            proptest::collection::vec((text_strategy(), text_strategy()), 0..5)
        )
            .prop_map(|(title, image_url, props)| json!({"type": "contact", "title": title, "imageUrl": image_url,
                "properties": props.into_iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()})),
        (url_strategy(), proptest::option::of(text_strategy()), proptest::option::of(text_strategy()))
            .prop_map(|(url, alt, title)| json!({"type": "image", "url": url, "alt": alt, "title": title})),
        (0..5u8, url_strategy(), proptest::option::of(text_strategy())).prop_map(|(k, url, label)| {
            let t = ["attachment", "video", "audio", "youtube", "vimeo"][k as usize];
            json!({"type": t, "url": url, "label": label})
        }),
        (-90.0f64..90.0, -180.0f64..180.0, proptest::option::of(text_strategy()))
            .prop_map(|(la, lo, address)| json!({"type": "location", "latitude": la, "longitude": lo, "address": address})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn structured_content_from_any_hubster_message_passes_the_schema(message in message_strategy()) {
        let act = json!({"type": "message", "eventId": 1, "externalId": null,
            "sender": {"integrationId": "a", "integrationType": "Agent", "channelType": "Direct"},
            "message": message});
        for sc in structured(&to_lp(&[act])) {
            let e = errors(&sc);
            prop_assert!(e.is_empty(), "{:?}\n{:.600}", e, sc.to_string());
        }
    }
}
