//! What the simulator holds: LivePerson conversations from the seeded
//! generator (some OPEN and growing), and the Hubster side that activities
//! are delivered to.

use super::generate::{self, Rng, Shape};
use crate::format::hubster::IntegrationType;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

pub use crate::clock::now_ms;

/// One LivePerson conversation.
#[derive(Debug)]
pub struct LpConversation {
    pub id: String,
    /// Records it has from the start (shuffled, as LivePerson sends them).
    pub base: Vec<Value>,
    /// Records that appear one by one while the simulator runs (OPEN ones).
    pub growth: Vec<Value>,
    pub start_ms: i64,
    /// When the last base record was written.
    pub base_updated_ms: i64,
    /// CLOSE conversations end; OPEN ones grow.
    pub open: bool,
    /// conversations/search marks it `isPartial` (it must be fetched again by id).
    pub partial: bool,
    pub latest_agent: String,
}

/// The LivePerson side.
#[derive(Debug)]
pub struct LivePerson {
    pub conversations: Vec<LpConversation>,
    pub by_id: HashMap<String, usize>,
    /// When the simulator started (growth is measured from it).
    pub started_ms: i64,
    pub grow_every: Duration,
    /// How far the world's clock runs ahead of the wall clock (ms): moved
    /// by [`LivePerson::finish_growing`], so that a test need not wait for
    /// growth.
    ahead_ms: std::sync::atomic::AtomicI64,
    /// Messaging Interactions writes `seq` as a string (its field table's
    /// type).
    pub seq_as_string: bool,
}

/// Structured content [`LivePerson::add_variants`] adds: json-pollock's
/// documented horizontal layout, whose image navigates to a point that is
/// not a place.
pub const NOT_A_PLACE_CONTENT: &str = r#"{"type":"horizontal","elements":[{"type":"text","text":"product name (Title)","tooltip":"text tooltip","style":{"bold":true,"size":"large"}},{"type":"image","url":"http://cdn.bgr.com/2016/08/iphone-8-concept.jpg","tooltip":"image tooltip","click":{"metadata":[{"bla1":1,"bla2":2}],"actions":[{"type":"navigate","name":"Navigate to store via image","lo":23423423,"la":2423423423}]}},{"type":"map","lo":64.128597,"la":-21.89611,"tooltip":"map tooltip"},{"type":"text","text":"product category (type)","tooltip":"text tooltip"}]}"#;

/// The text of the private notes [`LivePerson::add_variants`] adds.
pub const PRIVATE_NOTE: &str = "PRIVATE NOTE: for agents and managers only";

impl LivePerson {
    /// The documented variants (see `SimConfig::liveperson_variants`): one
    /// closed conversation in five gains a private note, a message of an
    /// unknown type, and structured content as json-pollock's own
    /// documentation writes it (a navigation to a point that is not a
    /// place); interactions write `seq` as a string.
    pub fn add_variants(&mut self) {
        self.seq_as_string = true;
        for (i, c) in self.conversations.iter_mut().enumerate() {
            if i % 5 != 1 || c.open {
                continue;
            }
            let last = c
                .base
                .iter()
                .filter_map(|r| r["sequence"].as_i64())
                .max()
                .unwrap_or(-1);
            let (ts, agent, id) = (c.base_updated_ms, c.latest_agent.clone(), c.id.clone());
            let record = |seq: i64, at: i64, event: Value| {
                json!({"sequence": seq, "dialogId": id, "serverTimestamp": at, "originatorId": agent,
                    "originatorMetadata": {"id": agent, "role": "ASSIGNED_AGENT"}, "event": event})
            };
            let mut note = record(
                last + 1,
                ts + 1,
                json!({"type": "ContentEvent", "contentType": "text/plain", "message": PRIVATE_NOTE}),
            );
            note["audience"] = "AGENTS_AND_MANAGERS".into();
            c.base.push(note);
            c.base.push(record(
                last + 2,
                ts + 2,
                json!({"type": "ContentEvent", "contentType": "HOLOGRAM", "message": {"hologram": {"frames": 3}}}),
            ));
            c.base.push(record(
                last + 3,
                ts + 3,
                json!({"type": "RichContentEvent", "content": NOT_A_PLACE_CONTENT}),
            ));
            c.base_updated_ms = ts + 3;
        }
    }

    /// `n` conversations from `seed`. Every fourth conversation is OPEN and
    /// gains a record every `grow_every` (up to `growth` records); one in ten
    /// is reported partial by conversations/search.
    pub fn generate(
        seed: u64,
        n: usize,
        messages: usize,
        growth: usize,
        grow_every: Duration,
        age: Duration,
    ) -> Self {
        let mut rng = Rng::new(seed);
        // Aged: as if `age` had passed since (then none is still open).
        let started_ms = now_ms() - age.as_millis() as i64;
        // Conversations started over the last 30 days, oldest first.
        let span = 30 * 24 * 3600 * 1000i64;
        let mut conversations = Vec::with_capacity(n);
        for i in 0..n {
            let start_ms = started_ms - span + (span / n.max(1) as i64) * i as i64;
            let shape = Shape {
                messages: 1 + rng.below(2 * messages as u64) as usize,
                start_ms,
            };
            let (id, base) = generate::conversation(&mut rng, &shape);
            let base_updated_ms = base
                .iter()
                .filter_map(|r| r["serverTimestamp"].as_i64())
                .max()
                .unwrap_or(start_ms);
            let open = i % 4 == 3 && age.is_zero();
            let latest_agent = base
                .iter()
                .filter(|r| r["originatorMetadata"]["role"] != "CONSUMER")
                .find_map(|r| r["originatorId"].as_str())
                .unwrap_or("agent")
                .to_owned();
            let growth = if open {
                grow(&mut rng, &id, &base, growth)
            } else {
                Vec::new()
            };
            conversations.push(LpConversation {
                id,
                base,
                growth,
                start_ms,
                base_updated_ms,
                open,
                partial: i % 10 == 7,
                latest_agent,
            });
        }
        let by_id = conversations
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        LivePerson {
            conversations,
            by_id,
            started_ms,
            grow_every,
            ahead_ms: Default::default(),
            seq_as_string: false,
        }
    }

    /// The world's time (epoch ms): the wall clock, unless moved ahead.
    pub fn now_ms(&self) -> i64 {
        now_ms() + self.ahead_ms.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Moves the world's clock to the moment every OPEN conversation has
    /// all its records (no later: what is visible stays the same after).
    /// Growth records keep the stamps of their schedule.
    pub fn finish_growing(&self) {
        let most = self
            .conversations
            .iter()
            .map(|c| c.growth.len())
            .max()
            .unwrap_or(0) as i64;
        let end = self.started_ms + self.grow_every.as_millis() as i64 * most;
        self.ahead_ms
            .fetch_max(end - now_ms(), std::sync::atomic::Ordering::SeqCst);
    }

    /// How many growth records are visible now.
    pub fn grown(&self, c: &LpConversation) -> usize {
        if c.growth.is_empty() || self.grow_every.is_zero() {
            return 0;
        }
        let elapsed = (self.now_ms() - self.started_ms).max(0) as u128;
        ((elapsed / self.grow_every.as_millis().max(1)) as usize).min(c.growth.len())
    }

    /// Whether every OPEN conversation shows all the records it will ever
    /// have (none grows any more).
    pub fn all_grown(&self) -> bool {
        self.conversations
            .iter()
            .all(|c| self.grown(c) == c.growth.len())
    }

    /// The records visible now, with growth records stamped at the moment
    /// they appeared.
    pub fn records(&self, c: &LpConversation) -> Vec<Value> {
        let mut out = c.base.clone();
        for (k, r) in c.growth.iter().take(self.grown(c)).enumerate() {
            let mut r = r.clone();
            r["serverTimestamp"] = self.growth_stamp(k).into();
            out.push(r);
        }
        out
    }

    /// When growth record `k` appears (and its `serverTimestamp`).
    pub fn growth_stamp(&self, k: usize) -> i64 {
        self.started_ms + self.grow_every.as_millis() as i64 * (k as i64 + 1)
    }

    /// The last update: the newest visible record.
    pub fn latest_update_ms(&self, c: &LpConversation) -> i64 {
        match self.grown(c) {
            0 => c.base_updated_ms,
            k => self.growth_stamp(k - 1).max(c.base_updated_ms),
        }
    }

    /// Every record the conversation will ever have (base and all growth).
    pub fn all_records(&self, c: &LpConversation) -> Vec<Value> {
        let mut out = c.base.clone();
        for (k, r) in c.growth.iter().enumerate() {
            let mut r = r.clone();
            r["serverTimestamp"] = self.growth_stamp(k).into();
            out.push(r);
        }
        out
    }

    /// The conversations/search `info` of a conversation.
    pub fn info(&self, c: &LpConversation, partial: bool) -> Value {
        let mut info = json!({
            "conversationId": c.id,
            "status": if c.open { "OPEN" } else { "CLOSE" },
            "startTimeL": c.start_ms,
            "latestAgentId": c.latest_agent,
            "latestUpdateTime": self.latest_update_ms(c),
            "isPartial": partial,
        });
        if !c.open {
            info["endTimeL"] = c.base_updated_ms.into();
        }
        info
    }
}

/// The lists a Messaging Interactions entry can carry, and those it
/// carries when `contentToRetrieve` is absent (a heavy default set).
const DEFAULT_CONTENT: &[&str] = &[
    "messageRecords",
    "agentParticipants",
    "consumerParticipants",
    "transfers",
    "interactions",
    "messageScores",
    "messageStatuses",
    "conversationSurveys",
    "sdes",
    "summary",
];

impl LivePerson {
    /// A `conversationHistoryRecords[]` entry: `info`, and the lists
    /// `content` names (all of the default set when `None`), made from the
    /// records visible now. A partial entry carries half the messages.
    pub fn interactions_entry(
        &self,
        c: &LpConversation,
        partial: bool,
        content: Option<&[String]>,
    ) -> Value {
        let wants = |k: &str| match content {
            None => DEFAULT_CONTENT.contains(&k),
            Some(list) => list.iter().any(|x| x == k),
        };
        let mut entry = json!({"info": self.info(c, partial)});
        if let Some(list) = content
            && list.iter().any(|x| x == "campaign")
        {
            entry["campaign"] = json!({"campaignId": "1", "campaignName": "Simulated"});
        }
        let records = self.records(c);
        let lists = interactions_lists(&c.id, &records, self.seq_as_string);
        // Truncated: cut at a point of arrival, about half way (the
        // messages before it by sequence, none of them later than one
        // after it), and the receipts of those only.
        let mut kept: Option<std::collections::HashSet<String>> = None;
        for (key, mut list) in lists {
            if partial && key == "messageRecords" {
                let time = |m: &Value| m["timeL"].as_i64().unwrap_or(i64::MAX);
                let keep = (0..=list.len() / 2)
                    .rev()
                    .find(|&k| {
                        let before = list[..k].iter().map(time).max().unwrap_or(i64::MIN);
                        list[k..].iter().all(|m| time(m) >= before)
                    })
                    .unwrap_or(0);
                list.truncate(keep);
                kept = Some(
                    list.iter()
                        .filter_map(|m| m["messageId"].as_str().map(str::to_owned))
                        .collect(),
                );
            }
            if partial && key == "messageStatuses" {
                let kept = kept.clone().unwrap_or_default();
                list.retain(|st| st["messageId"].as_str().is_some_and(|id| kept.contains(id)));
            }
            if !wants(key) {
                continue;
            }
            entry[key] = Value::Array(list);
        }
        if wants("sdes") {
            // Heavy and of no use to a transcript: what the default set costs.
            entry["sdes"] = json!({"events": [{"sdeType": "CUSTOMER_INFO", "serverTimeStamp": "0",
                "customerInfo": {"customerInfo": {"customerId": "0", "companyBranch": "x".repeat(2000)}}}]});
        }
        if wants("summary") {
            entry["summary"] = json!({"text": "", "lastUpdatedTime": c.start_ms});
        }
        entry
    }
}

/// A conversation's records as Messaging Interactions lists them:
/// `messageRecords` (the main dialog's id written `"undefined"`, as the
/// documentation's example does), `messageStatuses` (one per message a
/// receipt acknowledges), `agentParticipants`, `consumerParticipants`.
fn interactions_lists(
    conversation_id: &str,
    records: &[Value],
    seq_as_string: bool,
) -> Vec<(&'static str, Vec<Value>)> {
    let seq_of = |seq: i64| -> Value {
        if seq_as_string {
            seq.to_string().into()
        } else {
            seq.into()
        }
    };
    let dialog = |r: &Value| match r["dialogId"].as_str() {
        Some(d) if d != conversation_id => d.to_owned(),
        _ => "undefined".to_owned(),
    };
    let mut messages = Vec::new();
    let mut statuses = Vec::new();
    let mut agents: BTreeMap<String, Value> = BTreeMap::new();
    let mut consumers: BTreeMap<String, Value> = BTreeMap::new();
    let mut sorted: Vec<&Value> = records.iter().collect();
    sorted.sort_by_key(|r| (r["sequence"].as_i64().is_none(), r["sequence"].as_i64()));
    for r in sorted {
        let who = r["originatorId"].as_str().unwrap_or_default();
        let role = r["originatorMetadata"]["role"].as_str().unwrap_or("AGENT");
        let consumer = role == "CONSUMER";
        if consumer {
            consumers.entry(who.to_owned()).or_insert_with(|| {
                json!({"participantId": who, "firstName": "Visitor",
                    "lastName": who.get(..4).unwrap_or(who), "consumerName": "Visitor",
                    "email": "undefined", "token": "undefined"})
            });
        } else if !who.is_empty() {
            agents.entry(who.to_owned()).or_insert_with(|| {
                let bot = role == "CONTROLLER";
                let permission = match role {
                    "READER" | "MANAGER" | "ASSIGNED_AGENT" => role,
                    _ => "ASSIGNED_AGENT",
                };
                json!({"agentId": who, "agentLoginName": format!("{who}@sim"),
                    "userTypeName": if bot { "Bot" } else { "Human" },
                    "userType": if bot { "2" } else { "1" },
                    "role": if bot { "AGENT" } else { role }, "permission": permission})
            });
        }
        let ev = &r["event"];
        let time = r["serverTimestamp"].clone();
        let party = if consumer { "Consumer" } else { "Agent" };
        if let Some(seq) = r["sequence"].as_i64() {
            let (kind, data) = match (ev["type"].as_str(), ev["contentType"].as_str()) {
                (Some("RichContentEvent"), _) => (
                    "RICH_CONTENT",
                    json!({"richContent": {"content": ev["content"]}}),
                ),
                (_, Some("text/html")) => ("TEXT_HTML", json!({"msg": {"text": ev["message"]}})),
                (_, Some("hosted/file")) => {
                    let image = matches!(
                        ev["message"]["fileType"].as_str(),
                        Some("JPG" | "PNG" | "GIF")
                    );
                    (
                        if image { "IMG" } else { "HOSTED_FILE" },
                        json!({"file": ev["message"]}),
                    )
                }
                (_, Some("forms/secure-invitation")) => (
                    "SECURE_FORM_INVITATION",
                    json!({"secureForm": {"invitationId": ev["message"]["invitationId"], "formName": ev["message"]["title"]}}),
                ),
                (_, Some("forms/secure-submission")) => (
                    "SECURE_FORM_SUBMIT",
                    json!({"secureForm": {"invitationId": ev["message"]["invitationId"]}}),
                ),
                (_, None | Some("text/plain")) => {
                    ("TEXT_PLAIN", json!({"msg": {"text": ev["message"]}}))
                }
                // A type the documentation does not list: as it is.
                (_, Some(other)) => (other, ev["message"].clone()),
            };
            let audience = r["audience"].as_str().unwrap_or("ALL");
            messages.push(json!({"type": kind, "messageData": data,
                "messageId": format!("ms::conv:{conversation_id}::msg:{seq}"), "seq": seq_of(seq),
                "dialogId": dialog(r), "participantId": who, "timeL": time, "sentBy": party,
                "audience": audience, "source": "APP", "device": "undefined"}));
        } else if let Some(bad) = r.get("sequence") {
            // A record no converter can read stays unreadable here.
            messages.push(json!({"type": "TEXT_PLAIN", "messageData": {"msg": {"text": ev["message"]}},
                "seq": bad, "dialogId": dialog(r), "participantId": who, "timeL": time, "sentBy": party}));
        } else if ev["type"] == "AcceptStatusEvent" {
            for seq in ev["sequenceList"].as_array().into_iter().flatten() {
                statuses.push(
                    json!({"messageId": format!("ms::conv:{conversation_id}::msg:{seq}"),
                    "seq": seq.as_i64().map_or_else(|| seq.clone(), seq_of), "timeL": time, "participantId": who, "participantType": party,
                    "messageDeliveryStatus": ev["status"], "dialogId": dialog(r)}),
                );
            }
        }
    }
    vec![
        ("messageRecords", messages),
        ("messageStatuses", statuses),
        ("agentParticipants", agents.into_values().collect()),
        ("consumerParticipants", consumers.into_values().collect()),
    ]
}

/// Text messages that arrive in an OPEN conversation after it was fetched.
fn grow(rng: &mut Rng, id: &str, base: &[Value], n: usize) -> Vec<Value> {
    let next_seq = base
        .iter()
        .filter_map(|r| r["sequence"].as_i64())
        .max()
        .map_or(0, |s| s + 1);
    let consumer = base
        .iter()
        .find(|r| r["originatorMetadata"]["role"] == "CONSUMER")
        .and_then(|r| r["originatorId"].as_str())
        .unwrap_or("consumer")
        .to_owned();
    (0..n)
        .map(|k| {
            let (who, role) = if rng.chance(50) { (consumer.as_str(), "CONSUMER") } else { ("growth-agent", "ASSIGNED_AGENT") };
            json!({
                "sequence": next_seq + k as i64,
                "dialogId": id,
                "originatorId": who,
                "serverTimestamp": 0,
                "originatorMetadata": {"id": who, "role": role},
                "event": {"type": "ContentEvent", "contentType": "text/plain", "message": format!("follow-up {k} ✉️")},
            })
        })
        .collect()
}

/// An activity delivered to the simulated hub.
#[derive(Debug, Clone, Serialize)]
pub struct Delivered {
    /// The activity as the hub returns it (eventId assigned by the hub).
    pub activity: Value,
    /// Which inbound path it came by: `customer` or `business`.
    pub path: &'static str,
    /// When Get Activities starts to show it (epoch ms).
    pub visible_ms: i64,
    /// When the hub took it (epoch ms).
    pub received_ms: i64,
}

/// One established Hubster conversation.
#[derive(Debug, Default)]
pub struct HubConversation {
    pub binding: String,
    pub integration_id: String,
    /// When it was established (epoch ms).
    pub opened_ms: i64,
    pub activities: Vec<Delivered>,
    pub external_ids: HashSet<String>,
    pub last_event_id: i64,
    /// The last agent or bot that wrote (whom a customer's message goes to).
    pub last_business: Option<Value>,
}

/// The integration types and channels the simulated hub knows its
/// integrations by: convsync's default mapping's.
pub fn known_integration(id: &str) -> Option<(IntegrationType, String)> {
    let all = crate::format::mapping::Integrations::default();
    IntegrationType::SENDERS.into_iter().find_map(|t| {
        let i = all.get(t);
        (i.integration_id == id).then(|| (t, i.channel_type.clone()))
    })
}

/// What the engine adds to an inbound activity it stores (only where the
/// post did not say): the sender's type and channel (the customer path's
/// sender is the integration that established the conversation), the
/// recipient (a customer's message goes to the last agent or bot that
/// wrote, else an agent; a business one to the customer), the trigger, an
/// interactionId for a message, `isEcho` and `flowProcess`.
fn enrich(conv: &HubConversation, activity: &mut Value, path: &str, interaction_id: String) {
    let Some(a) = activity.as_object_mut() else {
        return;
    };
    let customer = || {
        let channel = known_integration(&conv.integration_id).map_or("Direct".into(), |k| k.1);
        json!({"integrationId": conv.integration_id, "integrationType": "Customer", "channelType": channel})
    };
    let sender = a.entry("sender").or_insert_with(|| json!({}));
    if let Some(s) = sender.as_object_mut() {
        if path == "customer" {
            s.entry("integrationId")
                .or_insert_with(|| conv.integration_id.clone().into());
        }
        let id = s
            .get("integrationId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let known = known_integration(&id);
        s.entry("integrationType").or_insert_with(|| {
            match (path, &known) {
                ("customer", _) => "Customer",
                (_, Some((t, _))) => t.as_str(),
                _ => "Agent",
            }
            .into()
        });
        s.entry("channelType")
            .or_insert_with(|| known.map_or("Direct".into(), |k| k.1).into());
    }
    let sender_type = a["sender"]["integrationType"]
        .as_str()
        .unwrap_or("Agent")
        .to_ascii_lowercase();
    if !a.contains_key("recipient") {
        let recipient = if path == "customer" {
            conv.last_business.clone().unwrap_or_else(|| {
                let i = crate::format::mapping::Integrations::default();
                json!({"integrationId": i.agent.integration_id, "integrationType": "Agent",
                    "channelType": i.agent.channel_type})
            })
        } else {
            customer()
        };
        a.insert("recipient".into(), recipient);
    }
    let kind = a
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message")
        .to_owned();
    a.entry("eventTrigger")
        .or_insert_with(|| format!("{kind}:{sender_type}").into());
    if kind == "message" {
        a.entry("interactionId")
            .or_insert_with(|| interaction_id.into());
    }
    a.entry("isEcho").or_insert(false.into());
    a.entry("flowProcess").or_insert("Default".into());
}

/// The Hubster side.
#[derive(Debug, Default)]
pub struct Hub {
    /// By Hubster conversation id.
    pub conversations: BTreeMap<String, HubConversation>,
    /// binding -> Hubster conversation id.
    pub bindings: HashMap<String, String>,
    pub delivered: u64,
    pub duplicates: u64,
    /// Activities the hub's own bot added, answering customer messages.
    pub bot_answers: u64,
    next_id: u64,
}

impl Hub {
    /// The conversation for a binding, created if new. `(id, is_new)`.
    pub fn establish(&mut self, binding: &str, integration_id: &str) -> (String, bool) {
        if let Some(id) = self.bindings.get(binding) {
            return (id.clone(), false);
        }
        self.next_id += 1;
        let id = format!("00000000-0000-4000-8000-{:012x}", self.next_id);
        self.bindings.insert(binding.to_owned(), id.clone());
        self.conversations.insert(
            id.clone(),
            HubConversation {
                binding: binding.to_owned(),
                integration_id: integration_id.to_owned(),
                opened_ms: now_ms(),
                ..Default::default()
            },
        );
        (id, true)
    }

    /// Stores an inbound activity as the engine would (see [`enrich`]); the
    /// hub assigns its eventId (and `interaction_id`, for a message that
    /// has none). Returns the stored activity.
    pub fn deliver(
        &mut self,
        conversation_id: &str,
        activity: Value,
        path: &'static str,
        interaction_id: String,
    ) -> Option<Value> {
        self.deliver_visible_after(conversation_id, activity, path, interaction_id, 0)
    }

    /// As [`deliver`](Self::deliver), shown by Get Activities only `lag_ms`
    /// after it is stored.
    pub fn deliver_visible_after(
        &mut self,
        conversation_id: &str,
        mut activity: Value,
        path: &'static str,
        interaction_id: String,
        lag_ms: i64,
    ) -> Option<Value> {
        let conv = self.conversations.get_mut(conversation_id)?;
        enrich(conv, &mut activity, path, interaction_id);
        if path == "business" {
            conv.last_business = Some(activity["sender"].clone());
        }
        let event_id = now_ms().max(conv.last_event_id + 1);
        conv.last_event_id = event_id;
        activity["eventId"] = event_id.into();
        if let Some(ext) = activity["externalId"].as_str()
            && !conv.external_ids.insert(ext.to_owned())
        {
            self.duplicates += 1;
        }
        self.delivered += 1;
        conv.activities.push(Delivered {
            activity: activity.clone(),
            path,
            // (Real time: an eventId may run ahead of the clock.)
            visible_ms: now_ms() + lag_ms,
            received_ms: now_ms(),
        });
        Some(activity)
    }

    /// The hub's own bot answers a customer message in `conversation_id`
    /// (as a hub whose routing sends customer messages to a bot does with
    /// replayed history): an activity of its own, with no externalId.
    pub fn bot_answers(&mut self, conversation_id: &str, to: &Value, interaction_id: String) {
        let Some(conv) = self.conversations.get_mut(conversation_id) else {
            return;
        };
        let said = to["message"]["text"].as_str().unwrap_or("your message");
        let mut activity = json!({"type": "message", "eventTrigger": "message:bot",
            "sender": {"integrationId": SIM_HUB_BOT, "integrationType": "Bot", "channelType": "Bot"},
            "message": {"type": "text",
                "text": format!("Thanks for writing \"{}\". How can I help?", said.chars().take(40).collect::<String>())}});
        enrich(conv, &mut activity, "business", interaction_id);
        let event_id = now_ms().max(conv.last_event_id + 1);
        conv.last_event_id = event_id;
        activity["eventId"] = event_id.into();
        let visible_ms = conv.activities.last().map_or_else(now_ms, |d| d.visible_ms);
        conv.activities.push(Delivered {
            activity,
            path: "business",
            visible_ms,
            received_ms: now_ms(),
        });
        self.bot_answers += 1;
    }
}

/// The integration id of the simulated hub's own bot.
pub const SIM_HUB_BOT: &str = "00000000-0000-4000-b000-00000000b07a";
