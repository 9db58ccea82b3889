//! Moving conversations: [`pipeline`] syncs one conversation end to end;
//! [`daemon`] keeps doing it for every conversation that changes;
//! [`backfill`] does it once for a range of history; [`export`] writes a
//! Hubster conversation out as LivePerson JSON.

pub mod backfill;
pub mod daemon;
pub mod export;
pub mod pipeline;
