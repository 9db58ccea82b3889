//! The simulator's side of the operations: `sim` (checked, started, its
//! config written), and a convsync config pointing at a running one
//! (`sim --write-config`, the demo).

use super::Error;
use crate::sim::Sim;
pub use crate::sim::{
    BrandContentSearch, CustomerSender, InboundToken, Leid, RetryAfter, SimConfig,
};
use std::net::SocketAddr;
use std::path::Path;

/// Starts the simulator of `cfg` on `listen` (its shares of faults checked
/// first), writing a convsync config pointing at it to `write_config`.
pub async fn start(
    cfg: SimConfig,
    listen: SocketAddr,
    write_config: Option<&Path>,
) -> Result<Sim, Error> {
    for (name, v) in [
        ("fault-429", cfg.fault_429),
        ("fault-5xx", cfg.fault_5xx),
        ("fault-timeout", cfg.fault_timeout),
        ("fault-malformed", cfg.fault_malformed),
        ("fault-reset", cfg.fault_reset),
        ("fault-timeout-late", cfg.fault_timeout_late),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return Err(Error::Argument(format!(
                "--{name} must be between 0 and 1, not {v}"
            )));
        }
    }
    let sim = Sim::start(cfg, listen)
        .await
        .map_err(|source| Error::Listen {
            listen: listen.to_string(),
            source,
        })?;
    if let Some(path) = write_config {
        std::fs::write(path, sim_config_toml(&sim, 50)).map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(sim)
}

/// A complete convsync config pointing at a running simulator, with the
/// clients' quota at `rps` requests per second.
pub fn sim_config_toml(sim: &Sim, rps: u32) -> String {
    let c = &sim.shared.creds;
    let base = sim.base_url();
    let hub = sim.hub_urls();
    let direct_token = if sim.shared.config.inbound_token == InboundToken::Portal {
        format!(
            "# This simulator's inbound path takes the hub's portal access token.\ndirect_token = {{ value = \"{}\" }}\n",
            c.hubster_portal_token
        )
    } else {
        String::new()
    };
    let cfg = &sim.shared.config;
    let read_lag = (cfg.activities_lag.as_secs_f64() + 0.2).max(0.2);
    let late = if cfg.fault_timeout_late > 0.0 {
        cfg.timeout_delay.as_secs_f64()
    } else {
        0.0
    };
    let settle = late + read_lag + 1.0;
    // Strict, as a brand's real account: an app key, which content search
    // refuses (`transcripts = "auto"` then reads Messaging Interactions).
    let lp_auth = if cfg.liveperson_strict {
        format!(
            r#"# transcripts = "auto" (the default): content search, or Messaging
# Interactions once content search refuses these credentials.
transcripts = "auto"

[liveperson.auth]
consumer_key = {{ value = "{}" }}
consumer_secret = {{ value = "{}" }}
token = {{ value = "{}" }}
token_secret = {{ value = "{}" }}
"#,
            c.consumer_key, c.consumer_secret, c.token, c.token_secret
        )
    } else {
        format!(
            "\n[liveperson.auth]\nbearer = {{ value = \"{}\" }}\n",
            c.bearer
        )
    };
    format!(
        r#"# convsync config for the simulator at {base} (written by `convsync sim`).
# The credentials below are the simulator's own, fake ones: real accounts
# take secrets from the environment or systemd credentials instead, e.g.
# bearer = {{ env = "LP_BEARER" }}.

[liveperson]
account = "{account}"
source = "convsync_sim"
csds_url = "{base}"
{lp_auth}
[liveperson.http]
requests_per_second = {rps}
burst = 10

[hubster]
identity_url = "{identity}"
engine_url = "{engine}"
direct_url = "{direct}"
client_id = "{client_id}"
client_secret = {{ value = "{secret}" }}
{direct_token}# The hub whose established conversations Hubster-sourced migrations list.
hub_id = "sim-hub"
# How long this simulator takes to show a posted activity, and how long a
# post whose answer was lost may still complete (real hubs: see docs/daemon.md).
read_lag_secs = {read_lag}
unsure_settle_secs = {settle}

[hubster.http]
requests_per_second = {rps}
burst = 10

# Two ready migrations (docs/migrations.md). Rehearse them with
#   convsync --config <this file> migrate --list
#   convsync --config <this file> migrate liveperson-to-hubster --dry-run
#   convsync --config <this file> migrate liveperson-to-hubster --verify
#   convsync --config <this file> migrate hubster-to-liveperson-files --verify

# Every LivePerson conversation of the last 13 months (what LivePerson
# keeps) into the hub. It shares its checkpoints with the daemon (whose
# pipeline has the same name): neither delivers what the other did.
[[migration]]
name = "liveperson-to-hubster"
source = {{ platform = "liveperson" }}
target = {{ platform = "hubster" }}
# since = "2026-01-01"
# until = "2026-07-01"
# conversation_ids_file = "ids.txt"

# Every conversation the hub has established, as LivePerson JSON files
# (./export/<binding>.json: the LivePerson conversation id for those that
# came from LivePerson); a second run adds only what is new.
[[migration]]
name = "hubster-to-liveperson-files"
source = {{ platform = "hubster" }}
target = {{ platform = "files", dir = "export", format = "liveperson" }}
"#,
        account = c.account,
        lp_auth = lp_auth,
        client_id = c.hubster_client_id,
        secret = c.hubster_client_secret,
        identity = hub.identity,
        engine = hub.engine,
        direct = hub.direct,
        read_lag = read_lag,
        settle = settle,
    )
}
