//! Resume points: what earlier conversions already delivered, so the next one
//! converts only what is new and keeps eventIds rising.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A set of sequence numbers stored as sorted, disjoint, inclusive ranges
/// (a long conversation with no gaps costs one range).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqSet(Vec<(i64, i64)>);

impl SeqSet {
    pub fn contains(&self, s: i64) -> bool {
        let i = self.0.partition_point(|&(_, hi)| hi < s);
        self.0.get(i).is_some_and(|&(lo, _)| lo <= s)
    }

    pub fn insert(&mut self, s: i64) {
        let i = self.0.partition_point(|&(_, hi)| hi.saturating_add(1) < s);
        match self.0.get_mut(i) {
            Some((lo, hi)) if *lo <= s.saturating_add(1) => {
                if s >= *lo && s <= *hi {
                    return;
                }
                if s < *lo {
                    *lo = s;
                } else {
                    *hi = s;
                    // Join with the next range if they now touch.
                    if let Some(&(nlo, nhi)) = self.0.get(i + 1)
                        && nlo <= s.saturating_add(1)
                    {
                        self.0[i].1 = nhi;
                        self.0.remove(i + 1);
                    }
                }
            }
            _ => self.0.insert(i, (s, s)),
        }
    }

    pub fn max(&self) -> Option<i64> {
        self.0.last().map(|&(_, hi)| hi)
    }

    pub fn ranges(&self) -> &[(i64, i64)] {
        &self.0
    }
}

/// Keys of delivered records as 128-bit digests (the first 16 bytes of
/// their SHA-1), sorted: 16 bytes a record, where the key itself
/// (`lp:{conversation}:{dialog}:status:{uuid}`) takes about a hundred.
/// Stored as one base64 string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyDigests(Vec<u128>);

impl KeyDigests {
    pub fn digest(key: &str) -> u128 {
        use sha1::Digest;
        let h = sha1::Sha1::digest(key.as_bytes());
        let mut b = [0u8; 16];
        b.copy_from_slice(&h[..16]);
        u128::from_be_bytes(b)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.binary_search(&Self::digest(key)).is_ok()
    }

    pub fn insert(&mut self, key: &str) {
        let d = Self::digest(key);
        if let Err(i) = self.0.binary_search(&d) {
            self.0.insert(i, d);
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The digests, in order.
    pub fn iter(&self) -> impl Iterator<Item = u128> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<S: AsRef<str>> FromIterator<S> for KeyDigests {
    fn from_iter<I: IntoIterator<Item = S>>(keys: I) -> Self {
        let mut v: Vec<u128> = keys.into_iter().map(|k| Self::digest(k.as_ref())).collect();
        v.sort_unstable();
        v.dedup();
        KeyDigests(v)
    }
}

impl Serialize for KeyDigests {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        let bytes: Vec<u8> = self.0.iter().flat_map(|d| d.to_be_bytes()).collect();
        s.serialize_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes))
    }
}

impl<'de> Deserialize<'de> for KeyDigests {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let text = String::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("key digests: {e}")))?;
        if bytes.len() % 16 != 0 {
            return Err(serde::de::Error::custom(format!(
                "key digests: {} bytes is not a whole number of 16-byte digests",
                bytes.len()
            )));
        }
        let mut v: Vec<u128> = bytes
            .chunks_exact(16)
            .map(|c| u128::from_be_bytes(c.try_into().expect("16 bytes")))
            .collect();
        v.sort_unstable();
        v.dedup();
        Ok(KeyDigests(v))
    }
}

/// What was delivered of one LivePerson conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LpResume {
    /// The highest eventId delivered; new activities start above it.
    pub last_event_id: Option<i64>,
    /// Delivered content sequences per dialogId.
    pub sequences: BTreeMap<String, SeqSet>,
    /// externalIds of delivered records that have no sequence (accept
    /// statuses, unknown events), as digests.
    #[serde(default)]
    pub keys: KeyDigests,
}

/// What identifies one delivered record: its sequence in its dialog, or its
/// externalId when it has no sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark<'a> {
    Sequence { dialog_id: &'a str, sequence: i64 },
    Key(String),
}

impl LpResume {
    /// Whether nothing is recorded delivered.
    pub fn is_empty(&self) -> bool {
        self.last_event_id.is_none() && self.sequences.is_empty() && self.keys.is_empty()
    }

    pub fn is_delivered(&self, dialog_id: &str, sequence: Option<i64>, key: &str) -> bool {
        match sequence {
            Some(s) => self
                .sequences
                .get(dialog_id)
                .is_some_and(|set| set.contains(s)),
            None => self.keys.contains(key),
        }
    }

    /// Records one delivered activity.
    pub fn mark(&mut self, mark: &Mark, event_id: Option<i64>) {
        match mark {
            Mark::Sequence {
                dialog_id,
                sequence,
            } => {
                if let Some(set) = self.sequences.get_mut(*dialog_id) {
                    set.insert(*sequence);
                } else {
                    let mut set = SeqSet::default();
                    set.insert(*sequence);
                    self.sequences.insert((*dialog_id).to_owned(), set);
                }
            }
            Mark::Key(k) => self.keys.insert(k),
        }
        if let Some(e) = event_id {
            self.last_event_id = Some(self.last_event_id.map_or(e, |l| l.max(e)));
        }
    }
}

/// What was delivered of one Hubster conversation (Hubster -> LivePerson).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubsterResume {
    /// The highest eventId delivered; activities at or below it are skipped
    /// unless their identity is new at exactly that eventId.
    pub last_event_id: Option<i64>,
    /// Identities of the activities delivered at `last_event_id`.
    pub keys_at_last: BTreeSet<String>,
    /// The highest sequence handed out; new records continue after it.
    pub last_sequence: Option<i64>,
    /// Identities of delivered activities that had no eventId.
    #[serde(default)]
    pub undated: BTreeSet<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn seqset_matches_a_plain_set(xs in proptest::collection::vec(-20i64..60, 0..80)) {
            let mut set = SeqSet::default();
            let mut plain = BTreeSet::new();
            for x in &xs {
                set.insert(*x);
                plain.insert(*x);
                for w in set.ranges().windows(2) {
                    prop_assert!(w[0].1 + 1 < w[1].0, "ranges overlap or touch: {:?}", set);
                }
            }
            for q in -25..65 {
                prop_assert_eq!(set.contains(q), plain.contains(&q));
            }
            prop_assert_eq!(set.max(), plain.iter().next_back().copied());
        }

        #[test]
        fn key_digests_hold_what_was_inserted_and_survive_serde(keys in proptest::collection::vec("[a-z0-9:-]{1,40}", 0..50)) {
            let mut d = KeyDigests::default();
            for k in &keys {
                d.insert(k);
            }
            let back: KeyDigests = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
            prop_assert_eq!(&back, &d);
            for k in &keys {
                prop_assert!(back.contains(k));
            }
            prop_assert!(!back.contains("not-a-key-of-these-because-it-is-too-long-and-has-CAPS"));
            let set: BTreeSet<&String> = keys.iter().collect();
            prop_assert_eq!(back.len(), set.len());
            prop_assert_eq!(keys.iter().collect::<KeyDigests>(), d);
        }
    }
}
