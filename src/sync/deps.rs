//! What a run needs, built once by the operation that starts it and handed
//! to the daemon, a backfill or a migration: the store, the mapping, the
//! counters, the HTTP metrics and how the work is paced. The platforms a
//! run reads and writes are its [`Route`](super::pipeline::Route) (LivePerson
//! to a sink) or its export's source and directory; shutdown is the
//! `watch` each run takes as an argument.

use crate::format::Mapping;
use crate::http::{Metrics, PauseMemory, Upstream};
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
}

impl Deps {
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

/// Upstreams' pauses kept in the store (progress table), so that a
/// Retry-After binds the next process as well.
pub struct StoredPauses(pub Arc<Store>);

impl PauseMemory for StoredPauses {
    fn load(&self, upstream: &str) -> Option<i64> {
        match self
            .0
            .progress::<i64>(&crate::store::progress_key::pause(upstream))
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(upstream, error = %e, "cannot read the kept pause");
                None
            }
        }
    }

    fn save(&self, upstream: &str, until_ms: i64) {
        if let Err(e) = self
            .0
            .set_progress(&crate::store::progress_key::pause(upstream), &until_ms)
        {
            tracing::warn!(upstream, error = %e, "cannot keep the pause");
        }
    }
}

/// Makes `upstreams` keep their pauses in `store` (and honour the ones an
/// earlier process left). Blocking: call at setup.
pub fn keep_pauses_in(store: &Arc<Store>, upstreams: &[&Upstream]) {
    let memory: Arc<dyn PauseMemory> = Arc::new(StoredPauses(Arc::clone(store)));
    for u in upstreams {
        u.remember_pauses(Arc::clone(&memory));
    }
}
