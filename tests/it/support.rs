//! Helpers shared by the integration tests.

use serde_json::Value;
use std::path::PathBuf;

pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn read_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(data(name)).unwrap()).unwrap()
}

/// Values in a canonical text form, for set comparisons.
pub fn canon(v: &Value) -> String {
    // serde_json's Map keeps keys sorted, so to_string is canonical.
    v.to_string()
}
