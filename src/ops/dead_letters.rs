//! `dead-letters list|retry|drop`: the conversations a pipeline set aside.

use super::Error;
use super::store::{self, Held};
use crate::config::{Config, MigrationConfig};
use crate::store::{DeadLetter, Store};
use crate::sync::daemon::Daemon;
use crate::sync::migrate::Migration;
use crate::sync::pipeline::LpWork;
use crate::sync::runner::Work;
use std::sync::Arc;

/// A pipeline's dead letters, with the store open.
pub struct DeadLetters {
    config: Config,
    store: Arc<Store>,
    /// Whose: the pipeline name.
    pub pipeline: String,
    /// The migration whose pipeline it is, when it is a migration's.
    migration: Option<MigrationConfig>,
}

impl DeadLetters {
    /// `pipeline`: a pipeline or a migration's name (default: the daemon's).
    pub fn open(config: &Config, pipeline: Option<&str>) -> Result<DeadLetters, Error> {
        // A migration's name stands for its pipeline.
        let migration = pipeline.and_then(|p| {
            config
                .migrations
                .iter()
                .find(|m| m.name == p || m.pipeline() == p)
                .cloned()
        });
        let store = match store::open_or_daemon(&config.sync)? {
            Held::Here(s) => Arc::new(s),
            Held::Daemon { .. } => {
                return Err(Error::DaemonHoldsStore(format!(
                    "the daemon holds the store {}: stop it first (systemctl stop convsync)",
                    config.sync.store_path().display()
                )));
            }
        };
        let pipeline = match (&migration, pipeline) {
            (Some(m), _) => m.pipeline().to_owned(),
            (None, Some(p)) => p.to_owned(),
            (None, None) => config.sync.pipeline.clone(),
        };
        Ok(DeadLetters {
            config: config.clone(),
            store,
            pipeline,
            migration,
        })
    }

    pub fn list(&self) -> Result<Vec<DeadLetter>, Error> {
        Ok(self
            .store
            .dead_letters()?
            .into_iter()
            .filter(|d| d.pipeline == self.pipeline)
            .collect())
    }

    /// Forgets these; for each, whether it was a dead letter.
    pub fn drop_ids(&self, ids: &[String]) -> Result<Vec<(String, bool)>, Error> {
        ids.iter()
            .map(|id| {
                Ok((
                    id.clone(),
                    self.store.remove_dead_letter(&self.pipeline, id)?,
                ))
            })
            .collect()
    }

    /// What a retry does to each: a migration's `wrote`, the daemon's
    /// `delivered`.
    pub fn retry_verb(&self) -> &'static str {
        if self.of_migration().is_some() {
            "wrote"
        } else {
            "delivered"
        }
    }

    /// A migration with a pipeline of its own (not the daemon's).
    fn of_migration(&self) -> Option<&MigrationConfig> {
        self.migration
            .as_ref()
            .filter(|m| m.pipeline() != self.config.sync.pipeline)
    }

    /// Syncs these now; those that succeed leave the list. `each` gets every
    /// conversation's outcome (items written, or why not). Returns how many
    /// still fail.
    pub async fn retry(
        self,
        ids: &[String],
        each: &mut (dyn FnMut(&str, Result<u64, Error>) + Send),
    ) -> Result<u64, Error> {
        let mut failed = 0;
        if let Some(m) = self.of_migration() {
            let m = Migration::new(&self.config, &m.name)?;
            let mut store_error = None;
            let store = Arc::clone(&self.store);
            let pipeline = self.pipeline.clone();
            let mut one = |id: &str, r: Result<u64, _>| match r {
                Ok(n) => match store.remove_dead_letter(&pipeline, id) {
                    Ok(_) => each(id, Ok(n)),
                    Err(e) => {
                        store_error.get_or_insert(e);
                    }
                },
                Err(e) => {
                    failed += 1;
                    each(id, Err(Error::from(e)));
                }
            };
            m.retry(&self.store, ids, &mut one).await?;
            if let Some(e) = store_error {
                return Err(e.into());
            }
            return Ok(failed);
        }
        // The daemon's pipeline (or another of LivePerson -> Hubster): its
        // own store handle, as the daemon would have it.
        let mut config = self.config.clone();
        config.sync.pipeline = self.pipeline.clone();
        let daemon = Daemon::new(&config, self.store)?;
        let work = LpWork::new(&daemon.deps, &daemon.route);
        for id in ids {
            match work.sync(id).await {
                Ok(n) => {
                    daemon.deps.store.remove_dead_letter(&self.pipeline, id)?;
                    each(id, Ok(n));
                }
                Err(e) => {
                    failed += 1;
                    each(id, Err(crate::sync::daemon::DaemonError::from(e).into()));
                }
            }
        }
        Ok(failed)
    }
}
