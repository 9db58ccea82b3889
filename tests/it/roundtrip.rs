//! Property tests of the conversion contract over generated conversations.

use crate::support::canon;
use convsync::format::Mapping;
use convsync::format::{self, HubsterResume, LpResume, liveperson::Record};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashSet};

const CONV: &str = "c0nv-1d";

/// Any JSON value, small.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Unknown fields: keys that no format uses.
fn extras() -> impl Strategy<Value = Option<Map<String, Value>>> {
    prop::option::weighted(
        0.2,
        prop::collection::btree_map("x_[a-z]{1,5}", any_json(), 1..3)
            .prop_map(|m| m.into_iter().collect()),
    )
}

/// Text with unicode, emoji, quotes and escapes.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        Just("😀👍🏽 emoji ✨".to_owned()),
        Just("quote \" backslash \\ newline \n tab \t".to_owned()),
        Just(String::new()),
    ]
}

#[derive(Debug, Clone)]
enum Kind {
    Text(String),
    TextNotString(Value),
    File {
        caption: Option<String>,
        ext: &'static str,
        preview: bool,
        extra: Option<Map<String, Value>>,
    },
    Invitation(String),
    Submission,
    Rich(Value),
    RichObject(Value),
    RichBroken(String),
    OtherContentType(String, Value),
    Accept {
        status: &'static str,
        back: Vec<usize>,
    },
    OtherEvent {
        sequenced: bool,
        body: Value,
    },
}

fn rich_json() -> impl Strategy<Value = Value> {
    let el = prop_oneof![
        text().prop_map(|t| json!({"type": "text", "text": t})),
        Just(json!({"type": "image", "url": "https://x/y.png"})),
        text().prop_map(|t| json!({"type": "button", "title": t, "click": {"actions": [{"type": "publishText", "text": "y"}]}})),
        Just(json!({"type": "button", "title": "Go", "click": {"actions": [{"type": "link", "uri": "https://x"}]}})),
        Just(json!({"type": "map", "la": 1.5, "lo": 2.5})),
    ];
    (
        prop_oneof![
            Just("vertical"),
            Just("horizontal"),
            Just("carousel"),
            Just("weird")
        ],
        prop::collection::vec(el, 0..4),
    )
        .prop_map(|(t, els)| {
            if t == "carousel" {
                json!({"type": t, "elements": [{"type": "vertical", "elements": els}]})
            } else {
                json!({"type": t, "elements": els})
            }
        })
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        6 => text().prop_map(Kind::Text),
        1 => any_json().prop_filter("not a string", |v| !v.is_string()).prop_map(Kind::TextNotString),
        2 => (prop::option::of(text()), prop_oneof![Just("JPG"), Just("PNG"), Just("GIF"), Just("PDF"), Just("TXT"), Just("xyz")], any::<bool>(), extras())
            .prop_map(|(caption, ext, preview, extra)| Kind::File { caption, ext, preview, extra }),
        1 => text().prop_map(Kind::Invitation),
        1 => Just(Kind::Submission),
        2 => rich_json().prop_map(Kind::Rich),
        1 => rich_json().prop_map(Kind::RichObject),
        1 => "\\{[a-z]{0,5}".prop_map(Kind::RichBroken),
        1 => ("[a-z]{1,5}/[a-z]{1,5}", any_json()).prop_map(|(c, m)| Kind::OtherContentType(c, m)),
        3 => (prop_oneof![Just("ACCEPT"), Just("READ")], prop::collection::vec(0usize..50, 0..3))
            .prop_map(|(status, back)| Kind::Accept { status, back }),
        1 => (any::<bool>(), any_json()).prop_map(|(sequenced, body)| Kind::OtherEvent { sequenced, body }),
    ]
}

#[derive(Debug, Clone)]
struct Spec {
    kind: Kind,
    role: usize,
    dialog: usize,
    ts_delta: i64,
    has_ts: bool,
    om: usize,
    extra: Option<Map<String, Value>>,
    event_extra: Option<Map<String, Value>>,
    duplicate: bool,
}

const ROLES: &[&str] = &[
    "CONSUMER",
    "AGENT",
    "ASSIGNED_AGENT",
    "MANAGER",
    "READER",
    "CONTROLLER",
    "consumer",
    "SURVEYOR",
];

fn spec() -> impl Strategy<Value = Spec> {
    (
        kind(),
        0..ROLES.len(),
        prop_oneof![6 => Just(0usize), 1 => Just(1), 1 => Just(2)],
        prop_oneof![Just(0i64), -5_000i64..60_000],
        prop::bool::weighted(0.95),
        prop_oneof![8 => Just(0usize), 1 => Just(1), 1 => Just(2), 1 => Just(3)],
        extras(),
        extras(),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(kind, role, dialog, ts_delta, has_ts, om, extra, event_extra, duplicate)| Spec {
                kind,
                role,
                dialog,
                ts_delta,
                has_ts,
                om,
                extra,
                event_extra,
                duplicate,
            },
        )
}

/// Builds the records a spec list describes: unique sequences per dialog,
/// duplicates as exact copies, shuffled by `rotate`.
fn build(specs: &[Spec], rotate: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut ts = 1_600_000_000_000i64;
    let mut next_seq = [0i64; 2];
    for (n, s) in specs.iter().enumerate() {
        ts += s.ts_delta;
        let dialog = [CONV, "survey-dialog", ""][s.dialog];
        let originator = format!("orig-{}", s.role % 3);
        let mut event = match &s.kind {
            Kind::Text(t) => {
                json!({"type": "ContentEvent", "contentType": "text/plain", "message": t})
            }
            Kind::TextNotString(v) => {
                json!({"type": "ContentEvent", "contentType": "text/plain", "message": v})
            }
            Kind::File {
                caption,
                ext,
                preview,
                extra,
            } => {
                let mut m = Map::new();
                if let Some(c) = caption {
                    m.insert("caption".into(), c.clone().into());
                }
                m.insert("relativePath".into(), format!("/v1/files/{n}.{ext}").into());
                m.insert("fileType".into(), (*ext).into());
                if *preview {
                    m.insert("preview".into(), "data:image/jpeg;base64,/9j/AAAA".into());
                }
                if let Some(x) = extra {
                    m.extend(x.clone());
                }
                json!({"type": "ContentEvent", "contentType": "hosted/file", "message": m})
            }
            Kind::Invitation(title) => {
                json!({"type": "ContentEvent", "contentType": "forms/secure-invitation",
                "message": {"invitationId": format!("inv-{n}"), "title": title}})
            }
            Kind::Submission => {
                json!({"type": "ContentEvent", "contentType": "forms/secure-submission",
                "message": {"invitationId": format!("inv-{n}")}})
            }
            Kind::Rich(v) => json!({"type": "RichContentEvent", "content": v.to_string()}),
            Kind::RichObject(v) => json!({"type": "RichContentEvent", "content": v}),
            Kind::RichBroken(t) => json!({"type": "RichContentEvent", "content": t}),
            Kind::OtherContentType(ct, m) => {
                json!({"type": "ContentEvent", "contentType": ct, "message": m})
            }
            Kind::Accept { status, back } => {
                json!({"type": "AcceptStatusEvent", "status": status, "sequenceList": back.iter().map(|b| (*b as i64) % (next_seq[0] + 1)).collect::<Vec<_>>()})
            }
            Kind::OtherEvent { body, .. } => {
                json!({"type": format!("Event{}", n % 3), "body": body})
            }
        };
        if let Some(x) = &s.event_extra {
            event.as_object_mut().unwrap().extend(x.clone());
        }
        let mut rec = Map::new();
        let sequenced = match &s.kind {
            Kind::Accept { .. } => false,
            Kind::OtherEvent { sequenced, .. } => *sequenced,
            _ => true,
        };
        if sequenced {
            // A record without a dialogId belongs to the main dialog (the conversation id).
            let counter = if s.dialog == 1 { 1 } else { 0 };
            rec.insert("sequence".into(), next_seq[counter].into());
            next_seq[counter] += 1;
        }
        if !dialog.is_empty() {
            rec.insert("dialogId".into(), dialog.into());
        }
        rec.insert("originatorId".into(), originator.clone().into());
        // Accept statuses are identified by (dialog, originator, status, list,
        // timestamp): give each its own timestamp so distinct ones stay distinct.
        if s.has_ts || matches!(s.kind, Kind::Accept { .. }) {
            rec.insert(
                "serverTimestamp".into(),
                (ts + n as i64 * 1_000_000_000).into(),
            );
        }
        match s.om {
            0 => {
                rec.insert(
                    "originatorMetadata".into(),
                    json!({"id": originator, "role": ROLES[s.role]}),
                );
            }
            1 => {}
            2 => {
                rec.insert(
                    "originatorMetadata".into(),
                    json!({"id": "someone-else", "role": ROLES[s.role]}),
                );
            }
            _ => {
                rec.insert(
                    "originatorMetadata".into(),
                    json!({"id": originator, "role": ROLES[s.role], "x_more": [1, "two"]}),
                );
            }
        }
        rec.insert("event".into(), event);
        if let Some(x) = &s.extra {
            rec.extend(x.clone());
        }
        let rec = Value::Object(rec);
        if s.duplicate {
            out.push(rec.clone());
        }
        out.push(rec);
    }
    let len = out.len().max(1);
    out.rotate_left(rotate % len);
    out
}

fn parse_records(text: &str) -> Vec<Record<'_>> {
    serde_json::from_str(text).expect("generated records parse")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn liveperson_hubster_liveperson_gives_back_the_same_records(specs in prop::collection::vec(spec(), 0..30), rotate in 0usize..40) {
        let input = build(&specs, rotate);
        let text = serde_json::to_string(&input).unwrap();
        let records = parse_records(&text);
        let map = Mapping::default();
        let out = format::to_hubster(CONV, &records, &map, &LpResume::default()).unwrap();

        // eventIds strictly increase; externalIds unique; interactionIds on messages only.
        let acts: Vec<Value> = out.activities.iter().map(|a| a.to_value()).collect();
        let ids: Vec<i64> = acts.iter().map(|a| a["eventId"].as_i64().unwrap()).collect();
        prop_assert!(ids.windows(2).all(|w| w[0] < w[1]), "eventIds {:?}", ids);
        let ext: HashSet<&str> = acts.iter().map(|a| a["externalId"].as_str().unwrap()).collect();
        prop_assert_eq!(ext.len(), acts.len());
        for a in &acts {
            prop_assert_eq!(a.get("interactionId").is_some(), a["type"] == "message");
        }

        // The distinct input records, exactly.
        let distinct: BTreeSet<String> = input.iter().map(canon).collect();
        prop_assert_eq!(acts.len(), distinct.len());
        let back = format::to_liveperson("other-id", &acts, &map, &HubsterResume::default()).unwrap();
        let got: BTreeSet<String> = back.records.iter().map(canon).collect();
        prop_assert_eq!(got, distinct);
        prop_assert_eq!(back.records.len(), acts.len());
    }

    #[test]
    fn resuming_converts_only_what_is_new_and_keeps_event_ids_rising(specs in prop::collection::vec(spec(), 1..30), cut in 0usize..30) {
        let input = build(&specs, 0);
        let text = serde_json::to_string(&input).unwrap();
        let records = parse_records(&text);
        let map = Mapping::default();
        let all = format::to_hubster(CONV, &records, &map, &LpResume::default()).unwrap();
        let cut = cut.min(all.activities.len());
        let mut resume = LpResume::default();
        for (a, m) in all.activities.iter().zip(&all.marks).take(cut) {
            resume.mark(m, a.event_id());
        }
        let rest = format::to_hubster(CONV, &records, &map, &resume).unwrap();
        prop_assert_eq!(rest.activities.len(), all.activities.len() - cut);
        prop_assert_eq!(rest.report.already_delivered as usize, cut);
        let first: BTreeSet<String> = all.activities[..cut].iter().map(|a| a.external_id().unwrap().to_owned()).collect();
        let mut prev = resume.last_event_id;
        for a in &rest.activities {
            prop_assert!(!first.contains(a.external_id().unwrap()), "delivered twice: {:?}", a.external_id());
            let e = a.event_id().unwrap();
            prop_assert!(prev.is_none_or(|p| e > p), "eventId {} not above {:?}", e, prev);
            prev = Some(e);
        }
    }

    #[test]
    fn a_whole_conversion_resumed_is_the_resumed_conversion(specs in prop::collection::vec(spec(), 1..30), picks in prop::collection::vec(any::<bool>(), 30)) {
        // Any delivered subset (not only a prefix: late records land between).
        use convsync::sync::pipeline::plan::Converted;
        let input = build(&specs, 0);
        let map = Mapping::default();
        let all = Converted::of(CONV, &input, &map, &LpResume::default()).unwrap();
        let mut resume = LpResume::default();
        for ((a, m), pick) in all.activities.iter().zip(&all.marks).zip(&picks) {
            if *pick {
                resume.mark(&m.as_mark(), a["eventId"].as_i64());
            }
        }
        let converted = Converted::of(CONV, &input, &map, &resume).unwrap();
        let resumed = all.after(&resume);
        prop_assert_eq!(&resumed.activities, &converted.activities);
        prop_assert_eq!(&resumed.marks, &converted.marks);
        prop_assert_eq!(resumed.report.already_delivered, converted.report.already_delivered);
    }
}

// ---- Hubster -> LivePerson -> Hubster ----

fn sender(t: &str) -> Value {
    json!({"integrationId": format!("int-{}", t.to_lowercase()), "integrationType": t, "channelType": "WebChat", "tokenId": "tok"})
}

fn action() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(|t| json!({"type": "postback", "title": t, "payload": "p"})),
        text().prop_map(|t| json!({"type": "reply", "title": t, "payload": "r"})),
        Just(json!({"type": "link", "title": "Site", "url": "https://example.com"})),
    ]
}

fn item() -> impl Strategy<Value = Value> {
    (text(), text(), prop::collection::vec(action(), 0..2)).prop_map(|(t, s, a)| {
        json!({"title": t, "subtitle": s, "content": "c", "urlType": "Image", "url": "https://x/i.png", "fallbackImageUrl": "https://x/f.png", "actions": a})
    })
}

fn message() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => text().prop_map(|t| json!({"type": "text", "text": t})),
        1 => (text(), prop::collection::vec(action(), 1..3)).prop_map(|(t, a)| json!({"type": "text", "text": t, "actions": a})),
        1 => text().prop_map(|t| json!({"type": "image", "url": "https://x/a.png", "alt": t, "title": "t", "urlAnchor": "https://x"})),
        1 => text().prop_map(|t| json!({"type": "attachment", "label": t, "mimeType": "application/pdf", "url": "https://x/a.pdf", "size": 1234})),
        1 => item().prop_map(|i| { let mut m = i; m["type"] = "card".into(); m.as_object_mut().unwrap().remove("actions"); m }),
        1 => prop::collection::vec(item(), 1..3).prop_map(|items| json!({"type": "carousel", "items": items})),
        1 => (prop::collection::vec(item(), 1..3), prop::collection::vec(action(), 0..2)).prop_map(|(items, a)| json!({"type": "list", "items": items, "actions": a})),
        1 => (-90.0f64..90.0, -180.0f64..180.0, text()).prop_map(|(la, lo, a)| json!({"type": "location", "latitude": la, "longitude": lo, "address": a})),
        1 => text().prop_map(|t| json!({"type": "location", "address": t})),
        1 => Just(json!({"type": "video", "url": "https://x/v.mp4", "label": "v", "mimeType": "video/mp4"})),
        1 => Just(json!({"type": "contact", "title": "Ann", "subtitle": "S", "imageUrl": "https://x/p.png", "properties": [{"key": "phone", "value": "1", "type": "phone"}]})),
        1 => any_json().prop_map(|v| json!({"type": "hologram", "data": v})),
    ]
}

fn activity() -> impl Strategy<Value = Value> {
    let body = prop_oneof![
        5 => message().prop_map(|m| ("message", m)),
        1 => ("[a-z]{1,8}", any_json()).prop_map(|(t, p)| ("event", json!({"type": "payload", "payloadType": format!("app.{t}"), "payload": p}))),
    ];
    (
        body,
        prop_oneof![Just("Customer"), Just("Agent"), Just("Bot")],
        prop::option::of("[a-z0-9_]{1,12}"),
        extras(),
        1i64..100_000,
    )
        .prop_map(|((kind, body), side, external, extra, gap)| {
            let mut a = json!({
                "type": kind,
                "eventTrigger": format!("{kind}:{}", side.to_lowercase()),
                "eventId": gap,
                "externalId": external,
                "isEcho": false,
                "flowProcess": "Default",
                "sender": sender(side),
                "recipient": sender(if side == "Customer" { "Agent" } else { "Customer" }),
            });
            if kind == "message" {
                a["interactionId"] = format!("iid-{gap}").into();
            }
            a[kind] = body;
            if let Some(x) = extra {
                a.as_object_mut().unwrap().extend(x);
            }
            a
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn hubster_liveperson_hubster_gives_back_the_same_activities(mut acts in prop::collection::vec(activity(), 0..25), rotate in 0usize..30) {
        // Distinct eventIds: the generated gaps, accumulated.
        let mut t = 1_600_000_000_000i64;
        for a in acts.iter_mut() {
            t += a["eventId"].as_i64().unwrap();
            a["eventId"] = t.into();
        }
        let expected = acts.clone();
        let len = acts.len().max(1);
        acts.rotate_left(rotate % len);
        let map = Mapping::default();
        let lp = format::to_liveperson(CONV, &acts, &map, &HubsterResume::default()).unwrap();
        prop_assert_eq!(lp.records.len(), acts.len());
        let seqs: Vec<i64> = lp.records.iter().map(|r| r["sequence"].as_i64().unwrap()).collect();
        prop_assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        let text = serde_json::to_string(&lp.records).unwrap();
        let records = parse_records(&text);
        let back = format::to_hubster(CONV, &records, &map, &LpResume::default()).unwrap();
        let back: Vec<Value> = back.activities.iter().map(|a| a.to_value()).collect();
        prop_assert_eq!(back, expected);
    }
}

// ---- Never a panic, whatever the JSON ----

fn vocab_object(depth: u32) -> BoxedStrategy<Value> {
    const KEYS: &[&str] = &[
        "sequence",
        "dialogId",
        "originatorId",
        "serverTimestamp",
        "originatorMetadata",
        "event",
        "type",
        "contentType",
        "message",
        "content",
        "status",
        "sequenceList",
        "role",
        "id",
        "caption",
        "relativePath",
        "fileType",
        "preview",
        "invitationId",
        "title",
        "elements",
        "text",
        "channels",
        "metadata",
        "key",
        "value",
        "payloadType",
        "payload",
        "sender",
        "integrationType",
        "integrationId",
        "eventId",
        "externalId",
        "interactionId",
        "hubsterActivity",
        "items",
        "actions",
        "url",
        "latitude",
        "longitude",
    ];
    let value = if depth == 0 {
        any_json().boxed()
    } else {
        prop_oneof![
            3 => any_json(),
            2 => vocab_object(depth - 1),
            1 => prop::collection::vec(vocab_object(depth - 1), 0..3).prop_map(Value::Array),
            1 => prop::sample::select(vec!["ContentEvent", "RichContentEvent", "AcceptStatusEvent", "text/plain", "hosted/file",
                "forms/secure-invitation", "forms/secure-submission", "hubster/activity", "LivePerson", "message", "event", "payload",
                "liveperson.accept-status", "liveperson.content", "liveperson.event", "liveperson.rich-content",
                "liveperson.secure-form-submission", "Customer", "Agent", "Bot", "System", "seen", "typing_on", "text", "card",
                "vertical", "carousel", "", "\"{\\\"type\\\":\\\"vertical\\\"}\""]).prop_map(Value::from),
        ]
        .boxed()
    };
    prop::collection::vec((prop::sample::select(KEYS), value), 0..8)
        .prop_map(|kvs| Value::Object(kvs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_records_give_an_error_or_a_conversion_never_a_panic(items in prop::collection::vec(prop_oneof![4 => vocab_object(3), 1 => any_json()], 0..8)) {
        let text = Value::Array(items.clone()).to_string();
        let map = Mapping { unknown_role: convsync::format::UnknownRole::Error, ..Mapping::default() };
        if let Ok(records) = serde_json::from_str::<Vec<Record>>(&text) {
            for m in [&Mapping::default(), &map] {
                if let Ok(out) = format::to_hubster(CONV, &records, m, &LpResume::default()) {
                    let acts: Vec<Value> = out.activities.iter().map(|a| a.to_value()).collect();
                    let _ = format::to_liveperson(CONV, &acts, m, &HubsterResume::default());
                }
            }
        }
        // The same values as activities.
        let _ = format::to_liveperson(CONV, &items, &Mapping::default(), &HubsterResume::default());
        let dropping = Mapping { drop_unmapped: true, ..Mapping::default() };
        let _ = format::to_liveperson(CONV, &items, &dropping, &HubsterResume::default());
    }
}

#[test]
fn duplicated_records_are_dropped_and_counted() {
    let rec = json!({"sequence": 1, "dialogId": CONV, "originatorId": "a", "serverTimestamp": 5,
        "originatorMetadata": {"id": "a", "role": "CONSUMER"}, "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}});
    let text = json!([rec, rec]).to_string();
    let records = parse_records(&text);
    let map = Mapping::default();
    let out = format::to_hubster(CONV, &records, &map, &LpResume::default()).unwrap();
    assert_eq!(out.activities.len(), 1);
    assert_eq!(out.report.duplicates, 1);
}

#[test]
fn customer_recipient_is_the_latest_agent_or_bot_before_it() {
    let mk = |seq: i64, role: &str| {
        json!({"sequence": seq, "dialogId": CONV, "originatorId": role, "serverTimestamp": 10 + seq,
        "originatorMetadata": {"id": role, "role": role}, "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "m"}})
    };
    let text = json!([
        mk(0, "CONSUMER"),
        mk(1, "CONTROLLER"),
        mk(2, "CONSUMER"),
        mk(3, "AGENT"),
        mk(4, "CONSUMER")
    ])
    .to_string();
    let records = parse_records(&text);
    let map = Mapping::default();
    let out = format::to_hubster(CONV, &records, &map, &LpResume::default()).unwrap();
    let recips: Vec<Value> = out
        .activities
        .iter()
        .map(|a| a.to_value()["recipient"]["integrationType"].clone())
        .collect();
    assert_eq!(
        recips,
        vec![
            json!("Agent"),
            json!("Customer"),
            json!("Bot"),
            json!("Customer"),
            json!("Agent")
        ]
    );
    assert_eq!(out.activities[1].to_value()["sender"]["channelType"], "Bot");
}

#[test]
fn unknown_role_policies() {
    let rec = json!([{"sequence": 0, "dialogId": CONV, "originatorId": "s", "originatorMetadata": {"id": "s", "role": "SURVEYOR"},
        "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "m"}}])
    .to_string();
    let records = parse_records(&rec);
    use convsync::format::UnknownRole;
    let map = Mapping::default();
    let agent = format::to_hubster(CONV, &records, &map, &LpResume::default()).unwrap();
    assert_eq!(
        agent.activities[0].to_value()["sender"]["integrationType"],
        "Agent"
    );
    assert_eq!(agent.report.warnings["unknown_role"], 1);
    let skip = Mapping {
        unknown_role: UnknownRole::Skip,
        ..Mapping::default()
    };
    let skipped = format::to_hubster(CONV, &records, &skip, &LpResume::default()).unwrap();
    assert!(skipped.activities.is_empty());
    assert_eq!(skipped.report.warnings["skipped_role"], 1);
    let error = Mapping {
        unknown_role: UnknownRole::Error,
        ..Mapping::default()
    };
    let err = format::to_hubster(CONV, &records, &error, &LpResume::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(CONV) && err.contains("SURVEYOR") && err.contains("record c0nv-1d/0"),
        "{err}"
    );
    let bots = Mapping {
        bot_originators: vec!["s".into()],
        ..Mapping::default()
    };
    let bot = format::to_hubster(CONV, &records, &bots, &LpResume::default()).unwrap();
    assert_eq!(
        bot.activities[0].to_value()["sender"]["integrationType"],
        "Bot"
    );
}

#[test]
fn typing_is_a_chat_state_and_seen_becomes_read_of_the_other_sides_messages() {
    let acts = json!([
        {"type": "message", "eventId": 1, "sender": sender("Agent"), "message": {"type": "text", "text": "a"}},
        {"type": "message", "eventId": 2, "sender": sender("Agent"), "message": {"type": "text", "text": "b"}},
        {"type": "event", "eventId": 3, "sender": sender("Customer"), "event": {"type": "typing_on"}},
        {"type": "message", "eventId": 4, "sender": sender("Customer"), "message": {"type": "text", "text": "c"}},
        {"type": "event", "eventId": 5, "sender": sender("Customer"), "event": {"type": "seen"}},
        {"type": "event", "eventId": 6, "sender": sender("System"), "event": {"type": "seen"}},
    ]);
    let out = format::to_liveperson(
        CONV,
        acts.as_array().unwrap(),
        &Mapping::default(),
        &HubsterResume::default(),
    )
    .unwrap();
    assert_eq!(out.records.len(), 5);
    // Typing is LivePerson's chat state COMPOSING, with no sequence.
    assert_eq!(
        out.records[2]["event"],
        json!({"type": "ChatStateEvent", "chatState": "COMPOSING"})
    );
    assert!(out.records[2].get("sequence").is_none());
    assert_eq!(out.records[3]["sequence"], 2);
    assert_eq!(out.records[4]["event"]["status"], "READ");
    assert_eq!(out.records[4]["event"]["sequenceList"], json!([0, 1]));
    assert!(!out.report.warnings.contains_key("dropped_typing"));
    assert_eq!(out.report.warnings["skipped_sender"], 1);
    // And back: typing, with the record it came from.
    let text = serde_json::to_string(&out.records).unwrap();
    let recs: Vec<format::liveperson::Record> = serde_json::from_str(&text).unwrap();
    let map = Mapping::default();
    let back = format::to_hubster(CONV, &recs, &map, &LpResume::default()).unwrap();
    let typing: Vec<Value> = back
        .activities
        .iter()
        .map(|a| a.to_value())
        .filter(|a| a["type"] == "event" && a["event"]["type"] == "typing_on")
        .collect();
    assert_eq!(typing.len(), 1, "{typing:?}");
    assert_eq!(typing[0]["eventId"], 3);
}

#[test]
fn hubster_resume_skips_delivered_and_continues_sequences() {
    let acts: Vec<Value> = (0..6)
        .map(|i| json!({"type": "message", "eventId": 100 + i / 2, "externalId": format!("e{i}"), "sender": sender("Agent"), "message": {"type": "text", "text": i.to_string()}}))
        .collect();
    let map = Mapping::default();
    let first = format::to_liveperson(CONV, &acts[..3], &map, &HubsterResume::default()).unwrap();
    assert_eq!(first.records.len(), 3);
    // Everything again (leid inclusive): only the new ones come out.
    let second = format::to_liveperson(CONV, &acts, &map, &first.resume).unwrap();
    let texts: Vec<&str> = second
        .records
        .iter()
        .map(|r| r["event"]["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["3", "4", "5"]);
    let seqs: Vec<i64> = second
        .records
        .iter()
        .map(|r| r["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert_eq!(second.report.already_delivered, 3);
}

#[test]
fn drop_unmapped_drops_and_counts() {
    let acts = json!([{"type": "message", "eventId": 1, "sender": sender("Agent"), "message": {"type": "hologram"}}]);
    let map = Mapping {
        drop_unmapped: true,
        ..Mapping::default()
    };
    let out = format::to_liveperson(
        CONV,
        acts.as_array().unwrap(),
        &map,
        &HubsterResume::default(),
    )
    .unwrap();
    assert!(out.records.is_empty());
    assert_eq!(out.report.warnings["dropped_unmapped"], 1);
    let kept = format::to_liveperson(
        CONV,
        acts.as_array().unwrap(),
        &Mapping::default(),
        &HubsterResume::default(),
    )
    .unwrap();
    assert_eq!(kept.records[0]["event"]["contentType"], "hubster/activity");
    assert_eq!(kept.records[0]["event"]["message"], acts[0]);
}

#[test]
fn keep_previews_false_drops_the_preview_and_says_so() {
    let text = json!([{"sequence": 0, "dialogId": CONV, "originatorMetadata": {"role": "AGENT"}, "event": {"type": "ContentEvent", "contentType": "hosted/file",
        "message": {"caption": "c", "relativePath": "/a/b.pdf", "fileType": "PDF", "preview": "data:x"}}}])
    .to_string();
    let records = parse_records(&text);
    let map = Mapping {
        keep_previews: false,
        file_base_url: "https://files.example".into(),
        ..Mapping::default()
    };
    let out = format::to_hubster(CONV, &records, &map, &LpResume::default()).unwrap();
    let a = out.activities[0].to_value();
    assert_eq!(a["message"]["type"], "attachment");
    assert_eq!(a["message"]["url"], "https://files.example/a/b.pdf");
    assert_eq!(a["message"]["mimeType"], "application/pdf");
    assert_eq!(a["message"]["label"], "c");
    assert!(!a.to_string().contains("data:x"));
    assert_eq!(out.report.warnings["dropped_preview"], 1);
}

#[test]
fn output_is_byte_identical_for_the_same_input() {
    let specs_text = {
        let mut out = Vec::new();
        convsync::sim::generate::jsonl(3, 5, 15, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let map = Mapping::default();
    let run = || -> String {
        specs_text
            .lines()
            .map(|l| {
                let line: format::liveperson::ConversationLine = serde_json::from_str(l).unwrap();
                let id = line.conversation_id.as_ref().unwrap().as_str().to_owned();
                let out =
                    format::to_hubster(&id, &line.records, &map, &LpResume::default()).unwrap();
                serde_json::to_string(&out.activities).unwrap()
            })
            .collect()
    };
    assert_eq!(run(), run());
}

#[test]
fn an_activity_without_event_id_goes_last_and_does_not_stop_later_ones() {
    let acts = json!([
        {"type": "message", "externalId": "undated", "sender": sender("Agent"), "message": {"type": "text", "text": "u"}},
        {"type": "message", "eventId": 5, "externalId": "a", "sender": sender("Agent"), "message": {"type": "text", "text": "a"}},
    ]);
    let map = Mapping::default();
    let first = format::to_liveperson(
        CONV,
        acts.as_array().unwrap(),
        &map,
        &HubsterResume::default(),
    )
    .unwrap();
    let texts: Vec<&str> = first
        .records
        .iter()
        .map(|r| r["event"]["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["a", "u"]);
    assert!(first.records[1].get("serverTimestamp").is_none());
    assert_eq!(first.resume.last_event_id, Some(5));
    // A later activity still comes through; the undated one is not repeated.
    let mut more = acts.as_array().unwrap().clone();
    more.push(json!({"type": "message", "eventId": 9, "externalId": "b", "sender": sender("Agent"), "message": {"type": "text", "text": "b"}}));
    let second = format::to_liveperson(CONV, &more, &map, &first.resume).unwrap();
    let texts: Vec<&str> = second
        .records
        .iter()
        .map(|r| r["event"]["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["b"]);
}
