//! Which route a conversation's transcript comes by, and the two routes:
//!
//! - **content search** (`conversations/conversation/content/search`): one
//!   conversation a call, paged when the server pages (asked with
//!   offset/limit; kept asking while a page adds records not seen);
//! - **interactions** (Messaging Interactions): transcripts ride on
//!   discovery (one conversations/search page brings up to 100 with their
//!   `messageRecords`), and the rest are fetched by id, up to 100 a call, in
//!   the order the caller [hinted](LivePersonClient::hint).
//!
//! `transcripts = "auto"` starts with content search. Content search is
//! documented for a consumer's JWT, and a brand's credentials may be
//! refused: on a 401/403 from it, `auto` switches to interactions, says so
//! once, remembers the choice (through a [`RouteMemory`]) and tries content
//! search again at most once a day.

use super::{LivePersonClient, PAGE};
use crate::format::identity::record_identity;
use crate::format::interactions::{self, InteractionsError, Transcript};
use crate::http::HttpError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

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
}

impl RouteState {
    /// The route for the next transcript, and a choice to remember if this
    /// call changed it (a probe claimed: the next is a day away).
    pub fn pick(&mut self, now: i64) -> (Use, Option<RouteChoice>) {
        match self.mode {
            TranscriptRoute::ContentSearch => (Use::ContentSearch, None),
            TranscriptRoute::Interactions => (Use::Interactions, None),
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
            TranscriptRoute::Auto => self
                .choice
                .as_ref()
                .is_some_and(|c| c.route == Route::Interactions),
        }
    }
}

/// A transcript, with the route it came by.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub records: Vec<Value>,
    /// What the participants lists say of the consumer (interactions only).
    pub consumer: Option<Value>,
    pub route: Route,
}

/// Why a transcript could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    #[error(transparent)]
    Http(#[from] HttpError),
    /// It came, and cannot be read: retrying will not help.
    #[error(transparent)]
    Malformed(#[from] InteractionsError),
    /// Messaging Interactions does not know it.
    #[error("conversation {0}: Messaging Interactions does not return it")]
    NotFound(String),
}

/// At most this many transcripts wait in memory (beyond it, discovery
/// stops bringing them and they are fetched by id when their turn comes).
pub(super) const CACHE_CAP: usize = 1000;

/// Transcripts that came with discovery or a batch, waiting for their
/// conversation's turn; and the order conversations will be asked for.
#[derive(Default)]
pub(super) struct Waiting {
    pub(super) ready: HashMap<String, Result<Transcript, InteractionsError>>,
    queue: VecDeque<String>,
    queued: HashSet<String>,
}

impl Waiting {
    pub(super) fn has_room(&self) -> bool {
        self.ready.len() < CACHE_CAP
    }

    /// `id`'s transcript if it waits. One that does not stays queued: its
    /// worker is about to wait for the batch lock, and the batch fetched
    /// meanwhile brings it (taking it out of the queue would cost a call
    /// of its own for each conversation that looked before the batch).
    fn take(&mut self, id: &str) -> Option<Result<Transcript, InteractionsError>> {
        let t = self.ready.remove(id)?;
        self.queued.remove(id);
        Some(t)
    }

    /// Up to `n` ids to fetch with `first`, in the hinted order, none of
    /// them waiting already.
    fn batch(&mut self, first: &str, n: usize) -> Vec<String> {
        let mut out = vec![first.to_owned()];
        self.queued.remove(first);
        while out.len() < n {
            let Some(id) = self.queue.pop_front() else {
                break;
            };
            if self.queued.remove(&id) && !self.ready.contains_key(&id) && id != first {
                out.push(id);
            }
        }
        out
    }
}

impl LivePersonClient {
    /// Attaches where `auto`'s choice is kept, and reads it (blocking).
    pub fn remember_with(&self, memory: Arc<dyn RouteMemory>) {
        let choice = memory.load();
        let mut st = self.route.lock().expect("route lock");
        if let Some(c) = choice {
            st.choice = Some(c);
        }
        drop(st);
        *self.memory.lock().expect("memory lock") = Some(memory);
    }

    /// The route state now (for status and doctor).
    pub fn route_state(&self) -> RouteState {
        self.route.lock().expect("route lock").clone()
    }

    /// Says in which order conversations will be asked for, so that
    /// interactions fetches them 100 at a time.
    pub fn hint(&self, ids: &[String]) {
        let mut w = self.waiting.lock().expect("waiting lock");
        w.queue.clear();
        w.queued.clear();
        for id in ids {
            if w.queued.insert(id.clone()) {
                w.queue.push_back(id.clone());
            }
        }
    }

    /// Forgets transcripts waiting (stale once a new discovery runs).
    pub(super) fn forget_waiting(&self) {
        let mut w = self.waiting.lock().expect("waiting lock");
        w.ready.clear();
    }

    fn remember(&self, choice: Option<RouteChoice>) {
        let Some(c) = choice else { return };
        let memory = self.memory.lock().expect("memory lock").clone();
        if let Some(m) = memory {
            // The store blocks; this happens once a day at most.
            tokio::task::spawn_blocking(move || m.save(&c));
        }
    }

    /// One conversation's transcript, by the route the config and what
    /// `auto` learned choose.
    pub async fn transcript(&self, conversation_id: &str) -> Result<Fetched, TranscriptError> {
        let now = crate::clock::now_ms();
        let (how, changed) = self.route.lock().expect("route lock").pick(now);
        self.remember(changed);
        match how {
            Use::Interactions => self.by_interactions(conversation_id).await,
            Use::ContentSearch | Use::Probe => match self.content(conversation_id).await {
                Ok(records) => {
                    if how == Use::Probe {
                        let changed = self.route.lock().expect("route lock").probe_worked(now);
                        if changed.is_some() {
                            tracing::warn!(
                                "LivePerson content search answers again: transcripts come by content search from now on"
                            );
                        }
                        self.remember(changed);
                    }
                    Ok(Fetched {
                        records,
                        consumer: None,
                        route: Route::ContentSearch,
                    })
                }
                Err(e) if e.is_refused() && self.cfg.transcripts == TranscriptRoute::Auto => {
                    let reason = e.to_string();
                    let changed = self.route.lock().expect("route lock").refused(now, &reason);
                    if changed.is_some() {
                        tracing::warn!(
                            error = %reason,
                            "LivePerson refused content search (documented for a consumer's JWT): transcripts come by Messaging Interactions from now on; content search is tried again in a day"
                        );
                    }
                    self.remember(changed);
                    self.by_interactions(conversation_id).await
                }
                Err(e) if how == Use::Probe => {
                    tracing::debug!(error = %e, "content search probe failed");
                    self.by_interactions(conversation_id).await
                }
                Err(e) => Err(e.into()),
            },
        }
    }

    /// A transcript by Messaging Interactions: waiting already, or fetched
    /// by id with up to 99 that come after it.
    async fn by_interactions(&self, conversation_id: &str) -> Result<Fetched, TranscriptError> {
        let done = |t: Result<Transcript, InteractionsError>| {
            let t = t?;
            Ok(Fetched {
                records: t.records,
                consumer: t.consumer,
                route: Route::Interactions,
            })
        };
        if let Some(t) = self.take_waiting(conversation_id) {
            return done(t);
        }
        // One batch at a time: a conversation another batch is bringing is
        // waiting once that batch is in.
        let _one = self.batching.lock().await;
        if let Some(t) = self.take_waiting(conversation_id) {
            return done(t);
        }
        let batch = self
            .waiting
            .lock()
            .expect("waiting lock")
            .batch(conversation_id, 100);
        let entries = self.by_ids_with(&batch, true).await?;
        let mut w = self.waiting.lock().expect("waiting lock");
        for (id, e) in entries {
            let t = interactions::transcript(&id, &e);
            w.ready.insert(id, t);
        }
        drop(w);
        match self.take_waiting(conversation_id) {
            Some(t) => done(t),
            None => Err(TranscriptError::NotFound(conversation_id.to_owned())),
        }
    }

    /// One conversation's transcript by Messaging Interactions, asked
    /// for alone (nothing kept): for checks.
    pub async fn interactions_transcript(
        &self,
        conversation_id: &str,
    ) -> Result<Fetched, TranscriptError> {
        let ids = [conversation_id.to_owned()];
        let entries = self.by_ids_with(&ids, true).await?;
        let (_, e) = entries
            .into_iter()
            .find(|(id, _)| id == conversation_id)
            .ok_or_else(|| TranscriptError::NotFound(conversation_id.to_owned()))?;
        let t = interactions::transcript(conversation_id, &e)?;
        Ok(Fetched {
            records: t.records,
            consumer: t.consumer,
            route: Route::Interactions,
        })
    }

    fn take_waiting(&self, id: &str) -> Option<Result<Transcript, InteractionsError>> {
        self.waiting.lock().expect("waiting lock").take(id)
    }

    /// Keeps the transcripts of discovered entries (not partial ones:
    /// their transcripts are cut short) while there is room.
    pub(super) fn keep_transcripts(&self, entries: &[(String, Value)]) {
        let mut w = self.waiting.lock().expect("waiting lock");
        for (id, e) in entries {
            if !w.has_room() {
                break;
            }
            if e["info"]["isPartial"].as_bool() == Some(true) {
                continue;
            }
            w.ready.insert(id.clone(), interactions::transcript(id, e));
        }
    }

    /// Every record of one conversation by content search. Asks with
    /// offset/limit; follows `_metadata` when the answer has it, and keeps
    /// asking while a full page (as asked, or the 50 an early version of
    /// the page documented) adds records not seen when it does not.
    /// Records are deduplicated by identity.
    pub async fn content(&self, conversation_id: &str) -> Result<Vec<Value>, HttpError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(rename = "messageEventRecords", default)]
            records: Vec<Value>,
            #[serde(rename = "_metadata")]
            metadata: Option<super::Meta>,
        }
        /// The page size an early version of the page documented.
        const DOCUMENTED_PAGE: usize = 50;
        let base = self.base().await?;
        let page_url = |offset: usize| {
            self.url(
                &base,
                "conversations/conversation/content/search",
                &[
                    ("conversationId", conversation_id.to_owned()),
                    ("source", self.cfg.source.clone()),
                    ("offset", offset.to_string()),
                    ("limit", PAGE.to_string()),
                ],
            )
        };
        let mut url = page_url(0)?;
        let mut records = Vec::new();
        let mut seen = HashSet::new();
        let mut offset = 0;
        loop {
            let page: Page = self
                .upstream
                .send_json("content_search", |c| {
                    self.sign(c.get(url.clone()), "GET", &url)
                })
                .await?;
            let got = page.records.len();
            let before = records.len();
            for r in page.records {
                if seen.insert(record_identity(conversation_id, &r)) {
                    records.push(r);
                }
            }
            offset += got;
            if got == 0 || records.len() == before {
                break;
            }
            // Said, or a page exactly as long as asked for (or as the
            // documented default): there may be more. A server that ignores
            // paging and sends everything is read once, unless everything
            // is exactly a page long (then one more call adds nothing).
            let more = match &page.metadata {
                Some(m) => {
                    m.count.is_some_and(|c| c > offset)
                        || m.next.as_ref().is_some_and(|n| n.href.is_some())
                }
                None => got == PAGE || got == DOCUMENTED_PAGE,
            };
            if !more {
                break;
            }
            let next = page
                .metadata
                .and_then(|m| m.next)
                .and_then(|n| n.href)
                .and_then(|h| self.own_link(&base, &h));
            url = match next {
                Some(n) => n,
                None => page_url(offset)?,
            };
        }
        Ok(records)
    }

    /// conversation/search for `ids` (up to 100 a call), each entry with
    /// its conversation id; with `transcripts`, with what a transcript
    /// needs, else as little as LivePerson allows.
    pub(super) async fn by_ids_with(
        &self,
        ids: &[String],
        transcripts: bool,
    ) -> Result<Vec<(String, Value)>, HttpError> {
        let base = self.base().await?;
        let mut out = Vec::new();
        for chunk in ids.chunks(100) {
            let url = self.url(
                &base,
                "conversations/conversation/search",
                &[("source", self.cfg.source.clone())],
            )?;
            let body = json!({"conversationIds": chunk, "contentToRetrieve": content_to_retrieve(transcripts)});
            let page: super::SearchPage = self
                .upstream
                .send_json_or_default("conversation_search", |c| {
                    self.sign(c.post(url.clone()).json(&body), "POST", &url)
                })
                .await?;
            out.extend(page.entries());
        }
        Ok(out)
    }
}

/// The `contentToRetrieve` of a search: a transcript's lists, or the
/// smallest documented one (absent, LivePerson sends a heavy default set;
/// "every content type must be passed").
pub(super) fn content_to_retrieve(transcripts: bool) -> Vec<&'static str> {
    if transcripts {
        interactions::CONTENT_TO_RETRIEVE.to_vec()
    } else {
        vec!["campaign"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(choice: Option<RouteChoice>) -> RouteState {
        RouteState {
            mode: TranscriptRoute::Auto,
            choice,
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
            let mut st = RouteState { mode, choice: None };
            assert!(st.refused(1, "401").is_none());
            assert_eq!(st.pick(PROBE_EVERY_MS * 3).0, want);
        }
    }

    #[test]
    fn a_batch_follows_the_hinted_order_and_skips_what_waits() {
        let mut w = Waiting::default();
        for id in ["a", "b", "c", "d", "e"] {
            w.queue.push_back(id.into());
            w.queued.insert(id.into());
        }
        w.ready.insert(
            "c".into(),
            Ok(Transcript {
                records: vec![],
                consumer: None,
            }),
        );
        assert_eq!(w.batch("b", 3), vec!["b", "a", "d"]);
        assert_eq!(w.batch("x", 5), vec!["x", "e"]);
    }

    #[test]
    fn a_conversation_that_looked_before_the_batch_rides_in_it() {
        let mut w = Waiting::default();
        for id in ["a", "b", "c"] {
            w.queue.push_back(id.into());
            w.queued.insert(id.into());
        }
        // b and c's workers look first (nothing waits yet), then a's
        // worker fetches the batch: it brings all three.
        assert!(w.take("b").is_none());
        assert!(w.take("c").is_none());
        assert_eq!(w.batch("a", 100), vec!["a", "b", "c"]);
        let t = || {
            Ok(Transcript {
                records: vec![],
                consumer: None,
            })
        };
        for id in ["a", "b", "c"] {
            w.ready.insert(id.into(), t());
        }
        assert!(w.take("b").is_some());
        // Taken, it is neither waiting nor queued: a later batch leaves it.
        assert!(w.take("b").is_none());
        assert!(!w.queued.contains("b"));
    }
}
