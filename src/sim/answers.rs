//! What the platforms answer now, where a test may change it while the
//! simulator runs: refusals, truncation, a hub's routing.

use super::server::{BrandContentSearch, Shared};

/// What the platforms answer now, where a test may change it while the
/// simulator runs.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LpAnswers {
    pub(super) brand_content_search: BrandContentSearch,
    pub(super) partial_answers: bool,
    /// The engine refuses every call with this status (401 or 403),
    /// whatever the token.
    pub(super) hub_refusal: Option<u16>,
    /// LivePerson refuses every authenticated call with this status.
    pub(super) liveperson_refusal: Option<u16>,
    /// The hub's bot answers customer messages.
    pub(super) hub_bot: bool,
    /// The hub has neither an agent nor a bot integration to route a
    /// customer's message to: customer posts answer `ENG005501`.
    pub(super) hub_unrouted: bool,
}

impl Shared {
    /// What strict content search answers a brand's credential from now on.
    pub fn set_brand_content_search(&self, b: BrandContentSearch) {
        self.lp_answers
            .lock()
            .expect("answers lock")
            .brand_content_search = b;
    }

    /// Whether Messaging Interactions truncates its answers from now on.
    pub fn set_partial_answers(&self, on: bool) {
        self.lp_answers
            .lock()
            .expect("answers lock")
            .partial_answers = on;
    }

    /// Whether the engine refuses every call from now on: `Some(401)` (a
    /// revoked credential: fresh tokens are refused too), `Some(403)` (the
    /// client may not act on the hub) or `Some(400)` (as 401, and token
    /// grants answer 400 `invalid_client`).
    pub fn set_hub_refusal(&self, status: Option<u16>) {
        self.lp_answers.lock().expect("answers lock").hub_refusal = status;
    }

    /// Whether LivePerson refuses every authenticated call from now on:
    /// `Some(401)` (the app key revoked) or `Some(403)` (it may not read).
    pub fn set_liveperson_refusal(&self, status: Option<u16>) {
        self.lp_answers
            .lock()
            .expect("answers lock")
            .liveperson_refusal = status;
    }

    /// Whether the hub has nothing to route a customer's message to from
    /// now on (its customer posts answer `ENG005501`).
    pub fn set_hub_unrouted(&self, on: bool) {
        self.lp_answers.lock().expect("answers lock").hub_unrouted = on;
    }

    /// Whether the hub's bot answers customer messages from now on.
    pub fn set_hub_bot(&self, on: bool) {
        self.lp_answers.lock().expect("answers lock").hub_bot = on;
    }

    pub(super) fn lp_answers(&self) -> LpAnswers {
        *self.lp_answers.lock().expect("answers lock")
    }
}
