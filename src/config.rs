//! The configuration file. Each section owns its struct, with
//! `deny_unknown_fields`, a doc on every field and a named default; a bad file
//! is an error that names the file, the key and the line.

use crate::format::hubster::IntegrationType;
use crate::platform::hubster::HubsterConfig;
use crate::platform::liveperson::LivePersonConfig;
use crate::sync::daemon::SyncConfig;
use crate::sync::migrate::MigrationConfig;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole file. Sections not given take their defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How records map between the platforms (`[mapping]`).
    #[serde(default)]
    pub mapping: Mapping,
    /// The LivePerson account read from (`[liveperson]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveperson: Option<LivePersonConfig>,
    /// The Hubster engine written to (`[hubster]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hubster: Option<HubsterConfig>,
    /// The daemon (`[sync]`).
    #[serde(default)]
    pub sync: SyncConfig,
    /// Migrations (`[[migration]]`), run by `convsync migrate NAME`.
    #[serde(default, rename = "migration", skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<MigrationConfig>,
}

impl Config {
    /// `[liveperson]`, or an error saying it is missing.
    pub fn liveperson(&self) -> Result<&LivePersonConfig, String> {
        self.liveperson.as_ref().ok_or_else(|| {
            "the config has no [liveperson] section (see README, \"Configuration\")".into()
        })
    }

    /// `[hubster]`, or an error saying it is missing.
    pub fn hubster(&self) -> Result<&HubsterConfig, String> {
        self.hubster.as_ref().ok_or_else(|| {
            "the config has no [hubster] section (see README, \"Configuration\")".into()
        })
    }
}

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

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {key}{message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses config text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0).min(text.len());
            let line = text[..offset].matches('\n').count() + 1;
            let column = offset - text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
            let key_path = key_at(text, line);
            let key = key_path
                .as_ref()
                .map(|k| format!("key `{k}`: "))
                .unwrap_or_default();
            let mut message = e.message().trim().to_owned();
            // A migration's source or target names its platform by a tag.
            if key_path.as_deref().is_some_and(|k| {
                k.starts_with("migration.source") || k.starts_with("migration.target")
            }) && message.starts_with("unknown variant")
            {
                message = message.replacen("unknown variant", "unknown platform", 1);
            }
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                key,
                message,
            }
        })?;
        // What one section needs of the others.
        if let Some(p) = crate::sync::migrate::config::check(&config)
            .into_iter()
            .next()
        {
            let (line, column) = crate::sync::migrate::config::locate(text, p.index, p.key);
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                key: format!("key `migration.{}`: ", p.key),
                message: p.message,
            });
        }
        Ok(config)
    }
}

/// The dotted key whose value sits on (or, for a multi-line value, began
/// before) line `line` (1-based), under the nearest `[table]` header.
fn key_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let upto = &lines[..line.min(lines.len())];
    let mut key = None;
    let mut table = None;
    for l in upto.iter().rev() {
        let t = l.trim();
        if t.starts_with('[') {
            let name = t
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim();
            table = Some(name.to_owned());
            break;
        }
        if key.is_none()
            && !t.starts_with('#')
            && let Some((k, _)) = t.split_once('=')
        {
            key = Some(k.trim().trim_matches('"').to_owned());
        }
    }
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses() {
        let text = include_str!("../config.toml");
        let c = Config::parse(text, Path::new("config.toml")).unwrap();
        assert_eq!(c.mapping.roles["CONTROLLER"], IntegrationType::Bot);
    }

    #[test]
    fn roles_merge_over_defaults_case_insensitively() {
        let c = Config::parse(
            "[mapping.roles]\nsurveyor = \"Bot\"\nAGENT = \"Bot\"\n",
            Path::new("c"),
        )
        .unwrap();
        assert_eq!(c.mapping.roles["SURVEYOR"], IntegrationType::Bot);
        assert_eq!(c.mapping.roles["AGENT"], IntegrationType::Bot);
        assert_eq!(c.mapping.roles["CONSUMER"], IntegrationType::Customer);
    }

    #[test]
    fn bad_value_names_file_key_and_line() {
        let text = "# c\n[mapping]\nkeep_previews = true\nunknown_role = \"maybe\"\n";
        let e = Config::parse(text, Path::new("/etc/c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/etc/c.toml:4:"), "{e}");
        assert!(e.contains("mapping.unknown_role"), "{e}");
        assert!(e.contains("maybe"), "{e}");
    }

    #[test]
    fn unknown_key_is_named() {
        let text = "[mapping]\nkeep_preview = true\n";
        let e = Config::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml:2:"), "{e}");
        assert!(e.contains("keep_preview"), "{e}");
    }

    #[test]
    fn empty_integration_id_is_rejected() {
        let text = "[mapping.integrations.agent]\nintegration_id = \"\"\n";
        let e = Config::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("mapping.integrations.agent.integration_id"),
            "{e}"
        );
        assert!(e.contains("must not be empty"), "{e}");
    }
}
