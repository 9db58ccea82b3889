//! The progress display of every long command (backfill, migrate and its
//! verify, demo): an indicatif bar on a terminal, a plain line every few
//! seconds otherwise.

use std::time::Duration;

/// Progress of a long job on stderr: an indicatif bar on a terminal, a
/// plain line every 5 s otherwise.
pub struct Progress {
    label: &'static str,
    /// What is written: activities or records.
    noun: &'static str,
    http: std::sync::Arc<convsync::http::Metrics>,
    bar: Option<indicatif::ProgressBar>,
    started: std::time::Instant,
    last_line: std::time::Instant,
    /// How often a plain line is written.
    every: Duration,
}

impl Progress {
    pub fn new(
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
            every: Duration::from_secs(5),
        }
    }

    /// A plain line at most every `every` (default 5 s).
    pub fn every(mut self, every: Duration) -> Progress {
        self.every = every;
        self
    }

    /// 429s answered so far (each honoured: the client waited).
    fn rate_limited(&self) -> u64 {
        self.http.snapshot().rate_limited.values().sum()
    }

    /// Seconds spent waiting on 429s so far.
    fn waited(&self) -> f64 {
        // (+ 0.0: an empty f64 sum is -0.0)
        self.http.snapshot().wait_seconds.values().sum::<f64>() + 0.0
    }

    pub fn on(&mut self, e: convsync::ops::jobs::Event) {
        use convsync::ops::jobs::Event;
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
                    "{delivered} {} ({rate:.0}/s), {dead} dead letters, {} 429s honoured ({:.0} s waiting)",
                    self.noun,
                    self.rate_limited(),
                    self.waited()
                );
                match &self.bar {
                    Some(b) => {
                        b.set_position(done);
                        b.set_message(msg);
                    }
                    None if self.last_line.elapsed() >= self.every || done == found => {
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
    pub fn finish(self) -> f64 {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        self.waited()
    }
}

/// A one-shot run's display: the conversations each cycle sets out to
/// sync are announced as found, then how far the run has come.
#[derive(Default)]
pub struct RunDisplay {
    shown: Option<(Progress, u64)>,
}

impl RunDisplay {
    pub fn on(&mut self, p: &convsync::ops::daemon::RunProgress) {
        use convsync::ops::jobs::Event;
        let (display, known) = self.shown.get_or_insert_with(|| {
            (
                Progress::new("run", "activities", std::sync::Arc::clone(p.http)),
                0,
            )
        });
        if p.to_sync > *known {
            display.on(Event::Found {
                conversations: (p.to_sync - *known) as usize,
            });
            *known = p.to_sync;
        }
        display.on(Event::Progress {
            done: p.settled,
            found: p.to_sync,
            delivered: p.delivered,
            dead: p.dead_letters,
        });
    }

    pub fn finish(self) {
        if let Some((display, _)) = self.shown {
            display.finish();
        }
    }
}

/// Progress of a comparison (`verify`, `migrate --verify`): a plain line
/// every 5 s with the conversations compared and how many differ.
pub struct Comparison {
    compared: u64,
    differ: u64,
    last_line: std::time::Instant,
}

impl Comparison {
    pub fn new() -> Comparison {
        Comparison {
            compared: 0,
            differ: 0,
            last_line: std::time::Instant::now(),
        }
    }

    /// One more conversation compared.
    pub fn checked(&mut self, c: &convsync::ops::migrate::ConversationCheck) {
        self.compared += 1;
        self.differ += u64::from(c.differences() > 0);
        if self.last_line.elapsed() >= Duration::from_secs(5) {
            self.last_line = std::time::Instant::now();
            eprintln!(
                "convsync: verify: {} conversations compared, {} differ",
                self.compared, self.differ
            );
        }
    }
}
