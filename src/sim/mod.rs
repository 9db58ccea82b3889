//! The simulator of both platforms that tests, benchmarks, the demo and
//! users' rehearsals run against over real HTTP on loopback.
//!
//! - [`generate`]: deterministic conversation data from a seed.
//! - [`world`]: what the simulator holds (LivePerson conversations, the hub).
//! - [`server`]: the simulator itself: its config, its state, its routes.
//! - [`liveperson`], [`hubster`]: each platform's endpoints.
//! - [`faults`]: the quota, Retry-After bookkeeping and injected faults
//!   every request goes through.
//! - [`ledger`]: its counters and the ledger of what was delivered.
//! - [`answers`]: what the platforms answer now, changeable while it runs.

pub mod answers;
pub mod faults;
pub mod generate;
pub mod hubster;
pub mod ledger;
pub mod liveperson;
pub mod server;
pub mod world;

pub use server::{
    BrandContentSearch, Credentials, CustomerSender, HubUrls, InboundToken, Leid, RetryAfter, Sim,
    SimConfig, Stats,
};
pub use world::{NOT_A_PLACE_CONTENT, PRIVATE_NOTE};
