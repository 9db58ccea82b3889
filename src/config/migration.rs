//! `[[migration]]`: what a migration reads, what it writes, which
//! conversations, and any mapping overrides. Checked once the whole file is
//! read, so that errors can name the other sections it needs.

use crate::clock::DateError;
use crate::config::Config;
use crate::format::Mapping;
use crate::platform::files;
pub use crate::platform::files::Format;
use crate::platform::liveperson::MAX_WINDOW_MS;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// One `[[migration]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationConfig {
    /// What `convsync migrate NAME` calls it: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// Where conversations come from.
    pub source: Endpoint,
    /// Where they go.
    pub target: Endpoint,
    /// LivePerson API source: conversations started at or after this.
    /// Hubster API source: conversations opened at or after this (when the
    /// hub says). YYYY-MM-DD, RFC 3339 or epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// ... and at or before this (default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Only these conversations (source ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conversation_ids: Vec<String>,
    /// Only the conversations listed in this file, one id a line (`#`
    /// comments and blank lines allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_ids_file: Option<PathBuf>,
    /// Width of each LivePerson search window, in days: at most 90
    /// (LivePerson rejects windows wider than 3 months).
    #[serde(default = "default_window_days")]
    pub window_days: u32,
    /// The name its checkpoints are kept under (default: the migration's
    /// name). Two jobs with one name never deliver an activity twice: the
    /// daemon's default pipeline is `liveperson-to-hubster`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// Overrides of `[mapping]` for this migration only (same keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<toml::Table>,
}

fn default_window_days() -> u32 {
    (MAX_WINDOW_MS / DAY_MS) as u32
}

/// A migration's source or target: `{ platform = "liveperson" }`,
/// `{ platform = "hubster" }`, `{ platform = "files", dir = "...", format =
/// "liveperson" | "hubster" }` or `{ platform = "stdout" }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "platform", rename_all = "lowercase", deny_unknown_fields)]
pub enum Endpoint {
    /// The LivePerson Messaging History API (`[liveperson]`); a source only.
    Liveperson {},
    /// The Hubster engine (`[hubster]`).
    Hubster {},
    /// A directory, one file per conversation: LivePerson JSON
    /// (`<id>.json`, `{"messageEventRecords": [...]}`) or Hubster
    /// activities (`<id>.jsonl`, one activity a line).
    Files { dir: PathBuf, format: Format },
    /// Standard output, one JSON line per conversation; a target only. It
    /// keeps no checkpoints: every run prints everything.
    Stdout {},
}

/// The platforms an [`Endpoint`] may name.
const PLATFORMS: [&str; 4] = ["liveperson", "hubster", "files", "stdout"];

impl<'de> Deserialize<'de> for Endpoint {
    /// As the derived one would, but a platform convsync does not know is
    /// "unknown platform `x`" (the derived error says "variant").
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        #[serde(tag = "platform", rename_all = "lowercase", deny_unknown_fields)]
        enum Known {
            Liveperson {},
            Hubster {},
            Files { dir: PathBuf, format: Format },
            Stdout {},
        }
        let table = toml::Table::deserialize(d)?;
        if let Some(p) = table.get("platform").and_then(toml::Value::as_str)
            && !PLATFORMS.contains(&p)
        {
            let expected: Vec<String> = PLATFORMS.iter().map(|p| format!("`{p}`")).collect();
            return Err(D::Error::custom(format!(
                "unknown platform `{p}`, expected one of {}",
                expected.join(", ")
            )));
        }
        let known: Known = toml::Value::Table(table)
            .try_into()
            .map_err(D::Error::custom)?;
        Ok(match known {
            Known::Liveperson {} => Endpoint::Liveperson {},
            Known::Hubster {} => Endpoint::Hubster {},
            Known::Files { dir, format } => Endpoint::Files { dir, format },
            Known::Stdout {} => Endpoint::Stdout {},
        })
    }
}

impl Endpoint {
    /// The format of what it holds (`None`: stdout, which takes the other
    /// side's opposite).
    pub fn format(&self) -> Option<Format> {
        match self {
            Endpoint::Liveperson {} => Some(Format::Liveperson),
            Endpoint::Hubster {} => Some(Format::Hubster),
            Endpoint::Files { format, .. } => Some(*format),
            Endpoint::Stdout {} => None,
        }
    }

    /// A short description: `liveperson`, `hubster`, `files:./export (liveperson)`.
    pub fn describe(&self) -> String {
        match self {
            Endpoint::Liveperson {} => "liveperson".into(),
            Endpoint::Hubster {} => "hubster".into(),
            Endpoint::Files { dir, format } => format!(
                "files:{} ({})",
                dir.display(),
                match format {
                    Format::Liveperson => "liveperson",
                    Format::Hubster => "hubster",
                }
            ),
            Endpoint::Stdout {} => "stdout".into(),
        }
    }
}

/// A migration's selection that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    #[error("conversation_ids_file {}: {source}", path.display())]
    IdsFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("conversation_ids_file {} lists no conversation ids", path.display())]
    NoIds { path: PathBuf },
    #[error(transparent)]
    Date(#[from] DateError),
}

/// Which way a migration converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToHubster,
    ToLivePerson,
}

/// A migration config found wrong: the key (under `migration`) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The index of the `[[migration]]`.
    pub index: usize,
    /// The key under it, e.g. `source.platform`.
    pub key: &'static str,
    pub message: String,
}

impl MigrationConfig {
    /// Which way it converts (once [`check`] passed).
    pub fn direction(&self) -> Direction {
        match self.source.format() {
            Some(Format::Hubster) => Direction::ToLivePerson,
            _ => Direction::ToHubster,
        }
    }

    /// The checkpoint name.
    pub fn pipeline(&self) -> &str {
        self.pipeline.as_deref().unwrap_or(&self.name)
    }

    /// `since` in epoch ms (default: 13 months ago, LivePerson's retention).
    pub fn since_ms(&self, now: i64) -> Result<i64, DateError> {
        match &self.since {
            Some(s) => crate::clock::parse_date(s),
            None => Ok(now - 396 * DAY_MS),
        }
    }

    /// `until` in epoch ms (default: now).
    pub fn until_ms(&self, now: i64) -> Result<i64, DateError> {
        match &self.until {
            Some(s) => crate::clock::parse_date(s),
            None => Ok(now),
        }
    }

    /// The search window width in ms.
    pub fn window_ms(&self) -> i64 {
        i64::from(self.window_days) * DAY_MS
    }

    /// The ids the selection names (the list and the file), if any.
    pub fn selected_ids(&self) -> Result<Option<Vec<String>>, SelectionError> {
        let mut ids = self.conversation_ids.clone();
        if let Some(path) = &self.conversation_ids_file {
            ids.extend(
                files::read_id_list(path).map_err(|source| SelectionError::IdsFile {
                    path: path.clone(),
                    source,
                })?,
            );
            if ids.is_empty() {
                return Err(SelectionError::NoIds { path: path.clone() });
            }
        }
        if ids.is_empty() && self.conversation_ids_file.is_none() {
            return Ok(None);
        }
        let mut seen = std::collections::HashSet::new();
        ids.retain(|i| seen.insert(i.clone()));
        Ok(Some(ids))
    }

    /// `[mapping]` with this migration's overrides on top.
    pub fn mapping_over(&self, base: &Mapping) -> Result<Mapping, toml::de::Error> {
        let Some(over) = &self.mapping else {
            return Ok(base.clone());
        };
        let mut merged = match toml::Value::try_from(base) {
            Ok(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        };
        merge(&mut merged, over);
        Mapping::deserialize(toml::Value::Table(merged))
    }
}

fn merge(into: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (into.get_mut(k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Every problem of every `[[migration]]` in a parsed config.
pub fn check(config: &Config) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (index, m) in config.migrations.iter().enumerate() {
        let mut bad = |key: &'static str, message: String| {
            out.push(Problem {
                index,
                key,
                message,
            })
        };
        if m.name.is_empty()
            || !m
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            bad(
                "name",
                format!(
                    "{:?} is not a usable name: use letters, digits, '-', '_' and '.'",
                    m.name
                ),
            );
        } else if !names.insert(m.name.clone()) {
            bad(
                "name",
                format!("another migration is already called {:?}", m.name),
            );
        }
        let who = format!("migration {:?}", m.name);
        match &m.source {
            Endpoint::Liveperson {} if config.liveperson.is_none() => bad(
                "source.platform",
                format!(
                    "{who} reads from LivePerson, but the config has no [liveperson] section with its account and credentials"
                ),
            ),
            Endpoint::Hubster {} if config.hubster.is_none() => bad(
                "source.platform",
                format!(
                    "{who} reads from Hubster, but the config has no [hubster] section with its client_id and client_secret"
                ),
            ),
            Endpoint::Hubster {}
                if m.conversation_ids.is_empty()
                    && m.conversation_ids_file.is_none()
                    && config.hubster.as_ref().is_some_and(|h| h.hub_id.is_none()) =>
            {
                bad(
                    "source.platform",
                    format!(
                        "{who} reads from Hubster: give conversation_ids or conversation_ids_file, or set hubster.hub_id to list the hub's established conversations"
                    ),
                )
            }
            Endpoint::Stdout {} => bad(
                "source.platform",
                format!("{who}: stdout can only be a target"),
            ),
            _ => {}
        }
        match &m.target {
            Endpoint::Liveperson {} => bad(
                "target.platform",
                format!(
                    "{who}: LivePerson's history cannot be written to; write LivePerson JSON files instead: target = {{ platform = \"files\", dir = \"export\", format = \"liveperson\" }}"
                ),
            ),
            Endpoint::Hubster {} if config.hubster.is_none() => bad(
                "target.platform",
                format!(
                    "{who} writes to Hubster, but the config has no [hubster] section with its client_id and client_secret"
                ),
            ),
            _ => {}
        }
        if let (Some(a), Some(b)) = (m.source.format(), m.target.format())
            && a == b
        {
            bad(
                "target",
                format!(
                    "{who}: source and target are both in {} format: nothing to convert",
                    match a {
                        Format::Liveperson => "LivePerson",
                        Format::Hubster => "Hubster",
                    }
                ),
            );
        }
        if let Endpoint::Files { .. } = m.source {
            for (key, given) in [("since", m.since.is_some()), ("until", m.until.is_some())] {
                if given {
                    bad(
                        key,
                        format!(
                            "{who}: a files source has no time range; select its conversations with conversation_ids or conversation_ids_file (or take every file)"
                        ),
                    );
                }
            }
        }
        let max_days = (MAX_WINDOW_MS / DAY_MS) as u32;
        if m.window_days == 0 || m.window_days > max_days {
            bad(
                "window_days",
                format!(
                    "{who}: a {}-day search window is {}: LivePerson accepts windows of at most 3 months, so 1 to {max_days} days",
                    m.window_days,
                    if m.window_days == 0 {
                        "empty"
                    } else {
                        "wider than allowed"
                    }
                ),
            );
        }
        let now = crate::clock::now_ms();
        let since = m.since_ms(now);
        let until = m.until_ms(now);
        if let Err(e) = &since {
            bad("since", format!("{who}: {e}"));
        }
        if let Err(e) = &until {
            bad("until", format!("{who}: {e}"));
        }
        if let (Ok(s), Ok(u)) = (since, until)
            && u < s
        {
            bad("until", format!("{who}: until is before since"));
        }
        if let Err(e) = m.mapping_over(&config.mapping) {
            bad("mapping", format!("{who}: {e}"));
        }
    }
    out
}

/// Where a problem's key sits in the file: (line, column), 1-based. The
/// key's own line when it is written, else the `[[migration]]` header.
pub fn locate(text: &str, index: usize, key: &str) -> (usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let headers: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("[[migration]]"))
        .map(|(i, _)| i)
        .collect();
    let Some(&start) = headers.get(index) else {
        return (1, 1);
    };
    let end = lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .find(|(_, l)| {
            let t = l.trim_start();
            t.starts_with('[') && !t.starts_with("[migration.")
        })
        .map_or(lines.len(), |(i, _)| i);
    let (head, rest) = key.split_once('.').unwrap_or((key, ""));
    let starts = |l: &str, k: &str| {
        let t = l.trim_start();
        t.strip_prefix(k)
            .is_some_and(|r| r.trim_start().starts_with('=') || r.starts_with('.'))
    };
    let mut table = false;
    for (i, l) in lines.iter().enumerate().take(end).skip(start) {
        let t = l.trim_start();
        if t.starts_with('[') {
            table = t.starts_with(&format!("[migration.{head}]"));
            if table && rest.is_empty() {
                return (i + 1, 1);
            }
            continue;
        }
        let hit = if table {
            !rest.is_empty() && starts(l, rest)
        } else {
            starts(l, head)
        };
        if hit {
            return (i + 1, l.len() - t.len() + 1);
        }
    }
    (start + 1, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const PLATFORMS: &str = "[liveperson]\naccount = \"1\"\nsource = \"s\"\nauth = { bearer = { value = \"b\" } }\n\n[hubster]\nclient_id = \"c\"\nclient_secret = { value = \"x\" }\nhub_id = \"h\"\n\n";

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("m.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn good_migrations_parse() {
        let text = format!(
            "{PLATFORMS}[[migration]]\nname = \"a\"\nsource = {{ platform = \"liveperson\" }}\ntarget = {{ platform = \"hubster\" }}\nsince = \"2026-01-01\"\n\n[[migration]]\nname = \"b\"\nsource = {{ platform = \"hubster\" }}\ntarget = {{ platform = \"files\", dir = \"export\", format = \"liveperson\" }}\n[migration.mapping.reverse_roles]\nBot = \"CONTROLLER\"\n"
        );
        let c = parse(&text).unwrap();
        assert_eq!(c.migrations.len(), 2);
        assert_eq!(c.migrations[0].direction(), Direction::ToHubster);
        assert_eq!(c.migrations[1].direction(), Direction::ToLivePerson);
        let m = c.migrations[1].mapping_over(&c.mapping).unwrap();
        assert_eq!(m.reverse_roles.bot, "CONTROLLER");
        assert_eq!(m.reverse_roles.customer, "CONSUMER", "the rest stays");
        assert_eq!(c.migrations[0].window_days, 90);
    }

    #[test]
    fn bad_migrations_name_the_key() {
        let cases = [
            // (migration body, key, words in the message)
            (
                "source = { platform = \"zendesk\" }\ntarget = { platform = \"hubster\" }",
                "migration.source",
                "zendesk",
            ),
            (
                "source = { platform = \"liveperson\" }\ntarget = { platform = \"liveperson\" }",
                "migration.target.platform",
                "cannot be written",
            ),
            (
                "source = { platform = \"liveperson\" }\ntarget = { platform = \"hubster\" }\nwindow_days = 120",
                "migration.window_days",
                "wider than allowed",
            ),
            (
                "source = { platform = \"liveperson\" }\ntarget = { platform = \"hubster\" }\nsince = \"yesterday\"",
                "migration.since",
                "not a date",
            ),
            (
                "source = { platform = \"files\", dir = \"d\" }\ntarget = { platform = \"hubster\" }",
                "migration.source",
                "format",
            ),
            (
                "source = { platform = \"hubster\" }\ntarget = { platform = \"files\", dir = \"d\", format = \"hubster\" }",
                "migration.target",
                "nothing to convert",
            ),
            (
                "source = { platform = \"files\", dir = \"d\", format = \"liveperson\" }\ntarget = { platform = \"hubster\" }\nsince = \"2026-01-01\"",
                "migration.since",
                "no time range",
            ),
            (
                "source = { platform = \"liveperson\" }\ntarget = { platform = \"hubster\" }\n[migration.mapping]\nunknown_role = \"maybe\"",
                "migration.mapping",
                "maybe",
            ),
        ];
        for (body, key, words) in cases {
            let text = format!("{PLATFORMS}[[migration]]\nname = \"m\"\n{body}\n");
            let e = parse(&text).unwrap_err();
            assert!(e.starts_with("m.toml:"), "{e}");
            assert!(e.contains(&format!("key `{key}")), "{body}: {e}");
            assert!(e.contains(words), "{body}: {e}");
        }
    }

    #[test]
    fn missing_credentials_are_named() {
        let text = "[[migration]]\nname = \"m\"\nsource = { platform = \"liveperson\" }\ntarget = { platform = \"files\", dir = \"x\", format = \"hubster\" }\n";
        let e = parse(text).unwrap_err();
        assert!(e.contains("key `migration.source.platform`"), "{e}");
        assert!(e.contains("no [liveperson] section"), "{e}");
        assert!(e.starts_with("m.toml:3:"), "{e}");
        let text = "[[migration]]\nname = \"m\"\nsource = { platform = \"files\", dir = \"x\", format = \"liveperson\" }\ntarget = { platform = \"hubster\" }\n";
        let e = parse(text).unwrap_err();
        assert!(e.contains("key `migration.target.platform`"), "{e}");
        assert!(e.contains("no [hubster] section"), "{e}");
        let dup = format!(
            "{PLATFORMS}[[migration]]\nname = \"m\"\nsource = {{ platform = \"liveperson\" }}\ntarget = {{ platform = \"hubster\" }}\n[[migration]]\nname = \"m\"\nsource = {{ platform = \"liveperson\" }}\ntarget = {{ platform = \"stdout\" }}\n"
        );
        let e = parse(&dup).unwrap_err();
        assert!(e.contains("already called"), "{e}");
    }

    #[test]
    fn keys_are_found_inline_and_in_tables() {
        let text = "[mapping]\n\n[[migration]]\nname = \"a\"\n\n[[migration]]\nname = \"b\"\nsource = { platform = \"x\" }\nwindow_days = 120\n[migration.target]\nplatform = \"liveperson\"\n";
        assert_eq!(locate(text, 1, "window_days"), (9, 1));
        assert_eq!(locate(text, 1, "source.platform"), (8, 1));
        assert_eq!(locate(text, 1, "target.platform"), (11, 1));
        assert_eq!(locate(text, 0, "window_days"), (3, 1));
        assert_eq!(locate(text, 1, "target"), (10, 1));
    }
}
