//! The simulator's HTTP side: LivePerson (CSDS, content search,
//! conversations/search, conversation/search) and Hubster (identity token,
//! establish, both inbound paths, get activities) on one loopback listener,
//! with fault injection, a per-client quota, and counters of every breach of
//! the rules a polite client keeps.

// Handlers pass a ready answer back as the error of their checks.
#![allow(clippy::result_large_err)]

use super::generate::Rng;
use super::world::{Hub, LivePerson, now_ms};
use crate::platform::oauth1;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// How the simulator answers a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryAfter {
    /// `Retry-After: <delta-seconds>`.
    Seconds,
    /// `Retry-After: <HTTP-date>`.
    HttpDate,
    /// No Retry-After header.
    None,
    /// Any of the three, at random.
    Mixed,
}

/// Whether get activities' `leid` includes the activity at that eventId.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Leid {
    Inclusive,
    Exclusive,
}

/// What the simulator serves and how it misbehaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub conversations: usize,
    pub seed: u64,
    /// Average content records per conversation.
    pub messages: usize,
    /// Records an OPEN conversation gains while the simulator runs.
    pub growth: usize,
    pub grow_every: Duration,
    /// Requests per second per client (token bucket); `None`: no quota.
    pub quota: Option<f64>,
    /// The bucket's size (defaults to a second's worth).
    pub quota_burst: Option<f64>,
    pub fault_429: f64,
    pub retry_after: RetryAfter,
    /// Seconds a Retry-After asks for.
    pub retry_after_secs: u64,
    pub fault_5xx: f64,
    pub fault_timeout: f64,
    /// How long a "timeout" fault holds the answer back.
    pub timeout_delay: Duration,
    pub fault_malformed: f64,
    pub fault_reset: f64,
    pub leid: Leid,
    pub content_paging: bool,
    /// Lifetime of Hubster tokens.
    pub token_ttl: Duration,
    /// Requests arriving this soon after a 429 was sent were already on the
    /// wire: they do not count as Retry-After violations.
    pub violation_grace: Duration,
    /// The first this many conversations carry a record no converter can
    /// read (a `sequence` that is not a number).
    pub poison: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            conversations: 50,
            seed: 1,
            messages: 12,
            growth: 5,
            grow_every: Duration::from_secs(2),
            quota: None,
            quota_burst: None,
            fault_429: 0.0,
            retry_after: RetryAfter::Seconds,
            retry_after_secs: 1,
            fault_5xx: 0.0,
            fault_timeout: 0.0,
            timeout_delay: Duration::from_secs(5),
            fault_malformed: 0.0,
            fault_reset: 0.0,
            leid: Leid::Inclusive,
            content_paging: false,
            token_ttl: Duration::from_secs(3600),
            violation_grace: Duration::from_millis(250),
            poison: 0,
        }
    }
}

/// The account and credentials the simulator accepts.
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub account: String,
    pub bearer: String,
    pub consumer_key: String,
    pub consumer_secret: String,
    pub token: String,
    pub token_secret: String,
    pub hubster_client_id: String,
    pub hubster_client_secret: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            account: "12345678".into(),
            bearer: "sim-bearer-token".into(),
            consumer_key: "sim-consumer-key".into(),
            consumer_secret: "sim-consumer-secret".into(),
            token: "sim-access-token".into(),
            token_secret: "sim-token-secret".into(),
            hubster_client_id: "hubster.engine.api.5a1b2c3d4e5f".into(),
            hubster_client_secret: "sim-hubster-secret".into(),
        }
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    /// endpoint -> status -> count.
    pub requests: BTreeMap<String, BTreeMap<u16, u64>>,
    pub violations_retry_after: u64,
    pub violations_quota: u64,
    pub delivered_activities: u64,
    pub duplicate_deliveries: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
}

#[derive(Debug)]
struct Client {
    /// The last 429 this client got: (when it was sent, when it may come back).
    blocked: Option<(Instant, Instant)>,
    tokens: f64,
    refilled: Instant,
}

/// Shared state of a running simulator.
pub struct Shared {
    pub config: SimConfig,
    pub creds: Credentials,
    pub lp: LivePerson,
    pub hub: Mutex<Hub>,
    stats: Mutex<Stats>,
    rng: Mutex<Rng>,
    clients: Mutex<HashMap<String, Client>>,
    tokens: Mutex<HashMap<String, Instant>>,
    addr: SocketAddr,
}

/// A simulator running on a loopback port.
pub struct Sim {
    pub shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sim {
    /// Binds `listen` (port 0 picks one) and serves until [`Sim::stop`].
    pub async fn start(config: SimConfig, listen: SocketAddr) -> std::io::Result<Sim> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let mut lp = LivePerson::generate(
            config.seed,
            config.conversations,
            config.messages,
            config.growth,
            config.grow_every,
        );
        for c in lp.conversations.iter_mut().take(config.poison) {
            c.base.push(json!({"sequence": "not a number", "dialogId": c.id, "serverTimestamp": c.start_ms,
                "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "poison"}}));
        }
        let shared = Arc::new(Shared {
            rng: Mutex::new(Rng::new(config.seed ^ 0x5EED)),
            config,
            creds: Credentials::default(),
            lp,
            hub: Mutex::new(Hub::default()),
            stats: Mutex::new(Stats::default()),
            clients: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            addr,
        });
        let app = router(Arc::clone(&shared));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Sim {
            shared,
            stop: Some(stop),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `http://127.0.0.1:<port>`: every simulated host lives here.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The line `convsync sim` prints when ready.
    pub fn ready_line(&self) -> Value {
        let base = self.base_url();
        json!({
            "ready": true,
            "liveperson": {"csds": base, "domain": self.shared.addr.to_string(), "account": self.shared.creds.account},
            "hubster": {"identity": base, "engine": base, "direct": base},
            "credentials": self.shared.creds,
            "conversations": self.shared.lp.conversations.len(),
        })
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Stops serving and waits for the server task to end.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Shared {
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.lock().expect("stats lock").clone();
        let hub = self.hub.lock().expect("hub lock");
        s.delivered_activities = hub.delivered;
        s.duplicate_deliveries = hub.duplicates;
        s
    }

    /// The delivered activities, per source conversation (the binding), in
    /// arrival order.
    pub fn ledger(&self) -> BTreeMap<String, Vec<Value>> {
        let hub = self.hub.lock().expect("hub lock");
        hub.conversations
            .values()
            .map(|c| {
                (
                    c.binding.clone(),
                    c.activities.iter().map(|d| d.activity.clone()).collect(),
                )
            })
            .collect()
    }

    /// The externalIds delivered, per source conversation, in arrival order.
    pub fn ledger_external_ids(&self) -> BTreeMap<String, Vec<String>> {
        self.ledger()
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    v.iter()
                        .filter_map(|a| a["externalId"].as_str().map(str::to_owned))
                        .collect(),
                )
            })
            .collect()
    }

    /// The externalIds a conversation's records convert to, in delivery
    /// order: of the records visible now, or (`grown`) of every record it
    /// will have. `None` for an unknown or unconvertible (poison) one.
    pub fn expected_external_ids(
        &self,
        id: &str,
        mapping: &crate::format::Mapping,
        grown: bool,
    ) -> Option<Vec<String>> {
        let c = &self.lp.conversations[*self.lp.by_id.get(id)?];
        let records = if grown {
            self.lp.all_records(c)
        } else {
            self.lp.records(c)
        };
        let text = serde_json::to_string(&records).expect("values serialize");
        let parsed: Vec<crate::format::liveperson::Record> = serde_json::from_str(&text).ok()?;
        let out =
            crate::format::to_hubster(id, &parsed, mapping, &crate::format::LpResume::default())
                .ok()?;
        Some(
            out.activities
                .iter()
                .filter_map(|a| a.external_id().map(str::to_owned))
                .collect(),
        )
    }

    /// Forgets every Hubster token, as if they had all expired.
    pub fn revoke_tokens(&self) {
        self.tokens.lock().expect("tokens lock").clear();
    }

    fn count(&self, endpoint: &str, status: u16) {
        let mut s = self.stats.lock().expect("stats lock");
        *s.requests
            .entry(endpoint.to_owned())
            .or_default()
            .entry(status)
            .or_default() += 1;
    }

    fn fault(&self, kind: &str) {
        *self
            .stats
            .lock()
            .expect("stats lock")
            .faults
            .entry(kind.to_owned())
            .or_default() += 1;
    }

    fn chance(&self, p: f64) -> bool {
        p > 0.0 && (self.rng.lock().expect("rng lock").below(1_000_000) as f64) < p * 1_000_000.0
    }
}

/// What an admitted request still has to suffer.
#[derive(Debug, Clone, Copy, Default)]
struct Ctx {
    endpoint: &'static str,
    malformed: bool,
    reset: bool,
}

fn client_key(headers: &HeaderMap) -> String {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("anonymous");
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
    async fn admit(&self, endpoint: &'static str, headers: &HeaderMap) -> Result<Ctx, Response> {
        let now = Instant::now();
        let key = client_key(headers);
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
            match self.config.quota {
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
    fn too_many(&self, endpoint: &'static str, key: &str) -> Response {
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
    fn answer(&self, ctx: Ctx, status: StatusCode, body: Value) -> Response {
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

    fn error(&self, ctx: Ctx, status: StatusCode, message: &str) -> Response {
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

    /// LivePerson auth: the bearer token, or a valid OAuth 1.0a signature.
    fn lp_auth(&self, headers: &HeaderMap, method: &Method, uri: &Uri) -> Result<(), &'static str> {
        let h = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or("no Authorization header")?;
        if let Some(t) = h.strip_prefix("Bearer ") {
            return if t == self.creds.bearer {
                Ok(())
            } else {
                Err("unknown bearer token")
            };
        }
        let url =
            url::Url::parse(&format!("http://{}{}", self.addr, uri)).map_err(|_| "bad url")?;
        let keys = oauth1::Keys {
            consumer_key: self.creds.consumer_key.clone(),
            consumer_secret: self.creds.consumer_secret.clone(),
            token: self.creds.token.clone(),
            token_secret: self.creds.token_secret.clone(),
        };
        oauth1::verify(h, method.as_str(), &url, &keys)
    }

    fn hub_auth(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let h = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or("no Authorization header")?;
        let t = h.strip_prefix("Bearer ").ok_or("not a bearer token")?;
        match self.tokens.lock().expect("tokens lock").get(t) {
            Some(exp) if *exp > Instant::now() => Ok(()),
            Some(_) => Err("token expired"),
            None => Err("unknown token"),
        }
    }

    /// Everything a LivePerson endpoint checks before its own work:
    /// faults and quota, auth, `source`, the account.
    async fn lp_admit(
        &self,
        endpoint: &'static str,
        headers: &HeaderMap,
        method: &Method,
        uri: &Uri,
        account: &str,
        source: Option<&str>,
    ) -> Result<Ctx, Response> {
        let ctx = self.admit(endpoint, headers).await?;
        if let Err(why) = self.lp_auth(headers, method, uri) {
            return Err(self.error(ctx, StatusCode::UNAUTHORIZED, why));
        }
        self.check_source(ctx, source)?;
        if account != self.creds.account {
            return Err(self.error(ctx, StatusCode::FORBIDDEN, "unknown account"));
        }
        Ok(ctx)
    }

    fn check_source(&self, ctx: Ctx, source: Option<&str>) -> Result<(), Response> {
        match source {
            None | Some("") => Err(self.error(ctx, StatusCode::BAD_REQUEST, "source is required")),
            Some(s) if s.chars().count() > 20 => Err(self.error(
                ctx,
                StatusCode::BAD_REQUEST,
                "source is longer than 20 characters",
            )),
            Some(_) => Ok(()),
        }
    }
}

type S = State<Arc<Shared>>;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/api/account/{account}/service/{service}/baseURI.json",
            get(csds),
        )
        .route(
            "/messaging_history/api/account/{account}/conversations/conversation/content/search",
            get(content_search),
        )
        .route(
            "/messaging_history/api/account/{account}/conversations/search",
            post(conversations_search),
        )
        .route(
            "/messaging_history/api/account/{account}/conversations/conversation/search",
            post(conversation_search),
        )
        .route("/connect/token", post(token))
        .route("/api/v1/conversations/establish", post(establish))
        .route(
            "/api/v1/conversations/hubs/{hub}/established",
            get(established),
        )
        .route(
            "/inbound/{side}/v1/direct/activity/{conversation}",
            post(inbound),
        )
        .route(
            "/api/v1/interactions/activities/{conversation}",
            get(get_activities),
        )
        .route(
            "/sim/stats",
            get(|State(s): S| async move { axum::Json(s.stats()) }),
        )
        .route(
            "/sim/ledger",
            get(|State(s): S| async move { axum::Json(s.ledger()) }),
        )
        .route("/sim/conversations", get(sim_conversations))
        .with_state(shared)
}

async fn csds(
    State(s): S,
    Path((account, service)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let ctx = match s.admit("csds", &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if account != s.creds.account || service != "msgHist" {
        return s.error(ctx, StatusCode::NOT_FOUND, "unknown account or service");
    }
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"service": "msgHist", "account": account, "baseURI": s.addr.to_string()}),
    )
}

#[derive(Deserialize)]
struct ContentQuery {
    #[serde(rename = "conversationId")]
    conversation_id: Option<String>,
    source: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn content_search(
    State(s): S,
    Path(account): Path<String>,
    Query(q): Query<ContentQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let ctx = match s
        .lp_admit(
            "lp.content_search",
            &headers,
            &method,
            &uri,
            &account,
            q.source.as_deref(),
        )
        .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(id) = q.conversation_id else {
        return s.error(ctx, StatusCode::BAD_REQUEST, "conversationId is required");
    };
    let records = match s.lp.by_id.get(&id) {
        Some(&i) => s.lp.records(&s.lp.conversations[i]),
        None => Vec::new(),
    };
    if !s.config.content_paging {
        return s.answer(ctx, StatusCode::OK, json!({"messageEventRecords": records}));
    }
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 100 {
        return s.error(ctx, StatusCode::BAD_REQUEST, "limit must be 1 to 100");
    }
    let offset = q.offset.unwrap_or(0).min(records.len());
    let end = (offset + limit).min(records.len());
    let mut meta = json!({"count": records.len()});
    if end < records.len() {
        meta["next"] = json!({"rel": "next", "href": format!(
            "http://{}/messaging_history/api/account/{account}/conversations/conversation/content/search?conversationId={id}&source={}&offset={end}&limit={limit}",
            s.addr, q.source.unwrap_or_default())});
    }
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"_metadata": meta, "messageEventRecords": records[offset..end]}),
    )
}

#[derive(Deserialize)]
struct SearchQuery {
    source: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
struct Range {
    from: Option<i64>,
    to: Option<i64>,
}

#[derive(Deserialize)]
struct SearchBody {
    start: Option<Range>,
    status: Option<Vec<String>>,
    #[serde(rename = "latestUpdateTime")]
    latest_update_time: Option<Range>,
}

/// Three months, as LivePerson counts a window (93 days at most).
const MAX_WINDOW_MS: i64 = 93 * 24 * 3600 * 1000;
const TEN_MINUTES_MS: i64 = 600_000;

async fn conversations_search(
    State(s): S,
    Path(account): Path<String>,
    Query(q): Query<SearchQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ctx = match s
        .lp_admit(
            "lp.conversations_search",
            &headers,
            &method,
            &uri,
            &account,
            q.source.as_deref(),
        )
        .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 100 {
        return s.error(ctx, StatusCode::BAD_REQUEST, "limit must be 1 to 100");
    }
    let Ok(b) = serde_json::from_slice::<SearchBody>(&body) else {
        return s.error(ctx, StatusCode::BAD_REQUEST, "body is not a search request");
    };
    let Some(Range {
        from: Some(from),
        to: Some(to),
    }) = b.start
    else {
        return s.error(
            ctx,
            StatusCode::BAD_REQUEST,
            "start.from and start.to are required",
        );
    };
    if to < from || to - from > MAX_WINDOW_MS {
        return s.error(
            ctx,
            StatusCode::BAD_REQUEST,
            "start window must be at most 3 months",
        );
    }
    // Bounds are rounded to 10 minutes; latestUpdateTime down to 10 minutes.
    let (from, to) = (
        from - from.rem_euclid(TEN_MINUTES_MS),
        to + (TEN_MINUTES_MS - to.rem_euclid(TEN_MINUTES_MS)) % TEN_MINUTES_MS,
    );
    let lut = b
        .latest_update_time
        .and_then(|r| r.from)
        .map(|f| f - f.rem_euclid(TEN_MINUTES_MS));
    let statuses = b
        .status
        .unwrap_or_else(|| vec!["OPEN".into(), "CLOSE".into()]);
    let hits: Vec<Value> =
        s.lp.conversations
            .iter()
            .filter(|c| c.start_ms >= from && c.start_ms <= to)
            .filter(|c| {
                statuses
                    .iter()
                    .any(|st| st == if c.open { "OPEN" } else { "CLOSE" })
            })
            .filter(|c| lut.is_none_or(|l| s.lp.latest_update_ms(c) >= l))
            .map(|c| json!({"info": s.lp.info(c, c.partial), "messageRecords": []}))
            .collect();
    let offset = q.offset.unwrap_or(0).min(hits.len());
    let end = (offset + limit).min(hits.len());
    let mut meta = json!({"count": hits.len(), "self": {"rel": "self", "href": uri.to_string()},
        "shardsStatusResult": {"partialResult": false}});
    if end < hits.len() {
        let path = uri
            .to_string()
            .replace(&format!("offset={offset}"), &format!("offset={end}"));
        meta["next"] = json!({"rel": "next", "href": format!("http://{}{path}", s.addr)});
    }
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"_metadata": meta, "conversationHistoryRecords": hits[offset..end]}),
    )
}

async fn conversation_search(
    State(s): S,
    Path(account): Path<String>,
    Query(q): Query<SearchQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ctx = match s
        .lp_admit(
            "lp.conversation_search",
            &headers,
            &method,
            &uri,
            &account,
            q.source.as_deref(),
        )
        .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    #[derive(Deserialize)]
    struct Ids {
        #[serde(rename = "conversationIds")]
        conversation_ids: Vec<String>,
    }
    let Ok(ids) = serde_json::from_slice::<Ids>(&body) else {
        return s.error(
            ctx,
            StatusCode::BAD_REQUEST,
            "body must be {\"conversationIds\": [...]}",
        );
    };
    if ids.conversation_ids.len() > 100 {
        return s.error(ctx, StatusCode::BAD_REQUEST, "at most 100 conversationIds");
    }
    let hits: Vec<Value> = ids
        .conversation_ids
        .iter()
        .filter_map(|id| s.lp.by_id.get(id))
        .map(|&i| json!({"info": s.lp.info(&s.lp.conversations[i], false), "messageRecords": []}))
        .collect();
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"_metadata": {"count": hits.len()}, "conversationHistoryRecords": hits}),
    )
}

async fn token(State(s): S, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let ctx = match s.admit("hubster.token", &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
        && form.get("client_id") == Some(&s.creds.hubster_client_id)
        && form.get("client_secret") == Some(&s.creds.hubster_client_secret);
    if !ok {
        return s.error(ctx, StatusCode::BAD_REQUEST, "invalid_client");
    }
    let token = format!("sim-{:016x}", s.rng.lock().expect("rng lock").next_u64());
    s.tokens
        .lock()
        .expect("tokens lock")
        .insert(token.clone(), Instant::now() + s.config.token_ttl);
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"access_token": token, "expires_in": s.config.token_ttl.as_secs(),
        "token_type": "Bearer", "scope": "hubster.engine.api"}),
    )
}

fn hub_error(code: &str, description: &str) -> Value {
    json!({"status": 400, "errors": [{"code": 301, "description": format!("{description} (code: {code})")}]})
}

async fn establish(State(s): S, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let ctx = match s.admit("hubster.establish", &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(why) = s.hub_auth(&headers) {
        return s.error(ctx, StatusCode::UNAUTHORIZED, why);
    }
    let b: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (Some(integration), Some(binding)) = (b["integrationId"].as_str(), b["binding"].as_str())
    else {
        return s.answer(
            ctx,
            StatusCode::BAD_REQUEST,
            hub_error("ENG005003", "integrationId and binding are required"),
        );
    };
    let (id, is_new) = s
        .hub
        .lock()
        .expect("hub lock")
        .establish(binding, integration);
    s.answer(
        ctx,
        StatusCode::OK,
        json!({"tenantId": "sim-tenant", "hubId": "sim-hub", "integrationId": integration,
        "conversationId": id, "tokenId": format!("tok-{binding}"),
        "openedDateTime": httpdate::fmt_http_date(SystemTime::now()), "isNew": is_new}),
    )
}

/// The hub's established conversations, oldest first.
async fn established(State(s): S, Path(hub): Path<String>, headers: HeaderMap) -> Response {
    let ctx = match s.admit("hubster.established", &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(why) = s.hub_auth(&headers) {
        return s.error(ctx, StatusCode::UNAUTHORIZED, why);
    }
    if hub != "sim-hub" {
        return s.error(ctx, StatusCode::NOT_FOUND, "no such hub");
    }
    let mut list: Vec<(i64, Value)> = s
        .hub
        .lock()
        .expect("hub lock")
        .conversations
        .iter()
        .map(|(id, c)| {
            let opened = std::time::UNIX_EPOCH + Duration::from_millis(c.opened_ms as u64);
            (
                c.opened_ms,
                json!({"conversationId": id, "hubId": "sim-hub",
                "integrationId": c.integration_id, "binding": c.binding,
                "openedDateTime": httpdate::fmt_http_date(opened)}),
            )
        })
        .collect();
    list.sort_by_key(|(t, _)| *t);
    s.answer(
        ctx,
        StatusCode::OK,
        Value::Array(list.into_iter().map(|(_, v)| v).collect()),
    )
}

async fn inbound(
    State(s): S,
    Path((side, conversation)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let path: &'static str = match side.as_str() {
        "customer" => "customer",
        "business" => "business",
        _ => return (StatusCode::NOT_FOUND, "no such path").into_response(),
    };
    let endpoint = if path == "customer" {
        "hubster.inbound_customer"
    } else {
        "hubster.inbound_business"
    };
    let ctx = match s.admit(endpoint, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(why) = s.hub_auth(&headers) {
        return s.error(ctx, StatusCode::UNAUTHORIZED, why);
    }
    let Ok(activity) = serde_json::from_slice::<Value>(&body) else {
        return s.answer(
            ctx,
            StatusCode::BAD_REQUEST,
            hub_error("ENG005001", "body is not JSON"),
        );
    };
    let kind = activity["type"].as_str();
    if !matches!(kind, Some("message" | "event")) || activity.get(kind.unwrap_or("-")).is_none() {
        return s.answer(
            ctx,
            StatusCode::BAD_REQUEST,
            hub_error("ENG005002", "type must be message or event, with its body"),
        );
    }
    if path == "business"
        && activity["sender"]["integrationId"]
            .as_str()
            .is_none_or(str::is_empty)
    {
        return s.answer(
            ctx,
            StatusCode::BAD_REQUEST,
            hub_error("ENG005003", "sender.integrationId is required"),
        );
    }
    // A reset after the hub stored the activity loses only the answer: half
    // the time the activity is stored anyway, as on a real network.
    let store = !ctx.reset || s.chance(0.5);
    let stored = if store {
        let mut hub = s.hub.lock().expect("hub lock");
        if !hub.conversations.contains_key(&conversation) {
            drop(hub);
            return s.answer(
                ctx,
                StatusCode::NOT_FOUND,
                hub_error("ENG006500", "conversation does not exist"),
            );
        }
        hub.deliver(&conversation, activity.clone(), path)
    } else {
        None
    };
    s.answer(ctx, StatusCode::OK, json!({"status": 200, "eventId": stored.unwrap_or_else(now_ms),
        "externalId": activity["externalId"], "hubId": "sim-hub", "conversationId": conversation,
        "integrationId": activity["sender"]["integrationId"], "interactionId": activity["interactionId"]}))
}

#[derive(Deserialize)]
struct ActivitiesQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    leid: Option<i64>,
}

async fn get_activities(
    State(s): S,
    Path(conversation): Path<String>,
    Query(q): Query<ActivitiesQuery>,
    headers: HeaderMap,
) -> Response {
    let ctx = match s.admit("hubster.get_activities", &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(why) = s.hub_auth(&headers) {
        return s.error(ctx, StatusCode::UNAUTHORIZED, why);
    }
    let Some(kind) = q
        .kind
        .filter(|k| matches!(k.as_str(), "Customer" | "Agent" | "Bot"))
    else {
        return s.error(
            ctx,
            StatusCode::BAD_REQUEST,
            "type must be Customer, Agent or Bot",
        );
    };
    let leid = q.leid.unwrap_or(0);
    let hub = s.hub.lock().expect("hub lock");
    let Some(conv) = hub.conversations.get(&conversation) else {
        drop(hub);
        return s.error(ctx, StatusCode::NOT_FOUND, "conversation does not exist");
    };
    let mut out: Vec<Value> = conv
        .activities
        .iter()
        .map(|d| &d.activity)
        .filter(|a| {
            a["sender"]["integrationType"] == kind.as_str()
                || a["recipient"]["integrationType"] == kind.as_str()
        })
        .filter(|a| {
            let e = a["eventId"].as_i64().unwrap_or(0);
            match s.config.leid {
                Leid::Inclusive => e >= leid,
                Leid::Exclusive => e > leid,
            }
        })
        .cloned()
        .collect();
    drop(hub);
    out.sort_by_key(|a| a["eventId"].as_i64());
    s.answer(ctx, StatusCode::OK, Value::Array(out))
}

async fn sim_conversations(State(s): S, RawQuery(_): RawQuery) -> Response {
    let list: Vec<Value> =
        s.lp.conversations
            .iter()
            .map(|c| {
                json!({"conversationId": c.id, "status": if c.open { "OPEN" } else { "CLOSE" },
            "records": s.lp.records(c).len(), "latestUpdateTime": s.lp.latest_update_ms(c)})
            })
            .collect();
    axum::Json(list).into_response()
}
