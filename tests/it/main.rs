//! Integration tests: one binary, one module per area.

mod cli;
mod clients;
mod daemon;
mod docs;
mod first_contact;
mod first_hour;
mod freshness;
mod golden;
mod house;
mod hubster_strict;
mod inbound_path;
mod liveperson_strict;
mod migrate;
mod pipeline;
mod refusals;
mod replay;
mod roundtrip;
mod schema;
mod sim_cli;
mod store;
mod support;
mod trust;
mod visible;
