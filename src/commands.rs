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

/// Epoch ms from `YYYY-MM-DD` (midnight UTC), RFC 3339, or epoch ms.
pub fn parse_date(s: &str) -> anyhow::Result<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(d.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_millis());
    }
    bail!(
        "{s:?} is not a date: use YYYY-MM-DD, RFC 3339 (2026-01-31T12:00:00Z) or epoch milliseconds"
    )
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
        std::fs::write(path, sim_config_toml(&sim))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    print_json(&sim.ready_line(), false)?;
    shutdown_signal().await;
    sim.stop().await;
    Ok(())
}

/// A complete convsync config pointing at a running simulator.
pub fn sim_config_toml(sim: &Sim) -> String {
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
requests_per_second = 50
burst = 10

[hubster]
identity_url = "{base}"
engine_url = "{base}"
direct_url = "{base}"
client_id = "{client_id}"
client_secret = {{ value = "{secret}" }}

[hubster.http]
requests_per_second = 50
burst = 10
"#,
        account = c.account,
        bearer = c.bearer,
        client_id = c.hubster_client_id,
        secret = c.hubster_client_secret,
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("2026-01-31").unwrap(), 1_769_817_600_000);
        assert_eq!(
            parse_date("2026-01-31T00:00:00Z").unwrap(),
            1_769_817_600_000
        );
        assert_eq!(parse_date("1769817600000").unwrap(), 1_769_817_600_000);
        assert!(
            parse_date("last tuesday")
                .unwrap_err()
                .to_string()
                .contains("YYYY-MM-DD")
        );
    }
}
