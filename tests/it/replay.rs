//! Replaying history into a hub: what Hubster does not document as
//! supported is never posted, and what a hub's own integrations add to a
//! conversation is told apart from what convsync posted.

use convsync::format::liveperson::Record;
use convsync::format::{LpResume, Mapping, UnsupportedEvents};
use convsync::sim::SimConfig;
use serde_json::{Value, json};

/// A conversation with a typing indicator between two messages.
fn records() -> Vec<Value> {
    let rec = |seq: i64, ev: Value| {
        json!({"sequence": seq, "dialogId": "c-typing", "serverTimestamp": 1_700_000_000_000i64 + seq * 1000,
            "originatorMetadata": {"id": "consumer-1", "role": "CONSUMER"}, "event": ev})
    };
    vec![
        rec(
            0,
            json!({"type": "ContentEvent", "contentType": "text/plain", "message": "hello"}),
        ),
        rec(
            1,
            json!({"type": "ChatStateEvent", "chatState": "COMPOSING"}),
        ),
        rec(
            2,
            json!({"type": "ContentEvent", "contentType": "text/plain", "message": "are you there?"}),
        ),
    ]
}

fn convert(mode: UnsupportedEvents) -> (Vec<Value>, u64) {
    let map = Mapping {
        unsupported_events: mode,
        ..Mapping::default()
    };
    let text = serde_json::to_string(&records()).unwrap();
    let parsed: Vec<Record> = serde_json::from_str(&text).unwrap();
    let out =
        convsync::format::to_hubster("c-typing", &parsed, &map, &LpResume::default()).unwrap();
    let warned = out
        .report
        .warnings
        .get("unsupported_event")
        .copied()
        .unwrap_or(0);
    (
        out.activities.iter().map(|a| a.to_value()).collect(),
        warned,
    )
}

#[tokio::test]
async fn a_typing_indicator_is_never_posted_as_an_unsupported_event_unless_asked() {
    let sim = crate::support::sim(SimConfig {
        conversations: 0,
        strict: true,
        ..SimConfig::default()
    })
    .await;
    let customer = Mapping::default().integrations.customer.integration_id;
    for (mode, events, posted) in [
        // Carried as a payload event: three activities, all taken.
        (UnsupportedEvents::Payload, vec!["payload"], 200),
        // Left out: two messages.
        (UnsupportedEvents::Skip, vec![], 200),
        // Posted as Hubster's typing_on: a strict engine refuses it.
        (UnsupportedEvents::Post, vec!["typing_on"], 400),
    ] {
        let (acts, warned) = convert(mode);
        assert_eq!(warned, 1, "{mode:?}: counted and reported");
        let kinds: Vec<&str> = acts
            .iter()
            .filter_map(|a| a["event"]["type"].as_str())
            .collect();
        assert_eq!(kinds, events, "{mode:?}");
        let (id, _) = sim
            .shared
            .hub
            .lock()
            .unwrap()
            .establish(&format!("b-{mode:?}"), &customer);
        for a in &acts {
            let body = convsync::platform::hubster::inbound_body(
                a,
                convsync::platform::hubster::Side::Customer,
                Default::default(),
            );
            let (got, answer) = crate::support::post_inbound(&sim, &id, "customer", &body).await;
            let want = if a["type"] == "event" { posted } else { 200 };
            assert_eq!(got, want, "{mode:?}: {answer}");
            if got == 400 {
                assert!(answer.to_string().contains("ENG005004"), "{answer}");
            }
        }
    }
    sim.stop().await;
}
