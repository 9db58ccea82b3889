//! The checkpoint store (redb, `<state_dir>/convsync.redb`): per
//! conversation what was delivered, delivery intents, discovery watermarks
//! and dead letters.
//!
//! Every commit is `Durability::Immediate` (a crash loses nothing
//! committed) and a conversation's changes go in one transaction. The API is
//! blocking: async callers run it on `spawn_blocking`.

use crate::format::{LpResume, Mark};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The layout this build reads and writes. 2: a resume point's record
/// keys are 128-bit digests (1 held them whole). 3: a closed conversation
/// whose every record is delivered is sealed (its resume point becomes one
/// digest), and pruned conversations are one row each.
pub const SCHEMA_VERSION: u64 = 3;
const APP: &str = "convsync";

const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
const CONVERSATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("conversations");
const INTENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("intents");
const WATERMARKS: TableDefinition<&str, i64> = TableDefinition::new("watermarks");
const DEAD_LETTERS: TableDefinition<&str, &[u8]> = TableDefinition::new("dead_letters");
const PROGRESS: TableDefinition<&str, &[u8]> = TableDefinition::new("progress");
/// Schema 2's pruned conversations: per pipeline, one string of digests.
const PRUNED_V2: TableDefinition<&str, &str> = TableDefinition::new("pruned");
/// The conversations pruned from a pipeline: (pipeline, digest of the
/// conversation id) -> its last update (ms), one row each.
const PRUNED: TableDefinition<(&str, u128), i64> = TableDefinition::new("pruned_ids");

/// redb's page cache.
const CACHE_BYTES: usize = 2 << 20;

/// Keys join their parts with a unit separator (not in ids we see).
const SEP: char = '\u{1f}';

fn key(parts: &[&str]) -> String {
    parts.join(&SEP.to_string())
}

/// The conversation part of a `pipeline, conversation, ...` key.
fn conversation_of(key: &str) -> String {
    key.split(SEP).nth(1).unwrap_or_default().to_owned()
}

/// The keys of the progress table, all in one place: what each job keeps
/// there and under which name.
pub mod progress_key {
    /// A Hubster conversation's export cursor (its `leid`) in a pipeline.
    pub fn export(pipeline: &str, hub_conversation_id: &str) -> String {
        format!("export:{pipeline}:{hub_conversation_id}")
    }

    /// A migration's state (runs, totals, its pinned `since`).
    pub fn migration(name: &str) -> String {
        format!("migration:{name}")
    }

    /// A daemon's backoff after failed cycles (failures, until, why).
    pub fn backoff(pipeline: &str) -> String {
        format!("backoff:{pipeline}")
    }

    /// The last prune of a pipeline.
    pub fn pruned(pipeline: &str) -> String {
        format!("pruned:{pipeline}")
    }

    /// A job handed to the running daemon (kept until it ends, so that a
    /// daemon killed during it resumes it).
    pub fn job(id: &str) -> String {
        format!("job:{id}")
    }

    /// The rate and concurrency an upstream learned (`"auto"`).
    pub fn pace(upstream: &str) -> String {
        format!("pace:{upstream}")
    }

    /// What `liveperson.transcripts = "auto"` learned for an account.
    pub fn transcript_route(account: &str) -> String {
        format!("liveperson:transcripts:{account}")
    }

    /// A backfill's finished windows: one per pipeline, range and id list
    /// (`until`: epoch ms, or "now"; `ids`: a digest of the list, or "all").
    pub fn backfill(pipeline: &str, since_ms: i64, until: &str, ids: &str) -> String {
        format!("backfill:{pipeline}:{since_ms}:{until}:{ids}")
    }
}

/// What the store knows of one (pipeline, conversation). Stored as JSON
/// with one-letter names (schema 3; the long names of 1 and 2 still
/// read): a store holds one of these per conversation for 13 months.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationState {
    /// What was delivered (sequences, status keys, last eventId); empty
    /// once sealed.
    #[serde(
        rename = "r",
        alias = "resume",
        default,
        skip_serializing_if = "LpResume::is_empty"
    )]
    pub resume: LpResume,
    /// The target's conversation id (Hubster), once established.
    #[serde(
        rename = "t",
        alias = "target_conversation_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub target_conversation_id: Option<String>,
    /// Activities delivered so far.
    #[serde(rename = "n", alias = "delivered", default)]
    pub delivered: u64,
    /// Failed runs in a row.
    #[serde(
        rename = "a",
        alias = "attempts",
        default,
        skip_serializing_if = "is_zero"
    )]
    pub attempts: u32,
    #[serde(
        rename = "x",
        alias = "last_error",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_error: Option<String>,
    #[serde(
        rename = "p",
        alias = "last_polled_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_polled_ms: Option<i64>,
    /// The source's latest update time when last synced.
    #[serde(
        rename = "u",
        alias = "last_updated_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_updated_ms: Option<i64>,
    /// The latest eventId the target gave a delivered activity (Hubster
    /// assigns its own; the resume point keeps convsync's, which follow the
    /// source's timestamps).
    #[serde(
        rename = "e",
        alias = "target_event_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub target_event_id: Option<i64>,
    /// When the intents of the last try were written (its posts came
    /// after): until the target's settle time has passed since, an
    /// activity not yet seen there may still arrive.
    #[serde(
        rename = "w",
        alias = "intents_written_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub intents_written_ms: Option<i64>,
    /// Set when the source said the conversation is closed and every
    /// activity it converts to was delivered: a digest of their
    /// externalIds, which stands for the resume point (then empty). The
    /// same records read again are recognised by it; changed ones are
    /// looked up in the target before anything is sent.
    #[serde(
        rename = "s",
        alias = "sealed",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sealed: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An activity about to be sent: if the process dies before the checkpoint
/// records it, recovery asks the target whether it arrived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub external_id: String,
    /// What marks it delivered in the resume point.
    pub mark: StoredMark,
    pub event_id: Option<i64>,
}

/// [`Mark`], owned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredMark {
    Sequence { dialog_id: String, sequence: i64 },
    Key(String),
}

impl From<&Mark<'_>> for StoredMark {
    fn from(m: &Mark) -> Self {
        match m {
            Mark::Sequence {
                dialog_id,
                sequence,
            } => StoredMark::Sequence {
                dialog_id: (*dialog_id).to_owned(),
                sequence: *sequence,
            },
            Mark::Key(k) => StoredMark::Key(k.clone()),
        }
    }
}

impl StoredMark {
    pub fn as_mark(&self) -> Mark<'_> {
        match self {
            StoredMark::Sequence {
                dialog_id,
                sequence,
            } => Mark::Sequence {
                dialog_id,
                sequence: *sequence,
            },
            StoredMark::Key(k) => Mark::Key(k.clone()),
        }
    }
}

/// What a prune removed from a pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pruned {
    pub pipeline: String,
    pub at_ms: i64,
    /// Nothing last updated at or after this was touched.
    pub cutoff_ms: i64,
    pub conversations: u64,
    /// Digests of conversations pruned before, forgotten (the source can
    /// no longer return them).
    #[serde(default)]
    pub forgotten: u64,
    pub dead_letters: u64,
    /// Finished backfill windows ending before the cutoff.
    pub progress: u64,
    /// The file's size before and after (after compacting, if it was).
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub compacted: bool,
}

/// A conversation set aside after its retry budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub pipeline: String,
    pub conversation_id: String,
    /// `convert`, `http`, `target`, ...
    pub class: String,
    pub message: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub attempts: u32,
}

/// A job a running daemon took over for a command, kept in the progress
/// table while it runs (`job:<id>`), so that a daemon killed during it
/// resumes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptJob {
    /// The job, as the engine describes it (its `kind` says which).
    pub job: serde_json::Value,
    pub started_ms: i64,
    /// In words, for `status` (empty in jobs kept by older versions).
    #[serde(default)]
    pub described: String,
}

impl KeptJob {
    /// In words: as described, else its kind.
    pub fn describe(&self) -> String {
        if self.described.is_empty() {
            self.job["kind"].as_str().unwrap_or("job").to_owned()
        } else {
            self.described.clone()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("another convsync is using {0}")]
    InUse(PathBuf),
    #[error(
        "{path} was written by a newer convsync (store schema {found}; this one reads {SCHEMA_VERSION}): upgrade convsync"
    )]
    Newer { path: PathBuf, found: u64 },
    #[error("{0} is not a convsync store")]
    Foreign(PathBuf),
    #[error("store {path}: {source}")]
    Db {
        path: PathBuf,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The open store.
pub struct Store {
    /// Shared by every transaction (each holds a read guard while it
    /// lives); taken whole only to compact the file.
    db: std::sync::RwLock<Database>,
    path: PathBuf,
    commits: AtomicU64,
    commit_nanos: AtomicU64,
    /// When this process opened it (epoch ms): a process that held it
    /// before had stopped by then.
    opened_ms: i64,
    /// How long each commit took (seconds).
    pub commit_seconds: prometheus_client::metrics::histogram::Histogram,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db_err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Db {
            path: path.to_owned(),
            source: e,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| db_err(e.into()))?;
        }
        // A small page cache: checkpoints are written once per conversation
        // and read once per sync, so caching the whole file (redb's default
        // allows a gigabyte) would only make memory grow with the store.
        let db = match Database::builder().set_cache_size(CACHE_BYTES).create(path) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::InUse(path.to_owned()));
            }
            Err(redb::DatabaseError::Storage(redb::StorageError::Io(e)))
                if e.kind() == std::io::ErrorKind::InvalidData =>
            {
                return Err(StoreError::Foreign(path.to_owned()));
            }
            // Not a redb file (or one of an older redb format): not ours.
            Err(
                redb::DatabaseError::Storage(redb::StorageError::Corrupted(_))
                | redb::DatabaseError::UpgradeRequired(_),
            ) => {
                return Err(StoreError::Foreign(path.to_owned()));
            }
            Err(e) => return Err(db_err(e.into())),
        };
        let store = Store {
            db: std::sync::RwLock::new(db),
            path: path.to_owned(),
            commits: AtomicU64::new(0),
            commit_nanos: AtomicU64::new(0),
            opened_ms: crate::clock::now_ms(),
            // 0.1 ms to about 1.6 s.
            commit_seconds: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 15),
            ),
        };
        store.check_schema()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// When this process opened the store (epoch ms). Only one process
    /// holds it at a time, so whatever an earlier one did, it did before.
    pub fn opened_ms(&self) -> i64 {
        self.opened_ms
    }

    fn begin_read(
        &self,
    ) -> Result<
        (
            std::sync::RwLockReadGuard<'_, Database>,
            redb::ReadTransaction,
        ),
        StoreError,
    > {
        let db = self.db.read().expect("db lock");
        let tx = db.begin_read().map_err(|e| self.err(e))?;
        Ok((db, tx))
    }

    fn begin_write(
        &self,
    ) -> Result<
        (
            std::sync::RwLockReadGuard<'_, Database>,
            redb::WriteTransaction,
        ),
        StoreError,
    > {
        let db = self.db.read().expect("db lock");
        let tx = db.begin_write().map_err(|e| self.err(e))?;
        Ok((db, tx))
    }

    /// Gives the space freed by deletions back to the file system (waits
    /// for the transactions in progress). Whether anything was compacted.
    pub fn compact(&self) -> Result<bool, StoreError> {
        let mut db = self.db.write().expect("db lock");
        db.compact().map_err(|e| self.err(e))
    }

    /// Compacts the file when free space (pages that copy-on-write commits
    /// and prunes left behind) is at least `min_share` of it and at least
    /// `min_free` bytes. Whether it did. (redb grows a file by doubling it,
    /// so a file up to twice its data is normal: `min_share` of 0.5 or more
    /// compacts only what that does not explain.)
    pub fn compact_if_wasteful(&self, min_free: u64, min_share: f64) -> Result<bool, StoreError> {
        let used = {
            let (_db, tx) = self.begin_write()?;
            let st = tx.stats().map_err(|e| self.err(e))?;
            tx.abort().map_err(|e| self.err(e))?;
            st.allocated_pages() * st.page_size() as u64
        };
        let file = self.size();
        let free = file.saturating_sub(used);
        if free < min_free || (free as f64) < min_share * file as f64 {
            return Ok(false);
        }
        let compacted = self.compact()?;
        tracing::info!(
            path = %self.path.display(),
            bytes_before = file,
            bytes_after = self.size(),
            "compacted the store"
        );
        Ok(compacted)
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }

    fn err(&self, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            source: e.into(),
        }
    }

    /// Stamps a new store; refuses one of another app or a newer schema.
    fn check_schema(&self) -> Result<(), StoreError> {
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

    fn commit(&self, mut tx: redb::WriteTransaction) -> Result<(), StoreError> {
        let start = std::time::Instant::now();
        tx.set_durability(redb::Durability::Immediate)
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        let took = start.elapsed();
        self.commit_seconds.observe(took.as_secs_f64());
        self.commit_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// (commits, total seconds they took) since the store was opened.
    pub fn commit_stats(&self) -> (u64, f64) {
        (
            self.commits.load(Ordering::Relaxed),
            self.commit_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        )
    }

    fn decode<T: for<'de> Deserialize<'de>>(&self, bytes: &[u8]) -> Result<T, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| self.err(format!("corrupt record: {e}")))
    }

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
            for i in intents {
                let bytes = serde_json::to_vec(i).expect("intents serialize");
                t.insert(
                    key(&[pipeline, conversation_id, &i.external_id]).as_str(),
                    bytes.as_slice(),
                )
                .map_err(|e| self.err(e))?;
            }
        }
        self.commit(tx)
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
    fn intents_under(&self, prefix: &str) -> Result<Vec<(String, Intent)>, StoreError> {
        self.rows_under(INTENTS, prefix)?
            .into_iter()
            .map(|(k, v)| Ok((conversation_of(&k), self.decode(&v)?)))
            .collect()
    }

    /// The rows of `table` whose key starts with `prefix` and a separator.
    fn rows_under(
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
        let (_db, tx) = self.begin_write()?;
        {
            let mut c = tx.open_table(CONVERSATIONS).map_err(|e| self.err(e))?;
            let bytes = serde_json::to_vec(state).expect("states serialize");
            c.insert(key(&[pipeline, conversation_id]).as_str(), bytes.as_slice())
                .map_err(|e| self.err(e))?;
            let mut t = tx.open_table(INTENTS).map_err(|e| self.err(e))?;
            for ext in settled {
                t.remove(key(&[pipeline, conversation_id, ext]).as_str())
                    .map_err(|e| self.err(e))?;
            }
            for i in intents {
                let bytes = serde_json::to_vec(i).expect("intents serialize");
                t.insert(
                    key(&[pipeline, conversation_id, &i.external_id]).as_str(),
                    bytes.as_slice(),
                )
                .map_err(|e| self.err(e))?;
            }
        }
        self.commit(tx)
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

    /// Progress of a long job (a backfill, a migration), by its key.
    pub fn progress<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let (_db, tx) = self.begin_read()?;
        let t = tx.open_table(PROGRESS).map_err(|e| self.err(e))?;
        let found = t.get(key).map_err(|e| self.err(e))?;
        found.map(|v| self.decode(v.value())).transpose()
    }

    pub fn set_progress<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let (_db, tx) = self.begin_write()?;
        {
            let mut t = tx.open_table(PROGRESS).map_err(|e| self.err(e))?;
            let bytes = serde_json::to_vec(value).expect("progress serializes");
            t.insert(key, bytes.as_slice()).map_err(|e| self.err(e))?;
        }
        self.commit(tx)
    }

    /// Every progress entry whose key starts with `prefix`, by key.
    pub fn progress_under<T: for<'de> Deserialize<'de>>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let (_db, tx) = self.begin_read()?;
        let t = tx.open_table(PROGRESS).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in t.range(prefix..).map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push((k.value().to_owned(), self.decode(v.value())?));
        }
        Ok(out)
    }

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

    /// Forgets a progress entry; whether there was one.
    pub fn remove_progress(&self, key: &str) -> Result<bool, StoreError> {
        let (_db, tx) = self.begin_write()?;
        let was = {
            let mut t = tx.open_table(PROGRESS).map_err(|e| self.err(e))?;
            t.remove(key).map_err(|e| self.err(e))?.is_some()
        };
        self.commit(tx)?;
        Ok(was)
    }

    pub fn watermark(&self, pipeline: &str) -> Result<Option<i64>, StoreError> {
        let (_db, tx) = self.begin_read()?;
        let t = tx.open_table(WATERMARKS).map_err(|e| self.err(e))?;
        Ok(t.get(pipeline).map_err(|e| self.err(e))?.map(|v| v.value()))
    }

    /// Moves the discovery watermark (never backwards).
    pub fn set_watermark(&self, pipeline: &str, ms: i64) -> Result<(), StoreError> {
        let (_db, tx) = self.begin_write()?;
        {
            let mut t = tx.open_table(WATERMARKS).map_err(|e| self.err(e))?;
            let cur = t.get(pipeline).map_err(|e| self.err(e))?.map(|v| v.value());
            if cur.is_none_or(|c| c < ms) {
                t.insert(pipeline, ms).map_err(|e| self.err(e))?;
            }
        }
        self.commit(tx)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_second_open_says_another_convsync_is_using_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("convsync.redb");
        let _first = Store::open(&path).unwrap();
        let e = Store::open(&path).err().unwrap().to_string();
        assert_eq!(e, format!("another convsync is using {}", path.display()));
    }

    #[test]
    fn newer_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("convsync.redb");
        {
            let db = Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut m = tx.open_table(META).unwrap();
                m.insert("app", APP).unwrap();
                m.insert("schema_version", "99").unwrap();
            }
            tx.commit().unwrap();
        }
        let e = Store::open(&path).err().unwrap().to_string();
        assert!(e.contains("newer convsync") && e.contains("99"), "{e}");
        let other = dir.path().join("other.redb");
        {
            let db = Database::create(&other).unwrap();
            let tx = db.begin_write().unwrap();
            tx.open_table(TableDefinition::<&str, &str>::new("something"))
                .unwrap();
            {
                let mut m = tx.open_table(META).unwrap();
                m.insert("app", "someone-else").unwrap();
            }
            tx.commit().unwrap();
        }
        assert!(matches!(Store::open(&other), Err(StoreError::Foreign(_))));
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello, this is not a database at all ".repeat(200)).unwrap();
        let e = Store::open(&text).err().unwrap();
        assert!(matches!(e, StoreError::Foreign(_)), "{e}");
    }
}

#[cfg(test)]
mod progress_tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn progress_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("c.redb")).unwrap();
        let mut set: BTreeSet<(i64, i64)> = BTreeSet::new();
        set.insert((1, 2));
        s.set_progress("k", &set).unwrap();
        let back: Option<BTreeSet<(i64, i64)>> = s.progress("k").unwrap();
        assert_eq!(back, Some(set));
    }
}
