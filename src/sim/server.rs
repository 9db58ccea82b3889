//! The simulator's HTTP side: LivePerson (CSDS, content search,
//! conversations/search, conversation/search) and Hubster (identity token,
//! establish, both inbound paths, get activities) on one loopback listener,
//! with fault injection, a per-client quota, and counters of every breach of
//! the rules a polite client keeps.

// Handlers pass a ready answer back as the error of their checks.
#![allow(clippy::result_large_err)]

use super::answers::LpAnswers;
use super::generate::Rng;
use super::world::{Hub, LivePerson};
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
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
    /// The quota holds LivePerson's clients only (the hub's are not held).
    pub quota_liveperson_only: bool,
    /// Requests a client may have in flight at once; one more: 429.
    pub max_in_flight: Option<usize>,
    /// How long every answer takes (on top of the handler's own time).
    pub latency: Duration,
    /// Conversations as if this long had passed since they were generated
    /// (all closed, none growing).
    pub age: Duration,
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
    /// LivePerson as strict as its documentation: content search takes
    /// only a consumer's JWT (401 otherwise) and pages silently at 50
    /// records (no `_metadata`); the Messaging Interactions searches refuse
    /// a consumer's JWT, answer 204 when they find nothing, take windows of
    /// three calendar months at most, and give `next` links to an internal
    /// host without `source`.
    pub liveperson_strict: bool,
    /// The variants the LivePerson documentation allows and real accounts
    /// send (its field table beside its examples): Messaging Interactions
    /// writes every `seq` as a string; one closed conversation in five
    /// carries a private note (`audience` AGENTS_AND_MANAGERS), a message
    /// of a type convsync does not know (`HOLOGRAM`), and structured
    /// content from json-pollock's documentation (a navigation to a point
    /// that is not a place).
    pub liveperson_variants: bool,
    /// What content search answers a brand's credential (documented for a
    /// consumer's JWT only; what a brand gets is not documented): 401 when
    /// strict (served otherwise), or a 400 or an empty 200 whether strict
    /// or not. Changeable while running
    /// ([`Shared::set_brand_content_search`]).
    pub brand_content_search: BrandContentSearch,
    /// Messaging Interactions answers truncated (`info.isPartial`: the
    /// first half of each conversation's messages, and their receipts),
    /// conversations/search and by id alike, as LivePerson documents for
    /// data retrieved too often. Changeable while running
    /// ([`Shared::set_partial_answers`]).
    pub partial_answers: bool,
    /// Hubster as strict as its documentation:
    /// establish only with a customer integration; inbound bodies with
    /// documented properties only (`ENG005002` names any other);
    /// lower-case `urlType`s; events other than `payload` refused (`ENG005004`:
    /// "the other types are currently not supported").
    pub strict: bool,
    /// Strict: what the customer path does with a `sender.integrationId`
    /// (documented for business senders only).
    pub customer_sender: CustomerSender,
    /// How long a stored activity takes to show in Get Activities.
    pub activities_lag: Duration,
    /// The most activities one Get Activities answer holds (the oldest
    /// first; the client pages by `leid`); `None`: all.
    pub activities_cap: Option<usize>,
    /// Share of inbound posts that complete only after `timeout_delay`:
    /// the client has given up waiting by then, and the activity is stored
    /// all the same.
    pub fault_timeout_late: f64,
    /// Each service on a host of its own, as on the real platforms
    /// (LivePerson, identity, engine, direct: [`Sim::hub_urls`]); a path
    /// asked of a host that does not serve it gets a bare 404. Otherwise
    /// every service is served from one address.
    pub hosts_per_service: bool,
    /// Strict: the customer path refuses cards, carousels and lists (what
    /// a customer's integration sends is not documented; a customer sends
    /// messages, a business sends cards).
    pub refuse_customer_cards: bool,
    /// The hub's routing sends customer messages to a bot of its own,
    /// which answers each one posted on the customer path (replayed
    /// history included) with an activity of its own, no externalId.
    /// Changeable while running ([`Shared::set_hub_bot`]).
    pub hub_bot: bool,
    /// The hub has neither an agent nor a bot integration: customer posts
    /// answer `ENG005501`. Changeable while running
    /// ([`Shared::set_hub_unrouted`]).
    pub hub_unrouted: bool,
    /// Which token the Direct inbound path takes (the docs' header row
    /// says the portal access token; the vendor's client sends the
    /// engine's).
    pub inbound_token: InboundToken,
}

/// Which token the Direct inbound path takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InboundToken {
    /// The engine token from the identity service (as the vendor's client).
    #[default]
    Engine,
    /// Only the hub's portal access token ([`Credentials::portal_token`]);
    /// an engine token gets a 401.
    Portal,
}

/// The services of the simulator, each of which may have a host of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    /// Every service (one address).
    All,
    LivePerson,
    Identity,
    Engine,
    Direct,
}

impl Service {
    /// Whether a host of this service serves `path` (the simulator's own
    /// `/sim/` paths are served everywhere).
    fn serves(self, path: &str) -> bool {
        if path.starts_with("/sim/") {
            return true;
        }
        match self {
            Service::All => true,
            Service::LivePerson => {
                path.starts_with("/api/account/") || path.starts_with("/messaging_history/")
            }
            Service::Identity => path.starts_with("/connect/"),
            Service::Engine => path.starts_with("/api/v1/"),
            Service::Direct => path.starts_with("/inbound/"),
        }
    }
}

/// Where the simulated Hubster services are.
#[derive(Debug, Clone, Serialize)]
pub struct HubUrls {
    pub identity: String,
    pub engine: String,
    pub direct: String,
}

/// What content search answers a brand's credential.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BrandContentSearch {
    /// 401 when strict (the likely answer); served when not.
    #[default]
    Unauthorized,
    /// 400, saying nothing of the credential.
    BadRequest,
    /// 200 with no records.
    Empty,
}

/// What a strict customer path does with a `sender.integrationId`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CustomerSender {
    /// Leaves it out (the sender is the conversation's customer).
    #[default]
    Ignore,
    /// Answers 400 `ENG005002` naming it.
    Reject,
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
            quota_liveperson_only: false,
            max_in_flight: None,
            latency: Duration::ZERO,
            age: Duration::ZERO,
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
            strict: false,
            liveperson_strict: false,
            liveperson_variants: false,
            brand_content_search: BrandContentSearch::Unauthorized,
            partial_answers: false,
            customer_sender: CustomerSender::Ignore,
            activities_lag: Duration::ZERO,
            activities_cap: None,
            fault_timeout_late: 0.0,
            hosts_per_service: false,
            hub_bot: false,
            hub_unrouted: false,
            refuse_customer_cards: false,
            inbound_token: InboundToken::Engine,
        }
    }
}

/// The account and credentials the simulator accepts.
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub account: String,
    /// A brand's bearer (an agent's or an app's token).
    pub bearer: String,
    /// A consumer's JWT: what content search is documented for (strict:
    /// the only credential it takes).
    pub consumer_jwt: String,
    pub consumer_key: String,
    pub consumer_secret: String,
    pub token: String,
    pub token_secret: String,
    pub hubster_client_id: String,
    pub hubster_client_secret: String,
    /// The hub's portal access token (what the Direct inbound path takes
    /// under `InboundToken::Portal`).
    pub hubster_portal_token: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            account: "12345678".into(),
            bearer: "sim-bearer-token".into(),
            // Shaped as a JWT; the simulator only compares it.
            consumer_jwt: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzaW0tY29uc3VtZXIifQ.c2lt".into(),
            consumer_key: "sim-consumer-key".into(),
            consumer_secret: "sim-consumer-secret".into(),
            token: "sim-access-token".into(),
            token_secret: "sim-token-secret".into(),
            hubster_client_id: "hubster.engine.api.5a1b2c3d4e5f".into(),
            hubster_client_secret: "sim-hubster-secret".into(),
            hubster_portal_token: "sim-portal-access-token".into(),
        }
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    /// endpoint -> status -> count.
    pub requests: BTreeMap<String, BTreeMap<u16, u64>>,
    /// conversations/search and conversation/search asked without
    /// `contentToRetrieve` (LivePerson then sends its heavy default set).
    pub searches_without_content_to_retrieve: u64,
    pub violations_retry_after: u64,
    pub violations_quota: u64,
    /// Requests refused for going over --max-in-flight.
    pub violations_in_flight: u64,
    /// Requests admitted, and their seconds in flight summed (with
    /// --max-in-flight: divided by it and by the time, how much of what
    /// the server allows a client used).
    pub admitted: u64,
    pub in_flight_seconds: f64,
    pub delivered_activities: u64,
    pub duplicate_deliveries: u64,
    /// Activities the hub's own bot added (`hub_bot`).
    pub bot_answers: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
}

impl Stats {
    /// Requests answered, whatever the answer.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().flat_map(|s| s.values()).sum()
    }
}

#[derive(Debug)]
pub(super) struct Client {
    /// The last 429 this client got: (when it was sent, when it may come back).
    pub(super) blocked: Option<(Instant, Instant)>,
    pub(super) tokens: f64,
    pub(super) refilled: Instant,
}

/// Shared state of a running simulator.
pub struct Shared {
    pub config: SimConfig,
    pub creds: Credentials,
    pub lp: LivePerson,
    pub hub: Mutex<Hub>,
    pub(super) stats: Mutex<Stats>,
    pub(super) rng: Mutex<Rng>,
    pub(super) clients: Mutex<HashMap<String, Client>>,
    pub(super) tokens: Mutex<HashMap<String, Instant>>,
    /// Requests in flight per client.
    pub(super) in_flight: Mutex<HashMap<String, usize>>,
    pub(super) addr: SocketAddr,
    pub(super) lp_answers: Mutex<LpAnswers>,
}

/// A simulator running on a loopback port.
pub struct Sim {
    pub shared: Arc<Shared>,
    /// Where the Hubster services are.
    hub: HubUrls,
    /// Each listener's stop signal and task.
    servers: Vec<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
}

/// Serves `service` on `listener` until told to stop.
fn serve(
    shared: &Arc<Shared>,
    listener: tokio::net::TcpListener,
    service: Service,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let app = router(Arc::clone(shared)).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| async move {
            if service.serves(req.uri().path()) {
                next.run(req).await
            } else {
                // What a host answers for a path it does not route: a bare
                // 404, nothing of the engine's error shape.
                (StatusCode::NOT_FOUND, "Not Found").into_response()
            }
        },
    ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, task)
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
            config.age,
        );
        if config.liveperson_variants {
            lp.add_variants();
        }
        for c in lp.conversations.iter_mut().take(config.poison) {
            c.base.push(json!({"sequence": "not a number", "dialogId": c.id, "serverTimestamp": c.start_ms,
                "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "poison"}}));
        }
        let shared = Arc::new(Shared {
            lp_answers: Mutex::new(LpAnswers {
                brand_content_search: config.brand_content_search,
                partial_answers: config.partial_answers,
                hub_refusal: None,
                liveperson_refusal: None,
                hub_bot: config.hub_bot,
                hub_unrouted: config.hub_unrouted,
            }),
            rng: Mutex::new(Rng::new(config.seed ^ 0x5EED)),
            config,
            creds: Credentials::default(),
            lp,
            hub: Mutex::new(Hub::default()),
            stats: Mutex::new(Stats::default()),
            clients: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            addr,
        });
        let base = format!("http://{addr}");
        let mut hub = HubUrls {
            identity: base.clone(),
            engine: base.clone(),
            direct: base,
        };
        let mut servers = Vec::new();
        if shared.config.hosts_per_service {
            servers.push(serve(&shared, listener, Service::LivePerson));
            for (service, url) in [
                (Service::Identity, &mut hub.identity),
                (Service::Engine, &mut hub.engine),
                (Service::Direct, &mut hub.direct),
            ] {
                let l = tokio::net::TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?;
                *url = format!("http://{}", l.local_addr()?);
                servers.push(serve(&shared, l, service));
            }
        } else {
            servers.push(serve(&shared, listener, Service::All));
        }
        Ok(Sim {
            shared,
            hub,
            servers,
        })
    }

    /// Where the Hubster services are (each on a host of its own with
    /// `hosts_per_service`, else all at [`Sim::base_url`]).
    pub fn hub_urls(&self) -> &HubUrls {
        &self.hub
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `http://127.0.0.1:<port>`: LivePerson, and every other service
    /// unless each has a host of its own ([`Sim::hub_urls`]).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The line `convsync sim` prints when ready.
    pub fn ready_line(&self) -> Value {
        let base = self.base_url();
        json!({
            "ready": true,
            "liveperson": {"csds": base, "domain": self.shared.addr.to_string(), "account": self.shared.creds.account},
            "hubster": self.hub,
            "credentials": self.shared.creds,
            "conversations": self.shared.lp.conversations.len(),
        })
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Stops serving and waits for the server task to end.
    pub async fn stop(self) {
        for (stop, task) in self.servers {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

pub(super) type S = State<Arc<Shared>>;

/// `/sim/freshness?since_ms=&until_ms=`: messages that appeared then.
#[derive(Debug, Deserialize)]
struct FreshnessQuery {
    since_ms: Option<i64>,
    until_ms: Option<i64>,
}

fn router(shared: Arc<Shared>) -> Router {
    use super::hubster::*;
    use super::liveperson::*;
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
        .route(
            "/sim/hub",
            get(|State(s): S| async move { axum::Json(s.hub_conversations()) }),
        )
        .route(
            "/sim/freshness",
            get(
                |State(s): S, q: axum::extract::Query<FreshnessQuery>| async move {
                    axum::Json(s.freshness(q.since_ms.unwrap_or(0), q.until_ms.unwrap_or(i64::MAX)))
                },
            ),
        )
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            in_flight,
        ))
        .with_state(shared)
}

/// Every request but the simulator's own: held for `latency`, and, with
/// `max_in_flight`, refused (429) when its client already has that many
/// in flight.
async fn in_flight(
    State(s): S,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if req.uri().path().starts_with("/sim/") {
        return next.run(req).await;
    }
    let host = req.uri().path().split('/').nth(1).unwrap_or("").to_owned();
    let key = super::faults::client_key(req.headers(), &host);
    struct Leaving<'a>(&'a Shared, &'a str, Instant);
    impl Drop for Leaving<'_> {
        fn drop(&mut self) {
            if let Some(n) = self
                .0
                .in_flight
                .lock()
                .expect("in-flight lock")
                .get_mut(self.1)
            {
                *n = n.saturating_sub(1);
            }
            let mut st = self.0.stats.lock().expect("stats lock");
            st.admitted += 1;
            st.in_flight_seconds += self.2.elapsed().as_secs_f64();
        }
    }
    let n = {
        let mut m = s.in_flight.lock().expect("in-flight lock");
        let n = m.entry(key.clone()).or_default();
        *n += 1;
        *n
    };
    if let Some(max) = s.config.max_in_flight
        && n > max
    {
        if let Some(n) = s.in_flight.lock().expect("in-flight lock").get_mut(&key) {
            *n = n.saturating_sub(1);
        }
        s.stats.lock().expect("stats lock").violations_in_flight += 1;
        return s.too_many("in_flight", &key);
    }
    let _leaving = Leaving(&s, &key, Instant::now());
    if !s.config.latency.is_zero() {
        tokio::time::sleep(s.config.latency).await;
    }
    next.run(req).await
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
