//! Running a job (see [`crate::sync::jobs`]): the one place that decides
//! whether this process runs it or hands it to the running daemon that
//! holds the store, and follows it to its end either way.

use super::Error;
use crate::config::{Config, SyncConfig};
use crate::control::{self, Handed, Told};
use crate::http::Metrics;
use crate::store::{Store, StoreError};
pub use crate::sync::backfill::Event;
use crate::sync::jobs::{self, Context};
pub use crate::sync::jobs::{Job, JobEnd, JobEvent};
pub use crate::sync::runner::Ended;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// What the command is told as its job runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The running daemon took the job, under this id.
    Handed { id: String },
    /// How it goes.
    Event(JobEvent),
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    Done(JobEnd),
    /// The daemon that ran it is stopping: it resumes the job when it
    /// starts again.
    Resumes,
}

/// Where a job runs.
enum At {
    Here(Arc<Store>),
    Daemon(PathBuf),
}

/// A job's runner, decided: here, or the running daemon.
pub struct Runner {
    /// The HTTP metrics of the job's clients (the daemon's 429s and waits,
    /// when it runs there), for a progress display.
    pub http: Arc<Metrics>,
    at: At,
}

impl Runner {
    /// Where jobs of `sync`'s store run: handed to the daemon holding the
    /// store (it offers a control socket), else here, the store opened
    /// (created unless `existing`).
    pub fn decide(sync: &SyncConfig, existing: bool) -> Result<Runner, Error> {
        let path = sync.store_path();
        if existing && !path.exists() {
            return Err(Error::NoStore { path });
        }
        let at = match Store::open(&path) {
            Ok(s) => At::Here(Arc::new(s)),
            Err(source @ StoreError::InUse(_)) => {
                let socket = sync.control_socket();
                if !socket.exists() {
                    return Err(Error::StoreInUse {
                        source,
                        hint: ", and offers no control socket (a one-shot job, or a daemon of an older version): wait for it, or stop it",
                    });
                }
                At::Daemon(socket)
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Runner {
            http: Arc::new(Metrics::default()),
            at,
        })
    }

    /// Whether the running daemon runs it.
    pub fn hosted(&self) -> bool {
        matches!(self.at, At::Daemon(_))
    }

    /// Runs `job` until done or `cancel` (here: stopped after the
    /// conversations in flight; handed over: the daemon is asked to stop
    /// it); `on` is told how it goes.
    pub async fn run(
        self,
        config: &Config,
        job: Job,
        cancel: watch::Receiver<bool>,
        on: &mut (dyn FnMut(Update) + Send),
    ) -> Result<Finish, Error> {
        match self.at {
            At::Here(store) => {
                let ctx = Context::here(config, store, self.http);
                let end = jobs::run(&ctx, &job, cancel, &mut |e| on(Update::Event(e)))
                    .await
                    .map_err(|e| Error::Job(Box::new(e)))?;
                Ok(Finish::Done(end))
            }
            At::Daemon(socket) => {
                let http = self.http;
                let mut told = |t: Told| match t {
                    Told::Accepted { id } => on(Update::Handed { id }),
                    Told::Event {
                        event,
                        rate_limited,
                        wait_seconds,
                    } => {
                        if matches!(event, JobEvent::Progress(_)) {
                            http.set_waits("daemon", rate_limited, wait_seconds);
                        }
                        on(Update::Event(event));
                    }
                };
                match control::submit(&socket, job, cancel, &mut told).await? {
                    Handed::Done(end) => Ok(Finish::Done(end)),
                    Handed::Failed { kind, message } => Err(Error::Remote { kind, message }),
                    Handed::Stopping => Ok(Finish::Resumes),
                }
            }
        }
    }
}
