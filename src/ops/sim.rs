//! The simulator's side of the operations: a convsync config pointing at a
//! running one (`sim --write-config`, the demo).

use crate::sim::Sim;

/// A complete convsync config pointing at a running simulator, with the
/// clients' quota at `rps` requests per second.
pub fn sim_config_toml(sim: &Sim, rps: u32) -> String {
    let c = &sim.shared.creds;
    let base = sim.base_url();
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
identity_url = "{base}"
engine_url = "{base}"
direct_url = "{base}"
client_id = "{client_id}"
client_secret = {{ value = "{secret}" }}
# The hub whose established conversations Hubster-sourced migrations list.
hub_id = "sim-hub"
# How long this simulator takes to show a posted activity, and how long a
# post whose answer was lost may still complete (real hubs: see README).
read_lag_secs = {read_lag}
unsure_settle_secs = {settle}

[hubster.http]
requests_per_second = {rps}
burst = 10

# Two ready migrations (README, "Migrations"). Rehearse them with
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
        read_lag = read_lag,
        settle = settle,
    )
}
