//! The one-conversation pipeline against the simulator and a real store:
//! everything arrives once, growth arrives, interrupted runs recover.

use convsync::format::Mapping;
use convsync::format::{self, LpResume, liveperson::Record};
use convsync::http::pace::Setting;
use convsync::http::{HttpConfig, Metrics};
use convsync::platform::hubster::{HubsterClient, HubsterConfig};
use convsync::platform::liveperson::{LivePersonClient, LivePersonConfig, LpAuth};
use convsync::platform::secret::SecretSource;
use convsync::sim::{Sim, SimConfig};
use convsync::store::{Intent, Store, StoredMark};
use convsync::sync::pipeline::{self, PipelineError, Sink};
use serde_json::Value;
use std::collections::BTreeMap;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

struct Setup {
    sim: Sim,
    lp: pipeline::Source,
    hub: Arc<HubsterClient>,
    store: Arc<Store>,
    mapping: Arc<Mapping>,
    _dir: tempfile::TempDir,
}

fn http() -> HttpConfig {
    HttpConfig {
        requests_per_second: Setting::Fixed(NonZeroU32::new(2000).unwrap()),
        burst: NonZeroU32::new(200).unwrap(),
        max_concurrency: Setting::Fixed(NonZeroUsize::new(8).unwrap()),
        server_error_delays_secs: vec![0.01],
        transient_backoff_secs: 0.01,
        max_backoff_secs: 0.1,
        ..HttpConfig::default()
    }
}

async fn setup(cfg: SimConfig) -> Setup {
    let sim = crate::support::sim(cfg).await;
    let c = &sim.shared.creds;
    let lp = LivePersonClient::new(
        &LivePersonConfig {
            account: c.account.clone(),
            source: "convsync_tests".into(),
            csds_url: sim.base_url(),
            domain: None,
            csds_cache_secs: 3600,
            auth: LpAuth::Bearer(SecretSource::Value(c.bearer.clone())),
            transcripts: Default::default(),
            http: http(),
        },
        Arc::new(Metrics::default()),
    )
    .unwrap();
    let hub = HubsterClient::new(
        &HubsterConfig {
            identity_url: sim.base_url(),
            engine_url: sim.base_url(),
            direct_url: sim.base_url(),
            client_id: c.hubster_client_id.clone(),
            client_secret: SecretSource::Value(c.hubster_client_secret.clone()),
            direct_token: None,
            token_refresh_margin_secs: 120,
            hub_id: None,
            inbound_body: Default::default(),
            // The simulator shows what it stores at once.
            read_lag_secs: 0.0,
            unsure_settle_secs: 0.0,
            http: http(),
        },
        Arc::new(Metrics::default()),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("convsync.redb")).unwrap());
    Setup {
        sim,
        lp: pipeline::Source::LivePerson(Arc::new(lp)),
        hub: Arc::new(hub),
        store,
        mapping: Arc::new(Mapping::default()),
        _dir: dir,
    }
}

/// The externalIds a conversation's visible records convert to, in order.
fn expected(s: &Setup, id: &str) -> Vec<String> {
    s.sim
        .shared
        .expected_external_ids(id, &s.mapping, false)
        .unwrap()
}

fn ledger_ids(s: &Setup) -> BTreeMap<String, Vec<String>> {
    s.sim.shared.ledger_external_ids()
}

async fn sync_all(s: &Setup, sink: &Sink) -> u64 {
    let mut delivered = 0;
    for c in &s.sim.shared.lp.conversations {
        delivered += pipeline::sync_conversation("p", &c.id, &s.lp, sink, &s.store, &s.mapping)
            .await
            .unwrap()
            .delivered;
    }
    delivered
}

#[tokio::test]
async fn every_activity_arrives_once_in_order_and_a_rerun_sends_nothing() {
    let s = setup(SimConfig {
        conversations: 12,
        growth: 0,
        ..SimConfig::default()
    })
    .await;
    let sink = Sink::Hubster(Arc::clone(&s.hub));
    let n = sync_all(&s, &sink).await;
    let ledger = ledger_ids(&s);
    assert_eq!(ledger.len(), 12);
    let mut total = 0;
    for c in &s.sim.shared.lp.conversations {
        assert_eq!(ledger[&c.id], expected(&s, &c.id), "conversation {}", c.id);
        total += ledger[&c.id].len() as u64;
    }
    assert_eq!(n, total);
    assert_eq!(sync_all(&s, &sink).await, 0, "a rerun delivers nothing");
    assert_eq!(s.sim.stats().duplicate_deliveries, 0);
    let st = s
        .store
        .conversation("p", &s.sim.shared.lp.conversations[0].id)
        .unwrap()
        .unwrap();
    assert!(st.target_conversation_id.is_some() && st.last_error.is_none());
    let c0 = &s.sim.shared.lp.conversations[0];
    assert_eq!(
        st.last_updated_ms,
        Some(s.sim.shared.lp.latest_update_ms(c0))
    );
    assert!(st.last_polled_ms.is_some());
}

#[tokio::test]
async fn messages_that_appear_between_polls_arrive_and_nothing_twice() {
    let s = setup(SimConfig {
        conversations: 8,
        growth: 3,
        // Growth comes only when the test moves the clock.
        grow_every: Duration::from_secs(3600),
        ..SimConfig::default()
    })
    .await;
    let sink = Sink::Hubster(Arc::clone(&s.hub));
    sync_all(&s, &sink).await;
    crate::support::grow_all(&s.sim);
    let grown = sync_all(&s, &sink).await;
    assert!(grown > 0, "the OPEN conversations grew");
    let ledger = ledger_ids(&s);
    for c in &s.sim.shared.lp.conversations {
        let visible = expected(&s, &c.id);
        assert!(
            visible.iter().all(|e| ledger[&c.id].contains(e)),
            "{} missing some",
            c.id
        );
        let mut ids = ledger[&c.id].clone();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ledger[&c.id].len(), "duplicates in {}", c.id);
    }
    assert_eq!(s.sim.stats().duplicate_deliveries, 0);
}

#[tokio::test]
async fn an_interrupted_run_is_recovered_from_its_intents_without_duplicates() {
    let s = setup(SimConfig {
        conversations: 3,
        growth: 0,
        ..SimConfig::default()
    })
    .await;
    let sink = Sink::Hubster(Arc::clone(&s.hub));
    // A run that died after sending half its activities, before its checkpoint:
    // the target and the intents are in the store, half the activities at the hub.
    let c = &s.sim.shared.lp.conversations[0];
    let text = serde_json::to_string(&s.sim.shared.lp.records(c)).unwrap();
    let records: Vec<Record> = serde_json::from_str(&text).unwrap();
    let out = format::to_hubster(&c.id, &records, &s.mapping, &LpResume::default()).unwrap();
    let agent = s.mapping.integrations.agent.clone();
    let e = s
        .hub
        .establish(&agent.integration_id, &c.id, &agent.channel_type)
        .await
        .unwrap();
    let state = convsync::store::ConversationState {
        target_conversation_id: Some(e.conversation_id.clone()),
        ..Default::default()
    };
    s.store.checkpoint("p", &c.id, &state, &[]).unwrap();
    let intents: Vec<Intent> = out
        .activities
        .iter()
        .zip(&out.marks)
        .map(|(a, m)| Intent {
            external_id: a.external_id().unwrap().to_owned(),
            mark: StoredMark::from(m),
            event_id: a.event_id(),
        })
        .collect();
    s.store.write_intents("p", &c.id, &intents).unwrap();
    let half = out.activities.len() / 2;
    for a in &out.activities[..half] {
        let mut v = a.to_value();
        v.as_object_mut().unwrap().remove("eventId");
        let side = convsync::platform::hubster::Side::of(
            convsync::format::hubster::IntegrationType::parse(
                v["sender"]["integrationType"].as_str().unwrap(),
            )
            .unwrap(),
        );
        s.hub
            .send_activity(&e.conversation_id, side, &v)
            .await
            .unwrap();
    }
    // Restart: recovery finds the half that arrived, the sync sends the rest.
    let found = pipeline::recover("p", &s.store, &sink, &Default::default())
        .await
        .unwrap();
    assert_eq!(found, half as u64);
    assert!(s.store.pending_intents("p").unwrap().is_empty());
    let rest = pipeline::sync_conversation("p", &c.id, &s.lp, &sink, &s.store, &s.mapping)
        .await
        .unwrap();
    assert_eq!(rest.delivered as usize, out.activities.len() - half);
    assert_eq!(ledger_ids(&s)[&c.id], expected(&s, &c.id));
    assert_eq!(s.sim.stats().duplicate_deliveries, 0);
}

#[tokio::test]
async fn a_poison_conversation_fails_alone_with_a_reason() {
    let s = setup(SimConfig {
        conversations: 4,
        growth: 0,
        poison: 1,
        ..SimConfig::default()
    })
    .await;
    let sink = Sink::Hubster(Arc::clone(&s.hub));
    let poison = &s.sim.shared.lp.conversations[0].id;
    let err = pipeline::sync_conversation("p", poison, &s.lp, &sink, &s.store, &s.mapping)
        .await
        .unwrap_err();
    assert!(matches!(err, PipelineError::Convert { .. }), "{err}");
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(
        msg.contains(poison.as_str()) && msg.contains("invalid type"),
        "{msg}"
    );
    for c in &s.sim.shared.lp.conversations[1..] {
        pipeline::sync_conversation("p", &c.id, &s.lp, &sink, &s.store, &s.mapping)
            .await
            .unwrap();
    }
    assert_eq!(ledger_ids(&s).len(), 3);
}

#[tokio::test]
async fn the_file_sink_appends_jsonl_and_recovers_past_a_torn_line() {
    let s = setup(SimConfig {
        conversations: 2,
        growth: 0,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::Files(dir.path().to_owned());
    sync_all(&s, &sink).await;
    for c in &s.sim.shared.lp.conversations {
        let text = std::fs::read_to_string(dir.path().join(format!("{}.jsonl", c.id))).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["externalId"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(ids, expected(&s, &c.id));
    }
    // A pending intent whose line was torn by a crash is not counted delivered.
    let c = &s.sim.shared.lp.conversations[0];
    let path = dir.path().join(format!("{}.jsonl", c.id));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"externalId\":\"torn"))
        .unwrap();
    let intent = Intent {
        external_id: "torn".into(),
        mark: StoredMark::Key("torn".into()),
        event_id: None,
    };
    s.store.write_intents("p", &c.id, &[intent]).unwrap();
    assert_eq!(
        pipeline::recover("p", &s.store, &sink, &Default::default())
            .await
            .unwrap(),
        0
    );
    // The next line written starts on a line of its own.
    let sink_dir = dir.path().to_owned();
    let before = std::fs::read_to_string(&path).unwrap().lines().count();
    let mut st = s.store.conversation("p", &c.id).unwrap().unwrap();
    st.resume = LpResume::default();
    s.store.checkpoint("p", &c.id, &st, &[]).unwrap();
    pipeline::sync_conversation(
        "p",
        &c.id,
        &s.lp,
        &Sink::Files(sink_dir),
        &s.store,
        &s.mapping,
    )
    .await
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[before - 1], "{\"externalId\":\"torn");
    assert!(
        lines[before..]
            .iter()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );
}

#[tokio::test]
async fn lost_answers_to_posts_never_make_a_duplicate() {
    // Resets after the hub stored the activity (half of them), garbled
    // answers to stored posts, and 5xx: each answer is lost or useless, and
    // a blind retry would post twice.
    let s = setup(SimConfig {
        conversations: 10,
        growth: 0,
        fault_reset: 0.15,
        fault_malformed: 0.1,
        fault_5xx: 0.1,
        ..SimConfig::default()
    })
    .await;
    let sink = Sink::Hubster(Arc::clone(&s.hub));
    // Some conversations may need more than one run (a fault on a read can
    // outlast the retries); no run may duplicate anything.
    for _ in 0..5 {
        for c in &s.sim.shared.lp.conversations {
            let _ =
                pipeline::sync_conversation("p", &c.id, &s.lp, &sink, &s.store, &s.mapping).await;
        }
    }
    let st = s.sim.stats();
    assert!(
        st.faults.get("reset").copied().unwrap_or(0) > 0
            && st.faults.get("malformed").copied().unwrap_or(0) > 0,
        "{st:?}"
    );
    assert_eq!(st.duplicate_deliveries, 0, "{st:?}");
    let ledger = ledger_ids(&s);
    for c in &s.sim.shared.lp.conversations {
        assert_eq!(ledger[&c.id], expected(&s, &c.id), "conversation {}", c.id);
    }
}

#[tokio::test]
async fn hubster_conversations_export_to_liveperson_json_incrementally() {
    use convsync::sync::export::export_conversation;
    let s = setup(SimConfig {
        conversations: 3,
        growth: 0,
        ..SimConfig::default()
    })
    .await;
    // The hub gets the LivePerson conversations (with provenance) ...
    let sink = Sink::Hubster(Arc::clone(&s.hub));
    sync_all(&s, &sink).await;
    let c = &s.sim.shared.lp.conversations[0];
    let target = s
        .store
        .conversation("p", &c.id)
        .unwrap()
        .unwrap()
        .target_conversation_id
        .unwrap();
    // ... and a message of its own.
    let native = |text: &str| {
        serde_json::json!({"type": "message", "externalId": format!("hub-{text}"),
            "sender": {"integrationId": "int-agent", "integrationType": "Agent"},
            "recipient": {"integrationId": "int-customer", "integrationType": "Customer"},
            "message": {"type": "text", "text": text}})
    };
    s.hub
        .send_activity(
            &target,
            convsync::platform::hubster::Side::Business,
            &native("first"),
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let from = convsync::sync::export::ActivitySource::Hubster(Arc::clone(&s.hub));
    let export = || async {
        export_conversation("x", &from, &target, &c.id, dir.path(), &s.store, &s.mapping)
            .await
            .unwrap()
    };
    let n = export().await;
    let file = dir.path().join(format!("{}.json", c.id));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let records = doc["messageEventRecords"].as_array().unwrap();
    assert_eq!(n, records.len());
    // Every source record comes back exactly, plus the hub's own message.
    let source: std::collections::BTreeSet<String> = s
        .sim
        .shared
        .lp
        .records(c)
        .iter()
        .map(Value::to_string)
        .collect();
    let exported: std::collections::BTreeSet<String> =
        records.iter().map(Value::to_string).collect();
    assert!(
        source.is_subset(&exported),
        "every LivePerson record restored exactly"
    );
    assert_eq!(exported.len(), source.len() + 1);
    let own = records
        .iter()
        .find(|r| r["event"]["message"] == "first")
        .unwrap();
    assert_eq!(own["dialogId"], c.id.as_str());
    assert_eq!(own["originatorMetadata"]["role"], "ASSIGNED_AGENT");
    // Nothing new: nothing written. One more message: only it.
    assert_eq!(export().await, 0);
    s.hub
        .send_activity(
            &target,
            convsync::platform::hubster::Side::Business,
            &native("second"),
        )
        .await
        .unwrap();
    assert_eq!(export().await, 1);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let records = doc["messageEventRecords"].as_array().unwrap();
    assert_eq!(records.len(), source.len() + 2);
    let seqs: Vec<i64> = records
        .iter()
        .filter_map(|r| r["sequence"].as_i64())
        .collect();
    let mut unique = seqs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        seqs.len(),
        "sequences stay unique across runs"
    );
    // A run that wrote the file but died before its cursor: the records come
    // again and are recognized.
    let forgotten = convsync::format::HubsterResume::default();
    s.store
        .set_progress(&format!("export:x:{target}"), &forgotten)
        .unwrap();
    assert_eq!(export().await, 0);
}

#[tokio::test]
async fn records_from_hubster_without_an_external_id_convert_back_without_one() {
    // A LivePerson conversation whose records came from Hubster activities
    // that had no externalId (as an export of a hub would carry them).
    let acts: Vec<Value> = (0..3)
        .map(|i| {
            serde_json::json!({"type": "message", "eventId": 1_700_000_000_000i64 + i, "externalId": null,
                "sender": {"integrationId": "int-agent", "integrationType": "Agent"},
                "message": {"type": "text", "text": format!("m{i}")}})
        })
        .collect();
    let map = Mapping::default();
    let lp =
        format::to_liveperson("conv-x", &acts, &map, &format::HubsterResume::default()).unwrap();
    let text = serde_json::to_string(&lp.records).unwrap();
    let records: Vec<Record> = serde_json::from_str(&text).unwrap();
    let back = format::to_hubster("conv-x", &records, &map, &LpResume::default()).unwrap();
    assert!(
        back.activities
            .iter()
            .all(|a| a.to_value()["externalId"].is_null()),
        "the converter gives back what it was given"
    );
}
