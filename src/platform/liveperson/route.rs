//! Which route a transcript comes by: what the config says, and what
//! `transcripts = "auto"` learned (kept through a [`RouteMemory`]). Free of
//! I/O and clocks: the caller passes `now`.

use serde::{Deserialize, Serialize};

/// `liveperson.transcripts`: how transcripts are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptRoute {
    /// Content search first; interactions when content search is refused.
    #[default]
    Auto,
    /// Conversation content search only.
    ContentSearch,
    /// Messaging Interactions only.
    Interactions,
}

/// A route a transcript actually came by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    ContentSearch,
    Interactions,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::ContentSearch => "content_search",
            Route::Interactions => "interactions",
        }
    }
}

/// What `auto` has learned, kept across restarts.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RouteChoice {
    pub route: Route,
    /// When it was chosen (epoch ms).
    pub since_ms: i64,
    /// When content search may be tried again (epoch ms).
    pub probe_after_ms: i64,
    /// Why.
    pub reason: String,
}

/// Where [`RouteChoice`]s are kept. Both calls may block (a store).
pub trait RouteMemory: Send + Sync {
    fn load(&self) -> Option<RouteChoice>;
    fn save(&self, choice: &RouteChoice);
}

/// How often `auto` tries content search again once it was refused.
pub const PROBE_EVERY_MS: i64 = 24 * 3600 * 1000;

/// Which route to take for one transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    ContentSearch,
    Interactions,
    /// Content search, once, to learn whether it works again.
    Probe,
}

/// The route decision, free of I/O and clocks (the caller passes `now`).
#[derive(Debug, Clone)]
pub struct RouteState {
    pub mode: TranscriptRoute,
    pub choice: Option<RouteChoice>,
    /// The credential is a brand's app key: `auto` reads interactions
    /// only (content search is documented for a consumer's JWT).
    pub app_key: bool,
}

impl RouteState {
    /// The route for the next transcript, and a choice to remember if this
    /// call changed it (a probe claimed: the next is a day away).
    pub fn pick(&mut self, now: i64) -> (Use, Option<RouteChoice>) {
        match self.mode {
            TranscriptRoute::ContentSearch => (Use::ContentSearch, None),
            TranscriptRoute::Interactions => (Use::Interactions, None),
            TranscriptRoute::Auto if self.app_key => (Use::Interactions, None),
            TranscriptRoute::Auto => match &mut self.choice {
                Some(c) if c.route == Route::Interactions => {
                    if now >= c.probe_after_ms {
                        c.probe_after_ms = now + PROBE_EVERY_MS;
                        (Use::Probe, Some(c.clone()))
                    } else {
                        (Use::Interactions, None)
                    }
                }
                _ => (Use::ContentSearch, None),
            },
        }
    }

    /// Content search was refused: under `auto`, interactions from now on.
    /// The new choice when this changed it (to remember and announce).
    pub fn refused(&mut self, now: i64, reason: &str) -> Option<RouteChoice> {
        if self.mode != TranscriptRoute::Auto
            || self.app_key
            || self
                .choice
                .as_ref()
                .is_some_and(|c| c.route == Route::Interactions)
        {
            return None;
        }
        let c = RouteChoice {
            route: Route::Interactions,
            since_ms: now,
            probe_after_ms: now + PROBE_EVERY_MS,
            reason: reason.to_owned(),
        };
        self.choice = Some(c.clone());
        Some(c)
    }

    /// A probe of content search worked: back to it.
    pub fn probe_worked(&mut self, now: i64) -> Option<RouteChoice> {
        let was = self.choice.as_ref()?;
        if was.route != Route::Interactions {
            return None;
        }
        let c = RouteChoice {
            route: Route::ContentSearch,
            since_ms: now,
            probe_after_ms: now,
            reason: "content search answered again".into(),
        };
        self.choice = Some(c.clone());
        Some(c)
    }

    /// Whether discovery should bring transcripts along.
    pub fn wants_interactions(&self) -> bool {
        match self.mode {
            TranscriptRoute::ContentSearch => false,
            TranscriptRoute::Interactions => true,
            TranscriptRoute::Auto => {
                self.app_key
                    || self
                        .choice
                        .as_ref()
                        .is_some_and(|c| c.route == Route::Interactions)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(choice: Option<RouteChoice>) -> RouteState {
        RouteState {
            mode: TranscriptRoute::Auto,
            choice,
            app_key: false,
        }
    }

    #[test]
    fn auto_switches_on_refusal_and_probes_at_most_daily() {
        let mut st = auto(None);
        assert_eq!(st.pick(0).0, Use::ContentSearch);
        assert!(!st.wants_interactions());
        let c = st.refused(1_000, "401").expect("switched");
        assert_eq!(c.route, Route::Interactions);
        assert_eq!(c.probe_after_ms, 1_000 + PROBE_EVERY_MS);
        // Said once: a second refusal changes nothing.
        assert!(st.refused(2_000, "401").is_none());
        assert!(st.wants_interactions());
        for t in [2_000, PROBE_EVERY_MS] {
            assert_eq!(st.pick(t), (Use::Interactions, None));
        }
        // A day on, one caller probes; the others keep to interactions.
        let (u, saved) = st.pick(1_000 + PROBE_EVERY_MS);
        assert_eq!(u, Use::Probe);
        assert_eq!(
            saved.unwrap().probe_after_ms,
            1_000 + 2 * PROBE_EVERY_MS,
            "the next probe is a day later"
        );
        assert_eq!(st.pick(2_000 + PROBE_EVERY_MS).0, Use::Interactions);
        // The probe worked: back to content search.
        let back = st.probe_worked(3_000 + PROBE_EVERY_MS).unwrap();
        assert_eq!(back.route, Route::ContentSearch);
        assert_eq!(st.pick(4_000 + PROBE_EVERY_MS).0, Use::ContentSearch);
    }

    #[test]
    fn a_remembered_choice_holds_after_a_restart() {
        let remembered = RouteChoice {
            route: Route::Interactions,
            since_ms: 0,
            probe_after_ms: 500,
            reason: "401".into(),
        };
        let mut st = auto(Some(remembered));
        assert_eq!(st.pick(100).0, Use::Interactions);
        assert_eq!(st.pick(600).0, Use::Probe);
    }

    #[test]
    fn fixed_routes_never_switch() {
        for (mode, want) in [
            (TranscriptRoute::ContentSearch, Use::ContentSearch),
            (TranscriptRoute::Interactions, Use::Interactions),
        ] {
            let mut st = RouteState {
                mode,
                choice: None,
                app_key: false,
            };
            assert!(st.refused(1, "401").is_none());
            assert_eq!(st.pick(PROBE_EVERY_MS * 3).0, want);
        }
    }
}
