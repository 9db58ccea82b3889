//! The client side of `bench/quota.sh`: `tasks` tasks share one LivePerson
//! client (one quota, one pause gate) and make `requests` content-search
//! calls in all against the configured account; prints one JSON line.
//!
//! Usage: quota_client CONFIG REQUESTS TASKS

use convsync::config::Config;
use convsync::http::Metrics;
use convsync::platform::liveperson::LivePersonClient;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, config, requests, tasks] = args.as_slice() else {
        anyhow::bail!("usage: quota_client CONFIG REQUESTS TASKS");
    };
    let (requests, tasks): (usize, usize) = (requests.parse()?, tasks.parse()?);
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
    let start = std::time::Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (client, ids, left) = (Arc::clone(&client), Arc::clone(&ids), Arc::clone(&left));
        handles.push(tokio::spawn(async move {
            let mut i = t;
            while left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                client
                    .content(&ids[i % ids.len()])
                    .await
                    .expect("calls succeed");
                i += tasks;
            }
        }));
    }
    for h in handles {
        h.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let m = metrics.snapshot();
    println!(
        "{}",
        serde_json::json!({"requests": requests, "elapsed_secs": elapsed, "rate": requests as f64 / elapsed,
            "rate_limited": m.rate_limited.get("liveperson").copied().unwrap_or(0),
            "retries": m.retries.get("liveperson").copied().unwrap_or(0)})
    );
    Ok(())
}
