//! Freshness measured where it happens: for each message that appears in
//! LivePerson after the daemon caught up, the hub's acknowledgement time
//! minus the message's LivePerson time, in `/metrics` and `status`.

use crate::support::{command, endpoint_get, metric, platforms_toml, wait_for_answer};
use convsync::sim::SimConfig;
use std::process::Stdio;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn freshness_is_measured_for_messages_that_appear_after_catching_up() {
    let sim = crate::support::sim(SimConfig {
        conversations: 8,
        messages: 3,
        growth: 40,
        grow_every: Duration::from_millis(300),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("convsync.toml");
    std::fs::write(
        &cfg,
        format!(
            "{}\n[sync]\nstate_dir = {:?}\npoll_interval_secs = 0.5\nmetrics_listen = \"127.0.0.1:0\"\nsince = \"2000-01-01\"\n",
            platforms_toml(&sim, &sim),
            dir.path().join("state")
        ),
    )
    .unwrap();
    let mut child = command(Some(&cfg), &["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let state = dir.path().join("state");
    let get = |path: &'static str| endpoint_get(&state, path);
    let value = |m: &str, name: &str| metric(m, name.trim_end());
    let metrics = wait_for_answer("ten fresh messages", Duration::from_secs(60), || async {
        let m = get("/metrics").await?;
        (value(&m, "convsync_freshness_seconds_count ")? >= 10.0).then_some(m)
    })
    .await;
    assert_eq!(
        value(&metrics, "convsync_poll_interval_seconds "),
        Some(0.5)
    );
    let status: serde_json::Value = serde_json::from_str(&get("/status").await.unwrap()).unwrap();
    let f = &status["freshness"];
    assert!(f["messages"].as_u64().unwrap() >= 10, "{status}");
    let (p50, p99) = (
        f["p50_seconds"].as_f64().unwrap(),
        f["p99_seconds"].as_f64().unwrap(),
    );
    assert!(0.0 <= p50 && p50 <= p99, "{status}");
    child.kill().unwrap();
    child.wait().unwrap();
    // Only messages that appeared after catching up, each once: never more
    // than the simulator saw reach the hub.
    let counted = value(&metrics, "convsync_freshness_seconds_count ").unwrap() as usize;
    assert!(
        counted <= sim.shared.freshness(0, i64::MAX).messages,
        "{counted}"
    );
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    sim.stop().await;
}
