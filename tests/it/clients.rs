//! Both clients against the simulator, over real HTTP on loopback.

use crate::support::sim;
use convsync::format::hubster::IntegrationType;
use convsync::http::pace::Setting;
use convsync::http::{HttpConfig, HttpError, Metrics};
use convsync::platform::hubster::{HubsterClient, HubsterConfig, Side};
use convsync::platform::liveperson::{LivePersonClient, LivePersonConfig, LpAuth, Search};
use convsync::platform::secret::SecretSource;
use convsync::sim::{Leid, RetryAfter, Sim, SimConfig};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

/// Quick retries, so faults cost milliseconds, not the production seconds.
fn fast_http() -> HttpConfig {
    HttpConfig {
        requests_per_second: Setting::Fixed(NonZeroU32::new(1000).unwrap()),
        burst: NonZeroU32::new(100).unwrap(),
        max_concurrency: Setting::Fixed(NonZeroUsize::new(8).unwrap()),
        connect_timeout_secs: 2.0,
        timeout_secs: 2.0,
        max_attempts: NonZeroU32::new(40).unwrap(),
        max_elapsed_secs: 120.0,
        server_error_delays_secs: vec![0.01, 0.02, 0.03],
        transient_backoff_secs: 0.01,
        max_backoff_secs: 0.2,
        ..HttpConfig::default()
    }
}

fn lp_config(sim: &Sim, auth: LpAuth, http: HttpConfig) -> LivePersonConfig {
    LivePersonConfig {
        account: sim.shared.creds.account.clone(),
        source: "convsync_tests".into(),
        csds_url: sim.base_url(),
        domain: None,
        csds_cache_secs: 3600,
        auth,
        transcripts: Default::default(),
        http,
    }
}

fn bearer(sim: &Sim) -> LpAuth {
    LpAuth::Bearer(SecretSource::Value(sim.shared.creds.bearer.clone()))
}

fn lp(sim: &Sim, http: HttpConfig) -> LivePersonClient {
    LivePersonClient::new(
        &lp_config(sim, bearer(sim), http),
        Arc::new(Metrics::default()),
    )
    .unwrap()
}

fn hub(sim: &Sim, http: HttpConfig) -> HubsterClient {
    let cfg = HubsterConfig {
        identity_url: sim.base_url(),
        engine_url: sim.base_url(),
        direct_url: sim.base_url(),
        client_id: sim.shared.creds.hubster_client_id.clone(),
        client_secret: SecretSource::Value(sim.shared.creds.hubster_client_secret.clone()),
        direct_token: None,
        token_refresh_margin_secs: 120,
        hub_id: None,
        inbound_body: Default::default(),
        // The simulator shows what it stores at once.
        read_lag_secs: 0.0,
        unsure_settle_secs: 0.0,
        http,
    };
    HubsterClient::new(&cfg, Arc::new(Metrics::default())).unwrap()
}

/// `tasks` tasks sharing one client, each reading `each` conversations'
/// content; every call must succeed.
async fn content_from_tasks(s: &Sim, client: &Arc<LivePersonClient>, tasks: usize, each: usize) {
    let ids: Vec<String> = s
        .shared
        .lp
        .conversations
        .iter()
        .map(|c| c.id.clone())
        .collect();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (client, ids) = (Arc::clone(client), ids.clone());
        handles.push(tokio::spawn(async move {
            for k in 0..each {
                client
                    .content(&ids[(t + k) % ids.len()])
                    .await
                    .expect("every call succeeds eventually");
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
}

fn canon(records: &[Value]) -> BTreeSet<String> {
    records.iter().map(Value::to_string).collect()
}

#[tokio::test]
async fn content_search_in_both_paging_modes_and_both_auths() {
    for paging in [false, true] {
        let s = sim(SimConfig {
            conversations: 6,
            messages: 40,
            content_paging: paging,
            ..SimConfig::default()
        })
        .await;
        let client = lp(&s, fast_http());
        let app_key = crate::support::app_key(&s);
        let oauth = LivePersonClient::new(
            &lp_config(&s, app_key, fast_http()),
            Arc::new(Metrics::default()),
        )
        .unwrap();
        for c in &s.shared.lp.conversations {
            let want = canon(&s.shared.lp.records(c));
            assert_eq!(
                canon(&client.content(&c.id).await.unwrap()),
                want,
                "paging {paging}"
            );
            assert_eq!(
                canon(&oauth.content(&c.id).await.unwrap()),
                want,
                "paging {paging}, OAuth"
            );
        }
        let pages = s.stats().requests["lp.content_search"][&200];
        if paging {
            assert!(pages > 2 * 6, "paged: {pages} requests for 12 reads");
        } else {
            assert_eq!(pages, 2 * 6);
        }
        // CSDS once per client, then cached.
        assert_eq!(s.stats().requests["csds"][&200], 2);
        s.stop().await;
    }
}

#[tokio::test]
async fn discovery_pages_windows_and_refetches_partial_conversations() {
    let s = sim(SimConfig {
        conversations: 230,
        messages: 2,
        ..SimConfig::default()
    })
    .await;
    let client = lp(&s, fast_http());
    let now = convsync::sim::world::now_ms();
    // Two years back: several three-month windows, most of them empty.
    let found = client
        .discover(now - 730 * 24 * 3600 * 1000, now, None)
        .await
        .unwrap();
    let want: BTreeSet<&str> = s
        .shared
        .lp
        .conversations
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    let got: BTreeSet<&str> = found.iter().map(|c| c.conversation_id.as_str()).collect();
    assert_eq!(got, want);
    assert!(
        found.iter().all(|c| !c.is_partial),
        "partial ones were fetched again"
    );
    let stats = s.stats();
    // Nine 90-day windows, at most two of them holding the 230 (three pages at least).
    let searches = stats.requests["lp.conversations_search"][&200];
    assert!(
        searches >= 7 + 3,
        "offset paging across windows: {searches}"
    );
    assert!(stats.requests["lp.conversation_search"][&200] >= 1);
    // Only recently updated: OPEN ones grow, so a filter at "now" keeps few.
    let recent = client
        .discover(now - 60 * 24 * 3600 * 1000, now, Some(now + 3_600_000))
        .await
        .unwrap();
    assert!(recent.is_empty(), "{recent:?}");
    s.stop().await;
}

#[tokio::test]
async fn a_window_wider_than_three_months_is_a_400_and_is_not_retried() {
    let s = sim(SimConfig {
        conversations: 3,
        ..SimConfig::default()
    })
    .await;
    let client = lp(&s, fast_http());
    let q = Search {
        start_from: 0,
        start_to: 200 * 24 * 3600 * 1000,
        status: vec!["OPEN".into()],
        latest_update_from: None,
    };
    let err = client.search(&q).await.unwrap_err();
    assert!(
        matches!(err, HttpError::Status { status: 400, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("3 months"), "{err}");
    assert_eq!(
        s.stats().requests["lp.conversations_search"]
            .values()
            .sum::<u64>(),
        1,
        "not retried"
    );
    // A refused token is not retried either.
    let wrong = LivePersonClient::new(
        &lp_config(
            &s,
            LpAuth::Bearer(SecretSource::Value("wrong".into())),
            fast_http(),
        ),
        Arc::new(Metrics::default()),
    )
    .unwrap();
    let err = wrong
        .content(&s.shared.lp.conversations[0].id)
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Unauthorized { .. }), "{err}");
    assert_eq!(s.stats().requests["lp.content_search"][&401], 1);
    s.stop().await;
}

#[tokio::test]
async fn hubster_establish_send_and_read_back_with_either_leid() {
    for leid in [Leid::Inclusive, Leid::Exclusive] {
        let s = sim(SimConfig {
            leid,
            conversations: 1,
            ..SimConfig::default()
        })
        .await;
        let client = hub(&s, fast_http());
        let e = client
            .establish("int-agent", "lp-conv-1", "Direct")
            .await
            .unwrap();
        assert!(e.is_new);
        let again = client
            .establish("int-agent", "lp-conv-1", "Direct")
            .await
            .unwrap();
        assert_eq!(
            (again.conversation_id.as_str(), again.is_new),
            (e.conversation_id.as_str(), false)
        );
        let mut sent = Vec::new();
        for i in 0..6 {
            let (side, from, to) = if i % 2 == 0 {
                (Side::Customer, "Customer", "Agent")
            } else {
                (Side::Business, "Agent", "Customer")
            };
            let a = json!({"type": "message", "externalId": format!("ext-{i}"),
                "sender": {"integrationId": format!("int-{from}"), "integrationType": from},
                "recipient": {"integrationId": format!("int-{to}"), "integrationType": to},
                "message": {"type": "text", "text": format!("m{i}")}});
            let r = client
                .send_activity(&e.conversation_id, side, &a)
                .await
                .unwrap();
            sent.push(r["eventId"].as_i64().unwrap());
        }
        assert!(
            sent.windows(2).all(|w| w[0] < w[1]),
            "the hub assigns rising eventIds"
        );
        let all = client
            .activities(
                &e.conversation_id,
                &[IntegrationType::Customer, IntegrationType::Agent],
                0,
            )
            .await
            .unwrap();
        let texts: Vec<&str> = all
            .iter()
            .map(|a| a["message"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            texts,
            ["m0", "m1", "m2", "m3", "m4", "m5"],
            "merged across types, once each, in order"
        );
        // From an eventId on: that activity is included, whatever the server's leid means.
        let from3 = client
            .activities(
                &e.conversation_id,
                &[IntegrationType::Customer, IntegrationType::Agent],
                sent[3],
            )
            .await
            .unwrap();
        let texts: Vec<&str> = from3
            .iter()
            .map(|a| a["message"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, ["m3", "m4", "m5"], "{leid:?}");
        // The business path wants a sender.
        let err = client
            .send_activity(
                &e.conversation_id,
                Side::Business,
                &json!({"type": "message", "message": {"type": "text", "text": "x"}}),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("ENG005003"), "{err}");
        assert_eq!(s.stats().delivered_activities, 6);
        s.stop().await;
    }
}

#[tokio::test]
async fn hubster_token_is_renewed_before_expiry_and_once_on_401() {
    let s = sim(SimConfig {
        conversations: 1,
        token_ttl: Duration::from_secs(2),
        ..SimConfig::default()
    })
    .await;
    let client = hub(&s, fast_http());
    let e = client.establish("i", "b", "Direct").await.unwrap();
    assert_eq!(s.stats().requests["hubster.token"][&200], 1);
    client
        .activities(&e.conversation_id, &[IntegrationType::Agent], 0)
        .await
        .unwrap();
    assert_eq!(s.stats().requests["hubster.token"][&200], 1, "cached");
    // Past half its life (the refresh margin is capped at half): renewed first.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client
        .activities(&e.conversation_id, &[IntegrationType::Agent], 0)
        .await
        .unwrap();
    assert_eq!(s.stats().requests["hubster.token"][&200], 2);
    // The server forgets every token: one 401, one renewal, success.
    s.shared.revoke_tokens();
    client
        .activities(&e.conversation_id, &[IntegrationType::Agent], 0)
        .await
        .unwrap();
    let st = s.stats();
    assert_eq!(st.requests["hubster.token"][&200], 3);
    assert_eq!(st.requests["hubster.get_activities"][&401], 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_storm_with_mixed_retry_after_is_ridden_out_without_a_violation() {
    let s = sim(SimConfig {
        conversations: 8,
        messages: 3,
        fault_429: 0.3,
        retry_after: RetryAfter::Mixed,
        ..SimConfig::default()
    })
    .await;
    let client = Arc::new(lp(&s, fast_http()));
    content_from_tasks(&s, &client, 8, 3).await;
    let st = s.stats();
    assert!(st.faults.get("429").copied().unwrap_or(0) >= 3, "{st:?}");
    assert_eq!(st.violations_retry_after, 0, "{st:?}");
    let m = client.upstream().metrics().snapshot();
    assert!(m.rate_limited["liveperson"] >= 3, "{m:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_at_the_servers_quota_never_exceeds_it() {
    let s = sim(SimConfig {
        conversations: 8,
        messages: 2,
        quota: Some(20.0),
        ..SimConfig::default()
    })
    .await;
    let http = HttpConfig {
        requests_per_second: Setting::Fixed(NonZeroU32::new(20).unwrap()),
        burst: NonZeroU32::new(1).unwrap(),
        ..fast_http()
    };
    let client = Arc::new(lp(&s, http));
    content_from_tasks(&s, &client, 8, 6).await;
    let st = s.stats();
    assert_eq!(st.violations_quota, 0, "{st:?}");
    assert_eq!(st.requests["lp.content_search"][&200], 48);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_errors_resets_timeouts_and_garbled_bodies_are_retried_or_typed_never_a_panic() {
    let s = sim(SimConfig {
        conversations: 10,
        messages: 10,
        fault_5xx: 0.15,
        fault_reset: 0.1,
        fault_malformed: 0.1,
        fault_timeout: 0.05,
        timeout_delay: Duration::from_secs(3),
        ..SimConfig::default()
    })
    .await;
    let http = HttpConfig {
        timeout_secs: 0.5,
        ..fast_http()
    };
    let client = Arc::new(lp(&s, http.clone()));
    let hubc = Arc::new(hub(&s, http));
    let mut tasks = Vec::new();
    for c in s
        .shared
        .lp
        .conversations
        .iter()
        .map(|c| (c.id.clone(), canon(&s.shared.lp.records(c))))
    {
        let (client, hubc) = (Arc::clone(&client), Arc::clone(&hubc));
        tasks.push(tokio::spawn(async move {
            let got = client.content(&c.0).await.expect("retried to success");
            assert_eq!(canon(&got), c.1);
            let e = hubc
                .establish("int", &c.0, "Direct")
                .await
                .expect("retried to success");
            hubc.activities(&e.conversation_id, &[IntegrationType::Agent], 0)
                .await
                .expect("retried to success");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let st = s.stats();
    for kind in ["5xx", "reset", "malformed"] {
        assert!(
            st.faults.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} injected: {st:?}"
        );
    }
    // With retries cut to one attempt, the same faults come back as typed errors.
    let once = HttpConfig {
        max_attempts: NonZeroU32::new(1).unwrap(),
        timeout_secs: 0.5,
        ..fast_http()
    };
    let strict = lp(&s, once);
    let mut errors = 0;
    for c in &s.shared.lp.conversations {
        for _ in 0..5 {
            if let Err(e) = strict.content(&c.id).await {
                assert!(matches!(e, HttpError::Exhausted { attempts: 1, .. }), "{e}");
                errors += 1;
            }
        }
    }
    assert!(errors > 0);
    s.stop().await;
}

#[tokio::test]
async fn the_simulator_catches_a_client_that_ignores_retry_after_or_the_quota() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let s = sim(SimConfig {
        conversations: 2,
        fault_429: 1.0,
        retry_after: RetryAfter::Seconds,
        ..SimConfig::default()
    })
    .await;
    let raw = reqwest::Client::new();
    let url = format!(
        "{}/api/account/{}/service/msgHist/baseURI.json",
        s.base_url(),
        s.shared.creds.account
    );
    for _ in 0..5 {
        let r = raw.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "1");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(s.stats().violations_retry_after >= 3, "{:?}", s.stats());
    s.stop().await;

    let s = sim(SimConfig {
        conversations: 2,
        quota: Some(5.0),
        ..SimConfig::default()
    })
    .await;
    let url = format!(
        "{}/api/account/{}/service/msgHist/baseURI.json",
        s.base_url(),
        s.shared.creds.account
    );
    for _ in 0..12 {
        raw.get(&url).send().await.unwrap();
    }
    assert!(s.stats().violations_quota >= 5, "{:?}", s.stats());
    s.stop().await;

    // A quota of LivePerson's alone: the hub's clients are not held to it.
    let s = sim(SimConfig {
        conversations: 2,
        quota: Some(5.0),
        quota_liveperson_only: true,
        ..SimConfig::default()
    })
    .await;
    let token = format!("{}/connect/token", s.base_url());
    for _ in 0..12 {
        let r = raw
            .post(&token)
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "an unlimited hub answers the request");
    }
    assert_eq!(s.stats().violations_quota, 0, "{:?}", s.stats());
    let url = format!(
        "{}/api/account/{}/service/msgHist/baseURI.json",
        s.base_url(),
        s.shared.creds.account
    );
    for _ in 0..12 {
        raw.get(&url).send().await.unwrap();
    }
    assert!(s.stats().violations_quota >= 5, "{:?}", s.stats());
    s.stop().await;
}

#[tokio::test]
async fn an_empty_window_answered_204_is_an_empty_window() {
    // LivePerson documents 204 No Content for a search that finds nothing.
    let s = sim(SimConfig {
        conversations: 3,
        liveperson_strict: true,
        ..SimConfig::default()
    })
    .await;
    let client = lp(&s, fast_http());
    let day = 24 * 3600 * 1000;
    let q = Search {
        start_from: 10 * day,
        start_to: 20 * day,
        status: vec!["OPEN".into(), "CLOSE".into()],
        latest_update_from: None,
    };
    assert!(client.search(&q).await.unwrap().is_empty());
    let searches = &s.stats().requests["lp.conversations_search"];
    assert_eq!(searches.get(&204), Some(&1), "{searches:?}");
    assert_eq!(
        searches.len(),
        1,
        "answered once, not retried: {searches:?}"
    );
    // Discovery over empty windows and full ones finds what there is.
    let found = client
        .discover(0, convsync::clock::now_ms(), None)
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    s.stop().await;
}
