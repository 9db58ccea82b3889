//! The checkpoint store (redb, `<state_dir>/convsync.redb`): per
//! conversation what was delivered, delivery intents, discovery watermarks
//! and dead letters.
//!
//! Every commit is `Durability::Immediate` (a crash loses nothing
//! committed) and a conversation's changes go in one transaction. The API is
//! blocking: async callers run it on `spawn_blocking`.

mod conversations;
mod dead_letters;
mod group;
mod progress;
pub mod progress_key;
mod prune;
mod records;
mod schema;
mod trust;

pub use group::Checkpoint;
pub use records::{ConversationState, DeadLetter, Held, Intent, KeptJob, Pruned, StoredMark};
pub use trust::{Backup, Checked, Finding, FoundKind, behind_its_marker, marker_path};

use redb::{Database, ReadableDatabase, TableDefinition};
use serde::Deserialize;
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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("another convsync is using {0}")]
    InUse(PathBuf),
    #[error(
        "{path} was written by a newer convsync (store schema {found}; this one reads {SCHEMA_VERSION}): upgrade convsync"
    )]
    Newer { path: PathBuf, found: u64 },
    #[error(
        "{0} is not a convsync store, or not a whole one (another program's file, or one cut short): nothing was changed; move it aside, or set sync.state_dir to another directory"
    )]
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
    /// Its generation and trust epoch.
    trust: trust::Trust,
    /// Checkpoints waiting to be committed together.
    group: group::Group,
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
        let existed = path.exists();
        // A small page cache: checkpoints are written once per conversation
        // and read once per sync, so caching the whole file (redb's default
        // allows a gigabyte) would only make memory grow with the store.
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| trust::refusal(path, e))?;
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
            trust: trust::Trust::default(),
            group: group::Group::default(),
        };
        store.check_schema(existed)?;
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

    pub(super) fn begin_read(
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

    pub(super) fn begin_write(
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

    pub(super) fn err(&self, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            source: e.into(),
        }
    }

    pub(super) fn commit(&self, mut tx: redb::WriteTransaction) -> Result<(), StoreError> {
        let start = std::time::Instant::now();
        let generation = self.next_generation(&tx)?;
        tx.set_durability(redb::Durability::Immediate)
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        if let Some(g) = generation {
            self.mark(g);
        }
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

    pub(super) fn decode<T: for<'de> Deserialize<'de>>(
        &self,
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| self.err(format!("corrupt record: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
