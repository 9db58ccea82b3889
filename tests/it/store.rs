//! The store across versions: stores written by earlier builds (schema 1,
//! `tests/data/store-v1.redb`: a daemon's sync of 12 simulated
//! conversations; schema 2, `tests/data/store-v2.redb`, described in
//! `store-v2.json`: a backfill then a prune) are upgraded once, and keep
//! every delivery and every pruned conversation they recorded. Then
//! sealing and retention.

use convsync::store::{ConversationState, SCHEMA_VERSION, Store};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;

const CONVERSATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("conversations");
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

/// (schema version, every conversation state as JSON, by key), read raw.
fn raw(path: &std::path::Path) -> (String, Vec<(String, Value)>) {
    let db = redb::Database::open(path).unwrap();
    let tx = db.begin_read().unwrap();
    let version = tx
        .open_table(META)
        .unwrap()
        .get("schema_version")
        .unwrap()
        .unwrap()
        .value()
        .to_owned();
    let t = tx.open_table(CONVERSATIONS).unwrap();
    let states = t
        .iter()
        .unwrap()
        .map(|r| {
            let (k, v) = r.unwrap();
            (
                k.value().to_owned(),
                serde_json::from_slice(v.value()).unwrap(),
            )
        })
        .collect();
    (version, states)
}

#[test]
fn a_version_1_store_is_upgraded_once_and_keeps_every_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("convsync.redb");
    std::fs::copy(crate::support::data("store-v1.redb"), &path).unwrap();
    let (version, before) = raw(&path);
    assert_eq!(version, "1");
    assert_eq!(before.len(), 12);
    let keys_before: usize = before
        .iter()
        .map(|(_, s)| s["resume"]["keys"].as_array().unwrap().len())
        .sum();
    assert!(keys_before > 0, "the fixture holds record keys");

    let store = Store::open(&path).unwrap();
    for (key, old) in &before {
        let (pipeline, conversation) = key.split_once('\u{1f}').unwrap();
        let new = store.conversation(pipeline, conversation).unwrap().unwrap();
        // Every record key delivered then counts as delivered now.
        for k in old["resume"]["keys"].as_array().unwrap() {
            assert!(
                new.resume.is_delivered("any", None, k.as_str().unwrap()),
                "{conversation}: {k} lost"
            );
        }
        assert!(!new.resume.is_delivered("any", None, "lp:another:key"));
        // The rest as it was.
        let mut old_rest = old.clone();
        old_rest["resume"]["keys"] = Value::from("");
        let old_rest: ConversationState = serde_json::from_value(old_rest).unwrap();
        let mut new_rest = new.clone();
        new_rest.resume.keys = Default::default();
        assert_eq!(new_rest, old_rest, "{conversation}");
        assert_eq!(
            new.resume.keys.len(),
            old["resume"]["keys"].as_array().unwrap().len()
        );
    }
    drop(store);
    let (version, after) = raw(&path);
    assert_eq!(version, SCHEMA_VERSION.to_string());
    let bytes =
        |s: &[(String, Value)]| -> usize { s.iter().map(|(_, v)| v.to_string().len()).sum() };
    assert!(
        bytes(&after) * 3 < bytes(&before) * 2,
        "digests take less room: {} -> {} bytes",
        bytes(&before),
        bytes(&after)
    );
    // Once: a second open changes nothing.
    drop(Store::open(&path).unwrap());
    assert_eq!(raw(&path).1, after);
}

#[test]
fn a_version_2_store_keeps_every_pruned_conversation_and_every_delivery() {
    use redb::TableHandle;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("convsync.redb");
    std::fs::copy(crate::support::data("store-v2.redb"), &path).unwrap();
    let about = crate::support::read_json("store-v2.json");
    let ids = |k: &str| -> Vec<String> {
        about[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let (pipeline, held, pruned) = (
        about["pipeline"].as_str().unwrap(),
        ids("held"),
        ids("pruned"),
    );
    let (version, before) = raw(&path);
    assert_eq!(version, "2");
    assert_eq!(before.len(), held.len());

    let store = Store::open(&path).unwrap();
    for id in &held {
        let st = store.conversation(pipeline, id).unwrap().unwrap();
        assert!(
            st.delivered > 0 && st.target_conversation_id.is_some(),
            "{id}"
        );
        assert!(!store.is_pruned(pipeline, id).unwrap(), "{id}");
    }
    for id in &pruned {
        assert!(store.conversation(pipeline, id).unwrap().is_none(), "{id}");
        assert!(store.is_pruned(pipeline, id).unwrap(), "{id} forgotten");
    }
    assert!(
        !store
            .is_pruned(pipeline, &held[0].replace('-', ""))
            .unwrap()
    );
    assert_eq!(store.pruned_count(pipeline).unwrap(), pruned.len() as u64);
    drop(store);

    let (version, after) = raw(&path);
    assert_eq!(version, SCHEMA_VERSION.to_string());
    // The states read back as they were written (the long names read).
    for ((k0, v0), (k1, v1)) in before.iter().zip(&after) {
        assert_eq!(k0, k1);
        let old: ConversationState = serde_json::from_value(v0.clone()).unwrap();
        let new: ConversationState = serde_json::from_value(v1.clone()).unwrap();
        assert_eq!(old, new, "{k0}");
    }
    let db = redb::Database::open(&path).unwrap();
    let tables: Vec<String> = db
        .begin_read()
        .unwrap()
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_owned())
        .collect();
    assert!(!tables.contains(&"pruned".to_owned()), "{tables:?}");
    drop(db);
    // Once: a second open changes nothing.
    let store = Store::open(&path).unwrap();
    assert_eq!(store.pruned_count(pipeline).unwrap(), pruned.len() as u64);
    drop(store);
    assert_eq!(raw(&path).1, after);
}

#[test]
fn a_store_of_a_newer_schema_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("convsync.redb");
    std::fs::copy(crate::support::data("store-v1.redb"), &path).unwrap();
    {
        let db = redb::Database::open(&path).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(META)
            .unwrap()
            .insert("schema_version", (SCHEMA_VERSION + 1).to_string().as_str())
            .unwrap();
        tx.commit().unwrap();
    }
    let e = Store::open(&path).err().unwrap().to_string();
    assert!(
        e.contains("convsync.redb") && e.contains("newer convsync") && e.contains("upgrade"),
        "{e}"
    );
}

/// A simulator of `conversations` aged `age_days` (all closed), and a
/// config reading it with its state in a temporary directory; `sync`: more
/// lines of its `[sync]` section.
struct Aged {
    sim: convsync::sim::Sim,
    _dir: tempfile::TempDir,
    state: std::path::PathBuf,
    config: std::path::PathBuf,
}

async fn aged(conversations: usize, messages: usize, age_days: u64, sync: &str) -> Aged {
    use convsync::sim::SimConfig;
    let sim = crate::support::sim(SimConfig {
        conversations,
        messages,
        growth: 0,
        age: std::time::Duration::from_secs(age_days * 24 * 3600),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = dir.path().join("convsync.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[sync]\nstate_dir = {state:?}\nmetrics_listen = \"\"\n{sync}",
            crate::support::platforms_toml(&sim, &sim)
        ),
    )
    .unwrap();
    Aged {
        sim,
        _dir: dir,
        state,
        config,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_only_what_is_older_and_a_pruned_conversation_is_never_sent_again() {
    // Conversations of 30 days that ended 400 days ago: with a retention
    // of 415 days, the older half goes.
    let Aged {
        sim,
        _dir,
        state,
        config,
    } = aged(60, 4, 400, "retention_days = 415\n").await;
    let day = 24 * 3600 * 1000;
    let since = (convsync::clock::now_ms() - 440 * day).to_string();
    let out = crate::support::convsync(&config, &["backfill", "--since", &since]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let delivered = sim.stats().delivered_activities;
    assert_eq!(sim.shared.ledger_external_ids().len(), 60);

    let cutoff = convsync::clock::now_ms() - 415 * day;
    let lp = &sim.shared.lp;
    let older: Vec<&str> = lp
        .conversations
        .iter()
        .filter(|c| {
            let last = lp
                .records(c)
                .iter()
                .filter_map(|r| r["serverTimestamp"].as_i64())
                .max()
                .unwrap();
            last < cutoff
        })
        .map(|c| c.id.as_str())
        .collect();
    assert!(
        older.len() > 10 && older.len() < 50,
        "some older, some younger: {}",
        older.len()
    );

    let out = crate::support::convsync(&config, &["prune"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pruned: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pruned["conversations"], older.len() as u64, "{pruned}");
    assert_eq!(pruned["compacted"], true, "{pruned}");
    assert!(pruned["bytes_after"].as_u64() <= pruned["bytes_before"].as_u64());
    {
        let store = Store::open(&state.join("convsync.redb")).unwrap();
        for c in &lp.conversations {
            let held = store
                .conversation("liveperson-to-hubster", &c.id)
                .unwrap()
                .is_some();
            assert_eq!(held, !older.contains(&c.id.as_str()), "{}", c.id);
            assert_eq!(
                store.is_pruned("liveperson-to-hubster", &c.id).unwrap(),
                !held
            );
        }
    }
    let out = crate::support::convsync(&config, &["status", "--json"]).await;
    let st: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(st["conversations"], 60 - older.len() as u64, "{st}");
    assert_eq!(
        st["last_prune"]["conversations"],
        older.len() as u64,
        "{st}"
    );
    assert!(st["store_bytes"].as_u64().unwrap() > 0);

    // The source still returns them all (it should not): a backfill that
    // reads them again (another range: no window of it is done) sends
    // nothing, the pruned ones recognised by their digests.
    let wider = (convsync::clock::now_ms() - 441 * day).to_string();
    let out = crate::support::convsync(&config, &["backfill", "--since", &wider]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["conversations"], 60, "all read again: {summary}");
    assert_eq!(sim.stats().delivered_activities, delivered);
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    // Pruning again removes nothing more.
    let out = crate::support::convsync(&config, &["prune"]).await;
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["conversations"], 0, "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_conversation_is_sealed_and_a_changed_one_sends_only_what_the_target_lacks() {
    // Aged a day: every conversation is closed.
    let Aged {
        sim,
        _dir,
        state,
        config,
    } = aged(12, 5, 1, "").await;
    let day = 24 * 3600 * 1000;
    let backfill = |days: i64| {
        let config = config.clone();
        async move {
            let since = (convsync::clock::now_ms() - days * day).to_string();
            let out = crate::support::convsync(&config, &["backfill", "--since", &since]).await;
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        }
    };
    backfill(40).await;
    let expected = crate::support::expected_ledger(&sim, false);
    assert_eq!(sim.shared.ledger_external_ids(), expected);
    let delivered = sim.stats().delivered_activities;
    let pipeline = "liveperson-to-hubster";
    let ids: Vec<String> = sim
        .shared
        .lp
        .conversations
        .iter()
        .map(|c| c.id.clone())
        .collect();
    let seals: Vec<String> = {
        let store = Store::open(&state.join("convsync.redb")).unwrap();
        ids.iter()
            .map(|id| {
                let st = store.conversation(pipeline, id).unwrap().unwrap();
                assert!(st.resume.is_empty(), "{id}: {:?}", st.resume);
                assert_eq!(st.delivered, expected[id].len() as u64, "{id}");
                assert!(st.target_conversation_id.is_some(), "{id}");
                st.sealed.unwrap_or_else(|| panic!("{id} is not sealed"))
            })
            .collect()
    };

    // Read again (another range, so no window is skipped): recognised by
    // the seal, nothing sent.
    let summary = backfill(41).await;
    assert_eq!(summary["conversations"], 12, "{summary}");
    assert_eq!(sim.stats().delivered_activities, delivered);

    // Two sealed conversations whose records no longer match their seals
    // (as if the source had changed them); the target lacks the last two
    // activities of the second. Only those two are sent.
    let (same, short) = (&ids[0], &ids[1]);
    let lacking: Vec<String> = {
        let store = Store::open(&state.join("convsync.redb")).unwrap();
        for id in [same, short] {
            let mut st = store.conversation(pipeline, id).unwrap().unwrap();
            st.sealed = Some("0000000000000000".into());
            store.checkpoint(pipeline, id, &st, &[]).unwrap();
        }
        let target = store
            .conversation(pipeline, short)
            .unwrap()
            .unwrap()
            .target_conversation_id
            .unwrap();
        let mut hub = sim.shared.hub.lock().unwrap();
        let conv = hub.conversations.get_mut(&target).unwrap();
        let gone: Vec<_> = conv.activities.split_off(conv.activities.len() - 2);
        gone.iter()
            .map(|d| {
                let ext = d.activity["externalId"].as_str().unwrap().to_owned();
                conv.external_ids.remove(&ext);
                ext
            })
            .collect()
    };
    backfill(42).await;
    assert_eq!(sim.stats().delivered_activities, delivered + 2);
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    assert_eq!(sim.shared.ledger_external_ids(), expected);
    assert_eq!(&expected[short][expected[short].len() - 2..], &lacking[..]);
    // Both sealed again, as they were.
    let store = Store::open(&state.join("convsync.redb")).unwrap();
    for (id, seal) in ids.iter().zip(&seals) {
        let st = store.conversation(pipeline, id).unwrap().unwrap();
        assert_eq!(st.sealed.as_ref(), Some(seal), "{id}");
        assert!(st.resume.is_empty(), "{id}");
        assert_eq!(st.delivered, expected[id].len() as u64, "{id}");
    }
}

#[test]
fn a_pruned_id_is_remembered_for_another_retention_then_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("convsync.redb")).unwrap();
    let p = "liveperson-to-hubster";
    let day = 24 * 3600 * 1000;
    let now = convsync::clock::now_ms();
    for (id, age_days) in [("older", 900), ("old", 500), ("young", 10)] {
        let st = ConversationState {
            delivered: 3,
            last_updated_ms: Some(now - age_days * day),
            ..ConversationState::default()
        };
        store.checkpoint(p, id, &st, &[]).unwrap();
    }
    // Retention 426 days: "older" and "old" leave the store; ids of
    // conversations older than twice that are not worth keeping.
    let cutoff = now - 426 * day;
    let r = store.prune(p, cutoff, cutoff - 426 * day, now).unwrap();
    assert_eq!((r.conversations, r.forgotten), (2, 0), "{r:?}");
    assert!(store.is_pruned(p, "older").unwrap() && store.is_pruned(p, "old").unwrap());
    assert!(store.conversation(p, "young").unwrap().is_some());
    assert_eq!(store.pruned_count(p).unwrap(), 2);
    // A later prune forgets the id last updated before its horizon.
    let r = store.prune(p, cutoff, now - 600 * day, now).unwrap();
    assert_eq!((r.conversations, r.forgotten), (0, 1), "{r:?}");
    assert!(!store.is_pruned(p, "older").unwrap());
    assert!(store.is_pruned(p, "old").unwrap());
    assert!(!store.is_pruned("another-pipeline", "old").unwrap());
}
