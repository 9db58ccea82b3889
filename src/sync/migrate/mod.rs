//! `convsync migrate`: a `[[migration]]` from the config, run through the
//! same pipeline, store and checkpoints as the daemon and backfill.
//!
//! - To Hubster (from the LivePerson API or LivePerson JSON files, to the
//!   Hubster engine or activity files): the backfill's windows and the
//!   daemon's one-conversation pipeline.
//! - To LivePerson (from the Hubster engine or activity files, to
//!   LivePerson JSON files): [`export`](super::export), a `leid` cursor per
//!   conversation.
//!
//! Both are resumable and idempotent: a finished migration run again
//! writes nothing. [`Migration::preview`] converts without writing (dry
//! runs and stdout), [`Migration::verify`] compares source and target.

pub mod config;

pub use config::{Direction, Endpoint, Format, MigrationConfig};

use super::backfill::{self, Event, Request};
use super::daemon::{Counters, Daemon, DaemonError, SyncConfig};
use super::export::{ActivitySource, ExportError, export_conversation};
use super::pipeline::{self, PipelineError, Sink, Source, blocking};
use crate::clock::now_ms;
use crate::config::{Config, Mapping};
use crate::format::hubster::IntegrationType;
use crate::format::{self, HubsterResume, LpResume, Report};
use crate::http::Metrics;
use crate::platform::files::{FileError, FileSet, file_name, read_activities, read_records};
use crate::platform::hubster::HubsterClient;
use crate::platform::liveperson::{LivePersonClient, Search, windows_of};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// What the store keeps about a migration (for `migrate --list`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub runs: u64,
    pub last_started_ms: Option<i64>,
    pub last_finished_ms: Option<i64>,
    /// Whether the last run got through everything (no failures, not stopped).
    pub complete: bool,
    /// Conversations and items (activities or records) of the last run.
    pub conversations: u64,
    pub written: u64,
    /// Items written over all runs.
    pub written_total: u64,
    pub dead_letters: u64,
    pub failed: u64,
    /// `since` as the first run resolved it when the config gives none, so
    /// that later runs walk the same windows (and skip those done).
    #[serde(default)]
    pub since_ms: Option<i64>,
}

impl State {
    pub fn key(name: &str) -> String {
        format!("migration:{name}")
    }

    /// One line: "never run", "complete ...", "incomplete ...".
    pub fn describe(&self) -> String {
        let when = |ms: Option<i64>| {
            ms.and_then(chrono::DateTime::from_timestamp_millis)
                .map_or("?".into(), |d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
        };
        if self.runs == 0 {
            return "never run".into();
        }
        if self.last_finished_ms.is_none() || self.last_finished_ms < self.last_started_ms {
            return format!(
                "started {}, not finished (run it again to go on)",
                when(self.last_started_ms)
            );
        }
        let what = format!(
            "last run {} conversations, {} written; {} written in {} run{}; {} dead letters",
            self.conversations,
            self.written,
            self.written_total,
            self.runs,
            if self.runs == 1 { "" } else { "s" },
            self.dead_letters
        );
        if self.complete {
            format!("complete at {}: {what}", when(self.last_finished_ms))
        } else {
            format!(
                "incomplete at {} ({} failing: run it again): {what}",
                when(self.last_finished_ms),
                self.failed
            )
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub migration: String,
    pub source: String,
    pub target: String,
    /// Search windows (LivePerson API sources) and those done before.
    pub windows: usize,
    pub windows_skipped: usize,
    pub conversations: u64,
    /// Activities (to Hubster) or records (to LivePerson) written.
    pub written: u64,
    pub dead_letters: u64,
    /// Conversations still failing (run it again).
    pub failed: u64,
    /// Deliveries of an interrupted run found done.
    pub recovered: u64,
    pub interrupted: bool,
}

/// One conversation converted without writing.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub conversation_id: String,
    /// Records or activities read.
    pub read: u64,
    /// What would be written: activities or records (only what is new
    /// since the last run, for a dry run).
    pub items: Vec<Value>,
    pub report: Report,
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
}

impl Migration {
    /// The migration called `name`, with its clients.
    pub fn new(config: &Config, name: &str) -> Result<Migration, MigrateError> {
        let Some(cfg) = config.migrations.iter().find(|m| m.name == name) else {
            let names: Vec<&str> = config.migrations.iter().map(|m| m.name.as_str()).collect();
            return Err(MigrateError::Setup(if names.is_empty() {
                format!(
                    "no migration {name:?}: the config has no [[migration]] (see README, \"Migrations\")"
                )
            } else {
                format!(
                    "no migration {name:?} in the config; there are: {}",
                    names.join(", ")
                )
            }));
        };
        let http = Arc::new(Metrics::default());
        let uses = |e: Endpoint| cfg.source == e || cfg.target == e;
        let lp = uses(Endpoint::Liveperson {})
            .then(|| -> Result<_, String> {
                let c = LivePersonClient::new(config.liveperson()?, Arc::clone(&http))?;
                Ok(Arc::new(c))
            })
            .transpose()
            .map_err(MigrateError::Setup)?;
        let hub = uses(Endpoint::Hubster {})
            .then(|| -> Result<_, String> {
                Ok(Arc::new(HubsterClient::new(
                    config.hubster()?,
                    Arc::clone(&http),
                )?))
            })
            .transpose()
            .map_err(MigrateError::Setup)?;
        let files = match &cfg.source {
            Endpoint::Files { dir, format } => {
                Some(Arc::new(FileSet::scan(dir, *format).map_err(|e| {
                    MigrateError::Setup(format!("migration {name:?}: {e}"))
                })?))
            }
            _ => None,
        };
        let mapping = cfg
            .mapping_over(&config.mapping)
            .map_err(|e| MigrateError::Setup(format!("migration {name:?}: mapping: {e}")))?;
        Ok(Migration {
            cfg: cfg.clone(),
            mapping: Arc::new(mapping),
            sync: config.sync.clone(),
            http,
            lp,
            hub,
            hub_id: config.hubster.as_ref().and_then(|h| h.hub_id.clone()),
            files,
        })
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
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
        let bad = |e| MigrateError::Setup(format!("migration {:?}: {e}", self.cfg.name));
        Ok((
            self.cfg.since_ms(now).map_err(bad)?,
            self.cfg.until_ms(now).map_err(bad)?,
        ))
    }

    /// The hub's conversations the selection names, each with the name its
    /// LivePerson file takes: the binding it was established with (for one
    /// that came from LivePerson, the LivePerson conversation id), else its
    /// Hubster id.
    async fn hub_conversations(&self) -> Result<Vec<(String, String)>, MigrateError> {
        let selected = self.cfg.selected_ids().map_err(MigrateError::Setup)?;
        let Some(hub_id) = self.hub_id.as_deref() else {
            let ids = selected.ok_or_else(|| {
                MigrateError::Setup(format!(
                    "migration {:?}: set hubster.hub_id, or give conversation_ids",
                    self.cfg.name
                ))
            })?;
            return Ok(ids.into_iter().map(|id| (id.clone(), id)).collect());
        };
        let hub = self.hub.as_ref().expect("checked");
        let list = hub.established(hub_id).await.map_err(|e| {
            MigrateError::Setup(format!("hub {hub_id}: established conversations: {e}"))
        })?;
        let name = |c: &crate::platform::hubster::HubConversationInfo| {
            c.binding
                .clone()
                .filter(|b| !b.is_empty())
                .unwrap_or_else(|| c.conversation_id.clone())
        };
        if let Some(ids) = selected {
            let names: HashMap<&str, String> = list
                .iter()
                .map(|c| (c.conversation_id.as_str(), name(c)))
                .collect();
            return Ok(ids
                .iter()
                .map(|id| {
                    let n = names
                        .get(id.as_str())
                        .cloned()
                        .unwrap_or_else(|| id.clone());
                    (id.clone(), n)
                })
                .collect());
        }
        let now = now_ms();
        let since = self.cfg.since.as_ref().and(self.cfg.since_ms(now).ok());
        let until = self.cfg.until.as_ref().and(self.cfg.until_ms(now).ok());
        let mut seen = HashSet::new();
        Ok(list
            .iter()
            .filter(|c| match c.opened_ms {
                Some(t) => since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u),
                None => true,
            })
            .filter(|c| seen.insert(c.conversation_id.clone()))
            .map(|c| (c.conversation_id.clone(), name(c)))
            .collect())
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
        if let Some(ids) = self.cfg.selected_ids().map_err(MigrateError::Setup)? {
            return Ok(ids);
        }
        match &self.cfg.source {
            Endpoint::Files { .. } => Ok(self.files.as_ref().expect("scanned").ids().to_vec()),
            Endpoint::Liveperson {} => {
                let lp = self.lp.as_ref().expect("checked");
                let (since, until) = self.time_range()?;
                let mut out = Vec::new();
                let mut seen = HashSet::new();
                for (from, to) in windows_of(since, until, self.cfg.window_ms()) {
                    let q = Search {
                        start_from: from,
                        start_to: to,
                        status: vec!["OPEN".into(), "CLOSE".into()],
                        latest_update_from: None,
                    };
                    let found = lp.search(&q).await.map_err(|e| {
                        MigrateError::Setup(format!("conversations/search {from}..{to}: {e}"))
                    })?;
                    out.extend(
                        found
                            .into_iter()
                            .map(|c| c.conversation_id)
                            .filter(|id| seen.insert(id.clone())),
                    );
                }
                Ok(out)
            }
            Endpoint::Hubster {} => unreachable!("listed above"),
            Endpoint::Stdout {} => Err(MigrateError::Setup("stdout is not a source".into())),
        }
    }

    /// Runs the migration (or goes on with it) until done or `stop`.
    pub async fn run(
        &self,
        store: Arc<Store>,
        stop: watch::Receiver<bool>,
        on: &mut dyn FnMut(Event),
    ) -> Result<Summary, MigrateError> {
        let key = State::key(&self.cfg.name);
        let mut state: State = blocking(&store, {
            let k = key.clone();
            move |s| s.progress(&k)
        })
        .await?
        .unwrap_or_default();
        state.runs += 1;
        state.last_started_ms = Some(now_ms());
        let (since, until) = self.time_range()?;
        let since = match (&self.cfg.since, state.since_ms) {
            (None, Some(pinned)) => pinned,
            _ => since,
        };
        if self.cfg.since.is_none() {
            state.since_ms = Some(since);
        }
        blocking(&store, {
            let (k, st) = (key.clone(), state.clone());
            move |s| s.set_progress(&k, &st)
        })
        .await?;
        let mut summary = match self.cfg.direction() {
            Direction::ToHubster => {
                self.run_to_hubster(&store, (since, until), stop, on)
                    .await?
            }
            Direction::ToLivePerson => self.run_to_liveperson(&store, stop, on).await?,
        };
        summary.migration = self.cfg.name.clone();
        summary.source = self.cfg.source.describe();
        summary.target = self.cfg.target.describe();
        state.last_finished_ms = Some(now_ms());
        state.complete = !summary.interrupted && summary.failed == 0;
        state.conversations = summary.conversations;
        state.written = summary.written;
        state.written_total += summary.written;
        state.dead_letters = summary.dead_letters;
        state.failed = summary.failed;
        if summary.interrupted {
            state.last_finished_ms = None;
        }
        blocking(&store, move |s| s.set_progress(&key, &state)).await?;
        Ok(summary)
    }

    async fn run_to_hubster(
        &self,
        store: &Arc<Store>,
        (since, until): (i64, i64),
        stop: watch::Receiver<bool>,
        on: &mut dyn FnMut(Event),
    ) -> Result<Summary, MigrateError> {
        let sink = match &self.cfg.target {
            Endpoint::Hubster {} => {
                let hub = self.hub.as_ref().expect("checked");
                // Bad credentials fail here, before any work.
                hub.token(false)
                    .await
                    .map_err(|e| MigrateError::Setup(format!("hubster: {e}")))?;
                Sink::Hubster(Arc::clone(hub))
            }
            Endpoint::Files { dir, .. } => Sink::Files(dir.clone()),
            _ => unreachable!("checked: only hubster and files targets take activities"),
        };
        let ids = match &self.cfg.source {
            Endpoint::Files { .. } => Some(self.conversations().await?),
            _ => self.cfg.selected_ids().map_err(MigrateError::Setup)?,
        };
        let daemon = Daemon {
            cfg: SyncConfig {
                pipeline: self.cfg.pipeline().to_owned(),
                ..self.sync.clone()
            },
            source: Arc::new(self.record_source()),
            sink: Arc::new(sink),
            store: Arc::clone(store),
            mapping: Arc::clone(&self.mapping),
            counters: Arc::new(Counters::default()),
            http: Arc::clone(&self.http),
        };
        let req = Request {
            since_ms: since,
            until_ms: until,
            until_given: self.cfg.until.is_some(),
            ids,
            remember_windows: self.files.is_none(),
            window_ms: self.cfg.window_ms(),
        };
        let b = backfill::run(&daemon, &req, stop, on).await?;
        Ok(Summary {
            windows: b.windows,
            windows_skipped: b.windows_skipped,
            conversations: b.conversations,
            written: b.activities_delivered,
            dead_letters: b.dead_letters,
            failed: b.failed,
            recovered: b.recovered,
            interrupted: b.interrupted,
            ..Summary::default()
        })
    }

    async fn run_to_liveperson(
        &self,
        store: &Arc<Store>,
        stop: watch::Receiver<bool>,
        on: &mut dyn FnMut(Event),
    ) -> Result<Summary, MigrateError> {
        let Endpoint::Files { dir, .. } = &self.cfg.target else {
            unreachable!("checked: LivePerson records go to files or stdout");
        };
        let (ids, names) = self.selection().await?;
        let names = Arc::new(names);
        let pipeline = self.cfg.pipeline().to_owned();
        let source = Arc::new(self.activity_source());
        // Those set aside before leave the list when they succeed.
        let p = pipeline.clone();
        let mut dead = blocking(store, move |s| s.dead_letter_ids(&p)).await?;
        let mut summary = Summary {
            windows: 1,
            ..Summary::default()
        };
        on(Event::Found {
            conversations: ids.len(),
        });
        let found = ids.len() as u64;
        let mut todo = ids;
        let mut pass = 0;
        while !todo.is_empty() && !*stop.borrow() {
            pass += 1;
            let mut failed = Vec::new();
            let mut tasks = tokio::task::JoinSet::new();
            let mut queue = std::mem::take(&mut todo).into_iter();
            loop {
                while tasks.len() < self.sync.concurrency.get() && !*stop.borrow() {
                    let Some(id) = queue.next() else { break };
                    let (source, store, mapping, dir, p) = (
                        Arc::clone(&source),
                        Arc::clone(store),
                        Arc::clone(&self.mapping),
                        dir.clone(),
                        pipeline.clone(),
                    );
                    let name = names.get(&id).cloned().unwrap_or_else(|| id.clone());
                    tasks.spawn(async move {
                        let r =
                            export_conversation(&p, &source, &id, &name, &dir, &store, &mapping)
                                .await;
                        (id, r)
                    });
                }
                let Some(done) = tasks.join_next().await else {
                    break;
                };
                let (id, r) = done.expect("export tasks do not panic");
                match r {
                    Ok(n) => {
                        summary.conversations += 1;
                        summary.written += n as u64;
                        if dead.remove(&id) {
                            let (p, i) = (pipeline.clone(), id.clone());
                            blocking(store, move |s| s.remove_dead_letter(&p, &i).map(|_| ()))
                                .await?;
                        }
                    }
                    Err(ExportError::Store(e)) => return Err(e.into()),
                    Err(e) => {
                        let retryable =
                            matches!(&e, ExportError::Http { source, .. } if source.is_retryable());
                        if retryable && pass < self.sync.retry_budget.max(1) {
                            tracing::warn!(conversation = %id, error = %e, "export failed; trying again");
                            failed.push(id);
                        } else if retryable {
                            tracing::error!(conversation = %id, error = %e, "export failed");
                            summary.failed += 1;
                        } else {
                            tracing::error!(conversation = %id, error = %e, "dead letter");
                            let (p, i, m) = (pipeline.clone(), id.clone(), e.to_string());
                            let class = match &e {
                                ExportError::Convert { .. } => "convert",
                                ExportError::File { .. } => "file",
                                ExportError::Source { .. } => "source",
                                _ => "http",
                            };
                            blocking(store, move |s| s.dead_letter(&p, &i, class, &m, now_ms()))
                                .await?;
                            summary.dead_letters += 1;
                            summary.conversations += 1;
                        }
                    }
                }
                on(Event::Progress {
                    done: summary.conversations,
                    found,
                    delivered: summary.written,
                    dead: summary.dead_letters,
                });
            }
            todo = failed;
        }
        // Stopped with some not done (those are done on the next run).
        summary.interrupted = *stop.borrow() && summary.conversations + summary.failed < found;
        Ok(summary)
    }

    /// Migrates these conversations now (for `dead-letters retry`): what is
    /// new in each is written. `each` gets every conversation's outcome
    /// (the items written, or why not); the others go on.
    pub async fn retry(
        &self,
        store: &Arc<Store>,
        ids: &[String],
        each: &mut dyn FnMut(&str, Result<u64, MigrateError>),
    ) -> Result<(), MigrateError> {
        let pipeline = self.cfg.pipeline();
        match (self.cfg.direction(), &self.cfg.target) {
            (_, Endpoint::Stdout {}) => {
                return Err(MigrateError::Setup("stdout keeps no dead letters".into()));
            }
            (Direction::ToHubster, target) => {
                let sink = match target {
                    Endpoint::Files { dir, .. } => Sink::Files(dir.clone()),
                    _ => Sink::Hubster(Arc::clone(self.hub.as_ref().expect("checked"))),
                };
                pipeline::recover(pipeline, store, &sink).await?;
                let source = self.record_source();
                for id in ids {
                    let r = pipeline::sync_conversation(
                        pipeline,
                        id,
                        &source,
                        &sink,
                        store,
                        &self.mapping,
                    )
                    .await;
                    each(id, r.map(|o| o.delivered).map_err(Into::into));
                }
            }
            (Direction::ToLivePerson, target) => {
                let Endpoint::Files { dir, .. } = target else {
                    unreachable!("checked: LivePerson records go to files or stdout");
                };
                let names = self.selection().await?.1;
                let source = self.activity_source();
                for id in ids {
                    let name = names.get(id).map_or(id.as_str(), String::as_str);
                    let r =
                        export_conversation(pipeline, &source, id, name, dir, store, &self.mapping)
                            .await;
                    each(id, r.map(|n| n as u64).map_err(Into::into));
                }
            }
        }
        Ok(())
    }

    /// Converts every selected conversation without writing anything.
    /// `store`: a dry run's resume points (what is new since the last run);
    /// `None` converts everything. `each` gets every conversation, or the
    /// error that stopped it (the others go on).
    pub async fn preview(
        &self,
        store: Option<Arc<Store>>,
        each: &mut dyn FnMut(Result<Preview, MigrateError>),
    ) -> Result<(), MigrateError> {
        use futures_util::stream::{self, StreamExt};
        let (ids, names) = self.selection().await?;
        let pipeline = self.cfg.pipeline();
        let to_lp = self.cfg.direction() == Direction::ToLivePerson;
        let names = &names;
        let records = (!to_lp).then(|| self.record_source());
        let activities = to_lp.then(|| self.activity_source());
        let store = store.as_ref();
        // Several conversations in flight, reported in order.
        let mut results = stream::iter(ids)
            .map(|id| {
                let (records, activities) = (&records, &activities);
                async move {
                    match (records, activities) {
                        (Some(r), _) => self.preview_lp(store, pipeline, r, &id).await,
                        (_, Some(a)) => {
                            let name = names.get(&id).map_or(id.as_str(), String::as_str);
                            self.preview_hub(store, pipeline, a, &id, name).await
                        }
                        (None, None) => unreachable!("one direction or the other"),
                    }
                }
            })
            .buffered(self.sync.concurrency.get());
        while let Some(r) = results.next().await {
            each(r);
        }
        Ok(())
    }

    async fn preview_lp(
        &self,
        store: Option<&Arc<Store>>,
        pipeline: &str,
        source: &Source,
        id: &str,
    ) -> Result<Preview, MigrateError> {
        let resume = match store {
            Some(s) => {
                let (p, i) = (pipeline.to_owned(), id.to_owned());
                blocking(s, move |s| s.conversation(&p, &i))
                    .await?
                    .map(|c| c.resume)
                    .unwrap_or_default()
            }
            None => LpResume::default(),
        };
        let records = source.content(id).await?;
        let (items, _, report) = pipeline::convert_records(id, &records, &self.mapping, &resume)?;
        Ok(Preview {
            conversation_id: id.to_owned(),
            read: records.len() as u64,
            items,
            report,
        })
    }

    async fn preview_hub(
        &self,
        store: Option<&Arc<Store>>,
        pipeline: &str,
        source: &ActivitySource,
        id: &str,
        name: &str,
    ) -> Result<Preview, MigrateError> {
        let resume: HubsterResume = match store {
            Some(s) => {
                let k = format!("export:{pipeline}:{id}");
                blocking(s, move |s| s.progress(&k))
                    .await?
                    .unwrap_or_default()
            }
            None => HubsterResume::default(),
        };
        let acts = source
            .activities(id, resume.last_event_id.unwrap_or(0))
            .await?;
        let out = format::to_liveperson(name, &acts, &self.mapping, &resume).map_err(|e| {
            MigrateError::Export(ExportError::Convert {
                conversation_id: id.to_owned(),
                message: e.to_string(),
            })
        })?;
        Ok(Preview {
            conversation_id: id.to_owned(),
            read: acts.len() as u64,
            items: out.records,
            report: out.report,
        })
    }

    /// Compares source and target, conversation by conversation: what the
    /// source converts to (all of it) against what the target holds, by
    /// identity (externalId; dialogId and sequence) and order.
    pub async fn verify(
        &self,
        store: &Arc<Store>,
        each: &mut dyn FnMut(&ConversationCheck),
    ) -> Result<VerifyReport, MigrateError> {
        let (ids, names) = self.selection().await?;
        let names = &names;
        let pipeline = self.cfg.pipeline().to_owned();
        let mut report = VerifyReport {
            migration: self.cfg.name.clone(),
            source: self.cfg.source.describe(),
            target: self.cfg.target.describe(),
            ..VerifyReport::default()
        };
        use futures_util::stream::{self, StreamExt};
        let mut checks = stream::iter(ids)
            .map(|id| {
                let pipeline = &pipeline;
                async move {
                    let name = names.get(&id).map_or(id.as_str(), String::as_str);
                    let r = self.compare_one(store, pipeline, &id, name).await;
                    (id, r)
                }
            })
            .buffered(self.sync.concurrency.get());
        while let Some((id, r)) = checks.next().await {
            let check = match r {
                Ok(c) => c,
                Err(MigrateError::Store(e)) => return Err(e.into()),
                Err(e) => ConversationCheck {
                    conversation_id: id.clone(),
                    error: Some(e.to_string()),
                    ..ConversationCheck::default()
                },
            };
            report.add(&check);
            each(&check);
            if check.differences() > 0 {
                report.conversations_differing_list.push(check);
            }
        }
        Ok(report)
    }

    async fn compare_one(
        &self,
        store: &Arc<Store>,
        pipeline: &str,
        id: &str,
        name: &str,
    ) -> Result<ConversationCheck, MigrateError> {
        // An item the target lacks is pending, not a difference, when the
        // checkpoint does not count it delivered and it reached the source
        // after the migration last read there: it is for the next run.
        let k = State::key(&self.cfg.name);
        let last_run = blocking(store, move |s| s.progress::<State>(&k))
            .await?
            .and_then(|s| s.last_started_ms)
            .unwrap_or(i64::MIN);
        let (expected, got, pending): (Vec<String>, Option<Vec<String>>, HashSet<String>) =
            match self.cfg.direction() {
                Direction::ToHubster => {
                    let records = self.record_source().content(id).await?;
                    let (acts, _, _) = pipeline::convert_records(
                        id,
                        &records,
                        &self.mapping,
                        &LpResume::default(),
                    )?;
                    let expected = acts.iter().map(external_id).collect();
                    let (p, i) = (pipeline.to_owned(), id.to_owned());
                    let state = blocking(store, move |s| s.conversation(&p, &i)).await?;
                    // LivePerson's data lags up to a minute behind its clock.
                    let lag = match self.cfg.source {
                        Endpoint::Liveperson {} => 60_000,
                        _ => 0,
                    };
                    let read_at = state
                        .as_ref()
                        .and_then(|c| c.last_polled_ms)
                        .unwrap_or(last_run)
                        .saturating_sub(lag);
                    let resume = state.as_ref().map(|c| c.resume.clone()).unwrap_or_default();
                    let (new, _, _) =
                        pipeline::convert_records(id, &records, &self.mapping, &resume)?;
                    let pending = new
                        .iter()
                        .filter(|a| a["eventId"].as_i64().is_some_and(|e| e > read_at))
                        .map(external_id)
                        .collect();
                    let target = state.and_then(|c| c.target_conversation_id);
                    let got = match (&self.cfg.target, target) {
                        (_, None) => None,
                        (Endpoint::Hubster {}, Some(t)) => {
                            let hub = self.hub.as_ref().expect("checked");
                            let acts = hub
                                .activities(
                                    &t,
                                    &[
                                        IntegrationType::Customer,
                                        IntegrationType::Agent,
                                        IntegrationType::Bot,
                                    ],
                                    0,
                                )
                                .await
                                .map_err(|source| {
                                    MigrateError::Pipeline(PipelineError::Http {
                                        conversation_id: id.to_owned(),
                                        source,
                                    })
                                })?;
                            Some(acts.iter().map(external_id).collect())
                        }
                        (Endpoint::Files { dir, .. }, Some(t)) => Some(
                            read_activities(dir, &t)
                                .map_err(ExportError::from)?
                                .iter()
                                .map(external_id)
                                .collect(),
                        ),
                        _ => None,
                    };
                    (expected, got, pending)
                }
                Direction::ToLivePerson => {
                    let acts = self.activity_source().activities(id, 0).await?;
                    let convert = |acts: &[Value], resume: &HubsterResume| {
                        format::to_liveperson(name, acts, &self.mapping, resume).map_err(|e| {
                            MigrateError::Export(ExportError::Convert {
                                conversation_id: id.to_owned(),
                                message: e.to_string(),
                            })
                        })
                    };
                    let out = convert(&acts, &HubsterResume::default())?;
                    let expected = out.records.iter().map(record_identity).collect();
                    let k = format!("export:{pipeline}:{id}");
                    let resume: HubsterResume = blocking(store, move |s| s.progress(&k))
                        .await?
                        .unwrap_or_default();
                    let after = resume.last_event_id.unwrap_or(i64::MIN);
                    let late: Vec<Value> = acts
                        .iter()
                        .filter(|a| {
                            a["eventId"]
                                .as_i64()
                                .is_some_and(|e| e > last_run && e >= after)
                        })
                        .cloned()
                        .collect();
                    let pending = convert(&late, &resume)?
                        .records
                        .iter()
                        .map(record_identity)
                        .collect();
                    let got = match &self.cfg.target {
                        Endpoint::Files { dir, .. } => {
                            let path = dir.join(format!("{}.json", file_name(name)));
                            path.exists()
                                .then(|| read_records(&path))
                                .transpose()
                                .map_err(|message| {
                                    MigrateError::Export(FileError::new(&path, message).into())
                                })?
                                .map(|r| r.iter().map(record_identity).collect())
                        }
                        _ => None,
                    };
                    (expected, got, pending)
                }
            };
        Ok(compare(id, &expected, got.as_deref(), &pending))
    }
}

fn external_id(a: &Value) -> String {
    a["externalId"].as_str().unwrap_or("").to_owned()
}

/// A LivePerson record's identity: `dialogId#sequence`, or the record's
/// type and time when it has no sequence.
fn record_identity(r: &Value) -> String {
    match r["sequence"].as_i64() {
        Some(s) => format!("{}#{s}", r["dialogId"].as_str().unwrap_or("")),
        None => format!(
            "{}@{}:{}",
            r["dialogId"].as_str().unwrap_or(""),
            r["serverTimestamp"],
            r["event"]["type"].as_str().unwrap_or("")
        ),
    }
}

/// How many identities a difference lists in full.
const LIST_LIMIT: usize = 20;

/// One conversation compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConversationCheck {
    pub conversation_id: String,
    /// Items the source converts to, and items the target holds.
    pub source: usize,
    pub target: usize,
    /// The target has no conversation for it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub target_missing: bool,
    /// In the source, not in the target.
    #[serde(skip_serializing_if = "is_zero")]
    pub missing: usize,
    /// In the source, not in the target, and new since the migration last
    /// read the source: the next run writes them (not a difference).
    #[serde(skip_serializing_if = "is_zero")]
    pub pending: usize,
    /// In the target, not from the source.
    #[serde(skip_serializing_if = "is_zero")]
    pub unexpected: usize,
    /// Held more than once by the target.
    #[serde(skip_serializing_if = "is_zero")]
    pub duplicated: usize,
    /// The first place where the target's order differs from the source's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_differs_at: Option<usize>,
    /// The first identities of each kind of difference.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// Why it could not be compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl ConversationCheck {
    pub fn differences(&self) -> usize {
        self.missing
            + self.unexpected
            + self.duplicated
            + usize::from(self.order_differs_at.is_some())
            + usize::from(self.error.is_some())
            + usize::from(self.target_missing)
    }
}

/// Compares expected identities (in order) with those the target holds.
/// `pending`: items the migration has not read yet (see
/// [`ConversationCheck::pending`]).
pub fn compare(
    id: &str,
    expected: &[String],
    got: Option<&[String]>,
    pending: &HashSet<String>,
) -> ConversationCheck {
    let mut c = ConversationCheck {
        conversation_id: id.to_owned(),
        source: expected.len(),
        ..ConversationCheck::default()
    };
    let Some(got) = got else {
        c.pending = expected.iter().filter(|e| pending.contains(*e)).count();
        c.missing = expected.len() - c.pending;
        c.target_missing = c.missing > 0;
        return c;
    };
    c.target = got.len();
    let want: HashSet<&str> = expected.iter().map(String::as_str).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for g in got {
        *counts.entry(g.as_str()).or_default() += 1;
    }
    for e in expected {
        if pending.contains(e) && !counts.contains_key(e.as_str()) {
            c.pending += 1;
        } else if !counts.contains_key(e.as_str()) {
            c.missing += 1;
            if c.examples.len() < LIST_LIMIT {
                c.examples.push(format!("missing {e}"));
            }
        }
    }
    for g in got {
        if !want.contains(g.as_str()) {
            c.unexpected += 1;
            if c.examples.len() < LIST_LIMIT {
                c.examples.push(format!("unexpected {g}"));
            }
        }
    }
    for (g, n) in &counts {
        if *n > 1 && want.contains(g) {
            c.duplicated += n - 1;
            if c.examples.len() < LIST_LIMIT {
                c.examples.push(format!("duplicated {g} ({n} times)"));
            }
        }
    }
    // Order: the target's first copies of expected items, in the target's
    // order, against the source's order of the items the target has.
    let mut seen = HashSet::new();
    let got_order: Vec<&str> = got
        .iter()
        .map(String::as_str)
        .filter(|g| want.contains(g) && seen.insert(*g))
        .collect();
    let want_order: Vec<&str> = expected
        .iter()
        .map(String::as_str)
        .filter(|e| counts.contains_key(e))
        .collect();
    c.order_differs_at = got_order.iter().zip(&want_order).position(|(a, b)| a != b);
    c
}

/// The result of `--verify`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VerifyReport {
    pub migration: String,
    pub source: String,
    pub target: String,
    pub conversations: usize,
    pub conversations_matching: usize,
    pub conversations_differing: usize,
    /// Items (activities or records) the source converts to, and the
    /// target holds, over all conversations.
    pub source_items: usize,
    pub target_items: usize,
    pub missing: usize,
    /// New in the source since the migration read it: run it again.
    pub pending: usize,
    pub unexpected: usize,
    pub duplicated: usize,
    pub out_of_order: usize,
    pub errors: usize,
    /// The sum of every difference: 0 is success.
    pub differences: usize,
    /// Every conversation that differs, in detail.
    #[serde(rename = "differing")]
    pub conversations_differing_list: Vec<ConversationCheck>,
}

impl VerifyReport {
    fn add(&mut self, c: &ConversationCheck) {
        self.conversations += 1;
        self.source_items += c.source;
        self.target_items += c.target;
        self.missing += c.missing;
        self.pending += c.pending;
        self.unexpected += c.unexpected;
        self.duplicated += c.duplicated;
        self.out_of_order += usize::from(c.order_differs_at.is_some());
        self.errors += usize::from(c.error.is_some());
        let d = c.differences();
        self.differences += d;
        if d == 0 {
            self.conversations_matching += 1;
        } else {
            self.conversations_differing += 1;
        }
    }
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "verify {}: {} -> {}",
            self.migration, self.source, self.target
        )?;
        writeln!(
            f,
            "  conversations: {} ({} match, {} differ)",
            self.conversations, self.conversations_matching, self.conversations_differing
        )?;
        writeln!(
            f,
            "  items: {} from the source, {} in the target",
            self.source_items, self.target_items
        )?;
        writeln!(
            f,
            "  missing {}, unexpected {}, duplicated {}, out of order {}, errors {}",
            self.missing, self.unexpected, self.duplicated, self.out_of_order, self.errors
        )?;
        for c in self.conversations_differing_list.iter().take(10) {
            let mut what = Vec::new();
            if c.target_missing {
                what.push("not in the target".to_owned());
            }
            if c.missing > 0 {
                what.push(format!("{} missing", c.missing));
            }
            if c.unexpected > 0 {
                what.push(format!("{} unexpected", c.unexpected));
            }
            if c.duplicated > 0 {
                what.push(format!("{} duplicated", c.duplicated));
            }
            if let Some(at) = c.order_differs_at {
                what.push(format!("order differs at {at}"));
            }
            if let Some(e) = &c.error {
                what.push(e.clone());
            }
            writeln!(f, "  {}: {}", c.conversation_id, what.join(", "))?;
        }
        if self.conversations_differing_list.len() > 10 {
            writeln!(
                f,
                "  ... and {} more (see the JSON report)",
                self.conversations_differing_list.len() - 10
            )?;
        }
        if self.pending > 0 {
            writeln!(
                f,
                "  pending {}: new in the source since the migration read it (run it again to write them)",
                self.pending
            )?;
        }
        if self.differences == 0 {
            writeln!(f, "  0 differences")
        } else {
            writeln!(f, "  {} differences", self.differences)
        }
    }
}

/// Where `--verify` writes its report by default.
pub fn default_report_path(sync: &SyncConfig, name: &str) -> PathBuf {
    sync.state_dir.join(format!("{name}.verify.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn compare_finds_each_kind_of_difference() {
        let none = HashSet::new();
        let want = ids("a b c d");
        let same = compare("c", &want, Some(&want), &none);
        assert_eq!(same.differences(), 0);
        let c = compare("c", &want, Some(&ids("a c d x")), &none);
        assert_eq!((c.missing, c.unexpected, c.differences()), (1, 1, 2));
        let c = compare("c", &want, Some(&ids("a b b c d")), &none);
        assert_eq!((c.duplicated, c.differences()), (1, 1));
        let c = compare("c", &want, Some(&ids("a c b d")), &none);
        assert_eq!(c.order_differs_at, Some(1));
        // Missing items alone do not count as disorder.
        let c = compare("c", &want, Some(&ids("a d")), &none);
        assert_eq!((c.missing, c.order_differs_at), (2, None));
        let c = compare("c", &want, None, &none);
        assert!(c.target_missing);
        assert_eq!(c.missing, 4);
        assert_eq!(compare("c", &[], None, &none).differences(), 0);
    }

    #[test]
    fn items_newer_than_the_last_read_are_pending_not_missing() {
        let pending: HashSet<String> = ids("d").into_iter().collect();
        let c = compare("c", &ids("a b c d"), Some(&ids("a b c")), &pending);
        assert_eq!((c.missing, c.pending, c.differences()), (0, 1, 0));
        // Pending only excuses what is absent: the rest still counts.
        let c = compare("c", &ids("a b c d"), Some(&ids("a c")), &pending);
        assert_eq!((c.missing, c.pending), (1, 1));
        let c = compare("c", &ids("d"), None, &pending);
        assert_eq!((c.target_missing, c.differences()), (false, 0));
    }
}
