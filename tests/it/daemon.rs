//! The daemon binary against the simulator: SIGKILL at random moments,
//! SIGTERM, a second daemon on the same store, poison, faults.

use crate::support::{
    command, grow_all, output_of, spawn, spawn_piped, wait_exit, wait_for, wait_for_answer,
};
use convsync::format::Mapping;
use convsync::sim::{RetryAfter, Sim, SimConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct World {
    sim: Sim,
    config: PathBuf,
    state: PathBuf,
    _dir: tempfile::TempDir,
}

async fn world(cfg: SimConfig, shutdown_timeout: f64) -> World {
    let sim = crate::support::sim(cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let text = format!(
        r#"{platforms}
[sync]
state_dir = {state:?}
poll_interval_secs = 0.2
shutdown_timeout_secs = {shutdown_timeout}
concurrency = 8
since = "2000-01-01"
metrics_listen = "127.0.0.1:0"
"#,
        platforms = crate::support::platforms_toml(&sim, &sim),
    );
    let config = dir.path().join("convsync.toml");
    std::fs::write(&config, text).unwrap();
    World {
        sim,
        config,
        state,
        _dir: dir,
    }
}

impl World {
    fn daemon(&self, args: &[&str]) -> Child {
        let args: Vec<&str> = ["run"].iter().chain(args).copied().collect();
        command(Some(&self.config), &args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Starts the daemon and SIGKILLs it at a moment of its work picked by
    /// `rng`: once the simulator has answered up to `most` more requests
    /// (so the moment falls in its work, however fast the machine is).
    async fn kill_at_random(&self, rng: &mut convsync::sim::generate::Rng, most: u64) {
        let before = self.sim.stats().total_requests();
        let at = before + rng.below(most + 1);
        let mut child = self.daemon(&[]);
        wait_for("the daemon to reach its kill point", LIMIT, || {
            self.sim.stats().total_requests() >= at
        })
        .await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }

    /// Every conversation's activities, grown in full, in delivery order.
    fn expected(&self) -> BTreeMap<String, Vec<String>> {
        let map = Mapping::default();
        let sim = &self.sim.shared;
        sim.lp
            .conversations
            .iter()
            .filter_map(|c| Some((c.id.clone(), sim.expected_external_ids(&c.id, &map, true)?)))
            .collect()
    }

    fn ledger(&self) -> BTreeMap<String, Vec<String>> {
        self.sim.shared.ledger_external_ids()
    }

    /// Runs the daemon until it has nothing left to do.
    async fn catch_up(&self) {
        self.catch_up_ending(0).await;
    }

    /// Runs the daemon until it has nothing left to do; it exits `code`
    /// (5: done, with dead letters).
    async fn catch_up_ending(&self, code: i32) {
        let out = output_of(self.daemon(&["--until-idle"])).await;
        assert_eq!(
            out.status.code(),
            Some(code),
            "catch-up run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl World {
    fn cli(&self, args: &[&str]) -> std::process::Output {
        command(Some(&self.config), args).output().unwrap()
    }

    /// The running daemon's /status, once its endpoint answers.
    async fn running_status(&self) -> serde_json::Value {
        wait_for_answer("the running daemon's status", LIMIT, || {
            daemon_status(&self.state)
        })
        .await
    }
}

/// How long a test waits for something that should happen: generous, so a
/// loaded machine keeps it; it is never what a test measures.
const LIMIT: Duration = Duration::from_secs(60);

async fn get_text(url: &str) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

fn assert_exact(w: &World) {
    let (ledger, expected) = (w.ledger(), w.expected());
    let differ: Vec<&String> = expected
        .keys()
        .filter(|k| ledger.get(*k) != expected.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {} conversations differ, e.g. {:?}",
        differ.len(),
        expected.len(),
        differ.first()
    );
    assert_eq!(w.sim.stats().duplicate_deliveries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_twenty_times_at_random_then_every_activity_is_there_once_in_order() {
    let w = world(
        SimConfig {
            conversations: 520,
            messages: 4,
            growth: 2,
            grow_every: Duration::from_millis(700),
            ..SimConfig::default()
        },
        5.0,
    )
    .await;
    // Deterministic "random" moments: after up to 60 requests of each run.
    let mut rng = convsync::sim::generate::Rng::new(7);
    for _ in 0..20 {
        w.kill_at_random(&mut rng, 60).await;
    }
    assert!(
        !w.ledger().is_empty(),
        "the killed runs delivered something"
    );
    // Let the OPEN conversations finish growing, then catch up.
    grow_all(&w.sim);
    w.catch_up().await;
    assert_exact(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_exits_0_in_time_a_second_daemon_is_refused_and_the_next_start_finishes() {
    let w = world(
        SimConfig {
            conversations: 300,
            messages: 8,
            growth: 0,
            ..SimConfig::default()
        },
        3.0,
    )
    .await;
    let mut first = w.daemon(&[]);
    w.running_status().await;
    // While it runs: status through its endpoint, metrics, health.
    let out = w.cli(&["status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(st["cycles"].is_u64(), "from the running daemon: {st}");
    let addr = std::fs::read_to_string(w.state.join("convsync.endpoint")).unwrap();
    let metrics = get_text(&format!("http://{addr}/metrics")).await;
    for name in [
        "convsync_activities_delivered_total",
        "convsync_http_requests_total{upstream=\"hubster\"",
        "convsync_checkpoint_commit_seconds_count",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    assert_eq!(get_text(&format!("http://{addr}/healthz")).await, "ok\n");
    // The store is taken: a second daemon fails fast, saying why.
    let out = output_of(w.daemon(&[])).await;
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another convsync is using") && err.contains("convsync.redb"),
        "{err}"
    );
    // SIGTERM mid-sync: exit 0 within the shutdown timeout.
    signal(&first, "-TERM");
    let (status, took) = wait_exit(&mut first, Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    // The shutdown timeout is 3 s; a loaded machine may add a little to exit.
    assert!(took < Duration::from_secs(6), "took {took:?}");
    w.catch_up().await;
    assert_exact(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_conversation_is_dead_lettered_and_the_rest_complete() {
    let w = world(
        SimConfig {
            conversations: 20,
            growth: 0,
            poison: 1,
            ..SimConfig::default()
        },
        3.0,
    )
    .await;
    w.catch_up_ending(5).await;
    assert_exact(&w);
    let store = convsync::store::Store::open(&w.state.join("convsync.redb")).unwrap();
    let dead = store.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].conversation_id, w.sim.shared.lp.conversations[0].id);
    assert_eq!(dead[0].class, "convert");
    assert!(
        dead[0].message.contains("invalid type"),
        "{}",
        dead[0].message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_storm_with_server_errors_completes_without_a_retry_after_violation() {
    let w = world(
        SimConfig {
            conversations: 12,
            messages: 4,
            growth: 0,
            fault_429: 0.06,
            retry_after: RetryAfter::Mixed,
            fault_5xx: 0.1,
            ..SimConfig::default()
        },
        3.0,
    )
    .await;
    w.catch_up().await;
    assert_exact(&w);
    let st = w.sim.stats();
    assert!(
        st.faults.get("429").copied().unwrap_or(0) > 0
            && st.faults.get("5xx").copied().unwrap_or(0) > 0,
        "{st:?}"
    );
    assert_eq!(st.violations_retry_after, 0, "{st:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retry_after_holds_across_sigkills_and_restarts() {
    // A 429's Retry-After binds the next process too: the pause is kept
    // beside the store as a wall-clock instant.
    let w = world(
        SimConfig {
            conversations: 8,
            messages: 4,
            growth: 0,
            fault_429: 0.05,
            retry_after: RetryAfter::Mixed,
            // The next process starts inside it.
            retry_after_secs: 1,
            ..SimConfig::default()
        },
        3.0,
    )
    .await;
    // Each run is killed as soon as it has kept the pause of one of its
    // 429s (the first or the second): the next one starts inside it.
    let mut rng = convsync::sim::generate::Rng::new(11);
    let kept = w.state.join("convsync.pauses");
    for _ in 0..10 {
        let mut left = 1 + rng.below(2);
        let mut seen = std::fs::read(&kept).ok();
        let mut child = w.daemon(&[]);
        wait_for("a kept pause", LIMIT, || {
            let now = std::fs::read(&kept).ok();
            if now != seen {
                seen = now;
                left -= 1;
            }
            left == 0
        })
        .await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    w.catch_up().await;
    assert_exact(&w);
    let st = w.sim.stats();
    assert!(st.faults.get("429").copied().unwrap_or(0) > 5, "{st:?}");
    assert_eq!(st.violations_retry_after, 0, "{st:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_cycles_back_off_say_so_and_the_next_start_honours_it() {
    let w = world(
        SimConfig {
            conversations: 8,
            messages: 3,
            growth: 0,
            ..SimConfig::default()
        },
        3.0,
    )
    .await;
    // LivePerson refuses this bearer: every discovery fails.
    let good = std::fs::read_to_string(&w.config).unwrap();
    let bearer = &w.sim.shared.creds.bearer;
    std::fs::write(&w.config, good.replace(bearer.as_str(), "refused-bearer")).unwrap();
    let mut child = w.daemon(&[]);
    let endpoint = w.state.join("convsync.endpoint");
    let health = wait_for_answer("three failed cycles", LIMIT, || async {
        let addr = std::fs::read_to_string(&endpoint).ok()?;
        let health = get_text(&format!("http://{addr}/healthz")).await;
        (health.starts_with("degraded") && health.contains("3 failed cycle")).then_some(health)
    })
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(health.starts_with("degraded: "), "{health}");
    assert!(
        health.contains("discovery") && health.contains("401"),
        "{health}"
    );
    let searches = |w: &World| -> u64 {
        w.sim.stats().requests["lp.conversations_search"]
            .values()
            .sum()
    };
    let tried = searches(&w);
    // Not a search per poll interval (0.2 s): the waits doubled.
    assert!(tried <= 5 * 2 * 4, "{tried} searches");
    let store = convsync::store::Store::open(&w.state.join("convsync.redb")).unwrap();
    let kept: Option<convsync::sync::daemon::Backoff> = store
        .progress("backoff:liveperson-to-hubster")
        .unwrap()
        .flatten();
    let kept = kept.expect("the backoff is kept");
    assert!(kept.failures >= 3 && kept.until_ms > 0, "{kept:?}");
    drop(store);

    // The next start, with good credentials, waits out what is left of it,
    // then catches up and is healthy again.
    std::fs::write(&w.config, good).unwrap();
    w.catch_up().await;
    assert_exact(&w);
    let store = convsync::store::Store::open(&w.state.join("convsync.redb")).unwrap();
    let kept: Option<Option<convsync::sync::daemon::Backoff>> =
        store.progress("backoff:liveperson-to-hubster").unwrap();
    assert_eq!(kept, Some(None), "cleared by a cycle that succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_scrape_passes_promtool_and_has_histograms() {
    let w = world(
        SimConfig {
            conversations: 20,
            messages: 4,
            growth: 0,
            ..SimConfig::default()
        },
        3.0,
    )
    .await;
    let mut child = w.daemon(&[]);
    let endpoint = w.state.join("convsync.endpoint");
    let metrics = wait_for_answer("every conversation synced", LIMIT, || async {
        let addr = std::fs::read_to_string(&endpoint).ok()?;
        let metrics = get_text(&format!("http://{addr}/metrics")).await;
        metrics
            .contains("convsync_conversation_sync_duration_seconds_count 20")
            .then_some(metrics)
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    for name in [
        "convsync_build_info{version=\"",
        "convsync_http_request_duration_seconds_bucket{upstream=\"hubster\",endpoint=\"inbound_customer\",le=\"",
        "convsync_conversation_sync_duration_seconds_bucket{le=\"",
        "convsync_checkpoint_commit_seconds_bucket{le=\"",
        "convsync_conversation_sync_duration_seconds_count 20",
        "convsync_pending_intents ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "convsync_http_rate_limit_requests_per_second{upstream=\"liveperson\"} 2000",
        "convsync_http_concurrency_limit{upstream=\"hubster\"} 16",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    // The Prometheus project's own checker, where it is installed
    // (Debian: apt-get install prometheus).
    let Ok(mut check) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("SKIPPED: promtool check metrics (promtool is not installed)");
        return;
    };
    use std::io::Write as _;
    check
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The unit's exposure as systemd scores it (where systemd-analyze exists;
/// CI's machine has it, and bench/systemd-check.sh installs it).
#[test]
fn the_systemd_unit_is_hardened() {
    let unit = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/convsync.service");
    let text = std::fs::read_to_string(unit).unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "DynamicUser=yes",
        "StateDirectory=convsync",
        "LoadCredential=",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
    ] {
        assert!(text.contains(line), "{line} missing");
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/");
    for (file, command) in [
        ("convsync.service", " run"),
        ("convsync@.service", "/%i.toml run"),
        ("convsync-backfill@.service", " backfill --since %i"),
        ("convsync-migrate@.service", " migrate %i"),
    ] {
        let path = format!("{dir}{file}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(command), "{file}: {command} missing");
        assert!(text.contains("ProtectSystem=strict"), "{file}");
        let Ok(out) = Command::new("systemd-analyze")
            .args(["security", "--offline=true", &path])
            .output()
        else {
            eprintln!("systemd-analyze not installed: exposure not scored here");
            return;
        };
        let report = String::from_utf8_lossy(&out.stdout);
        let score: f64 = report
            .lines()
            .find_map(|l| l.split("Overall exposure level for ").nth(1))
            .and_then(|rest| rest.split(": ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{file}: no score in:\n{report}"));
        assert!(score <= 2.0, "{file}: exposure {score}");
    }
}

fn days_ago(d: i64) -> String {
    (convsync::clock::now_ms() - d * 24 * 3600 * 1000).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backfill_killed_mid_way_and_started_again_delivers_everything_once() {
    let w = world(
        SimConfig {
            conversations: 400,
            messages: 6,
            growth: 0,
            ..SimConfig::default()
        },
        3.0,
    )
    .await;
    let since = days_ago(200);
    let args = ["backfill", "--since", since.as_str()];
    let mut child = spawn(&w.config, &args);
    // Killed once it has delivered something, wherever it is then.
    wait_for("the backfill to deliver", LIMIT, || {
        w.sim.stats().delivered_activities > 0
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let partial: usize = w.ledger().values().map(Vec::len).sum();
    let out = crate::support::convsync(&w.config, &args).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["windows"], 3,
        "200 days in 90-day windows: {summary}"
    );
    assert!(partial > 0, "the killed run had delivered something");
    assert_exact(&w);
    // Once more: nothing is sent. The empty first window is done for good;
    // the others hold OPEN conversations (the last also ends "now"), so
    // they are read again, in case those grew.
    let again = w.cli(&args);
    assert!(again.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary["windows_skipped"], 1, "{summary}");
    assert_eq!(summary["activities_delivered"], 0, "{summary}");
    // Non-terminal stderr gets plain progress lines.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("convsync: backfill: window"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backfill_of_listed_conversations_and_one_with_a_dead_letter() {
    let w = world(
        SimConfig {
            conversations: 30,
            growth: 0,
            poison: 1,
            ..SimConfig::default()
        },
        3.0,
    )
    .await;
    let ids: Vec<String> = w.sim.shared.lp.conversations[1..6]
        .iter()
        .map(|c| c.id.clone())
        .collect();
    let file = w.state.parent().unwrap().join("ids.txt");
    std::fs::write(&file, format!("# five of them\n{}\n", ids.join("\n"))).unwrap();
    let since = days_ago(60);
    let out = w.cli(&[
        "backfill",
        "--since",
        &since,
        "--conversation-ids",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ledger = w.ledger();
    assert_eq!(ledger.keys().cloned().collect::<Vec<_>>(), {
        let mut i = ids.clone();
        i.sort();
        i
    });
    // The whole range: the poison conversation is a dead letter, exit 5.
    let out = w.cli(&["backfill", "--since", &since]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_exact(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_learned_pace_is_kept_in_the_store_and_shown_by_status() {
    let w = world(
        SimConfig {
            conversations: 40,
            messages: 4,
            growth: 0,
            quota: Some(30.0),
            ..SimConfig::default()
        },
        3.0,
    )
    .await;
    let text = std::fs::read_to_string(&w.config).unwrap().replacen(
        "requests_per_second = 2000\nburst = 100\nmax_concurrency = 16",
        "requests_per_second = \"auto\"\nburst = 10\nmax_concurrency = \"auto\"",
        1,
    );
    std::fs::write(&w.config, text).unwrap();
    w.catch_up().await;
    assert_exact(&w);
    assert_eq!(w.sim.stats().violations_retry_after, 0);
    let out = w.cli(&["status", "--json"]);
    assert!(out.status.success());
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lp = &st["pace"]["liveperson"];
    let rate = lp["requests_per_second"].as_f64().unwrap();
    // It left the start (10 req/s) and stayed near what the server allows.
    assert!(rate != 10.0 && rate <= 60.0, "{st}");
    assert!(lp["concurrency"].as_u64().unwrap() >= 1, "{st}");
    // Hubster's are fixed in this config, and shown as such.
    assert_eq!(st["pace"]["hubster"]["requests_per_second"], 2000.0, "{st}");
    let out = w.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("pace liveperson"), "{text}");
}

/// The running daemon's /status.
async fn daemon_status(state: &std::path::Path) -> Option<serde_json::Value> {
    let addr = std::fs::read_to_string(state.join("convsync.endpoint")).ok()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::get(format!("http://{}/status", addr.trim()))
        .await
        .ok()?;
    r.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_handed_to_the_running_daemon_run_beside_live_sync_and_survive_a_sigkill() {
    let sim = crate::support::sim(SimConfig {
        conversations: 520,
        messages: 4,
        growth: 4,
        grow_every: Duration::from_millis(1500),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let export = dir.path().join("export");
    // Live sync looks at the last day (the growing conversations and the
    // newest); the backfill takes the whole month; a migration writes
    // everything to files. LivePerson's quota (400 a second, live sync
    // keeping half) keeps the jobs going while the daemon is killed.
    let platforms = crate::support::platforms_toml(&sim, &sim).replacen(
        "requests_per_second = 2000",
        "requests_per_second = 400",
        1,
    );
    let text = format!(
        r#"{platforms}
[sync]
state_dir = {state:?}
poll_interval_secs = 0.5
shutdown_timeout_secs = 3
concurrency = 8
since = "{since}"
metrics_listen = "127.0.0.1:0"
live_share = 0.5

[[migration]]
name = "to-files"
source = {{ platform = "liveperson" }}
target = {{ platform = "files", dir = {export:?}, format = "hubster" }}
since = "{month}"
"#,
        since = days_ago(1),
        month = days_ago(31),
    );
    let config = dir.path().join("convsync.toml");
    std::fs::write(&config, text).unwrap();
    let daemon = || spawn(&config, &["run"]);
    let job = |args: &[&str]| spawn_piped(&config, args);
    let socket = state.join("convsync.sock");
    let mut first = daemon();
    wait_for_answer("the daemon", LIMIT, || async {
        if socket.exists() {
            daemon_status(&state).await
        } else {
            None
        }
    })
    .await;
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the control socket is the daemon user's alone");
    }
    let month = days_ago(31);
    let backfill = job(&["backfill", "--since", &month]);
    let migration = job(&["migrate", "to-files"]);
    // Both jobs are kept in the store while they run.
    wait_for_answer("both jobs kept", LIMIT, || async {
        let st = daemon_status(&state).await?;
        st["jobs"]
            .as_array()
            .is_some_and(|j| j.len() == 2)
            .then_some(())
    })
    .await;
    // Killed once the backfill has delivered beyond what live sync covers
    // (the last day and the OPEN conversations: about 150).
    wait_for("the backfill to deliver", LIMIT, || {
        sim.shared.ledger_external_ids().len() > 200
    })
    .await;
    assert!(
        sim.shared.ledger_external_ids().len() < 520,
        "the backfill is still under way when the daemon is killed"
    );
    first.kill().unwrap(); // SIGKILL, mid-job
    first.wait().unwrap();
    for (what, child) in [("backfill", backfill), ("migrate", migration)] {
        let out = output_of(child).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: {err}");
        assert!(
            err.contains("took the job") && err.contains("resumes the job"),
            "{what}: {err}"
        );
    }
    // The next start resumes both, and live sync keeps up meanwhile.
    let mut second = daemon();
    // (Polled with a deadline: the lag is read all along.)
    let start = std::time::Instant::now();
    let mut worst_lag = 0f64;
    loop {
        if let Some(st) = daemon_status(&state).await {
            if let Some(lag) = st["lag_seconds"].as_f64() {
                worst_lag = worst_lag.max(lag);
            }
            if st["jobs"].as_array().is_some_and(Vec::is_empty) && st["cycles"].as_u64() > Some(0) {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "the resumed jobs did not end: {:?}",
            daemon_status(&state).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        worst_lag < 0.5 + 30.0,
        "live sync fell {worst_lag:.1} s behind during the jobs"
    );
    signal(&second, "-TERM");
    let (status, _) = wait_exit(&mut second, Duration::from_secs(20)).await;
    assert!(status.success());
    // The growing conversations finish growing; one catch-up, then every
    // activity is in the hub once, and the files hold every conversation.
    grow_all(&sim);
    let out = crate::support::convsync(&config, &["run", "--until-idle"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ledger, expected) = (
        sim.shared.ledger_external_ids(),
        crate::support::expected_ledger(&sim, true),
    );
    assert_eq!(ledger.len(), expected.len());
    let differ: Vec<_> = expected
        .iter()
        .filter(|(k, v)| ledger.get(*k) != Some(v))
        .map(|(k, v)| (k, v, ledger.get(k)))
        .collect();
    assert_eq!(
        differ.len(),
        0,
        "conversations differ from the source: {differ:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    let out = crate::support::convsync(&config, &["migrate", "to-files", "--verify"]).await;
    assert!(
        out.status.success(),
        "the files differ from the source: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_that_fails_in_the_daemon_exits_as_it_would_here() {
    let w = world(
        SimConfig {
            conversations: 4,
            growth: 0,
            ..SimConfig::default()
        },
        3.0,
    )
    .await;
    // A migration the command's config has and the running daemon's does
    // not (the config was edited after the daemon started).
    let edited = w.config.with_file_name("edited.toml");
    let export = w.config.with_file_name("export");
    std::fs::write(
        &edited,
        std::fs::read_to_string(&w.config).unwrap()
            + &format!(
                "\n[[migration]]\nname = \"to-files\"\nsource = {{ platform = \"liveperson\" }}\ntarget = {{ platform = \"files\", dir = {export:?}, format = \"hubster\" }}\n"
            ),
    )
    .unwrap();
    let mut daemon = w.daemon(&[]);
    w.running_status().await;
    let out = crate::support::convsync(&edited, &["migrate", "to-files"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("took the job") && err.contains("no migration \"to-files\""),
        "{err}"
    );
    signal(&daemon, "-TERM");
    wait_exit(&mut daemon, LIMIT).await;
    // Run here, the same job in the same words fails the same way.
    let out = crate::support::convsync(&w.config, &["migrate", "to-files"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no migration \"to-files\""));
}
