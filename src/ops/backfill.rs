//! `backfill`: a range of history (or a list of conversations) once,
//! through the daemon's pipeline and checkpoints.

use super::Error;
use crate::platform::files::read_id_list;
use crate::platform::liveperson::MAX_WINDOW_MS;
use crate::sync::backfill::Request;
use crate::sync::jobs::Job;
use std::path::PathBuf;

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

/// The job `opts` ask for.
pub fn job(opts: &Options) -> Result<Job, Error> {
    Ok(Job::Backfill {
        pipeline: opts.pipeline.clone(),
        request: request(opts)?,
    })
}
