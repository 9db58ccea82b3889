//! Reading a LivePerson as strict as its documentation (`sim --strict`):
//! content search only for a consumer's JWT, transcripts by Messaging
//! Interactions for a brand's app key, silent paging, internal links, a
//! daemon's `since` that long-running conversations outlive.

use crate::support::{app_key, convsync, platforms_toml};
use convsync::http::Metrics;
use convsync::platform::liveperson::{
    LivePersonClient, LivePersonConfig, LpAuth, Search, TranscriptRoute,
};
use convsync::platform::secret::SecretSource;
use convsync::sim::{Sim, SimConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

async fn strict(cfg: SimConfig) -> Sim {
    crate::support::sim(SimConfig {
        liveperson_strict: true,
        ..cfg
    })
    .await
}

fn client(sim: &Sim, auth: LpAuth, transcripts: TranscriptRoute) -> LivePersonClient {
    let toml = format!(
        "account = {:?}\nsource = \"convsync_tests\"\ncsds_url = {:?}\n[auth]\nbearer = {{ value = \"x\" }}\n[http]\nrequests_per_second = 1000\nburst = 100\nserver_error_delays_secs = [0.01]\ntransient_backoff_secs = 0.01\nmax_backoff_secs = 0.1\n",
        sim.shared.creds.account,
        sim.base_url()
    );
    let mut cfg: LivePersonConfig = toml::from_str(&toml).unwrap();
    cfg.auth = auth;
    cfg.transcripts = transcripts;
    LivePersonClient::new(&cfg, Arc::new(Metrics::default())).unwrap()
}

/// A config for the daemon against `sim`, its LivePerson reading with the
/// brand's app key; `sync_extra` goes into `[sync]`.
fn app_key_config(dir: &Path, sim: &Sim, sync_extra: &str) -> PathBuf {
    let c = &sim.shared.creds;
    let platforms = platforms_toml(sim, sim).replacen(
        &format!("[liveperson.auth]\nbearer = {{ value = \"{}\" }}\n", c.bearer),
        &format!(
            "[liveperson.auth]\nconsumer_key = {{ value = \"{}\" }}\nconsumer_secret = {{ value = \"{}\" }}\ntoken = {{ value = \"{}\" }}\ntoken_secret = {{ value = \"{}\" }}\n",
            c.consumer_key, c.consumer_secret, c.token, c.token_secret
        ),
        1,
    );
    assert!(platforms.contains("consumer_key"), "{platforms}");
    let text = format!(
        "{platforms}\n[sync]\nstate_dir = {:?}\npoll_interval_secs = 0.2\nmetrics_listen = \"\"\n{sync_extra}\n",
        dir.join("state"),
    );
    let path = dir.join("convsync.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn requests(sim: &Sim, endpoint: &str, status: u16) -> u64 {
    sim.stats()
        .requests
        .get(endpoint)
        .and_then(|m| m.get(&status))
        .copied()
        .unwrap_or(0)
}

fn expected(sim: &Sim, grown: bool) -> BTreeMap<String, Vec<String>> {
    crate::support::expected_ledger(sim, grown)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn an_app_key_syncs_every_conversation_once_by_interactions_and_remembers_it() {
    let sim = strict(SimConfig {
        conversations: 40,
        growth: 0,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = app_key_config(dir.path(), &sim, "since = \"2000-01-01\"");
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");

    // Every conversation exactly once and in order, with the externalIds
    // content search would have given.
    assert_eq!(sim.shared.ledger_external_ids(), expected(&sim, false));
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    // A brand's app key never asks content search (documented for a
    // consumer's JWT).
    let refused = requests(&sim, "lp.content_search", 401);
    assert_eq!(refused, 0, "{err}");
    // Transcripts rode on discovery and batches, never a heavy default.
    assert_eq!(sim.stats().searches_without_content_to_retrieve, 0);
    // (One a cycle refetches partial ones; one batch brings 40 transcripts.
    // One at a time would be 40.)
    let by_id = requests(&sim, "lp.conversation_search", 200);
    assert!(by_id <= 6, "{by_id} conversation/search calls for 40");

    // The choice is remembered: a second run does not ask content search.
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(requests(&sim, "lp.content_search", 401), refused);
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    sim.stop().await;
}

#[tokio::test]
async fn a_next_link_to_an_internal_host_is_not_followed() {
    // The documentation's own links point at https://localhost:8082
    // without `source`: convsync pages by its own offset.
    let sim = strict(SimConfig {
        conversations: 250,
        growth: 0,
        ..SimConfig::default()
    })
    .await;
    let lp = client(&sim, app_key(&sim), TranscriptRoute::Auto);
    let now = convsync::clock::now_ms();
    let q = Search {
        start_from: now - 40 * 24 * 3600 * 1000,
        start_to: now,
        status: vec!["OPEN".into(), "CLOSE".into()],
        latest_update_from: None,
    };
    let found = lp.search(&q).await.unwrap();
    let ids: BTreeSet<&str> = found.iter().map(|c| c.conversation_id.as_str()).collect();
    assert_eq!(ids.len(), 250);
    assert_eq!(requests(&sim, "lp.conversations_search", 200), 3);
    sim.stop().await;
}

#[tokio::test]
async fn content_search_that_pages_without_saying_so_is_read_whole() {
    // Strict content search answers 50 records unless asked for more, and
    // says nothing of the rest.
    let sim = strict(SimConfig {
        conversations: 4,
        messages: 90,
        growth: 0,
        ..SimConfig::default()
    })
    .await;
    let jwt = LpAuth::Bearer(SecretSource::Value(sim.shared.creds.consumer_jwt.clone()));
    let lp = client(&sim, jwt, TranscriptRoute::ContentSearch);
    let mut long = 0;
    for c in &sim.shared.lp.conversations {
        let want: BTreeSet<String> = sim
            .shared
            .lp
            .records(c)
            .iter()
            .map(|r| r.to_string())
            .collect();
        if want.len() > 100 {
            long += 1;
        }
        let got = lp.content(&c.id).await.unwrap();
        assert_eq!(got.len(), want.len(), "conversation {}", c.id);
        let got: BTreeSet<String> = got.iter().map(|r| r.to_string()).collect();
        assert_eq!(got, want, "conversation {}", c.id);
    }
    assert!(long > 0, "a conversation longer than two pages");
    // A brand's app key is refused there, as documented.
    let brand = client(&sim, app_key(&sim), TranscriptRoute::ContentSearch);
    let id = &sim.shared.lp.conversations[0].id;
    let e = brand.content(id).await.unwrap_err();
    assert!(e.is_refused(), "{e}");
    sim.stop().await;
}

#[tokio::test]
async fn both_routes_give_the_same_identities() {
    let sim = strict(SimConfig {
        conversations: 30,
        growth: 0,
        ..SimConfig::default()
    })
    .await;
    let jwt = LpAuth::Bearer(SecretSource::Value(sim.shared.creds.consumer_jwt.clone()));
    let by_search = client(&sim, jwt, TranscriptRoute::ContentSearch);
    let by_interactions = client(&sim, app_key(&sim), TranscriptRoute::Interactions);
    let ids: Vec<String> = sim
        .shared
        .lp
        .conversations
        .iter()
        .map(|c| c.id.clone())
        .collect();
    by_interactions.hint(&ids);
    let identity = |id: &str, records: &[serde_json::Value]| -> BTreeSet<String> {
        records
            .iter()
            .map(|r| convsync::format::identity::record_identity(id, r))
            .collect()
    };
    for id in &ids {
        let a = by_search.transcript(id).await.unwrap();
        let b = by_interactions.transcript(id).await.unwrap();
        assert_eq!(a.records.len(), b.records.len(), "conversation {id}");
        assert_eq!(
            identity(id, &a.records),
            identity(id, &b.records),
            "conversation {id}"
        );
        let consumer_wrote = a
            .records
            .iter()
            .any(|r| r["originatorMetadata"]["role"] == "CONSUMER");
        assert_eq!(
            b.consumer.is_some(),
            consumer_wrote,
            "names from the participants list: conversation {id}"
        );
    }
    // Thirty transcripts, one conversation/search call.
    assert_eq!(requests(&sim, "lp.conversation_search", 200), 1);
    sim.stop().await;
}

#[tokio::test]
async fn a_conversation_that_started_before_since_and_gains_messages_is_found() {
    // Conversations start over the last 30 days; `since` is 10 days ago.
    // The OPEN ones that started earlier keep receiving messages.
    let sim = strict(SimConfig {
        conversations: 40,
        growth: 2,
        grow_every: std::time::Duration::from_millis(50),
        ..SimConfig::default()
    })
    .await;
    let since_ms = convsync::clock::now_ms() - 10 * 24 * 3600 * 1000;
    let since = chrono::DateTime::from_timestamp_millis(since_ms)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let older_open: Vec<String> = sim
        .shared
        .lp
        .conversations
        .iter()
        .filter(|c| c.open && c.start_ms < since_ms - 24 * 3600 * 1000)
        .map(|c| c.id.clone())
        .collect();
    assert!(older_open.len() >= 3, "{older_open:?}");
    crate::support::grow_all(&sim);
    let dir = tempfile::tempdir().unwrap();
    let cfg = app_key_config(dir.path(), &sim, &format!("since = {since:?}"));
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ledger = sim.shared.ledger_external_ids();
    let want = expected(&sim, true);
    for id in &older_open {
        assert_eq!(ledger.get(id), want.get(id), "conversation {id}");
    }
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    sim.stop().await;
}

#[tokio::test]
async fn a_malformed_message_record_dead_letters_only_its_conversation() {
    let sim = strict(SimConfig {
        conversations: 12,
        growth: 0,
        poison: 1,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = app_key_config(dir.path(), &sim, "since = \"2000-01-01\"");
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    // Done, with a dead letter: exit 5, and said.
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("1 conversation(s) set aside as dead letters"),
        "{err}"
    );
    let poison = sim.shared.lp.conversations[0].id.clone();
    let mut want = expected(&sim, false);
    want.remove(&poison);
    assert_eq!(sim.shared.ledger_external_ids(), want);
    let store =
        convsync::store::Store::open(&dir.path().join("state").join("convsync.redb")).unwrap();
    let dead = store.dead_letters().unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].conversation_id, poison);
    assert_eq!(dead[0].class, "convert");
    let m = &dead[0].message;
    assert!(m.contains(&poison), "{m}");
    assert!(m.contains("messageRecords[") && m.contains("].seq"), "{m}");
    sim.stop().await;
}

#[tokio::test]
async fn doctor_on_an_app_key_reports_content_search_refused_and_interactions_working() {
    // The config `convsync sim --strict --write-config` writes.
    let sim = crate::support::sim(SimConfig {
        conversations: 25,
        growth: 0,
        strict: true,
        liveperson_strict: true,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let written = convsync::ops::sim::sim_config_toml(&sim, 500);
    assert!(written.contains("consumer_key"), "an app key: {written}");
    let cfg = dir.path().join("sim.toml");
    std::fs::write(
        &cfg,
        format!(
            "{written}\n[sync]\nstate_dir = {:?}\npoll_interval_secs = 0.2\nsince = \"2000-01-01\"\nmetrics_listen = \"\"\n",
            dir.path().join("state")
        ),
    )
    .unwrap();
    let out = convsync(&cfg, &["doctor"]).await;
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}{}", text(&out.stderr));
    let line = |check: &str| {
        table
            .lines()
            .find(|l| l.starts_with(check))
            .unwrap_or_else(|| panic!("no {check} in\n{table}"))
            .to_owned()
    };
    assert!(
        line("liveperson: content search").contains("skip"),
        "not used by an app key: {table}"
    );
    assert!(
        line("liveperson: content search").contains("401"),
        "{table}"
    );
    assert!(
        line("liveperson: interactions transcript").contains(" ok "),
        "{table}"
    );
    assert!(
        line("liveperson: transcript route").contains("Messaging Interactions"),
        "{table}"
    );
    // Read-only: nothing posted, no store.
    assert_eq!(sim.stats().delivered_activities, 0);
    assert!(!dir.path().join("state").exists());

    // Then the daemon delivers every conversation once, in order.
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(sim.shared.ledger_external_ids(), expected(&sim, false));
    assert_eq!(sim.stats().duplicate_deliveries, 0);

    // Content search alone cannot run on this account: doctor says so.
    let only = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("transcripts = \"auto\"", "transcripts = \"content_search\"");
    std::fs::write(&cfg, only).unwrap();
    let out = convsync(&cfg, &["doctor", "--json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["can_run"], false);
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert!(failed.contains(&"liveperson: content search"), "{report}");
    sim.stop().await;
}

#[tokio::test]
async fn documented_variants_are_read_and_a_private_note_never_reaches_the_hub() {
    for variants in [false, true] {
        let sim = strict(SimConfig {
            conversations: 20,
            growth: 0,
            liveperson_variants: variants,
            ..SimConfig::default()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = app_key_config(dir.path(), &sim, "since = \"2000-01-01\"");
        let out = convsync(&cfg, &["run", "--until-idle"]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        // Every conversation whole, once, in order: a string `seq` and an
        // unknown type dead-letter none.
        assert_eq!(sim.shared.ledger_external_ids(), expected(&sim, false));
        assert_eq!(sim.stats().duplicate_deliveries, 0);
        let store = convsync::store::Store::open(&dir.path().join("state/convsync.redb")).unwrap();
        assert!(
            store.dead_letters().unwrap().is_empty(),
            "variants {variants}"
        );
        let hub = serde_json::to_string(&sim.shared.ledger()).unwrap();
        // The private note stays out of the hub; the unknown type is carried.
        assert!(
            !hub.contains(convsync::sim::PRIVATE_NOTE),
            "variants {variants}"
        );
        assert_eq!(hub.contains("HOLOGRAM"), variants);
        let notes = sim
            .shared
            .lp
            .conversations
            .iter()
            .filter(|c| {
                serde_json::to_string(&c.base)
                    .unwrap()
                    .contains(convsync::sim::PRIVATE_NOTE)
            })
            .count();
        assert_eq!(notes > 0, variants);
        sim.stop().await;
    }
}

/// What the mapping cannot carry as it was (here json-pollock's own
/// documented layout, navigating to a point that is not a place, and a
/// message of a type convsync does not know) reaches the hub as text or a
/// payload, and the daemon counts it by kind in its metrics.
#[tokio::test]
async fn what_the_mapping_cannot_carry_is_counted_by_kind_in_the_daemons_metrics() {
    let sim = strict(SimConfig {
        conversations: 20,
        growth: 0,
        liveperson_variants: true,
        ..SimConfig::default()
    })
    .await;
    let with = sim
        .shared
        .lp
        .conversations
        .iter()
        .filter(|c| {
            serde_json::to_string(&c.base)
                .unwrap()
                .contains("2423423423")
        })
        .count();
    assert!(with > 0, "the variants hold the documented layout");
    // What converting each conversation whole says about its activities.
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for c in &sim.shared.lp.conversations {
        let text = serde_json::to_string(&c.base).unwrap();
        let recs: Vec<convsync::format::liveperson::Record> = serde_json::from_str(&text).unwrap();
        let map = convsync::format::Mapping::default();
        let lp = convsync::format::LpResume::default();
        let out = convsync::format::to_hubster(&c.id, &recs, &map, &lp).unwrap();
        for (_, k) in out.degraded() {
            *want.entry(k.to_string()).or_default() += 1;
        }
    }
    assert_eq!(want.get("not_a_place"), Some(&(with as u64)), "{want:?}");
    let dir = tempfile::tempdir().unwrap();
    let cfg = app_key_config(dir.path(), &sim, "since = \"2000-01-01\"");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("metrics_listen = \"\"", "metrics_listen = \"127.0.0.1:0\"");
    std::fs::write(&cfg, text).unwrap();
    let mut child = crate::support::command(Some(&cfg), &["run"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = dir.path().join("state");
    let counted = crate::support::wait_for_answer(
        "the degradations counted by kind",
        std::time::Duration::from_secs(60),
        || async {
            let m = crate::support::endpoint_get(&state, "/metrics").await?;
            let got: BTreeMap<String, u64> = want
                .keys()
                .map(|k| {
                    let name = format!("convsync_mapping_degradations_total{{kind=\"{k}\"}}");
                    (
                        k.clone(),
                        crate::support::metric(&m, &name).unwrap_or(0.0) as u64,
                    )
                })
                .collect();
            got.iter().all(|(k, n)| *n >= want[k]).then_some(got)
        },
    )
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(counted, want, "each delivered once, counted once");
    // What the point was is in the hub, as text a person can read.
    let hub = serde_json::to_string(&sim.shared.ledger()).unwrap();
    assert!(hub.contains("la 2423423423, lo 23423423"), "{hub:.2000}");
    assert!(hub.contains("Navigate to store via image"));
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    sim.stop().await;
}
