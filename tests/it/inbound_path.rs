//! `doctor` proves Hubster's Direct inbound path before the first run,
//! without creating anything: the host that serves it and the token it
//! takes, or which of them to change. The simulator serves each service on
//! a host of its own, and its inbound path may take only the hub's portal
//! access token.

use crate::support::{convsync, expected_ledger};
use convsync::sim::{InboundToken, Sim, SimConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

async fn hosts(inbound_token: InboundToken) -> Sim {
    crate::support::sim(SimConfig {
        conversations: 8,
        growth: 0,
        strict: true,
        liveperson_strict: true,
        hosts_per_service: true,
        inbound_token,
        ..SimConfig::default()
    })
    .await
}

/// The config `convsync sim --write-config` writes, without its ready
/// migrations (a sync into the hub only), edited by `edit`.
fn config(dir: &Path, sim: &Sim, edit: impl Fn(String) -> String) -> PathBuf {
    let written = convsync::ops::sim::sim_config_toml(sim, 500);
    let sync_only = written
        .split("# Two ready migrations")
        .next()
        .unwrap()
        .to_owned();
    let text = format!(
        "{}\n[sync]\nstate_dir = {:?}\npoll_interval_secs = 0.2\nsince = \"2000-01-01\"\nmetrics_listen = \"\"\n",
        edit(sync_only),
        dir.join("state")
    );
    let path = dir.join("convsync.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Each check of a `doctor --json`: (outcome, detail, fix); and its exit code.
async fn doctor(cfg: &Path) -> (Option<i32>, BTreeMap<String, (String, String, String)>) {
    let out = convsync(cfg, &["doctor", "--json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let checks = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_owned();
            (s("check"), (s("outcome"), s("detail"), s("fix")))
        })
        .collect();
    (out.status.code(), checks)
}

const INBOUND: &str = "hubster: inbound path";

#[tokio::test]
async fn doctor_proves_the_inbound_host_and_token_and_creates_nothing() {
    let sim = hosts(InboundToken::Engine).await;
    let urls = sim.hub_urls().clone();
    assert_ne!(urls.direct, urls.engine, "a host per service");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &sim, |t| t);
    let (code, c) = doctor(&cfg).await;
    let (outcome, detail, _) = &c[INBOUND];
    assert_eq!(code, Some(0), "{c:#?}");
    assert_eq!(outcome, "ok", "{c:#?}");
    assert!(detail.contains(&urls.direct), "{detail}");
    assert!(detail.contains("engine token"), "{detail}");
    assert_eq!(c["hubster: read activities"].0, "ok", "{c:#?}");
    // Nothing created: no conversation, no activity.
    assert!(sim.shared.ledger().is_empty());
    assert_eq!(sim.stats().delivered_activities, 0);

    // The engine's host given as direct_url: its inbound path is not
    // served there, and doctor names the key.
    let engine = urls.engine.clone();
    let cfg = config(dir.path(), &sim, |t| {
        t.replace(
            &format!("direct_url = \"{}\"", urls.direct),
            &format!("direct_url = \"{engine}\""),
        )
    });
    let (code, c) = doctor(&cfg).await;
    let (outcome, detail, fix) = &c[INBOUND];
    assert_eq!(code, Some(1), "{c:#?}");
    assert_eq!(outcome, "fail", "{c:#?}");
    assert!(detail.contains(&engine), "{detail}");
    assert!(fix.contains("hubster.direct_url"), "{fix}");
    assert!(sim.shared.ledger().is_empty());
    sim.stop().await;
}

#[tokio::test]
async fn an_inbound_path_that_takes_the_portal_token_is_named_and_then_used() {
    let sim = hosts(InboundToken::Portal).await;
    let dir = tempfile::tempdir().unwrap();
    // Without direct_token the engine token is sent, and refused.
    let cfg = config(dir.path(), &sim, |t| {
        t.lines()
            .filter(|l| !l.starts_with("direct_token"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let (code, c) = doctor(&cfg).await;
    let (outcome, detail, fix) = &c[INBOUND];
    assert_eq!(code, Some(1), "{c:#?}");
    assert_eq!(outcome, "fail", "{c:#?}");
    assert!(detail.contains("refused the engine token"), "{detail}");
    assert!(fix.contains("hubster.direct_token"), "{fix}");

    // With the portal token, doctor proves it and the run uses it.
    let cfg = config(dir.path(), &sim, |t| t);
    assert!(
        std::fs::read_to_string(&cfg)
            .unwrap()
            .contains("direct_token")
    );
    let (code, c) = doctor(&cfg).await;
    let (outcome, detail, _) = &c[INBOUND];
    assert_eq!(code, Some(0), "{c:#?}");
    assert_eq!(outcome, "ok", "{c:#?}");
    assert!(detail.contains("hubster.direct_token"), "{detail}");
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sim.shared.ledger_external_ids(),
        expected_ledger(&sim, false)
    );
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    sim.stop().await;
}

#[tokio::test]
async fn the_undocumented_established_listing_fails_only_a_pipeline_that_uses_it() {
    let sim = hosts(InboundToken::Engine).await;
    let dir = tempfile::tempdir().unwrap();
    // A hub that does not offer the listing (404), syncing into it.
    let cfg = config(dir.path(), &sim, |t| {
        t.replace("hub_id = \"sim-hub\"", "hub_id = \"another-hub\"")
    });
    let (code, c) = doctor(&cfg).await;
    let (outcome, detail, _) = &c["hubster: established listing (undocumented)"];
    assert_eq!(code, Some(0), "{c:#?}");
    assert_eq!(outcome, "warn", "{c:#?}");
    assert!(
        detail.contains("not in Hubster's documentation"),
        "{detail}"
    );

    // A migration from Hubster lists the hub: then it fails.
    let text = std::fs::read_to_string(&cfg).unwrap()
        + "\n[[migration]]\nname = \"from-hub\"\nsource = { platform = \"hubster\" }\ntarget = { platform = \"stdout\" }\n";
    std::fs::write(&cfg, text).unwrap();
    let (code, c) = doctor(&cfg).await;
    let (outcome, _, fix) = &c["hubster: established listing (undocumented)"];
    assert_eq!(code, Some(1), "{c:#?}");
    assert_eq!(outcome, "fail", "{c:#?}");
    assert!(fix.contains("hubster.hub_id"), "{fix}");
    sim.stop().await;
}
