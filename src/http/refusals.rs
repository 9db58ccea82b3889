//! Refusals in a row on one upstream: when they pause it, for how long,
//! and which answer ends them. [`super::Upstream`] keeps one, logs and
//! closes its gate.

use super::error::{HttpError, Refusal};
use std::time::Duration;

/// Refusals of the credential in a row (each one failing a conversation,
/// after any refresh the client makes) that pause an upstream.
pub const REFUSALS_TO_PAUSE: u32 = 3;

/// The first pause a refused credential brings (or the retry policy's
/// longest backoff, when that is shorter).
pub const FIRST_REFUSAL_PAUSE: Duration = Duration::from_secs(30);

/// The longest pause a refused credential brings.
pub const MAX_REFUSAL_PAUSE: Duration = Duration::from_secs(600);

/// The credential's refusals on one upstream.
#[derive(Debug, Default)]
pub(super) struct Refusals {
    /// Refused calls in a row (any answer else ends the row).
    pub(super) in_row: u32,
    /// Pauses in a row.
    pauses: u32,
    /// The refusal that paused it, while it is refused.
    pub(super) why: Option<(Refusal, String)>,
    /// The endpoint whose answer alone ends the row: a refusal of the
    /// hub's routing is not answered by a call of another kind (an
    /// establish goes through where customer posts cannot).
    only_on: Option<&'static str>,
}

/// What an answer other than a refusal did to the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// Nothing: the row waits for an answer of its own endpoint.
    No,
    /// It ended a row that had not paused the upstream.
    Row,
    /// It ended a pause: the upstream resumes.
    Paused,
}

impl Refusals {
    /// A refused call; `paused`: whether the upstream is paused already
    /// (then it is not lengthened). The pause this call begins, from
    /// `first` and doubling up to [`MAX_REFUSAL_PAUSE`], if it begins one.
    pub(super) fn refused(
        &mut self,
        e: &HttpError,
        paused: bool,
        first: Duration,
    ) -> Option<Duration> {
        self.in_row += 1;
        self.only_on = match (e.refusal(), e) {
            (Some(Refusal::NoRoute), HttpError::Status { endpoint, .. }) => Some(endpoint),
            // Not sent for the pause: what ends the row is unchanged.
            (_, HttpError::Paused { .. }) => self.only_on,
            _ => None,
        };
        if self.in_row < REFUSALS_TO_PAUSE || paused {
            return None;
        }
        self.pauses += 1;
        let pause = first
            .saturating_mul(1 << (self.pauses - 1).min(16))
            .min(MAX_REFUSAL_PAUSE.max(first));
        self.why = Some((e.refusal().unwrap_or(Refusal::Credential), e.to_string()));
        Some(pause)
    }

    /// The next refusal pauses, whatever came before (a call about the
    /// whole account was refused).
    pub(super) fn outright(&mut self) {
        self.in_row = self.in_row.max(REFUSALS_TO_PAUSE - 1);
    }

    /// An answer other than a refusal, on `endpoint`.
    pub(super) fn accepted(&mut self, endpoint: &str) -> Ended {
        if self.only_on.is_some_and(|e| e != endpoint) {
            return Ended::No;
        }
        let paused = self.why.is_some();
        *self = Refusals::default();
        if paused { Ended::Paused } else { Ended::Row }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(endpoint: &'static str, status: u16, body: &str) -> HttpError {
        HttpError::Status {
            upstream: "hubster".into(),
            endpoint,
            status,
            body: body.into(),
        }
    }

    #[test]
    fn three_in_a_row_pause_doubling_and_an_answer_ends_them() {
        let first = Duration::from_secs(30);
        let e = status("establish", 403, "forbidden");
        let mut r = Refusals::default();
        assert_eq!(r.refused(&e, false, first), None);
        assert_eq!(r.refused(&e, false, first), None);
        assert_eq!(r.refused(&e, false, first), Some(first));
        // Refused while paused: not lengthened.
        assert_eq!(r.refused(&e, true, first), None);
        assert_eq!(r.refused(&e, false, first), Some(first * 2));
        assert_eq!(r.why.as_ref().map(|w| w.0), Some(Refusal::Credential));
        assert_eq!(r.accepted("get_activities"), Ended::Paused);
        assert_eq!(r.in_row, 0);
        assert_eq!(r.refused(&e, false, first), None);
        assert_eq!(r.accepted("establish"), Ended::Row);
        // A refusal of the whole account pauses at once.
        r.outright();
        assert_eq!(r.refused(&e, false, first), Some(first));
    }

    #[test]
    fn a_routing_refusal_ends_only_with_an_answer_of_its_endpoint() {
        let first = Duration::from_secs(30);
        let e = status(
            "inbound_customer",
            400,
            r#"{"errors":[{"description":"no agent (code: ENG005501)"}]}"#,
        );
        let mut r = Refusals::default();
        for _ in 0..3 {
            r.refused(&e, false, first);
            assert_eq!(r.accepted("establish"), Ended::No);
        }
        assert_eq!(r.why.as_ref().map(|w| w.0), Some(Refusal::NoRoute));
        // A call not sent for the pause leaves the row as it is.
        let not_sent = HttpError::Paused {
            upstream: "hubster".into(),
            endpoint: "get_activities",
            kind: Refusal::NoRoute,
            why: "paused".into(),
        };
        r.refused(&not_sent, true, first);
        assert_eq!(r.accepted("get_activities"), Ended::No);
        assert_eq!(r.accepted("inbound_customer"), Ended::Paused);
    }
}
