//! The configuration file. Each section owns its struct, with
//! `deny_unknown_fields`, a doc on every field and a named default; a bad file
//! is an error that names the file, the key and the line.
//!
//! This module assembles the sections and locates errors; each component
//! owns its own section ([`Mapping`] in `format`, [`LivePersonConfig`] and
//! [`HubsterConfig`] in `platform`, `http` settings in `http`). The jobs'
//! sections, which name several components, live here: [`sync`] and
//! [`migration`] (with the checks that need more than one section).

pub mod migration;
pub mod sync;

pub use migration::MigrationConfig;
pub use sync::{SinkConfig, SyncConfig};

use crate::format::Mapping;
use crate::platform::hubster::HubsterConfig;
use crate::platform::liveperson::LivePersonConfig;
use serde::{Deserialize, Serialize};
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
    pub fn liveperson(&self) -> Result<&LivePersonConfig, MissingSection> {
        self.liveperson.as_ref().ok_or(MissingSection("liveperson"))
    }

    /// `[hubster]`, or an error saying it is missing.
    pub fn hubster(&self) -> Result<&HubsterConfig, MissingSection> {
        self.hubster.as_ref().ok_or(MissingSection("hubster"))
    }
}

/// A section a command needs is not in the config.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the config has no [{0}] section (see docs/configuration.md)")]
pub struct MissingSection(pub &'static str);

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
            let key = key_at(text, line)
                .as_ref()
                .map(|k| format!("key `{k}`: "))
                .unwrap_or_default();
            let message = e.message().trim().to_owned();
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                key,
                message,
            }
        })?;
        // What one section needs of the others.
        if let Some(p) = migration::check(&config).into_iter().next() {
            let (line, column) = migration::locate(text, p.index, p.key);
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
    use crate::format::hubster::IntegrationType;

    #[test]
    fn shipped_config_parses() {
        let text = include_str!("../../config.toml");
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
