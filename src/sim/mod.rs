//! The simulator's parts. For now: the deterministic data generator that
//! tests, benchmarks and rehearsals share.

pub mod generate;
