//! One module per platform: its client, auth and discovery; `files` for
//! conversations kept in files of either format.

pub mod files;
pub mod hubster;
pub mod liveperson;
pub mod oauth1;
pub mod secret;
