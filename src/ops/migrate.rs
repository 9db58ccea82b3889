//! `migrate`: list, dry-run, run and verify the `[[migration]]`s of the
//! config.

use super::Error;
use crate::config::Config;
use crate::format::Report;
use crate::store::Store;
pub use crate::sync::migrate::{ConversationCheck, Endpoint, Migration, Preview, VerifyReport};
use crate::sync::migrate::{Direction, State, default_report_path};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One configured migration, as `migrate --list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub name: String,
    /// `source -> target`.
    pub route: String,
    /// Its selection: "since ..., 3 conversation ids" or "everything".
    pub selection: String,
    /// Its state in the store, in words.
    pub state: String,
}

/// Every configured migration and its state.
pub fn list(config: &Config) -> Result<Vec<Listing>, Error> {
    let store = super::store::open_existing(&config.sync)?;
    config
        .migrations
        .iter()
        .map(|m| {
            let mut selection = Vec::new();
            if let Some(s) = &m.since {
                selection.push(format!("since {s}"));
            }
            if let Some(u) = &m.until {
                selection.push(format!("until {u}"));
            }
            if !m.conversation_ids.is_empty() {
                selection.push(format!("{} conversation ids", m.conversation_ids.len()));
            }
            if let Some(f) = &m.conversation_ids_file {
                selection.push(format!("ids in {}", f.display()));
            }
            if selection.is_empty() {
                selection.push("everything".into());
            }
            let state = match &store {
                Some(Ok(s)) => s
                    .progress::<State>(&State::key(&m.name))?
                    .unwrap_or_default()
                    .describe(),
                None => State::default().describe(),
                Some(Err(_)) => "unknown: the store is in use".to_owned(),
            };
            Ok(Listing {
                name: m.name.clone(),
                route: format!("{} -> {}", m.source.describe(), m.target.describe()),
                selection: selection.join(", "),
                state,
            })
        })
        .collect()
}

/// The migration called `name`, ready to run.
pub fn open(config: &Config, name: &str) -> Result<Migration, Error> {
    Migration::new(config, name).map_err(|e| Error::MigrationConfig(Box::new(e)))
}

/// What `convsync migrate NAME` does, by its flags and the migration's
/// target.
pub enum Action {
    /// Compares source and target (a dry run with `--verify`), reading the
    /// store.
    Verify(Arc<Store>),
    /// Converts without writing: a dry run (with the store's resume points,
    /// if there is a store) or a stdout target (`print`: every item).
    Preview {
        store: Option<Arc<Store>>,
        print: bool,
    },
    /// Runs it (here, or in the daemon that holds the store), then, with
    /// `verify`, compares.
    Run { verify: bool },
}

/// What `m` with `--dry-run` (`dry_run`) and `--verify` (`verify`) does.
pub fn action(
    config: &Config,
    m: &Migration,
    dry_run: bool,
    verify: bool,
) -> Result<Action, Error> {
    let name = m.name();
    let stdout_target = matches!(m.cfg.target, Endpoint::Stdout {});
    if stdout_target && verify {
        return Err(Error::Usage(format!(
            "migration {name:?} writes to stdout, which keeps nothing to compare: --verify needs a Hubster or files target"
        )));
    }
    // A dry run reads the store's resume points only if there is a store.
    let have_store = config.sync.store_path().exists();
    if dry_run && verify {
        if !have_store {
            return Err(Error::NothingToVerify {
                path: config.sync.store_path(),
                name: name.to_owned(),
            });
        }
        return Ok(Action::Verify(store(config)?));
    }
    if dry_run || stdout_target {
        return Ok(Action::Preview {
            store: (dry_run && have_store).then(|| store(config)).transpose()?,
            print: stdout_target && !dry_run,
        });
    }
    Ok(Action::Run { verify })
}

/// What a migration writes: `activities` or `records`.
pub fn noun(m: &Migration) -> &'static str {
    match m.cfg.direction() {
        Direction::ToHubster => "activities",
        Direction::ToLivePerson => "records",
    }
}

/// The store, for a migration that writes (or a dry run that reads its
/// resume points).
pub fn store(config: &Config) -> Result<Arc<Store>, Error> {
    super::store::open(
        &config.sync,
        " (stop the daemon first: a migration needs the store)",
    )
}

/// What a dry run or a stdout target converted, in all.
#[derive(Debug, Clone, Default)]
pub struct PreviewTotals {
    pub conversations: u64,
    pub items: u64,
    pub failed: u64,
    pub report: Report,
}

/// Converts every selected conversation without writing. `store`: read
/// the resume points there (a dry run of a migration that ran). `each`
/// gets every conversation converted; `failed` every one that was not.
pub async fn preview(
    m: &Migration,
    store: Option<Arc<Store>>,
    each: &mut dyn FnMut(&Preview),
    failed: &mut dyn FnMut(&Error),
) -> Result<PreviewTotals, Error> {
    let mut t = PreviewTotals::default();
    let mut one = |r: Result<Preview, _>| match r {
        Ok(p) => {
            t.conversations += 1;
            t.items += p.items.len() as u64;
            each(&p);
            t.report.merge(p.report);
        }
        Err(e) => {
            t.failed += 1;
            failed(&Error::from(e));
        }
    };
    m.preview(store, &mut one).await?;
    Ok(t)
}

/// `--verify`: compares, and writes the JSON report to `report_path` (or
/// `<state_dir>/<name>.verify.json`). Returns the report and where it is.
pub async fn verify(
    m: &Migration,
    config: &Config,
    store: &Arc<Store>,
    report_path: Option<&Path>,
    each: &mut dyn FnMut(&ConversationCheck),
) -> Result<(VerifyReport, PathBuf), Error> {
    let report = m.verify(store, each).await?;
    let path = write_report(&report, report_path, config, m.name())?;
    Ok((report, path))
}

/// Writes a verify report to `report_path` (or
/// `<state_dir>/<name>.verify.json`); where it went.
pub fn write_report(
    report: &VerifyReport,
    report_path: Option<&Path>,
    config: &Config,
    name: &str,
) -> Result<PathBuf, Error> {
    let path = report_path.map_or_else(
        || default_report_path(&config.sync, name),
        Path::to_path_buf,
    );
    let json = serde_json::to_vec_pretty(report).expect("reports serialize");
    std::fs::write(&path, json).map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}
