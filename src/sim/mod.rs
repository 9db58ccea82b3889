//! The simulator of both platforms that tests, benchmarks, the demo and
//! users' rehearsals run against over real HTTP on loopback.
//!
//! - [`generate`]: deterministic conversation data from a seed.
//! - [`world`]: what the simulator holds (LivePerson conversations, the hub).
//! - [`server`]: the HTTP endpoints, faults, quota and counters.

pub mod generate;
pub mod server;
pub mod world;

pub use server::{Credentials, Leid, RetryAfter, Sim, SimConfig, Stats};
