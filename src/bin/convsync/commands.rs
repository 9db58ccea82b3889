//! The commands: each reads its arguments, calls its operation in
//! `convsync::ops`, prints what it returns, and says how it ended as an
//! [`Exit`] (main maps errors).

use crate::cli::{
    BackfillArgs, DeadLettersAction, DeadLettersArgs, DemoArgs, DiscoverArgs, DoctorArgs,
    FetchArgs, MigrateArgs, OnOff, Platform, PruneArgs, RunArgs, SimArgs, StoreAction, StoreArgs,
    VerifyArgs,
};
use crate::exit::Exit;
use crate::progress::{Comparison, Progress, RunDisplay};
use convsync::config::Config;
use convsync::ops::daemon::Until;
use convsync::ops::jobs::{Ended, Finish, Job, JobEnd, JobEvent, Update};
use convsync::ops::migrate::{Action, ConversationCheck, Migration, Preview};
use convsync::ops::sim::SimConfig;
use convsync::ops::{self, Error};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) fn print_json(v: &impl serde::Serialize, pretty: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if pretty {
        serde_json::to_writer_pretty(&mut out, v)?;
    } else {
        serde_json::to_writer(&mut out, v)?;
    }
    writeln!(out)?;
    Ok(())
}

/// A job's JSON summary with its time and its time waiting on 429s.
fn print_summary(
    summary: &impl serde::Serialize,
    started: Instant,
    waited: f64,
) -> anyhow::Result<()> {
    let mut out = serde_json::to_value(summary)?;
    out["seconds"] = ((started.elapsed().as_secs_f64() * 10.0).round() / 10.0).into();
    out["seconds_waiting_on_429"] = ((waited * 10.0).round() / 10.0).into();
    print_json(&out, true)
}

pub async fn fetch(args: FetchArgs, config: &Config) -> anyhow::Result<Exit> {
    match args.platform {
        Platform::Liveperson => {
            let records = ops::platforms::fetch_liveperson(config, &args.conversation_id).await?;
            print_json(
                &serde_json::json!({ "messageEventRecords": records }),
                args.pretty,
            )?;
        }
        Platform::Hubster => {
            let activities =
                ops::platforms::fetch_hubster(config, &args.conversation_id, args.leid).await?;
            print_json(&activities, args.pretty)?;
        }
    }
    Ok(Exit::Success)
}

pub async fn discover(args: DiscoverArgs, config: &Config) -> anyhow::Result<Exit> {
    let (since, until) = ops::range_args(&args.since, args.until.as_deref())?;
    let updated = args
        .updated_since
        .as_deref()
        .map(|u| ops::date_arg("--updated-since", u))
        .transpose()?;
    for c in ops::platforms::discover(config, since, until, updated).await? {
        print_json(&c, false)?;
    }
    Ok(Exit::Success)
}

pub async fn sim(args: SimArgs) -> anyhow::Result<Exit> {
    let cfg = SimConfig {
        conversations: args.conversations,
        seed: args.seed,
        messages: args.messages,
        growth: args.growth,
        grow_every: Duration::from_secs_f64(args.grow_every.max(0.0)),
        quota: args.quota,
        quota_burst: None,
        quota_liveperson_only: args.quota_liveperson_only,
        max_in_flight: args.max_in_flight.filter(|&n| n > 0),
        latency: Duration::from_millis(args.latency_ms),
        age: Duration::from_secs_f64(args.age_days.max(0.0) * 24.0 * 3600.0),
        fault_429: args.fault_429,
        retry_after: args.retry_after.into(),
        fault_5xx: args.fault_5xx,
        fault_timeout: args.fault_timeout,
        timeout_delay: Duration::from_secs_f64(args.timeout_delay.max(0.0)),
        fault_malformed: args.fault_malformed,
        fault_reset: args.fault_reset,
        leid: args.leid.into(),
        content_paging: args.content_paging == OnOff::On,
        token_ttl: Duration::from_secs(args.token_ttl),
        strict: args.strict,
        liveperson_strict: args.strict,
        liveperson_variants: args.variants,
        brand_content_search: args.brand_content_search.into(),
        partial_answers: args.partial_answers,
        customer_sender: args.customer_sender.into(),
        activities_lag: Duration::from_millis(args.activities_lag_ms),
        activities_cap: args.activities_cap.filter(|&n| n > 0),
        fault_timeout_late: args.fault_timeout_late,
        hosts_per_service: args.hosts_per_service,
        hub_bot: args.hub_bot,
        hub_unrouted: args.hub_unrouted,
        refuse_customer_cards: args.refuse_customer_cards,
        inbound_token: args.inbound_token.into(),
        ..SimConfig::default()
    };
    let sim = ops::sim::start(cfg, args.listen, args.write_config.as_deref()).await?;
    print_json(&sim.ready_line(), false)?;
    shutdown_signal().await;
    sim.stop().await;
    Ok(Exit::Success)
}

/// Runs a job here, or in the running daemon that holds the store, with
/// the same display, summary and exit codes either way: progress (`show`:
/// the display's title and noun, if it has one) and each conversation's
/// end (`item`). The first signal stops the job after the conversations
/// in flight (the daemon's is cancelled); a second one exits at once.
/// How it ended and its seconds waiting on 429s; `None`: the daemon is
/// stopping and resumes it when it starts again (said here).
async fn run_job(
    config: &Config,
    runner: ops::jobs::Runner,
    job: Job,
    show: Option<(&'static str, &'static str)>,
    item: &mut (dyn FnMut(&Ended) + Send),
) -> anyhow::Result<Option<(JobEnd, f64)>> {
    let mut progress =
        show.map(|(title, noun)| Progress::new(title, noun, Arc::clone(&runner.http)));
    let cancel = stop_on_signal();
    let mut on = |u: Update| match u {
        Update::Handed { id } => eprintln!(
            "convsync: the running daemon took the job ({id}); it runs beside live sync (Ctrl-C cancels the job, not the daemon)"
        ),
        Update::Event(JobEvent::Progress(e)) => {
            if let Some(p) = &mut progress {
                p.on(e);
            }
        }
        Update::Event(JobEvent::Ended(e)) => item(&e),
    };
    let finish = runner.run(config, job, cancel, &mut on).await;
    let waited = progress.map_or(0.0, Progress::finish);
    match finish? {
        Finish::Done(end) => Ok(Some((end, waited))),
        Finish::Resumes => {
            eprintln!("convsync: the daemon is stopping; it resumes the job when it starts again");
            Ok(None)
        }
    }
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
        std::process::exit(Exit::Interrupted.code().into());
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

pub async fn run(args: RunArgs, config: &Config) -> anyhow::Result<Exit> {
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
            std::process::exit(Exit::Interrupted.code().into());
        });
    };
    // A one-shot run shows how far it has come (a bar on a terminal, a
    // line every 5 s otherwise); the daemon says so in its logs per cycle.
    let mut display = RunDisplay::default();
    let mut each = |p: &ops::daemon::RunProgress| {
        if until == Until::Idle {
            display.on(p);
        }
    };
    let end = ops::daemon::run(config, until, first, &mut each).await;
    display.finish();
    let end = end?;
    if until == Until::Stopped {
        return Ok(Exit::Success);
    }
    // A one-shot run says what it could not finish.
    if end.dead_letters > 0 {
        eprintln!(
            "convsync: {} conversation(s) set aside as dead letters in this run (`convsync dead-letters list` says why)",
            end.dead_letters
        );
    }
    if !end.held.is_empty() {
        let mut why: std::collections::BTreeMap<&str, u64> = Default::default();
        for (_, h) in &end.held {
            *why.entry(h.shown.as_str()).or_default() += 1;
        }
        let why: Vec<String> = why.iter().map(|(k, n)| format!("{n} {k}")).collect();
        eprintln!(
            "convsync: {} conversation(s) held back ({}): LivePerson's answers did not prove them whole; what they showed was delivered, none was sealed, and the next run reads them again (`convsync status` lists them)",
            end.held.len(),
            why.join(", ")
        );
    }
    Ok(Exit::of_job(
        false,
        0,
        end.dead_letters,
        end.held.len() as u64,
    ))
}

pub async fn demo(args: DemoArgs) -> anyhow::Result<Exit> {
    let demo = ops::demo::Demo::start(args.conversations, args.fault_429).await?;
    eprintln!(
        "demo: simulator at {} with {} conversations ({} OPEN and growing); daemon starting",
        demo.sim.base_url(),
        demo.conversations,
        demo.open
    );
    // The same display as a backfill's, a line a second off a terminal.
    let mut progress =
        Progress::new("demo", "activities", Arc::clone(demo.http())).every(Duration::from_secs(1));
    progress.on(ops::jobs::Event::Found {
        conversations: demo.conversations,
    });
    let summary = demo
        .run(&mut |p| {
            progress.on(ops::jobs::Event::Progress {
                done: p.conversations_done,
                found: p.conversations,
                delivered: p.activities_delivered,
                dead: 0,
            })
        })
        .await?;
    progress.finish();
    // (as a JSON value: its keys sorted)
    print_json(&serde_json::to_value(&summary)?, true)?;
    if summary.exact() {
        Ok(Exit::Success)
    } else {
        eprintln!(
            "demo: {} conversation(s) differ from the source",
            summary.differing
        );
        Ok(Exit::Failed)
    }
}

pub async fn verify_daemon(args: VerifyArgs, config: &Config) -> anyhow::Result<Exit> {
    let mut progress = Comparison::new();
    let mut each = |c: &ConversationCheck| progress.checked(c);
    let (report, path) = ops::verify::daemon(config, args.report.as_deref(), &mut each).await?;
    Ok(print_verify(&report, &path))
}

pub async fn doctor(args: DoctorArgs, config: &Config) -> anyhow::Result<Exit> {
    use convsync::ops::doctor::Outcome;
    let report = ops::doctor::doctor(config).await;
    if args.json {
        print_json(&report, true)?;
    } else {
        let width = report
            .checks
            .iter()
            .map(|c| c.check.chars().count())
            .max()
            .unwrap_or(5);
        let mut out = std::io::stdout().lock();
        writeln!(out, "{:width$}  RESULT  DETAIL", "CHECK")?;
        for c in &report.checks {
            let result = match c.outcome {
                Outcome::Ok => "ok",
                Outcome::Warn => "warn",
                Outcome::Fail => "FAIL",
                Outcome::Skip => "skip",
            };
            writeln!(out, "{:width$}  {result:6}  {}", c.check, c.detail)?;
            if !c.fix.is_empty() {
                writeln!(out, "{:width$}          change: {}", "", c.fix)?;
            }
        }
        writeln!(
            out,
            "\n{}",
            if report.can_run {
                "The configured pipeline can run."
            } else {
                "The configured pipeline cannot run: change what FAIL says."
            }
        )?;
    }
    Ok(if report.can_run {
        Exit::Success
    } else {
        Exit::Failed
    })
}

/// Prints a comparison's summary; its exit.
fn print_verify(report: &ops::migrate::VerifyReport, path: &std::path::Path) -> Exit {
    eprint!("{report}");
    eprintln!("  report: {}", path.display());
    if report.differences == 0 {
        Exit::Success
    } else {
        Exit::Differences
    }
}

pub async fn prune(args: PruneArgs, config: &Config) -> anyhow::Result<Exit> {
    for r in ops::daemon::prune(config, args.as_of.as_deref()).await? {
        print_json(&r, false)?;
    }
    Ok(Exit::Success)
}

pub async fn store(args: StoreArgs, config: &Config) -> anyhow::Result<Exit> {
    match args.action {
        StoreAction::Backup { path } => {
            let b = ops::store::backup(config, &path).await?;
            println!(
                "wrote {} ({} conversations, generation {}, {} bytes)",
                b.path.display(),
                b.conversations,
                b.generation,
                b.bytes
            );
        }
        StoreAction::Check { path, json } => {
            let path = path.unwrap_or_else(|| config.sync.store_path());
            let k = ops::store::check(&path)?;
            if json {
                print_json(&k, false)?;
                return Ok(Exit::Success);
            }
            println!(
                "{}: a convsync store, schema {}",
                k.path.display(),
                k.schema
            );
            if let Some(id) = &k.store_id {
                println!("  store id             {id} (generation {})", k.generation);
            }
            if let Some((g, at)) = k.backup_of {
                println!(
                    "  a backup             of generation {g}, taken {}: opened as a store, it reads the hub for what it holds before sending",
                    convsync::clock::format_ms(at)
                );
            }
            for (p, (n, sealed, delivered)) in &k.pipelines {
                println!(
                    "  pipeline {p:<11} {n} conversations ({sealed} sealed), {delivered} activities delivered"
                );
            }
            println!("  pending intents      {}", k.intents);
            println!("  dead letters         {}", k.dead_letters);
            if let Some(f) = &k.finding {
                println!("  last found           {}", f.describe());
            }
        }
    }
    Ok(Exit::Success)
}

pub async fn dead_letters(args: DeadLettersArgs, config: &Config) -> anyhow::Result<Exit> {
    let named = args.pipeline.as_deref();
    let (retry, ids) = match args.action {
        DeadLettersAction::List { json } => {
            for l in ops::dead_letters::list(config, named)? {
                if json {
                    print_json(&l, false)?;
                } else {
                    println!(
                        "{}  {}  attempts {}  {}",
                        l.conversation_id, l.class, l.attempts, l.message
                    );
                }
            }
            return Ok(Exit::Success);
        }
        DeadLettersAction::Drop { conversation_ids } => (false, conversation_ids),
        DeadLettersAction::Retry { conversation_ids } => (true, conversation_ids),
    };
    let verb = ops::dead_letters::retry_verb(config, named);
    let mut item = |e: &Ended| match (&e.error, e.written) {
        (Some(why), _) => eprintln!("convsync: {why}"),
        (None, Some(n)) if retry => println!("{}: {verb} {n}", e.conversation_id),
        (None, _) => {}
    };
    let runner = ops::jobs::Runner::decide(&config.sync, true)?;
    let job = ops::dead_letters::job(named, retry, &ids);
    let Some((end, _)) = run_job(config, runner, job, None, &mut item).await? else {
        return Ok(Exit::Interrupted);
    };
    if end.failed > 0 {
        return Err(Error::StillFailing(end.failed).into());
    }
    Ok(Exit::Success)
}

/// A backfill's or a migration's end: its summary (with its time and its
/// time waiting on 429s), its note, its exit.
fn job_ended(end: &JobEnd, started: Instant, waited: f64) -> anyhow::Result<Exit> {
    print_summary(&end.summary, started, waited)?;
    if let Some(n) = &end.note {
        eprintln!("convsync: {n}");
    }
    if end.held > 0 {
        eprintln!(
            "convsync: {} conversation(s) held back: LivePerson's answers did not prove them whole (truncated, empty, or a 4xx that does not say why); what they showed was delivered, none was sealed, and running again (or the daemon) reads them again",
            end.held
        );
    }
    Ok(Exit::of_job(
        end.interrupted,
        end.failed,
        end.dead_letters,
        end.held,
    ))
}

pub async fn backfill(args: BackfillArgs, config: &Config) -> anyhow::Result<Exit> {
    let opts = ops::backfill::Options {
        since: args.since,
        until: args.until,
        pipeline: args.pipeline,
        conversation_ids: args.conversation_ids,
    };
    let job = ops::backfill::job(&opts)?;
    // With the daemon running, it runs the backfill beside live sync.
    let runner = ops::jobs::Runner::decide(&config.sync, false)?;
    let started = Instant::now();
    let show = Some(("backfill", "activities"));
    match run_job(config, runner, job, show, &mut |_| {}).await? {
        Some((end, waited)) => job_ended(&end, started, waited),
        None => Ok(Exit::Interrupted),
    }
}

pub async fn migrate(args: MigrateArgs, config: &Config) -> anyhow::Result<Exit> {
    if args.list {
        if config.migrations.is_empty() {
            println!(
                "no migrations configured (add a [[migration]] to the config: docs/migrations.md)"
            );
            return Ok(Exit::Success);
        }
        for l in ops::migrate::list(config)? {
            println!(
                "{}\n  {}\n  {}\n  {}",
                l.name, l.route, l.selection, l.state
            );
        }
        return Ok(Exit::Success);
    }
    let name = args
        .name
        .as_deref()
        .expect("clap requires NAME without --list");
    let m = ops::migrate::open(config, name)?;
    let verify_after = match ops::migrate::action(config, &m, args.dry_run, args.verify)? {
        Action::Verify(store) => return verify(&m, config, &store, args.report.as_deref()).await,
        Action::Preview { store, print } => return preview(&m, store, print).await,
        Action::Run { verify } => verify,
    };
    // With the daemon running, it runs the migration beside live sync.
    let runner = ops::jobs::Runner::decide(&config.sync, false)?;
    let hosted = runner.hosted();
    let job = Job::Migrate {
        name: name.to_owned(),
    };
    let started = Instant::now();
    let show = Some(("migrate", ops::migrate::noun(&m)));
    let Some((end, waited)) = run_job(config, runner, job, show, &mut |_| {}).await? else {
        return Ok(Exit::Interrupted);
    };
    let exit = job_ended(&end, started, waited)?;
    if exit == Exit::DeadLetters {
        eprintln!(
            "convsync: {} conversation(s) set aside: convsync dead-letters --pipeline {} list",
            end.dead_letters,
            m.cfg.pipeline()
        );
    }
    if verify_after && exit == Exit::Success {
        if hosted {
            eprintln!(
                "convsync: --verify reads the store, which the running daemon holds: run it again with the daemon stopped"
            );
            return Ok(exit);
        }
        let store = ops::migrate::store(config)?;
        return verify(&m, config, &store, args.report.as_deref()).await;
    }
    Ok(exit)
}

/// Dry run (counts and warnings per conversation, nothing written) or a
/// stdout target (every conversation converted, one JSON line each).
async fn preview(
    m: &Migration,
    store: Option<Arc<ops::store::Store>>,
    print_items: bool,
) -> anyhow::Result<Exit> {
    let what = ops::migrate::noun(m);
    let key = match what {
        "activities" => "activities",
        _ => "messageEventRecords",
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut io_error = None;
    let mut each = |p: &Preview| {
        let w: u64 = p.report.warnings.values().sum();
        let line = if print_items {
            let mut doc = serde_json::Map::new();
            doc.insert("conversationId".into(), p.conversation_id.clone().into());
            doc.insert(key.into(), serde_json::Value::Array(p.items.clone()));
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
    };
    let mut failed = |e: &Error| eprintln!("convsync: {e}");
    let t = ops::migrate::preview(m, store, &mut each, &mut failed).await?;
    out.flush()?;
    drop(out);
    if let Some(e) = io_error
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e.into());
    }
    let warnings: u64 = t.report.warnings.values().sum();
    let (conversations, items, failed) = (t.conversations, t.items, t.failed);
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
        Exit::Failed
    } else {
        Exit::Success
    })
}

/// `--verify`: compares, writes the JSON report, prints the summary.
async fn verify(
    m: &Migration,
    config: &Config,
    store: &Arc<ops::store::Store>,
    report_path: Option<&std::path::Path>,
) -> anyhow::Result<Exit> {
    // A long comparison says how far it got every 5 s.
    let mut progress = Comparison::new();
    let mut each = |c: &ConversationCheck| progress.checked(c);
    let (report, path) = ops::migrate::verify(m, config, store, report_path, &mut each).await?;
    Ok(print_verify(&report, &path))
}
