//! `doctor`'s Hubster checks: the token, the Direct inbound path (proven
//! without creating anything), Get Activities, and the undocumented
//! established listing, each judged by whether a configured pipeline uses it.

use super::{CheckError, Checks, Outcome, timed};
use crate::config::migration::Endpoint;
use crate::config::{Config, SinkConfig};
use crate::format::hubster::IntegrationType;
use crate::http::{HttpError, Metrics};
use crate::platform::hubster::HubsterClient;
use std::sync::Arc;

pub(super) async fn hubster(config: &Config, c: &mut Checks) {
    let needed = matches!(config.sync.sink, SinkConfig::Hubster);
    let Some(cfg) = &config.hubster else {
        c.push(
            "hubster: config",
            if needed { Outcome::Fail } else { Outcome::Skip },
            "no [hubster] section".into(),
            if needed {
                "add [hubster] (docs/configuration.md), or set sync.sink to files"
            } else {
                ""
            },
        );
        return;
    };
    if !super::unfilled(
        &mut *c,
        "hubster",
        super::unfilled::hubster(cfg, &config.mapping),
    ) {
        return;
    }
    let hub = match HubsterClient::new(cfg, Arc::new(Metrics::default())) {
        Ok(h) => h,
        Err(e) => {
            c.push(
                "hubster: credentials",
                Outcome::Fail,
                e.to_string(),
                "set the environment variable or systemd credential named in hubster.client_secret",
            );
            return;
        }
    };
    hub.upstream().fail_when_unreachable();
    match timed(hub.token(false)).await {
        Ok(_) => c.push(
            "hubster: token",
            Outcome::Ok,
            format!("a token from {}", cfg.identity_url),
            "",
        ),
        Err(e) => {
            let fix = if e.is_refused() {
                "check hubster.client_id and hubster.client_secret"
            } else {
                "check hubster.identity_url and the network path to it"
            };
            c.push("hubster: token", Outcome::Fail, e.to_string(), fix);
            return;
        }
    }
    // A conversation id no hub has: what is asked of it creates nothing.
    let probe = uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string();
    inbound(config, &hub, &probe, c).await;
    let engine_used = matches!(config.sync.sink, SinkConfig::Hubster)
        || config.migrations.iter().any(|m| {
            matches!(m.source, Endpoint::Hubster {}) || matches!(m.target, Endpoint::Hubster {})
        });
    // Get Activities (documented): the daemon reads it to check what it
    // posted, migrations from Hubster to read.
    match timed(hub.activities(&probe, &IntegrationType::SENDERS, 0)).await {
        Ok(acts) => c.push(
            "hubster: read activities",
            Outcome::Ok,
            format!(
                "Get Activities at {} answered ({} activities of a conversation that does not exist)",
                cfg.engine_url,
                acts.len()
            ),
            "",
        ),
        Err(CheckError::Http {
            e: HttpError::Status { status, body, .. },
        }) if (400..500).contains(&status) && engine_code(&body).is_some() => c.push(
            "hubster: read activities",
            Outcome::Ok,
            format!(
                "Get Activities at {} answered {} (HTTP {status}) for a conversation that does not exist",
                cfg.engine_url,
                engine_code(&body).unwrap_or_default()
            ),
            "",
        ),
        Err(e) => c.push(
            "hubster: read activities",
            if engine_used { Outcome::Fail } else { Outcome::Warn },
            e.to_string(),
            if e.is_refused() {
                "check what hubster.client_id may do on the hub (its scopes)"
            } else {
                "check hubster.engine_url (Hubster's engine host)"
            },
        ),
    }
    // The established listing is not in Hubster's documentation; only a
    // migration from Hubster without conversation ids lists the hub.
    let listed = config.migrations.iter().any(|m| {
        matches!(m.source, Endpoint::Hubster {})
            && m.conversation_ids.is_empty()
            && m.conversation_ids_file.is_none()
    });
    const LISTING: &str = "hubster: established listing (undocumented)";
    let Some(hub_id) = &cfg.hub_id else {
        c.push(
            LISTING,
            if listed { Outcome::Fail } else { Outcome::Skip },
            "hubster.hub_id is not set: no hub to list".into(),
            if listed {
                "set hubster.hub_id (a migration from Hubster lists its conversations), or give the migration conversation_ids"
            } else {
                ""
            },
        );
        return;
    };
    let read = timed(async {
        let list = hub
            .established(hub_id)
            .await
            .map_err(|source| CheckError::Reading {
                what: format!("established conversations of hub {hub_id}"),
                source,
            })?;
        let Some(first) = list.first() else {
            return Ok::<_, CheckError>(format!("hub {hub_id} has no conversation yet"));
        };
        let acts = hub
            .activities(&first.conversation_id, &IntegrationType::SENDERS, 0)
            .await
            .map_err(|source| CheckError::Reading {
                what: format!("activities of {}", first.conversation_id),
                source,
            })?;
        Ok(format!(
            "{} conversation(s) in hub {hub_id}; {} activities read from {}",
            list.len(),
            acts.len(),
            first.conversation_id
        ))
    })
    .await;
    match read {
        Ok(detail) => c.push(LISTING, Outcome::Ok, detail, ""),
        Err(e) if listed => c.push(
            LISTING,
            Outcome::Fail,
            e.to_string(),
            "a migration from Hubster lists the hub's conversations: check hubster.engine_url and hubster.hub_id, or give the migration conversation_ids",
        ),
        Err(e) => c.push(
            LISTING,
            Outcome::Warn,
            format!(
                "{e} (conversations/hubs/{hub_id}/established is not in Hubster's documentation; no configured pipeline uses it)"
            ),
            "",
        ),
    }
}

/// What marks an answer as the engine's own error: its code (`ENG006500`),
/// else its JSON error shape (`status`, `error` or `errors`). A host that
/// does not serve the path answers neither (a bare 404).
fn engine_code(body: &str) -> Option<String> {
    if let Some(code) = crate::http::engine_code_in(body) {
        return Some(code.to_owned());
    }
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    ["status", "error", "errors"]
        .iter()
        .any(|k| v.get(k).is_some())
        .then(|| "an engine error".to_owned())
}

/// Proves the Direct inbound path (host and token) with a post the engine
/// must reject by validation, to a conversation that does not exist.
async fn inbound(config: &Config, hub: &HubsterClient, probe: &str, c: &mut Checks) {
    const CHECK: &str = "hubster: inbound path";
    let needed = matches!(config.sync.sink, SinkConfig::Hubster)
        || config
            .migrations
            .iter()
            .any(|m| matches!(m.target, Endpoint::Hubster {}));
    if !needed {
        c.push(
            CHECK,
            Outcome::Skip,
            "no configured pipeline posts to Hubster".into(),
            "",
        );
        return;
    }
    let (host, token) = (hub.direct_url(), hub.inbound_token_name());
    match timed(hub.probe_inbound(probe)).await {
        Err(CheckError::Http {
            e: HttpError::Status { status, body, .. },
        }) if (400..500).contains(&status) && engine_code(&body).is_some() => c.push(
            CHECK,
            Outcome::Ok,
            format!(
                "{host} serves the inbound path and takes {token}: it rejected a probe with no content ({}, HTTP {status}); nothing was created",
                engine_code(&body).unwrap_or_default()
            ),
            "",
        ),
        Err(e) if e.is_refused() => {
            let fix = if hub.inbound_token_name() == "hubster.direct_token" {
                "check hubster.direct_token (the hub's portal access token), or remove it to send the engine token"
            } else {
                "the inbound path refuses the engine token: set hubster.direct_token to the hub's portal access token (Hubster's docs name it for the inbound path), or check what hubster.client_id may do"
            };
            c.push(
                CHECK,
                Outcome::Fail,
                format!("{host} refused {token}: {e}"),
                fix,
            );
        }
        Err(e) => c.push(
            CHECK,
            Outcome::Fail,
            format!("{host} does not answer as Hubster's inbound path: {e}"),
            "set hubster.direct_url to the host that serves /inbound/.../v1/direct/activity (the vendor's client uses https://direct.hubster.io)",
        ),
        Ok(answer) => c.push(
            CHECK,
            Outcome::Warn,
            format!(
                "{host} took {token}, and accepted a probe with no content for a conversation that does not exist (the docs say it is rejected): {answer}"
            ),
            "check the hub for an activity with externalId convsync-doctor-probe",
        ),
    }
}
