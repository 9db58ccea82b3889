//! The store's schema: stamped on a new store, checked at open, and
//! upgraded in place from older versions.

use super::*;
use redb::ReadableTable;

impl Store {
    /// Stamps a new store; refuses one of another app or a newer schema.
    /// Then examines its trust (`existed`: the file was there before).
    pub(super) fn check_schema(&self, existed: bool) -> Result<(), StoreError> {
        let (_db, tx) = self.begin_write()?;
        {
            let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
            let app = meta
                .get("app")
                .map_err(|e| self.err(e))?
                .map(|v| v.value().to_owned());
            let version = meta
                .get("schema_version")
                .map_err(|e| self.err(e))?
                .map(|v| v.value().to_owned());
            match (app.as_deref(), version) {
                (None, None) => {
                    meta.insert("app", APP).map_err(|e| self.err(e))?;
                    meta.insert("schema_version", SCHEMA_VERSION.to_string().as_str())
                        .map_err(|e| self.err(e))?;
                }
                (Some(APP), Some(v)) => {
                    let found: u64 = v
                        .parse()
                        .map_err(|_| StoreError::Foreign(self.path.clone()))?;
                    if found > SCHEMA_VERSION {
                        return Err(StoreError::Newer {
                            path: self.path.clone(),
                            found,
                        });
                    }
                    if found < SCHEMA_VERSION {
                        drop(meta);
                        let n = self.upgrade(&tx, found)?;
                        let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
                        meta.insert("schema_version", SCHEMA_VERSION.to_string().as_str())
                            .map_err(|e| self.err(e))?;
                        tracing::info!(
                            path = %self.path.display(),
                            from = found,
                            to = SCHEMA_VERSION,
                            conversations = n,
                            "store upgraded"
                        );
                    }
                }
                _ => return Err(StoreError::Foreign(self.path.clone())),
            }
            for t in [CONVERSATIONS, INTENTS, DEAD_LETTERS, PROGRESS] {
                tx.open_table(t).map_err(|e| self.err(e))?;
            }
            tx.open_table(WATERMARKS).map_err(|e| self.err(e))?;
            tx.open_table(PRUNED).map_err(|e| self.err(e))?;
        }
        self.examine(&tx, existed)?;
        self.commit(tx)
    }

    /// Rewrites a store of schema `from` in this build's layout, in the
    /// transaction that stamps the new version (all or nothing). Returns
    /// the conversations rewritten.
    fn upgrade(&self, tx: &redb::WriteTransaction, from: u64) -> Result<u64, StoreError> {
        let mut n = 0;
        if from < 2 {
            // 1 -> 2: record keys, held whole, become digests.
            let mut t = tx.open_table(CONVERSATIONS).map_err(|e| self.err(e))?;
            let mut rewritten = Vec::new();
            for row in t.iter().map_err(|e| self.err(e))? {
                let (k, v) = row.map_err(|e| self.err(e))?;
                let mut state: serde_json::Value = serde_json::from_slice(v.value())
                    .map_err(|e| self.err(format!("{}: {e}", k.value())))?;
                if let Some(keys) = state["resume"]["keys"].as_array() {
                    let digests: crate::format::KeyDigests =
                        keys.iter().filter_map(|k| k.as_str()).collect();
                    state["resume"]["keys"] =
                        serde_json::to_value(&digests).expect("digests serialize");
                }
                rewritten.push((
                    k.value().to_owned(),
                    serde_json::to_vec(&state).expect("states serialize"),
                ));
            }
            for (k, v) in &rewritten {
                t.insert(k.as_str(), v.as_slice())
                    .map_err(|e| self.err(e))?;
            }
            n = rewritten.len() as u64;
        }
        if from < 3 {
            // 2 -> 3: the pruned ids of a pipeline, one string of digests,
            // become one row each (their last update unknown: the upgrade's
            // time, so that they are kept the longest).
            let now = crate::clock::now_ms();
            let old = tx.open_table(PRUNED_V2).map_err(|e| self.err(e))?;
            let mut rows = Vec::new();
            for row in old.iter().map_err(|e| self.err(e))? {
                let (k, v) = row.map_err(|e| self.err(e))?;
                let gone: crate::format::KeyDigests =
                    serde_json::from_value(serde_json::Value::String(v.value().to_owned()))
                        .map_err(|e| self.err(format!("pruned ids of {}: {e}", k.value())))?;
                rows.extend(gone.iter().map(|d| (k.value().to_owned(), d)));
            }
            drop(old);
            let mut t = tx.open_table(PRUNED).map_err(|e| self.err(e))?;
            for (p, d) in &rows {
                t.insert((p.as_str(), *d), now).map_err(|e| self.err(e))?;
            }
            drop(t);
            tx.delete_table(PRUNED_V2).map_err(|e| self.err(e))?;
        }
        Ok(n)
    }
}
