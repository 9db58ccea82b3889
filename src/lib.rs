//! convsync moves contact-center conversation history between LivePerson's
//! Messaging History API and the Hubster engine's Activities.
//!
//! Code map:
//! - [`format`]: the adapter, pure conversion in both directions (no I/O).
//! - [`config`]: the configuration file, its defaults and its errors.
//! - [`convert`]: the `convert` command's operation: reading either format as
//!   JSON or JSONL, converting on every core, writing the mirror shape.
//! - [`http`]: the discipline every request goes through: quota, pause
//!   gate on 429, timeouts, retries by class, counters.
//! - [`platform`]: the LivePerson and Hubster clients and their auth.
//! - [`sim`]: deterministic conversation data for tests, benchmarks and rehearsals.
//! - [`store`]: the redb checkpoint store: what was delivered, intents,
//!   watermarks, dead letters.
//! - [`sync`]: moving conversations (the pipeline of one conversation).
//! - [`telemetry`]: the daemon's /metrics, /healthz and /status.
//! - [`cli`]: the command-line definitions (the binary in `main.rs` is thin).

pub mod clock;
pub mod config;
pub mod http;
pub mod ops;
pub mod platform;
pub mod sim;
pub mod store;
pub mod sync;
pub mod telemetry;

/// The format adapter (its own crate, `crates/format`: a leaf with no I/O
/// and no clock, which the compiler enforces).
pub use convsync_format as format;
