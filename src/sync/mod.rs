//! Moving conversations: [`pipeline`] syncs one conversation end to end.

pub mod pipeline;
