//! The arithmetic of pacing: where each learned limit is, what a window
//! of answers does to it, and when a level that drew a 429 may be probed
//! again. Driven by explicit times, so tests run it against a model server.

use super::{Learned, PaceConfig, Setting};

/// Where a learned rate starts (without a remembered one): the old fixed
/// default.
pub const START_RATE: f64 = 10.0;
/// Where learned concurrency starts.
pub const START_CONCURRENCY: usize = 2;
const MIN_RATE: f64 = 0.5;
/// Without a configured ceiling.
const MAX_RATE: f64 = 10_000.0;
const MAX_CONCURRENCY: usize = 256;
/// How often the limits are judged.
const WINDOW: f64 = 0.5;
/// What the rate is cut to on a 429, in slow start and after.
const CUT_SLOW_START: f64 = 0.6;
const CUT: f64 = 0.85;
/// ... and at most this share of what the server let through.
const CUT_BELOW: f64 = 0.95;
/// Latency this many times its mean (and `LATENCY_SLACK` more) cuts
/// concurrency to `LATENCY_CUT` of itself.
const LATENCY_FACTOR: f64 = 2.0;
const LATENCY_SLACK: f64 = 0.05;
const LATENCY_CUT: f64 = 0.75;
/// Seconds of good answers a cut rate is measured against.
const MEASURE: f64 = 5.0;
/// How long a level that drew a 429 is left alone: the first time, and at most.
const HOLD: f64 = 60.0;
const MAX_HOLD: f64 = 600.0;

/// One limit that is learned: where it is, and the level that last drew a 429.
#[derive(Debug, Clone)]
struct Probe {
    slow_start: bool,
    /// The level a 429 came at, and until when it is not probed again.
    mark: Option<f64>,
    hold_until: f64,
    /// 429s at a marked level in a row (each doubles the hold).
    holds: u32,
    last_cut: f64,
}

impl Probe {
    fn new(slow_start: bool) -> Probe {
        Probe {
            slow_start,
            mark: None,
            hold_until: f64::NEG_INFINITY,
            holds: 0,
            last_cut: f64::NEG_INFINITY,
        }
    }

    /// The highest level growth may reach now.
    fn cap(&self, t: f64, ceiling: f64, below_mark: f64) -> f64 {
        match self.mark {
            Some(m) if t < self.hold_until => ceiling.min(below_mark * m).max(0.0),
            _ => ceiling,
        }
    }

    /// Whether growth is held below a mark now.
    fn held(&self, t: f64) -> bool {
        self.mark.is_some() && t < self.hold_until
    }

    fn cut(&mut self, t: f64, at: f64) {
        if t > self.hold_until + MAX_HOLD {
            self.holds = 0;
        }
        self.mark = Some(at);
        self.hold_until = t + (HOLD * 2f64.powi(self.holds.min(10) as i32)).min(MAX_HOLD);
        self.holds += 1;
        self.slow_start = false;
        self.last_cut = t;
    }
}

/// The arithmetic of pacing, at times `t` in seconds from any origin.
#[derive(Debug, Clone)]
pub struct Control {
    /// Requests per second (learned or fixed).
    pub rate: f64,
    rate_auto: bool,
    max_rate: f64,
    burst: f64,
    /// When the next request may go, at `rate` (GCRA's theoretical arrival time).
    tat: f64,
    rate_probe: Probe,
    /// Requests in flight at once.
    pub limit: usize,
    conc_auto: bool,
    max_limit: usize,
    conc_probe: Probe,
    pub in_flight: usize,
    window_start: f64,
    last_rate_wait: f64,
    last_slot_wait: f64,
    window_429: bool,
    window_latency: (f64, u32),
    /// Mean latency of good answers (per window, smoothed).
    latency_mean: Option<f64>,
    /// When the good answers of the last `MEASURE` seconds came, and how
    /// many requests were in flight when each was sent.
    goods: std::collections::VecDeque<(f64, usize)>,
    /// This window's requests, and those of them that waited for a slot.
    window_slots: (u32, u32),
    first_answer: Option<f64>,
}

/// How one request ended, as the pacing sees it.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// Any answer but a 429, after `latency` seconds, to a request sent
    /// with `in_flight` requests in flight.
    Good { latency: f64, in_flight: usize },
    /// A 429, to a request sent with `in_flight` requests in flight (itself included).
    RateLimited { in_flight: usize },
    /// No answer worth judging (a connect error, a timeout).
    Other,
}

impl Control {
    pub fn new(cfg: &PaceConfig, t: f64) -> Control {
        let (rate, rate_auto) = match cfg.rate {
            Setting::Auto => (START_RATE, true),
            Setting::Fixed(r) => (f64::from(r.get()), false),
        };
        let max_rate = cfg.max_rate.unwrap_or(MAX_RATE).max(MIN_RATE);
        let max_limit = cfg.max_concurrency.unwrap_or(MAX_CONCURRENCY).max(1);
        let (limit, conc_auto) = match cfg.concurrency {
            Setting::Auto => (START_CONCURRENCY.min(max_limit), true),
            Setting::Fixed(n) => (n.get(), false),
        };
        Control {
            rate: rate.min(if rate_auto { max_rate } else { f64::MAX }),
            rate_auto,
            max_rate,
            burst: f64::from(cfg.burst.get()),
            tat: t,
            rate_probe: Probe::new(true),
            limit,
            conc_auto,
            max_limit,
            conc_probe: Probe::new(true),
            in_flight: 0,
            window_start: t,
            last_rate_wait: f64::NEG_INFINITY,
            last_slot_wait: f64::NEG_INFINITY,
            window_429: false,
            window_latency: (0.0, 0),
            latency_mean: None,
            goods: std::collections::VecDeque::new(),
            window_slots: (0, 0),
            first_answer: None,
        }
    }

    /// Good answers a second over the last `MEASURE` seconds: what the
    /// server let through, a bound for a rate that drew a 429.
    fn measured(&self, t: f64) -> Option<f64> {
        let span = (t - self.first_answer?).min(MEASURE);
        (span >= WINDOW).then(|| self.goods.len() as f64 / span)
    }

    pub fn learned(&self) -> Learned {
        Learned {
            requests_per_second: self.rate,
            concurrency: self.limit,
        }
    }

    /// What the next run should start from: the limits now, but in slow
    /// start the last level that held a whole window (half the present
    /// one, which is not proven yet).
    pub fn remembered(&self) -> Learned {
        let mut l = self.learned();
        if self.rate_auto && self.rate_probe.slow_start {
            l.requests_per_second = (l.requests_per_second / 2.0).max(START_RATE.min(self.rate));
        }
        if self.conc_auto && self.conc_probe.slow_start {
            l.concurrency = (l.concurrency / 2).max(START_CONCURRENCY.min(self.limit));
        }
        l
    }

    /// Starts learned limits where an earlier run left them (within the
    /// ceilings), without slow start.
    pub fn restore(&mut self, l: Learned) {
        if self.rate_auto && l.requests_per_second.is_finite() {
            self.rate = l.requests_per_second.clamp(MIN_RATE, self.max_rate);
            self.rate_probe.slow_start = false;
        }
        if self.conc_auto && l.concurrency > 0 {
            self.limit = l.concurrency.clamp(1, self.max_limit);
            self.conc_probe.slow_start = false;
        }
    }

    /// Changes the rate; the turns already taken ahead of now count in
    /// the new intervals (so a burst spent stays spent, and no more).
    fn set_rate(&mut self, t: f64, rate: f64) {
        if self.tat > t {
            self.tat = t + (self.tat - t) * self.rate / rate;
        }
        self.rate = rate;
    }

    /// Takes the next turn at the learned rate if it has come; otherwise
    /// says when it comes (at the rate now: it may change before then).
    pub fn try_turn(&mut self, t: f64) -> Result<(), f64> {
        let interval = 1.0 / self.rate;
        // A learned rate bursts half a second's worth at most: a burst
        // the server cannot take would be blamed on the rate.
        let burst = self.burst.min((self.rate / 2.0).max(1.0));
        let tolerance = interval * (burst - 1.0).max(0.0);
        let at = self.tat - tolerance;
        if t + 1e-9 >= at {
            self.tat = self.tat.max(t) + interval;
            Ok(())
        } else {
            self.last_rate_wait = t;
            Err(at)
        }
    }

    /// A request waited for its turn at a fixed rate.
    pub fn rate_waited(&mut self, t: f64) {
        self.last_rate_wait = t;
    }

    /// Takes a slot if one is free: the requests in flight, this one included.
    pub fn try_slot(&mut self, t: f64) -> Option<usize> {
        self.window_slots.0 += 1;
        if self.in_flight < self.limit {
            self.in_flight += 1;
            Some(self.in_flight)
        } else {
            self.last_slot_wait = t;
            self.window_slots.1 += 1;
            None
        }
    }

    pub fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    fn binding(last_wait: f64, t: f64) -> bool {
        t - last_wait < 2.0 * WINDOW
    }

    /// Learns from an answer. Returns whether a limit changed.
    pub fn answer(&mut self, t: f64, a: Answer) -> bool {
        let mut changed = self.judge_window(t);
        self.first_answer.get_or_insert(t);
        while self.goods.front().is_some_and(|g| t - g.0 > MEASURE) {
            self.goods.pop_front();
        }
        match a {
            Answer::Good { latency, in_flight } => {
                self.goods.push_back((t, in_flight));
                self.window_latency.0 += latency;
                self.window_latency.1 += 1;
            }
            Answer::RateLimited { in_flight } => {
                self.window_429 = true;
                // More in flight than have lately been answered well: the
                // server refused the concurrency, not the rate.
                let good_in_flight = self.goods.iter().map(|g| g.1).max().unwrap_or(1);
                if self.conc_auto && in_flight > good_in_flight.max(1) {
                    // The server refused the request that made `in_flight`.
                    if t - self.conc_probe.last_cut >= WINDOW {
                        let to = (in_flight - 1).min(self.limit).max(1);
                        self.conc_probe.cut(t, in_flight as f64);
                        changed |= to != self.limit;
                        self.limit = to;
                    }
                } else if self.rate_auto && t - self.rate_probe.last_cut >= 2.0 * WINDOW {
                    // One cut for the requests that went at the old rate.
                    let factor = if self.rate_probe.slow_start {
                        CUT_SLOW_START
                    } else {
                        CUT
                    };
                    // No more than the server let through lately.
                    let through = self.measured(t).unwrap_or(self.rate);
                    // A 429 while held below the last mark: that mark was
                    // too high, and probing down from it two per cent at a
                    // time would cost a 429 each.
                    let at = if self.rate_probe.held(t) {
                        self.rate * 0.97
                    } else {
                        self.rate
                    };
                    self.rate_probe.cut(t, at);
                    self.set_rate(
                        t,
                        (self.rate * factor).min(through * CUT_BELOW).max(MIN_RATE),
                    );
                    changed = true;
                }
            }
            Answer::Other => {}
        }
        changed
    }

    /// At the end of each window: grow what held the work back, if the
    /// window went well; cut concurrency if latency rose well above its mean.
    fn judge_window(&mut self, t: f64) -> bool {
        // Quicker while either limit is still in slow start.
        let window = if self.rate_probe.slow_start && self.rate_auto
            || self.conc_probe.slow_start && self.conc_auto
        {
            WINDOW / 2.0
        } else {
            WINDOW
        };
        if t - self.window_start < window {
            return false;
        }
        let mut changed = false;
        let rate_binding = Self::binding(self.last_rate_wait, t);
        // Waiting for a slot holds the work back when it is not the odd
        // burst: a quarter of the window's requests or more.
        let (asked, waited) = self.window_slots;
        let slots_binding = waited >= 2 && waited * 4 >= asked;
        let (sum, n) = self.window_latency;
        let window_mean = (n > 0).then(|| sum / f64::from(n));
        let slow = match (window_mean, self.latency_mean) {
            (Some(w), Some(m)) => w > LATENCY_FACTOR * m + LATENCY_SLACK,
            _ => false,
        };
        if !self.window_429 {
            if self.conc_auto && slow && self.limit > 1 {
                self.limit = ((self.limit as f64 * LATENCY_CUT).floor() as usize).max(1);
                self.conc_probe.slow_start = false;
                changed = true;
            } else if self.conc_auto && slots_binding {
                let cap = self.conc_probe.cap(t, self.max_limit as f64, 1.0) as usize;
                let grown = if self.conc_probe.slow_start {
                    self.limit * 2
                } else {
                    self.limit + 1
                };
                // Below a marked level while it is held.
                let cap = match self.conc_probe.mark {
                    Some(m) if t < self.conc_probe.hold_until => cap.min(m as usize - 1).max(1),
                    _ => cap,
                };
                let to = grown.min(cap);
                if to > self.limit {
                    self.limit = to;
                    changed = true;
                }
            } else if self.rate_auto && rate_binding {
                let cap = self.rate_probe.cap(t, self.max_rate, 0.98);
                let grown = if self.rate_probe.slow_start {
                    self.rate * 2.0
                } else {
                    self.rate + (self.rate * 0.02).max(0.1)
                };
                let to = grown.min(cap).max(self.rate.min(cap));
                if to > self.rate {
                    self.set_rate(t, to);
                    changed = true;
                }
            }
        }
        if let Some(w) = window_mean
            && !slow
        {
            self.latency_mean = Some(match self.latency_mean {
                Some(m) => 0.8 * m + 0.2 * w,
                None => w,
            });
        }
        self.window_start = t;
        self.window_429 = false;
        self.window_latency = (0.0, 0);
        self.window_slots = (0, 0);
        changed
    }
}
