//! Why one conversation did not finish.

use crate::format::ConvertError;
use crate::format::interactions::InteractionsError;
use crate::http::HttpError;
use crate::platform::files::{FileError, Unreadable};
use crate::store::StoreError;
use crate::sync::runner::Failure;

/// Why a conversation's data cannot be converted.
#[derive(Debug, thiserror::Error)]
pub enum Unconvertible {
    /// Records that are no LivePerson records.
    #[error("{0}")]
    Records(#[source] serde_json::Error),
    #[error("{0}")]
    Format(#[source] ConvertError),
    /// A Messaging Interactions transcript that cannot be read.
    #[error("{}: {}", .0.field, .0.reason)]
    Transcript(InteractionsError),
    /// Files that cannot be read.
    #[error("{0}")]
    Files(#[source] Unreadable),
}

/// Why a conversation did not finish.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Its data cannot be converted: retrying will not help.
    #[error("conversation {conversation_id}: cannot convert: {source}")]
    Convert {
        conversation_id: String,
        source: Unconvertible,
    },
    #[error("conversation {conversation_id}: {source}")]
    Http {
        conversation_id: String,
        source: HttpError,
    },
    /// The files it goes to cannot be written (or read back).
    #[error("conversation {conversation_id}: {source}")]
    Sink {
        conversation_id: String,
        source: FileError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PipelineError {
    /// A short name for dead letters and metrics.
    pub fn class(&self) -> &'static str {
        match self {
            PipelineError::Convert { .. } => "convert",
            PipelineError::Http { .. } => "http",
            PipelineError::Sink { .. } => "sink",
            PipelineError::Store(_) => "store",
        }
    }

    /// Whether the same conversation may succeed on a later try.
    pub fn is_retryable(&self) -> bool {
        match self {
            PipelineError::Convert { .. } => false,
            PipelineError::Http { source, .. } => source.is_retryable(),
            PipelineError::Sink { .. } | PipelineError::Store(_) => true,
        }
    }

    /// An HTTP failure of `conversation_id`.
    pub(super) fn http(conversation_id: &str) -> impl FnOnce(HttpError) -> PipelineError + '_ {
        move |source| PipelineError::Http {
            conversation_id: conversation_id.to_owned(),
            source,
        }
    }

    /// A sink failure of `conversation_id`.
    pub(super) fn sink(conversation_id: &str) -> impl FnOnce(FileError) -> PipelineError + '_ {
        move |source| PipelineError::Sink {
            conversation_id: conversation_id.to_owned(),
            source,
        }
    }

    /// `conversation_id`'s data cannot be converted.
    pub(super) fn convert(conversation_id: &str, source: Unconvertible) -> PipelineError {
        PipelineError::Convert {
            conversation_id: conversation_id.to_owned(),
            source,
        }
    }
}

impl Failure for PipelineError {
    fn class(&self) -> &'static str {
        PipelineError::class(self)
    }
    fn is_retryable(&self) -> bool {
        PipelineError::is_retryable(self)
    }
    fn store_error(self) -> Result<StoreError, Self> {
        match self {
            PipelineError::Store(e) => Ok(e),
            e => Err(e),
        }
    }
}
