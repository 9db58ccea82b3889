//! `backfill`: a range of history (or a list of conversations) once,
//! through the daemon's pipeline and checkpoints.

use super::Error;
use crate::config::Config;
use crate::http::Metrics;
use crate::platform::files::read_id_list;
use crate::platform::liveperson::MAX_WINDOW_MS;
use crate::sync::backfill::{self, Event, Request, Summary};
use crate::sync::daemon::Daemon;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// What to backfill, as the command line gives it.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Conversations started at or after this (a date argument).
    pub since: String,
    /// ... and at or before this (default: now).
    pub until: Option<String>,
    /// Keep checkpoints under this name (default: sync.pipeline).
    pub pipeline: Option<String>,
    /// Only the conversations this file lists, one a line.
    pub conversation_ids: Option<PathBuf>,
}

/// What `opts` ask for, arguments checked and the id list read.
pub fn request(opts: &Options) -> Result<Request, Error> {
    let (since, until) = super::range_args(&opts.since, opts.until.as_deref())?;
    let ids = match &opts.conversation_ids {
        Some(path) => {
            let ids = read_id_list(path)
                .map_err(|e| Error::Argument(format!("cannot read {}: {e}", path.display())))?;
            if ids.is_empty() {
                return Err(Error::Argument(format!(
                    "{} lists no conversation ids",
                    path.display()
                )));
            }
            Some(ids)
        }
        None => None,
    };
    Ok(Request {
        since_ms: since,
        until_ms: until,
        until_given: opts.until.is_some(),
        ids,
        remember_windows: true,
        window_ms: MAX_WINDOW_MS,
    })
}

/// A backfill ready to run: its store is open.
pub struct Backfill {
    daemon: Daemon,
    req: Request,
}

impl Backfill {
    pub fn open(config: &Config, opts: &Options) -> Result<Backfill, Error> {
        let req = request(opts)?;
        let mut config = config.clone();
        if let Some(p) = &opts.pipeline {
            config.sync.pipeline = p.clone();
        }
        let store = super::store::open(
            &config.sync,
            " (stop the daemon first: a backfill needs the store)",
        )?;
        let daemon = Daemon::new(&config, store)?;
        Ok(Backfill { daemon, req })
    }

    /// The HTTP metrics of its clients (for a progress display).
    pub fn http(&self) -> &Arc<Metrics> {
        &self.daemon.deps.http
    }

    /// Runs it until done or `stop`.
    pub async fn run(
        &self,
        stop: watch::Receiver<bool>,
        on: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Summary, Error> {
        let d = &self.daemon;
        Ok(backfill::run(&d.deps, &d.route, &self.req, stop, on).await?)
    }
}
