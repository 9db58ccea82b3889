//! `init`: a commented starting config for a real account: the brand's app
//! key and the Hubster client as systemd credentials, `[sync]` at its
//! defaults. What only the operator knows is a placeholder
//! ([`PLACEHOLDER`]) that `doctor` names until it is filled in.

use std::io::Write;
use std::path::Path;

/// How a value `init` leaves to the operator begins.
pub const PLACEHOLDER: &str = "<fill in";

/// Whether a config value is still `init`'s placeholder.
pub fn is_placeholder(value: &str) -> bool {
    value.trim_start().starts_with(PLACEHOLDER)
}

/// The starting config for one account. `instance` names the account's
/// instance of `convsync@.service` (its credentials under
/// `/etc/convsync/credentials/<instance>/`); without one, the single
/// `convsync.service` (`/etc/convsync/credentials/`).
pub fn config_text(instance: Option<&str>) -> String {
    config_text_listening(instance, DEFAULT_METRICS_PORT)
}

/// The metrics port of the single unit, and the first an instance may take.
pub const DEFAULT_METRICS_PORT: u16 = 9187;

/// The first metrics port from [`DEFAULT_METRICS_PORT`] that no config in
/// `dir` (`*.toml`, as `/etc/convsync` holds one per instance) listens on:
/// instances side by side share nothing, a port neither.
pub fn free_metrics_port(dir: &Path) -> u16 {
    let mut taken = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(doc) = text.parse::<toml::Table>() else {
            continue;
        };
        let listen = doc
            .get("sync")
            .and_then(|s| s.get("metrics_listen"))
            .and_then(toml::Value::as_str);
        // A config without the key listens on the default.
        let port = match listen {
            None => Some(DEFAULT_METRICS_PORT),
            Some(l) => l.rsplit_once(':').and_then(|(_, p)| p.parse().ok()),
        };
        taken.extend(port);
    }
    (DEFAULT_METRICS_PORT..=u16::MAX)
        .find(|p| !taken.contains(p))
        .unwrap_or(DEFAULT_METRICS_PORT)
}

/// [`config_text`] with the metrics endpoint on `metrics_port`.
pub fn config_text_listening(instance: Option<&str>, metrics_port: u16) -> String {
    let (unit, creds, config) = match instance {
        Some(i) => (
            format!("convsync@{i}.service"),
            format!("/etc/convsync/credentials/{i}"),
            format!("/etc/convsync/{i}.toml"),
        ),
        None => (
            "convsync.service".to_owned(),
            "/etc/convsync/credentials".to_owned(),
            "/etc/convsync/config.toml".to_owned(),
        ),
    };
    format!(
        r#"# convsync: one LivePerson account synced into a Hubster hub.
# Written by `convsync init`; every key and its default: docs/configuration.md.
#
# 1. Fill in each "{PLACEHOLDER} ..." value below.
# 2. Put each secret in a file of its own (mode 0600) under
#    {creds}/, named as below (lp-consumer-key, lp-consumer-secret,
#    lp-token, lp-token-secret, hubster-client-secret); {unit} hands them
#    to convsync as systemd credentials.
# 3. Check it against the platforms (read-only):
#      sudo CREDENTIALS_DIRECTORY={creds} convsync --config {config} doctor
# 4. systemctl enable --now {unit}

[liveperson]
# The account (site) id, digits.
account = "{PLACEHOLDER}: your LivePerson account id>"
# Your caller id, at most 20 characters: LivePerson throttles per source.
source = "convsync"
# transcripts = "auto"  # a brand's app key reads Messaging Interactions

# The brand's app key (OAuth 1.0a), created in LivePerson's API key
# management with read access to Messaging Interactions: its four values,
# each a file under the credentials directory above.
[liveperson.auth]
consumer_key = {{ credential = "lp-consumer-key" }}
consumer_secret = {{ credential = "lp-consumer-secret" }}
token = {{ credential = "lp-token" }}
token_secret = {{ credential = "lp-token-secret" }}

[hubster]
# The engine API client: hubster.engine.api.<hex>.
client_id = "{PLACEHOLDER}: your Hubster engine client id>"
client_secret = {{ credential = "hubster-client-secret" }}
# identity_url = "https://identity.hubster.io"
# engine_url = "https://engine.hubster.io"
# direct_url = "https://direct.hubster.io"

# The hub's integrations each side of a conversation posts as (the
# customer's establishes the conversation). Point them at integrations
# whose bots and agents do not answer replayed history.
[mapping.integrations.customer]
integration_id = "{PLACEHOLDER}: the customer-side integration id>"
channel_type = "Direct"
[mapping.integrations.agent]
integration_id = "{PLACEHOLDER}: the agent-side integration id>"
channel_type = "Direct"
[mapping.integrations.bot]
integration_id = "{PLACEHOLDER}: the bot-side integration id>"
channel_type = "Bot"

[sync]
# Conversations neither started nor updated since then are not synced
# (default: 30 days before the first run). YYYY-MM-DD.
# since = "2026-01-01"
poll_interval_secs = 30
concurrency = 8
retry_budget = 5
# Each instance on a machine listens on a port of its own.
metrics_listen = "127.0.0.1:{metrics_port}"
# state_dir: the unit's StateDirectory (/var/lib/convsync/...).
"#
    )
}

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0} exists: convsync init never overwrites a config (remove it, or write elsewhere)")]
    Exists(std::path::PathBuf),
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// The config `init` writes for `instance` into `dir`: an instance's
/// metrics port is one no other config there takes.
pub fn config_text_for(instance: Option<&str>, dir: &Path) -> String {
    match instance {
        Some(_) => config_text_listening(instance, free_metrics_port(dir)),
        None => config_text(None),
    }
}

/// Writes the starting config to `path`, refusing a path that exists.
pub fn write(path: &Path, instance: Option<&str>) -> Result<(), InitError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let text = config_text_for(instance, dir);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => InitError::Exists(path.to_owned()),
            _ => InitError::Write {
                path: path.to_owned(),
                source,
            },
        })?;
    f.write_all(text.as_bytes())
        .map_err(|source| InitError::Write {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_starting_config_parses_and_its_placeholders_are_marked() {
        for instance in [None, Some("brand-a")] {
            let text = config_text(instance);
            let config = Config::parse(&text, Path::new("init.toml")).unwrap();
            let lp = config.liveperson.unwrap();
            assert!(is_placeholder(&lp.account));
            assert!(!is_placeholder(&lp.source));
            assert!(is_placeholder(&config.hubster.unwrap().client_id));
            assert!(is_placeholder(
                &config.mapping.integrations.customer.integration_id
            ));
        }
        assert!(config_text(Some("brand-a")).contains("/etc/convsync/credentials/brand-a"));
    }

    #[test]
    fn an_instance_takes_a_metrics_port_no_config_beside_it_takes() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(format!("{name}.toml"));
        // Writes the instance's config; its metrics_listen.
        let init = |name: &str| {
            write(&path(name), Some(name)).unwrap();
            let text = std::fs::read_to_string(path(name)).unwrap();
            Config::parse(&text, &path(name))
                .unwrap()
                .sync
                .metrics_listen
        };
        // Alone in its directory, the first instance has the default port.
        assert_eq!(init("brand-a"), "127.0.0.1:9187");
        assert_eq!(init("brand-b"), "127.0.0.1:9188");
        // A port an operator chose is skipped too.
        let text = std::fs::read_to_string(path("brand-a"))
            .unwrap()
            .replace("127.0.0.1:9187", "0.0.0.0:9189");
        std::fs::write(path("brand-a"), text).unwrap();
        assert_eq!(init("brand-c"), "127.0.0.1:9187");
        assert_eq!(init("brand-d"), "127.0.0.1:9190");
    }
}
