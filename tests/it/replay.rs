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
    assert_eq!(
        Mapping::default().unsupported_events,
        UnsupportedEvents::Payload,
        "by default nothing unsupported is posted"
    );
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

/// A config for the daemon against `sim`.
fn config(dir: &std::path::Path, sim: &convsync::sim::Sim) -> std::path::PathBuf {
    let text = format!(
        "{}\n[sync]\nstate_dir = {:?}\npoll_interval_secs = 0.2\nmetrics_listen = \"127.0.0.1:0\"\nsince = \"2000-01-01\"\n",
        crate::support::platforms_toml(sim, sim),
        dir.join("state"),
    );
    let path = dir.join("convsync.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hub_bot_answering_replayed_history_is_foreign_never_a_delivery() {
    use crate::support::{command, convsync, expected_ledger, wait_for_answer};
    let sim = crate::support::sim(SimConfig {
        conversations: 10,
        messages: 6,
        growth: 0,
        age: std::time::Duration::from_secs(3600),
        hub_bot: true,
        strict: true,
        liveperson_strict: true,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &sim);
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let bot = sim.stats().bot_answers;
    assert!(bot > 0, "the bot answered");
    assert_eq!(
        sim.shared.ledger_external_ids(),
        expected_ledger(&sim, false)
    );
    assert_eq!(sim.stats().duplicate_deliveries, 0);

    // verify lists the bot's activities as foreign, not as differences.
    let out = convsync(&cfg, &["verify"]).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("foreign {bot}")), "{text}");
    assert!(text.contains("0 differences"), "{text}");
    assert!(text.contains("from Bot"), "{text}");

    // The store lost: the hub is read, and the bot's activities are
    // counted, never taken for what convsync sent.
    std::fs::remove_dir_all(dir.path().join("state")).unwrap();
    let mut child = command(Some(&cfg), &["run"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = dir.path().join("state");
    let metric = || async {
        let m = crate::support::endpoint_get(&state, "/metrics").await?;
        crate::support::metric(&m, "convsync_foreign_activities_total").filter(|&n| n >= bot as f64)
    };
    let seen = wait_for_answer(
        "the bot's activities counted as foreign",
        std::time::Duration::from_secs(60),
        metric,
    )
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(seen, bot as f64, "each counted once");
    assert_eq!(
        sim.shared.ledger_external_ids(),
        expected_ledger(&sim, false)
    );
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    sim.stop().await;
}

#[tokio::test]
async fn a_customers_structured_content_goes_as_its_text_which_a_customer_path_takes() {
    let rich = json!([{"sequence": 0, "dialogId": "c-card", "serverTimestamp": 1_700_000_000_000i64,
    "originatorMetadata": {"id": "consumer-1", "role": "CONSUMER"},
    "event": {"type": "RichContentEvent", "content": {"type": "vertical", "elements": [
        {"type": "text", "text": "Pick a size"},
        {"type": "button", "title": "Large", "click": {"actions": [{"type": "publishText", "text": "large"}]}},
        {"type": "button", "title": "Store", "click": {"actions": [{"type": "link", "name": "Store", "uri": "https://example.com/store"}]}}
    ]}}}]);
    let text = serde_json::to_string(&rich).unwrap();
    let parsed: Vec<Record> = serde_json::from_str(&text).unwrap();
    let map = Mapping::default();
    let out = convsync::format::to_hubster("c-card", &parsed, &map, &LpResume::default()).unwrap();
    assert_eq!(out.report.warnings.get("customer_card_as_text"), Some(&1));
    let act = out.activities[0].to_value();
    assert_eq!(act["message"]["type"], "text", "{act}");
    let said = act["message"]["text"].as_str().unwrap();
    for seen in ["Pick a size", "Large", "Store", "https://example.com/store"] {
        assert!(said.contains(seen), "{seen} in {said:?}");
    }
    let card = json!({"externalId": "x-card", "type": "message",
        "message": {"type": "card", "title": "Pick a size"}});
    for refuse in [false, true] {
        let sim = crate::support::sim(SimConfig {
            conversations: 0,
            strict: true,
            refuse_customer_cards: refuse,
            ..SimConfig::default()
        })
        .await;
        let customer = map.integrations.customer.integration_id.clone();
        let (id, _) = sim.shared.hub.lock().unwrap().establish("b", &customer);
        let body = convsync::platform::hubster::inbound_body(
            &act,
            convsync::platform::hubster::Side::Customer,
            Default::default(),
        );
        let (got, answer) = crate::support::post_inbound(&sim, &id, "customer", &body).await;
        assert_eq!(got, 200, "the text is taken: {answer}");
        let (got, answer) = crate::support::post_inbound(&sim, &id, "customer", &card).await;
        assert_eq!(got, if refuse { 400 } else { 200 }, "{answer}");
        sim.stop().await;
    }
}
