//! Moving conversations: [`pipeline`] syncs one conversation end to end;
//! [`daemon`] keeps doing it for every conversation that changes.

pub mod daemon;
pub mod pipeline;
