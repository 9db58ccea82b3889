//! Why a call did not succeed, and why one attempt gave nothing.

use std::time::Duration;

/// The endpoint name of a token grant. A grant answered is not an answer
/// about what the credential may do (a revoked client can still be given
/// tokens), so it does not end a row of refusals.
pub const TOKEN_ENDPOINT: &str = "token";

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
    #[error(
        "{upstream} {endpoint}: gave up after {attempts} attempt(s) in {elapsed:.1?}: {last}{}",
        check_hint(upstream, endpoint, last)
    )]
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
    /// Not sent: the upstream is paused for a refusal, and this process
    /// does not wait the pause out (a one-shot run ends instead).
    #[error("{upstream} {endpoint}: not sent, paused: {why}")]
    Paused {
        upstream: String,
        endpoint: &'static str,
        kind: Refusal,
        why: String,
    },
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
    #[error("{}", describe(source, *unreachable))]
    Send {
        /// `connect`, `timeout` or `send`.
        kind: &'static str,
        /// What kept the request from the server, where it is that.
        unreachable: Option<Unreachable>,
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

/// Why a request never reached a server: each names something in the
/// config to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// Nothing listens at the address (the connection was refused).
    Refused,
    /// The host name does not resolve.
    Name,
    /// The TLS handshake failed (a certificate, a protocol).
    Tls,
    /// No connection within the connect timeout.
    ConnectTimeout,
    /// Connected, but no answer within the request timeout.
    Timeout,
}

impl Unreachable {
    /// What kept a request from its server, read from the error's causes.
    pub fn of(e: &reqwest::Error) -> Option<Unreachable> {
        if e.is_timeout() {
            return Some(if e.is_connect() {
                Unreachable::ConnectTimeout
            } else {
                Unreachable::Timeout
            });
        }
        // The causes below reqwest's own error (whose words name the url,
        // which may hold any of the words looked for).
        let mut cause = std::error::Error::source(e);
        let mut text = String::new();
        while let Some(c) = cause {
            if let Some(found) = Self::of_io(c, e.is_connect()) {
                return Some(found);
            }
            text.push_str(&c.to_string().to_ascii_lowercase());
            text.push('\n');
            cause = c.source();
        }
        if text.contains("connection refused") {
            Some(Unreachable::Refused)
        } else if text.contains("dns error")
            || text.contains("failed to lookup address")
            || text.contains("name or service not known")
            || text.contains("no address associated")
        {
            Some(Unreachable::Name)
        } else if text.contains("certificate") || text.contains("tls") || text.contains("handshake")
        {
            Some(Unreachable::Tls)
        } else {
            None
        }
    }

    /// What an I/O error in the causes says, looking inside the errors it
    /// wraps (an io::Error's `source` skips the error it holds, and hyper
    /// wraps the TLS handshake's io::Error in another).
    fn of_io(cause: &(dyn std::error::Error + 'static), connecting: bool) -> Option<Unreachable> {
        let mut inner = Some(cause);
        while let Some(c) = inner {
            if c.downcast_ref::<rustls::Error>().is_some() {
                return Some(Unreachable::Tls);
            }
            let io = c.downcast_ref::<std::io::Error>()?;
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return Some(Unreachable::Refused),
                std::io::ErrorKind::TimedOut => return Some(Unreachable::ConnectTimeout),
                // Connecting, only the TLS handshake reads data.
                std::io::ErrorKind::InvalidData if connecting => return Some(Unreachable::Tls),
                _ => {}
            }
            inner = io
                .get_ref()
                .map(|e| e as &(dyn std::error::Error + 'static));
        }
        None
    }
}

/// The host (and port) a failed request was for.
fn host(e: &reqwest::Error) -> String {
    e.url().map_or_else(
        || "the server".to_owned(),
        |u| match (u.host_str(), u.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => u.to_string(),
        },
    )
}

/// The innermost cause of an error (reqwest's own words are vague).
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(c) = last.source() {
        last = c;
    }
    last.to_string()
}

/// A failed send as a person reads it: what happened, and where.
fn describe(e: &reqwest::Error, unreachable: Option<Unreachable>) -> String {
    let host = host(e);
    match unreachable {
        Some(Unreachable::Refused) => {
            format!("connection refused by {host} (nothing listens there)")
        }
        Some(Unreachable::Name) => format!(
            "the name {} does not resolve",
            e.url()
                .and_then(|u| u.host_str())
                .unwrap_or("of the server")
        ),
        Some(Unreachable::Tls) => format!("TLS with {host} failed: {}", innermost(e)),
        Some(Unreachable::ConnectTimeout) => {
            format!("no connection to {host} within the connect timeout")
        }
        Some(Unreachable::Timeout) => format!("no answer from {host} within the timeout"),
        None => format!("{host}: {}", innermost(e)),
    }
}

/// The config key that gives the address an endpoint is asked at.
pub fn address_key(upstream: &str, endpoint: &str) -> &'static str {
    match (upstream, endpoint) {
        ("liveperson", "csds") => "liveperson.csds_url",
        ("liveperson", _) => "liveperson.domain (or liveperson.csds_url, which finds it)",
        ("hubster", TOKEN_ENDPOINT) => "hubster.identity_url",
        ("hubster", e) if e.starts_with("inbound") => "hubster.direct_url",
        ("hubster", _) => "hubster.engine_url",
        _ => "the upstream's url",
    }
}

/// " (check <key>)" for a request that never reached its server.
pub fn check_hint(upstream: &str, endpoint: &str, failure: &Failure) -> String {
    match failure {
        Failure::Send {
            unreachable: Some(u),
            ..
        } => match u {
            Unreachable::ConnectTimeout => format!(
                " (check {} and {upstream}.http.connect_timeout_secs)",
                address_key(upstream, endpoint)
            ),
            Unreachable::Timeout => format!(" (check {upstream}.http.timeout_secs)"),
            _ => format!(" (check {})", address_key(upstream, endpoint)),
        },
        _ => String::new(),
    }
}

impl Failure {
    /// What kept the request from its server, where that is why it failed.
    pub fn unreachable(&self) -> Option<Unreachable> {
        match self {
            Failure::Send { unreachable, .. } => *unreachable,
            _ => None,
        }
    }
}

/// The first code of Hubster's engine (`ENG` and six digits) in `body`.
pub fn engine_code_in(body: &str) -> Option<&str> {
    let at = body.find("ENG")?;
    let code = body.get(at..at + 9)?;
    code[3..]
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then_some(code)
}

/// Hubster's code for a customer's message the hub has no agent or bot
/// integration to route to.
pub const NO_ROUTE: &str = "ENG005501";

/// What an answer refuses beyond its own call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The credential (401, 403, or a token grant's 400).
    Credential,
    /// The hub has nobody to route a customer's message to
    /// ([`NO_ROUTE`]): every customer post of every conversation fails
    /// alike until the hub has an agent or bot integration.
    NoRoute,
}

impl HttpError {
    /// Whether the same call may succeed later (the caller may try again
    /// another time; this layer has already retried what it could).
    pub fn is_retryable(&self) -> bool {
        matches!(self, HttpError::Exhausted { .. } | HttpError::Unsure { .. })
    }

    /// Whether the server refused these credentials for this call (401 or
    /// 403): another route, or other credentials, may still work.
    /// A token grant answered 400 is a refusal too: OAuth 2.0 answers a
    /// client it does not accept with 400 `invalid_client` (RFC 6749
    /// §5.2), and the grant's form holds nothing else to get wrong.
    pub fn is_refused(&self) -> bool {
        match self {
            HttpError::Unauthorized { .. } | HttpError::Status { status: 403, .. } => true,
            HttpError::Status {
                endpoint,
                status: 400,
                ..
            } => *endpoint == TOKEN_ENDPOINT,
            _ => false,
        }
    }

    /// The engine's own error code in the answer's body (`ENG006500`).
    pub fn engine_code(&self) -> Option<&str> {
        match self {
            HttpError::Status { body, .. } => engine_code_in(body),
            _ => None,
        }
    }

    /// Whether the answer refuses more than this call, so that every call
    /// like it would be refused too: the credential, or the hub's routing.
    pub fn refusal(&self) -> Option<Refusal> {
        if let HttpError::Paused { kind, .. } = self {
            Some(*kind)
        } else if self.is_refused() {
            Some(Refusal::Credential)
        } else if self.engine_code() == Some(NO_ROUTE) {
            Some(Refusal::NoRoute)
        } else {
            None
        }
    }

    /// The upstream the call went to (none when no call was made).
    pub fn upstream(&self) -> Option<&str> {
        match self {
            HttpError::Status { upstream, .. }
            | HttpError::Unauthorized { upstream, .. }
            | HttpError::Unsure { upstream, .. }
            | HttpError::Exhausted { upstream, .. }
            | HttpError::Request { upstream, .. }
            | HttpError::Paused { upstream, .. } => Some(upstream),
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
