//! Why one conversation did not finish.

use crate::http::HttpError;
use crate::store::StoreError;
use crate::sync::runner::Failure;

/// Why a conversation did not finish.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Its data cannot be converted: retrying will not help.
    #[error("conversation {conversation_id}: cannot convert: {message}")]
    Convert {
        conversation_id: String,
        message: String,
    },
    #[error("conversation {conversation_id}: {source}")]
    Http {
        conversation_id: String,
        source: HttpError,
    },
    /// The source did not return it (yet): a later try may find it.
    #[error("{message}")]
    Missing {
        conversation_id: String,
        message: String,
    },
    #[error("conversation {conversation_id}: {message}")]
    Sink {
        conversation_id: String,
        message: String,
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
            PipelineError::Missing { .. } => "missing",
            PipelineError::Sink { .. } => "sink",
            PipelineError::Store(_) => "store",
        }
    }

    /// Whether the same conversation may succeed on a later try.
    pub fn is_retryable(&self) -> bool {
        match self {
            PipelineError::Convert { .. } => false,
            PipelineError::Http { source, .. } => source.is_retryable(),
            PipelineError::Missing { .. }
            | PipelineError::Sink { .. }
            | PipelineError::Store(_) => true,
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
    pub(super) fn sink(conversation_id: &str, message: impl ToString) -> PipelineError {
        PipelineError::Sink {
            conversation_id: conversation_id.to_owned(),
            message: message.to_string(),
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
