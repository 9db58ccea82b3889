//! What the simulator saw: its counters, and the ledger of delivered
//! activities that tests and the demo check against the source.

use super::server::{Shared, Stats};
use serde::Serialize;

/// How fresh the hub is ([`Shared::freshness`]), in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Freshness {
    /// Messages that appeared since the mark and reached the hub, and how
    /// many appeared.
    pub messages: usize,
    pub expected: usize,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}
use serde_json::Value;
use std::collections::BTreeMap;

impl Shared {
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.lock().expect("stats lock").clone();
        let hub = self.hub.lock().expect("hub lock");
        s.delivered_activities = hub.delivered;
        s.duplicate_deliveries = hub.duplicates;
        s.bot_answers = hub.bot_answers;
        s
    }

    /// The hub's conversations, oldest first: the hub's id, the binding
    /// (the LivePerson conversation convsync established it for) and how
    /// many activities it holds (where `fetch hubster`'s id comes from).
    pub fn hub_conversations(&self) -> Vec<Value> {
        let hub = self.hub.lock().expect("hub lock");
        let mut list: Vec<(i64, Value)> = hub
            .conversations
            .iter()
            .map(|(id, c)| {
                (
                    c.opened_ms,
                    serde_json::json!({"conversationId": id, "binding": c.binding,
                        "activities": c.activities.len()}),
                )
            })
            .collect();
        list.sort_by_key(|(t, _)| *t);
        list.into_iter().map(|(_, v)| v).collect()
    }

    /// The delivered activities, per source conversation (the binding), in
    /// arrival order.
    pub fn ledger(&self) -> BTreeMap<String, Vec<Value>> {
        let hub = self.hub.lock().expect("hub lock");
        hub.conversations
            .values()
            .map(|c| {
                (
                    c.binding.clone(),
                    c.activities.iter().map(|d| d.activity.clone()).collect(),
                )
            })
            .collect()
    }

    /// The externalIds delivered, per source conversation, in arrival order.
    pub fn ledger_external_ids(&self) -> BTreeMap<String, Vec<String>> {
        self.ledger()
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    v.iter()
                        .filter_map(|a| a["externalId"].as_str().map(str::to_owned))
                        .collect(),
                )
            })
            .collect()
    }

    /// The externalIds a conversation's records convert to, in delivery
    /// order: of the records visible now, or (`grown`) of every record it
    /// will have. `None` for an unknown or unconvertible (poison) one.
    pub fn expected_external_ids(
        &self,
        id: &str,
        mapping: &crate::format::Mapping,
        grown: bool,
    ) -> Option<Vec<String>> {
        let c = &self.lp.conversations[*self.lp.by_id.get(id)?];
        let records = if grown {
            self.lp.all_records(c)
        } else {
            self.lp.records(c)
        };
        let text = serde_json::to_string(&records).expect("values serialize");
        let parsed: Vec<crate::format::liveperson::Record> = serde_json::from_str(&text).ok()?;
        let out =
            crate::format::to_hubster(id, &parsed, mapping, &crate::format::LpResume::default())
                .ok()?;
        Some(
            out.activities
                .iter()
                .filter_map(|a| a.external_id().map(str::to_owned))
                .collect(),
        )
    }

    /// How fresh the hub is: for every message that appeared in LivePerson
    /// from `since_ms` to `until_ms` (an OPEN conversation's growth) and
    /// reached the hub, the hub's receipt time minus its LivePerson time.
    pub fn freshness(&self, since_ms: i64, until_ms: i64) -> Freshness {
        // externalId -> LivePerson time, of the growth messages.
        let mut stamps = std::collections::HashMap::new();
        let now = crate::clock::now_ms().min(until_ms);
        for c in &self.lp.conversations {
            for (k, r) in c.growth.iter().enumerate() {
                let stamp = self.lp.growth_stamp(k);
                if stamp < since_ms || stamp > now || r["event"]["type"] != "ContentEvent" {
                    continue;
                }
                let (Some(dialog), Some(seq)) = (r["dialogId"].as_str(), r["sequence"].as_i64())
                else {
                    continue;
                };
                stamps.insert(
                    crate::format::identity::sequence_external_id(&c.id, dialog, seq),
                    stamp,
                );
            }
        }
        let hub = self.hub.lock().expect("hub lock");
        let mut ages: Vec<f64> = hub
            .conversations
            .values()
            .flat_map(|c| &c.activities)
            .filter_map(|d| {
                let stamp = stamps.get(d.activity["externalId"].as_str()?)?;
                Some((d.received_ms - stamp) as f64 / 1000.0)
            })
            .collect();
        ages.sort_by(f64::total_cmp);
        let at = |q: f64| {
            (!ages.is_empty())
                .then(|| ages[((ages.len() as f64 * q).ceil() as usize).clamp(1, ages.len()) - 1])
        };
        Freshness {
            messages: ages.len(),
            expected: stamps.len(),
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: ages.last().copied(),
        }
    }

    /// Forgets every Hubster token, as if they had all expired.
    pub fn revoke_tokens(&self) {
        self.tokens.lock().expect("tokens lock").clear();
    }

    pub(super) fn count(&self, endpoint: &str, status: u16) {
        let mut s = self.stats.lock().expect("stats lock");
        *s.requests
            .entry(endpoint.to_owned())
            .or_default()
            .entry(status)
            .or_default() += 1;
    }

    pub(super) fn fault(&self, kind: &str) {
        *self
            .stats
            .lock()
            .expect("stats lock")
            .faults
            .entry(kind.to_owned())
            .or_default() += 1;
    }

    pub(super) fn chance(&self, p: f64) -> bool {
        p > 0.0 && (self.rng.lock().expect("rng lock").below(1_000_000) as f64) < p * 1_000_000.0
    }
}
