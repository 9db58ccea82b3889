//! Running a migration: to Hubster through the backfill, to LivePerson
//! through the export, both on the one runner; and retrying its dead
//! letters.

use super::report::{State, Summary};
use super::{Direction, Endpoint, MigrateError, Migration, SetupError};
use crate::clock::now_ms;
use crate::store::Store;
use crate::sync::backfill::{self, BackfillError, Event, Request};
use crate::sync::deps::blocking;
use crate::sync::export::ExportWork;
use crate::sync::pipeline::{self, LpWork, Route, Sink};
use crate::sync::runner::{self, Ended, SetOutcome};
use std::sync::Arc;
use tokio::sync::watch;

impl Migration {
    /// Runs the migration (or goes on with it) until done or `stop`.
    pub async fn run(
        &self,
        store: Arc<Store>,
        stop: watch::Receiver<bool>,
        on: &mut (dyn FnMut(Event) + Send),
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

    /// Where a migration to Hubster (or activity files) writes.
    fn sink(&self) -> Sink {
        match &self.cfg.target {
            Endpoint::Files { dir, .. } => Sink::Files(dir.clone()),
            Endpoint::Hubster {} => Sink::Hubster(Arc::clone(self.hub.as_ref().expect("checked"))),
            _ => unreachable!("checked: only hubster and files targets take activities"),
        }
    }

    async fn run_to_hubster(
        &self,
        store: &Arc<Store>,
        (since, until): (i64, i64),
        stop: watch::Receiver<bool>,
        on: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Summary, MigrateError> {
        let sink = self.sink();
        if let Sink::Hubster(hub) = &sink {
            // Bad credentials fail here, before any work.
            hub.token(false)
                .await
                .map_err(|e| self.setup(SetupError::Token(e)))?;
        }
        let ids = match &self.cfg.source {
            Endpoint::Files { .. } => Some(self.conversations().await?),
            _ => self.selected_ids()?,
        };
        let route = Route {
            source: Arc::new(self.record_source()),
            sink: Arc::new(sink),
        };
        let req = Request {
            since_ms: since,
            until_ms: until,
            until_given: self.cfg.until.is_some(),
            ids,
            remember_windows: self.files.is_none(),
            window_ms: self.cfg.window_ms(),
        };
        let b = backfill::run(&self.deps(store), &route, &req, stop, on)
            .await
            .map_err(|e| match e {
                BackfillError::Store(e) => MigrateError::Store(e),
                BackfillError::Pipeline(e) => MigrateError::Pipeline(e),
                BackfillError::Select(e) => self.setup(e),
                BackfillError::Refused(m) => self.setup(SetupError::Refused(m)),
            })?;
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
        on: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Summary, MigrateError> {
        let Endpoint::Files { dir, .. } = &self.cfg.target else {
            unreachable!("checked: LivePerson records go to files or stdout");
        };
        let (ids, names) = self.selection().await?;
        let deps = self.deps(store);
        let work = ExportWork::new(&deps, self.activity_source(), dir, names);
        // Those set aside before leave the list when they succeed.
        let mut dead = deps.dead_letter_ids().await?;
        on(Event::Found {
            conversations: ids.len(),
        });
        let found = ids.len() as u64;
        let mut each = |o: &SetOutcome, _: &Ended| {
            on(Event::Progress {
                done: o.done(),
                found,
                delivered: o.delivered,
                dead: o.dead.len() as u64,
            })
        };
        let passes = deps.settings.retry_budget.max(1);
        let out = runner::run(&deps, &work, ids, passes, &stop, &mut dead, &mut each).await?;
        let mut summary = Summary {
            windows: 1,
            conversations: out.done(),
            written: out.delivered,
            dead_letters: out.dead.len() as u64,
            failed: out.failed.len() as u64,
            ..Summary::default()
        };
        // Stopped with some not done (those are done on the next run).
        summary.interrupted = *stop.borrow() && summary.conversations + summary.failed < found;
        Ok(summary)
    }

    /// Migrates these conversations now (for `dead-letters retry`): one
    /// pass of the runner over them, with claims; what is new in each is
    /// written, and those that succeed leave the dead letters. `each` is
    /// told how each ended.
    pub async fn retry(
        &self,
        store: &Arc<Store>,
        ids: &[String],
        stop: &watch::Receiver<bool>,
        each: &mut (dyn FnMut(&Ended) + Send),
    ) -> Result<SetOutcome, MigrateError> {
        let deps = self.deps(store);
        let mut dead = deps.dead_letter_ids().await?;
        let mut told = |_: &SetOutcome, e: &Ended| each(e);
        let ids = ids.to_vec();
        Ok(match (self.cfg.direction(), &self.cfg.target) {
            (_, Endpoint::Stdout {}) => {
                return Err(self.setup(SetupError::StdoutDeadLetters));
            }
            (Direction::ToHubster, _) => {
                let route = Route {
                    source: Arc::new(self.record_source()),
                    sink: Arc::new(self.sink()),
                };
                pipeline::recover(self.cfg.pipeline(), store, &route.sink, &deps.claims).await?;
                let work = LpWork::new(&deps, &route);
                runner::run(&deps, &work, ids, 1, stop, &mut dead, &mut told).await?
            }
            (Direction::ToLivePerson, target) => {
                let Endpoint::Files { dir, .. } = target else {
                    unreachable!("checked: LivePerson records go to files or stdout");
                };
                let names = self.selection().await?.1;
                let work = ExportWork::new(&deps, self.activity_source(), dir, names);
                runner::run(&deps, &work, ids, 1, stop, &mut dead, &mut told).await?
            }
        })
    }
}
