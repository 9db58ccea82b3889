//! What every request goes through before its handler: the per-client
//! quota, Retry-After bookkeeping (and its violations), and the faults the
//! simulator injects (429s, 5xx, timeouts, malformed bodies, resets).

// Handlers pass a ready answer back as the error of their checks.
#![allow(clippy::result_large_err)]

use super::server::{Client, RetryAfter, Shared};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// What an admitted request still has to suffer.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ctx {
    pub(super) endpoint: &'static str,
    pub(super) malformed: bool,
    pub(super) reset: bool,
}

/// Who is asking, as a server would tell: by credentials; a request without
/// any (CSDS, Hubster's token endpoint) by the host it went to (the real
/// ones are separate hosts, each with its own limits).
pub(super) fn client_key(headers: &HeaderMap, endpoint: &str) -> String {
    let host = endpoint.split('.').next().unwrap_or(endpoint);
    let anonymous = format!("anonymous@{host}");
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(&anonymous);
    // An OAuth header changes with every request: its consumer key names the client.
    match auth.strip_prefix("OAuth ") {
        Some(rest) => rest
            .split(',')
            .find(|p| p.trim().starts_with("oauth_consumer_key"))
            .unwrap_or(rest)
            .trim()
            .to_owned(),
        None => auth.to_owned(),
    }
}

impl Shared {
    /// Quota, Retry-After bookkeeping and fault injection, before any handler.
    pub(super) async fn admit(
        &self,
        endpoint: &'static str,
        headers: &HeaderMap,
    ) -> Result<Ctx, Response> {
        let now = Instant::now();
        let key = client_key(headers, endpoint);
        let over_quota = {
            let mut clients = self.clients.lock().expect("clients lock");
            let burst = self
                .config
                .quota_burst
                .or(self.config.quota)
                .unwrap_or(0.0)
                .max(1.0);
            let c = clients.entry(key.clone()).or_insert(Client {
                blocked: None,
                tokens: burst,
                refilled: now,
            });
            if let Some((sent, until)) = c.blocked
                && now < until
                && now.duration_since(sent) > self.config.violation_grace
            {
                self.stats
                    .lock()
                    .expect("stats lock")
                    .violations_retry_after += 1;
            }
            let held = !(self.config.quota_liveperson_only && endpoint.starts_with("hubster."));
            match self.config.quota.filter(|_| held) {
                Some(rate) => {
                    c.tokens =
                        (c.tokens + now.duration_since(c.refilled).as_secs_f64() * rate).min(burst);
                    c.refilled = now;
                    if c.tokens >= 1.0 {
                        c.tokens -= 1.0;
                        false
                    } else {
                        true
                    }
                }
                None => false,
            }
        };
        if over_quota {
            self.stats.lock().expect("stats lock").violations_quota += 1;
            return Err(self.too_many(endpoint, &key));
        }
        if self.chance(self.config.fault_429) {
            self.fault("429");
            return Err(self.too_many(endpoint, &key));
        }
        if self.chance(self.config.fault_5xx) {
            self.fault("5xx");
            let status = if self.chance(0.5) {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            return Err(self.answer(
                Ctx {
                    endpoint,
                    ..Ctx::default()
                },
                status,
                json!({"error": "simulated server error"}),
            ));
        }
        if self.chance(self.config.fault_timeout) {
            self.fault("timeout");
            tokio::time::sleep(self.config.timeout_delay).await;
        }
        let malformed = self.chance(self.config.fault_malformed);
        if malformed {
            self.fault("malformed");
        }
        let reset = !malformed && self.chance(self.config.fault_reset);
        if reset {
            self.fault("reset");
        }
        Ok(Ctx {
            endpoint,
            malformed,
            reset,
        })
    }

    /// A 429, with a Retry-After as configured; the client is blocked until
    /// the time it was told.
    pub(super) fn too_many(&self, endpoint: &'static str, key: &str) -> Response {
        let mode = match self.config.retry_after {
            RetryAfter::Mixed => [RetryAfter::Seconds, RetryAfter::HttpDate, RetryAfter::None]
                [self.rng.lock().expect("rng lock").below(3) as usize],
            m => m,
        };
        let secs = self.config.retry_after_secs.max(1);
        let now = Instant::now();
        let (header, until) = match mode {
            RetryAfter::Seconds => (
                Some(secs.to_string()),
                Some(now + Duration::from_secs(secs)),
            ),
            RetryAfter::HttpDate => {
                // Dates have whole seconds: the client may come back at the
                // (truncated) second written, so that is what is enforced.
                let at = SystemTime::now() + Duration::from_secs(secs + 1);
                let text = httpdate::fmt_http_date(at);
                let at = httpdate::parse_http_date(&text).expect("just formatted");
                let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
                (Some(text), Some(now + wait))
            }
            _ => (None, None),
        };
        if let Some(until) = until
            && let Some(c) = self.clients.lock().expect("clients lock").get_mut(key)
        {
            c.blocked = Some((now, until));
        }
        self.count(endpoint, 429);
        let mut resp = (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(json!({"error": "Too many requests"})),
        )
            .into_response();
        if let Some(h) = header {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from_str(&h).expect("ascii"));
        }
        resp
    }

    /// Counts and sends an answer, garbled or cut off as the faults say.
    pub(super) fn answer(&self, ctx: Ctx, status: StatusCode, body: Value) -> Response {
        self.count(ctx.endpoint, status.as_u16());
        let bytes = serde_json::to_vec(&body).expect("values serialize");
        let mut builder = Response::builder()
            .status(status)
            .header("content-type", "application/json");
        if ctx.malformed {
            let half = bytes.len() / 2;
            return builder
                .body(Body::from(bytes[..half].to_vec()))
                .expect("valid response");
        }
        if ctx.reset {
            // Announce the whole body, send half, then drop the connection.
            builder = builder.header("content-length", bytes.len().to_string());
            let half = bytes[..bytes.len() / 2].to_vec();
            let stream = futures_util::stream::iter(vec![
                Ok::<_, std::io::Error>(bytes::Bytes::from(half)),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "simulated reset",
                )),
            ]);
            return builder
                .body(Body::from_stream(stream))
                .expect("valid response");
        }
        builder.body(Body::from(bytes)).expect("valid response")
    }

    /// An answer with no body (204), counted.
    pub(super) fn answer_empty(&self, ctx: Ctx, status: StatusCode) -> Response {
        self.count(ctx.endpoint, status.as_u16());
        Response::builder()
            .status(status)
            .body(Body::empty())
            .expect("valid response")
    }

    pub(super) fn error(&self, ctx: Ctx, status: StatusCode, message: &str) -> Response {
        self.answer(
            Ctx {
                malformed: false,
                reset: false,
                ..ctx
            },
            status,
            json!({"error": message, "status": status.as_u16()}),
        )
    }
}
