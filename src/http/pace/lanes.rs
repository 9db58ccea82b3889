//! Whose request: live sync's or a job's, and the turns each may take.

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
pub(super) struct Lanes {
    pub(super) live_share: f64,
    window_start: f64,
    now: [u32; 2],
    last: [u32; 2],
    /// When live sync last asked for a turn.
    pub(super) live_asked: Option<f64>,
}

impl Lanes {
    /// Lanes where live sync keeps `live_share` of the turns it wants.
    pub(super) fn sharing(live_share: f64) -> Lanes {
        Lanes {
            live_share,
            ..Lanes::default()
        }
    }

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
    pub(super) fn job_may_go(&mut self, t: f64) -> bool {
        self.roll(t);
        let live_wants = self.live_asked.is_some_and(|a| t - a < 1.0);
        if !live_wants {
            return true;
        }
        let live = f64::from(self.now[0] + self.last[0]);
        let job = f64::from(self.now[1] + self.last[1]);
        job < (1.0 - self.live_share) * (live + job + 1.0)
    }

    pub(super) fn took(&mut self, lane: Lane, t: f64) {
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
