//! What a new user meets first: an address where nothing listens is named
//! at once with the key to check, by `doctor` and by `run`; logs carry no
//! colour codes when stderr is not a terminal.

use crate::support::command;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A loopback port nothing listens on (bound, then let go).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A config whose every address is a loopback port where nothing listens.
fn unreachable_config(dir: &std::path::Path) -> std::path::PathBuf {
    config_at(dir, &format!("http://127.0.0.1:{}", closed_port()))
}

/// A loopback server that speaks plain HTTP: whatever it is sent (a TLS
/// ClientHello), it answers 400 and closes, as a plain listener where
/// `https` was configured does.
fn plain_http_server() -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    port
}

/// A config whose every address is `url`.
fn config_at(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"[liveperson]
account = "123"
source = "convsync_tests"
csds_url = "{url}"
[liveperson.auth]
bearer = {{ value = "b" }}

[hubster]
identity_url = "{url}"
engine_url = "{url}"
direct_url = "{url}"
client_id = "hubster.engine.api.0123"
client_secret = {{ value = "s" }}

[sync]
state_dir = "{state}"
metrics_listen = ""
"#,
            state = dir.join("state").display()
        ),
    )
    .unwrap();
    config
}

/// Runs `doctor` on `config`: it fails, a line names `failure` with each
/// address key, and it answered after one attempt; prints how long it took.
fn doctor_names_after_one_attempt(config: &std::path::Path, failure: &str, what: &str) {
    let start = Instant::now();
    let out = command(Some(config), &["doctor"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    for key in ["liveperson.csds_url", "hubster.identity_url"] {
        assert!(
            text.lines().any(|l| l.contains(failure) && l.contains(key)),
            "no line names the {what} and {key}:\n{text}"
        );
    }
    // One attempt each: nothing waits (a retried refusal took 120 s).
    assert!(
        text.contains("gave up after 1 attempt(s)"),
        "retried instead of answering:\n{text}"
    );
    eprintln!("doctor's verdict on a {what}: {took:?}");
}

#[test]
fn doctor_names_a_refused_connection_and_the_key_to_check_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = unreachable_config(dir.path());
    doctor_names_after_one_attempt(&config, "connection refused", "refused connection");
}

#[test]
fn doctor_names_a_tls_failure_and_the_key_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_at(
        dir.path(),
        &format!("https://127.0.0.1:{}", plain_http_server()),
    );
    doctor_names_after_one_attempt(&config, "TLS with 127.0.0.1:", "TLS failure");
}

#[test]
fn run_warns_of_a_refused_connection_naming_the_key_and_without_colour() {
    let dir = tempfile::tempdir().unwrap();
    let config = unreachable_config(dir.path());
    let start = Instant::now();
    let mut child = command(Some(&config), &["run"])
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // A limit a loaded machine keeps; the time it took is printed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let warning = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if line.contains("connection refused")
                    && (line.contains("liveperson.csds_url")
                        || line.contains("hubster.identity_url"))
                {
                    break line;
                }
                seen.push(line);
            }
            Err(_) => {
                let _ = child.kill();
                panic!("no warning naming the refusal and its key; stderr:\n{seen:#?}");
            }
        }
    };
    let took = start.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        !warning.contains('\u{1b}') && seen.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes on a stderr that is not a terminal: {warning:?}"
    );
    eprintln!("run's first warning of a refused connection: {took:?}: {warning}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_until_idle_shows_progress_lines_while_it_syncs() {
    let sim = crate::support::sim(convsync::sim::SimConfig {
        conversations: 60,
        growth: 0,
        ..convsync::sim::SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    // Posts at 60 a second: the sync of ~800 activities takes long enough
    // for the lines a non-terminal gets every 5 s.
    let platforms = crate::support::platforms_toml(&sim, &sim);
    let (lp, hub) = platforms.split_once("[hubster]").unwrap();
    let hub = hub.replace("requests_per_second = 2000", "requests_per_second = 60");
    let config = dir.path().join("convsync.toml");
    std::fs::write(
        &config,
        format!(
            "{lp}[hubster]{hub}\n[sync]\nstate_dir = {:?}\nsince = \"2000-01-01\"\nmetrics_listen = \"\"\n",
            dir.path().join("state")
        ),
    )
    .unwrap();
    let child = crate::support::spawn_piped(&config, &["run", "--until-idle"]);
    let out = crate::support::output_of(child).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // "convsync: run: 12/60 conversations, 160 activities (..."
    let lines: Vec<(u64, u64)> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("convsync: run: "))
        .filter_map(|l| {
            let (done, rest) = l.split_once('/')?;
            let found = rest.split_once(' ')?.0;
            Some((done.parse().ok()?, found.parse().ok()?))
        })
        .collect();
    assert!(
        lines.iter().any(|(done, found)| done < found),
        "no progress line while it synced:\n{stderr}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|(done, found)| done == found && *found >= 60),
        "no last line with every conversation:\n{stderr}"
    );
    assert!(
        stderr.contains("convsync: run: 60 conversations"),
        "{stderr}"
    );
    sim.stop().await;
}

#[test]
fn the_top_level_help_fits_a_screen_with_one_line_per_command() {
    let out = command(None, &["--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let lines = help.lines().count();
    assert!(lines <= 40, "{lines} lines:\n{help}");
    // Each command on one line: the line after a command's is another
    // command, a blank or the options' heading.
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    for l in &commands {
        assert!(
            l.starts_with("  ") && !l.starts_with("    "),
            "a command's entry runs over one line: {l:?}\n{help}"
        );
    }
    for c in [
        "run", "backfill", "migrate", "doctor", "init", "convert", "sim",
    ] {
        assert!(
            commands
                .iter()
                .any(|l| l.trim_start().starts_with(&format!("{c} "))),
            "{c} missing:\n{help}"
        );
    }
    // The long explanation stays in `help <command>`.
    let out = command(None, &["help", "backfill"]).output().unwrap();
    let long = String::from_utf8(out.stdout).unwrap();
    assert!(long.contains("windows of at most 3 months"), "{long}");
}

#[test]
fn init_writes_a_config_doctor_fails_only_on_its_placeholders_naming_each_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("account.toml");
    let out = command(None, &["init", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // Never over an existing file.
    std::fs::write(&path, "# mine\n").unwrap();
    let again = command(None, &["init", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("never overwrites"),
        "{again:?}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
    // `convsync init | convsync --config /dev/stdin doctor`.
    let text = command(None, &["init"]).output().unwrap().stdout;
    let mut doctor = command(
        Some(std::path::Path::new("/dev/stdin")),
        &["doctor", "--json"],
    )
    .env_remove("CREDENTIALS_DIRECTORY")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    {
        use std::io::Write;
        doctor.stdin.take().unwrap().write_all(&text).unwrap();
    }
    let out = doctor.wait_with_output().unwrap();
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let failed: Vec<String> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .map(|c| c["check"].as_str().unwrap().to_owned())
        .collect();
    let want = [
        "config: liveperson.account",
        "config: liveperson.auth.consumer_key",
        "config: liveperson.auth.consumer_secret",
        "config: liveperson.auth.token",
        "config: liveperson.auth.token_secret",
        "config: hubster.client_id",
        "config: hubster.client_secret",
        "config: mapping.integrations.customer.integration_id",
        "config: mapping.integrations.agent.integration_id",
        "config: mapping.integrations.bot.integration_id",
    ];
    assert_eq!(failed, want, "{report:#}");
}
