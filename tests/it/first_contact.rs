//! Safe on first contact: an answer is believed only as far as it proves.
//! A brand's app key reads by Messaging Interactions; content search that
//! answers a brand's credential with nothing (an empty 200, a 400) is read
//! by the other route or held open; a truncated by-id answer
//! (`info.isPartial`) is delivered as far as it goes, never sealed, and
//! completed once LivePerson answers whole. Each fault alone and together,
//! and then turned off.

use crate::support::{convsync, expected_ledger, platforms_toml};
use convsync::sim::{BrandContentSearch, InboundToken, Sim, SimConfig};
use convsync::store::Store;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

/// LivePerson credentials for a config: the brand's bearer, its app key, or
/// none changed.
#[derive(Clone, Copy)]
enum Cred {
    Bearer,
    AppKey,
}

/// A daemon config against `sim`, with `cred`, `transcripts` and `since`
/// far back.
fn config(dir: &Path, sim: &Sim, cred: Cred, transcripts: &str) -> PathBuf {
    let c = &sim.shared.creds;
    let mut platforms = platforms_toml(sim, sim);
    if let Cred::AppKey = cred {
        platforms = platforms.replacen(
            &format!("[liveperson.auth]\nbearer = {{ value = \"{}\" }}\n", c.bearer),
            &format!(
                "[liveperson.auth]\nconsumer_key = {{ value = \"{}\" }}\nconsumer_secret = {{ value = \"{}\" }}\ntoken = {{ value = \"{}\" }}\ntoken_secret = {{ value = \"{}\" }}\n",
                c.consumer_key, c.consumer_secret, c.token, c.token_secret
            ),
            1,
        );
        assert!(platforms.contains("consumer_key"), "{platforms}");
    }
    let platforms = platforms.replacen(
        "[liveperson]\n",
        &format!("[liveperson]\ntranscripts = \"{transcripts}\"\n"),
        1,
    );
    let text = format!(
        "{platforms}\n[sync]\nstate_dir = {:?}\npoll_interval_secs = 0.2\nmetrics_listen = \"\"\nsince = \"2000-01-01\"\n",
        dir.join("state"),
    );
    let path = dir.join("convsync.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A simulator whose conversations are all closed and never grow, its
/// hub as strict as Hubster's documentation.
async fn closed_sim(cfg: SimConfig) -> Sim {
    crate::support::sim(SimConfig {
        strict: true,
        growth: 0,
        age: std::time::Duration::from_secs(3600),
        ..cfg
    })
    .await
}

/// The hub holds every conversation whole, each activity once, in order.
fn assert_exact(sim: &Sim) {
    crate::support::assert_delivered_once(sim);
}

/// `cfg` with the hub's portal access token as `hubster.direct_token`.
fn with_direct_token(cfg: &Path, sim: &Sim) {
    let text = std::fs::read_to_string(cfg).unwrap().replacen(
        "[hubster]\n",
        &format!(
            "[hubster]\ndirect_token = {{ value = \"{}\" }}\n",
            sim.shared.creds.hubster_portal_token
        ),
        1,
    );
    std::fs::write(cfg, text).unwrap();
}

fn requests(sim: &Sim, endpoint: &str) -> u64 {
    sim.stats()
        .requests
        .get(endpoint)
        .map_or(0, |m| m.values().sum())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Each conversation's checkpoint: (sealed, held) by conversation id.
fn checkpoints(dir: &Path) -> BTreeMap<String, (bool, bool)> {
    let store = Store::open(&dir.join("state").join("convsync.redb")).unwrap();
    store
        .conversation_ids("liveperson-to-hubster")
        .unwrap()
        .into_iter()
        .map(|id| {
            let st = store
                .conversation("liveperson-to-hubster", &id)
                .unwrap()
                .unwrap();
            (id, (st.sealed.is_some(), st.held.is_some()))
        })
        .collect()
}

/// What the hub holds of each conversation is, in order, the start of what
/// the source converts to (nothing out of order, nothing twice); returns
/// the conversations it holds only part of.
fn only_prefixes(sim: &Sim) -> Vec<String> {
    let want = expected_ledger(sim, false);
    let got = sim.shared.ledger_external_ids();
    let mut short = Vec::new();
    for (id, ids) in &want {
        let have = got.get(id).cloned().unwrap_or_default();
        assert!(
            have.len() <= ids.len() && ids[..have.len()] == have[..],
            "conversation {id}: the hub holds {have:?}, which is not the start of {ids:?}"
        );
        if have.len() < ids.len() {
            short.push(id.clone());
        }
    }
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    short
}

#[tokio::test]
async fn an_app_key_under_auto_never_asks_content_search() {
    // Content search is documented for a consumer's JWT: a brand's app key
    // goes straight to Messaging Interactions, whatever content search
    // would answer it.
    for answer in [BrandContentSearch::Empty, BrandContentSearch::BadRequest] {
        let sim = closed_sim(SimConfig {
            conversations: 20,
            liveperson_strict: true,
            brand_content_search: answer,
            ..SimConfig::default()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), &sim, Cred::AppKey, "auto");
        let out = convsync(&cfg, &["run", "--until-idle"]).await;
        assert!(out.status.success(), "{answer:?}: {}", stderr(&out));
        assert_eq!(requests(&sim, "lp.content_search"), 0, "{answer:?}");
        assert_exact(&sim);
        sim.stop().await;
    }
}

#[tokio::test]
async fn content_search_answering_a_brand_with_nothing_is_read_by_interactions_under_auto() {
    // A brand's bearer under `auto` starts with content search; an empty
    // 200 or a 400 is no proof: each conversation is read by Messaging
    // Interactions instead, delivered whole and sealed from that.
    for answer in [BrandContentSearch::Empty, BrandContentSearch::BadRequest] {
        let sim = closed_sim(SimConfig {
            conversations: 15,
            liveperson_strict: true,
            brand_content_search: answer,
            ..SimConfig::default()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), &sim, Cred::Bearer, "auto");
        let out = convsync(&cfg, &["run", "--until-idle"]).await;
        assert!(out.status.success(), "{answer:?}: {}", stderr(&out));
        assert!(requests(&sim, "lp.content_search") > 0, "{answer:?}");
        assert_eq!(
            sim.shared.ledger_external_ids(),
            expected_ledger(&sim, false),
            "{answer:?}"
        );
        assert_eq!(sim.stats().duplicate_deliveries, 0);
        let cps = checkpoints(dir.path());
        assert_eq!(cps.len(), 15);
        for (id, (sealed, held)) in &cps {
            assert!(
                *sealed && !*held,
                "{answer:?}: {id} sealed {sealed} held {held}"
            );
        }
        sim.stop().await;
    }
}

#[tokio::test]
async fn content_search_alone_answering_nothing_holds_conversations_until_it_answers() {
    // `transcripts = "content_search"` has no other route: an empty 200 or
    // a 400 leaves the conversation open and held (never sealed empty),
    // the run says so in its exit code, and a run after LivePerson answers
    // again delivers everything once.
    for answer in [BrandContentSearch::Empty, BrandContentSearch::BadRequest] {
        let sim = closed_sim(SimConfig {
            conversations: 10,
            brand_content_search: answer,
            ..SimConfig::default()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), &sim, Cred::Bearer, "content_search");
        let out = convsync(&cfg, &["run", "--until-idle"]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(7), "{answer:?}: {err}");
        assert!(err.contains("10 conversation(s) held back"), "{err}");
        assert!(sim.shared.ledger_external_ids().values().all(Vec::is_empty));
        let cps = checkpoints(dir.path());
        assert_eq!(cps.len(), 10, "{cps:?}");
        assert!(
            cps.values().all(|&(sealed, held)| !sealed && held),
            "{cps:?}"
        );
        // `status` names them.
        let st = convsync(&cfg, &["status", "--json"]).await;
        let st: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
        assert_eq!(st["held"].as_array().map(Vec::len), Some(10), "{st}");

        sim.shared
            .set_brand_content_search(BrandContentSearch::Unauthorized);
        let out = convsync(&cfg, &["run", "--until-idle"]).await;
        assert!(out.status.success(), "{answer:?}: {}", stderr(&out));
        assert_exact(&sim);
        let cps = checkpoints(dir.path());
        assert!(
            cps.values().all(|&(sealed, held)| sealed && !held),
            "{cps:?}"
        );
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_truncated_answer_is_delivered_as_far_as_it_goes_and_never_sealed() {
    // LivePerson truncates (`info.isPartial`): what each answer
    // holds goes to the hub in order, nothing is sealed from it, and once
    // LivePerson answers whole the rest follows, each activity once.
    let sim = closed_sim(SimConfig {
        conversations: 12,
        messages: 10,
        liveperson_strict: true,
        partial_answers: true,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &sim, Cred::AppKey, "auto");
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(7), "{err}");
    assert!(err.contains("12 partial"), "{err}");
    let short = only_prefixes(&sim);
    assert_eq!(short.len(), 12, "every conversation was cut short");
    let delivered: usize = sim
        .shared
        .ledger_external_ids()
        .values()
        .map(Vec::len)
        .sum();
    assert!(
        delivered > 0,
        "what the truncated answers held was delivered"
    );
    let cps = checkpoints(dir.path());
    assert!(
        cps.values().all(|&(sealed, held)| !sealed && held),
        "{cps:?}"
    );
    // Each was asked again on its own before it was held.
    assert!(
        requests(&sim, "lp.conversation_search") >= 12,
        "{:?}",
        sim.stats().requests
    );

    sim.shared.set_partial_answers(false);
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(only_prefixes(&sim).is_empty());
    assert_eq!(
        sim.shared.ledger_external_ids(),
        expected_ledger(&sim, false)
    );
    let cps = checkpoints(dir.path());
    assert!(
        cps.values().all(|&(sealed, held)| sealed && !held),
        "{cps:?}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn each_fault_that_holds_nothing_back_alone() {
    // The documented variants, cards refused from customers, a host per
    // service, the portal token inbound, a hub's bot: each alone, a
    // brand's app key reads every conversation whole, once, in order,
    // sets none aside and seals each; a second run posts nothing.
    let faults: [(&str, SimConfig); 5] = [
        (
            "variants",
            SimConfig {
                liveperson_variants: true,
                ..SimConfig::default()
            },
        ),
        (
            "cards refused",
            SimConfig {
                refuse_customer_cards: true,
                ..SimConfig::default()
            },
        ),
        (
            "hosts per service",
            SimConfig {
                hosts_per_service: true,
                ..SimConfig::default()
            },
        ),
        (
            "portal token inbound",
            SimConfig {
                inbound_token: InboundToken::Portal,
                ..SimConfig::default()
            },
        ),
        (
            "hub bot",
            SimConfig {
                hub_bot: true,
                ..SimConfig::default()
            },
        ),
    ];
    for (fault, cfg) in faults {
        let sim = closed_sim(SimConfig {
            conversations: 10,
            liveperson_strict: true,
            ..cfg
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let path = config(dir.path(), &sim, Cred::AppKey, "auto");
        if fault == "portal token inbound" {
            with_direct_token(&path, &sim);
        }
        let out = convsync(&path, &["run", "--until-idle"]).await;
        assert!(out.status.success(), "{fault}: {}", stderr(&out));
        assert_exact(&sim);
        let cps = checkpoints(dir.path());
        assert_eq!(cps.len(), 10, "{fault}");
        assert!(
            cps.values().all(|&(sealed, held)| sealed && !held),
            "{fault}: {cps:?}"
        );
        let store = Store::open(&dir.path().join("state").join("convsync.redb")).unwrap();
        assert!(store.dead_letters().unwrap().is_empty(), "{fault}");
        drop(store);
        if fault == "hub bot" {
            assert!(sim.stats().bot_answers > 0, "the hub's bot answered");
        }
        let posted = sim.stats().delivered_activities;
        let out = convsync(&path, &["run", "--until-idle"]).await;
        assert!(out.status.success(), "{fault}: {}", stderr(&out));
        assert_eq!(sim.stats().delivered_activities, posted, "{fault}");
        sim.stop().await;
    }
}

#[tokio::test]
async fn every_first_contact_fault_together_then_off() {
    // A brand's bearer under `auto`: content search answers it empty, by
    // id every answer is truncated, and the documented variants are on.
    // The hub as strict as its documentation, each service on a host of
    // its own, its inbound path taking only the portal token, a bot of its
    // own answering customer messages, cards refused from customers, and
    // (at first) the credential refused.
    let sim = closed_sim(SimConfig {
        conversations: 15,
        liveperson_strict: true,
        liveperson_variants: true,
        brand_content_search: BrandContentSearch::Empty,
        partial_answers: true,
        strict: true,
        hosts_per_service: true,
        inbound_token: InboundToken::Portal,
        hub_bot: true,
        refuse_customer_cards: true,
        ..SimConfig::default()
    })
    .await;
    sim.shared.set_hub_refusal(Some(403));
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &sim, Cred::Bearer, "auto");
    with_direct_token(&cfg, &sim);
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("hubster refuses the credential"), "{err}");
    let store = Store::open(&dir.path().join("state").join("convsync.redb")).unwrap();
    assert!(store.dead_letters().unwrap().is_empty());
    drop(store);

    sim.shared.set_hub_refusal(None);
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(7), "{err}");
    only_prefixes(&sim);
    let cps = checkpoints(dir.path());
    assert!(!cps.is_empty());
    assert!(cps.values().all(|&(sealed, _)| !sealed), "{cps:?}");
    let store = Store::open(&dir.path().join("state").join("convsync.redb")).unwrap();
    assert!(store.dead_letters().unwrap().is_empty());
    drop(store);

    sim.shared
        .set_brand_content_search(BrandContentSearch::Unauthorized);
    sim.shared.set_partial_answers(false);
    let out = convsync(&cfg, &["run", "--until-idle"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        sim.shared.ledger_external_ids(),
        expected_ledger(&sim, false)
    );
    assert_eq!(sim.stats().duplicate_deliveries, 0);
    assert!(sim.stats().bot_answers > 0, "the hub's bot answered");
    let cps = checkpoints(dir.path());
    assert_eq!(cps.len(), 15);
    assert!(
        cps.values().all(|&(sealed, held)| sealed && !held),
        "{cps:?}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn doctor_fails_a_content_search_that_answers_fewer_records_than_interactions() {
    let sim = closed_sim(SimConfig {
        conversations: 5,
        brand_content_search: BrandContentSearch::Empty,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let checks = |out: &Output| -> BTreeMap<String, (String, String)> {
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["check"].as_str().unwrap().to_owned(),
                    (
                        c["outcome"].as_str().unwrap().to_owned(),
                        c["fix"].as_str().unwrap().to_owned(),
                    ),
                )
            })
            .collect()
    };
    // Content search alone: it cannot run, and doctor says what to change.
    let cfg = config(dir.path(), &sim, Cred::Bearer, "content_search");
    let out = convsync(&cfg, &["doctor", "--json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let c = checks(&out);
    assert_eq!(c["liveperson: content search"].0, "fail", "{c:?}");
    let (outcome, fix) = &c["liveperson: routes agree"];
    assert_eq!(outcome, "fail", "{c:?}");
    assert!(fix.contains("transcripts = \"interactions\""), "{fix}");
    // Under auto, interactions reads what content search does not.
    let cfg = config(dir.path(), &sim, Cred::Bearer, "auto");
    let out = convsync(&cfg, &["doctor", "--json"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let c = checks(&out);
    assert_eq!(c["liveperson: content search"].0, "warn", "{c:?}");
    assert_eq!(c["liveperson: transcript route"].0, "ok", "{c:?}");
    // Nothing was posted.
    assert_eq!(sim.stats().delivered_activities, 0);
    sim.stop().await;
}
