//! Jobs: a backfill, a migration, a dead-letter retry or drop, a prune,
//! a backup of the store.
//! Each is described ([`Job`]) and carried out ([`run`]) by this one piece
//! of code, whether the process a command started runs it or the running
//! daemon hosts it ([`host`]); hosted, it uses the daemon's clients (one
//! quota per upstream), store and claims.

pub mod host;

use super::backfill::{self, BackfillError, Event, Request};
use super::daemon::{Daemon, DaemonError};
use super::deps::{Deps, Settings, blocking};
use super::migrate::{self, MigrateError, Migration, State};
use super::pipeline::{LpWork, Route, Sink, Source};
use super::retention::Retention;
use super::runner::{self, Ended, SetOutcome};
use crate::config::{Config, MigrationConfig};
use crate::http::Metrics;
use crate::store::{Store, StoreError};
use crate::telemetry::Counters;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::watch;

/// A job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Job {
    /// `convsync backfill`, its arguments read by the command.
    Backfill {
        pipeline: Option<String>,
        request: Request,
    },
    /// `convsync migrate NAME` (a run; dry runs and verifies read only and
    /// are no jobs).
    Migrate { name: String },
    /// `convsync dead-letters retry|drop`.
    DeadLetters {
        pipeline: Option<String>,
        retry: bool,
        conversation_ids: Vec<String>,
    },
    /// `convsync prune`: retention as of this instant (epoch ms).
    Prune { as_of_ms: i64 },
    /// `convsync store backup PATH`: a consistent copy of the store.
    Backup { path: std::path::PathBuf },
}

impl Job {
    /// In words, for logs and `status`.
    pub fn describe(&self) -> String {
        match self {
            Job::Backfill { pipeline, request } => format!(
                "backfill of {}{}",
                match &request.ids {
                    Some(ids) => format!("{} listed conversations", ids.len()),
                    None => format!(
                        "conversations started {} to {}",
                        crate::clock::format_ms(request.since_ms),
                        if request.until_given {
                            crate::clock::format_ms(request.until_ms)
                        } else {
                            "now".into()
                        }
                    ),
                },
                pipeline
                    .as_ref()
                    .map_or(String::new(), |p| format!(" (pipeline {p})"))
            ),
            Job::Migrate { name } => format!("migration {name}"),
            Job::DeadLetters {
                retry,
                conversation_ids,
                ..
            } => format!(
                "dead letters: {} {} conversation(s)",
                if *retry { "retry" } else { "drop" },
                conversation_ids.len()
            ),
            Job::Prune { as_of_ms } => {
                format!("prune as of {}", crate::clock::format_ms(*as_of_ms))
            }
            Job::Backup { path } => format!("backup of the store to {}", path.display()),
        }
    }
}

/// What a job tells as it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JobEvent {
    /// How far a backfill or a migration has come.
    Progress(Event),
    /// How one conversation of a dead-letter job ended: what a retry
    /// wrote, or why not; a drop: an error if it was no dead letter.
    Ended(Ended),
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEnd {
    /// What it returns, as JSON: a backfill's or a migration's summary, a
    /// prune's results, a retry's `still_failing`.
    pub summary: serde_json::Value,
    /// A line to say after it (a migration's state).
    pub note: Option<String>,
    /// Stopped before its end.
    pub interrupted: bool,
    /// Conversations still failing (run it again).
    pub failed: u64,
    /// Conversations set aside as dead letters.
    pub dead_letters: u64,
    /// Conversations held open: the source's answers did not prove them
    /// whole (read again later).
    #[serde(default)]
    pub held: u64,
}

/// What a failure means to whoever asked (the binary maps each to its exit
/// code; it crosses the control socket as it is).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Bad usage or config.
    Usage,
    /// Another convsync is using the store.
    StoreInUse,
    /// Anything else.
    #[default]
    Failed,
}

/// Why a job could not run or stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The LivePerson pipeline cannot be set up (a section, a client).
    #[error(transparent)]
    Daemon(Box<DaemonError>),
    #[error(transparent)]
    Backfill(Box<BackfillError>),
    /// The migration cannot be set up from the config.
    #[error(transparent)]
    MigrationConfig(Box<MigrateError>),
    #[error(transparent)]
    Migrate(Box<MigrateError>),
}

impl From<DaemonError> for JobError {
    fn from(e: DaemonError) -> Self {
        JobError::Daemon(Box::new(e))
    }
}

impl From<BackfillError> for JobError {
    fn from(e: BackfillError) -> Self {
        JobError::Backfill(Box::new(e))
    }
}

impl From<MigrateError> for JobError {
    fn from(e: MigrateError) -> Self {
        JobError::Migrate(Box::new(e))
    }
}

impl JobError {
    pub fn kind(&self) -> Kind {
        match self {
            JobError::MigrationConfig(_) => Kind::Usage,
            _ => Kind::Failed,
        }
    }
}

/// What the running daemon lends the jobs it hosts: its route, and its
/// store, mapping, HTTP metrics and claims.
#[derive(Clone)]
pub struct Lent {
    pub route: Route,
    pub deps: Arc<Deps>,
}

/// What jobs run with: the config, the store, the HTTP metrics of their
/// clients, and, hosted, what the daemon lends.
#[derive(Clone)]
pub struct Context {
    pub config: Config,
    pub store: Arc<Store>,
    pub http: Arc<Metrics>,
    lent: Option<Lent>,
}

impl Context {
    /// Jobs run by this process: their own clients, counted in `http`.
    pub fn here(config: &Config, store: Arc<Store>, http: Arc<Metrics>) -> Context {
        Context {
            config: config.clone(),
            store,
            http,
            lent: None,
        }
    }

    /// Jobs the running `daemon` hosts: its store, clients and claims.
    pub fn hosted(daemon: &Daemon, config: &Config) -> Context {
        Context {
            config: config.clone(),
            store: Arc::clone(&daemon.deps.store),
            http: Arc::clone(&daemon.deps.http),
            lent: Some(Lent {
                route: daemon.route.clone(),
                deps: Arc::new(daemon.deps.beside(daemon.deps.settings.clone())),
            }),
        }
    }

    /// A LivePerson pipeline called `pipeline`: what its runs need, and its
    /// route (the daemon's, hosted; else its own clients).
    fn liveperson(&self, pipeline: &str) -> Result<(Deps, Route), JobError> {
        match &self.lent {
            Some(l) => Ok((
                l.deps
                    .beside(Settings::from_sync(&self.config.sync, pipeline)),
                l.route.clone(),
            )),
            None => {
                let mut config = self.config.clone();
                config.sync.pipeline = pipeline.to_owned();
                let d = Daemon::new(&config, Arc::clone(&self.store), Arc::clone(&self.http))?;
                Ok((d.deps, d.route))
            }
        }
    }

    /// The migration called `name`, with the clients the daemon lends.
    fn migration(&self, name: &str) -> Result<Migration, JobError> {
        let shared = match &self.lent {
            Some(l) => migrate::Shared {
                liveperson: match l.route.source.as_ref() {
                    Source::LivePerson(c) => Some(Arc::clone(c)),
                    Source::Files(_) => None,
                },
                hubster: match l.route.sink.as_ref() {
                    Sink::Hubster(h) => Some(Arc::clone(h)),
                    Sink::Files(_) => None,
                },
                http: Some(Arc::clone(&self.http)),
                claims: Some(Arc::clone(&l.deps.claims)),
            },
            None => migrate::Shared {
                http: Some(Arc::clone(&self.http)),
                ..migrate::Shared::default()
            },
        };
        Migration::with(&self.config, name, shared)
            .map_err(|e| JobError::MigrationConfig(Box::new(e)))
    }
}

/// The pipeline a command names (a migration's name stands for its
/// pipeline; none: the daemon's), and the migration with a pipeline of its
/// own (not the daemon's) whose it is.
pub fn named_pipeline<'a>(
    config: &'a Config,
    named: Option<&str>,
) -> (String, Option<&'a MigrationConfig>) {
    let migration = named.and_then(|p| {
        config
            .migrations
            .iter()
            .find(|m| m.name == p || m.pipeline() == p)
    });
    let pipeline = match (migration, named) {
        (Some(m), _) => m.pipeline().to_owned(),
        (None, Some(p)) => p.to_owned(),
        (None, None) => config.sync.pipeline.clone(),
    };
    (
        pipeline,
        migration.filter(|m| m.pipeline() != config.sync.pipeline),
    )
}

/// Runs `job` until done or `stop`; `on` is told how it goes.
pub async fn run(
    ctx: &Context,
    job: &Job,
    stop: watch::Receiver<bool>,
    on: &mut (dyn FnMut(JobEvent) + Send),
) -> Result<JobEnd, JobError> {
    match job {
        Job::Backfill { pipeline, request } => {
            let p = pipeline.as_deref().unwrap_or(&ctx.config.sync.pipeline);
            let (deps, route) = ctx.liveperson(p)?;
            let s = backfill::run(&deps, &route, request, stop, &mut |e| {
                on(JobEvent::Progress(e))
            })
            .await?;
            Ok(JobEnd {
                summary: summary(&s),
                note: None,
                interrupted: s.interrupted,
                failed: s.failed,
                dead_letters: s.dead_letters,
                held: s.held,
            })
        }
        Job::Migrate { name } => {
            let m = ctx.migration(name)?;
            let s = m
                .run(Arc::clone(&ctx.store), stop, &mut |e| {
                    on(JobEvent::Progress(e))
                })
                .await?;
            let key = State::key(name);
            let state = blocking(&ctx.store, move |st| st.progress::<State>(&key)).await?;
            Ok(JobEnd {
                summary: summary(&s),
                note: state.map(|st| format!("migration {name}: {}", st.describe())),
                interrupted: s.interrupted,
                failed: s.failed,
                dead_letters: s.dead_letters,
                held: 0,
            })
        }
        Job::DeadLetters {
            pipeline,
            retry,
            conversation_ids,
        } => dead_letters(ctx, pipeline.as_deref(), *retry, conversation_ids, stop, on).await,
        Job::Prune { as_of_ms } => {
            let pruned = Retention::of(&ctx.config)
                .prune(&ctx.store, *as_of_ms)
                .await?;
            let counters = Counters::default();
            for r in &pruned {
                counters.pruned(r);
            }
            Ok(JobEnd {
                summary: serde_json::to_value(&pruned).expect("prunes serialize"),
                note: None,
                interrupted: false,
                failed: 0,
                dead_letters: 0,
                held: 0,
            })
        }
        Job::Backup { path } => {
            let path = path.clone();
            let b = blocking(&ctx.store, move |s| s.backup(&path)).await?;
            Ok(JobEnd {
                summary: summary(&b),
                note: None,
                interrupted: false,
                failed: 0,
                dead_letters: 0,
                held: 0,
            })
        }
    }
}

/// A summary as JSON.
fn summary(s: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(s).expect("summaries serialize")
}

/// Drops dead letters, or retries them: a pass of the runner over them,
/// with claims, like every other run; those that sync leave the list.
async fn dead_letters(
    ctx: &Context,
    named: Option<&str>,
    retry: bool,
    ids: &[String],
    stop: watch::Receiver<bool>,
    on: &mut (dyn FnMut(JobEvent) + Send),
) -> Result<JobEnd, JobError> {
    let (pipeline, migration) = named_pipeline(&ctx.config, named);
    let mut failed = 0u64;
    if !retry {
        for id in ids {
            let (p, i) = (pipeline.clone(), id.clone());
            let was = blocking(&ctx.store, move |s| s.remove_dead_letter(&p, &i)).await?;
            on(JobEvent::Ended(Ended {
                conversation_id: id.clone(),
                written: None,
                error: (!was).then(|| format!("{id} is not a dead letter")),
            }));
        }
    } else {
        let mut each = |e: &Ended| {
            if e.error.is_some() {
                failed += 1;
            }
            on(JobEvent::Ended(e.clone()));
        };
        match migration {
            Some(m) => {
                ctx.migration(&m.name)?
                    .retry(&ctx.store, ids, &stop, &mut each)
                    .await?;
            }
            None => {
                let (deps, route) = ctx.liveperson(&pipeline)?;
                let work = LpWork::new(&deps, &route);
                let mut dead = deps.dead_letter_ids().await?;
                let mut told = |_: &SetOutcome, e: &Ended| each(e);
                runner::run(&deps, &work, ids.to_vec(), 1, &stop, &mut dead, &mut told).await?;
            }
        }
    }
    Ok(JobEnd {
        summary: serde_json::json!({ "still_failing": failed }),
        note: None,
        interrupted: *stop.borrow(),
        failed,
        dead_letters: 0,
        held: 0,
    })
}
