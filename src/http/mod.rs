//! The only way out: every request to an upstream goes through an
//! [`Upstream`], which holds its quota, its pause gate, its timeouts and its
//! retry policy, and counts every outcome. No other code sleeps or retries.

mod config;
mod error;
pub mod limit;
mod metrics;
pub mod pace;
mod refusals;
pub mod retry;

pub use config::HttpConfig;
pub use error::{Failure, HttpError, Refusal, TOKEN_ENDPOINT, Unreachable, engine_code_in};
pub use metrics::{EndpointLabels, Metrics, MetricsSnapshot};
use refusals::{Ended, Refusals};
pub use refusals::{FIRST_REFUSAL_PAUSE, MAX_REFUSAL_PAUSE, REFUSALS_TO_PAUSE};

use crate::http::limit::PauseGate;
use crate::http::pace::{Answer, Learned, Pace};
use crate::http::retry::{Class, RetryPolicy};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Once};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// A successful answer, body read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: bytes::Bytes,
}

fn parse_json<T: serde::de::DeserializeOwned>(r: Reply) -> Result<T, Failure> {
    serde_json::from_slice(&r.body).map_err(Failure::Malformed)
}

/// Installs the TLS crypto provider once (reqwest is built without one).
fn tls_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only if another provider was installed first: fine either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Whether a URL may be used: https anywhere, http only to loopback unless
/// allowed.
pub fn check_url(url: &reqwest::Url, allow_insecure_http: bool) -> Result<(), HttpError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http => Ok(()),
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(HttpError::Insecure {
                    url: url.to_string(),
                })
            }
        }
        _ => Err(HttpError::Insecure {
            url: url.to_string(),
        }),
    }
}

/// Where an upstream's pauses (a Retry-After, as a wall-clock instant in
/// epoch ms) are kept across restarts, so that the next process honours
/// them too. `save` is called on the request's own task before it waits,
/// so it must be quick (a process killed between a 429 and the end of
/// `save` has not kept it).
pub trait PauseMemory: Send + Sync {
    fn load(&self, upstream: &str) -> Option<i64>;
    fn save(&self, upstream: &str, until_ms: i64);
}

/// Where an upstream's learned rate and concurrency are kept between
/// runs. `save` blocks (it is called off the async threads).
pub trait PaceMemory: Send + Sync {
    fn load(&self, upstream: &str) -> Option<Learned>;
    fn save(&self, upstream: &str, learned: Learned);
}

/// How often learned values are written while they change.
const KEEP_PACE_EVERY: Duration = Duration::from_secs(5);

/// One remote API: its quota, pause gate, concurrency, timeouts and retries.
pub struct Upstream {
    name: String,
    client: reqwest::Client,
    pace: Pace,
    gate: PauseGate,
    memory: std::sync::Mutex<Option<Arc<dyn PauseMemory>>>,
    paces: std::sync::Mutex<Option<Arc<dyn PaceMemory>>>,
    /// The learned values last written, and when.
    kept_pace: std::sync::Mutex<Option<(Instant, Learned)>>,
    policy: RetryPolicy,
    allow_insecure_http: bool,
    metrics: Arc<Metrics>,
    refusals: std::sync::Mutex<Refusals>,
    /// Whether `refusals` holds anything (the path of a good answer looks
    /// only at this).
    refused: std::sync::atomic::AtomicBool,
    /// Whether a request that never reached its server was warned about
    /// since the last good answer (one warning, not one a conversation).
    unreachable_warned: std::sync::atomic::AtomicBool,
    /// Whether a request that cannot reach its server fails at once rather
    /// than being retried (`doctor`: a verdict, not a wait).
    unreachable_final: std::sync::atomic::AtomicBool,
    /// Whether a call made while a refusal pauses the upstream fails at
    /// once rather than waiting the pause out (a one-shot run).
    refusal_final: std::sync::atomic::AtomicBool,
}

/// What one attempt came to.
enum Attempt<T> {
    Done(T),
    Fatal(HttpError),
    RateLimited(Option<String>),
    ServerError(Failure),
    /// A timeout, a reset, a 408 or a body that does not parse; `sent`:
    /// whether the request may have reached the server (all but connect errors).
    Transient(Failure, bool),
}

impl Upstream {
    pub fn new(name: &str, cfg: &HttpConfig, metrics: Arc<Metrics>) -> Result<Self, HttpError> {
        tls_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs_f64(cfg.connect_timeout_secs))
            .timeout(Duration::from_secs_f64(cfg.timeout_secs))
            .user_agent(concat!("convsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Request {
                upstream: name.to_owned(),
                endpoint: "client",
                source: Box::new(e),
            })?;
        let pace = Pace::new(&cfg.pace());
        metrics.paced(name, pace.learned());
        Ok(Upstream {
            name: name.to_owned(),
            client,
            pace,
            gate: PauseGate::default(),
            memory: std::sync::Mutex::new(None),
            paces: std::sync::Mutex::new(None),
            kept_pace: std::sync::Mutex::new(None),
            policy: cfg.retry_policy(),
            allow_insecure_http: cfg.allow_insecure_http,
            metrics,
            refusals: std::sync::Mutex::default(),
            refused: std::sync::atomic::AtomicBool::new(false),
            unreachable_warned: std::sync::atomic::AtomicBool::new(false),
            unreachable_final: std::sync::atomic::AtomicBool::new(false),
            refusal_final: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// From now on a request that cannot reach its server (refused, a name
    /// that does not resolve, TLS, a timeout) fails at once, naming why,
    /// instead of being retried: for a check that owes an answer now.
    pub fn fail_when_unreachable(&self) {
        self.unreachable_final.store(true, Ordering::Relaxed);
    }

    /// From now on a call made while a refusal pauses the upstream fails
    /// at once ([`HttpError::Paused`]) instead of waiting the pause out:
    /// for a one-shot run, which ends on a refusal rather than wait.
    pub fn fail_when_refused(&self) {
        self.refusal_final.store(true, Ordering::Relaxed);
    }

    /// The error of a call not sent because a refusal pauses the upstream,
    /// where this process does not wait ([`Upstream::fail_when_refused`]).
    fn paused_by_refusal(&self, endpoint: &'static str) -> Option<HttpError> {
        if !self.refusal_final.load(Ordering::Relaxed) || !self.paused() {
            return None;
        }
        let (kind, why) = self.refusal()?;
        Some(HttpError::Paused {
            upstream: self.name.clone(),
            endpoint,
            kind,
            why,
        })
    }

    /// Waits until the gate is open; where this process does not wait a
    /// refusal out, ends as soon as one pauses the upstream (it may begin
    /// while this call waits on a pause of another kind, or just as it
    /// came to the gate).
    async fn pass_gate(&self, endpoint: &'static str) -> Result<Duration, HttpError> {
        if !self.refusal_final.load(Ordering::Relaxed) {
            return Ok(self.gate.wait().await);
        }
        // Open: nothing to wait for (and no timer to set, call after call).
        if self.gate.closed_until().is_none() {
            return Ok(Duration::ZERO);
        }
        let wait = self.gate.wait();
        tokio::pin!(wait);
        loop {
            if let Some(e) = self.paused_by_refusal(endpoint) {
                return Err(e);
            }
            tokio::select! {
                waited = &mut wait => return Ok(waited),
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    /// A call refused the credential (401 or 403, after any refresh the
    /// client makes), or was refused as every call like it would be
    /// ([`HttpError::refusal`]), and failed a conversation. [`REFUSALS_TO_PAUSE`] in a
    /// row pause the upstream: nothing is sent until the pause ends (kept
    /// across restarts like a Retry-After), then the next call probes; each
    /// pause in a row is twice the last, from [`FIRST_REFUSAL_PAUSE`] (or
    /// the retry policy's longest backoff, when shorter) up to
    /// [`MAX_REFUSAL_PAUSE`]. Returns the pause when this call began one.
    pub fn refused(&self, e: &HttpError) -> Option<Duration> {
        let mut r = self.refusals.lock().expect("refusals lock");
        self.refused
            .store(true, std::sync::atomic::Ordering::Relaxed);
        // Calls sent before the pause began do not lengthen it.
        let first = FIRST_REFUSAL_PAUSE.min(self.policy.max_backoff);
        let pause = r.refused(e, self.gate.closed_until().is_some(), first)?;
        tracing::warn!(
            upstream = %self.name,
            refusals = r.in_row,
            pause_secs = pause.as_secs_f64(),
            error = %e,
            "refused alike call after call: nothing is sent for a while, then one call probes; no conversation is set aside for it"
        );
        drop(r);
        self.gate.close_until(Instant::now() + pause);
        self.keep_pause(crate::clock::now_ms() + pause.as_millis() as i64);
        Some(pause)
    }

    /// A call about the whole account (not one conversation: LivePerson's
    /// conversations/search) refused the credential: no row of refusals
    /// is waited for, it pauses at once as [`Upstream::refused`] would.
    pub fn refused_outright(&self, e: &HttpError) -> Option<Duration> {
        self.refusals.lock().expect("refusals lock").outright();
        self.refused(e)
    }

    /// What the upstream is paused for, and the answer that said it,
    /// while it is (until an answer other than a refusal).
    pub fn refusal(&self) -> Option<(Refusal, String)> {
        if !self.refused.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        self.refusals.lock().expect("refusals lock").why.clone()
    }

    /// Whether the upstream is paused now (for a refused credential or a
    /// Retry-After).
    pub fn paused(&self) -> bool {
        self.gate.closed_until().is_some()
    }

    /// An answer other than a refusal, on `endpoint`: the row of refusals
    /// ends (for a refusal of the hub's routing, only on its endpoint).
    fn accepted(&self, endpoint: &str) {
        if !self.refused.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut r = self.refusals.lock().expect("refusals lock");
        match r.accepted(endpoint) {
            Ended::No => return,
            Ended::Paused => {
                tracing::info!(upstream = %self.name, "the credential is accepted again: resuming")
            }
            Ended::Row => {}
        }
        self.refused
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Keeps this upstream's pauses in `memory`, and honours the one an
    /// earlier process left (blocking: call at setup).
    pub fn remember_pauses(&self, memory: Arc<dyn PauseMemory>) {
        if let Some(until) = memory.load(&self.name) {
            let left = until - crate::clock::now_ms();
            if left > 0 {
                tracing::info!(upstream = %self.name, wait_ms = left, "honouring a pause an earlier run was asked for");
                self.gate
                    .close_until(Instant::now() + Duration::from_millis(left as u64));
            }
        }
        *self.memory.lock().expect("memory lock") = Some(memory);
    }

    /// Writes a pause until `until_ms` (epoch ms) where it outlives this
    /// process, before anything is sent again.
    fn keep_pause(&self, until_ms: i64) {
        let memory = self.memory.lock().expect("memory lock").clone();
        if let Some(m) = memory {
            m.save(&self.name, until_ms);
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Its rate and concurrency now (learned or fixed).
    pub fn learned(&self) -> Learned {
        self.pace.learned()
    }

    /// The share of this upstream's turns live sync keeps while a job runs.
    pub fn set_live_share(&self, share: f64) {
        self.pace.set_live_share(share);
    }

    /// Keeps what this upstream learns in `memory`, starting from what an
    /// earlier run left there (blocking: call at setup).
    pub fn remember_paces(&self, memory: Arc<dyn PaceMemory>) {
        if let Some(l) = memory.load(&self.name) {
            self.pace.restore(l);
            let now = self.pace.learned();
            tracing::info!(upstream = %self.name, requests_per_second = now.requests_per_second, concurrency = now.concurrency, "starting from the pace an earlier run learned");
            self.metrics.paced(&self.name, now);
            *self.kept_pace.lock().expect("pace lock") = Some((Instant::now(), now));
        }
        *self.paces.lock().expect("memory lock") = Some(memory);
    }

    /// Writes the learned values if they changed since the last write and
    /// (unless `now`) that write is `KEEP_PACE_EVERY` old.
    pub fn keep_pace(&self, now: bool) {
        let Some(memory) = self.paces.lock().expect("memory lock").clone() else {
            return;
        };
        let l = self.pace.remembered();
        {
            let mut kept = self.kept_pace.lock().expect("pace lock");
            match *kept {
                Some((_, k)) if k == l => return,
                Some((at, _)) if !now && at.elapsed() < KEEP_PACE_EVERY => return,
                _ => *kept = Some((Instant::now(), l)),
            }
        }
        let name = self.name.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(move || memory.save(&name, l));
            }
            Err(_) => memory.save(&name, l),
        }
    }

    /// Sends a request (built afresh for every attempt, so signatures and
    /// tokens are current) and returns its 2xx answer.
    pub async fn send(
        &self,
        endpoint: &'static str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Reply, HttpError> {
        self.send_parsed(endpoint, build, Ok, false).await
    }

    /// As [`send`](Self::send), and parses the body as JSON: a body that does
    /// not parse (cut short, garbled) is retried like a timeout.
    pub async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &'static str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<T, HttpError> {
        self.send_parsed(endpoint, build, parse_json, false).await
    }

    /// As [`send_json`](Self::send_json), where an answer with no content
    /// (204, or an empty body) means "nothing": `T::default()`.
    pub async fn send_json_or_default<T: serde::de::DeserializeOwned + Default>(
        &self,
        endpoint: &'static str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<T, HttpError> {
        let parse = |r: Reply| {
            if r.status == 204 || r.body.iter().all(u8::is_ascii_whitespace) {
                Ok(T::default())
            } else {
                parse_json(r)
            }
        };
        self.send_parsed(endpoint, build, parse, false).await
    }

    /// As [`send_json`](Self::send_json), for a request that must not be
    /// applied twice (no idempotency key on the server's side): once it may
    /// have reached the server, a timeout, reset, 5xx or garbled answer is
    /// not retried but returned as [`HttpError::Unsure`], for the caller to
    /// check what the server has. (429s and connect errors, which mean it
    /// was not applied, are still retried.)
    pub async fn send_json_once<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &'static str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<T, HttpError> {
        self.send_parsed(endpoint, build, parse_json, true).await
    }

    async fn send_parsed<T>(
        &self,
        endpoint: &'static str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        parse: impl Fn(Reply) -> Result<T, Failure>,
        once: bool,
    ) -> Result<T, HttpError> {
        let start = Instant::now();
        let (mut attempts, mut n429, mut n5xx, mut ntransient) = (0u32, 0u32, 0u32, 0u32);
        loop {
            attempts += 1;
            let waited = self.pass_gate(endpoint).await?;
            self.metrics.waited(&self.name, waited);
            self.pace.turn().await;
            let slot = self.pace.slot().await;
            // The gate may have closed while this task waited for its turn.
            let waited = self.pass_gate(endpoint).await?;
            self.metrics.waited(&self.name, waited);
            let sent = Instant::now();
            let outcome = self.attempt(endpoint, &build, &parse).await;
            let in_flight = slot.in_flight;
            drop(slot);
            let latency = sent.elapsed().as_secs_f64();
            self.metrics
                .durations
                .get_or_create(&EndpointLabels {
                    upstream: self.name.clone(),
                    endpoint: endpoint.to_owned(),
                })
                .observe(latency);
            let answer = match &outcome {
                Attempt::RateLimited(_) => Answer::RateLimited { in_flight },
                Attempt::Transient(..) => Answer::Other,
                Attempt::Done(_) | Attempt::Fatal(_) | Attempt::ServerError(_) => {
                    Answer::Good { latency, in_flight }
                }
            };
            if let Some(l) = self.pace.answer(answer) {
                self.metrics.paced(&self.name, l);
                self.keep_pace(false);
            }
            // (wait, why, whether the wait is the gate's rather than this task's)
            let (wait, last, gated) = match outcome {
                Attempt::Done(v) => {
                    if endpoint != TOKEN_ENDPOINT {
                        self.accepted(endpoint);
                    }
                    if self.unreachable_warned.load(Ordering::Relaxed) {
                        self.unreachable_warned.store(false, Ordering::Relaxed);
                    }
                    return Ok(v);
                }
                Attempt::Fatal(e) => {
                    if e.refusal().is_none() && endpoint != TOKEN_ENDPOINT {
                        self.accepted(endpoint);
                    }
                    return Err(e);
                }
                Attempt::RateLimited(retry_after) => {
                    let pause =
                        self.policy
                            .rate_limited(retry_after.as_deref(), n429, SystemTime::now());
                    self.metrics
                        .rate_limited(&self.name, endpoint, retry_after.as_deref(), pause);
                    n429 += 1;
                    self.gate.close_until(Instant::now() + pause);
                    // The gate's whole pause (another task's may be longer).
                    let left = self
                        .gate
                        .closed_until()
                        .map_or(pause, |t| t.saturating_duration_since(Instant::now()));
                    self.keep_pause(crate::clock::now_ms() + left.as_millis() as i64);
                    (pause, Failure::RateLimited { retry_after }, true)
                }
                Attempt::ServerError(why) | Attempt::Transient(why, true) if once => {
                    return Err(HttpError::Unsure {
                        upstream: self.name.clone(),
                        endpoint,
                        cause: why,
                    });
                }
                Attempt::ServerError(why) => {
                    let d = self.policy.server_error(n5xx);
                    n5xx += 1;
                    (d, why, false)
                }
                Attempt::Transient(why, _) => {
                    let d = self.policy.transient(ntransient);
                    ntransient += 1;
                    (d, why, false)
                }
            };
            let elapsed = start.elapsed();
            let unreachable = last.unreachable().is_some();
            if unreachable && !self.unreachable_warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "{} {endpoint}: {last}{}; trying again",
                    self.name,
                    error::check_hint(&self.name, endpoint, &last)
                );
            }
            if attempts >= self.policy.max_attempts
                || elapsed + wait > self.policy.max_elapsed
                || (unreachable && self.unreachable_final.load(Ordering::Relaxed))
            {
                self.metrics
                    .gave_up(&self.name, endpoint, attempts, elapsed, &last.to_string());
                return Err(HttpError::Exhausted {
                    upstream: self.name.clone(),
                    endpoint,
                    attempts,
                    elapsed,
                    last,
                });
            }
            self.metrics
                .retry(&self.name, endpoint, attempts, wait, &last.to_string());
            if !gated {
                tokio::time::sleep(wait).await;
                self.metrics.waited(&self.name, wait);
            }
        }
    }

    async fn attempt<T>(
        &self,
        endpoint: &'static str,
        build: &impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        parse: &impl Fn(Reply) -> Result<T, Failure>,
    ) -> Attempt<T> {
        let request = match build(&self.client).build() {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Fatal(HttpError::Request {
                    upstream: self.name.clone(),
                    endpoint,
                    source: Box::new(e),
                });
            }
        };
        if let Err(e) = check_url(request.url(), self.allow_insecure_http) {
            return Attempt::Fatal(e);
        }
        let response = match self.client.execute(request).await {
            Ok(r) => r,
            Err(e) => {
                let kind = if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect"
                } else {
                    "send"
                };
                self.metrics.request(&self.name, endpoint, kind);
                let sent = !e.is_connect();
                let unreachable = error::Unreachable::of(&e);
                return Attempt::Transient(
                    Failure::Send {
                        kind,
                        unreachable,
                        source: e,
                    },
                    sent,
                );
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                let kind = if e.is_timeout() { "timeout" } else { "body" };
                self.metrics.request(&self.name, endpoint, kind);
                return Attempt::Transient(Failure::Body { status, source: e }, true);
            }
        };
        let text = || String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned();
        match retry::classify(status) {
            Class::Success => match parse(Reply {
                status,
                headers,
                body: body.clone(),
            }) {
                Ok(v) => {
                    self.metrics
                        .request(&self.name, endpoint, &status.to_string());
                    Attempt::Done(v)
                }
                Err(why) => {
                    self.metrics.request(&self.name, endpoint, "malformed");
                    Attempt::Transient(why, true)
                }
            },
            class => {
                self.metrics
                    .request(&self.name, endpoint, &status.to_string());
                match class {
                    Class::RateLimited => Attempt::RateLimited(
                        headers
                            .get(reqwest::header::RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                    ),
                    Class::ServerError => Attempt::ServerError(Failure::Status {
                        status,
                        body: text(),
                    }),
                    Class::Transient => Attempt::Transient(
                        Failure::Status {
                            status,
                            body: text(),
                        },
                        true,
                    ),
                    Class::Unauthorized => Attempt::Fatal(HttpError::Unauthorized {
                        upstream: self.name.clone(),
                        endpoint,
                        body: text(),
                    }),
                    Class::Fatal | Class::Success => Attempt::Fatal(HttpError::Status {
                        upstream: self.name.clone(),
                        endpoint,
                        status,
                        body: text(),
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(check_url(&u("https://va.msghist.liveperson.net/x"), false).is_ok());
        assert!(check_url(&u("http://127.0.0.1:8080/x"), false).is_ok());
        assert!(check_url(&u("http://[::1]:8080/x"), false).is_ok());
        assert!(check_url(&u("http://localhost/x"), false).is_ok());
        let e = check_url(&u("http://engine.hubster.io/x"), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("allow_insecure_http"), "{e}");
        assert!(check_url(&u("http://engine.hubster.io/x"), true).is_ok());
        assert!(check_url(&u("ftp://127.0.0.1/x"), true).is_err());
    }
}
