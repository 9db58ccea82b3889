//! Pacing real requests: an upstream's rate as a limit, and its slots for
//! requests in flight.

use super::control::{Answer, Control};
use super::lanes::{Lane, Lanes, lane};
use super::{Learned, PaceConfig, Setting};
use crate::http::limit::Limit;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

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
            lanes: Mutex::new(Lanes::sharing(0.5)),
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
