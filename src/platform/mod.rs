//! One module per platform: its client, auth and discovery.

pub mod hubster;
pub mod liveperson;
pub mod oauth1;
pub mod secret;
