//! Retention: what LivePerson can no longer return leaves the store. The
//! daemon prunes at start and hourly; `convsync prune` is the same as a job.

use crate::config::Config;
use crate::config::migration::Endpoint;
use crate::store::{Pruned, Store, StoreError, progress_key};
use std::sync::Arc;

/// Free space in the store worth a compaction.
const MIN_FREE_TO_COMPACT: u64 = 64 << 10;

/// How long conversations stay, and for which pipelines: those read from
/// the LivePerson API (the daemon's and its migrations').
#[derive(Debug, Clone, PartialEq)]
pub struct Retention {
    pub days: f64,
    pub pipelines: Vec<String>,
}

impl Retention {
    /// `[sync]`'s retention over the daemon's pipeline and those of the
    /// migrations that read the LivePerson API.
    pub fn of(config: &Config) -> Retention {
        let mut pipelines = vec![config.sync.pipeline.clone()];
        for m in &config.migrations {
            if matches!(m.source, Endpoint::Liveperson {})
                && !pipelines.iter().any(|p| p == m.pipeline())
            {
                pipelines.push(m.pipeline().to_owned());
            }
        }
        Retention {
            days: config.sync.retention_days,
            pipelines,
        }
    }

    /// Applies retention as of `now` (epoch ms) to every pipeline;
    /// compacts the file after a prune that removed a tenth of a pipeline
    /// or more (or, with no retention, when it is more than half free).
    pub async fn prune(&self, store: &Arc<Store>, now: i64) -> Result<Vec<Pruned>, StoreError> {
        let mut out = Vec::new();
        if self.days <= 0.0 {
            compact_if_wasteful(store, 0.5).await?;
            return Ok(out);
        }
        let retention = (self.days * 24.0 * 3600.0 * 1000.0) as i64;
        let cutoff = now - retention;
        // A pruned id is remembered for another retention: by then its
        // conversation is twice as old as anything LivePerson returns.
        let forget_before = cutoff.saturating_sub(retention);
        for p in &self.pipelines {
            let (store, p) = (Arc::clone(store), p.clone());
            let r = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
                let mut r = store.prune(&p, cutoff, forget_before, now)?;
                let (left, _) = store.totals(&p)?;
                r.compacted =
                    if r.conversations > 0 && r.conversations * 10 >= left + r.conversations {
                        store.compact()?
                    } else {
                        // More than half the file free: more than redb's growth
                        // by doubling leaves.
                        store.compact_if_wasteful(MIN_FREE_TO_COMPACT, 0.5)?
                    };
                r.bytes_after = store.size();
                store.set_progress(&progress_key::pruned(&p), &r)?;
                Ok(r)
            })
            .await
            .expect("no panic")?;
            out.push(r);
        }
        Ok(out)
    }
}

/// Gives the file's free space back when it is `min_share` of the file or
/// more.
pub async fn compact_if_wasteful(store: &Arc<Store>, min_share: f64) -> Result<bool, StoreError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || store.compact_if_wasteful(MIN_FREE_TO_COMPACT, min_share))
        .await
        .expect("no panic")
}
