//! The hub is the truth: a store lost, put back from a backup or from an
//! older copy never makes convsync post anything twice. The real binary,
//! the simulator over loopback, real redb files.

use crate::support::{
    command, convsync, expected_ledger, grow_all, output_of, spawn, wait_exit, wait_for,
};
use convsync::sim::{Sim, SimConfig};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

/// How long a test waits for something that should happen (never what it
/// measures).
const LIMIT: Duration = Duration::from_secs(60);

struct World {
    sim: Sim,
    config: PathBuf,
    state: PathBuf,
    dir: tempfile::TempDir,
}

/// A daemon's config against a simulator, with `extra` appended.
async fn world(cfg: SimConfig, extra: &str) -> World {
    let sim = crate::support::sim(cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let text = format!(
        "{platforms}\n[sync]\nstate_dir = {state:?}\npoll_interval_secs = 0.2\nconcurrency = 8\nsince = \"2000-01-01\"\nmetrics_listen = \"127.0.0.1:0\"\n{extra}\n",
        platforms = crate::support::platforms_toml(&sim, &sim),
    );
    let config = dir.path().join("convsync.toml");
    std::fs::write(&config, text).unwrap();
    World {
        sim,
        config,
        state,
        dir,
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl World {
    /// `convsync ARGS` to its end, logging warnings; insists on exit 0.
    async fn ok(&self, args: &[&str]) -> Output {
        let mut cmd = command(Some(&self.config), args);
        cmd.env("RUST_LOG", "warn");
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        out
    }

    fn store(&self) -> PathBuf {
        self.state.join("convsync.redb")
    }

    /// Every activity in the hub exactly once, in order, and none posted
    /// twice on the way.
    fn assert_exact(&self, grown: bool) {
        assert_eq!(self.sim.stats().duplicate_deliveries, 0, "posted twice");
        assert_eq!(
            self.sim.shared.ledger_external_ids(),
            expected_ledger(&self.sim, grown)
        );
    }

    fn activities_expected(&self, grown: bool) -> u64 {
        expected_ledger(&self.sim, grown)
            .values()
            .map(|v| v.len() as u64)
            .sum()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_state_directory_posts_nothing_twice() {
    let w = world(
        SimConfig {
            conversations: 40,
            messages: 6,
            growth: 0,
            ..SimConfig::default()
        },
        "",
    )
    .await;
    // A first run, killed partway: the hub holds part of the history.
    let mut child = spawn(&w.config, &["run"]);
    wait_for("the first deliveries", LIMIT, || {
        w.sim.stats().delivered_activities >= 40
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    // The state directory is lost (a new machine, a volume not carried over).
    std::fs::remove_dir_all(&w.state).unwrap();
    let out = w.ok(&["run", "--until-idle"]).await;
    w.assert_exact(false);
    assert!(
        text(&out.stderr).contains("rebuilt it from the target"),
        "{}",
        text(&out.stderr)
    );
    // Lost again, with everything delivered: nothing is posted at all.
    let posted = w.sim.stats().delivered_activities;
    std::fs::remove_dir_all(&w.state).unwrap();
    w.ok(&["run", "--until-idle"]).await;
    assert_eq!(w.sim.stats().delivered_activities, posted);
    w.assert_exact(false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_put_back_from_a_live_backup_posts_nothing_twice() {
    let w = world(
        SimConfig {
            conversations: 30,
            messages: 4,
            growth: 3,
            grow_every: Duration::from_millis(300),
            ..SimConfig::default()
        },
        "",
    )
    .await;
    let mut daemon = command(Some(&w.config), &["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first deliveries", LIMIT, || {
        w.sim.stats().delivered_activities >= 30
    })
    .await;
    // A backup while the daemon runs: it takes the copy (it holds the store).
    let backup = w.dir.path().join("backup.redb");
    let out = w.ok(&["store", "backup", backup.to_str().unwrap()]).await;
    assert!(text(&out.stdout).contains("wrote"), "{}", text(&out.stdout));
    let checked = w
        .ok(&["store", "check", "--json", backup.to_str().unwrap()])
        .await;
    let checked: Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert!(checked["backup_of"].is_array(), "{checked}");
    let in_backup = checked["pipelines"]["liveperson-to-hubster"][2]
        .as_u64()
        .unwrap();
    // The run goes on to its end, then stops.
    grow_all(&w.sim);
    let want = w.activities_expected(true);
    wait_for("every activity delivered", LIMIT, || {
        w.sim.shared.ledger_external_ids() == expected_ledger(&w.sim, true)
    })
    .await;
    assert!(
        in_backup < want,
        "the backup was taken partway ({in_backup} of {want} delivered)"
    );
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let (status, _) = wait_exit(&mut daemon, LIMIT).await;
    assert!(status.success());
    // The backup put back; the next run reads the hub before sending.
    std::fs::copy(&backup, w.store()).unwrap();
    let posted = w.sim.stats().delivered_activities;
    let out = w.ok(&["run", "--until-idle"]).await;
    assert!(
        text(&out.stderr).contains("found restored from a backup"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(w.sim.stats().delivered_activities, posted);
    w.assert_exact(true);
    // `status` says what was found.
    let st = w.ok(&["status"]).await;
    assert!(
        text(&st.stdout).contains("found restored from a backup"),
        "{}",
        text(&st.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_older_copy_of_the_store_put_back_posts_nothing_twice() {
    let w = world(
        SimConfig {
            conversations: 24,
            messages: 4,
            growth: 3,
            // Grown only when the test says.
            grow_every: Duration::from_secs(3600),
            ..SimConfig::default()
        },
        "",
    )
    .await;
    w.ok(&["run", "--until-idle"]).await;
    w.assert_exact(false);
    // A copy of the file, as any file copy or volume snapshot takes it.
    let copy = w.dir.path().join("copy.redb");
    std::fs::copy(w.store(), &copy).unwrap();
    grow_all(&w.sim);
    w.ok(&["run", "--until-idle"]).await;
    w.assert_exact(true);
    // The older copy put back: its marker says it is behind.
    std::fs::copy(&copy, w.store()).unwrap();
    let doctor = w.ok(&["doctor", "--json"]).await;
    let report: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let store_check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "store")
        .cloned()
        .unwrap();
    assert_eq!(store_check["outcome"], "warn", "{store_check}");
    let posted = w.sim.stats().delivered_activities;
    let out = w.ok(&["run", "--until-idle"]).await;
    assert!(
        text(&out.stderr).contains("found restored from an older copy"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(w.sim.stats().delivered_activities, posted);
    w.assert_exact(true);
    // Believed again once read: the next run reads nothing of the hub.
    let reads = |w: &World| {
        w.sim
            .stats()
            .requests
            .iter()
            .filter(|(e, _)| *e == "hubster.get_activities")
            .flat_map(|(_, s)| s.values())
            .sum::<u64>()
    };
    let before = reads(&w);
    let out = w.ok(&["run", "--until-idle"]).await;
    assert!(
        !text(&out.stderr).contains("found"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(reads(&w), before, "an intact store reads nothing back");
}

const MIGRATIONS: &str = r#"
[[migration]]
name = "lp-to-hub"
source = { platform = "liveperson" }
target = { platform = "hubster" }
since = "2000-01-01"
"#;

/// A migration to files, from `source`.
fn to_files(name: &str, source: &str, dir: &Path, format: &str) -> String {
    format!(
        "\n[[migration]]\nname = \"{name}\"\nsource = {{ platform = \"{source}\" }}\ntarget = {{ platform = \"files\", dir = {dir:?}, format = \"{format}\" }}\nsince = \"2000-01-01\"\n"
    )
}

/// Every file in `dir`, by name, with its bytes.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrations_run_again_with_their_store_lost_write_nothing_twice() {
    let (dir, export) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let jsonl = dir.path().join("activities");
    let lp_files = export.path().join("liveperson");
    let extra = format!(
        "{MIGRATIONS}{}{}",
        to_files("lp-to-files", "liveperson", &jsonl, "hubster"),
        to_files("hub-to-files", "hubster", &lp_files, "liveperson")
    );
    let w = world(
        SimConfig {
            conversations: 20,
            messages: 5,
            growth: 0,
            ..SimConfig::default()
        },
        &extra,
    )
    .await;
    for m in ["lp-to-hub", "lp-to-files", "hub-to-files"] {
        w.ok(&["migrate", m]).await;
    }
    w.assert_exact(false);
    let (jsonl_before, lp_before) = (files(&jsonl), files(&lp_files));
    assert_eq!(jsonl_before.len(), 20);
    assert!(!lp_before.is_empty());

    std::fs::remove_dir_all(&w.state).unwrap();
    let posted = w.sim.stats().delivered_activities;
    for m in ["lp-to-hub", "lp-to-files", "hub-to-files"] {
        w.ok(&["migrate", m]).await;
    }
    // Into the hub: read back, nothing posted again.
    assert_eq!(w.sim.stats().delivered_activities, posted);
    w.assert_exact(false);
    // Into files: each as it was, no line twice.
    assert_eq!(files(&jsonl), jsonl_before);
    assert_eq!(files(&lp_files), lp_before);
}

#[tokio::test]
async fn store_check_refuses_what_is_not_a_whole_store_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("convsync.redb");
    {
        let s = convsync::store::Store::open(&path).unwrap();
        for i in 0..50 {
            let st = convsync::store::ConversationState {
                delivered: i,
                ..Default::default()
            };
            s.checkpoint("p", &format!("c{i}"), &st, &[]).unwrap();
        }
    }
    let cut = dir.path().join("cut.redb");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let foreign = dir.path().join("notes.redb");
    std::fs::write(&foreign, "not a database ".repeat(400)).unwrap();
    for bad in [&cut, &foreign] {
        let before = std::fs::read(bad).unwrap();
        let out = output_of(
            command(None, &["store", "check", bad.to_str().unwrap()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
        .await;
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(
            err.contains(bad.to_str().unwrap()) && err.contains("move it aside"),
            "{err}"
        );
        // A daemon or a run pointed at it refuses it the same way.
        let state = dir.path().join(format!(
            "state-{}",
            bad.file_name().unwrap().to_string_lossy()
        ));
        std::fs::create_dir_all(&state).unwrap();
        std::fs::copy(bad, state.join("convsync.redb")).unwrap();
        let cfg = dir.path().join("c.toml");
        std::fs::write(&cfg, format!("[sync]\nstate_dir = {state:?}\n")).unwrap();
        let out = convsync(&cfg, &["status"]).await;
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("move it aside"),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(std::fs::read(state.join("convsync.redb")).unwrap(), before);
        assert_eq!(std::fs::read(bad).unwrap(), before, "nothing overwritten");
    }
    let out =
        crate::support::run(None, &["store", "check", "--json", path.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let k: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(k["pipelines"]["p"][0], 50);
}
