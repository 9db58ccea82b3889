//! `convsync sim`, `fetch` and `discover` as users run them: real processes,
//! real HTTP, the written config.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

struct SimProcess {
    child: Child,
    ready: serde_json::Value,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SimProcess {
    fn start(extra: &[&str]) -> SimProcess {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("sim.toml");
        let mut child = crate::support::command(
            None,
            &[
                "sim",
                "--listen",
                "127.0.0.1:0",
                "--conversations",
                "12",
                "--write-config",
                config.to_str().unwrap(),
            ],
        )
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: serde_json::Value =
            serde_json::from_str(&line).expect("one JSON line when ready");
        assert_eq!(ready["ready"], true);
        SimProcess {
            child,
            ready,
            config,
            _dir: dir,
        }
    }

    fn base(&self) -> String {
        self.ready["liveperson"]["csds"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn convsync(&self, args: &[&str]) -> std::process::Output {
        crate::support::command(Some(&self.config), args)
            .env("RUST_LOG", "debug")
            // The written config keeps its state and exports under ./
            .current_dir(self._dir.path())
            .output()
            .unwrap()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(url: &str) -> serde_json::Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
}

#[test]
fn sim_serves_what_fetch_and_discover_print_and_no_secret_reaches_the_logs() {
    let sim = SimProcess::start(&[]);
    let listed = get(&format!("{}/sim/conversations", sim.base()));
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversationId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 12);

    let out = sim.convsync(&["discover", "--since", "2000-01-01"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut found_ids: Vec<&str> = found
        .iter()
        .map(|c| c["conversationId"].as_str().unwrap())
        .collect();
    let mut want = ids.clone();
    found_ids.sort();
    want.sort();
    assert_eq!(found_ids, want);

    let out = sim.convsync(&["fetch", "liveperson", "--conversation-id", ids[0]]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["messageEventRecords"].as_array().unwrap().len(),
        listed[0]["records"].as_u64().unwrap() as usize
    );
    let lp_log = String::from_utf8_lossy(&out.stderr).into_owned();

    // What fetch prints converts as it is.
    let mut conv = crate::support::command(
        None,
        &["convert", "--from", "liveperson", "--report", "none"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    std::io::Write::write_all(&mut conv.stdin.take().unwrap(), &out.stdout).unwrap();
    let converted = conv.wait_with_output().unwrap();
    assert!(converted.status.success());

    // Hubster: a conversation unknown to the hub is a clear error; a known one prints.
    let out = sim.convsync(&["fetch", "hubster", "--conversation-id", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("404") && err.contains("conversation does not exist"),
        "{err}"
    );

    let cfg = convsync::config::Config::load(&sim.config).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hub_id = rt.block_on(async {
        let client = convsync::platform::hubster::HubsterClient::new(
            cfg.hubster().unwrap(),
            Default::default(),
        )
        .unwrap();
        let e = client
            .establish("int-agent", ids[0], "Direct")
            .await
            .unwrap();
        let a = serde_json::json!({"type": "message", "externalId": "x1",
            "sender": {"integrationId": "int-agent", "integrationType": "Agent"},
            "recipient": {"integrationId": "int-customer", "integrationType": "Customer"},
            "message": {"type": "text", "text": "hello from the hub"}});
        client
            .send_activity(
                &e.conversation_id,
                convsync::platform::hubster::Side::Business,
                &a,
            )
            .await
            .unwrap();
        e.conversation_id
    });
    // Where a hub id comes from: the simulator lists the hub's
    // conversations beside the LivePerson ids they are bound to.
    let hub = get(&format!("{}/sim/hub", sim.base()));
    let bound: Vec<(&str, &str)> = hub
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["binding"].as_str().unwrap(),
                c["conversationId"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(bound, [(ids[0], hub_id.as_str())]);
    let out = sim.convsync(&["fetch", "hubster", "--conversation-id", &hub_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(acts[0]["message"]["text"], "hello from the hub");
    let hub_log = String::from_utf8_lossy(&out.stderr).into_owned();

    let creds = &sim.ready["credentials"];
    for log in [&lp_log, &err, &hub_log] {
        for secret in [
            "bearer",
            "hubster_client_secret",
            "consumer_secret",
            "token_secret",
        ] {
            let s = creds[secret].as_str().unwrap();
            assert!(!log.contains(s), "{secret} in the debug log:\n{log}");
        }
        assert!(
            !log.contains("Bearer sim-"),
            "a token in the debug log:\n{log}"
        );
    }
    // The logs were at debug level: what a token leak would show up in.
    assert!(
        hub_log.contains("DEBUG") && hub_log.contains("hubster token obtained"),
        "{hub_log}"
    );
}

#[test]
fn bad_simulator_flags_are_named() {
    let out = crate::support::command(None, &["sim", "--fault-429", "1.5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fault-429 must be between 0 and 1"));
}

#[test]
fn the_written_config_rehearses_both_migrations() {
    let sim = SimProcess::start(&["--growth", "0"]);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let out = sim.convsync(&["migrate", "--list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list = text(&out.stdout);
    assert!(
        list.contains("liveperson-to-hubster\n  liveperson -> hubster"),
        "{list}"
    );
    assert!(
        list.contains("hubster-to-liveperson-files\n  hubster -> files:export (liveperson)"),
        "{list}"
    );
    for name in ["liveperson-to-hubster", "hubster-to-liveperson-files"] {
        let out = sim.convsync(&["migrate", name, "--verify"]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("0 differences"), "{name}");
    }
    let files = std::fs::read_dir(sim._dir.path().join("export"))
        .unwrap()
        .count();
    assert_eq!(files, 12);
    let stats = get(&format!("{}/sim/stats", sim.base()));
    assert_eq!(stats["duplicate_deliveries"], 0);
    assert!(stats["delivered_activities"].as_u64().unwrap() > 12);
}

#[test]
fn demo_shows_progress_at_least_every_two_seconds_and_exits_0() {
    let mut child = crate::support::command(None, &["demo", "--conversations", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let started = std::time::Instant::now();
    let mut lines = Vec::new();
    for line in BufReader::new(stderr).lines() {
        lines.push((started.elapsed(), line.unwrap()));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{lines:?}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ledger_matches_source"], true);
    let progress: Vec<&(std::time::Duration, String)> = lines
        .iter()
        .filter(|(_, l)| l.contains(" conversations, ") && l.contains("429s honoured"))
        .collect();
    assert!(progress.len() >= 2, "{lines:?}");
    let mut at = lines[0].0;
    for (t, l) in &progress {
        assert!(
            t.saturating_sub(at) <= std::time::Duration::from_secs(2),
            "{:?} without progress before {l:?}: {lines:?}",
            t.saturating_sub(at)
        );
        at = *t;
    }
    assert!(
        progress.last().unwrap().1.contains("30/30 conversations"),
        "{lines:?}"
    );
}
