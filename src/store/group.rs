//! Checkpoints committed together: a checkpoint that arrives while another
//! commits waits for it, then goes into the next commit with every other
//! that arrived meanwhile (group commit). Each caller returns once a commit
//! holding its checkpoint is durable, as alone; what changes is that
//! conversations synced side by side share one write of the file and one
//! flush to the disk instead of one each. A commit of a group that fails
//! (the file is full, say) is tried again by each member alone, so that
//! each gets its own answer.

use super::*;
use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

/// One conversation's checkpoint, encoded ([`Store::encode_checkpoint`]).
pub struct Checkpoint {
    pub(super) pipeline: String,
    pub(super) conversation_id: String,
    pub(super) state: Vec<u8>,
    pub(super) held: Option<Vec<u8>>,
    pub(super) settled: Vec<String>,
    /// (externalId, encoded intent).
    pub(super) intents: Vec<(String, Vec<u8>)>,
}

#[derive(Default)]
pub(super) struct Group {
    inner: Mutex<Queue>,
    done: Condvar,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<(u64, Checkpoint)>,
    next_ticket: u64,
    /// A caller is committing a group now.
    leading: bool,
    /// Tickets whose group was committed (`None`), or failed (the
    /// checkpoint given back, to be committed alone).
    answered: HashMap<u64, Option<Checkpoint>>,
    /// Checkpoints per commit, for the metrics: (commits, checkpoints).
    counted: (u64, u64),
}

impl Store {
    /// Commits an encoded checkpoint with whatever other checkpoints wait
    /// (see the module).
    pub fn commit_checkpoint(&self, c: Checkpoint) -> Result<(), StoreError> {
        let group = &self.group;
        let mut q = group.inner.lock().expect("group lock");
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.waiting.push((ticket, c));
        loop {
            if let Some(answer) = q.answered.remove(&ticket) {
                drop(q);
                return match answer {
                    None => Ok(()),
                    // The group failed: committed alone, for its own answer.
                    Some(c) => self.commit_checkpoints([&c]),
                };
            }
            if !q.leading {
                q.leading = true;
                let batch = std::mem::take(&mut q.waiting);
                drop(q);
                let result = self.commit_checkpoints(batch.iter().map(|(_, c)| c));
                q = group.inner.lock().expect("group lock");
                q.leading = false;
                let ok = result.is_ok();
                if ok {
                    q.counted.0 += 1;
                    q.counted.1 += batch.len() as u64;
                }
                for (t, c) in batch {
                    // A failed group hands each its checkpoint back.
                    q.answered.insert(t, (!ok).then_some(c));
                }
                group.done.notify_all();
                continue;
            }
            q = group.done.wait(q).expect("group lock");
        }
    }

    /// (group commits, checkpoints they held) since the store was opened.
    pub fn group_stats(&self) -> (u64, u64) {
        self.group.inner.lock().expect("group lock").counted
    }

    /// One commit of `checkpoints`, in order.
    fn commit_checkpoints<'a>(
        &self,
        checkpoints: impl IntoIterator<Item = &'a Checkpoint>,
    ) -> Result<(), StoreError> {
        let (_db, tx) = self.begin_write()?;
        {
            let mut c = tx.open_table(CONVERSATIONS).map_err(|e| self.err(e))?;
            let mut t = tx.open_table(INTENTS).map_err(|e| self.err(e))?;
            let mut g = tx.open_table(PROGRESS).map_err(|e| self.err(e))?;
            for cp in checkpoints {
                let (p, id) = (cp.pipeline.as_str(), cp.conversation_id.as_str());
                c.insert(key(&[p, id]).as_str(), cp.state.as_slice())
                    .map_err(|e| self.err(e))?;
                for ext in &cp.settled {
                    t.remove(key(&[p, id, ext]).as_str())
                        .map_err(|e| self.err(e))?;
                }
                for (ext, bytes) in &cp.intents {
                    t.insert(key(&[p, id, ext]).as_str(), bytes.as_slice())
                        .map_err(|e| self.err(e))?;
                }
                // The held index follows the checkpoint, in its commit.
                let k = progress_key::held(p, id);
                match &cp.held {
                    Some(bytes) => g.insert(k.as_str(), bytes.as_slice()).map(drop),
                    None => g.remove(k.as_str()).map(drop),
                }
                .map_err(|e| self.err(e))?;
            }
        }
        self.commit(tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn checkpoints_written_side_by_side_are_each_committed_and_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("convsync.redb");
        let store = Arc::new(Store::open(&path).unwrap());
        let (threads, each) = (8, 40);
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..each {
                        let id = format!("c{t}-{i}");
                        let state = ConversationState {
                            delivered: i,
                            target_conversation_id: Some(format!("h{t}-{i}")),
                            ..ConversationState::default()
                        };
                        let intent = Intent {
                            external_id: format!("x{t}-{i}"),
                            mark: StoredMark::Key(format!("k{i}")),
                            event_id: None,
                        };
                        store
                            .checkpoint_with_intents("lp", &id, &state, &[], &[intent])
                            .unwrap();
                        // What a caller was told is committed reads back.
                        let read = store.conversation("lp", &id).unwrap().unwrap();
                        assert_eq!(read, state);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let (commits, held) = store.group_stats();
        assert_eq!(held, threads * each);
        assert!(commits >= 1 && commits <= held, "{commits} commits");
        drop(store);
        let store = Store::open(&path).unwrap();
        for t in 0..threads {
            for i in 0..each {
                let id = format!("c{t}-{i}");
                assert_eq!(store.conversation("lp", &id).unwrap().unwrap().delivered, i);
                let pending = store.pending_intents_of("lp", &id).unwrap();
                assert_eq!(pending.len(), 1, "{id}");
                assert_eq!(pending[0].external_id, format!("x{t}-{i}"));
            }
        }
    }
}
