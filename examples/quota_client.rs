//! The client side of `bench/quota.sh`: `tasks` tasks share one LivePerson
//! client (one quota, one pause gate) and make `requests` content-search
//! calls in all against the configured account (or, given SECONDS, as many
//! as they can for that long); prints one JSON line, with the calls done
//! and the 429s got in the first 60 s and after.
//!
//! Usage: quota_client CONFIG REQUESTS TASKS [SECONDS]

use convsync::config::Config;
use convsync::http::Metrics;
use convsync::platform::liveperson::LivePersonClient;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (config, requests, tasks, seconds) = match args.as_slice() {
        [_, c, r, t] => (c, r, t, None),
        [_, c, r, t, s] => (c, r, t, Some(s.parse::<f64>()?)),
        _ => anyhow::bail!("usage: quota_client CONFIG REQUESTS TASKS [SECONDS]"),
    };
    let (requests, tasks): (usize, usize) = (requests.parse()?, tasks.parse()?);
    let requests = if seconds.is_some() {
        usize::MAX
    } else {
        requests
    };
    let cfg = Config::load(std::path::Path::new(config))?;
    let metrics = Arc::new(Metrics::default());
    let client = Arc::new(
        LivePersonClient::new(
            cfg.liveperson().map_err(anyhow::Error::msg)?,
            Arc::clone(&metrics),
        )
        .map_err(anyhow::Error::msg)?,
    );
    // Discovery first (not timed): the ids to read.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let month = 31 * 24 * 3600 * 1000;
    let ids: Arc<Vec<String>> = Arc::new(
        client
            .discover(now - month, now, None)
            .await?
            .into_iter()
            .map(|c| c.conversation_id)
            .collect(),
    );
    anyhow::ensure!(!ids.is_empty(), "no conversations found");
    let left = Arc::new(AtomicUsize::new(requests));
    let done = Arc::new(AtomicUsize::new(0));
    let start = std::time::Instant::now();
    let deadline = seconds.map(|s| start + std::time::Duration::from_secs_f64(s));
    // What the first 60 s came to.
    let first = {
        let (done, metrics) = (Arc::clone(&done), Arc::clone(&metrics));
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            let m = metrics.snapshot();
            (
                done.load(Ordering::SeqCst),
                m.rate_limited.get("liveperson").copied().unwrap_or(0),
            )
        })
    };
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (client, ids, left, done) = (
            Arc::clone(&client),
            Arc::clone(&ids),
            Arc::clone(&left),
            Arc::clone(&done),
        );
        handles.push(tokio::spawn(async move {
            let mut i = t;
            while deadline.is_none_or(|d| std::time::Instant::now() < d)
                && left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            {
                client
                    .content(&ids[i % ids.len()])
                    .await
                    .expect("calls succeed");
                done.fetch_add(1, Ordering::SeqCst);
                i += tasks;
            }
        }));
    }
    for h in handles {
        h.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let m = metrics.snapshot();
    let requests = done.load(Ordering::SeqCst);
    let rate_limited = m.rate_limited.get("liveperson").copied().unwrap_or(0);
    let first = if elapsed > 60.0 {
        let (d, r) = first.await?;
        serde_json::json!({"requests": d, "rate_limited": r, "secs": 60.0})
    } else {
        first.abort();
        serde_json::Value::Null
    };
    let pace = m.pace.get("liveperson");
    println!(
        "{}",
        serde_json::json!({"requests": requests, "elapsed_secs": elapsed, "rate": requests as f64 / elapsed,
            "rate_limited": rate_limited,
            "retries": m.retries.get("liveperson").copied().unwrap_or(0),
            "first": first, "pace": pace})
    );
    Ok(())
}
