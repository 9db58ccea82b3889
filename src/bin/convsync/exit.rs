//! THE exit codes (documented in `--help` and docs/), and the one place
//! that decides which one a command ends with.

use convsync::ops::{self, Kind};

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done.
    Success,
    /// 1: failed (or conversations still failing: run it again).
    Failed,
    /// 2: bad usage or config.
    Usage,
    /// 3: `convert`: some lines failed, the rest converted.
    Partial,
    /// 4: another convsync is using the store.
    StoreInUse,
    /// 5: done, but some conversations went to dead letters.
    DeadLetters,
    /// 6: `migrate --verify` found differences.
    Differences,
    /// 7: done, but some conversations were held back: LivePerson's
    /// answers did not prove them whole (truncated, empty, or a 4xx that
    /// does not say why). What they showed was delivered; nothing was
    /// sealed; a later run reads them again.
    HeldBack,
    /// 130: stopped by a signal.
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Partial => 3,
            Exit::StoreInUse => 4,
            Exit::DeadLetters => 5,
            Exit::Differences => 6,
            Exit::HeldBack => 7,
            Exit::Interrupted => 130,
        }
    }

    /// A one-shot job's ending: stopped, still failing, dead letters, held
    /// back, done.
    pub fn of_job(interrupted: bool, failed: u64, dead_letters: u64, held: u64) -> Exit {
        if interrupted {
            Exit::Interrupted
        } else if failed > 0 {
            Exit::Failed
        } else if dead_letters > 0 {
            Exit::DeadLetters
        } else if held > 0 {
            Exit::HeldBack
        } else {
            Exit::Success
        }
    }

    /// The exit code of a command that failed with `e`.
    pub fn of_error(e: &anyhow::Error) -> Exit {
        match e.downcast_ref::<ops::Error>().map(ops::Error::kind) {
            Some(Kind::Usage) => Exit::Usage,
            Some(Kind::StoreInUse) => Exit::StoreInUse,
            Some(Kind::Failed) | None => Exit::Failed,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}
