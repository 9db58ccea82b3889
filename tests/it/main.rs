//! Integration tests: one binary, one module per area.

mod cli;
mod clients;
mod golden;
mod roundtrip;
mod sim_cli;
mod support;
