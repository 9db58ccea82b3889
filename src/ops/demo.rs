//! `demo`: the simulator of both platforms and the daemon syncing it, until
//! the simulated hub holds exactly what LivePerson had (or two minutes
//! pass), then the ledger checked against the source.

use super::Error;
use super::sim::sim_config_toml;
use crate::config::Config;
use crate::http::Metrics;
use crate::sim::{RetryAfter, Sim, SimConfig};
use crate::sync::daemon::{Daemon, Until};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A demo, started: the simulator runs; the daemon is ready to.
pub struct Demo {
    pub sim: Sim,
    pub daemon: Daemon,
    /// Conversations served, and how many of them are OPEN and growing.
    pub conversations: usize,
    pub open: usize,
    /// What the hub must end up with: every conversation's externalIds,
    /// grown in full, in order.
    expected: BTreeMap<String, Vec<String>>,
    started: Instant,
    _state: tempfile::TempDir,
}

/// How far a demo has come (told about once a second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemoProgress {
    /// Conversations whose activities are all in the hub.
    pub conversations_done: u64,
    pub conversations: u64,
    pub activities_delivered: u64,
    pub activities_expected: u64,
}

/// How a demo ended.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub conversations: usize,
    pub activities_expected: usize,
    pub activities_delivered: usize,
    pub duplicates: u64,
    pub rate_limited_answers_honoured: u64,
    pub retry_after_violations: u64,
    pub seconds: f64,
    pub ledger_matches_source: bool,
    /// Conversations whose ledger differs from the source.
    #[serde(skip)]
    pub differing: usize,
}

impl Summary {
    /// Everything arrived, once each and in order.
    pub fn exact(&self) -> bool {
        self.ledger_matches_source && self.duplicates == 0
    }
}

impl Demo {
    /// Starts the simulator (`conversations`, a share `fault_429` of
    /// answers 429) and builds a daemon pointing at it over a temporary
    /// store.
    pub async fn start(conversations: usize, fault_429: f64) -> Result<Demo, Error> {
        let started = Instant::now();
        let cfg = SimConfig {
            conversations,
            growth: 3,
            grow_every: Duration::from_millis(500),
            fault_429: fault_429.clamp(0.0, 1.0),
            retry_after: RetryAfter::Mixed,
            ..SimConfig::default()
        };
        let listen = "127.0.0.1:0".parse().expect("an address");
        let sim = Sim::start(cfg, listen).await.map_err(|source| Error::Io {
            path: "127.0.0.1:0".into(),
            source,
        })?;
        let state = tempfile::tempdir().map_err(Error::io(std::path::Path::new("/tmp")))?;
        let text = format!(
            "{}\n[sync]\nstate_dir = {:?}\npoll_interval_secs = 0.5\nsince = \"{}\"\nmetrics_listen = \"127.0.0.1:0\"\n",
            sim_config_toml(&sim, 1000),
            state.path(),
            crate::clock::now_ms() - 60 * 24 * 3600 * 1000
        );
        let config = Config::parse(&text, std::path::Path::new("<demo>"))
            .map_err(|e| Error::Usage(e.to_string()))?;
        let daemon = super::daemon::open(&config)?;
        let expected = sim
            .shared
            .lp
            .conversations
            .iter()
            .map(|c| {
                let ids = sim
                    .shared
                    .expected_external_ids(&c.id, &config.mapping, true)
                    .expect("generated records convert");
                (c.id.clone(), ids)
            })
            .collect();
        let open = sim
            .shared
            .lp
            .conversations
            .iter()
            .filter(|c| c.open)
            .count();
        Ok(Demo {
            sim,
            daemon,
            conversations,
            open,
            expected,
            started,
            _state: state,
        })
    }

    /// The HTTP metrics of the daemon's clients (for a progress display).
    pub fn http(&self) -> &Arc<Metrics> {
        &self.daemon.deps.http
    }

    /// Runs the daemon until the hub holds what the source has (or two
    /// minutes pass), stops the simulator, and checks the ledger.
    /// `each` is told how far it has come about once a second.
    pub async fn run(self, each: &mut dyn FnMut(&DemoProgress)) -> Result<Summary, Error> {
        let ledger_ids = |sim: &Sim| sim.shared.ledger_external_ids();
        let deadline = self.started + Duration::from_secs(120);
        let expected_total: usize = self.expected.values().map(Vec::len).sum();
        let caught_up = async {
            let mut told = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let ledger = ledger_ids(&self.sim);
                let done = ledger == self.expected;
                if done || told.elapsed() >= Duration::from_secs(1) {
                    told = Instant::now();
                    each(&DemoProgress {
                        conversations_done: self
                            .expected
                            .iter()
                            .filter(|(k, v)| ledger.get(*k) == Some(v))
                            .count() as u64,
                        conversations: self.expected.len() as u64,
                        activities_delivered: ledger.values().map(Vec::len).sum::<usize>() as u64,
                        activities_expected: expected_total as u64,
                    });
                }
                if done || Instant::now() > deadline {
                    return;
                }
            }
        };
        super::daemon::serve_endpoint(&self.daemon).await?;
        self.daemon.run(Until::Stopped, caught_up).await?;
        let ledger = ledger_ids(&self.sim);
        let stats = self.sim.stats();
        let m = self.daemon.deps.http.snapshot();
        let summary = Summary {
            conversations: self.conversations,
            activities_expected: self.expected.values().map(Vec::len).sum(),
            activities_delivered: ledger.values().map(Vec::len).sum(),
            duplicates: stats.duplicate_deliveries,
            rate_limited_answers_honoured: m.rate_limited.values().sum(),
            retry_after_violations: stats.violations_retry_after,
            seconds: (self.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            ledger_matches_source: ledger == self.expected,
            differing: self
                .expected
                .iter()
                .filter(|(k, v)| ledger.get(*k) != Some(v))
                .count(),
        };
        self.sim.stop().await;
        Ok(summary)
    }
}
