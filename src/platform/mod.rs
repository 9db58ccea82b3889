//! One module per platform: its client, auth and discovery.

pub mod oauth1;
