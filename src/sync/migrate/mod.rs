//! `convsync migrate`: a `[[migration]]` from the config, run through the
//! same runner, store and checkpoints as the daemon and backfill.
//!
//! - To Hubster (from the LivePerson API or LivePerson JSON files, to the
//!   Hubster engine or activity files): the backfill's windows and the
//!   daemon's one-conversation pipeline.
//! - To LivePerson (from the Hubster engine or activity files, to
//!   LivePerson JSON files): [`export`](super::export), a `leid` cursor per
//!   conversation.
//!
//! Both are resumable and idempotent: a finished migration run again
//! writes nothing. This module builds a [`Migration`] and selects its
//! conversations; [`run`] runs it (and retries dead letters), [`preview`]
//! converts without writing (dry runs and stdout), [`verify`] compares
//! source and target, and [`report`] holds what they return.

pub mod preview;
pub mod report;
pub mod run;
pub mod verify;

pub use crate::config::migration::{Direction, Endpoint, Format, MigrationConfig};
pub use preview::Preview;
pub use report::{ConversationCheck, State, Summary, VerifyReport, default_report_path};
pub use verify::compare;

use super::deps::{Deps, Settings};
use super::export::{ActivitySource, ExportError};
use super::pipeline::{PipelineError, Source};
use super::select::{self, SelectError};
use crate::clock::{DateError, now_ms};
use crate::config::migration::SelectionError;
use crate::config::{Config, MissingSection, SyncConfig};
use crate::format::Mapping;
use crate::http::{HttpError, Metrics};
use crate::platform::ClientError;
use crate::platform::files::{FileSet, Unreadable};
use crate::platform::hubster::HubsterClient;
use crate::platform::liveperson::LivePersonClient;
use crate::store::{Store, StoreError};
use crate::telemetry::Counters;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// No `[[migration]]` of that name.
    #[error("{}", unknown_message(name, known))]
    Unknown { name: String, known: Vec<String> },
    /// The migration cannot start: its message names it.
    #[error("migration {name:?}: {source}")]
    Setup {
        name: String,
        source: Box<SetupError>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// A token grant that failed; a refused client names what to check.
fn token_failure(e: &HttpError) -> String {
    if e.is_refused() {
        format!(
            "{e}: the credential is refused: check {}",
            crate::sync::pipeline::credential_to_check("hubster")
        )
    } else {
        e.to_string()
    }
}

fn unknown_message(name: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("no migration {name:?}: the config has no [[migration]] (see docs/migrations.md)")
    } else {
        format!(
            "no migration {name:?} in the config; there are: {}",
            known.join(", ")
        )
    }
}

/// Why a migration cannot start (or go on selecting).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Section(#[from] MissingSection),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Files(#[from] Unreadable),
    #[error("mapping: {0}")]
    Mapping(#[from] toml::de::Error),
    #[error(transparent)]
    Selection(#[from] SelectionError),
    #[error(transparent)]
    Date(#[from] DateError),
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error("set hubster.hub_id, or give conversation_ids")]
    NoHub,
    #[error("hubster: {}", token_failure(.0))]
    Token(HttpError),
    #[error("stdout keeps no dead letters")]
    StdoutDeadLetters,
    /// The source refused the credential on the account's listing.
    #[error("{0}")]
    Refused(String),
}

/// A migration ready to run.
pub struct Migration {
    pub cfg: MigrationConfig,
    pub mapping: Arc<Mapping>,
    pub sync: SyncConfig,
    pub http: Arc<Metrics>,
    lp: Option<Arc<LivePersonClient>>,
    hub: Option<Arc<HubsterClient>>,
    hub_id: Option<String>,
    /// A files source, scanned.
    files: Option<Arc<FileSet>>,
    /// Conversations being worked by whoever shares the store.
    claims: Arc<super::deps::Claims>,
    /// Its own clients' upstreams (not the running daemon's, whose pauses
    /// and learned pace are kept already).
    own: Vec<&'static str>,
}

/// Clients a migration may use instead of its own: the running daemon's,
/// so that both keep one quota.
#[derive(Clone, Default)]
pub struct Shared {
    pub liveperson: Option<Arc<LivePersonClient>>,
    pub hubster: Option<Arc<HubsterClient>>,
    pub http: Option<Arc<Metrics>>,
    pub claims: Option<Arc<super::deps::Claims>>,
}

impl Migration {
    /// The migration called `name`, with its clients.
    pub fn new(config: &Config, name: &str) -> Result<Migration, MigrateError> {
        Migration::with(config, name, Shared::default())
    }

    /// The migration called `name`, with the clients `shared` gives (its
    /// own for the rest).
    pub fn with(config: &Config, name: &str, shared: Shared) -> Result<Migration, MigrateError> {
        let Some(cfg) = config.migrations.iter().find(|m| m.name == name) else {
            return Err(MigrateError::Unknown {
                name: name.to_owned(),
                known: config.migrations.iter().map(|m| m.name.clone()).collect(),
            });
        };
        let setup = |source: SetupError| MigrateError::Setup {
            name: name.to_owned(),
            source: Box::new(source),
        };
        let mut own = Vec::new();
        let http = shared.http.unwrap_or_default();
        let uses = |e: Endpoint| cfg.source == e || cfg.target == e;
        let lp = uses(Endpoint::Liveperson {})
            .then(|| -> Result<_, SetupError> {
                if let Some(c) = &shared.liveperson {
                    return Ok(Arc::clone(c));
                }
                own.push("liveperson");
                let c = LivePersonClient::new(config.liveperson()?, Arc::clone(&http))?;
                Ok(Arc::new(c))
            })
            .transpose()
            .map_err(setup)?;
        let hub = uses(Endpoint::Hubster {})
            .then(|| -> Result<_, SetupError> {
                if let Some(c) = &shared.hubster {
                    return Ok(Arc::clone(c));
                }
                own.push("hubster");
                let c = HubsterClient::new(config.hubster()?, Arc::clone(&http))?;
                Ok(Arc::new(c))
            })
            .transpose()
            .map_err(setup)?;
        let files = match &cfg.source {
            Endpoint::Files { dir, format } => Some(Arc::new(
                FileSet::scan(dir, *format).map_err(|e| setup(e.into()))?,
            )),
            _ => None,
        };
        let mapping = cfg
            .mapping_over(&config.mapping)
            .map_err(|e| setup(e.into()))?;
        Ok(Migration {
            cfg: cfg.clone(),
            mapping: Arc::new(mapping),
            sync: config.sync.clone(),
            http,
            lp,
            hub,
            hub_id: config.hubster.as_ref().and_then(|h| h.hub_id.clone()),
            files,
            claims: shared.claims.unwrap_or_default(),
            own,
        })
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// A setup error of this migration.
    fn setup(&self, source: impl Into<SetupError>) -> MigrateError {
        MigrateError::Setup {
            name: self.cfg.name.clone(),
            source: Box::new(source.into()),
        }
    }

    /// What its runs need, over `store`.
    fn deps(&self, store: &Arc<Store>) -> Deps {
        if let Some(lp) = &self.lp {
            Source::LivePerson(Arc::clone(lp)).remember_route_in(store);
        }
        let upstreams: Vec<&crate::http::Upstream> = self
            .lp
            .iter()
            .map(|l| l.upstream())
            .chain(self.hub.iter().map(|h| h.upstream()))
            .filter(|u| self.own.iter().any(|o| *o == u.name()))
            .collect();
        super::deps::keep_pauses_in(store, &upstreams);
        Deps {
            settings: Settings::from_sync(&self.sync, self.cfg.pipeline()),
            store: Arc::clone(store),
            mapping: Arc::clone(&self.mapping),
            counters: Arc::new(Counters::default()),
            http: Arc::clone(&self.http),
            claims: Arc::clone(&self.claims),
        }
    }

    fn record_source(&self) -> Source {
        match &self.files {
            Some(set) => Source::Files(Arc::clone(set)),
            None => Source::LivePerson(Arc::clone(self.lp.as_ref().expect("checked"))),
        }
    }

    fn activity_source(&self) -> ActivitySource {
        match &self.files {
            Some(set) => ActivitySource::Files(Arc::clone(set)),
            None => ActivitySource::Hubster(Arc::clone(self.hub.as_ref().expect("checked"))),
        }
    }

    fn time_range(&self) -> Result<(i64, i64), MigrateError> {
        let now = now_ms();
        Ok((
            self.cfg.since_ms(now).map_err(|e| self.setup(e))?,
            self.cfg.until_ms(now).map_err(|e| self.setup(e))?,
        ))
    }

    /// The ids the config's selection names, if any.
    fn selected_ids(&self) -> Result<Option<Vec<String>>, MigrateError> {
        self.cfg.selected_ids().map_err(|e| self.setup(e))
    }

    /// The hub's conversations the selection names, each with the name its
    /// LivePerson file takes (see [`select::hub`]).
    async fn hub_conversations(&self) -> Result<Vec<(String, String)>, MigrateError> {
        let selected = self.selected_ids()?;
        let Some(hub_id) = self.hub_id.as_deref() else {
            let ids = selected.ok_or_else(|| self.setup(SetupError::NoHub))?;
            return Ok(ids.into_iter().map(|id| (id.clone(), id)).collect());
        };
        let now = now_ms();
        let since = self.cfg.since.as_ref().and(self.cfg.since_ms(now).ok());
        let until = self.cfg.until.as_ref().and(self.cfg.until_ms(now).ok());
        let hub = self.hub.as_ref().expect("checked");
        select::hub(hub, hub_id, selected, since, until)
            .await
            .map_err(|e| self.setup(e))
    }

    /// The selected conversations, and for a migration to LivePerson each
    /// one's name (its file and the dialog id of records with no LivePerson
    /// provenance) where it is not its id.
    async fn selection(&self) -> Result<(Vec<String>, HashMap<String, String>), MigrateError> {
        if let Endpoint::Hubster {} = self.cfg.source {
            let found = self.hub_conversations().await?;
            let ids = found.iter().map(|(id, _)| id.clone()).collect();
            let names = found.into_iter().filter(|(id, n)| id != n).collect();
            return Ok((ids, names));
        }
        Ok((self.conversations().await?, HashMap::new()))
    }

    /// The source conversations the selection names, in a stable order.
    pub async fn conversations(&self) -> Result<Vec<String>, MigrateError> {
        if let Endpoint::Hubster {} = self.cfg.source {
            return Ok(self
                .hub_conversations()
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect());
        }
        if let Some(ids) = self.selected_ids()? {
            return Ok(ids);
        }
        match &self.files {
            Some(set) => Ok(select::files(set)),
            None => {
                let lp = self.lp.as_ref().expect("checked");
                let (since, until) = self.time_range()?;
                select::range(lp, since, until, self.cfg.window_ms())
                    .await
                    .map_err(|e| self.setup(e))
            }
        }
    }
}
