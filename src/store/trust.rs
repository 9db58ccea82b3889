//! Whether the store can be believed over the target. Commits count a
//! generation (at most one each [`MARK_EVERY`]), and a small marker beside
//! the store (`convsync.generation`) repeats the latest after its commit. At open, a store older than
//! its marker (put back from a copy), a marker without its store (the file
//! lost and made anew), another store's marker, or a copy taken by
//! [`Store::backup`] put in place is noticed: each starts a new trust
//! epoch, and a checkpoint written before it is read against the target
//! before anything is sent on its word. A store found intact costs nothing.

use super::*;
use redb::{ReadableTable, ReadableTableMetadata};
use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

/// What the store was found to be at an open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FoundKind {
    /// The file was missing while its marker said a store had been there.
    Recreated,
    /// The file is an older copy of the store its marker counts.
    Restored,
    /// The file is another store than the one its marker counts.
    Replaced,
    /// The file is a copy taken by `convsync store backup`.
    FromBackup,
}

/// A finding at open that the checkpoints cannot all be believed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FoundKind,
    /// When it was found (epoch ms).
    pub at_ms: i64,
    /// In words.
    pub detail: String,
    /// The trust epoch it started.
    pub epoch: u64,
}

impl Finding {
    /// In words, for `status` and `doctor`.
    pub fn describe(&self) -> String {
        let what = match self.kind {
            FoundKind::Recreated => "found recreated",
            FoundKind::Restored => "found restored from an older copy",
            FoundKind::Replaced => "found replaced by another store",
            FoundKind::FromBackup => "found restored from a backup",
        };
        format!(
            "{what} at {} ({}): checkpoints written before are read against the target before anything is sent on their word",
            crate::clock::format_ms(self.at_ms),
            self.detail
        )
    }
}

/// The marker's width: its JSON, padded (written in place, never shorter).
const MARKER_WIDTH: usize = 120;

/// What the marker beside the store says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Marker {
    store: String,
    generation: u64,
}

/// What a copy taken by [`Store::backup`] records of its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct BackupOf {
    store: String,
    generation: u64,
    at_ms: i64,
}

/// The store's trust, as found at open and kept by each commit.
#[derive(Debug, Default)]
pub(super) struct Trust {
    /// The store's id (META `store_id`), set at open.
    id: std::sync::OnceLock<String>,
    /// The latest commit's generation; none counted before the open's own.
    generation: AtomicU64,
    loaded: AtomicBool,
    epoch: AtomicU64,
    found: Mutex<Option<Finding>>,
    /// The generation the marker holds (written only forwards), and the
    /// marker, open for writing in place.
    marked: Mutex<(u64, Option<std::fs::File>)>,
    marker_failed: AtomicBool,
    /// When a commit last counted a generation.
    last_counted: Mutex<Option<std::time::Instant>>,
}

/// How often a commit counts a generation (and rewrites the marker): a
/// copy of the file taken within this of a crash may go unnoticed by the
/// marker (a copy taken by `store backup` never does), and the count costs
/// a commit nothing measurable.
pub const MARK_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// What `convsync store backup` wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    pub path: PathBuf,
    pub conversations: u64,
    pub generation: u64,
    pub bytes: u64,
}

/// What `convsync store check` found in a store file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checked {
    pub path: PathBuf,
    pub schema: u64,
    pub store_id: Option<String>,
    pub generation: u64,
    /// Per pipeline: conversations, of them sealed, activities delivered.
    pub pipelines: BTreeMap<String, (u64, u64, u64)>,
    pub intents: u64,
    pub dead_letters: u64,
    /// A copy taken by `convsync store backup`: of which generation, when.
    pub backup_of: Option<(u64, i64)>,
    /// The finding of the last open that found one.
    pub finding: Option<Finding>,
    /// It was not closed cleanly: read from a repaired copy (opening it as
    /// the store repairs it the same way).
    pub repaired: bool,
}

use std::collections::BTreeMap;

/// The marker beside the store at `path`.
pub fn marker_path(path: &Path) -> PathBuf {
    path.with_extension("generation")
}

fn read_marker(path: &Path) -> Option<Marker> {
    let text = std::fs::read_to_string(marker_path(path)).ok()?;
    match serde_json::from_str(&text) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(marker = %marker_path(path).display(), error = %e, "the store's generation marker is unreadable: ignored");
            None
        }
    }
}

/// Whether the marker beside `checked`'s file counts another store or a
/// later generation: opened as the store, it would be found restored or
/// replaced.
pub fn behind_its_marker(checked: &Checked) -> bool {
    read_marker(&checked.path).is_some_and(|m| {
        Some(m.store.as_str()) != checked.store_id.as_deref() || m.generation > checked.generation
    })
}

fn meta_get(
    store: &Store,
    meta: &redb::Table<&str, &str>,
    key: &str,
) -> Result<Option<String>, StoreError> {
    Ok(meta
        .get(key)
        .map_err(|e| store.err(e))?
        .map(|v| v.value().to_owned()))
}

impl Store {
    /// At open, in the transaction that checks the schema: the store's id,
    /// generation and epoch; a new epoch when the file is not the store its
    /// marker counts (`existed`: the file was there before this open).
    pub(super) fn examine(
        &self,
        tx: &redb::WriteTransaction,
        existed: bool,
    ) -> Result<(), StoreError> {
        let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
        let id = match meta_get(self, &meta, "store_id")? {
            Some(id) => id,
            None => {
                let seed = format!(
                    "{}:{}:{}",
                    self.path.display(),
                    std::process::id(),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos())
                );
                let id =
                    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, seed.as_bytes()).to_string();
                meta.insert("store_id", id.as_str())
                    .map_err(|e| self.err(e))?;
                id
            }
        };
        let number = |v: Option<String>| v.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let generation = number(meta_get(self, &meta, "generation")?);
        let mut epoch = number(meta_get(self, &meta, "epoch")?);
        let backup_of: Option<BackupOf> =
            meta_get(self, &meta, "backup_of")?.and_then(|v| serde_json::from_str(&v).ok());
        let marker = read_marker(&self.path);
        let now = crate::clock::now_ms();
        let found = match (&backup_of, &marker) {
            (Some(b), _) => Some((
                FoundKind::FromBackup,
                format!(
                    "a backup of generation {} taken {}",
                    b.generation,
                    crate::clock::format_ms(b.at_ms)
                ),
            )),
            (None, Some(m)) if !existed => Some((
                FoundKind::Recreated,
                format!(
                    "{} was missing; its marker counted generation {}",
                    self.path.display(),
                    m.generation
                ),
            )),
            (None, Some(m)) if m.store != id => Some((
                FoundKind::Replaced,
                format!(
                    "the marker counts store {}, the file is store {id}",
                    m.store
                ),
            )),
            (None, Some(m)) if m.generation > generation => Some((
                FoundKind::Restored,
                format!(
                    "the file is at generation {generation}, its marker counted {}",
                    m.generation
                ),
            )),
            _ => None,
        };
        if let Some((kind, detail)) = found {
            epoch += 1;
            let finding = Finding {
                kind,
                at_ms: now,
                detail,
                epoch,
            };
            tracing::warn!(
                store = %self.path.display(),
                "the store was {}",
                finding.describe()
            );
            meta.insert("epoch", epoch.to_string().as_str())
                .map_err(|e| self.err(e))?;
            let json = serde_json::to_string(&finding).expect("findings serialize");
            meta.insert("finding", json.as_str())
                .map_err(|e| self.err(e))?;
            meta.remove("backup_of").map_err(|e| self.err(e))?;
            *self.trust.found.lock().expect("trust lock") = Some(finding);
        }
        let _ = self.trust.id.set(id);
        self.trust.generation.store(generation, Ordering::SeqCst);
        self.trust.epoch.store(epoch, Ordering::SeqCst);
        self.trust.loaded.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// In a transaction about to commit: the next generation, written in
    /// it, when [`MARK_EVERY`] has passed since the last (none before the
    /// store was examined at open: that commit always counts one).
    pub(super) fn next_generation(
        &self,
        tx: &redb::WriteTransaction,
    ) -> Result<Option<u64>, StoreError> {
        if !self.trust.loaded.load(Ordering::SeqCst) {
            return Ok(None);
        }
        {
            let mut last = self.trust.last_counted.lock().expect("trust lock");
            if last.is_some_and(|t| t.elapsed() < MARK_EVERY) {
                return Ok(None);
            }
            *last = Some(std::time::Instant::now());
        }
        let g = self.trust.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
        meta.insert("generation", g.to_string().as_str())
            .map_err(|e| self.err(e))?;
        Ok(Some(g))
    }

    /// After a commit of generation `g`: the marker says so. A marker that
    /// cannot be written only makes the next open notice less.
    pub(super) fn mark(&self, g: u64) {
        use std::os::unix::fs::FileExt;
        let mut marked = self.trust.marked.lock().expect("trust lock");
        if g <= marked.0 {
            return;
        }
        let marker = Marker {
            store: self.trust.id.get().cloned().unwrap_or_default(),
            generation: g,
        };
        // One write in place, of a fixed width (a few microseconds: every
        // commit makes one); a torn one reads as no marker.
        let mut text = serde_json::to_string(&marker).expect("markers serialize");
        while text.len() < MARKER_WIDTH {
            text.push(' ');
        }
        text.push('\n');
        let path = marker_path(&self.path);
        let file = match marked.1.take() {
            Some(f) => Ok(f),
            None => std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path),
        };
        match file.and_then(|f| f.write_all_at(text.as_bytes(), 0).map(|()| f)) {
            Ok(f) => *marked = (g, Some(f)),
            Err(e) => {
                if !self.trust.marker_failed.swap(true, Ordering::Relaxed) {
                    tracing::warn!(marker = %path.display(), error = %e, "cannot write the store's generation marker: a restored copy of the store may go unnoticed");
                }
            }
        }
    }

    /// The trust epoch: checkpoints of an older one are read against the
    /// target before they are believed.
    pub fn epoch(&self) -> u64 {
        self.trust.epoch.load(Ordering::SeqCst)
    }

    /// What this open found the store to be, when it cannot all be
    /// believed.
    pub fn finding(&self) -> Option<Finding> {
        self.trust.found.lock().expect("trust lock").clone()
    }

    /// The latest finding any open made (kept in the store).
    pub fn last_finding(&self) -> Result<Option<Finding>, StoreError> {
        let (_db, tx) = self.begin_read()?;
        let meta = tx.open_table(META).map_err(|e| self.err(e))?;
        let found = meta.get("finding").map_err(|e| self.err(e))?;
        Ok(found.and_then(|v| serde_json::from_str(v.value()).ok()))
    }

    /// Writes a consistent copy of the store to `dest` (one read
    /// transaction: what was committed when it began), through a temporary
    /// file renamed into place. The copy knows it is one: a store opened
    /// from it reads its checkpoints against the target first.
    pub fn backup(&self, dest: &Path) -> Result<Backup, StoreError> {
        let dest_err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Db {
            path: dest.to_owned(),
            source: e,
        };
        let tmp = dest.with_extension("partial");
        let _ = std::fs::remove_file(&tmp);
        let (_db, rtx) = self.begin_read()?;
        let out = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&tmp)
            .map_err(|e| dest_err(e.into()))?;
        let wtx = out.begin_write().map_err(|e| dest_err(e.into()))?;
        let conversations;
        let generation: u64;
        {
            let copy = |def| copy_rows(self, dest, &rtx, &wtx, def);
            conversations = copy(CONVERSATIONS)?;
            for t in [INTENTS, DEAD_LETTERS, PROGRESS] {
                copy(t)?;
            }
            copy_rows(self, dest, &rtx, &wtx, WATERMARKS)?;
            copy_rows(self, dest, &rtx, &wtx, PRUNED)?;
            copy_rows(self, dest, &rtx, &wtx, META)?;
            let meta = rtx.open_table(META).map_err(|e| self.err(e))?;
            generation = meta
                .get("generation")
                .map_err(|e| self.err(e))?
                .and_then(|v| v.value().parse().ok())
                .unwrap_or(0);
            let mut to = wtx.open_table(META).map_err(|e| dest_err(e.into()))?;
            let of = BackupOf {
                store: self.trust.id.get().cloned().unwrap_or_default(),
                generation,
                at_ms: crate::clock::now_ms(),
            };
            let json = serde_json::to_string(&of).expect("backups serialize");
            to.insert("backup_of", json.as_str())
                .map_err(|e| dest_err(e.into()))?;
        }
        drop(rtx);
        let mut wtx = wtx;
        wtx.set_durability(redb::Durability::Immediate)
            .map_err(|e| dest_err(e.into()))?;
        wtx.commit().map_err(|e| dest_err(e.into()))?;
        drop(out);
        std::fs::rename(&tmp, dest).map_err(|e| dest_err(e.into()))?;
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(Backup {
            path: dest.to_owned(),
            conversations,
            generation,
            bytes: std::fs::metadata(dest).map_or(0, |m| m.len()),
        })
    }

    /// Reads a store file without changing it: its schema, its tables and
    /// every checkpoint in them. For an operator about to put one in place.
    pub fn check(path: &Path) -> Result<Checked, StoreError> {
        let err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Db {
            path: path.to_owned(),
            source: e,
        };
        if !path.exists() {
            return Err(err(format!("{} does not exist", path.display()).into()));
        }
        let db = match Database::builder()
            .set_cache_size(CACHE_BYTES)
            .open_read_only(path)
        {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::InUse(path.to_owned()));
            }
            Err(redb::DatabaseError::RepairAborted) => return Self::check_repaired(path),
            Err(e) => return Err(refusal(path, e)),
        };
        let tx = db.begin_read().map_err(|e| err(e.into()))?;
        let meta = tx
            .open_table(META)
            .map_err(|_| StoreError::Foreign(path.to_owned()))?;
        let get = |k: &str| -> Result<Option<String>, StoreError> {
            Ok(meta
                .get(k)
                .map_err(|e| err(e.into()))?
                .map(|v| v.value().to_owned()))
        };
        if get("app")?.as_deref() != Some(APP) {
            return Err(StoreError::Foreign(path.to_owned()));
        }
        let schema: u64 = get("schema_version")?
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Foreign(path.to_owned()))?;
        if schema > SCHEMA_VERSION {
            return Err(StoreError::Newer {
                path: path.to_owned(),
                found: schema,
            });
        }
        let mut checked = Checked {
            path: path.to_owned(),
            schema,
            store_id: get("store_id")?,
            generation: get("generation")?.and_then(|v| v.parse().ok()).unwrap_or(0),
            pipelines: BTreeMap::new(),
            intents: 0,
            dead_letters: 0,
            backup_of: get("backup_of")?
                .and_then(|v| serde_json::from_str::<BackupOf>(&v).ok())
                .map(|b| (b.generation, b.at_ms)),
            finding: get("finding")?.and_then(|v| serde_json::from_str(&v).ok()),
            repaired: false,
        };
        let t = tx.open_table(CONVERSATIONS).map_err(|e| err(e.into()))?;
        for row in t.iter().map_err(|e| err(e.into()))? {
            let (k, v) = row.map_err(|e| err(e.into()))?;
            let pipeline = k.value().split(SEP).next().unwrap_or_default().to_owned();
            let st: ConversationState = serde_json::from_slice(v.value())
                .map_err(|e| err(format!("checkpoint {}: {e}", k.value()).into()))?;
            let p = checked.pipelines.entry(pipeline).or_default();
            p.0 += 1;
            p.1 += u64::from(st.sealed.is_some());
            p.2 += st.delivered;
        }
        for (def, n) in [
            (INTENTS, &mut checked.intents),
            (DEAD_LETTERS, &mut checked.dead_letters),
        ] {
            let t = tx.open_table(def).map_err(|e| err(e.into()))?;
            *n = t.len().map_err(|e| err(e.into()))?;
        }
        for def in [PROGRESS] {
            let t = tx.open_table(def).map_err(|e| err(e.into()))?;
            for row in t.iter().map_err(|e| err(e.into()))? {
                row.map_err(|e| err(e.into()))?;
            }
        }
        let t = tx.open_table(WATERMARKS).map_err(|e| err(e.into()))?;
        t.len().map_err(|e| err(e.into()))?;
        if schema >= 3 {
            let t = tx.open_table(PRUNED).map_err(|e| err(e.into()))?;
            t.len().map_err(|e| err(e.into()))?;
        }
        Ok(checked)
    }

    /// A file that cannot be read without a repair (not closed cleanly, or
    /// cut short): repaired in a copy, so that the file itself is never
    /// written, then checked.
    fn check_repaired(path: &Path) -> Result<Checked, StoreError> {
        let err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Db {
            path: path.to_owned(),
            source: e,
        };
        let dir = tempfile::tempdir().map_err(|e| err(e.into()))?;
        let copy = dir.path().join("convsync.redb");
        std::fs::copy(path, &copy).map_err(|e| err(e.into()))?;
        let repaired = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&copy)
            .map_err(|e| refusal(path, e))?;
        drop(repaired);
        let mut checked = Self::check(&copy).map_err(|e| match e {
            StoreError::Foreign(_) => StoreError::Foreign(path.to_owned()),
            StoreError::Newer { found, .. } => StoreError::Newer {
                path: path.to_owned(),
                found,
            },
            e => e,
        })?;
        checked.path = path.to_owned();
        checked.repaired = true;
        Ok(checked)
    }
}

/// Copies every row of `def` in `rtx` (of `store`) to `wtx` (of the copy
/// at `dest`); how many.
fn copy_rows<K: redb::Key + 'static, V: redb::Value + 'static>(
    store: &Store,
    dest: &Path,
    rtx: &redb::ReadTransaction,
    wtx: &redb::WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64, StoreError> {
    let dest_err = |e: redb::Error| StoreError::Db {
        path: dest.to_owned(),
        source: e.into(),
    };
    let from = rtx.open_table(def).map_err(|e| store.err(e))?;
    let mut to = wtx.open_table(def).map_err(|e| dest_err(e.into()))?;
    let mut n = 0;
    for row in from.iter().map_err(|e| store.err(e))? {
        let (k, v) = row.map_err(|e| store.err(e))?;
        to.insert(k.value(), v.value())
            .map_err(|e| dest_err(e.into()))?;
        n += 1;
    }
    Ok(n)
}

/// What an open's refusal of a file means: not a store (or not whole), or
/// an error reading it.
pub(super) fn refusal(path: &Path, e: redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(path.to_owned()),
        redb::DatabaseError::Storage(redb::StorageError::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            StoreError::Foreign(path.to_owned())
        }
        // Not a redb file, one cut short, or one of an older redb format.
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(_))
        | redb::DatabaseError::UpgradeRequired(_) => StoreError::Foreign(path.to_owned()),
        e => StoreError::Db {
            path: path.to_owned(),
            source: e.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(s: &Store, n: u64) {
        let st = ConversationState {
            delivered: n,
            ..Default::default()
        };
        s.checkpoint("p", "c", &st, &[]).unwrap();
    }

    #[test]
    fn an_intact_store_is_believed_at_every_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("convsync.redb");
        for n in 0..3 {
            let s = Store::open(&path).unwrap();
            assert_eq!((s.epoch(), s.finding()), (0, None), "open {n}");
            touch(&s, n);
        }
        assert!(marker_path(&path).exists());
    }

    #[test]
    fn an_older_copy_a_lost_file_another_store_and_a_backup_are_each_noticed_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("convsync.redb");
        let old = dir.path().join("old.redb");
        {
            let s = Store::open(&path).unwrap();
            touch(&s, 1);
        }
        std::fs::copy(&path, &old).unwrap();
        {
            let s = Store::open(&path).unwrap();
            touch(&s, 2);
        }
        // The older copy put back.
        std::fs::copy(&old, &path).unwrap();
        let found = |kind| {
            let s = Store::open(&path).unwrap();
            let f = s
                .finding()
                .unwrap_or_else(|| panic!("{kind:?} not noticed"));
            assert_eq!(f.kind, kind);
            let epoch = s.epoch();
            drop(s);
            // Noticed once: believed from then on, in its new epoch.
            let s = Store::open(&path).unwrap();
            assert_eq!((s.finding(), s.epoch()), (None, epoch));
            assert_eq!(s.last_finding().unwrap().map(|f| f.kind), Some(kind));
            epoch
        };
        assert_eq!(found(FoundKind::Restored), 1);
        // The file lost: made anew.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(found(FoundKind::Recreated), 1);
        // Another store's file put in its place.
        let other_dir = tempfile::tempdir().unwrap();
        let other = other_dir.path().join("convsync.redb");
        drop(Store::open(&other).unwrap());
        std::fs::copy(&other, &path).unwrap();
        assert_eq!(found(FoundKind::Replaced), 1);
        // A backup put in place, even where no marker is.
        let backup = dir.path().join("backup.redb");
        let b = {
            let s = Store::open(&path).unwrap();
            touch(&s, 3);
            s.backup(&backup).unwrap()
        };
        assert_eq!(b.conversations, 1);
        let elsewhere = tempfile::tempdir().unwrap();
        let moved = elsewhere.path().join("convsync.redb");
        std::fs::copy(&backup, &moved).unwrap();
        let s = Store::open(&moved).unwrap();
        assert_eq!(s.finding().map(|f| f.kind), Some(FoundKind::FromBackup));
        assert_eq!(s.epoch(), 2, "the epoch of the store it copies, and one");
        assert_eq!(s.conversation("p", "c").unwrap().unwrap().delivered, 3);
    }

    #[test]
    fn a_backup_is_checked_without_being_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("convsync.redb");
        let backup = dir.path().join("backup.redb");
        let s = Store::open(&path).unwrap();
        touch(&s, 4);
        let b = s.backup(&backup).unwrap();
        let before = std::fs::read(&backup).unwrap();
        let k = Store::check(&backup).unwrap();
        assert_eq!(k.pipelines["p"], (1, 0, 4));
        assert_eq!(k.backup_of.map(|(g, _)| g), Some(b.generation));
        assert_eq!(std::fs::read(&backup).unwrap(), before);
        // The live store, held by this process: in use.
        assert!(matches!(Store::check(&path), Err(StoreError::InUse(_))));
    }
}
