//! Helpers shared by the integration tests.

use convsync::sim::{Sim, SimConfig};
use serde_json::Value;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// THE way a test starts the simulator: on a free loopback port, stopped
/// when dropped with the test's runtime.
pub async fn sim(cfg: SimConfig) -> Sim {
    Sim::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// THE binary's command line: `convsync [--config CONFIG] ARGS`.
pub fn command(config: Option<&Path>, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_convsync"));
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.args(args);
    cmd
}

/// The binary with `--config config` and `args`, started with its output
/// dropped (for runs a test kills).
pub fn spawn(config: &Path, args: &[&str]) -> Child {
    command(Some(config), args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The binary with `--config config` and `args`, started with its output
/// kept for [`output_of`].
pub fn spawn_piped(config: &Path, args: &[&str]) -> Child {
    command(Some(config), args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A started binary's output once it ends (waited for off the async
/// threads, where the simulator runs).
pub async fn output_of(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

/// Waits until `done` holds, checking every few milliseconds; fails the
/// test naming `what` if it has not within `limit` (a limit a loaded
/// machine still keeps: it is never what the test measures).
pub async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// [`wait_for`] with a condition that must ask something (the daemon's
/// endpoint): its answer once it is `Some`.
pub async fn wait_for_answer<T, F: Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut ask: impl FnMut() -> F,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(t) = ask().await {
            return t;
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for `child` to exit (without blocking the async threads): its
/// status and how long that took.
pub async fn wait_exit(child: &mut Child, limit: Duration) -> (ExitStatus, Duration) {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return (s, start.elapsed());
        }
        assert!(start.elapsed() < limit, "did not exit within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Makes the simulator's OPEN conversations show every record they will
/// have, now: its world's clock moves to the end of their growth.
pub fn grow_all(sim: &Sim) {
    sim.shared.lp.finish_growing();
    assert!(sim.shared.lp.all_grown());
}

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
identity_url = "{identity}"
engine_url = "{engine}"
direct_url = "{direct}"
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
        identity = hub.hub_urls().identity,
        engine = hub.hub_urls().engine,
        direct = hub.hub_urls().direct,
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
pub async fn convsync(config: &Path, args: &[&str]) -> Output {
    run(Some(config), args).await
}

/// The binary with `args` (and `--config config`, if given), run to its end
/// off the async threads.
pub async fn run(config: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = command(config, args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// The hub holds every conversation of `sim` whole, each activity once,
/// in order (nothing grown).
pub fn assert_delivered_once(sim: &Sim) {
    assert_eq!(
        sim.shared.ledger_external_ids(),
        expected_ledger(sim, false)
    );
    assert_eq!(sim.stats().duplicate_deliveries, 0);
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

/// GET `path` from the endpoint of the daemon whose state is `state`
/// (`None` until it serves, or on any error).
pub async fn endpoint_get(state: &Path, path: &str) -> Option<String> {
    let addr = std::fs::read_to_string(state.join("convsync.endpoint")).ok()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::get(format!("http://{}{path}", addr.trim()))
        .await
        .ok()?
        .text()
        .await
        .ok()
}

/// The value of the sample line starting with `name ` in a scrape.
pub fn metric(scrape: &str, name: &str) -> Option<f64> {
    scrape
        .lines()
        .find(|l| l.strip_prefix(name).is_some_and(|r| r.starts_with(' ')))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}
