//! Moving conversations: [`pipeline`] syncs one conversation end to end;
//! [`daemon`] keeps doing it for every conversation that changes;
//! [`backfill`] does it once for a range of history.

pub mod backfill;
pub mod daemon;
pub mod pipeline;
