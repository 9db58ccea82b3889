//! Moving conversations. [`deps`]: what a run needs; [`select`]: which
//! conversations (windows, id lists, files, a hub's list); [`runner`]: the
//! one loop that works a set of them with bounded concurrency, a retry
//! budget and dead letters; [`pipeline`]: one LivePerson conversation end
//! to end; [`export`]: one Hubster conversation out as LivePerson JSON.
//! Over these: [`daemon`] (`run`), [`backfill`] and [`migrate`];
//! [`retention`] prunes what LivePerson no longer keeps; [`jobs`] are the
//! one-shot runs, described and run once whoever hosts them.

pub mod backfill;
pub mod daemon;
pub mod deps;
pub mod export;
pub mod jobs;
pub mod migrate;
pub mod pipeline;
pub mod retention;
pub mod runner;
pub mod select;
