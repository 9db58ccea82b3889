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
