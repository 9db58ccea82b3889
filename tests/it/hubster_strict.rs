//! Writing to a Hubster as strict as its documentation (`sim --strict`):
//! conversations established by the customer's integration, inbound bodies
//! with documented properties only, and what is lost (or not) on the way
//! back to LivePerson.

use convsync::format::Mapping;
use convsync::sim::{CustomerSender, Sim, SimConfig};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

async fn strict_sim(conversations: usize, customer_sender: CustomerSender) -> Sim {
    crate::support::sim(SimConfig {
        conversations,
        growth: 0,
        strict: true,
        customer_sender,
        ..SimConfig::default()
    })
    .await
}

/// A config for the daemon against `sim`, with `extra` added to `[hubster]`.
fn config(dir: &Path, sim: &Sim, hubster_extra: &str) -> PathBuf {
    let platforms = crate::support::platforms_toml(sim, sim).replacen(
        "[hubster]\n",
        &format!("[hubster]\n{hubster_extra}\n"),
        1,
    );
    let text = format!(
        "{platforms}\n[sync]\nstate_dir = {:?}\npoll_interval_secs = 0.2\nsince = \"2000-01-01\"\nmetrics_listen = \"\"\n\n[[migration]]\nname = \"back\"\nsource = {{ platform = \"hubster\" }}\ntarget = {{ platform = \"files\", dir = {:?}, format = \"liveperson\" }}\n",
        dir.join("state"),
        dir.join("export"),
    );
    let path = dir.join("convsync.toml");
    std::fs::write(&path, text).unwrap();
    path
}

use crate::support::convsync;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Answers with this status per inbound path, from the simulator's counts.
fn inbound(sim: &Sim, status: u16) -> u64 {
    let stats = sim.stats();
    ["hubster.inbound_customer", "hubster.inbound_business"]
        .iter()
        .filter_map(|e| stats.requests.get(*e)?.get(&status))
        .sum()
}

fn expected(sim: &Sim) -> BTreeMap<String, Vec<String>> {
    crate::support::expected_ledger(sim, true)
}

#[tokio::test]
async fn documented_bodies_reach_a_strict_hub_once_each_and_come_back_whole() {
    let sim = strict_sim(10, CustomerSender::Reject).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &sim, "");
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Every activity once, in order, and not one post refused.
    assert_eq!(sim.shared.ledger_external_ids(), expected(&sim));
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    assert_eq!(inbound(&sim, 400), 0, "{:?}", sim.stats().requests);
    assert!(inbound(&sim, 200) > 0);

    // Established by the customer's integration; the engine filled in what
    // the documented body leaves to it.
    let customer = Mapping::default().integrations.customer.integration_id;
    {
        let hub = sim.shared.hub.lock().unwrap();
        for c in hub.conversations.values() {
            assert_eq!(c.integration_id, customer);
            for d in &c.activities {
                let a = &d.activity;
                assert!(a["sender"]["integrationType"].is_string(), "{a}");
                assert!(a["eventTrigger"].is_string(), "{a}");
                if a["type"] == "message" {
                    assert!(a["interactionId"].is_string(), "{a}");
                }
            }
        }
    }

    // Back to LivePerson: every source record, to the letter (its dialogId
    // and sequence included).
    let out = convsync(&cfg, &["migrate", "back"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    for c in &sim.shared.lp.conversations {
        let doc: Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("export").join(format!("{}.json", c.id))).unwrap(),
        )
        .unwrap();
        let exported: BTreeSet<String> = doc["messageEventRecords"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        let source: BTreeSet<String> = sim
            .shared
            .lp
            .records(c)
            .iter()
            .map(Value::to_string)
            .collect();
        assert!(source.is_subset(&exported), "conversation {}", c.id);
    }
}

#[tokio::test]
async fn full_bodies_against_a_strict_hub_fail_naming_the_property() {
    let sim = strict_sim(3, CustomerSender::Ignore).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &sim, "inbound_body = \"full\"");
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    // Done, every conversation a dead letter: exit 5.
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(sim.shared.ledger_external_ids().values().all(Vec::is_empty));
    assert!(inbound(&sim, 400) > 0);
    let out = convsync(&cfg, &["dead-letters", "list"]).await;
    let list = text(&out.stdout);
    assert_eq!(list.lines().count(), 3, "{list}");
    for line in list.lines() {
        assert!(
            line.contains("ENG005002") && line.contains("does not support provided property"),
            "{line}"
        );
        // The first property the engine does not take is named.
        assert!(line.contains("'eventTrigger'"), "{line}");
    }
}

#[tokio::test]
async fn a_strict_customer_path_ignores_or_rejects_a_sender_as_configured() {
    let map = Mapping::default();
    let customer = map.integrations.customer.integration_id.clone();
    let body = json!({"externalId": "x-1", "type": "message",
        "sender": {"integrationId": "someone-else"},
        "message": {"type": "text", "text": "hi"}});
    for (mode, status) in [(CustomerSender::Ignore, 200), (CustomerSender::Reject, 400)] {
        let sim = strict_sim(0, mode).await;
        let (id, _) = sim.shared.hub.lock().unwrap().establish("b", &customer);
        let (got, answer) = crate::support::post_inbound(&sim, &id, "customer", &body).await;
        assert_eq!(got, status, "{mode:?}: {answer}");
        if status == 200 {
            // The customer's path's sender is the conversation's customer.
            let hub = sim.shared.hub.lock().unwrap();
            let stored = &hub.conversations[&id].activities[0].activity;
            assert_eq!(stored["sender"]["integrationId"], customer.as_str());
            assert_eq!(stored["sender"]["integrationType"], "Customer");
        } else {
            assert!(
                answer.to_string().contains("'sender.integrationId'"),
                "{answer}"
            );
        }
        // Not case-insensitive media types, and not an undocumented property.
        let card = json!({"externalId": "x-2", "type": "message",
            "message": {"type": "card", "title": "t", "urlType": "Image", "url": "https://x/i.png"}});
        let (got, answer) = crate::support::post_inbound(&sim, &id, "customer", &card).await;
        assert_eq!(got, 400, "{answer}");
        assert!(answer.to_string().contains("urlType"), "{answer}");
        let echo = json!({"externalId": "x-3", "type": "message", "isEcho": false,
            "message": {"type": "text", "text": "hi"}});
        let (got, answer) = crate::support::post_inbound(&sim, &id, "customer", &echo).await;
        assert_eq!(got, 400, "{answer}");
        assert!(answer.to_string().contains("'isEcho'"), "{answer}");
    }
}

#[tokio::test]
async fn a_strict_hub_is_established_only_by_a_customer_integration() {
    let sim = strict_sim(2, CustomerSender::Ignore).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &sim, "");
    let text_cfg = std::fs::read_to_string(&cfg).unwrap().replacen(
        "[sync]\n",
        "[mapping]\nestablish_with = \"Agent\"\n\n[sync]\n",
        1,
    );
    std::fs::write(&cfg, text_cfg).unwrap();
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let list = text(&convsync(&cfg, &["dead-letters", "list"]).await.stdout);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains("customer integration"), "{list}");
    assert!(sim.shared.hub.lock().unwrap().conversations.is_empty());
}

/// A strict hub whose reads lag 1 s and hold at most 12 activities, where
/// 5% of posts complete only after the client has stopped waiting and 5%
/// of answers are cut off by a reset.
async fn lagging_hub(seed: u64) -> Sim {
    crate::support::sim(SimConfig {
        conversations: 6,
        // About 27 activities a conversation: past the cap of 12 a read.
        messages: 12,
        growth: 0,
        seed,
        strict: true,
        activities_lag: std::time::Duration::from_millis(1000),
        activities_cap: Some(12),
        fault_timeout_late: 0.05,
        fault_reset: 0.05,
        // Longer than the client waits for an answer (below).
        timeout_delay: std::time::Duration::from_millis(750),
        ..SimConfig::default()
    })
    .await
}

/// The config for a lagging hub: the client waits 0.5 s for an answer,
/// looks for an unanswered post after the read lag, and sends it again only
/// once it can no longer complete.
fn lagging_config(dir: &Path, sim: &Sim) -> PathBuf {
    let cfg = config(dir, sim, "");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("read_lag_secs = 0.0", "read_lag_secs = 1.1")
        .replace("unsure_settle_secs = 0.0", "unsure_settle_secs = 2.5")
        .replacen(
            "[hubster.http]\n",
            "[hubster.http]\ntimeout_secs = 0.5\nconnect_timeout_secs = 1\n",
            1,
        );
    std::fs::write(&cfg, text).unwrap();
    cfg
}

fn assert_once_each(sim: &Sim, what: &str) {
    let (got, want) = (sim.shared.ledger_external_ids(), expected(sim));
    let differ: Vec<&String> = want
        .keys()
        .filter(|k| got.get(*k) != want.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "{what}: {} conversations differ: {differ:?}",
        differ.len()
    );
    assert_eq!(sim.stats().duplicate_deliveries, 0, "{what}");
    assert_eq!(inbound(sim, 400), 0, "{what}: {:?}", sim.stats().requests);
}

#[tokio::test]
async fn the_daemon_delivers_once_each_through_read_lag_caps_and_late_posts_over_five_seeds() {
    let runs = (1..=5).map(|seed| async move {
        let sim = lagging_hub(seed).await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = lagging_config(dir.path(), &sim);
        let out = convsync(&cfg, &["run", "--until-idle"]).await;
        assert!(out.status.success(), "seed {seed}: {}", text(&out.stderr));
        (seed, sim, dir)
    });
    let mut faults = 0;
    for (seed, sim, _dir) in futures_util::future::join_all(runs).await {
        assert_once_each(&sim, &format!("seed {seed}"));
        let f = sim.stats().faults;
        faults +=
            f.get("timeout_late").copied().unwrap_or(0) + f.get("reset").copied().unwrap_or(0);
    }
    assert!(faults > 0, "the faults happened");
}

#[tokio::test]
async fn a_backfill_and_a_migration_deliver_once_each_through_read_lag_and_late_posts_over_five_seeds()
 {
    let jobs = [
        &["backfill", "--since", "2000-01-01"][..],
        &["migrate", "to-hub"][..],
    ];
    let runs = (1..=5u64)
        .flat_map(|seed| jobs.map(|args| (seed, args)))
        .map(|(seed, args)| async move {
        let sim = lagging_hub(seed).await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = lagging_config(dir.path(), &sim);
        let mut text_cfg = std::fs::read_to_string(&cfg).unwrap();
        text_cfg.push_str("\n[[migration]]\nname = \"to-hub\"\nsource = { platform = \"liveperson\" }\ntarget = { platform = \"hubster\" }\nsince = \"2000-01-01\"\n");
        std::fs::write(&cfg, text_cfg).unwrap();
        let out = convsync(&cfg, args).await;
        assert!(out.status.success(), "{args:?} seed {seed}: {}", text(&out.stderr));
        (args, seed, sim, dir)
    });
    for (args, seed, sim, _dir) in futures_util::future::join_all(runs).await {
        assert_once_each(&sim, &format!("{args:?} seed {seed}"));
    }
}

#[tokio::test]
async fn verify_finds_a_duplicate_in_the_daemons_pipeline() {
    let sim = strict_sim(3, CustomerSender::Ignore).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &sim, "");
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = convsync(&cfg, &["verify"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("0 differences"),
        "{}",
        text(&out.stderr)
    );

    // A post that arrived twice (as a blind retry would make it).
    {
        let mut hub = sim.shared.hub.lock().unwrap();
        let (id, first) = hub
            .conversations
            .iter()
            .find_map(|(id, c)| Some((id.clone(), c.activities.first()?.activity.clone())))
            .unwrap();
        hub.deliver(&id, first, "business", "again".into()).unwrap();
    }
    let report = dir.path().join("verify.json");
    let out = convsync(&cfg, &["verify", "--report", report.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["duplicated"], 1, "{r}");
    assert_eq!(r["conversations"], 3, "{r}");
}

#[tokio::test]
async fn a_daemon_killed_while_posts_are_unanswered_sends_nothing_twice() {
    let sim = lagging_hub(21).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = lagging_config(dir.path(), &sim);
    // SIGKILL three times, each right after a post the hub will answer
    // only after the client gave up (it completes after the kill).
    let late = |sim: &Sim| sim.stats().faults.get("timeout_late").copied().unwrap_or(0);
    for _ in 0..3 {
        let at = late(&sim) + 1;
        let mut child = crate::support::spawn(&cfg, &["run"]);
        crate::support::wait_for(
            "a post answered late",
            std::time::Duration::from_secs(60),
            || late(&sim) >= at,
        )
        .await;
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(
        sim.stats().delivered_activities > 0,
        "it was killed mid-sync"
    );
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_once_each(&sim, "after three SIGKILLs");
}
