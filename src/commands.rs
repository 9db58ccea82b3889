//! The commands that talk to the platforms or run the simulator. Each is
//! thin: read config, build the client, call the library, print.

use anyhow::{Context, anyhow, bail};
use convsync::cli::{DiscoverArgs, FetchArgs, OnOff, Platform, SimArgs};
use convsync::config::Config;
use convsync::format::hubster::IntegrationType;
use convsync::http::Metrics;
use convsync::platform::hubster::HubsterClient;
use convsync::platform::liveperson::LivePersonClient;
use convsync::sim::{Sim, SimConfig};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// Epoch ms from a date argument.
pub fn parse_date(s: &str) -> anyhow::Result<i64> {
    convsync::clock::parse_date(s).map_err(anyhow::Error::msg)
}

fn print_json(v: &impl serde::Serialize, pretty: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if pretty {
        serde_json::to_writer_pretty(&mut out, v)?;
    } else {
        serde_json::to_writer(&mut out, v)?;
    }
    writeln!(out)?;
    Ok(())
}

pub async fn fetch(args: FetchArgs, config: &Config) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    match args.platform {
        Platform::Liveperson => {
            let client =
                LivePersonClient::new(config.liveperson().map_err(|e| anyhow!(e))?, metrics)
                    .map_err(|e| anyhow!(e))?;
            let records = client.content(&args.conversation_id).await?;
            print_json(
                &serde_json::json!({ "messageEventRecords": records }),
                args.pretty,
            )
        }
        Platform::Hubster => {
            let client = HubsterClient::new(config.hubster().map_err(|e| anyhow!(e))?, metrics)
                .map_err(|e| anyhow!(e))?;
            let types = [
                IntegrationType::Customer,
                IntegrationType::Agent,
                IntegrationType::Bot,
            ];
            let activities = client
                .activities(&args.conversation_id, &types, args.leid)
                .await?;
            print_json(&activities, args.pretty)
        }
    }
}

pub async fn discover(args: DiscoverArgs, config: &Config) -> anyhow::Result<()> {
    let since = parse_date(&args.since).context("--since")?;
    let until = match &args.until {
        Some(u) => parse_date(u).context("--until")?,
        None => chrono::Utc::now().timestamp_millis(),
    };
    if until < since {
        bail!("--until is before --since");
    }
    let updated = args
        .updated_since
        .as_deref()
        .map(parse_date)
        .transpose()
        .context("--updated-since")?;
    let client = LivePersonClient::new(
        config.liveperson().map_err(|e| anyhow!(e))?,
        Arc::new(Metrics::default()),
    )
    .map_err(|e| anyhow!(e))?;
    for c in client.discover(since, until, updated).await? {
        print_json(&c, false)?;
    }
    Ok(())
}

pub async fn sim(args: SimArgs) -> anyhow::Result<()> {
    let rate = |name: &str, v: f64| -> anyhow::Result<f64> {
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            bail!("--{name} must be between 0 and 1, not {v}")
        }
    };
    let cfg = SimConfig {
        conversations: args.conversations,
        seed: args.seed,
        messages: args.messages,
        growth: args.growth,
        grow_every: Duration::from_secs_f64(args.grow_every.max(0.0)),
        quota: args.quota,
        quota_burst: None,
        fault_429: rate("fault-429", args.fault_429)?,
        retry_after: args.retry_after,
        fault_5xx: rate("fault-5xx", args.fault_5xx)?,
        fault_timeout: rate("fault-timeout", args.fault_timeout)?,
        timeout_delay: Duration::from_secs_f64(args.timeout_delay.max(0.0)),
        fault_malformed: rate("fault-malformed", args.fault_malformed)?,
        fault_reset: rate("fault-reset", args.fault_reset)?,
        leid: args.leid,
        content_paging: args.content_paging == OnOff::On,
        token_ttl: Duration::from_secs(args.token_ttl),
        ..SimConfig::default()
    };
    let sim = Sim::start(cfg, args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    if let Some(path) = &args.write_config {
        std::fs::write(path, sim_config_toml(&sim, 50))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    print_json(&sim.ready_line(), false)?;
    shutdown_signal().await;
    sim.stop().await;
    Ok(())
}

/// A complete convsync config pointing at a running simulator, with the
/// clients' quota at `rps` requests per second.
pub fn sim_config_toml(sim: &Sim, rps: u32) -> String {
    let c = &sim.shared.creds;
    let base = sim.base_url();
    format!(
        r#"# convsync config for the simulator at {base} (written by `convsync sim`).
# The credentials below are the simulator's own, fake ones: real accounts
# take secrets from the environment or systemd credentials instead, e.g.
# bearer = {{ env = "LP_BEARER" }}.

[liveperson]
account = "{account}"
source = "convsync_sim"
csds_url = "{base}"

[liveperson.auth]
bearer = {{ value = "{bearer}" }}

[liveperson.http]
requests_per_second = {rps}
burst = 10

[hubster]
identity_url = "{base}"
engine_url = "{base}"
direct_url = "{base}"
client_id = "{client_id}"
client_secret = {{ value = "{secret}" }}
# The hub whose established conversations Hubster-sourced migrations list.
hub_id = "sim-hub"

[hubster.http]
requests_per_second = {rps}
burst = 10

# Two ready migrations (README, "Migrations"). Rehearse them with
#   convsync --config <this file> migrate --list
#   convsync --config <this file> migrate liveperson-to-hubster --dry-run
#   convsync --config <this file> migrate liveperson-to-hubster --verify
#   convsync --config <this file> migrate hubster-to-liveperson-files --verify

# Every LivePerson conversation of the last 13 months (what LivePerson
# keeps) into the hub. It shares its checkpoints with the daemon (whose
# pipeline has the same name): neither delivers what the other did.
[[migration]]
name = "liveperson-to-hubster"
source = {{ platform = "liveperson" }}
target = {{ platform = "hubster" }}
# since = "2026-01-01"
# until = "2026-07-01"
# conversation_ids_file = "ids.txt"

# Every conversation the hub has established, as LivePerson JSON files
# (./export/<binding>.json: the LivePerson conversation id for those that
# came from LivePerson); a second run adds only what is new.
[[migration]]
name = "hubster-to-liveperson-files"
source = {{ platform = "hubster" }}
target = {{ platform = "files", dir = "export", format = "liveperson" }}
"#,
        account = c.account,
        bearer = c.bearer,
        client_id = c.hubster_client_id,
        secret = c.hubster_client_secret,
    )
}

/// For one-shot jobs: the first signal asks the job to stop after the
/// conversations in flight; a second one exits at once (130).
fn stop_on_signal() -> tokio::sync::watch::Receiver<bool> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        eprintln!(
            "convsync: stopping after the conversations in flight (run the same command again to go on)"
        );
        let _ = stop_tx.send(true);
        shutdown_signal().await;
        std::process::exit(130);
    });
    stop_rx
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// The daemon's exit code for a store another process holds.
pub const EXIT_STORE_IN_USE: u8 = 4;

pub async fn run(
    args: convsync::cli::RunArgs,
    config: &Config,
) -> anyhow::Result<std::process::ExitCode> {
    use convsync::sync::daemon::{Daemon, DaemonError, Until};
    let daemon = match Daemon::new(config) {
        Ok(d) => d,
        Err(DaemonError::Store(e @ convsync::store::StoreError::InUse(_))) => {
            eprintln!("convsync: {e}");
            return Ok(std::process::ExitCode::from(EXIT_STORE_IN_USE));
        }
        Err(e) => return Err(e.into()),
    };
    let until = if args.until_idle {
        Until::Idle
    } else {
        Until::Stopped
    };
    // The first signal stops gracefully; a second one exits at once.
    let first = async {
        shutdown_signal().await;
        tokio::spawn(async {
            shutdown_signal().await;
            eprintln!("convsync: second signal, exiting now (the next start recovers)");
            std::process::exit(130);
        });
    };
    daemon.run(until, first).await?;
    Ok(std::process::ExitCode::SUCCESS)
}

pub async fn demo(args: convsync::cli::DemoArgs) -> anyhow::Result<std::process::ExitCode> {
    use convsync::sync::daemon::{Daemon, Until};
    let started = std::time::Instant::now();
    let growth_every = Duration::from_millis(500);
    let cfg = SimConfig {
        conversations: args.conversations,
        growth: 3,
        grow_every: growth_every,
        fault_429: args.fault_429.clamp(0.0, 1.0),
        retry_after: convsync::sim::RetryAfter::Mixed,
        ..SimConfig::default()
    };
    let sim = Sim::start(cfg, "127.0.0.1:0".parse()?).await?;
    let state = tempfile::tempdir()?;
    let text = format!(
        "{}\n[sync]\nstate_dir = {:?}\npoll_interval_secs = 0.5\nsince = \"{}\"\nmetrics_listen = \"127.0.0.1:0\"\n",
        sim_config_toml(&sim, 1000),
        state.path(),
        convsync::clock::now_ms() - 60 * 24 * 3600 * 1000
    );
    let config =
        Config::parse(&text, std::path::Path::new("<demo>")).map_err(|e| anyhow!(e.to_string()))?;
    let daemon = Daemon::new(&config)?;
    eprintln!(
        "demo: simulator at {} with {} conversations ({} OPEN and growing); daemon starting",
        sim.base_url(),
        args.conversations,
        sim.shared
            .lp
            .conversations
            .iter()
            .filter(|c| c.open)
            .count()
    );

    // What the hub must end up with: every conversation's records, grown in full.
    let expected: std::collections::BTreeMap<String, Vec<String>> = sim
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
    let ledger_ids = |sim: &Sim| sim.shared.ledger_external_ids();
    let deadline = started + Duration::from_secs(120);
    let caught_up = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if ledger_ids(&sim) == expected || std::time::Instant::now() > deadline {
                return;
            }
        }
    };
    daemon.run(Until::Stopped, caught_up).await?;
    let ledger = ledger_ids(&sim);
    let stats = sim.stats();
    let m = daemon.http.snapshot();
    let exact = ledger == expected;
    let delivered: usize = ledger.values().map(Vec::len).sum();
    let summary = serde_json::json!({
        "conversations": args.conversations,
        "activities_expected": expected.values().map(Vec::len).sum::<usize>(),
        "activities_delivered": delivered,
        "duplicates": stats.duplicate_deliveries,
        "rate_limited_answers_honoured": m.rate_limited.values().sum::<u64>(),
        "retry_after_violations": stats.violations_retry_after,
        "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        "ledger_matches_source": exact,
    });
    print_json(&summary, true)?;
    sim.stop().await;
    if exact && stats.duplicate_deliveries == 0 {
        Ok(std::process::ExitCode::SUCCESS)
    } else {
        let missing = expected
            .iter()
            .filter(|(k, v)| ledger.get(*k) != Some(v))
            .count();
        eprintln!("demo: {missing} conversation(s) differ from the source");
        Ok(std::process::ExitCode::FAILURE)
    }
}

/// Opens the store, or says the daemon holds it (with the address of its endpoint).
fn store_or_endpoint(config: &Config) -> anyhow::Result<Result<convsync::store::Store, String>> {
    let path = config.sync.store_path();
    if !path.exists() {
        bail!(
            "no store at {} yet: the daemon has not run with this config (sync.state_dir)",
            path.display()
        );
    }
    match convsync::store::Store::open(&path) {
        Ok(s) => Ok(Ok(s)),
        Err(convsync::store::StoreError::InUse(_)) => {
            let addr = std::fs::read_to_string(config.sync.endpoint_file()).with_context(|| {
                format!(
                    "another convsync is using {}, and it publishes no endpoint",
                    path.display()
                )
            })?;
            Ok(Err(addr.trim().to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> anyhow::Result<T> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    Ok(client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

pub async fn status(args: convsync::cli::StatusArgs, config: &Config) -> anyhow::Result<()> {
    let st: convsync::telemetry::Status = match store_or_endpoint(config)? {
        Ok(store) => convsync::telemetry::status_of(&store, &config.sync.pipeline),
        Err(addr) => get_json(&format!("http://{addr}/status"))
            .await
            .context("asking the running daemon")?,
    };
    if args.json {
        return print_json(&st, false);
    }
    let when = st.watermark_ms.map_or_else(
        || "none yet".to_owned(),
        |w| chrono::DateTime::from_timestamp_millis(w).map_or(w.to_string(), |d| d.to_rfc3339()),
    );
    println!("pipeline {} (store {})", st.pipeline, st.store);
    println!("  conversations        {}", st.conversations);
    println!("  activities delivered {}", st.activities_delivered);
    println!(
        "  watermark            {when}{}",
        st.lag_seconds
            .map_or(String::new(), |l| format!(" ({l:.0} s ago)"))
    );
    println!("  dead letters         {}", st.dead_letters);
    println!("  pending intents      {}", st.pending_intents);
    if let Some(c) = st.cycles {
        println!("  cycles (running)     {c}");
    }
    Ok(())
}

pub async fn dead_letters(
    args: convsync::cli::DeadLettersArgs,
    config: &Config,
) -> anyhow::Result<()> {
    use convsync::cli::DeadLettersAction as A;
    let action = args.action;
    // A migration's name stands for its pipeline.
    let migration = args.pipeline.as_deref().and_then(|p| {
        config
            .migrations
            .iter()
            .find(|m| m.name == p || m.pipeline() == p)
    });
    let store = match store_or_endpoint(config)? {
        Ok(s) => std::sync::Arc::new(s),
        Err(_) => bail!(
            "the daemon holds the store {}: stop it first (systemctl stop convsync)",
            config.sync.store_path().display()
        ),
    };
    let pipeline = match (migration, &args.pipeline) {
        (Some(m), _) => m.pipeline().to_owned(),
        (None, Some(p)) => p.clone(),
        (None, None) => config.sync.pipeline.clone(),
    };
    match action {
        A::List { json } => {
            for d in store
                .dead_letters()?
                .into_iter()
                .filter(|d| d.pipeline == pipeline)
            {
                if json {
                    print_json(&d, false)?;
                } else {
                    println!(
                        "{}  {}  attempts {}  {}",
                        d.conversation_id, d.class, d.attempts, d.message
                    );
                }
            }
        }
        A::Drop { conversation_ids } => {
            for id in conversation_ids {
                if !store.remove_dead_letter(&pipeline, &id)? {
                    eprintln!("convsync: {id} is not a dead letter");
                }
            }
        }
        A::Retry { conversation_ids }
            if migration.is_some_and(|m| m.pipeline() != config.sync.pipeline) =>
        {
            let m =
                convsync::sync::migrate::Migration::new(config, &migration.expect("some").name)?;
            let (mut failed, mut store_error) = (0, None);
            let mut each = |id: &str, r: Result<u64, _>| match r {
                Ok(n) => match store.remove_dead_letter(&pipeline, id) {
                    Ok(_) => println!("{id}: wrote {n}"),
                    Err(e) => {
                        store_error.get_or_insert(e);
                    }
                },
                Err(e) => {
                    failed += 1;
                    eprintln!("convsync: {e}");
                }
            };
            m.retry(&store, &conversation_ids, &mut each).await?;
            if let Some(e) = store_error {
                return Err(e.into());
            }
            if failed > 0 {
                bail!("{failed} conversation(s) still fail");
            }
        }
        A::Retry { conversation_ids } => {
            use convsync::sync::daemon::Daemon;
            drop(store);
            let d = Daemon::new(config)?;
            let mut failed = 0;
            for id in conversation_ids {
                match convsync::sync::pipeline::sync_conversation(
                    &pipeline, &id, &d.source, &d.sink, &d.store, &d.mapping,
                )
                .await
                {
                    Ok(o) => {
                        d.store.remove_dead_letter(&pipeline, &id)?;
                        println!("{id}: delivered {}", o.delivered);
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("convsync: {e}");
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} conversation(s) still fail");
            }
        }
    }
    Ok(())
}

pub const EXIT_DEAD_LETTERS: u8 = 5;

pub async fn backfill(
    args: convsync::cli::BackfillArgs,
    config: &Config,
) -> anyhow::Result<std::process::ExitCode> {
    use convsync::sync::backfill::{self, Event, Request};
    use convsync::sync::daemon::{Daemon, DaemonError};
    use std::process::ExitCode;
    let since = parse_date(&args.since).context("--since")?;
    let until = match &args.until {
        Some(u) => parse_date(u).context("--until")?,
        None => convsync::clock::now_ms(),
    };
    if until < since {
        bail!("--until is before --since");
    }
    let ids = match &args.conversation_ids {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let ids: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect();
            if ids.is_empty() {
                bail!("{} lists no conversation ids", path.display());
            }
            Some(ids)
        }
        None => None,
    };
    let mut config = config.clone();
    if let Some(p) = args.pipeline {
        config.sync.pipeline = p;
    }
    let daemon = match Daemon::new(&config) {
        Ok(d) => d,
        Err(DaemonError::Store(e @ convsync::store::StoreError::InUse(_))) => {
            eprintln!("convsync: {e} (stop the daemon first: a backfill needs the store)");
            return Ok(ExitCode::from(EXIT_STORE_IN_USE));
        }
        Err(e) => return Err(e.into()),
    };
    let stop_rx = stop_on_signal();

    let started = std::time::Instant::now();
    let mut progress = Progress::new(
        "backfill",
        "activities",
        std::sync::Arc::clone(&daemon.http),
    );
    let mut on = |e: Event| progress.on(e);
    let req = Request {
        since_ms: since,
        until_ms: until,
        until_given: args.until.is_some(),
        ids,
        remember_windows: true,
        window_ms: convsync::platform::liveperson::MAX_WINDOW_MS,
    };
    let summary = backfill::run(&daemon, &req, stop_rx, &mut on).await?;
    let waited = progress.finish();
    let mut out = serde_json::to_value(&summary)?;
    out["seconds"] = ((started.elapsed().as_secs_f64() * 10.0).round() / 10.0).into();
    out["seconds_waiting_on_429"] = ((waited * 10.0).round() / 10.0).into();
    print_json(&out, true)?;
    Ok(if summary.interrupted {
        ExitCode::from(130)
    } else if summary.failed > 0 {
        ExitCode::FAILURE
    } else if summary.dead_letters > 0 {
        ExitCode::from(EXIT_DEAD_LETTERS)
    } else {
        ExitCode::SUCCESS
    })
}

/// Progress of a long job on stderr: an indicatif bar on a terminal, a
/// plain line every 5 s otherwise.
struct Progress {
    label: &'static str,
    /// What is written: activities or records.
    noun: &'static str,
    http: std::sync::Arc<convsync::http::Metrics>,
    bar: Option<indicatif::ProgressBar>,
    started: std::time::Instant,
    last_line: std::time::Instant,
}

impl Progress {
    fn new(
        label: &'static str,
        noun: &'static str,
        http: std::sync::Arc<convsync::http::Metrics>,
    ) -> Progress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} conversations  {msg}  ETA {eta}",
                )
                .expect("valid template"),
            );
            bar
        });
        Progress {
            label,
            noun,
            http,
            bar,
            started: std::time::Instant::now(),
            last_line: std::time::Instant::now(),
        }
    }

    /// Seconds spent waiting on 429s so far.
    fn waited(&self) -> f64 {
        // (+ 0.0: an empty f64 sum is -0.0)
        self.http.snapshot().wait_seconds.values().sum::<f64>() + 0.0
    }

    fn on(&mut self, e: convsync::sync::backfill::Event) {
        use convsync::sync::backfill::Event;
        match e {
            Event::Window {
                index,
                of,
                from,
                to,
                found,
                skipped,
            } => {
                let span = |ms: i64| {
                    chrono::DateTime::from_timestamp_millis(ms)
                        .map_or(ms.to_string(), |d| d.format("%Y-%m-%d").to_string())
                };
                let text = if skipped {
                    format!(
                        "window {}/{of} {}..{}: done before",
                        index + 1,
                        span(from),
                        span(to)
                    )
                } else {
                    format!(
                        "window {}/{of} {}..{}: {found} conversations",
                        index + 1,
                        span(from),
                        span(to)
                    )
                };
                match &self.bar {
                    Some(b) => {
                        b.inc_length(found as u64);
                        b.println(text);
                    }
                    None => eprintln!("convsync: {}: {text}", self.label),
                }
            }
            Event::Found { conversations } => match &self.bar {
                Some(b) => {
                    b.inc_length(conversations as u64);
                    b.println(format!("{conversations} conversations"));
                }
                None => eprintln!("convsync: {}: {conversations} conversations", self.label),
            },
            Event::Progress {
                done,
                found,
                delivered,
                dead,
            } => {
                let rate = delivered as f64 / self.started.elapsed().as_secs_f64().max(0.001);
                let msg = format!(
                    "{delivered} {} ({rate:.0}/s), {dead} dead letters, {:.0} s waiting on 429s",
                    self.noun,
                    self.waited()
                );
                match &self.bar {
                    Some(b) => {
                        b.set_position(done);
                        b.set_message(msg);
                    }
                    None if self.last_line.elapsed() >= Duration::from_secs(5) || done == found => {
                        self.last_line = std::time::Instant::now();
                        eprintln!(
                            "convsync: {}: {done}/{found} conversations, {msg}",
                            self.label
                        );
                    }
                    None => {}
                }
            }
        }
    }

    /// Clears the bar; returns the seconds spent waiting on 429s.
    fn finish(self) -> f64 {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        self.waited()
    }
}

/// `migrate`'s exit code when --verify found differences.
pub const EXIT_DIFFERENCES: u8 = 6;

/// Opens the store for a migration, or says who holds it.
fn migration_store(config: &Config) -> Result<convsync::store::Store, std::process::ExitCode> {
    let path = config.sync.store_path();
    if let Some(dir) = path.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("convsync: cannot create {}: {e}", dir.display());
        return Err(std::process::ExitCode::FAILURE);
    }
    match convsync::store::Store::open(&path) {
        Ok(s) => Ok(s),
        Err(e @ convsync::store::StoreError::InUse(_)) => {
            eprintln!("convsync: {e} (stop the daemon first: a migration needs the store)");
            Err(std::process::ExitCode::from(EXIT_STORE_IN_USE))
        }
        Err(e) => {
            eprintln!("convsync: {e}");
            Err(std::process::ExitCode::FAILURE)
        }
    }
}

/// Bad usage or config (as `main`'s).
const EXIT_USAGE: u8 = 2;

pub async fn migrate(
    args: convsync::cli::MigrateArgs,
    config: &Config,
) -> anyhow::Result<std::process::ExitCode> {
    use convsync::sync::migrate::{self, Endpoint, Migration, State};
    use std::process::ExitCode;
    use std::sync::Arc;
    if args.list {
        return migrate_list(config);
    }
    let name = args
        .name
        .as_deref()
        .expect("clap requires NAME without --list");
    let m = match Migration::new(config, name) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("convsync: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let stdout_target = matches!(m.cfg.target, Endpoint::Stdout {});
    if stdout_target && args.verify {
        eprintln!(
            "convsync: migration {name:?} writes to stdout, which keeps nothing to compare: --verify needs a Hubster or files target"
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }

    // A dry run reads the store's resume points only if there is a store.
    if args.dry_run || stdout_target {
        if args.dry_run && args.verify && !config.sync.store_path().exists() {
            eprintln!(
                "convsync: no store at {}: migration {name:?} has not run with this config (sync.state_dir), so there is nothing to verify",
                config.sync.store_path().display()
            );
            return Ok(ExitCode::FAILURE);
        }
        let store = if args.dry_run && config.sync.store_path().exists() {
            match migration_store(config) {
                Ok(s) => Some(Arc::new(s)),
                Err(code) => return Ok(code),
            }
        } else {
            None
        };
        if args.dry_run && args.verify {
            let store = store.expect("opened for --verify");
            return verify(&m, &store, args.report.as_deref(), config).await;
        }
        return preview(&m, store, stdout_target && !args.dry_run).await;
    }

    let store = match migration_store(config) {
        Ok(s) => Arc::new(s),
        Err(code) => return Ok(code),
    };
    let stop_rx = stop_on_signal();
    let started = std::time::Instant::now();
    let mut progress = Progress::new(
        "migrate",
        match m.cfg.direction() {
            migrate::Direction::ToHubster => "activities",
            migrate::Direction::ToLivePerson => "records",
        },
        Arc::clone(&m.http),
    );
    let mut on = |e| progress.on(e);
    let summary = match m.run(Arc::clone(&store), stop_rx, &mut on).await {
        Ok(s) => s,
        Err(migrate::MigrateError::Setup(e)) => {
            progress.finish();
            if e.starts_with("migration ") {
                eprintln!("convsync: {e}");
            } else {
                eprintln!("convsync: migration {name:?}: {e}");
            }
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    let waited = progress.finish();
    let mut out = serde_json::to_value(&summary)?;
    out["seconds"] = ((started.elapsed().as_secs_f64() * 10.0).round() / 10.0).into();
    out["seconds_waiting_on_429"] = ((waited * 10.0).round() / 10.0).into();
    print_json(&out, true)?;
    let state: Option<State> = store.progress(&State::key(name))?;
    if let Some(s) = state {
        eprintln!("convsync: migration {name}: {}", s.describe());
    }
    let code = if summary.interrupted {
        ExitCode::from(130)
    } else if summary.failed > 0 {
        ExitCode::FAILURE
    } else if summary.dead_letters > 0 {
        eprintln!(
            "convsync: {} conversation(s) set aside: convsync dead-letters --pipeline {} list",
            summary.dead_letters,
            m.cfg.pipeline()
        );
        ExitCode::from(EXIT_DEAD_LETTERS)
    } else {
        ExitCode::SUCCESS
    };
    if args.verify && code == ExitCode::SUCCESS {
        return verify(&m, &store, args.report.as_deref(), config).await;
    }
    Ok(code)
}

/// `migrate --list`: every migration and its state.
fn migrate_list(config: &Config) -> anyhow::Result<std::process::ExitCode> {
    use convsync::sync::migrate::State;
    if config.migrations.is_empty() {
        println!(
            "no migrations configured (add a [[migration]] to the config: README, \"Migrations\")"
        );
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let path = config.sync.store_path();
    let store = if path.exists() {
        match convsync::store::Store::open(&path) {
            Ok(s) => Ok(Some(s)),
            Err(convsync::store::StoreError::InUse(_)) => Err("unknown: the store is in use"),
            Err(e) => return Err(e.into()),
        }
    } else {
        Ok(None)
    };
    for m in &config.migrations {
        let mut selection = Vec::new();
        if let Some(s) = &m.since {
            selection.push(format!("since {s}"));
        }
        if let Some(u) = &m.until {
            selection.push(format!("until {u}"));
        }
        if !m.conversation_ids.is_empty() {
            selection.push(format!("{} conversation ids", m.conversation_ids.len()));
        }
        if let Some(f) = &m.conversation_ids_file {
            selection.push(format!("ids in {}", f.display()));
        }
        if selection.is_empty() {
            selection.push("everything".into());
        }
        let state = match &store {
            Ok(Some(s)) => s
                .progress::<State>(&State::key(&m.name))?
                .unwrap_or_default()
                .describe(),
            Ok(None) => State::default().describe(),
            Err(why) => (*why).to_owned(),
        };
        println!(
            "{}\n  {} -> {}\n  {}\n  {state}",
            m.name,
            m.source.describe(),
            m.target.describe(),
            selection.join(", ")
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Dry run (counts and warnings per conversation, nothing written) or a
/// stdout target (every conversation converted, one JSON line each).
async fn preview(
    m: &convsync::sync::migrate::Migration,
    store: Option<std::sync::Arc<convsync::store::Store>>,
    print_items: bool,
) -> anyhow::Result<std::process::ExitCode> {
    use convsync::sync::migrate::Direction;
    use std::io::Write;
    let key = match m.cfg.direction() {
        Direction::ToHubster => "activities",
        Direction::ToLivePerson => "messageEventRecords",
    };
    let what = match m.cfg.direction() {
        Direction::ToHubster => "activities",
        Direction::ToLivePerson => "records",
    };
    let mut total = convsync::format::Report::default();
    let (mut conversations, mut failed, mut items) = (0u64, 0u64, 0u64);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut io_error = None;
    let mut each = |r: Result<convsync::sync::migrate::Preview, _>| match r {
        Ok(p) => {
            conversations += 1;
            items += p.items.len() as u64;
            let w: u64 = p.report.warnings.values().sum();
            let line = if print_items {
                let mut doc = serde_json::Map::new();
                doc.insert("conversationId".into(), p.conversation_id.clone().into());
                doc.insert(key.into(), serde_json::Value::Array(p.items));
                serde_json::to_string(&doc).expect("values serialize")
            } else {
                let mut l = format!(
                    "{}: {} read, {} {what} to write",
                    p.conversation_id,
                    p.read,
                    p.items.len()
                );
                if p.report.already_delivered > 0 {
                    l += &format!(", {} written before", p.report.already_delivered);
                }
                if w > 0 {
                    l += &format!(", {w} warnings");
                }
                for s in &p.report.samples {
                    l += &format!("\n    warning {}: {}", s.kind, s.detail);
                }
                l
            };
            if let Err(e) = writeln!(out, "{line}") {
                io_error.get_or_insert(e);
            }
            total.merge(p.report);
        }
        Err(e) => {
            failed += 1;
            eprintln!("convsync: {e}");
        }
    };
    m.preview(store, &mut each).await?;
    out.flush()?;
    drop(out);
    if let Some(e) = io_error
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e.into());
    }
    let warnings: u64 = total.warnings.values().sum();
    if print_items {
        eprintln!(
            "convsync: {conversations} conversations, {items} {what}, {warnings} warnings, {failed} failed"
        );
    } else {
        println!(
            "dry run of {}: {conversations} conversations, {items} {what} would be written, {warnings} warnings, {failed} failed; nothing was written",
            m.name()
        );
    }
    Ok(if failed > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}

/// `--verify`: compares, writes the JSON report, prints the summary.
async fn verify(
    m: &convsync::sync::migrate::Migration,
    store: &std::sync::Arc<convsync::store::Store>,
    report_path: Option<&std::path::Path>,
    config: &Config,
) -> anyhow::Result<std::process::ExitCode> {
    // A long comparison says how far it got every 5 s.
    let (mut compared, mut differ) = (0u64, 0u64);
    let mut last = std::time::Instant::now();
    let mut each = |c: &convsync::sync::migrate::ConversationCheck| {
        compared += 1;
        differ += u64::from(c.differences() > 0);
        if last.elapsed() >= Duration::from_secs(5) {
            last = std::time::Instant::now();
            eprintln!("convsync: verify: {compared} conversations compared, {differ} differ");
        }
    };
    let report = m.verify(store, &mut each).await?;
    let path = report_path.map_or_else(
        || convsync::sync::migrate::default_report_path(&config.sync, m.name()),
        std::path::Path::to_path_buf,
    );
    std::fs::write(&path, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprint!("{report}");
    eprintln!("  report: {}", path.display());
    Ok(if report.differences == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(EXIT_DIFFERENCES)
    })
}
