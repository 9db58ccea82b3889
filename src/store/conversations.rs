//! Conversations: their checkpoints and delivery intents.

use super::*;

impl Store {
    /// The state of one conversation, if it was ever synced.
    pub fn conversation(
        &self,
        pipeline: &str,
        conversation_id: &str,
    ) -> Result<Option<ConversationState>, StoreError> {
        let (_db, tx) = self.begin_read()?;
        let t = tx.open_table(CONVERSATIONS).map_err(|e| self.err(e))?;
        let found = t
            .get(key(&[pipeline, conversation_id]).as_str())
            .map_err(|e| self.err(e))?;
        found.map(|v| self.decode(v.value())).transpose()
    }

    /// Records intents before their activities are sent (one commit).
    pub fn write_intents(
        &self,
        pipeline: &str,
        conversation_id: &str,
        intents: &[Intent],
    ) -> Result<(), StoreError> {
        let (_db, tx) = self.begin_write()?;
        {
            let mut t = tx.open_table(INTENTS).map_err(|e| self.err(e))?;
            self.insert_intents(&mut t, pipeline, conversation_id, intents)?;
        }
        self.commit(tx)
    }

    fn insert_intents(
        &self,
        table: &mut redb::Table<&str, &[u8]>,
        pipeline: &str,
        conversation_id: &str,
        intents: &[Intent],
    ) -> Result<(), StoreError> {
        for i in intents {
            let bytes = serde_json::to_vec(i).expect("intents serialize");
            table
                .insert(
                    key(&[pipeline, conversation_id, &i.external_id]).as_str(),
                    bytes.as_slice(),
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Intents left by a run that did not finish, per conversation.
    pub fn pending_intents(&self, pipeline: &str) -> Result<Vec<(String, Intent)>, StoreError> {
        self.intents_under(pipeline)
    }

    /// One conversation's intents left by a try that did not finish.
    pub fn pending_intents_of(
        &self,
        pipeline: &str,
        conversation_id: &str,
    ) -> Result<Vec<Intent>, StoreError> {
        Ok(self
            .intents_under(&key(&[pipeline, conversation_id]))?
            .into_iter()
            .map(|(_, i)| i)
            .collect())
    }

    /// The intents whose key starts with `prefix` and a separator, with
    /// their conversation.
    pub(super) fn intents_under(&self, prefix: &str) -> Result<Vec<(String, Intent)>, StoreError> {
        self.rows_under(INTENTS, prefix)?
            .into_iter()
            .map(|(k, v)| Ok((conversation_of(&k), self.decode(&v)?)))
            .collect()
    }

    /// The rows of `table` whose key starts with `prefix` and a separator.
    pub(super) fn rows_under(
        &self,
        table: TableDefinition<&str, &[u8]>,
        prefix: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let (_db, tx) = self.begin_read()?;
        let t = tx.open_table(table).map_err(|e| self.err(e))?;
        let lo = format!("{prefix}{SEP}");
        let hi = format!(
            "{prefix}{}",
            char::from_u32(SEP as u32 + 1).expect("valid char")
        );
        let mut out = Vec::new();
        for row in t.range(lo.as_str()..hi.as_str()).map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            out.push((k.value().to_owned(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The checkpoint: the conversation's new state, and the intents it
    /// settles removed, in one transaction.
    pub fn checkpoint(
        &self,
        pipeline: &str,
        conversation_id: &str,
        state: &ConversationState,
        settled: &[&str],
    ) -> Result<(), StoreError> {
        self.checkpoint_with_intents(pipeline, conversation_id, state, settled, &[])
    }

    /// [`Store::checkpoint`], and new intents written after the settled
    /// ones are removed (an intent sent again keeps its key), in one
    /// transaction.
    pub fn checkpoint_with_intents(
        &self,
        pipeline: &str,
        conversation_id: &str,
        state: &ConversationState,
        settled: &[&str],
        intents: &[Intent],
    ) -> Result<(), StoreError> {
        let c = self.encode_checkpoint(pipeline, conversation_id, state, settled, intents)?;
        self.commit_checkpoint(c)
    }

    /// A checkpoint as [`Store::checkpoint_with_intents`] commits it,
    /// encoded (no I/O: an async caller encodes it where it is, and hands
    /// only bytes to [`Store::commit_checkpoint`]).
    pub fn encode_checkpoint(
        &self,
        pipeline: &str,
        conversation_id: &str,
        state: &ConversationState,
        settled: &[&str],
        intents: &[Intent],
    ) -> Result<Checkpoint, StoreError> {
        let encode = |e: serde_json::Error| self.err(e);
        Ok(Checkpoint {
            pipeline: pipeline.to_owned(),
            conversation_id: conversation_id.to_owned(),
            state: serde_json::to_vec(state).map_err(encode)?,
            held: state
                .held
                .as_ref()
                .map(serde_json::to_vec)
                .transpose()
                .map_err(encode)?,
            settled: settled.iter().map(|s| (*s).to_owned()).collect(),
            intents: intents
                .iter()
                .map(|i| {
                    Ok((
                        i.external_id.clone(),
                        serde_json::to_vec(i).map_err(encode)?,
                    ))
                })
                .collect::<Result<_, StoreError>>()?,
        })
    }

    /// The conversations of `pipeline` held open, with why and when they
    /// are due, in key order.
    pub fn held(&self, pipeline: &str) -> Result<Vec<(String, Held)>, StoreError> {
        let under = progress_key::held_under(pipeline);
        Ok(self
            .progress_under::<Held>(&under)?
            .into_iter()
            .map(|(k, h)| (k[under.len()..].to_owned(), h))
            .collect())
    }

    /// (conversations known, activities delivered) of a pipeline.
    pub fn totals(&self, pipeline: &str) -> Result<(u64, u64), StoreError> {
        let (mut n, mut delivered) = (0, 0);
        for (_, v) in self.rows_under(CONVERSATIONS, pipeline)? {
            let st: ConversationState = self.decode(&v)?;
            n += 1;
            delivered += st.delivered;
        }
        Ok((n, delivered))
    }

    /// The conversations a pipeline has checkpoints for, in key order.
    pub fn conversation_ids(&self, pipeline: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .rows_under(CONVERSATIONS, pipeline)?
            .into_iter()
            .map(|(k, _)| conversation_of(&k))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{ConversationState, Intent, Store, StoredMark};

    fn intent(ext: &str, seq: i64) -> Intent {
        Intent {
            external_id: ext.into(),
            mark: StoredMark::Sequence {
                dialog_id: "d".into(),
                sequence: seq,
            },
            event_id: Some(seq),
        }
    }

    #[test]
    fn checkpoint_settles_intents_in_the_same_commit_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/convsync.redb");
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(s.conversation("p", "c1").unwrap(), None);
            s.write_intents("p", "c1", &[intent("e1", 1), intent("e2", 2)])
                .unwrap();
            s.write_intents("q", "c1", &[intent("e9", 9)]).unwrap();
            assert_eq!(s.pending_intents("p").unwrap().len(), 2);
            let mut st = ConversationState::default();
            st.resume.mark(&intent("e1", 1).mark.as_mark(), Some(1));
            st.delivered = 1;
            s.checkpoint("p", "c1", &st, &["e1"]).unwrap();
            let pending = s.pending_intents("p").unwrap();
            assert_eq!(pending, vec![("c1".to_owned(), intent("e2", 2))]);
            s.set_watermark("p", 100).unwrap();
            s.set_watermark("p", 50).unwrap();
            s.dead_letter("p", "c7", "convert", "bad record", 10)
                .unwrap();
            s.dead_letter("p", "c7", "convert", "still bad", 20)
                .unwrap();
        }
        let s = Store::open(&path).unwrap();
        let st = s.conversation("p", "c1").unwrap().unwrap();
        assert!(st.resume.is_delivered("d", Some(1), ""));
        assert!(!st.resume.is_delivered("d", Some(2), ""));
        assert_eq!(s.watermark("p").unwrap(), Some(100), "never backwards");
        assert_eq!(s.pending_intents("q").unwrap().len(), 1, "pipelines apart");
        let d = s.dead_letters().unwrap();
        assert_eq!(
            (
                d.len(),
                d[0].attempts,
                d[0].first_seen_ms,
                d[0].last_seen_ms,
                d[0].message.as_str()
            ),
            (1, 2, 10, 20, "still bad")
        );
        assert!(s.remove_dead_letter("p", "c7").unwrap());
        assert!(!s.remove_dead_letter("p", "c7").unwrap());
    }
}
