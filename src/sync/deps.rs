//! What a run needs, built once by the operation that starts it and handed
//! to the daemon, a backfill or a migration: the store, the mapping, the
//! counters, the HTTP metrics and how the work is paced. The platforms a
//! run reads and writes are its [`Route`](super::pipeline::Route) (LivePerson
//! to a sink) or its export's source and directory; shutdown is the
//! `watch` each run takes as an argument.

use crate::format::Mapping;
use crate::http::pace::Learned;
use crate::http::{Metrics, PaceMemory, PauseMemory, Upstream};
use crate::store::{Store, StoreError};
use crate::telemetry::Counters;
use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::sync::Arc;

/// How a set of conversations is worked.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The name checkpoints and dead letters are kept under.
    pub pipeline: String,
    /// Conversations at once.
    pub concurrency: NonZeroUsize,
    /// Failed runs (or passes) before a conversation is given up.
    pub retry_budget: u32,
}

impl Settings {
    /// `[sync]`'s, under another pipeline name.
    pub fn from_sync(sync: &crate::config::SyncConfig, pipeline: &str) -> Settings {
        Settings {
            pipeline: pipeline.to_owned(),
            concurrency: sync.concurrency,
            retry_budget: sync.retry_budget,
        }
    }
}

/// The dependencies of a run.
pub struct Deps {
    pub settings: Settings,
    pub store: Arc<Store>,
    pub mapping: Arc<Mapping>,
    pub counters: Arc<Counters>,
    pub http: Arc<Metrics>,
    /// The conversations being worked now, by whoever shares this store
    /// (live sync and the jobs the daemon runs beside it).
    pub claims: Arc<Claims>,
}

/// Conversations being worked: a claim waits while another holds the same key.
#[derive(Debug, Default)]
pub struct Claims {
    held: std::sync::Mutex<std::collections::HashSet<String>>,
    freed: tokio::sync::Notify,
}

/// A held claim, released when dropped.
pub struct Claim<'a> {
    claims: &'a Claims,
    key: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.claims
            .held
            .lock()
            .expect("claims lock")
            .remove(&self.key);
        self.claims.freed.notify_waiters();
    }
}

impl Claims {
    /// Waits until nobody else holds `key`, and holds it.
    pub async fn claim(&self, key: String) -> Claim<'_> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.held.lock().expect("claims lock").insert(key.clone()) {
                return Claim { claims: self, key };
            }
            freed.await;
        }
    }
}

impl Deps {
    /// What another pipeline's run needs beside this one: the same store,
    /// mapping, HTTP metrics and claims, counters of its own.
    pub fn beside(&self, settings: Settings) -> Deps {
        Deps {
            settings,
            store: Arc::clone(&self.store),
            mapping: Arc::clone(&self.mapping),
            counters: Arc::new(Counters::default()),
            http: Arc::clone(&self.http),
            claims: Arc::clone(&self.claims),
        }
    }

    /// Runs blocking store work off the async threads.
    pub async fn store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        blocking(&self.store, f).await
    }

    /// The pipeline's dead letters.
    pub async fn dead_letter_ids(&self) -> Result<BTreeSet<String>, StoreError> {
        let p = self.settings.pipeline.clone();
        self.store(move |s| s.dead_letter_ids(&p)).await
    }
}

/// Runs blocking store work off the async threads.
pub async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .expect("store work does not panic")
}

/// Upstreams' pauses kept beside the store (`convsync.pauses` in the
/// state directory: `{"<upstream>": <until, epoch ms>}`), so that a
/// Retry-After binds the next process as well. A plain file, replaced
/// whole (write, then rename), because it must be quick: it is written
/// between a 429 and the next request, and a process killed before the
/// write ends has not kept the pause (the page cache outlives a killed
/// process; a redb commit that must reach the disk first took long enough
/// under load to lose some).
pub struct KeptPauses {
    path: std::path::PathBuf,
    lock: std::sync::Mutex<()>,
}

impl KeptPauses {
    pub fn beside(store: &Store) -> KeptPauses {
        KeptPauses {
            path: store.path().with_file_name("convsync.pauses"),
            lock: std::sync::Mutex::new(()),
        }
    }

    fn read(&self) -> std::collections::BTreeMap<String, i64> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

impl PauseMemory for KeptPauses {
    fn load(&self, upstream: &str) -> Option<i64> {
        self.read().get(upstream).copied()
    }

    fn save(&self, upstream: &str, until_ms: i64) {
        let _one = self.lock.lock().expect("pauses lock");
        let mut all = self.read();
        let now = crate::clock::now_ms();
        all.retain(|_, until| *until > now);
        let e = all.entry(upstream.to_owned()).or_insert(until_ms);
        *e = (*e).max(until_ms);
        let tmp = self.path.with_extension("pauses.tmp");
        let text = serde_json::to_vec(&all).expect("pauses serialize");
        if let Err(e) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &self.path))
        {
            tracing::warn!(upstream, error = %e, path = %self.path.display(), "cannot keep the pause");
        }
    }
}

/// Learned rates and concurrency, in the store's progress table.
pub struct StoredPaces(pub Arc<Store>);

impl PaceMemory for StoredPaces {
    fn load(&self, upstream: &str) -> Option<Learned> {
        self.0
            .progress::<Learned>(&crate::store::progress_key::pace(upstream))
            .ok()
            .flatten()
    }

    fn save(&self, upstream: &str, learned: Learned) {
        if let Err(e) = self
            .0
            .set_progress(&crate::store::progress_key::pace(upstream), &learned)
        {
            tracing::warn!(upstream, error = %e, "cannot keep the learned pace");
        }
    }
}

/// Makes `upstreams` keep their pauses beside `store` (and honour the ones
/// an earlier process left), and their learned pace in it (starting where
/// the last run left it). Call at setup.
pub fn keep_pauses_in(store: &Arc<Store>, upstreams: &[&Upstream]) {
    let memory: Arc<dyn PauseMemory> = Arc::new(KeptPauses::beside(store));
    let paces: Arc<dyn PaceMemory> = Arc::new(StoredPaces(Arc::clone(store)));
    for u in upstreams {
        u.remember_pauses(Arc::clone(&memory));
        u.remember_paces(Arc::clone(&paces));
    }
}
