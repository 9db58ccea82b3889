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
//! `transcripts = "auto"` reads a brand's app key by interactions: content
//! search is documented for a consumer's JWT only. With a bearer it starts
//! with content search; on a 401/403 from it, `auto` switches to
//! interactions, says so once, remembers the choice (through a
//! [`RouteMemory`]) and tries content search again at most once a day.
//!
//! An answer is only believed as far as it proves ([`Shown`]): a 2xx with no
//! records for a conversation discovery listed, or a 4xx that cannot be
//! told apart from a refusal, is read by the other route where `auto` has
//! one, and otherwise handed on as shown (never whole); an interactions
//! answer LivePerson says it truncated (`info.isPartial`) is never kept for
//! later, is asked again on its own, and is handed on as partial if it
//! still is.

use super::route::{Route, RouteChoice, RouteMemory, RouteState, TranscriptRoute, Use};
use super::{LivePersonClient, PAGE};
use crate::format::identity::record_identity;
use crate::format::interactions::{self, InteractionsError, Transcript};
use crate::http::HttpError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// What an answer proves of a conversation's transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shown {
    /// Every record LivePerson holds of it, as far as an answer can say.
    Whole,
    /// LivePerson said it cut the answer short (`info.isPartial`).
    Partial,
    /// A 2xx with no records (or without the conversation) for a
    /// conversation discovery listed: cannot be told apart from a refusal.
    Empty,
    /// A 4xx other than 401/403/429: an answer without the data, whose
    /// reason cannot be told.
    Unexplained,
}

impl Shown {
    pub fn is_whole(self) -> bool {
        self == Shown::Whole
    }

    /// A short name for logs, metrics and the store.
    pub fn name(self) -> &'static str {
        match self {
            Shown::Whole => "whole",
            Shown::Partial => "partial",
            Shown::Empty => "empty",
            Shown::Unexplained => "unexplained_4xx",
        }
    }

    /// What it means, for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Shown::Whole => "read whole",
            Shown::Partial => "LivePerson truncated the transcript (info.isPartial)",
            Shown::Empty => "LivePerson answered without records for a conversation it lists",
            Shown::Unexplained => "LivePerson answered a 4xx that does not say why",
        }
    }
}

/// A transcript, with the route it came by and what the answer proves.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub records: Vec<Value>,
    /// What the participants lists say of the consumer (interactions only).
    pub consumer: Option<Value>,
    pub route: Route,
    pub shown: Shown,
}

impl Fetched {
    /// Nothing, shown as `shown`, by `route`.
    fn nothing(route: Route, shown: Shown) -> Fetched {
        Fetched {
            records: Vec::new(),
            consumer: None,
            route,
            shown,
        }
    }

    /// Records from content search: whole, unless there are none.
    fn by_content(records: Vec<Value>) -> Fetched {
        let shown = if records.is_empty() {
            Shown::Empty
        } else {
            Shown::Whole
        };
        Fetched {
            records,
            consumer: None,
            route: Route::ContentSearch,
            shown,
        }
    }

    /// A transcript from interactions, from an entry partial or not.
    fn by_interactions(t: Transcript, partial: bool) -> Fetched {
        let shown = if partial {
            Shown::Partial
        } else if t.records.is_empty() {
            Shown::Empty
        } else {
            Shown::Whole
        };
        Fetched {
            records: t.records,
            consumer: t.consumer,
            route: Route::Interactions,
            shown,
        }
    }
}

/// Why a transcript could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    #[error(transparent)]
    Http(#[from] HttpError),
    /// It came, and cannot be read: retrying will not help.
    #[error(transparent)]
    Malformed(#[from] InteractionsError),
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
    /// `auto` learned choose, with what the answer proves ([`Shown`]).
    pub async fn transcript(&self, conversation_id: &str) -> Result<Fetched, TranscriptError> {
        let now = crate::clock::now_ms();
        let (how, changed) = self.route.lock().expect("route lock").pick(now);
        self.remember(changed);
        // Under `auto` there is another route to ask.
        let other = self.cfg.transcripts == TranscriptRoute::Auto;
        if how == Use::Interactions {
            return self.interactions_or_shown(conversation_id).await;
        }
        match self.content(conversation_id).await {
            Ok(records) if !records.is_empty() => {
                if how == Use::Probe {
                    let changed = self.route.lock().expect("route lock").probe_worked(now);
                    if changed.is_some() {
                        tracing::warn!(
                            "LivePerson content search answers again: transcripts come by content search from now on"
                        );
                    }
                    self.remember(changed);
                }
                Ok(Fetched::by_content(records))
            }
            // No records for a conversation discovery listed proves nothing.
            Ok(records) if !other => Ok(Fetched::by_content(records)),
            Ok(_) => {
                tracing::debug!(
                    conversation = conversation_id,
                    "content search answered no records: reading it by Messaging Interactions"
                );
                self.other_route(conversation_id, Shown::Empty).await
            }
            Err(e) if e.is_refused() && other => {
                let reason = e.to_string();
                let changed = self.route.lock().expect("route lock").refused(now, &reason);
                if changed.is_some() {
                    tracing::warn!(
                        error = %reason,
                        "LivePerson refused content search (documented for a consumer's JWT): transcripts come by Messaging Interactions from now on; content search is tried again in a day"
                    );
                }
                self.remember(changed);
                self.interactions_or_shown(conversation_id).await
            }
            Err(e) if e.is_unexplained_refusal() && other => {
                tracing::debug!(conversation = conversation_id, error = %e, "content search answered without the data: reading it by Messaging Interactions");
                self.other_route(conversation_id, Shown::Unexplained).await
            }
            Err(e) if e.is_unexplained_refusal() => {
                tracing::debug!(conversation = conversation_id, error = %e, "content search answered without the data");
                Ok(Fetched::nothing(Route::ContentSearch, Shown::Unexplained))
            }
            Err(e) if how == Use::Probe => {
                tracing::debug!(error = %e, "content search probe failed");
                self.interactions_or_shown(conversation_id).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Interactions, after content search answered `shown`: its answer
    /// when it proves more, else what content search showed.
    async fn other_route(
        &self,
        conversation_id: &str,
        shown: Shown,
    ) -> Result<Fetched, TranscriptError> {
        match self.interactions_or_shown(conversation_id).await {
            Ok(f) if !f.records.is_empty() || f.shown == Shown::Whole => Ok(f),
            Ok(_) => Ok(Fetched::nothing(Route::ContentSearch, shown)),
            Err(e) => {
                tracing::debug!(conversation = conversation_id, error = %e, "Messaging Interactions did not read it either");
                Ok(Fetched::nothing(Route::ContentSearch, shown))
            }
        }
    }

    /// By interactions; a 4xx that does not say why is an answer shown as
    /// such, not an error.
    async fn interactions_or_shown(
        &self,
        conversation_id: &str,
    ) -> Result<Fetched, TranscriptError> {
        match self.by_interactions(conversation_id).await {
            Err(TranscriptError::Http(e)) if e.is_unexplained_refusal() => {
                tracing::debug!(conversation = conversation_id, error = %e, "Messaging Interactions answered without the data");
                Ok(Fetched::nothing(Route::Interactions, Shown::Unexplained))
            }
            r => r,
        }
    }

    /// A transcript by Messaging Interactions: waiting already, or fetched
    /// by id with up to 99 that come after it. Entries LivePerson says it
    /// truncated are not kept for later; this conversation's is asked for
    /// again on its own.
    async fn by_interactions(&self, conversation_id: &str) -> Result<Fetched, TranscriptError> {
        let done =
            |t: Result<Transcript, InteractionsError>| Ok(Fetched::by_interactions(t?, false));
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
        let mut mine = None;
        {
            let mut w = self.waiting.lock().expect("waiting lock");
            for e in entries {
                let partial = is_partial(&e.info);
                if e.id == conversation_id {
                    mine = Some((e, partial));
                } else if !partial {
                    let t = interactions::transcript(&e.id, &e.whole());
                    w.ready.insert(e.id, t);
                }
            }
        }
        match mine {
            // Listed, yet not returned: nothing proven.
            None => Ok(Fetched::nothing(Route::Interactions, Shown::Empty)),
            Some((e, false)) => done(interactions::transcript(conversation_id, &e.whole())),
            Some((_, true)) => {
                tracing::debug!(
                    conversation = conversation_id,
                    "Messaging Interactions truncated its answer: asking for it alone"
                );
                self.interactions_transcript(conversation_id).await
            }
        }
    }

    /// One conversation's transcript by Messaging Interactions, asked
    /// for alone (nothing kept).
    pub async fn interactions_transcript(
        &self,
        conversation_id: &str,
    ) -> Result<Fetched, TranscriptError> {
        let ids = [conversation_id.to_owned()];
        let entries = self.by_ids_with(&ids, true).await?;
        let Some(e) = entries.into_iter().find(|e| e.id == conversation_id) else {
            return Ok(Fetched::nothing(Route::Interactions, Shown::Empty));
        };
        let t = interactions::transcript(conversation_id, &e.whole())?;
        Ok(Fetched::by_interactions(t, is_partial(&e.info)))
    }

    fn take_waiting(&self, id: &str) -> Option<Result<Transcript, InteractionsError>> {
        self.waiting.lock().expect("waiting lock").take(id)
    }

    /// Keeps the transcripts of discovered entries while there is room:
    /// not partial ones (their transcripts are cut short), and not OPEN
    /// ones, which go stale while they wait for their turn (a message that
    /// arrives after discovery read them would wait a whole poll more): an
    /// OPEN conversation is read in the batch of 100 fetched just before
    /// its turn.
    pub(super) fn keep_transcripts(&self, entries: &[super::Entry]) {
        let mut w = self.waiting.lock().expect("waiting lock");
        for e in entries {
            if !w.has_room() {
                break;
            }
            if is_partial(&e.info) || e.info["status"].as_str() == Some("OPEN") {
                continue;
            }
            w.ready
                .insert(e.id.clone(), interactions::transcript(&e.id, &e.whole()));
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
    ) -> Result<Vec<super::Entry>, HttpError> {
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

/// Whether LivePerson says it truncated an entry (its `info.isPartial`; a
/// string "true" read as well).
fn is_partial(info: &Value) -> bool {
    match &info["isPartial"] {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
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
