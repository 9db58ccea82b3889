//! Why a call did not succeed, and why one attempt gave nothing.

use std::time::Duration;

/// A call that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A 4xx that retrying cannot fix.
    #[error("{upstream} {endpoint}: HTTP {status}: {body}")]
    Status {
        upstream: String,
        endpoint: &'static str,
        status: u16,
        body: String,
    },
    /// 401: credentials were refused.
    #[error("{upstream} {endpoint}: unauthorized (HTTP 401): {body}")]
    Unauthorized {
        upstream: String,
        endpoint: &'static str,
        body: String,
    },
    /// A request that must not be applied twice may or may not have been:
    /// ask the server before sending it again.
    #[error("{upstream} {endpoint}: the request may or may not have been applied: {cause}")]
    Unsure {
        upstream: String,
        endpoint: &'static str,
        #[source]
        cause: Failure,
    },
    /// Retries ran out (attempts or time).
    #[error("{upstream} {endpoint}: gave up after {attempts} attempt(s) in {elapsed:.1?}: {last}")]
    Exhausted {
        upstream: String,
        endpoint: &'static str,
        attempts: u32,
        elapsed: Duration,
        #[source]
        last: Failure,
    },
    #[error(
        "{url}: plain http:// is allowed only to loopback addresses (set allow_insecure_http = true to allow it)"
    )]
    Insecure { url: String },
    /// The request (or the client) could not be made.
    #[error("{upstream} {endpoint}: {source}")]
    Request {
        upstream: String,
        endpoint: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Why one attempt gave no answer worth having (retried, or the last of
/// those that ran out).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No answer: the connection failed, timed out or was reset.
    #[error("{kind}: {source}")]
    Send {
        /// `connect`, `timeout` or `send`.
        kind: &'static str,
        source: reqwest::Error,
    },
    /// The answer's body was cut short.
    #[error("reading the body of an HTTP {status}: {source}")]
    Body { status: u16, source: reqwest::Error },
    /// A 2xx whose body does not parse.
    #[error("malformed body: {0}")]
    Malformed(#[source] serde_json::Error),
    /// A 5xx or a 408, with the start of its body.
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    /// A 429.
    #[error("HTTP 429 (Retry-After: {})", retry_after.as_deref().unwrap_or("none"))]
    RateLimited { retry_after: Option<String> },
}

impl HttpError {
    /// Whether the same call may succeed later (the caller may try again
    /// another time; this layer has already retried what it could).
    pub fn is_retryable(&self) -> bool {
        matches!(self, HttpError::Exhausted { .. } | HttpError::Unsure { .. })
    }

    /// Whether the server refused these credentials for this call (401 or
    /// 403): another route, or other credentials, may still work.
    pub fn is_refused(&self) -> bool {
        matches!(
            self,
            HttpError::Unauthorized { .. } | HttpError::Status { status: 403, .. }
        )
    }

    /// The upstream the call went to (none when no call was made).
    pub fn upstream(&self) -> Option<&str> {
        match self {
            HttpError::Status { upstream, .. }
            | HttpError::Unauthorized { upstream, .. }
            | HttpError::Unsure { upstream, .. }
            | HttpError::Exhausted { upstream, .. }
            | HttpError::Request { upstream, .. } => Some(upstream),
            HttpError::Insecure { .. } => None,
        }
    }

    /// A 4xx other than 401, 403 and 429: the server answered without the
    /// data, and whether it refused the credentials or the request cannot
    /// be told (what a brand's credential gets from a consumer's API is
    /// not documented).
    pub fn is_unexplained_refusal(&self) -> bool {
        matches!(self, HttpError::Status { status, .. } if (400..500).contains(status) && *status != 403)
    }
}
