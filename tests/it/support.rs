//! Helpers shared by the integration tests.

use convsync::sim::Sim;
use serde_json::Value;
use std::path::PathBuf;

pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn read_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(data(name)).unwrap()).unwrap()
}

/// Values in a canonical text form, for set comparisons.
pub fn canon(v: &Value) -> String {
    // serde_json's Map keeps keys sorted, so to_string is canonical.
    v.to_string()
}

/// `[liveperson]` and `[hubster]` sections for simulators (LivePerson from
/// `lp`, Hubster from `hub`, whose hub is `sim-hub`), with a quota and
/// retry waits fast enough for tests.
pub fn platforms_toml(lp: &Sim, hub: &Sim) -> String {
    let (c, h) = (&lp.shared.creds, &hub.shared.creds);
    let fast = "requests_per_second = 2000\nburst = 100\nmax_concurrency = 16\nserver_error_delays_secs = [0.01, 0.02]\ntransient_backoff_secs = 0.01\nmax_backoff_secs = 0.2";
    format!(
        r#"[liveperson]
account = "{account}"
source = "convsync_tests"
csds_url = "{lp_base}"
[liveperson.auth]
bearer = {{ value = "{bearer}" }}
[liveperson.http]
{fast}

[hubster]
identity_url = "{hub_base}"
engine_url = "{hub_base}"
direct_url = "{hub_base}"
client_id = "{client_id}"
client_secret = {{ value = "{secret}" }}
hub_id = "sim-hub"
# The simulator shows what it stores at once (unless a test says otherwise).
read_lag_secs = 0.0
unsure_settle_secs = 0.0
[hubster.http]
{fast}
"#,
        account = c.account,
        bearer = c.bearer,
        lp_base = lp.base_url(),
        hub_base = hub.base_url(),
        client_id = h.hubster_client_id,
        secret = h.hubster_client_secret,
    )
}

/// One inbound post of `body` on the hub's `path` (`customer` or
/// `business`), raw, with a fresh token: (status, answer).
pub async fn post_inbound(hub: &Sim, conversation: &str, path: &str, body: &Value) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = &hub.shared.creds;
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/connect/token", hub.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", c.hubster_client_id.as_str()),
            ("client_secret", c.hubster_client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(format!(
            "{}/inbound/{path}/v1/direct/activity/{conversation}",
            hub.base_url()
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The binary with `--config config` and `args`, run to its end.
pub async fn convsync(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_convsync"));
    cmd.arg("--config").arg(config).args(args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Every conversation of `sim` with the externalIds its records convert
/// to, in delivery order: of the records visible now, or (`grown`) of all
/// it will have. Unconvertible (poison) ones are left out.
pub fn expected_ledger(sim: &Sim, grown: bool) -> std::collections::BTreeMap<String, Vec<String>> {
    let map = convsync::format::Mapping::default();
    sim.shared
        .lp
        .conversations
        .iter()
        .filter_map(|c| {
            Some((
                c.id.clone(),
                sim.shared.expected_external_ids(&c.id, &map, grown)?,
            ))
        })
        .collect()
}

/// The simulator's app key (OAuth 1.0a) as LivePerson credentials.
pub fn app_key(sim: &Sim) -> convsync::platform::liveperson::LpAuth {
    use convsync::platform::secret::SecretSource;
    let c = &sim.shared.creds;
    convsync::platform::liveperson::LpAuth::AppKey {
        consumer_key: SecretSource::Value(c.consumer_key.clone()),
        consumer_secret: SecretSource::Value(c.consumer_secret.clone()),
        token: SecretSource::Value(c.token.clone()),
        token_secret: SecretSource::Value(c.token_secret.clone()),
    }
}
