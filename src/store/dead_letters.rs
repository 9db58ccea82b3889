//! Dead letters: conversations set aside, per pipeline.

use super::*;
use redb::ReadableTable;

impl Store {
    /// Files (or updates) a dead letter.
    pub fn dead_letter(
        &self,
        pipeline: &str,
        conversation_id: &str,
        class: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let k = key(&[pipeline, conversation_id]);
        let (_db, tx) = self.begin_write()?;
        {
            let mut t = tx.open_table(DEAD_LETTERS).map_err(|e| self.err(e))?;
            let prev: Option<DeadLetter> = match t.get(k.as_str()).map_err(|e| self.err(e))? {
                Some(v) => Some(self.decode(v.value())?),
                None => None,
            };
            let d = DeadLetter {
                pipeline: pipeline.to_owned(),
                conversation_id: conversation_id.to_owned(),
                class: class.to_owned(),
                message: message.to_owned(),
                first_seen_ms: prev.as_ref().map_or(now_ms, |p| p.first_seen_ms),
                last_seen_ms: now_ms,
                attempts: prev.as_ref().map_or(1, |p| p.attempts + 1),
            };
            let bytes = serde_json::to_vec(&d).expect("dead letters serialize");
            t.insert(k.as_str(), bytes.as_slice())
                .map_err(|e| self.err(e))?;
        }
        self.commit(tx)
    }

    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let (_db, tx) = self.begin_read()?;
        let t = tx.open_table(DEAD_LETTERS).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in t.iter().map_err(|e| self.err(e))? {
            let (_, v) = row.map_err(|e| self.err(e))?;
            out.push(self.decode(v.value())?);
        }
        Ok(out)
    }

    /// The conversations of one pipeline that are dead letters.
    pub fn dead_letter_ids(
        &self,
        pipeline: &str,
    ) -> Result<std::collections::BTreeSet<String>, StoreError> {
        Ok(self
            .dead_letters()?
            .into_iter()
            .filter(|d| d.pipeline == pipeline)
            .map(|d| d.conversation_id)
            .collect())
    }

    /// Removes a dead letter (to retry or drop it). Whether there was one.
    pub fn remove_dead_letter(
        &self,
        pipeline: &str,
        conversation_id: &str,
    ) -> Result<bool, StoreError> {
        let (_db, tx) = self.begin_write()?;
        let removed = {
            let mut t = tx.open_table(DEAD_LETTERS).map_err(|e| self.err(e))?;
            t.remove(key(&[pipeline, conversation_id]).as_str())
                .map_err(|e| self.err(e))?
                .is_some()
        };
        self.commit(tx)?;
        Ok(removed)
    }
}
