//! Handing a job to the running daemon: when the daemon holds the store, a
//! backfill, a migration or a dead-letter retry or drop goes to it over
//! its control socket instead of stopping it.

use super::Error;
use crate::config::SyncConfig;
use crate::control::{Job, Reply};
use crate::store::{Store, StoreError};
use std::path::PathBuf;
use tokio::sync::watch;

/// The control socket of the daemon holding the store, if a daemon holds
/// it; `None` when the job can run here (no store yet, or a free one).
pub fn daemon_socket(sync: &SyncConfig) -> Result<Option<PathBuf>, Error> {
    let path = sync.store_path();
    if !path.exists() {
        return Ok(None);
    }
    match Store::open(&path) {
        Ok(_) => Ok(None),
        Err(source @ StoreError::InUse(_)) => {
            let socket = sync.control_socket();
            if socket.exists() {
                Ok(Some(socket))
            } else {
                Err(Error::StoreInUse {
                    source,
                    hint: ", and offers no control socket (a one-shot job, or a daemon of an older version): wait for it, or stop it",
                })
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Hands `job` to the daemon at `socket` and follows it to its end: `on`
/// gets the progress; the last reply is returned (a failure there as an
/// error).
pub async fn hand_over(
    socket: &std::path::Path,
    job: Job,
    cancel: watch::Receiver<bool>,
    on: &mut dyn FnMut(Reply),
) -> Result<Reply, Error> {
    match crate::control::submit(socket, job, cancel, on).await? {
        Reply::Failed {
            message,
            usage: true,
        } => Err(Error::Usage(message)),
        Reply::Failed { message, .. } => Err(Error::Remote(message)),
        r => Ok(r),
    }
}
