//! The one way the commands open the store (`<sync.state_dir>/convsync.redb`).

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
    Here(Store),
    Daemon { endpoint: String },
}

/// Opens a store that must exist, or finds the daemon that holds it (by
/// the address it publishes in the state directory).
pub fn open_or_daemon(sync: &SyncConfig) -> Result<Held, Error> {
    let path = sync.store_path();
    match open_existing(sync)? {
        None => Err(Error::NoStore { path }),
        Some(Ok(s)) => Ok(Held::Here(s)),
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
