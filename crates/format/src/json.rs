//! Small serde helpers shared by both formats: borrowed strings, and the
//! unknown fields a record carries through a round trip untouched.

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A string borrowed from the input when it has no escapes, owned otherwise.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Str<'a>(pub Cow<'a, str>);

impl<'a> Str<'a> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl Serialize for Str<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Fields we do not model, in input order, kept as their exact JSON text.
#[derive(Debug, Clone, Default)]
pub struct Extras<'a>(pub Vec<(Str<'a>, &'a RawValue)>);

impl Extras<'_> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields as one JSON object, e.g. `{"foo":1}`.
    pub fn to_json_object(&self) -> String {
        serde_json::to_string(self).expect("raw JSON values always serialize")
    }

    /// Writes the fields into a map being serialized.
    pub fn serialize_into<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        for (k, v) in &self.0 {
            map.serialize_entry(k.as_str(), v)?;
        }
        Ok(())
    }
}

impl Serialize for Extras<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        self.serialize_into(&mut map)?;
        map.end()
    }
}

// ---- Writing JSON ----
//
// The one way the format writes JSON by hand. Activities are the bulk of what convsync writes, so they are written
// directly: constant keys as ready-made bytes, strings escaped only when they
// need it. The output is exactly what serde_json would write.

/// A JSON string. Most strings need no escaping: check that first (a loop
/// the compiler vectorizes) and copy; otherwise let serde_json escape it.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(out, s).expect("writing to a Vec cannot fail");
    }
}

/// Whether JSON needs an escape for any byte: 16 bytes at a time without an
/// early exit inside a block, so the check runs as vector instructions.
fn needs_escape(b: &[u8]) -> bool {
    let bad = |x: u8| (x < 0x20) | (x == b'"') | (x == b'\\');
    let mut blocks = b.chunks_exact(16);
    for block in &mut blocks {
        if block.iter().fold(false, |m, &x| m | bad(x)) {
            return true;
        }
    }
    blocks.remainder().iter().any(|&x| bad(x))
}

/// `,"key":"value"` when there is a value.
pub fn write_opt(out: &mut Vec<u8>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        write_str(out, v);
    }
}

pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

pub fn write_value(out: &mut Vec<u8>, v: &impl Serialize) {
    serde_json::to_writer(out, v).expect("values always serialize");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_str_matches_serde_json() {
        for s in [
            "",
            "plain",
            "quote\"",
            "back\\slash",
            "tab\t",
            "\u{1}",
            "ünïcode ✨ 😀",
            &"long plain text ".repeat(9),
            &format!("{}\n", "x".repeat(40)),
        ] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }
}
