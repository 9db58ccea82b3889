//! `convsync migrate`, the real binary against simulators and real files:
//! LivePerson -> Hubster and verify, the round trip Hubster -> LivePerson
//! files -> a second Hubster, dry runs, second runs, bad configs.

use convsync::format::Mapping;
use convsync::sim::{Sim, SimConfig};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

async fn sim(conversations: usize) -> Sim {
    crate::support::sim(SimConfig {
        conversations,
        growth: 0,
        ..SimConfig::default()
    })
    .await
}

/// A config reading LivePerson from `lp` and Hubster from `hub`, with the
/// state in `dir/state`, and these migrations.
fn config(dir: &Path, lp: &Sim, hub: &Sim, migrations: &str) -> PathBuf {
    let text = format!(
        "{}\n[sync]\nstate_dir = {:?}\nconcurrency = 8\n\n{migrations}\n",
        crate::support::platforms_toml(lp, hub),
        dir.join("state"),
    );
    let path = dir.join(format!("convsync-{}.toml", hub.addr().port()));
    std::fs::write(&path, text).unwrap();
    path
}

use crate::support::convsync;

const LP: &str = "{ platform = \"liveperson\" }";
const HUB: &str = "{ platform = \"hubster\" }";

/// A `[[migration]]`: source and target as inline tables, then `extra` lines.
fn migration(name: &str, source: &str, target: &str, extra: &str) -> String {
    format!("\n[[migration]]\nname = \"{name}\"\nsource = {source}\ntarget = {target}\n{extra}\n")
}

/// A files source or target.
fn files(dir: &Path, format: &str) -> String {
    format!("{{ platform = \"files\", dir = {dir:?}, format = \"{format}\" }}")
}

/// Runs convsync and insists on exit 0.
async fn ok(config: &Path, args: &[&str]) -> Output {
    let out = convsync(config, args).await;
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn summary(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)))
}

fn expected(sim: &Sim) -> BTreeMap<String, Vec<String>> {
    let map = Mapping::default();
    let s = &sim.shared;
    s.lp.conversations
        .iter()
        .filter_map(|c| Some((c.id.clone(), s.expected_external_ids(&c.id, &map, true)?)))
        .collect()
}

const LP_TO_HUB: &str = r#"
[[migration]]
name = "lp-to-hub"
source = { platform = "liveperson" }
target = { platform = "hubster" }
since = "2000-01-01"
"#;

#[tokio::test]
async fn liveperson_to_hubster_migrates_once_and_verifies_with_no_difference() {
    let sim = sim(30).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &sim, &sim, LP_TO_HUB);

    // Another convsync holding the store: refused, exit 4, nothing sent.
    {
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let held = convsync::store::Store::open(&state.join("convsync.redb")).unwrap();
        let out = convsync(&cfg, &["migrate", "lp-to-hub"]).await;
        assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("another convsync is using"));
        drop(held);
        std::fs::remove_dir_all(&state).unwrap();
    }
    assert_eq!(sim.stats().delivered_activities, 0);

    // A dry run converts everything and writes nothing, not even a store.
    let out = ok(&cfg, &["migrate", "lp-to-hub", "--dry-run"]).await;
    let stdout = text(&out.stdout);
    let want: usize = expected(&sim).values().map(Vec::len).sum();
    assert!(
        stdout.contains(&format!(
            "30 conversations, {want} activities would be written"
        )),
        "{stdout}"
    );
    for c in &sim.shared.lp.conversations {
        assert!(stdout.contains(&c.id), "{} not listed", c.id);
    }
    assert_eq!(sim.stats().delivered_activities, 0);
    assert!(sim.shared.ledger().is_empty(), "nothing established");
    assert!(!dir.path().join("state").join("convsync.redb").exists());

    // The migration, then the comparison: 0 differences.
    let out = ok(&cfg, &["migrate", "lp-to-hub", "--verify"]).await;
    let s = summary(&out);
    assert_eq!(s["conversations"], 30);
    assert_eq!(s["written"], want);
    assert!(text(&out.stderr).contains("0 differences"));
    let report: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("state").join("lp-to-hub.verify.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["differences"], 0, "{report}");
    assert_eq!(report["conversations_matching"], 30);
    assert_eq!(report["source_items"], want);
    assert_eq!(report["target_items"], want);
    assert_eq!(sim.shared.ledger_external_ids(), expected(&sim));
    assert_eq!(sim.stats().duplicate_deliveries, 0);

    // Again: nothing new is written.
    let out = ok(&cfg, &["migrate", "lp-to-hub"]).await;
    assert_eq!(summary(&out)["written"], 0);
    assert_eq!(sim.stats().delivered_activities as usize, want);

    let out = convsync(&cfg, &["migrate", "--list"]).await;
    assert!(out.status.success());
    let list = text(&out.stdout);
    assert!(list.contains("lp-to-hub"), "{list}");
    assert!(list.contains("liveperson -> hubster"), "{list}");
    assert!(list.contains("complete at"), "{list}");
}

#[tokio::test]
async fn verify_reports_what_the_target_lacks_doubles_or_reorders() {
    let sim = sim(6).await;
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("activities");
    let m = migration(
        "lp-to-files",
        LP,
        &files(&out_dir, "hubster"),
        "since = \"2000-01-01\"",
    );
    let cfg = config(dir.path(), &sim, &sim, &m);
    ok(&cfg, &["migrate", "lp-to-files", "--verify"]).await;

    // Damage three files: a line lost, a line twice, two lines swapped.
    let ids: Vec<String> = sim
        .shared
        .lp
        .conversations
        .iter()
        .map(|c| c.id.clone())
        .collect();
    let edit = |id: &str, f: &dyn Fn(&mut Vec<String>)| {
        let path = out_dir.join(format!("{id}.jsonl"));
        let mut lines: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        f(&mut lines);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    };
    edit(&ids[0], &|l| {
        l.remove(1);
    });
    edit(&ids[1], &|l| l.push(l[0].clone()));
    edit(&ids[2], &|l| l.swap(0, 1));

    let report_path = dir.path().join("report.json");
    let out = convsync(
        &cfg,
        &[
            "migrate",
            "lp-to-files",
            "--dry-run",
            "--verify",
            "--report",
            report_path.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(r["missing"], 1, "{r}");
    assert_eq!(r["duplicated"], 1, "{r}");
    assert_eq!(r["out_of_order"], 1, "{r}");
    assert_eq!(r["differences"], 3, "{r}");
    assert_eq!(r["conversations_differing"], 3, "{r}");
    let differing: Vec<&str> = r["differing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversation_id"].as_str().unwrap())
        .collect();
    for id in &ids[..3] {
        assert!(differing.contains(&id.as_str()), "{id} not named");
    }
    let human = text(&out.stderr);
    assert!(human.contains("3 differences"), "{human}");
    assert!(human.contains(&ids[0]), "{human}");
}

/// An activity posted to the hub as a client of the engine would.
async fn post_native(hub: &Sim, conversation: &str, side: &str, text: &str, n: usize) {
    let (path, sender, recipient) = match side {
        "customer" => ("customer", "Customer", "Agent"),
        _ => ("business", "Agent", "Customer"),
    };
    let activity = json!({"type": "message", "externalId": format!("native-{conversation}-{n}"),
        "sender": {"integrationId": format!("int-{sender}"), "integrationType": sender, "channelType": "WebChat"},
        "recipient": {"integrationId": format!("int-{recipient}"), "integrationType": recipient},
        "message": {"type": "text", "text": text}});
    let (status, answer) = crate::support::post_inbound(hub, conversation, path, &activity).await;
    assert!((200..300).contains(&status), "{answer}");
}

async fn establish_native(hub: &Sim, binding: &str) -> String {
    let (id, _) = hub
        .shared
        .hub
        .lock()
        .unwrap()
        .establish(binding, "int-Customer");
    id
}

/// The hub's conversations: binding -> activities without the eventIds
/// the hub gave.
fn hub_activities(hub: &Sim) -> BTreeMap<String, Vec<Value>> {
    hub.shared
        .ledger()
        .into_iter()
        .map(|(binding, acts)| {
            let acts = acts
                .into_iter()
                .map(|mut a| {
                    a.as_object_mut().unwrap().remove("eventId");
                    a
                })
                .collect();
            (binding, acts)
        })
        .collect()
}

/// The hub's conversations: binding -> what each activity says and who
/// says it, in order (ids the hub or the conversation id derive are left
/// out: eventId, externalId, interactionId).
fn hub_content(hub: &Sim) -> BTreeMap<String, Vec<Value>> {
    hub.shared
        .ledger()
        .into_iter()
        .map(|(binding, acts)| {
            let acts = acts
                .into_iter()
                .map(|a| {
                    json!({"type": a["type"], "message": a["message"], "event": a["event"],
                        "sender": a["sender"]["integrationType"],
                        "senderId": a["sender"]["integrationId"],
                        "recipient": a["recipient"]["integrationType"]})
                })
                .collect();
            (binding, acts)
        })
        .collect()
}

#[tokio::test]
async fn hubster_to_liveperson_files_to_a_second_hubster_round_trips() {
    let a = sim(8).await;
    let b = sim(0).await;
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    let managers = dir.path().join("managers");
    let to_files = [
        LP_TO_HUB.to_owned(),
        migration("hub-to-files", HUB, &files(&export, "liveperson"), ""),
        migration(
            "as-managers",
            HUB,
            &files(&managers, "liveperson"),
            "[migration.mapping.reverse_roles]\nAgent = \"MANAGER\"",
        ),
    ]
    .concat();
    let cfg_a = config(dir.path(), &a, &a, &to_files);
    let to_b = migration("files-to-hub", &files(&export, "liveperson"), HUB, "");
    let cfg_b = config(dir.path(), &a, &b, &to_b);
    // To the letter (below) holds where the engine stores what it is sent:
    // both hubs take full inbound bodies.
    for cfg in [&cfg_a, &cfg_b] {
        let text = std::fs::read_to_string(cfg).unwrap();
        let text = text.replacen("[hubster]\n", "[hubster]\ninbound_body = \"full\"\n", 1);
        std::fs::write(cfg, text).unwrap();
    }

    // Hub A: the LivePerson conversations, plus conversations and messages
    // of its own (no LivePerson provenance).
    ok(&cfg_a, &["migrate", "lp-to-hub"]).await;
    let first_hub_conv =
        a.shared.hub.lock().unwrap().bindings[&a.shared.lp.conversations[0].id].clone();
    post_native(
        &a,
        &first_hub_conv,
        "business",
        "an agent's word, native",
        1,
    )
    .await;
    let native = establish_native(&a, "web-visitor-42").await;
    post_native(&a, &native, "customer", "hello from the web", 1).await;
    post_native(&a, &native, "business", "hello, how can I help? ✓", 2).await;
    post_native(&a, &native, "customer", "where is my order #123", 3).await;

    // A dry run lists what it would write and writes no file.
    let out = ok(&cfg_a, &["migrate", "hub-to-files", "--dry-run"]).await;
    let dry = text(&out.stdout);
    assert!(
        dry.contains(&format!("{native}: 3 read, 3 records to write")),
        "{dry}"
    );
    assert!(
        dry.contains("dry run of hub-to-files: 9 conversations"),
        "{dry}"
    );
    assert!(!export.exists());

    // Hub A -> LivePerson files, verified.
    let out = ok(&cfg_a, &["migrate", "hub-to-files", "--verify"]).await;
    assert!(
        text(&out.stderr).contains("0 differences"),
        "{}",
        text(&out.stderr)
    );
    let s = summary(&out);
    assert_eq!(s["conversations"], 9);
    let doc: Value =
        serde_json::from_slice(&std::fs::read(export.join("web-visitor-42.json")).unwrap())
            .unwrap();
    let recs = doc["messageEventRecords"].as_array().unwrap();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0]["originatorMetadata"]["role"], "CONSUMER");
    assert_eq!(recs[1]["originatorMetadata"]["role"], "ASSIGNED_AGENT");
    assert_eq!(recs[1]["event"]["message"], "hello, how can I help? ✓");

    // The same with a mapping override of this migration's own.
    ok(&cfg_a, &["migrate", "as-managers"]).await;
    let doc: Value =
        serde_json::from_slice(&std::fs::read(managers.join("web-visitor-42.json")).unwrap())
            .unwrap();
    let roles: Vec<&str> = doc["messageEventRecords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["originatorMetadata"]["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["CONSUMER", "MANAGER", "CONSUMER"]);

    // LivePerson files -> hub B, verified.
    let out = ok(&cfg_b, &["migrate", "files-to-hub", "--verify"]).await;
    assert!(
        text(&out.stderr).contains("0 differences"),
        "{}",
        text(&out.stderr)
    );

    // Hub B holds what hub A held: content, order, sender types, under the
    // same bindings.
    let in_a = hub_content(&a);
    let in_b = hub_content(&b);
    assert_eq!(in_b.len(), 9);
    assert_eq!(in_b, in_a);
    // To the letter, but for the eventIds each hub gave: the same bindings
    // (LivePerson conversation ids, or the native binding) and externalIds.
    assert_eq!(hub_activities(&b), hub_activities(&a));
    assert_eq!(b.stats().duplicate_deliveries, 0);

    // Incremental both ways: one new message, one new activity each.
    post_native(&a, &native, "business", "it ships tomorrow", 4).await;
    let out = ok(&cfg_a, &["migrate", "hub-to-files"]).await;
    assert_eq!(summary(&out)["written"], 1);
    let out = ok(&cfg_b, &["migrate", "files-to-hub"]).await;
    assert_eq!(summary(&out)["written"], 1);
    assert_eq!(hub_content(&b)["web-visitor-42"].len(), 4);
    assert_eq!(
        hub_content(&b)["web-visitor-42"][3]["message"]["text"],
        "it ships tomorrow"
    );
    // And a finished migration run again writes nothing.
    for (cfg, name) in [(&cfg_a, "hub-to-files"), (&cfg_b, "files-to-hub")] {
        let out = ok(cfg, &["migrate", name]).await;
        assert_eq!(summary(&out)["written"], 0, "{name}");
    }
}

#[tokio::test]
async fn stdout_target_prints_every_conversation_and_keeps_no_state() {
    let sim = sim(4).await;
    let dir = tempfile::tempdir().unwrap();
    let m = "[[migration]]\nname = \"peek\"\nsource = { platform = \"liveperson\" }\ntarget = { platform = \"stdout\" }\nsince = \"2000-01-01\"\n";
    let cfg = config(dir.path(), &sim, &sim, m);
    for _ in 0..2 {
        let out = ok(&cfg, &["migrate", "peek"]).await;
        let lines: Vec<Value> = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        let got: BTreeMap<String, Vec<String>> = lines
            .iter()
            .map(|l| {
                (
                    l["conversationId"].as_str().unwrap().to_owned(),
                    l["activities"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a["externalId"].as_str().unwrap().to_owned())
                        .collect(),
                )
            })
            .collect();
        assert_eq!(got, expected(&sim));
    }
    assert!(!dir.path().join("state").join("convsync.redb").exists());
    assert_eq!(sim.stats().delivered_activities, 0);
    let out = convsync(&cfg, &["migrate", "peek", "--verify"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--verify needs a Hubster or files target"));
}

#[tokio::test]
async fn bad_migration_configs_name_the_key_and_exit_2() {
    let sim = sim(1).await;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[migration]]\nname = \"m\"\nsource = { platform = \"zendesk\" }\ntarget = { platform = \"hubster\" }\n",
            "migration.source",
            "unknown platform `zendesk`",
        ),
        (
            "[[migration]]\nname = \"m\"\nsource = { platform = \"liveperson\" }\ntarget = { platform = \"hubster\" }\nwindow_days = 200\n",
            "migration.window_days",
            "wider than allowed",
        ),
    ];
    for (m, key, words) in cases {
        let cfg = config(dir.path(), &sim, &sim, m);
        let out = convsync(&cfg, &["migrate", "m"]).await;
        assert_eq!(out.status.code(), Some(2), "{m}");
        let e = text(&out.stderr);
        assert!(e.contains(cfg.to_str().unwrap()), "names the file: {e}");
        assert!(e.contains(key) && e.contains(words), "{e}");
    }
    // Missing credentials: a config without [liveperson].
    let path = dir.path().join("no-lp.toml");
    std::fs::write(
        &path,
        "[[migration]]\nname = \"m\"\nsource = { platform = \"liveperson\" }\ntarget = { platform = \"files\", dir = \"x\", format = \"hubster\" }\n",
    )
    .unwrap();
    let out = convsync(&path, &["migrate", "m"]).await;
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out.stderr);
    assert!(
        e.contains("migration.source.platform") && e.contains("[liveperson]"),
        "{e}"
    );
    // A name not configured.
    let cfg = config(dir.path(), &sim, &sim, LP_TO_HUB);
    let out = convsync(&cfg, &["migrate", "lp-to-hubb"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("there are: lp-to-hub"));
}

#[tokio::test]
async fn a_poison_conversation_is_set_aside_and_the_rest_migrate() {
    let sim = sim(5).await;
    let dir = tempfile::tempdir().unwrap();
    let acts = dir.path().join("activities");
    let lp = dir.path().join("lp");
    let m = migration(
        "to-activities",
        LP,
        &files(&acts, "hubster"),
        "since = \"2000-01-01\"",
    ) + &migration(
        "to-lp",
        &files(&acts, "hubster"),
        &files(&lp, "liveperson"),
        "",
    );
    let cfg = config(dir.path(), &sim, &sim, &m);
    ok(&cfg, &["migrate", "to-activities"]).await;
    // A file broken in its middle (not a line cut short, which is passed over).
    std::fs::write(
        acts.join("poison.jsonl"),
        "{\"type\":\"message\",\"eventId\":1,\"message\":{\"type\":\"text\",\"text\":\"a\"}}\n{not json\n{\"type\":\"message\",\"eventId\":3,\"message\":{\"type\":\"text\",\"text\":\"b\"}}\n",
    )
    .unwrap();
    let out = convsync(&cfg, &["migrate", "to-lp", "--verify"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("poison.jsonl") && err.contains("line 2"),
        "{err}"
    );
    let s = summary(&out);
    assert_eq!(s["dead_letters"], 1);
    assert_eq!(s["conversations"], 6);
    for c in &sim.shared.lp.conversations {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(lp.join(format!("{}.json", c.id))).unwrap())
                .unwrap();
        let n = doc["messageEventRecords"].as_array().unwrap().len();
        assert_eq!(n, sim.shared.lp.records(c).len(), "{}", c.id);
    }
    assert!(!lp.join("poison.json").exists());
    assert!(err.contains("dead-letters --pipeline to-lp list"), "{err}");

    // Listed under the migration's name; mended, a retry writes it.
    let out = ok(&cfg, &["dead-letters", "--pipeline", "to-lp", "list"]).await;
    let list = text(&out.stdout);
    assert!(list.starts_with("poison  source"), "{list}");
    assert!(list.contains("poison.jsonl: line 2"), "{list}");
    std::fs::write(
        acts.join("poison.jsonl"),
        "{\"type\":\"message\",\"eventId\":1,\"sender\":{\"integrationType\":\"Customer\"},\"message\":{\"type\":\"text\",\"text\":\"a\"}}\n{\"type\":\"message\",\"eventId\":3,\"sender\":{\"integrationType\":\"Agent\"},\"message\":{\"type\":\"text\",\"text\":\"b\"}}\n",
    )
    .unwrap();
    let out = ok(
        &cfg,
        &["dead-letters", "--pipeline", "to-lp", "retry", "poison"],
    )
    .await;
    assert_eq!(text(&out.stdout).trim(), "poison: wrote 2");
    let out = convsync(&cfg, &["dead-letters", "--pipeline", "to-lp", "list"]).await;
    assert_eq!(text(&out.stdout), "");
    let out = ok(&cfg, &["migrate", "to-lp", "--verify"]).await;
    assert_eq!(summary(&out)["written"], 0);
}

#[tokio::test]
async fn a_killed_hubster_export_goes_on_and_writes_nothing_twice() {
    let hub = sim(0).await;
    let conversations = 300;
    {
        let mut h = hub.shared.hub.lock().unwrap();
        for c in 0..conversations {
            let (id, _) = h.establish(&format!("visitor-{c}"), "int-Customer");
            for k in 0..12 {
                let (from, to) = if k % 2 == 0 {
                    ("Customer", "Agent")
                } else {
                    ("Agent", "Customer")
                };
                let a = json!({"type": "message", "externalId": format!("n-{c}-{k}"),
                    "sender": {"integrationId": format!("int-{from}"), "integrationType": from},
                    "recipient": {"integrationId": format!("int-{to}"), "integrationType": to},
                    "message": {"type": "text", "text": format!("message {k} of {c}")}});
                h.deliver(&id, a, "customer", format!("i-{c}-{k}")).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    let m = migration("export", HUB, &files(&export, "liveperson"), "");
    let cfg = config(dir.path(), &hub, &hub, &m);
    // Slow enough to be killed in the middle: 3 reads a conversation at 150/s.
    let text_cfg = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("requests_per_second = 2000", "requests_per_second = 150");
    std::fs::write(&cfg, text_cfg).unwrap();

    let start = || crate::support::spawn(&cfg, &["migrate", "export"]);
    let count = || json_files(&export);

    // SIGTERM: it stops after the conversations in flight, exit 130, and
    // says it has not finished.
    let mut child = start();
    until_files(&mut child, &export, 10).await;
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    // (Waited for without blocking: the simulator runs on this thread.)
    let (status, _) =
        crate::support::wait_exit(&mut child, std::time::Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(130));
    let out = convsync(&cfg, &["migrate", "--list"]).await;
    assert!(
        text(&out.stdout).contains("not finished"),
        "{}",
        text(&out.stdout)
    );

    // SIGKILL, on the second run.
    let mut child = start();
    until_files(&mut child, &export, count() + 10).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let before = count();
    assert!(
        before < conversations,
        "killed in the middle ({before} files)"
    );
    let fast = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("requests_per_second = 150", "requests_per_second = 2000");
    std::fs::write(&cfg, fast).unwrap();

    let out = ok(&cfg, &["migrate", "export", "--verify"]).await;
    assert!(text(&out.stderr).contains("0 differences"));
    assert_eq!(count(), conversations);
    for e in std::fs::read_dir(&export).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let recs = doc["messageEventRecords"].as_array().unwrap();
        let seqs: Vec<i64> = recs
            .iter()
            .map(|r| r["sequence"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, (0..12).collect::<Vec<_>>(), "{}", path.display());
    }
}

#[tokio::test]
async fn jsonl_from_generate_and_convert_are_sources_and_a_bad_line_is_set_aside() {
    let hub = sim(0).await;
    let dir = tempfile::tempdir().unwrap();
    let lp_dir = dir.path().join("lp");
    let acts_dir = dir.path().join("acts");
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&lp_dir).unwrap();
    std::fs::create_dir_all(&acts_dir).unwrap();
    let history = lp_dir.join("history.jsonl");
    let run = |args: &[&str]| {
        let out = crate::support::command(None, args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    };
    run(&[
        "generate",
        "--conversations",
        "20",
        "--messages",
        "8",
        "-o",
        history.to_str().unwrap(),
    ]);
    let converted = acts_dir.join("converted.jsonl");
    run(&[
        "convert",
        "--from",
        "liveperson",
        history.to_str().unwrap(),
        "-o",
        converted.to_str().unwrap(),
        "--report",
        "none",
    ]);
    let m = migration("gen-to-hub", &files(&lp_dir, "liveperson"), HUB, "")
        + &migration(
            "acts-to-lp",
            &files(&acts_dir, "hubster"),
            &files(&out_dir, "liveperson"),
            "",
        );
    let cfg = config(dir.path(), &hub, &hub, &m);

    // Generated LivePerson JSONL -> the hub: what `convert` makes of it.
    let out = ok(&cfg, &["migrate", "gen-to-hub", "--verify"]).await;
    assert!(text(&out.stderr).contains("0 differences"));
    let want: BTreeMap<String, Vec<String>> = std::fs::read_to_string(&converted)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let ids = v["activities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["externalId"].as_str().unwrap().to_owned())
                .collect();
            (v["conversationId"].as_str().unwrap().to_owned(), ids)
        })
        .collect();
    assert_eq!(want.len(), 20);
    assert_eq!(hub.shared.ledger_external_ids(), want);

    // `convert`'s Hubster JSONL -> LivePerson files.
    let out = ok(&cfg, &["migrate", "acts-to-lp", "--verify"]).await;
    assert!(text(&out.stderr).contains("0 differences"));
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 20);

    // A line that is not a conversation is one dead letter, named by file
    // and line; the rest is untouched.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&history)
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"records\": \"truncated\n").unwrap();
    let out = convsync(&cfg, &["migrate", "gen-to-hub"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let s = summary(&out);
    assert_eq!(
        (s["dead_letters"].as_u64(), s["written"].as_u64()),
        (Some(1), Some(0))
    );
    let out = convsync(&cfg, &["dead-letters", "--pipeline", "gen-to-hub", "list"]).await;
    let list = text(&out.stdout);
    assert!(
        list.contains("history.jsonl:21") && list.contains("line 21"),
        "{list}"
    );

    // A conversation file that is not JSON is set aside too; mended, the
    // next run migrates it and it leaves the dead letters.
    let mut lines: Vec<String> = std::fs::read_to_string(&history)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.pop();
    std::fs::write(&history, lines.join("\n") + "\n").unwrap();
    std::fs::write(lp_dir.join("late.json"), "{\"messageEventRecords\": [").unwrap();
    let out = convsync(&cfg, &["migrate", "gen-to-hub"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let record = r#"{"type":"ContentEvent","dialogId":"late","sequence":0,"serverTimestamp":1767312000000,
        "originatorId":"c1","originatorMetadata":{"id":"c1","role":"CONSUMER"},
        "event":{"type":"ContentEvent","message":"hello, late","contentType":"text/plain"}}"#;
    std::fs::write(
        lp_dir.join("late.json"),
        format!("{{\"messageEventRecords\": [{record}]}}"),
    )
    .unwrap();
    let out = ok(&cfg, &["migrate", "gen-to-hub"]).await;
    assert_eq!(summary(&out)["written"], 1);
    let out = convsync(&cfg, &["dead-letters", "--pipeline", "gen-to-hub", "list"]).await;
    let list = text(&out.stdout);
    assert!(!list.contains("late"), "{list}");
    assert_eq!(hub.shared.ledger_external_ids()["late"].len(), 1);
}

fn json_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count()
    })
}

/// Waits until `dir` holds `n` JSON files while `child` runs.
async fn until_files(child: &mut std::process::Child, dir: &Path, n: usize) {
    crate::support::wait_for("the files", std::time::Duration::from_secs(60), || {
        assert!(child.try_wait().unwrap().is_none(), "finished too soon");
        json_files(dir) >= n
    })
    .await;
}

#[tokio::test]
async fn verify_counts_what_arrived_after_the_migration_as_pending() {
    let sim = crate::support::sim(SimConfig {
        conversations: 8,
        growth: 3,
        // Growth comes only when the test moves the clock.
        grow_every: std::time::Duration::from_secs(3600),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &sim, &sim, LP_TO_HUB);
    ok(&cfg, &["migrate", "lp-to-hub"]).await;
    // Every growth record visible now.
    crate::support::grow_all(&sim);
    let report_path = dir.path().join("r.json");
    let verify = |report: &Path| {
        let report = report.to_str().unwrap().to_owned();
        let cfg = cfg.clone();
        async move {
            let args = [
                "migrate",
                "lp-to-hub",
                "--dry-run",
                "--verify",
                "--report",
                &report,
            ];
            convsync(&cfg, &args).await
        }
    };
    let out = verify(&report_path).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let pending = r["pending"].as_u64().unwrap();
    assert!(pending > 0, "{r}");
    assert_eq!(
        (r["differences"].as_u64(), r["missing"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    assert!(text(&out.stderr).contains(&format!("pending {pending}")));
    // The next run writes exactly those; then nothing is pending.
    let out = ok(&cfg, &["migrate", "lp-to-hub"]).await;
    let written = summary(&out)["written"].as_u64().unwrap();
    assert_eq!(written, pending);
    let out = verify(&report_path).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(
        (r["pending"].as_u64(), r["differences"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    assert_eq!(sim.shared.ledger_external_ids(), expected(&sim));
}

#[tokio::test]
async fn a_killed_liveperson_migration_goes_on_and_delivers_once() {
    let sim = sim(120).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &sim, &sim, LP_TO_HUB);
    let slow = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("requests_per_second = 2000", "requests_per_second = 300");
    std::fs::write(&cfg, slow).unwrap();
    let mut child = crate::support::spawn(&cfg, &["migrate", "lp-to-hub"]);
    crate::support::wait_for("300 activities", std::time::Duration::from_secs(60), || {
        assert!(child.try_wait().unwrap().is_none(), "finished too soon");
        sim.stats().delivered_activities >= 300
    })
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = sim.stats().delivered_activities as usize;
    let want: usize = expected(&sim).values().map(Vec::len).sum();
    assert!(partial < want, "killed in the middle: {partial} of {want}");
    let fast = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("requests_per_second = 300", "requests_per_second = 2000");
    std::fs::write(&cfg, fast).unwrap();

    let out = ok(&cfg, &["migrate", "lp-to-hub", "--verify"]).await;
    assert!(text(&out.stderr).contains("0 differences"));
    assert_eq!(sim.shared.ledger_external_ids(), expected(&sim));
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    assert_eq!(sim.stats().delivered_activities as usize, want);
}

#[tokio::test]
async fn a_migration_from_files_keeps_its_checkpoints_through_a_prune_and_sends_nothing_again() {
    let hub = sim(0).await;
    let dir = tempfile::tempdir().unwrap();
    let lp_dir = dir.path().join("lp");
    std::fs::create_dir_all(&lp_dir).unwrap();
    // `generate` writes conversations of November 2023: older than any
    // retention LivePerson's API could still return.
    let history = lp_dir.join("history.jsonl");
    let out = crate::support::command(
        None,
        &["generate", "--conversations", "12", "--messages", "6", "-o"],
    )
    .arg(history)
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let m = migration("gen-to-hub", &files(&lp_dir, "liveperson"), HUB, "");
    let cfg = config(dir.path(), &hub, &hub, &m);
    let out = ok(&cfg, &["migrate", "gen-to-hub"]).await;
    let written = summary(&out)["written"].as_u64().unwrap();
    assert!(written > 12, "{}", text(&out.stdout));
    let delivered = hub.shared.stats().delivered_activities;

    // A prune cycle, with retention at its default and as of a year later.
    let later = (convsync::clock::now_ms() + 365 * 24 * 3600 * 1000).to_string();
    let out = ok(&cfg, &["prune", "--as-of", &later]).await;
    let pruned = text(&out.stdout);
    assert!(!pruned.contains("gen-to-hub"), "{pruned}");

    let out = ok(&cfg, &["migrate", "gen-to-hub"]).await;
    let s = summary(&out);
    assert_eq!(s["written"], 0, "{s}");
    assert_eq!(hub.shared.stats().delivered_activities, delivered);
    assert_eq!(hub.shared.stats().duplicate_deliveries, 0);
    assert_eq!(hub.shared.ledger_external_ids().len(), 12);
}
