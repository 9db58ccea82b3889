//! What a config still leaves to fill in before a platform is asked: a
//! value `init` wrote as a placeholder, or a secret that cannot be read
//! here. Each is named by its key; the platform is not asked until none is
//! left (a placeholder host would only be a failure further on).

use crate::format::Mapping;
use crate::ops::init::is_placeholder;
use crate::platform::hubster::HubsterConfig;
use crate::platform::liveperson::{LivePersonConfig, LpAuth};
use crate::platform::secret::SecretSource;

/// One key to fill in, and why.
pub(super) struct Unfilled {
    pub key: String,
    pub why: String,
}

fn value(out: &mut Vec<Unfilled>, key: &str, v: &str) {
    if is_placeholder(v) {
        out.push(Unfilled {
            key: key.to_owned(),
            why: format!("still the placeholder {v:?}"),
        });
    }
}

fn secret(out: &mut Vec<Unfilled>, key: &str, s: &SecretSource) {
    if let SecretSource::Value(v) = s {
        value(out, key, v);
        return;
    }
    if let Err(e) = s.load(key) {
        out.push(Unfilled {
            key: key.to_owned(),
            why: e.to_string(),
        });
    }
}

/// What `[liveperson]` leaves to fill in.
pub(super) fn liveperson(cfg: &LivePersonConfig) -> Vec<Unfilled> {
    let mut out = Vec::new();
    value(&mut out, "liveperson.account", &cfg.account);
    value(&mut out, "liveperson.source", &cfg.source);
    value(&mut out, "liveperson.csds_url", &cfg.csds_url);
    if let Some(d) = &cfg.domain {
        value(&mut out, "liveperson.domain", d);
    }
    match &cfg.auth {
        LpAuth::Bearer(s) => secret(&mut out, "liveperson.auth.bearer", s),
        LpAuth::AppKey {
            consumer_key,
            consumer_secret,
            token,
            token_secret,
        } => {
            secret(&mut out, "liveperson.auth.consumer_key", consumer_key);
            secret(&mut out, "liveperson.auth.consumer_secret", consumer_secret);
            secret(&mut out, "liveperson.auth.token", token);
            secret(&mut out, "liveperson.auth.token_secret", token_secret);
        }
    }
    out
}

/// What `[hubster]` and the integrations it posts as leave to fill in.
pub(super) fn hubster(cfg: &HubsterConfig, mapping: &Mapping) -> Vec<Unfilled> {
    let mut out = Vec::new();
    value(&mut out, "hubster.client_id", &cfg.client_id);
    value(&mut out, "hubster.identity_url", &cfg.identity_url);
    value(&mut out, "hubster.engine_url", &cfg.engine_url);
    value(&mut out, "hubster.direct_url", &cfg.direct_url);
    if let Some(h) = &cfg.hub_id {
        value(&mut out, "hubster.hub_id", h);
    }
    secret(&mut out, "hubster.client_secret", &cfg.client_secret);
    if let Some(t) = &cfg.direct_token {
        secret(&mut out, "hubster.direct_token", t);
    }
    for (side, i) in [
        ("customer", &mapping.integrations.customer),
        ("agent", &mapping.integrations.agent),
        ("bot", &mapping.integrations.bot),
    ] {
        value(
            &mut out,
            &format!("mapping.integrations.{side}.integration_id"),
            &i.integration_id,
        );
    }
    out
}
