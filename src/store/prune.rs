//! Retention in the store: what is older than the cutoff leaves it; the
//! ids of pruned conversations stay as digests.

use super::*;
use redb::ReadableTable;

impl Store {
    /// Removes from `pipeline` what was last updated before `cutoff_ms`:
    /// conversations (none with a delivery in doubt), whose ids are kept
    /// as digests so that one the source still returns is recognised and
    /// not sent again; dead letters last seen before it; finished backfill
    /// windows that ended before it. The digests of conversations last
    /// updated before `forget_before_ms` (when the source can no longer
    /// return them) go too. One transaction.
    pub fn prune(
        &self,
        pipeline: &str,
        cutoff_ms: i64,
        forget_before_ms: i64,
        now_ms: i64,
    ) -> Result<Pruned, StoreError> {
        let mut out = Pruned {
            pipeline: pipeline.to_owned(),
            at_ms: now_ms,
            cutoff_ms,
            bytes_before: self.size(),
            ..Pruned::default()
        };
        let in_doubt: std::collections::BTreeSet<String> = self
            .rows_under(INTENTS, pipeline)?
            .into_iter()
            .map(|(k, _)| conversation_of(&k))
            .collect();
        let old: Vec<(String, String, i64)> = self
            .rows_under(CONVERSATIONS, pipeline)?
            .into_iter()
            .filter_map(|(k, v)| {
                let st: ConversationState = self.decode(&v).ok()?;
                let last = st.last_updated_ms.or(st.last_polled_ms)?;
                let id = conversation_of(&k);
                (last < cutoff_ms && !in_doubt.contains(&id)).then_some((k, id, last))
            })
            .collect();
        let dead: Vec<String> = self
            .dead_letters()?
            .into_iter()
            .filter(|d| d.pipeline == pipeline && d.last_seen_ms < cutoff_ms)
            .map(|d| key(&[pipeline, &d.conversation_id]))
            .collect();
        let windows: Vec<String> = self
            .progress_under::<serde_json::Value>(&format!("backfill:{pipeline}:"))?
            .into_iter()
            .filter(|(k, _)| {
                k.rsplit(':')
                    .nth(1)
                    .and_then(|until| until.parse::<i64>().ok())
                    .is_some_and(|until| until < cutoff_ms)
            })
            .map(|(k, _)| k)
            .collect();
        let (_db, tx) = self.begin_write()?;
        {
            let mut t = tx.open_table(CONVERSATIONS).map_err(|e| self.err(e))?;
            for (k, _, _) in &old {
                t.remove(k.as_str()).map_err(|e| self.err(e))?;
            }
            let mut p = tx.open_table(PRUNED).map_err(|e| self.err(e))?;
            let stale: Vec<u128> = p
                .range((pipeline, 0u128)..=(pipeline, u128::MAX))
                .map_err(|e| self.err(e))?
                .filter_map(|row| {
                    let (k, v) = row.ok()?;
                    (v.value() < forget_before_ms).then(|| k.value().1)
                })
                .collect();
            for d in &stale {
                p.remove((pipeline, *d)).map_err(|e| self.err(e))?;
            }
            for (_, id, last) in &old {
                p.insert((pipeline, crate::format::KeyDigests::digest(id)), *last)
                    .map_err(|e| self.err(e))?;
            }
            let mut d = tx.open_table(DEAD_LETTERS).map_err(|e| self.err(e))?;
            for k in &dead {
                d.remove(k.as_str()).map_err(|e| self.err(e))?;
            }
            let mut g = tx.open_table(PROGRESS).map_err(|e| self.err(e))?;
            for k in &windows {
                g.remove(k.as_str()).map_err(|e| self.err(e))?;
            }
            // A pruned conversation is no longer held open.
            for (_, id, _) in &old {
                g.remove(progress_key::held(pipeline, id).as_str())
                    .map_err(|e| self.err(e))?;
            }
            out.conversations = old.len() as u64;
            out.forgotten = stale.len() as u64;
            out.dead_letters = dead.len() as u64;
            out.progress = windows.len() as u64;
            let bytes = serde_json::to_vec(&out).expect("prunes serialize");
            g.insert(progress_key::pruned(pipeline).as_str(), bytes.as_slice())
                .map_err(|e| self.err(e))?;
        }
        self.commit(tx)?;
        out.bytes_after = self.size();
        Ok(out)
    }

    /// Whether `conversation_id` was pruned from `pipeline` (and is still
    /// remembered: see [`Store::prune`]).
    pub fn is_pruned(&self, pipeline: &str, conversation_id: &str) -> Result<bool, StoreError> {
        let (_db, tx) = self.begin_read()?;
        let t = tx.open_table(PRUNED).map_err(|e| self.err(e))?;
        let d = crate::format::KeyDigests::digest(conversation_id);
        Ok(t.get((pipeline, d)).map_err(|e| self.err(e))?.is_some())
    }

    /// How many conversations pruned from `pipeline` are remembered.
    pub fn pruned_count(&self, pipeline: &str) -> Result<u64, StoreError> {
        let (_db, tx) = self.begin_read()?;
        let t = tx.open_table(PRUNED).map_err(|e| self.err(e))?;
        let n = t
            .range((pipeline, 0u128)..=(pipeline, u128::MAX))
            .map_err(|e| self.err(e))?
            .count();
        Ok(n as u64)
    }
}
