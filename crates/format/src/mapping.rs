//! `[mapping]`: the conversion settings (the tunables of `spec/mapping.md`).
//! Every key is optional; the defaults are the contract's.

use crate::hubster::IntegrationType;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// `[mapping]`: the conversion contract's tunables (see README, "Mapping").
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mapping {
    /// LivePerson `originatorMetadata.role` -> Hubster integration type.
    /// Entries here are added to (or replace) the defaults; roles match
    /// case-insensitively.
    #[serde(deserialize_with = "roles_over_defaults")]
    pub roles: BTreeMap<String, IntegrationType>,
    /// Hubster integration type -> LivePerson role, for Hubster -> LivePerson.
    pub reverse_roles: ReverseRoles,
    /// LivePerson originatorIds that are bots whatever their role.
    pub bot_originators: Vec<String>,
    /// The Hubster integration (id, channel type) that stands for each side.
    pub integrations: Integrations,
    /// Prefix for `hosted/file` `relativePath`s to make the URL Hubster gets.
    pub file_base_url: String,
    /// Keep `hosted/file` base64 previews in the provenance metadata.
    pub keep_previews: bool,
    /// What a record whose role is not in `roles` becomes.
    pub unknown_role: UnknownRole,
    /// Drop Hubster activities with no LivePerson equivalent instead of
    /// carrying them as `hubster/activity` content.
    pub drop_unmapped: bool,
    /// The side whose integration establishes a Hubster conversation
    /// (Hubster documents establishing as the customer's act).
    pub establish_with: IntegrationType,
    /// Carry a copy of the original with each converted item (LivePerson
    /// `channels` metadata on Hubster messages, `hubsterActivity` on
    /// LivePerson records), so that a round trip gives it back exactly.
    /// Off, exports are about half the size and round trips keep what a
    /// person sees, not every field.
    pub keep_original: bool,
    /// What a private message becomes (LivePerson `audience`
    /// `AGENTS_AND_MANAGERS`: agents and managers only): never an ordinary
    /// message, which the hub would route towards the customer.
    pub private_messages: PrivateMessages,
    /// What a LivePerson chat state (typing and the like) becomes: Hubster
    /// documents only `payload` events as supported, so never, by default,
    /// an event of another type.
    pub unsupported_events: UnsupportedEvents,
}

/// `unsupported_events`: `payload` (the default: carried whole as a
/// `liveperson.event` payload event, the one event type Hubster documents
/// as supported; a round trip gives it back), `skip` (left out) or `post`
/// (COMPOSING and PAUSE as Hubster's `typing_on`/`typing_off`, for engines
/// that take them). Each is counted and reported as `unsupported_event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnsupportedEvents {
    #[default]
    Payload,
    Skip,
    Post,
}

/// `private_messages`: `skip` (leave it out, counted and reported; the
/// default) or `event` (a `liveperson.private-message` payload event
/// carrying the record, for hubs whose integrations ignore payloads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PrivateMessages {
    #[default]
    Skip,
    Event,
}

impl Default for Mapping {
    fn default() -> Self {
        Mapping {
            roles: default_roles(),
            reverse_roles: ReverseRoles::default(),
            bot_originators: Vec::new(),
            integrations: Integrations::default(),
            file_base_url: String::new(),
            keep_previews: true,
            unknown_role: UnknownRole::Agent,
            drop_unmapped: false,
            establish_with: IntegrationType::Customer,
            keep_original: true,
            private_messages: PrivateMessages::Skip,
            unsupported_events: UnsupportedEvents::Payload,
        }
    }
}

/// `unknown_role`: `agent` (map to Agent, with a warning), `skip` (leave the
/// record out, with a warning) or `error` (fail the conversation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownRole {
    Agent,
    Skip,
    Error,
}

pub fn default_roles() -> BTreeMap<String, IntegrationType> {
    use IntegrationType::*;
    [
        ("CONSUMER", Customer),
        ("AGENT", Agent),
        ("ASSIGNED_AGENT", Agent),
        ("MANAGER", Agent),
        ("READER", Agent),
        ("CONTROLLER", Bot),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn roles_over_defaults<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, IntegrationType>, D::Error> {
    let given = BTreeMap::<String, IntegrationType>::deserialize(d)?;
    let mut roles = default_roles();
    for (k, v) in given {
        roles.insert(k.to_ascii_uppercase(), v);
    }
    Ok(roles)
}

/// `[mapping.reverse_roles]`: the LivePerson role each Hubster integration
/// type becomes; `"skip"` leaves that sender's activities out.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReverseRoles {
    #[serde(rename = "Customer")]
    pub customer: String,
    #[serde(rename = "Agent")]
    pub agent: String,
    #[serde(rename = "Bot")]
    pub bot: String,
    #[serde(rename = "System")]
    pub system: String,
}

impl Default for ReverseRoles {
    fn default() -> Self {
        ReverseRoles {
            customer: "CONSUMER".into(),
            agent: "ASSIGNED_AGENT".into(),
            bot: "AGENT".into(),
            system: SKIP.into(),
        }
    }
}

/// The reverse-role value that leaves a sender out.
pub const SKIP: &str = "skip";

impl ReverseRoles {
    /// The LivePerson role for a Hubster integration type; `None` = skip.
    pub fn role_for(&self, t: IntegrationType) -> Option<&str> {
        let r = match t {
            IntegrationType::Customer => &self.customer,
            IntegrationType::Agent => &self.agent,
            IntegrationType::Bot => &self.bot,
            IntegrationType::System => &self.system,
        };
        (r != SKIP).then_some(r.as_str())
    }
}

/// `[mapping.integrations.<customer|agent|bot>]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Integrations {
    pub customer: Integration,
    pub agent: Integration,
    pub bot: Integration,
}

impl Default for Integrations {
    fn default() -> Self {
        Integrations {
            customer: Integration::new("00000000-0000-0000-0000-000000000001", "Direct"),
            agent: Integration::new("00000000-0000-0000-0000-000000000002", "Direct"),
            bot: Integration::new("00000000-0000-0000-0000-000000000003", "Bot"),
        }
    }
}

impl Integrations {
    pub fn get(&self, t: IntegrationType) -> &Integration {
        match t {
            IntegrationType::Customer => &self.customer,
            IntegrationType::Agent | IntegrationType::System => &self.agent,
            IntegrationType::Bot => &self.bot,
        }
    }
}

/// One Hubster integration: its id (names the integration, not a person) and
/// channel type.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    #[serde(deserialize_with = "non_empty")]
    pub integration_id: String,
    #[serde(default = "direct", deserialize_with = "non_empty")]
    pub channel_type: String,
}

impl Integration {
    fn new(id: &str, channel: &str) -> Self {
        Integration {
            integration_id: id.into(),
            channel_type: channel.into(),
        }
    }
}

fn direct() -> String {
    "Direct".into()
}

fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(serde::de::Error::custom("must not be empty"));
    }
    Ok(s)
}
