//! convsync moves contact-center conversation history between LivePerson's
//! Messaging History API and the Hubster engine's Activities.
//!
//! Code map (arrows point down only: the binary -> [`ops`] -> [`sync`] ->
//! {[`platform`], [`store`], [`telemetry`]}; [`platform`] -> [`http`];
//! anyone may use [`format`], and it uses nothing of ours):
//! - [`format`]: the adapter, pure conversion in both directions; its own
//!   crate (`crates/format`), so the compiler keeps it free of I/O and
//!   clocks. It owns the mapping settings and THE record identity.
//! - [`config`]: assembles the file from the sections each component owns,
//!   holds the jobs' sections (`[sync]`, `[[migration]]`) and locates every
//!   error (file, line, key).
//! - [`http`]: the discipline every request goes through: quota, pause
//!   gate on 429, timeouts, retries by class, counters.
//! - [`platform`]: the LivePerson and Hubster clients and their auth, and
//!   conversations in files of either format.
//! - [`store`]: the redb checkpoint store: what was delivered, intents,
//!   watermarks, dead letters.
//! - [`sync`]: moving conversations: what a run needs, which conversations,
//!   the one runner, one conversation end to end, and over these the
//!   daemon, backfills and migrations.
//! - [`telemetry`]: the counters, and the daemon's /metrics, /healthz and
//!   /status.
//! - [`ops`]: one operation per command, returning data; the binary
//!   (`src/bin/convsync/`) parses arguments, prints, and maps errors to
//!   exit codes in one place.
//! - [`sim`]: the simulator of both platforms, and deterministic data.
//! - [`clock`]: wall-clock time, where convsync needs it.

pub mod clock;
pub mod config;
pub mod control;
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
