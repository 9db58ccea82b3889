//! How fast and how many at once: an upstream's request rate and
//! concurrency, each either fixed by config or learned (`"auto"`), in the
//! spirit of Vector's Adaptive Request Concurrency: additive increase while
//! answers are good and the limit is what holds the work back,
//! multiplicative decrease on a 429 (and, for concurrency, on latency well
//! above its mean), never above a configured ceiling.
//!
//! A 429 is blamed on what was holding the work back when it came:
//! requests waiting for a slot blame concurrency (cut to one below the
//! requests that were in flight: the server refused that many), otherwise
//! the rate (cut by a factor). After a cut the level that drew the 429 is
//! marked, and not probed again for a while (a minute, doubling with each
//! 429 there, up to ten): each probe costs a pause of the whole upstream.
//!
//! [`Control`] is the arithmetic, driven by explicit times so that tests
//! can run it against a model server; [`Pace`] wraps it for the requests.

use super::limit::Limit;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A limit: a fixed number, or `"auto"` (learned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting<T> {
    Auto,
    Fixed(T),
}

impl<T: Serialize> Serialize for Setting<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Setting::Auto => s.serialize_str("auto"),
            Setting::Fixed(v) => v.serialize(s),
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Setting<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s == "auto" => Ok(Setting::Auto),
            serde_json::Value::String(s) => Err(serde::de::Error::custom(format!(
                "expected a nonzero number or \"auto\", not {s:?}"
            ))),
            other => T::deserialize(other).map(Setting::Fixed).map_err(|e| {
                serde::de::Error::custom(format!("expected a nonzero number or \"auto\": {e}"))
            }),
        }
    }
}

/// What an upstream has learned (or is fixed at): remembered in the store
/// between runs, shown by `status` and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Learned {
    pub requests_per_second: f64,
    pub concurrency: usize,
}

/// How an upstream is paced, from its `[*.http]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct PaceConfig {
    pub rate: Setting<NonZeroU32>,
    pub burst: NonZeroU32,
    pub concurrency: Setting<NonZeroUsize>,
    /// Ceilings for learned values.
    pub max_rate: Option<f64>,
    pub max_concurrency: Option<usize>,
}

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

/// Whose request: live sync's, or a job's (a backfill, a migration, a
/// retry) that the daemon runs beside it. Set for a job's task with
/// [`LANE`]`.scope(Lane::Job, ...)`; requests outside any scope are live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Live,
    Job,
}

tokio::task_local! {
    /// The lane of the requests the current task makes.
    pub static LANE: Lane;
}

/// The current task's lane.
pub fn lane() -> Lane {
    LANE.try_with(|l| *l).unwrap_or(Lane::Live)
}

/// Turns taken per lane, in this and the last second: while live sync
/// wants turns, jobs get no more than `1 - live_share` of them.
#[derive(Debug, Default)]
struct Lanes {
    live_share: f64,
    window_start: f64,
    now: [u32; 2],
    last: [u32; 2],
    /// When live sync last asked for a turn.
    live_asked: Option<f64>,
}

impl Lanes {
    fn roll(&mut self, t: f64) {
        if t - self.window_start >= 1.0 {
            self.last = if t - self.window_start >= 2.0 {
                [0, 0]
            } else {
                self.now
            };
            self.now = [0, 0];
            self.window_start = t;
        }
    }

    /// Whether a job may take a turn now.
    fn job_may_go(&mut self, t: f64) -> bool {
        self.roll(t);
        let live_wants = self.live_asked.is_some_and(|a| t - a < 1.0);
        if !live_wants {
            return true;
        }
        let live = f64::from(self.now[0] + self.last[0]);
        let job = f64::from(self.now[1] + self.last[1]);
        job < (1.0 - self.live_share) * (live + job + 1.0)
    }

    fn took(&mut self, lane: Lane, t: f64) {
        self.roll(t);
        match lane {
            Lane::Live => {
                self.live_asked = Some(t);
                self.now[0] += 1;
            }
            Lane::Job => self.now[1] += 1,
        }
    }
}

/// An upstream's pacing for real requests: the learned (or fixed) rate and
/// the slots for requests in flight.
pub struct Pace {
    origin: Instant,
    control: Mutex<Control>,
    lanes: Mutex<Lanes>,
    /// A fixed rate keeps governor's GCRA.
    fixed: Option<Limit>,
    freed: Notify,
}

/// A request's slot, given back when dropped.
pub struct Slot<'a> {
    pace: &'a Pace,
    /// Requests in flight when it was taken, itself included.
    pub in_flight: usize,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.pace.lock().release();
        self.pace.freed.notify_one();
    }
}

impl Pace {
    pub fn new(cfg: &PaceConfig) -> Pace {
        let fixed = match cfg.rate {
            Setting::Fixed(r) => Some(Limit::new(r, cfg.burst)),
            Setting::Auto => None,
        };
        Pace {
            origin: Instant::now(),
            control: Mutex::new(Control::new(cfg, 0.0)),
            lanes: Mutex::new(Lanes {
                live_share: 0.5,
                ..Lanes::default()
            }),
            fixed,
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Control> {
        self.control.lock().expect("pace lock")
    }

    fn t(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    pub fn learned(&self) -> Learned {
        self.lock().learned()
    }

    /// What the next run should start from.
    pub fn remembered(&self) -> Learned {
        self.lock().remembered()
    }

    pub fn restore(&self, l: Learned) {
        self.lock().restore(l);
        self.freed.notify_waiters();
    }

    /// The share of turns live sync keeps while a job runs (0 to 1).
    pub fn set_live_share(&self, share: f64) {
        self.lanes.lock().expect("lanes lock").live_share = share.clamp(0.0, 1.0);
    }

    /// Waits for this request's turn at the rate (a job's also for its
    /// share of turns).
    pub async fn turn(&self) {
        let lane = lane();
        if lane == Lane::Job {
            loop {
                let t = self.t();
                if self.lanes.lock().expect("lanes lock").job_may_go(t) {
                    break;
                }
                let interval = 1.0 / self.lock().rate;
                tokio::time::sleep(Duration::from_secs_f64(interval.clamp(0.01, 1.0))).await;
            }
        } else {
            let t = self.t();
            self.lanes.lock().expect("lanes lock").live_asked = Some(t);
        }
        self.rate_turn().await;
        let t = self.t();
        self.lanes.lock().expect("lanes lock").took(lane, t);
    }

    async fn rate_turn(&self) {
        match &self.fixed {
            Some(limit) => {
                let before = Instant::now();
                limit.ready().await;
                if before.elapsed() > Duration::from_millis(1) {
                    let t = self.t();
                    self.lock().rate_waited(t);
                }
            }
            None => loop {
                let t = self.t();
                let Err(at) = self.lock().try_turn(t) else {
                    return;
                };
                // Looks again at least every 100 ms: the rate may grow.
                let at = at.min(t + 0.1);
                tokio::time::sleep_until(self.origin + Duration::from_secs_f64(at)).await;
            },
        }
    }

    /// Waits for a slot.
    pub async fn slot(&self) -> Slot<'_> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let t = self.t();
            if let Some(in_flight) = self.lock().try_slot(t) {
                return Slot {
                    pace: self,
                    in_flight,
                };
            }
            freed.await;
        }
    }

    /// Learns from an answer; returns the limits if they changed.
    pub fn answer(&self, a: Answer) -> Option<Learned> {
        let t = self.t();
        let (changed, now) = {
            let mut c = self.lock();
            (c.answer(t, a), c.learned())
        };
        if changed {
            // More slots may be free now.
            self.freed.notify_waiters();
            Some(now)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(rate: Setting<u32>, conc: Setting<usize>) -> PaceConfig {
        PaceConfig {
            rate: match rate {
                Setting::Auto => Setting::Auto,
                Setting::Fixed(r) => Setting::Fixed(NonZeroU32::new(r).unwrap()),
            },
            burst: NonZeroU32::new(10).unwrap(),
            concurrency: match conc {
                Setting::Auto => Setting::Auto,
                Setting::Fixed(n) => Setting::Fixed(NonZeroUsize::new(n).unwrap()),
            },
            max_rate: None,
            max_concurrency: None,
        }
    }

    /// What a model run achieved: requests answered well, 429s, per span.
    #[derive(Debug, Default, Clone, Copy)]
    struct Tally {
        good: u64,
        refused: u64,
    }

    /// A server with a token bucket of `quota` per second (a second's worth
    /// deep) and at most `max_in_flight` at once, each answer after
    /// `latency`; a 429 pauses the client one second (its Retry-After).
    /// `tasks` workers always have work. Returns tallies for [0, 60) and
    /// [60, secs) and the control at the end.
    fn model(
        mut c: Control,
        quota: f64,
        max_in_flight: usize,
        latency: f64,
        tasks: usize,
        secs: f64,
    ) -> (Tally, Tally, Control) {
        let dt = 0.001;
        let mut t = 0.0;
        let mut tokens = quota;
        let mut paused_until = 0.0f64;
        // Requests in flight: when each is answered.
        let mut flying: Vec<f64> = Vec::new();
        let mut busy = vec![false; tasks];
        let mut had_turn = vec![false; tasks];
        let mut owner: Vec<(usize, usize)> = Vec::new();
        let (mut first, mut after) = (Tally::default(), Tally::default());
        while t < secs {
            tokens = (tokens + quota * dt).min(quota);
            // Answers.
            let mut i = 0;
            while i < flying.len() {
                if flying[i] <= t {
                    flying.swap_remove(i);
                    let (w, in_flight) = owner.swap_remove(i);
                    busy[w] = false;
                    c.release();
                    c.answer(t, Answer::Good { latency, in_flight });
                    if t < 60.0 {
                        first.good += 1
                    } else {
                        after.good += 1
                    }
                } else {
                    i += 1;
                }
            }
            if t >= paused_until {
                for w in 0..tasks {
                    if busy[w] {
                        continue;
                    }
                    // (A worker waiting for a slot has had its turn.)
                    if !had_turn[w] {
                        if c.try_turn(t).is_err() {
                            continue;
                        }
                        had_turn[w] = true;
                    }
                    let Some(in_flight) = c.try_slot(t) else {
                        continue;
                    };
                    had_turn[w] = false;
                    if flying.len() >= max_in_flight || tokens < 1.0 {
                        if std::env::var_os("PACE_TRACE").is_some() {
                            eprintln!(
                                "{t:.3} 429 rate {:.2} limit {} in_flight {in_flight} tokens {tokens:.2}",
                                c.rate, c.limit
                            );
                        }
                        c.release();
                        c.answer(t, Answer::RateLimited { in_flight });
                        paused_until = t + 1.0 + 0.05;
                        if t < 60.0 {
                            first.refused += 1
                        } else {
                            after.refused += 1
                        }
                        break;
                    }
                    tokens -= 1.0;
                    flying.push(t + latency);
                    owner.push((w, in_flight));
                    busy[w] = true;
                }
            }
            if std::env::var_os("PACE_TRACE").is_some()
                && (t * 1000.0).round() as u64 % 5000 == 0
                && t < 100.0
            {
                eprintln!(
                    "{t:.3} rate {:.2} limit {} good {}",
                    c.rate, c.limit, first.good
                );
            }
            t += dt;
        }
        (first, after, c)
    }

    fn check(what: &str, tally: Tally, allowed: f64) {
        let total = (tally.good + tally.refused) as f64;
        let achieved = tally.good as f64 / allowed;
        let refused = tally.refused as f64 / total;
        assert!(
            achieved >= 0.95 && refused <= 0.01,
            "{what}: achieved {achieved:.3} of what the server allows, {refused:.4} answered 429 ({tally:?})"
        );
    }

    #[test]
    fn an_auto_rate_finds_a_token_bucket_and_stays_just_under_it() {
        let c = Control::new(&cfg(Setting::Auto, Setting::Auto), 0.0);
        let (first, after, c) = model(c, 20.0, usize::MAX, 0.002, 8, 300.0);
        check("first 60 s", first, 20.0 * 60.0 + 20.0);
        check("after", after, 20.0 * 240.0);
        assert!(c.rate > 18.0 && c.rate < 22.0, "learned {}", c.rate);
    }

    #[test]
    fn auto_concurrency_finds_a_server_in_flight_limit() {
        let c = Control::new(&cfg(Setting::Auto, Setting::Auto), 0.0);
        let (first, after, c) = model(c, f64::INFINITY, 4, 0.05, 16, 300.0);
        // Four at a time, 50 ms each: 80 a second.
        check("first 60 s", first, 80.0 * 60.0);
        check("after", after, 80.0 * 240.0);
        assert_eq!(c.limit, 4);
    }

    #[test]
    fn auto_settles_on_other_servers_too() {
        // (quota, in flight, latency): what each allows a second.
        for (quota, max_in_flight, latency, allows) in [
            (5.0, usize::MAX, 0.01, 5.0),
            (50.0, usize::MAX, 0.01, 50.0),
            (150.0, usize::MAX, 0.002, 150.0),
            (f64::INFINITY, 2, 0.2, 10.0),
            (f64::INFINITY, 12, 0.1, 120.0),
        ] {
            let c = Control::new(&cfg(Setting::Auto, Setting::Auto), 0.0);
            let (_, after, _) = model(c, quota, max_in_flight, latency, 32, 400.0);
            let total = (after.good + after.refused) as f64;
            let achieved = after.good as f64 / (allows * 340.0);
            let refused = after.refused as f64 / total;
            assert!(
                achieved >= 0.9 && refused <= 0.01,
                "quota {quota}, {max_in_flight} in flight, {latency} s: achieved {achieved:.3}, {refused:.4} answered 429"
            );
        }
    }

    #[test]
    fn a_fixed_rate_and_concurrency_never_change() {
        let mut c = Control::new(&cfg(Setting::Fixed(50), Setting::Fixed(3)), 0.0);
        for i in 0..100 {
            let t = f64::from(i) * 0.1;
            c.rate_waited(t);
            c.answer(t, Answer::RateLimited { in_flight: 3 });
            c.answer(
                t,
                Answer::Good {
                    latency: 5.0,
                    in_flight: 1,
                },
            );
        }
        assert_eq!(
            c.learned(),
            Learned {
                requests_per_second: 50.0,
                concurrency: 3
            }
        );
    }

    #[test]
    fn learned_values_never_pass_the_ceilings_and_grow_only_when_they_hold_work_back() {
        let mut k = cfg(Setting::Auto, Setting::Auto);
        k.max_rate = Some(30.0);
        k.max_concurrency = Some(3);
        let c = Control::new(&k, 0.0);
        let (_, _, c) = model(c, f64::INFINITY, usize::MAX, 0.05, 16, 120.0);
        assert_eq!(c.rate, 30.0);
        assert_eq!(c.limit, 3);
        // Nothing waits: nothing grows.
        let mut c = Control::new(&cfg(Setting::Auto, Setting::Auto), 0.0);
        for i in 0..1000 {
            let t = f64::from(i) * 0.5;
            let s = c.try_slot(t).unwrap();
            assert_eq!(s, 1);
            c.release();
            c.answer(
                t,
                Answer::Good {
                    latency: 0.01,
                    in_flight: 1,
                },
            );
        }
        assert_eq!(c.rate, START_RATE);
        assert_eq!(c.limit, START_CONCURRENCY);
    }

    #[test]
    fn latency_well_above_its_mean_cuts_concurrency() {
        let mut c = Control::new(&cfg(Setting::Fixed(1000), Setting::Auto), 0.0);
        c.restore(Learned {
            requests_per_second: 0.0,
            concurrency: 8,
        });
        let mut t = 0.0;
        for _ in 0..40 {
            t += 0.1;
            c.answer(
                t,
                Answer::Good {
                    latency: 0.05,
                    in_flight: 1,
                },
            );
        }
        assert_eq!(c.limit, 8);
        for _ in 0..10 {
            t += 0.1;
            c.answer(
                t,
                Answer::Good {
                    latency: 0.5,
                    in_flight: 1,
                },
            );
        }
        assert!(c.limit < 8, "{}", c.limit);
    }

    #[test]
    fn in_slow_start_what_is_remembered_is_the_last_level_that_held() {
        let mut c = Control::new(&cfg(Setting::Auto, Setting::Auto), 0.0);
        // Work waits on the rate, answers are good: it doubles.
        for i in 1..=8 {
            let t = f64::from(i) * 0.26;
            c.rate_waited(t);
            c.answer(
                t,
                Answer::Good {
                    latency: 0.001,
                    in_flight: 1,
                },
            );
        }
        let now = c.learned().requests_per_second;
        assert!(now > 2.0 * START_RATE, "{now}");
        assert_eq!(c.remembered().requests_per_second, now / 2.0);
        // After a cut the present level is what counts.
        c.answer(3.0, Answer::RateLimited { in_flight: 1 });
        assert_eq!(c.remembered(), c.learned());
    }

    #[test]
    fn a_remembered_value_is_where_the_next_run_starts() {
        let mut c = Control::new(&cfg(Setting::Auto, Setting::Auto), 0.0);
        c.restore(Learned {
            requests_per_second: 19.5,
            concurrency: 5,
        });
        assert_eq!(c.learned().requests_per_second, 19.5);
        assert_eq!(c.learned().concurrency, 5);
        let (first, _, _) = model(c, 20.0, usize::MAX, 0.002, 8, 61.0);
        check(
            "first 60 s from a remembered rate",
            first,
            20.0 * 60.0 + 20.0,
        );
    }

    #[test]
    fn while_live_sync_wants_turns_a_job_gets_its_share_of_them() {
        let mut l = Lanes {
            live_share: 0.75,
            ..Lanes::default()
        };
        // Alone, a job takes every turn.
        for i in 0..100 {
            let t = f64::from(i) * 0.01;
            assert!(l.job_may_go(t));
            l.took(Lane::Job, t);
        }
        // Live sync wants every turn it can get: of the turns that follow,
        // the job gets a quarter.
        let (mut live, mut job) = (0, 0);
        for i in 100..2100 {
            let t = f64::from(i) * 0.01;
            if i % 2 == 0 && l.job_may_go(t) {
                l.took(Lane::Job, t);
                job += 1;
            } else {
                l.took(Lane::Live, t);
                live += 1;
            }
        }
        let share = f64::from(job) / f64::from(job + live);
        assert!((0.2..=0.3).contains(&share), "job share {share}");
    }

    #[test]
    fn settings_read_a_number_or_auto_and_name_anything_else() {
        #[derive(Deserialize)]
        struct W {
            r: Setting<NonZeroU32>,
        }
        let r = |s: &str| toml::from_str::<W>(s).map(|w| w.r);
        assert_eq!(r("r = \"auto\"").unwrap(), Setting::Auto);
        assert_eq!(
            r("r = 7").unwrap(),
            Setting::Fixed(NonZeroU32::new(7).unwrap())
        );
        let e = r("r = 0").unwrap_err().to_string();
        assert!(e.contains("nonzero"), "{e}");
        let e = r("r = \"fast\"").unwrap_err().to_string();
        assert!(e.contains("\"fast\"") && e.contains("auto"), "{e}");
    }
}
