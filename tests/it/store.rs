//! The store across versions: a store written by an earlier build (schema
//! 1, `tests/data/store-v1.redb`: a daemon's sync of 12 simulated
//! conversations) is upgraded once, and keeps every delivery it recorded.

use convsync::store::{SCHEMA_VERSION, Store};
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
        let mut new_rest = serde_json::to_value(&new).unwrap();
        for s in [&mut old_rest, &mut new_rest] {
            s["resume"]["keys"] = Value::Null;
        }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_only_what_is_older_and_a_pruned_conversation_is_never_sent_again() {
    use convsync::sim::{Sim, SimConfig};
    // Conversations of 30 days that ended 400 days ago: with a retention
    // of 415 days, the older half goes.
    let sim = Sim::start(
        SimConfig {
            conversations: 60,
            messages: 4,
            growth: 0,
            age: std::time::Duration::from_secs(400 * 24 * 3600),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = dir.path().join("convsync.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[sync]\nstate_dir = {state:?}\nmetrics_listen = \"\"\nretention_days = 415\n",
            crate::support::platforms_toml(&sim, &sim)
        ),
    )
    .unwrap();
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
