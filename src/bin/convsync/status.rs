//! `status`: what the daemon has done, as a table or as JSON.

use crate::cli::StatusArgs;
use crate::commands::print_json;
use crate::exit::Exit;
use convsync::config::Config;
use convsync::ops;

pub async fn status(args: StatusArgs, config: &Config) -> anyhow::Result<Exit> {
    let st = ops::daemon::status(config).await?;
    if args.json {
        print_json(&st, false)?;
        return Ok(Exit::Success);
    }
    let when = st.watermark_ms.map_or_else(
        || "none yet".to_owned(),
        |w| chrono::DateTime::from_timestamp_millis(w).map_or(w.to_string(), |d| d.to_rfc3339()),
    );
    println!("pipeline {} (store {})", st.pipeline, st.store);
    println!("  conversations        {}", st.conversations);
    println!(
        "  store size           {:.1} MB ({} bytes a conversation)",
        st.store_bytes as f64 / 1e6,
        st.store_bytes.checked_div(st.conversations).unwrap_or(0)
    );
    match &st.last_prune {
        Some(p) => println!(
            "  last prune           {}: {} conversations, {} dead letters, {} backfill windows older than {} removed{}",
            convsync::clock::format_ms(p.at_ms),
            p.conversations,
            p.dead_letters,
            p.progress,
            convsync::clock::format_ms(p.cutoff_ms),
            if p.compacted { "; file compacted" } else { "" }
        ),
        None => println!("  last prune           none yet"),
    }
    println!("  activities delivered {}", st.activities_delivered);
    println!(
        "  watermark            {when}{}",
        st.lag_seconds
            .map_or(String::new(), |l| format!(" ({l:.0} s ago)"))
    );
    println!("  dead letters         {}", st.dead_letters);
    println!("  pending intents      {}", st.pending_intents);
    if !st.held.is_empty() {
        println!(
            "  held open            {} conversation(s): LivePerson's answers did not prove them whole",
            st.held.len()
        );
        // The first few; `status --json` lists every one.
        for h in st.held.iter().take(10) {
            println!(
                "    {}  {} ({} read(s) since {}), next read {}",
                h.conversation_id,
                h.held.shown,
                h.held.tries,
                convsync::clock::format_ms(h.held.since_ms),
                convsync::clock::format_ms(h.held.next_ms)
            );
        }
    }
    if let Some(c) = st.cycles {
        println!("  cycles (running)     {c}");
    }
    if let Some(f) = &st.freshness {
        println!(
            "  freshness            p50 {:.1} s, p99 {:.1} s (hub acknowledgement - LivePerson time, the latest {} message(s) since caught up)",
            f.p50_seconds, f.p99_seconds, f.messages
        );
    }
    if let Some(n) = st.reconciled {
        println!("  reconciled from hub  {n} conversation(s) since start");
    }
    if let Some(f) = &st.store_found {
        println!("  store                {}", f.describe());
    }
    if let Some(why) = &st.degraded {
        println!("  degraded             {why}");
    }
    for j in &st.jobs {
        println!("  job                  {j}");
    }
    for (upstream, l) in &st.pace {
        println!(
            "  pace {upstream:<15} {:.1} requests/s, {} in flight",
            l.requests_per_second, l.concurrency
        );
    }
    Ok(Exit::Success)
}
