//! The one way the commands open the store (`<sync.state_dir>/convsync.redb`),
//! and `store backup` / `store check`.

use super::Error;
use crate::config::SyncConfig;
pub use crate::store::Store;
use crate::store::StoreError;
use std::sync::Arc;

/// Opens (creating if needed) the store for a job that writes. Another
/// convsync holding it is [`Error::StoreInUse`], with `hint` (say why the
/// daemon must stop, or "").
pub fn open(sync: &SyncConfig, hint: &'static str) -> Result<Arc<Store>, Error> {
    match Store::open(&sync.store_path()) {
        Ok(s) => Ok(Arc::new(s)),
        Err(source @ StoreError::InUse(_)) => Err(Error::StoreInUse { source, hint }),
        Err(e) => Err(e.into()),
    }
}

/// The store if it exists; `Err(InUse)` inside when another convsync holds it.
pub fn open_existing(sync: &SyncConfig) -> Result<Option<Result<Store, StoreError>>, Error> {
    let path = sync.store_path();
    if !path.exists() {
        return Ok(None);
    }
    match Store::open(&path) {
        Ok(s) => Ok(Some(Ok(s))),
        Err(e @ StoreError::InUse(_)) => Ok(Some(Err(e))),
        Err(e) => Err(e.into()),
    }
}

/// Where the store is held: here, or by a running daemon at this address.
pub enum Held {
    Here(Box<Store>),
    Daemon { endpoint: String },
}

/// Opens a store that must exist, or finds the daemon that holds it (by
/// the address it publishes in the state directory).
pub fn open_or_daemon(sync: &SyncConfig) -> Result<Held, Error> {
    let path = sync.store_path();
    match open_existing(sync)? {
        None => Err(Error::NoStore { path }),
        Some(Ok(s)) => Ok(Held::Here(Box::new(s))),
        Some(Err(_)) => match std::fs::read_to_string(sync.endpoint_file()) {
            Ok(addr) => Ok(Held::Daemon {
                endpoint: addr.trim().to_owned(),
            }),
            Err(e) => Err(Error::DaemonHoldsStore(format!(
                "another convsync is using {}, and it publishes no endpoint: {e}",
                path.display()
            ))),
        },
    }
}

/// `convsync store backup PATH`: a consistent copy of the store, taken by
/// the running daemon when it holds the store (a job, as others are), else
/// here. `dest` must not exist.
pub async fn backup(
    config: &crate::config::Config,
    dest: &std::path::Path,
) -> Result<crate::store::Backup, Error> {
    let dest = std::path::absolute(dest).map_err(|source| Error::Io {
        path: dest.to_owned(),
        source,
    })?;
    if dest.exists() {
        return Err(Error::Argument(format!(
            "{} exists: give a path that does not (a backup never overwrites a file)",
            dest.display()
        )));
    }
    if dest == config.sync.store_path() {
        return Err(Error::Argument(format!(
            "{} is the store itself: give another path",
            dest.display()
        )));
    }
    let runner = super::jobs::Runner::decide(&config.sync, true)?;
    // (Quick: nothing cancels it.)
    let (_keep, never) = tokio::sync::watch::channel(false);
    match runner
        .run(
            config,
            crate::sync::jobs::Job::Backup { path: dest.clone() },
            never,
            &mut |_| {},
        )
        .await?
    {
        super::jobs::Finish::Done(end) => {
            Ok(serde_json::from_value(end.summary).expect("a backup's summary is what it wrote"))
        }
        super::jobs::Finish::Resumes => Err(Error::DaemonHoldsStore(format!(
            "the running daemon stopped before the backup to {} was written; it writes it when it starts again",
            dest.display()
        ))),
    }
}

/// `convsync store check [PATH]`: reads a store file without changing it.
pub fn check(path: &std::path::Path) -> Result<crate::store::Checked, Error> {
    Ok(Store::check(path)?)
}
