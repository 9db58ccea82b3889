//! One operation per command, returning data and printing nothing: the
//! binary parses arguments, calls these, prints what they return, and maps
//! their [`Error`] to the documented exit codes in one place.
//!
//! - [`convert`]: the `convert` operation: reading either format as JSON
//!   or JSONL, converting on every core, writing the mirror shape.
//! - [`platforms`]: `fetch` and `discover`, one call each against a platform.
//! - [`daemon`]: `run` (the daemon and its endpoint) and `status`.
//! - [`demo`]: the simulator and the daemon, checked against each other.
//! - [`backfill`], [`migrate`], [`dead_letters`]: the one-shot jobs'
//!   arguments and what they read.
//! - [`jobs`]: running a job here or handing it to the running daemon,
//!   decided once.
//! - [`verify`]: the daemon's pipeline compared with its target.
//! - [`doctor`]: a config checked against the real platforms, read-only.
//! - [`sim`]: the simulator's config for convsync.
//! - [`store`]: the one way the commands open the store.

pub mod backfill;
pub mod convert;
pub mod daemon;
pub mod dead_letters;
pub mod demo;
pub mod doctor;
pub mod init;
pub mod jobs;
pub mod migrate;
pub mod platforms;
pub mod sim;
pub mod store;
pub mod verify;

use crate::config::MissingSection;
use crate::http::HttpError;
use crate::platform::ClientError;
use crate::store::StoreError;
use crate::sync::daemon::DaemonError;
use crate::sync::jobs::JobError;
use crate::sync::migrate::MigrateError;
use crate::telemetry::TelemetryError;
use std::path::PathBuf;

pub use crate::sync::jobs::Kind;

/// Why an operation failed. [`Error::kind`] says which exit code it means.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad usage: what is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// An argument whose value cannot be used (a date, a range, an id
    /// file): what is wrong with it.
    #[error("{0}")]
    Argument(String),
    /// A migration that cannot be set up from the config.
    #[error(transparent)]
    MigrationConfig(Box<MigrateError>),
    /// Another convsync holds the store; `hint` says what to do.
    #[error("{source}{hint}")]
    StoreInUse {
        source: StoreError,
        hint: &'static str,
    },
    /// A dry run's verify of a migration that never ran with this store.
    #[error(
        "no store at {}: migration {name:?} has not run with this config (sync.state_dir), so there is nothing to verify",
        path.display()
    )]
    NothingToVerify { path: PathBuf, name: String },
    /// The store does not exist yet.
    #[error(
        "no store at {} yet: the daemon has not run with this config (sync.state_dir)",
        path.display()
    )]
    NoStore { path: PathBuf },
    /// The store is held by a daemon that cannot be asked, or must be
    /// stopped for this.
    #[error("{0}")]
    DaemonHoldsStore(String),
    #[error("cannot listen on {listen}: {source}")]
    Listen {
        listen: String,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Section(#[from] MissingSection),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    Transcript(#[from] crate::platform::liveperson::TranscriptError),
    #[error(transparent)]
    Daemon(Box<DaemonError>),
    #[error(transparent)]
    Job(Box<JobError>),
    #[error(transparent)]
    Migrate(Box<MigrateError>),
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    /// Asking the running daemon's endpoint failed.
    #[error("asking the running daemon: {0}")]
    Endpoint(#[source] reqwest::Error),
    /// The daemon's control socket could not be used.
    #[error(transparent)]
    Control(#[from] crate::control::ControlError),
    /// A job handed to the running daemon failed there; `kind` is what
    /// the failure means (as if it had failed here).
    #[error("the running daemon: {message}")]
    Remote { kind: Kind, message: String },
    /// Some conversations still fail (run it again).
    #[error("{0} conversation(s) still fail")]
    StillFailing(u64),
}

impl From<DaemonError> for Error {
    fn from(e: DaemonError) -> Self {
        Error::Daemon(Box::new(e))
    }
}

impl From<MigrateError> for Error {
    fn from(e: MigrateError) -> Self {
        Error::Migrate(Box::new(e))
    }
}

impl Error {
    /// What it means to the caller (the binary maps each kind to its exit
    /// code).
    pub fn kind(&self) -> Kind {
        match self {
            Error::Usage(_) | Error::MigrationConfig(_) => Kind::Usage,
            Error::StoreInUse { .. } => Kind::StoreInUse,
            Error::Job(e) => e.kind(),
            Error::Remote { kind, .. } => *kind,
            _ => Kind::Failed,
        }
    }

    fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Epoch ms of a date argument; `what` names it (`--since`).
pub fn date_arg(what: &str, s: &str) -> Result<i64, Error> {
    crate::clock::parse_date(s).map_err(|e| Error::Argument(format!("{what}: {e}")))
}

/// A `[since, until]` range from arguments (until: default now).
pub fn range_args(since: &str, until: Option<&str>) -> Result<(i64, i64), Error> {
    let since = date_arg("--since", since)?;
    let until = match until {
        Some(u) => date_arg("--until", u)?,
        None => crate::clock::now_ms(),
    };
    if until < since {
        return Err(Error::Argument("--until is before --since".into()));
    }
    Ok((since, until))
}
