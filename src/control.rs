//! The running daemon's control socket: `<state_dir>/convsync.sock`, a Unix
//! socket of mode 0600 (only the service user and root may use it; the
//! metrics port stays read-only): its transport and its security, nothing
//! more. A command that finds the store held by the daemon hands its job
//! (see [`crate::sync::jobs`]) to it here; the daemon's [`JobHost`] runs it
//! beside live sync and its updates come back.
//!
//! The protocol is JSON lines. The command sends [`Ask::Run`]; the daemon
//! answers [`Reply::Accepted`], then progress, then one of
//! [`Reply::Done`], [`Reply::Failed`] (with what the failure means) or
//! [`Reply::Stopping`]. The command may send [`Ask::Cancel`] (Ctrl-C); a
//! command that goes away cancels its job too.

use crate::sync::backfill::Event;
use crate::sync::jobs::host::{JobHost, Update};
use crate::sync::jobs::{Job, JobEnd, JobEvent, Kind};
use crate::sync::runner::Ended;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

/// What a command sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Ask {
    Run { job: Job },
    Cancel,
}

/// What the daemon answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Reply {
    Accepted {
        id: String,
    },
    /// Progress, with the 429s the daemon's clients got (and the seconds
    /// they waited) since the job started.
    Progress {
        event: Event,
        rate_limited: u64,
        wait_seconds: f64,
    },
    /// One conversation of a dead-letter job: what a retry wrote, or why
    /// not; a drop: `error` if it was no dead letter.
    Item {
        conversation_id: String,
        written: Option<u64>,
        error: Option<String>,
    },
    Done {
        summary: serde_json::Value,
        note: Option<String>,
        interrupted: bool,
        failed: u64,
        dead_letters: u64,
        #[serde(default)]
        held: u64,
    },
    /// The job failed there; `kind` says what it means (the exit code).
    Failed {
        message: String,
        #[serde(default)]
        kind: Kind,
    },
    /// The daemon is stopping: it resumes the job when it starts again.
    Stopping,
}

impl Reply {
    /// A host's update as the socket carries it.
    fn of(update: Update) -> Reply {
        match update {
            Update::Event {
                event: JobEvent::Progress(event),
                rate_limited,
                wait_seconds,
            } => Reply::Progress {
                event,
                rate_limited,
                wait_seconds,
            },
            Update::Event {
                event: JobEvent::Ended(e),
                ..
            } => Reply::Item {
                conversation_id: e.conversation_id,
                written: e.written,
                error: e.error,
            },
            Update::End(Ok(end)) => Reply::Done {
                summary: end.summary,
                note: end.note,
                interrupted: end.interrupted,
                failed: end.failed,
                dead_letters: end.dead_letters,
                held: end.held,
            },
            Update::End(Err((kind, message))) => Reply::Failed { message, kind },
            Update::Stopping => Reply::Stopping,
        }
    }
}

/// What the command that handed a job over is told as it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Told {
    /// The daemon took it, under this id.
    Accepted { id: String },
    /// How it goes, with the daemon's 429s and waits since it started.
    Event {
        event: JobEvent,
        rate_limited: u64,
        wait_seconds: f64,
    },
}

/// How a handed-over job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Handed {
    Done(JobEnd),
    /// It failed there, meaning `kind`.
    Failed {
        kind: Kind,
        message: String,
    },
    /// The daemon is stopping: it resumes the job when it starts again.
    Stopping,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: not a socket: the daemon's control socket is not what is there; refusing to use it",
        path.display()
    )]
    NotSocket { path: PathBuf },
    #[error(
        "{}: mode {mode:04o}: other users could use the daemon's control socket; refusing to use it (it must be 0600)",
        path.display()
    )]
    Mode { path: PathBuf, mode: u32 },
    #[error(
        "{}: owned by uid {owner}, neither this user (uid {uid}) nor root: refusing to use it",
        path.display()
    )]
    Owner { path: PathBuf, owner: u32, uid: u32 },
    #[error("the daemon at {}: unreadable answer {answer:?}: {source}", path.display())]
    Protocol {
        path: PathBuf,
        answer: String,
        source: serde_json::Error,
    },
    #[error(
        "the daemon at {} went away during the job: when it starts again it resumes the job",
        path.display()
    )]
    Gone { path: PathBuf },
}

/// This process's effective uid (the owner of `/proc/self`).
pub fn own_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// Checks the control socket before using it: a socket, of mode 0600 or
/// stricter, owned by this user or root.
pub fn check_socket(path: &Path) -> Result<(), ControlError> {
    let meta = std::fs::symlink_metadata(path).map_err(|source| ControlError::Io {
        path: path.to_owned(),
        source,
    })?;
    if !meta.file_type().is_socket() {
        return Err(ControlError::NotSocket {
            path: path.to_owned(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(ControlError::Mode {
            path: path.to_owned(),
            mode,
        });
    }
    let uid = own_uid();
    if meta.uid() != uid && meta.uid() != 0 {
        return Err(ControlError::Owner {
            path: path.to_owned(),
            owner: meta.uid(),
            uid,
        });
    }
    Ok(())
}

/// Hands `job` to the daemon at `path` and follows it: `on` is told how
/// it goes; how it ended is returned. `cancel` turning true asks the
/// daemon to stop the job.
pub async fn submit(
    path: &Path,
    job: Job,
    mut cancel: watch::Receiver<bool>,
    on: &mut (dyn FnMut(Told) + Send),
) -> Result<Handed, ControlError> {
    check_socket(path)?;
    let io = |source| ControlError::Io {
        path: path.to_owned(),
        source,
    };
    let stream = UnixStream::connect(path).await.map_err(io)?;
    let (r, mut w) = stream.into_split();
    w.write_all(&line(&Ask::Run { job })).await.map_err(io)?;
    let mut lines = BufReader::new(r).lines();
    let mut cancelled = false;
    loop {
        tokio::select! {
            l = lines.next_line() => {
                let Some(l) = l.map_err(io)? else {
                    return Err(ControlError::Gone { path: path.to_owned() });
                };
                let reply: Reply = serde_json::from_str(&l).map_err(|source| ControlError::Protocol {
                    path: path.to_owned(),
                    answer: l.clone(),
                    source,
                })?;
                match reply {
                    Reply::Accepted { id } => on(Told::Accepted { id }),
                    Reply::Progress { event, rate_limited, wait_seconds } => on(Told::Event {
                        event: JobEvent::Progress(event),
                        rate_limited,
                        wait_seconds,
                    }),
                    Reply::Item { conversation_id, written, error } => on(Told::Event {
                        event: JobEvent::Ended(Ended { conversation_id, written, error }),
                        rate_limited: 0,
                        wait_seconds: 0.0,
                    }),
                    Reply::Done { summary, note, interrupted, failed, dead_letters, held } => {
                        return Ok(Handed::Done(JobEnd { summary, note, interrupted, failed, dead_letters, held }));
                    }
                    Reply::Failed { message, kind } => return Ok(Handed::Failed { kind, message }),
                    Reply::Stopping => return Ok(Handed::Stopping),
                }
            }
            c = cancel.changed(), if !cancelled => {
                if c.is_err() || *cancel.borrow() {
                    cancelled = true;
                    w.write_all(&line(&Ask::Cancel)).await.map_err(io)?;
                }
            }
        }
    }
}

/// One JSON line.
fn line(v: &impl Serialize) -> Vec<u8> {
    let mut line = serde_json::to_vec(v).expect("the protocol serializes");
    line.push(b'\n');
    line
}

/// Binds the control socket at `path` (mode 0600) and serves commands
/// there until the process ends: each job it is handed goes to `host`.
pub async fn serve(path: PathBuf, host: Arc<JobHost>) -> Result<PathBuf, ControlError> {
    let io = |source| ControlError::Io {
        path: path.clone(),
        source,
    };
    // This process holds the store: a socket left there is stale.
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let listener = UnixListener::bind(&path).map_err(io)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve_one(stream, Arc::clone(&host)));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "control socket: accept failed");
                    // (Out of descriptors, most likely: not a busy loop.)
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    tracing::info!(socket = %path.display(), "control socket ready");
    Ok(path)
}

/// One command's connection: its peer checked, its job handed to `host`,
/// the job's updates sent back; a cancel (or the command going away)
/// cancels the job.
async fn serve_one(stream: UnixStream, host: Arc<JobHost>) {
    let uid = own_uid();
    let peer = stream.peer_cred().map(|c| c.uid());
    let (r, mut w) = stream.into_split();
    let refuse = |message: String, kind: Kind| line(&Reply::Failed { message, kind });
    match peer {
        Ok(p) if p == uid || p == 0 => {}
        other => {
            tracing::warn!(peer = ?other, "control socket: refused a connection from another user");
            let _ = w
                .write_all(&refuse(
                    format!(
                        "only uid {uid} (the daemon's user) and root may hand jobs to this daemon"
                    ),
                    Kind::Failed,
                ))
                .await;
            return;
        }
    }
    let mut lines = BufReader::new(r).lines();
    let job = match lines.next_line().await {
        Ok(Some(l)) => match serde_json::from_str::<Ask>(&l) {
            Ok(Ask::Run { job }) => job,
            Ok(Ask::Cancel) => return,
            Err(e) => {
                let _ = w
                    .write_all(&refuse(format!("unreadable request: {e}"), Kind::Usage))
                    .await;
                return;
            }
        },
        _ => return,
    };
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let (id, mut rx) = match host.take(job, cancel_rx).await {
        Ok(taken) => taken,
        Err(e) => {
            let _ = w
                .write_all(&refuse(format!("cannot keep the job: {e}"), Kind::Failed))
                .await;
            return;
        }
    };
    let mut gone = w.write_all(&line(&Reply::Accepted { id })).await.is_err();
    if gone {
        let _ = cancel_tx.send(true);
    }
    loop {
        tokio::select! {
            update = rx.recv() => {
                let Some(update) = update else { break };
                if !gone && w.write_all(&line(&Reply::of(update))).await.is_err() {
                    gone = true;
                    let _ = cancel_tx.send(true);
                }
            }
            l = lines.next_line(), if !gone => match l {
                Ok(Some(l)) => {
                    if matches!(serde_json::from_str::<Ask>(&l), Ok(Ask::Cancel)) {
                        tracing::info!("job cancelled by its command");
                        let _ = cancel_tx.send(true);
                    }
                }
                // The command went away: nobody wants the job any more.
                _ => {
                    gone = true;
                    let _ = cancel_tx.send(true);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_others_could_use_or_someone_else_owns_is_refused_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let path = dir.join("convsync.sock");
        let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        check_socket(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = check_socket(&path).unwrap_err().to_string();
        assert!(
            e.contains("convsync.sock") && e.contains("0666") && e.contains("0600"),
            "{e}"
        );
        // A plain file where the socket should be.
        let file = dir.join("plain");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = check_socket(&file).unwrap_err().to_string();
        assert!(e.contains("plain") && e.contains("not a socket"), "{e}");
        // Owned by someone else (only root can arrange that).
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        if own_uid() == 0 {
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            let e = check_socket(&path).unwrap_err().to_string();
            assert!(
                e.contains("convsync.sock") && e.contains("uid 65534"),
                "{e}"
            );
        } else {
            eprintln!("skipped the owner check: only root can give the socket to another user");
        }
    }
}
