//! `convsync sim`'s arguments: the simulator's data, pace, faults and
//! strictness.

use clap::ValueEnum;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// LivePerson conversations to serve.
    #[arg(long, default_value_t = 50)]
    pub conversations: usize,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Average content records per conversation.
    #[arg(long, default_value_t = 12)]
    pub messages: usize,
    /// Records each OPEN conversation gains while the simulator runs.
    #[arg(long, default_value_t = 5)]
    pub growth: usize,
    /// Seconds between two records of a growing conversation.
    #[arg(long, default_value_t = 2.0)]
    pub grow_every: f64,
    /// Requests per second allowed per client; beyond it: 429.
    #[arg(long, value_name = "RPS")]
    pub quota: Option<f64>,
    /// The quota holds LivePerson's clients only; the hub's are unlimited.
    #[arg(long, requires = "quota")]
    pub quota_liveperson_only: bool,
    /// Requests a client may have in flight at once; one more: 429.
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<usize>,
    /// Conversations as if this many days had passed since they started
    /// (their 30 days end that long ago; all closed).
    #[arg(long, default_value_t = 0.0, value_name = "DAYS")]
    pub age_days: f64,
    /// Milliseconds every answer takes.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Share of requests answered 429 (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub fault_429: f64,
    /// How a 429 says when to come back.
    #[arg(long, value_enum, default_value = "seconds")]
    pub retry_after: RetryAfter,
    /// Share of requests answered 500 or 503.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub fault_5xx: f64,
    /// Share of requests held back for --timeout-delay seconds.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub fault_timeout: f64,
    /// Seconds a held-back request waits.
    #[arg(long, default_value_t = 5.0)]
    pub timeout_delay: f64,
    /// Share of answers whose body is cut in half (invalid JSON).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub fault_malformed: f64,
    /// Share of answers whose connection drops mid-body.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub fault_reset: f64,
    /// Whether get activities' leid includes that eventId.
    #[arg(long, value_enum, default_value = "inclusive")]
    pub leid: Leid,
    /// Page content search answers (`_metadata` with `next` links).
    #[arg(long, value_enum, default_value = "off")]
    pub content_paging: OnOff,
    /// Lifetime of Hubster tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub token_ttl: u64,
    /// Both platforms as strict as their documentation. LivePerson: content
    /// search answers 401 to anything but a consumer's JWT (printed in the
    /// ready line as credentials.consumer_jwt) and pages silently at 50;
    /// conversations/search answers 204 when empty and links `next` to an
    /// internal host. Hubster: conversations established only by a
    /// customer integration; inbound bodies with documented properties only
    /// (400 ENG005002 names any other); lower-case urlTypes.
    /// --write-config then writes an app-key (OAuth 1.0a) LivePerson config.
    #[arg(long)]
    pub strict: bool,
    /// The variants LivePerson documents and real accounts send:
    /// Messaging Interactions writes `seq` as a string, and one closed
    /// conversation in five carries a private note (audience
    /// AGENTS_AND_MANAGERS), a message of an undocumented type, and
    /// json-pollock's documented layout navigating to a point that is not
    /// a place.
    #[arg(long)]
    pub variants: bool,
    /// What content search answers a brand's credential (documented for a
    /// consumer's JWT only; what a brand gets is not documented):
    /// unauthorized is a 401 with --strict (and served without it).
    #[arg(long, value_enum, default_value = "unauthorized")]
    pub brand_content_search: BrandContentSearch,
    /// Messaging Interactions answers truncated (info.isPartial: the first
    /// half of each conversation's messages), in conversations/search and
    /// by id, as LivePerson documents for data retrieved too often.
    #[arg(long)]
    pub partial_answers: bool,
    /// With --strict: what the customer path does with a
    /// sender.integrationId (documented for agents and bots only).
    #[arg(long, value_enum, default_value = "ignore")]
    pub customer_sender: CustomerSender,
    /// Milliseconds before a posted activity shows in Get Activities.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub activities_lag_ms: u64,
    /// The most activities one Get Activities answer holds (the client
    /// pages by leid).
    #[arg(long, value_name = "N")]
    pub activities_cap: Option<usize>,
    /// Share of inbound posts that complete only after --timeout-delay
    /// seconds, once the client has stopped waiting (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub fault_timeout_late: f64,
    /// With --strict: the customer path refuses cards, carousels and lists
    /// (undocumented either way).
    #[arg(long)]
    pub refuse_customer_cards: bool,
    /// The hub's routing sends customer messages to a bot of its own: each
    /// one posted on the customer path (replayed history included) gets an
    /// answer convsync never posted.
    #[arg(long)]
    pub hub_bot: bool,
    /// The hub has neither an agent nor a bot integration: every message
    /// posted on the customer path answers ENG005501 (nobody to route it
    /// to).
    #[arg(long)]
    pub hub_unrouted: bool,
    /// Serve each service on a host (port) of its own, as the real
    /// platforms do: LivePerson on --listen, Hubster's identity, engine and
    /// direct each on a free port (the ready line says which); a host asked
    /// for a path it does not serve answers a bare 404.
    #[arg(long)]
    pub hosts_per_service: bool,
    /// Which token the Direct inbound path takes: the engine token (as the
    /// vendor's client sends), or only the hub's portal access token (as
    /// the docs' header row says; in the ready line's credentials).
    #[arg(long, value_enum, default_value = "engine")]
    pub inbound_token: InboundToken,
    /// Also write a convsync config pointing at this simulator.
    #[arg(long, value_name = "FILE")]
    pub write_config: Option<PathBuf>,
}

/// How the simulator answers a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
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

impl From<RetryAfter> for convsync::ops::sim::RetryAfter {
    fn from(r: RetryAfter) -> Self {
        match r {
            RetryAfter::Seconds => Self::Seconds,
            RetryAfter::HttpDate => Self::HttpDate,
            RetryAfter::None => Self::None,
            RetryAfter::Mixed => Self::Mixed,
        }
    }
}

/// What strict content search answers a brand's credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BrandContentSearch {
    /// 401 with --strict; served without it.
    Unauthorized,
    /// 400, saying nothing of the credential.
    BadRequest,
    /// 200 with no records.
    Empty,
}

impl From<BrandContentSearch> for convsync::ops::sim::BrandContentSearch {
    fn from(b: BrandContentSearch) -> Self {
        match b {
            BrandContentSearch::Unauthorized => Self::Unauthorized,
            BrandContentSearch::BadRequest => Self::BadRequest,
            BrandContentSearch::Empty => Self::Empty,
        }
    }
}

/// What a strict customer path does with a `sender.integrationId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CustomerSender {
    /// Leave it out: the sender is the conversation's customer.
    Ignore,
    /// Answer 400 ENG005002 naming it.
    Reject,
}

impl From<CustomerSender> for convsync::ops::sim::CustomerSender {
    fn from(c: CustomerSender) -> Self {
        match c {
            CustomerSender::Ignore => Self::Ignore,
            CustomerSender::Reject => Self::Reject,
        }
    }
}

/// Which token the Direct inbound path takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InboundToken {
    /// The engine token from the identity service.
    Engine,
    /// Only the hub's portal access token.
    Portal,
}

impl From<InboundToken> for convsync::ops::sim::InboundToken {
    fn from(t: InboundToken) -> Self {
        match t {
            InboundToken::Engine => Self::Engine,
            InboundToken::Portal => Self::Portal,
        }
    }
}

/// Whether get activities' `leid` includes the activity at that eventId.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Leid {
    Inclusive,
    Exclusive,
}

impl From<Leid> for convsync::ops::sim::Leid {
    fn from(l: Leid) -> Self {
        match l {
            Leid::Inclusive => Self::Inclusive,
            Leid::Exclusive => Self::Exclusive,
        }
    }
}
