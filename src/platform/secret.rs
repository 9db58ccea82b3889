//! Secrets named in config: read from an environment variable, a file, or a
//! systemd credential, never written anywhere, and redacted in Debug.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// Where a secret comes from (exactly one key):
/// `{ env = "VAR" }`, `{ file = "/path" }`, `{ credential = "name" }`
/// (systemd's `LoadCredential=`: `$CREDENTIALS_DIRECTORY/name`), or
/// `{ value = "..." }` (for the simulator's fake credentials only).
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
    Credential(String),
    Value(String),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            SecretSource::Env(v) => write!(f, "env:{v}"),
            SecretSource::File(p) => write!(f, "file:{}", p.display()),
            SecretSource::Credential(c) => write!(f, "credential:{c}"),
            SecretSource::Value(_) => f.write_str("value:<redacted>"),
        }
    }
}

/// A loaded secret. Debug and Display print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A secret that could not be loaded; `key` names it in config.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{key}: cannot read {}: {source}", path.display())]
    Read {
        key: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{key}: environment variable {var} is not set")]
    Env { key: String, var: String },
    #[error(
        "{key}: credential {name:?} named, but CREDENTIALS_DIRECTORY is not set (run under systemd with LoadCredential=)"
    )]
    NoCredentials { key: String, name: String },
    #[error("{key}: the secret is empty")]
    Empty { key: String },
}

impl SecretSource {
    /// Reads the secret; `key` names it in errors (e.g. `hubster.client_secret`).
    pub fn load(&self, key: &str) -> Result<Secret, SecretError> {
        let key = || key.to_owned();
        let read = |path: PathBuf| {
            std::fs::read_to_string(&path)
                .map(|s| Secret(s.trim_end_matches(['\n', '\r']).to_owned()))
                .map_err(|source| SecretError::Read {
                    key: key(),
                    path,
                    source,
                })
        };
        let secret = match self {
            SecretSource::Env(var) => {
                std::env::var(var)
                    .map(Secret)
                    .map_err(|_| SecretError::Env {
                        key: key(),
                        var: var.clone(),
                    })?
            }
            SecretSource::File(p) => read(p.clone())?,
            SecretSource::Credential(name) => {
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    SecretError::NoCredentials {
                        key: key(),
                        name: name.clone(),
                    }
                })?;
                read(PathBuf::from(dir).join(name))?
            }
            SecretSource::Value(v) => Secret(v.clone()),
        };
        if secret.0.is_empty() {
            return Err(SecretError::Empty { key: key() });
        }
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_from_each_place_and_never_prints() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), "s3cret\n").unwrap();
        let s = SecretSource::File(dir.path().join("tok"))
            .load("k")
            .unwrap();
        assert_eq!(s.expose(), "s3cret");
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        assert!(!format!("{:?}", SecretSource::Value("s3cret".into())).contains("s3cret"));
        let e = SecretSource::Env("CONVSYNC_TEST_SURELY_UNSET".into())
            .load("hubster.client_secret")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("hubster.client_secret") && e.contains("CONVSYNC_TEST_SURELY_UNSET"),
            "{e}"
        );
        let e = SecretSource::File(dir.path().join("missing"))
            .load("k")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read"), "{e}");
    }
}
