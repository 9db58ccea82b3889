//! `dead-letters list|retry|drop`: the conversations a pipeline set aside.
//! Retries and drops are jobs ([`super::jobs`]); the list is read here.

use super::Error;
use super::store::{self, Held};
use crate::config::Config;
use crate::store::DeadLetter;
use crate::sync::jobs::{Job, named_pipeline};

/// A pipeline's dead letters (the store must not be held by a daemon).
pub fn list(config: &Config, named: Option<&str>) -> Result<Vec<DeadLetter>, Error> {
    let store = match store::open_or_daemon(&config.sync)? {
        Held::Here(s) => s,
        Held::Daemon { .. } => {
            return Err(Error::DaemonHoldsStore(format!(
                "the daemon holds the store {}: stop it first (systemctl stop convsync)",
                config.sync.store_path().display()
            )));
        }
    };
    let (pipeline, _) = named_pipeline(config, named);
    Ok(store
        .dead_letters()?
        .into_iter()
        .filter(|d| d.pipeline == pipeline)
        .collect())
}

/// What a retry does to each conversation: a migration's `wrote`, the
/// daemon's `delivered`.
pub fn retry_verb(config: &Config, named: Option<&str>) -> &'static str {
    if named_pipeline(config, named).1.is_some() {
        "wrote"
    } else {
        "delivered"
    }
}

/// The job that retries (or drops) these dead letters.
pub fn job(named: Option<&str>, retry: bool, ids: &[String]) -> Job {
    Job::DeadLetters {
        pipeline: named.map(str::to_owned),
        retry,
        conversation_ids: ids.to_vec(),
    }
}
