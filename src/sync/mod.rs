//! Moving conversations: [`pipeline`] syncs one conversation end to end;
//! [`daemon`] keeps doing it for every conversation that changes;
//! [`backfill`] does it once for a range of history; [`export`] writes a
//! Hubster conversation out as LivePerson JSON; [`migrate`] runs the
//! `[[migration]]`s of the config over all of these.

pub mod backfill;
pub mod daemon;
pub mod export;
pub mod migrate;
pub mod pipeline;
