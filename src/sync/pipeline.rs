//! One conversation, end to end: fetch its content, convert only what is
//! new, deliver it in order, commit the checkpoint. With the store's
//! delivery intents and [`recover`], delivery is effectively once against a
//! target that has no idempotency of its own.

use super::deps::{Deps, Settings, blocking};
use super::runner::{Failure, Verdict, Work};
use crate::clock::now_ms;
use crate::format::Mapping;
use crate::format::hubster::IntegrationType;
use crate::format::{self, identity, liveperson::Record};
use crate::http::HttpError;
use crate::platform::files::{FileSet, append_activity, file_name, read_activity_lines};
use crate::platform::hubster::{HubsterClient, Side};
use crate::platform::liveperson::{LivePersonClient, RouteChoice, RouteMemory, TranscriptError};
use crate::store::{ConversationState, Intent, Store, StoreError, StoredMark};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where LivePerson records come from.
pub enum Source {
    /// The Messaging History API.
    LivePerson(Arc<LivePersonClient>),
    /// A directory of LivePerson files (see [`FileSet`]).
    Files(Arc<FileSet>),
}

impl Source {
    /// One conversation's records, and what the source says of its
    /// consumer (Hubster's `properties.profile`), if anything.
    pub async fn content(
        &self,
        conversation_id: &str,
    ) -> Result<(Vec<Value>, Option<Value>), PipelineError> {
        let id = || conversation_id.to_owned();
        match self {
            Source::LivePerson(lp) => match lp.transcript(conversation_id).await {
                Ok(f) => Ok((f.records, f.consumer)),
                Err(TranscriptError::Http(source)) => Err(PipelineError::Http {
                    conversation_id: id(),
                    source,
                }),
                Err(TranscriptError::Malformed(e)) => Err(PipelineError::Convert {
                    conversation_id: id(),
                    message: format!("{}: {}", e.field, e.reason),
                }),
                Err(e @ TranscriptError::NotFound(_)) => Err(PipelineError::Missing {
                    conversation_id: id(),
                    message: e.to_string(),
                }),
            },
            Source::Files(set) => set
                .records(conversation_id)
                .map(|r| (r, None))
                .map_err(|e| PipelineError::Convert {
                    conversation_id: id(),
                    message: e.to_string(),
                }),
        }
    }

    /// Keeps what the LivePerson client learns of its transcript route in
    /// `store`, and reads what it learned before (blocking: at setup).
    pub fn remember_route_in(&self, store: &Arc<Store>) {
        if let Source::LivePerson(lp) = self {
            lp.remember_with(Arc::new(StoredRoute {
                store: Arc::clone(store),
                key: crate::store::progress_key::transcript_route(lp.account()),
            }));
        }
    }

    /// Says in which order conversations will be synced (the interactions
    /// route fetches them 100 at a time in that order).
    pub fn hint(&self, ids: &[String]) {
        if let Source::LivePerson(lp) = self {
            lp.hint(ids);
        }
    }

    /// The API client, when the source is the API.
    pub fn liveperson(&self) -> Option<&LivePersonClient> {
        match self {
            Source::LivePerson(lp) => Some(lp),
            Source::Files(_) => None,
        }
    }
}

/// `auto`'s transcript route, kept in the store's progress table.
struct StoredRoute {
    store: Arc<Store>,
    key: String,
}

impl RouteMemory for StoredRoute {
    fn load(&self) -> Option<RouteChoice> {
        match self.store.progress(&self.key) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the remembered transcript route");
                None
            }
        }
    }

    fn save(&self, choice: &RouteChoice) {
        if let Err(e) = self.store.set_progress(&self.key, choice) {
            tracing::warn!(error = %e, "cannot remember the transcript route");
        }
    }
}

/// Where activities go.
pub enum Sink {
    /// The Hubster engine: establish once, then one activity at a time.
    Hubster(Arc<HubsterClient>),
    /// A directory of `<conversation id>.jsonl` files, one activity a line.
    Files(PathBuf),
}

/// Why a conversation did not finish.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Its data cannot be converted: retrying will not help.
    #[error("conversation {conversation_id}: cannot convert: {message}")]
    Convert {
        conversation_id: String,
        message: String,
    },
    #[error("conversation {conversation_id}: {source}")]
    Http {
        conversation_id: String,
        source: HttpError,
    },
    /// The source did not return it (yet): a later try may find it.
    #[error("{message}")]
    Missing {
        conversation_id: String,
        message: String,
    },
    #[error("conversation {conversation_id}: {message}")]
    Sink {
        conversation_id: String,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PipelineError {
    /// A short name for dead letters and metrics.
    pub fn class(&self) -> &'static str {
        match self {
            PipelineError::Convert { .. } => "convert",
            PipelineError::Http { .. } => "http",
            PipelineError::Missing { .. } => "missing",
            PipelineError::Sink { .. } => "sink",
            PipelineError::Store(_) => "store",
        }
    }

    /// Whether the same conversation may succeed on a later try.
    pub fn is_retryable(&self) -> bool {
        match self {
            PipelineError::Convert { .. } => false,
            PipelineError::Http { source, .. } => source.is_retryable(),
            PipelineError::Missing { .. }
            | PipelineError::Sink { .. }
            | PipelineError::Store(_) => true,
        }
    }
}

impl Failure for PipelineError {
    fn class(&self) -> &'static str {
        PipelineError::class(self)
    }
    fn is_retryable(&self) -> bool {
        PipelineError::is_retryable(self)
    }
    fn store_error(self) -> Result<StoreError, Self> {
        match self {
            PipelineError::Store(e) => Ok(e),
            e => Err(e),
        }
    }
}

/// Where a LivePerson -> Hubster run reads and writes.
#[derive(Clone)]
pub struct Route {
    pub source: Arc<Source>,
    pub sink: Arc<Sink>,
}

impl Route {
    /// The remote APIs it talks to.
    pub fn upstreams(&self) -> Vec<&crate::http::Upstream> {
        let mut u = Vec::new();
        if let Some(lp) = self.source.liveperson() {
            u.push(lp.upstream());
        }
        if let Sink::Hubster(h) = self.sink.as_ref() {
            u.push(h.upstream());
        }
        u
    }
}

/// Syncing conversations from a [`Route`]'s source to its sink, as the
/// [runner](super::runner) works them: a failure counts against the
/// conversation's checkpoint, and one that cannot be converted, or is out
/// of its retry budget, becomes a dead letter.
pub struct LpWork {
    settings: Settings,
    route: Route,
    store: Arc<Store>,
    mapping: Arc<Mapping>,
    /// The conversations the source listed as closed: once all of one is
    /// delivered, its checkpoint is sealed.
    /// (Digests of their ids: a cycle may list a great many.)
    closed: std::sync::Mutex<HashSet<u128>>,
}

impl LpWork {
    pub fn new(deps: &Deps, route: &Route) -> Arc<LpWork> {
        Arc::new(LpWork {
            settings: deps.settings.clone(),
            route: route.clone(),
            store: Arc::clone(&deps.store),
            mapping: Arc::clone(&deps.mapping),
            closed: Default::default(),
        })
    }

    /// What a search said: these conversations are closed.
    pub fn closed(&self, ids: impl IntoIterator<Item = String>) {
        self.closed
            .lock()
            .expect("closed lock")
            .extend(ids.into_iter().map(|id| format::KeyDigests::digest(&id)));
    }
}

impl Work for LpWork {
    type Error = PipelineError;

    async fn sync(&self, id: &str) -> Result<u64, PipelineError> {
        let r = &self.route;
        let closed = self
            .closed
            .lock()
            .expect("closed lock")
            .contains(&format::KeyDigests::digest(id));
        sync_one(
            &self.settings.pipeline,
            id,
            &r.source,
            &r.sink,
            &self.store,
            &self.mapping,
            closed,
        )
        .await
        .map(|o| o.delivered)
    }

    fn plan(&self, ids: &[String]) {
        self.route.source.hint(ids);
    }

    async fn failed(&self, id: &str, e: &PipelineError) -> Result<Verdict, StoreError> {
        let (p, id, message) = (self.settings.pipeline.clone(), id.to_owned(), e.to_string());
        let (retryable, budget) = (e.is_retryable(), self.settings.retry_budget);
        blocking(&self.store, move |store| {
            let mut st = store.conversation(&p, &id)?.unwrap_or_default();
            st.attempts += 1;
            st.last_error = Some(message);
            let dead = !retryable || st.attempts >= budget;
            store.checkpoint(&p, &id, &st, &[])?;
            Ok(if dead { Verdict::Dead } else { Verdict::Retry })
        })
        .await
    }
}

/// What one run delivered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub delivered: u64,
    pub already_delivered: u64,
}

impl Sink {
    /// The target conversation for a source conversation.
    async fn open(
        &self,
        conversation_id: &str,
        mapping: &Mapping,
        profile: Option<&Value>,
    ) -> Result<String, PipelineError> {
        match self {
            Sink::Hubster(h) => {
                let by = mapping.integrations.get(mapping.establish_with);
                let e = h
                    .establish_with_profile(
                        &by.integration_id,
                        conversation_id,
                        &by.channel_type,
                        profile,
                    )
                    .await
                    .map_err(|source| PipelineError::Http {
                        conversation_id: conversation_id.to_owned(),
                        source,
                    })?;
                Ok(e.conversation_id)
            }
            Sink::Files(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| PipelineError::Sink {
                    conversation_id: conversation_id.to_owned(),
                    message: format!("cannot create {}: {e}", dir.display()),
                })?;
                Ok(conversation_id.to_owned())
            }
        }
    }

    /// Delivers one activity; the eventId the target gave it, if it gives
    /// them.
    async fn deliver(
        &self,
        conversation_id: &str,
        target: &str,
        activity: &Value,
    ) -> Result<Option<i64>, PipelineError> {
        match self {
            Sink::Hubster(h) => {
                let side = match activity["sender"]["integrationType"]
                    .as_str()
                    .and_then(IntegrationType::parse)
                {
                    Some(t) => Side::of(t),
                    None => Side::Business,
                };
                // The engine assigns eventIds and says which.
                h.send_activity(target, side, activity)
                    .await
                    .map(|answer| answer["eventId"].as_i64())
                    .map_err(|source| PipelineError::Http {
                        conversation_id: conversation_id.to_owned(),
                        source,
                    })
            }
            Sink::Files(dir) => {
                let path = dir.join(format!("{}.jsonl", file_name(target)));
                append_activity(&path, activity)
                    .map(|()| None)
                    .map_err(|e| PipelineError::Sink {
                        conversation_id: conversation_id.to_owned(),
                        message: e.to_string(),
                    })
            }
        }
    }

    /// How long an activity may take to show when read back, and how long
    /// a post whose answer was lost may still complete.
    fn read_lag_and_settle(&self) -> (Duration, Duration) {
        match self {
            Sink::Hubster(h) => (h.read_lag(), h.unsure_settle()),
            Sink::Files(_) => (Duration::ZERO, Duration::ZERO),
        }
    }

    /// Of `external_ids`, those the target already has, with the eventId
    /// it gave each (if it gives them).
    async fn delivered(
        &self,
        conversation_id: &str,
        target: &str,
        external_ids: &HashSet<String>,
    ) -> Result<HashMap<String, Option<i64>>, PipelineError> {
        let found: Vec<Value> = match self {
            Sink::Hubster(h) => {
                let types = IntegrationType::SENDERS;
                h.activities(target, &types, 0)
                    .await
                    .map_err(|source| PipelineError::Http {
                        conversation_id: conversation_id.to_owned(),
                        source,
                    })?
            }
            Sink::Files(dir) => {
                let path = dir.join(format!("{}.jsonl", file_name(target)));
                read_activity_lines(&path)
                    .map_err(|e| PipelineError::Sink {
                        conversation_id: conversation_id.to_owned(),
                        message: e.to_string(),
                    })?
                    .unwrap_or_default()
            }
        };
        let event_ids = matches!(self, Sink::Hubster(_));
        Ok(found
            .iter()
            .filter_map(|a| Some((a["externalId"].as_str()?, a["eventId"].as_i64())))
            .filter(|(e, _)| external_ids.contains(*e))
            .map(|(e, id)| (e.to_owned(), id.filter(|_| event_ids)))
            .collect())
    }
}

/// Delivers one activity exactly once. When the answer to a post is lost
/// after the post may have arrived, the activity is never sent blindly
/// again: the target is read (after its read lag, to the end) until the
/// activity shows, or until the post can no longer complete (the sink's
/// settle time); only then is it sent again (a few times at most). The
/// eventId the target gave it, if it gives them.
async fn deliver_once(
    sink: &Sink,
    conversation_id: &str,
    target: &str,
    activity: &Value,
) -> Result<Option<i64>, PipelineError> {
    const TRIES: usize = 5;
    let external_id = activity["externalId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let wanted: HashSet<String> = [external_id.clone()].into();
    let (lag, settle) = sink.read_lag_and_settle();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let posted = std::time::Instant::now();
        let unsure = match sink.deliver(conversation_id, target, activity).await {
            Ok(event_id) => return Ok(event_id),
            Err(
                e @ PipelineError::Http {
                    source: HttpError::Unsure { .. },
                    ..
                },
            ) => e,
            Err(e) => return Err(e),
        };
        loop {
            tokio::time::sleep(lag).await;
            if let Some(event_id) = sink
                .delivered(conversation_id, target, &wanted)
                .await?
                .remove(&external_id)
            {
                tracing::debug!(conversation = conversation_id, external_id, error = %unsure, "answer lost, but the activity arrived");
                return Ok(event_id);
            }
            if posted.elapsed() >= settle {
                break;
            }
        }
        if attempt >= TRIES {
            return Err(unsure);
        }
        tracing::debug!(conversation = conversation_id, external_id, error = %unsure, "answer lost and the activity did not arrive: sending again");
    }
}

/// Every delivery needs its idempotency key. An activity given back from
/// Hubster provenance keeps the externalId it had, which may be none: such
/// a one gets the key of its record.
fn fill_external_ids(conversation_id: &str, activities: &mut [Value], marks: &[StoredMark]) {
    for (a, m) in activities.iter_mut().zip(marks) {
        if a["externalId"].as_str().is_none_or(str::is_empty) {
            a["externalId"] = match m {
                StoredMark::Sequence {
                    dialog_id,
                    sequence,
                } => identity::sequence_external_id(conversation_id, dialog_id, *sequence),
                StoredMark::Key(k) => k.clone(),
            }
            .into();
        }
    }
}

/// Settles intents a run left behind: those the target has are recorded as
/// delivered, the others dropped (the next run converts and sends them
/// again). Returns how many were found delivered.
pub async fn recover(
    pipeline: &str,
    store: &Arc<Store>,
    sink: &Sink,
) -> Result<u64, PipelineError> {
    let p = pipeline.to_owned();
    let pending = blocking(store, move |s| s.pending_intents(&p)).await?;
    let mut by_conv: BTreeMap<String, Vec<Intent>> = BTreeMap::new();
    for (c, i) in pending {
        by_conv.entry(c).or_default().push(i);
    }
    if !by_conv.is_empty() {
        // A post cut short by the stop may still show: give it the read lag.
        tokio::time::sleep(sink.read_lag_and_settle().0).await;
    }
    let mut found_total = 0;
    for (conv, intents) in by_conv {
        let (p, c) = (pipeline.to_owned(), conv.clone());
        let mut state = blocking(store, move |s| s.conversation(&p, &c))
            .await?
            .unwrap_or_default();
        found_total +=
            settle_intents(pipeline, &conv, intents, &mut state, sink, store, false).await?;
    }
    Ok(found_total)
}

/// Settles a conversation's intents: those the target has are recorded as
/// delivered; the others are dropped (converted and sent again) once they
/// can no longer arrive: the target's settle time has passed since they
/// were written. Before that, with `wait`, it keeps looking (each read lag)
/// until then; without, it leaves them pending for a later try.
/// Checkpoints `state`; returns how many were found delivered.
async fn settle_intents(
    pipeline: &str,
    conv: &str,
    intents: Vec<Intent>,
    state: &mut ConversationState,
    sink: &Sink,
    store: &Arc<Store>,
    wait: bool,
) -> Result<u64, PipelineError> {
    let ids: HashSet<String> = intents.iter().map(|i| i.external_id.clone()).collect();
    let (lag, settle) = sink.read_lag_and_settle();
    let deadline = state
        .intents_written_ms
        .map(|w| w + settle.as_millis() as i64);
    let may_arrive = || deadline.is_some_and(|d| now_ms() < d);
    let read = || async {
        match &state.target_conversation_id {
            Some(target) => sink.delivered(conv, target, &ids).await,
            None => Ok(HashMap::new()),
        }
    };
    let mut found = read().await?;
    while wait && found.len() < ids.len() && state.target_conversation_id.is_some() && may_arrive()
    {
        tokio::time::sleep(lag.max(Duration::from_millis(20))).await;
        found = read().await?;
    }
    for i in &intents {
        if let Some(given) = found.get(&i.external_id) {
            state.resume.mark(&i.mark.as_mark(), i.event_id);
            state.target_event_id = state.target_event_id.max(*given);
            state.delivered += 1;
        }
    }
    // What may still arrive stays pending.
    let keep = state.target_conversation_id.is_some() && found.len() < ids.len() && may_arrive();
    let settled: Vec<String> = ids
        .iter()
        .filter(|id| !keep || found.contains_key(*id))
        .cloned()
        .collect();
    tracing::info!(conversation = %conv, pending = intents.len(), found = found.len(), left = ids.len() - settled.len(), "settled delivery intents");
    let (p, c, st) = (pipeline.to_owned(), conv.to_owned(), state.clone());
    blocking(store, move |s| {
        let settled: Vec<&str> = settled.iter().map(String::as_str).collect();
        s.checkpoint(&p, &c, &st, &settled)
    })
    .await?;
    Ok(found.len() as u64)
}

/// What the source says of the consumer, as Hubster's establish takes it
/// (`properties.profile`): names from the participants lists (`known`,
/// interactions only), and the device of the consumer's client (its
/// `originatorClientProperties`), when a record says. Names are not in
/// content search records.
fn consumer_profile(records: &[Value], known: Option<Value>) -> Option<Value> {
    let device = records
        .iter()
        .filter(|r| {
            r["originatorMetadata"]["role"]
                .as_str()
                .is_some_and(|role| role.eq_ignore_ascii_case("CONSUMER"))
        })
        .find_map(|r| {
            let client = r
                .get("originatorClientProperties")
                .or_else(|| r["originatorMetadata"].get("clientProperties"))?;
            let device: Vec<&str> = ["deviceFamily", "os", "browser"]
                .iter()
                .filter_map(|k| client.get(*k)?.as_str())
                .filter(|v| !v.is_empty())
                .collect();
            (!device.is_empty()).then(|| device.join(" "))
        });
    match (known, device) {
        (Some(mut p), Some(d)) => {
            p["device"] = d.into();
            Some(p)
        }
        (Some(p), None) => Some(p),
        (None, Some(d)) => Some(serde_json::json!({ "device": d })),
        (None, None) => None,
    }
}

/// Converts what is new in a conversation's records (after `resume`) into
/// the activities to deliver, each with its idempotency key, and what marks
/// each delivered. The records are parsed from text so that the converter
/// reads them borrowed, exactly as `convert` does.
pub fn convert_records(
    conversation_id: &str,
    records: &[Value],
    mapping: &Mapping,
    resume: &format::LpResume,
) -> Result<(Vec<Value>, Vec<StoredMark>, format::Report), PipelineError> {
    let bad = |message: String| PipelineError::Convert {
        conversation_id: conversation_id.to_owned(),
        message,
    };
    let text = serde_json::to_string(records).expect("values serialize");
    let parsed: Vec<Record> = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let out = format::to_hubster(conversation_id, &parsed, mapping, resume)
        .map_err(|e| bad(e.to_string()))?;
    let mut activities: Vec<Value> = out.activities.iter().map(|a| a.to_value()).collect();
    let marks: Vec<StoredMark> = out.marks.iter().map(StoredMark::from).collect();
    fill_external_ids(conversation_id, &mut activities, &marks);
    Ok((activities, marks, out.report))
}

/// Syncs one conversation from LivePerson to the sink.
pub async fn sync_conversation(
    pipeline: &str,
    conversation_id: &str,
    source: &Source,
    sink: &Sink,
    store: &Arc<Store>,
    mapping: &Arc<Mapping>,
) -> Result<Outcome, PipelineError> {
    sync_one(
        pipeline,
        conversation_id,
        source,
        sink,
        store,
        mapping,
        false,
    )
    .await
}

/// The delivery intents of converted activities (with their marks).
fn intents_of(activities: &[Value], marks: &[StoredMark]) -> Vec<Intent> {
    activities
        .iter()
        .zip(marks)
        .map(|(a, m)| Intent {
            external_id: a["externalId"].as_str().unwrap_or_default().to_owned(),
            mark: m.clone(),
            event_id: a["eventId"].as_i64(),
        })
        .collect()
}

/// The digest a sealed checkpoint keeps: of the externalIds of every
/// activity the conversation converts to (in any order).
fn seal_of(activities: &[Value]) -> String {
    use sha1::Digest;
    let mut ids: Vec<&str> = activities
        .iter()
        .map(|a| a["externalId"].as_str().unwrap_or_default())
        .collect();
    ids.sort_unstable();
    let mut h = sha1::Sha1::new();
    for id in ids {
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    let d = h.finalize();
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// What of `records` is not delivered yet, by the checkpoint `state`: its
/// resume point, or, when it is sealed, nothing if the records convert to
/// what was sealed and everything if not (the target then says what it
/// has). Returns whether the records differ from a sealed checkpoint.
pub fn undelivered(
    conversation_id: &str,
    records: &[Value],
    mapping: &Mapping,
    state: &ConversationState,
) -> Result<(Vec<Value>, Vec<StoredMark>, format::Report, bool), PipelineError> {
    let Some(seal) = &state.sealed else {
        let (a, m, r) = convert_records(conversation_id, records, mapping, &state.resume)?;
        return Ok((a, m, r, false));
    };
    let (a, m, mut r) = convert_records(
        conversation_id,
        records,
        mapping,
        &format::LpResume::default(),
    )?;
    if *seal == seal_of(&a) {
        r.already_delivered += a.len() as u64;
        return Ok((Vec::new(), Vec::new(), r, false));
    }
    Ok((a, m, r, true))
}

/// Seals a checkpoint whose every activity is delivered (all of `records`
/// converted, nothing new): the resume point becomes one digest, and what
/// only a moving conversation needs goes.
/// `known`: the seal, when the caller converted every record already.
fn seal(
    conversation_id: &str,
    records: &[Value],
    mapping: &Mapping,
    state: &mut ConversationState,
    known: Option<String>,
) -> Result<(), PipelineError> {
    let digest = match known {
        Some(d) => d,
        None => {
            let (all, _, _) = convert_records(
                conversation_id,
                records,
                mapping,
                &format::LpResume::default(),
            )?;
            seal_of(&all)
        }
    };
    state.sealed = Some(digest);
    state.resume = format::LpResume::default();
    // Kept for a conversation still moving, not for a finished one: when
    // it was last read (retention goes by its last update) and the
    // target's last eventId.
    if state.last_updated_ms.is_some() {
        state.last_polled_ms = None;
    }
    state.target_event_id = None;
    Ok(())
}

/// [`sync_conversation`]; `closed`: the source listed the conversation as
/// closed, and once every activity of it is delivered its checkpoint is
/// sealed (one digest where the resume point was).
async fn sync_one(
    pipeline: &str,
    conversation_id: &str,
    source: &Source,
    sink: &Sink,
    store: &Arc<Store>,
    mapping: &Arc<Mapping>,
    closed: bool,
) -> Result<Outcome, PipelineError> {
    // The checkpoint, and what an earlier try left unsettled (a post that
    // failed, and may have arrived after all): looked for first, never sent
    // blindly again. One trip to the store.
    let (p, c) = (pipeline.to_owned(), conversation_id.to_owned());
    let (state, pending, pruned) = blocking(store, move |s| {
        let state = s.conversation(&p, &c)?;
        let pruned = state.is_none() && s.is_pruned(&p, &c)?;
        Ok((state, s.pending_intents_of(&p, &c)?, pruned))
    })
    .await?;
    if pruned {
        // Delivered, then pruned as older than the retention: LivePerson
        // should no longer return it, and it is not sent again.
        tracing::warn!(
            pipeline,
            conversation = conversation_id,
            "the source returned a conversation pruned from the store (delivered before): skipped"
        );
        return Ok(Outcome {
            delivered: 0,
            already_delivered: 0,
        });
    }
    let mut state: ConversationState = state.unwrap_or_default();
    if !pending.is_empty() {
        settle_intents(
            pipeline,
            conversation_id,
            pending,
            &mut state,
            sink,
            store,
            true,
        )
        .await?;
    }
    let (records, consumer) = source.content(conversation_id).await?;

    // Nothing delivered yet: what is converted now is every activity, and
    // a closed conversation's seal is theirs (no second conversion).
    let whole = state.sealed.is_none() && state.resume.is_empty();
    let (mut activities, mut marks, mut report, changed) =
        undelivered(conversation_id, &records, mapping, &state)?;
    let known_seal = (closed && whole).then(|| seal_of(&activities));
    if changed {
        // Sealed, and the source's records are not what was sealed (they
        // should not change once closed; records LivePerson had not yet
        // shown when it listed the conversation closed look the same):
        // what the target holds counts as delivered, the rest is sent.
        tracing::warn!(
            pipeline,
            conversation = conversation_id,
            "a closed conversation's records differ from those it was sealed with (late records or a change at the source): reading the target for what it holds"
        );
        let intents = intents_of(&activities, &marks);
        // Counted again: what the target holds.
        state.delivered = 0;
        state.sealed = None;
        settle_intents(
            pipeline,
            conversation_id,
            intents,
            &mut state,
            sink,
            store,
            true,
        )
        .await?;
        (activities, marks, report) =
            convert_records(conversation_id, &records, mapping, &state.resume)?;
    }
    let already = report.already_delivered;
    state.last_polled_ms = Some(now_ms());
    // The source's last update: its newest record.
    state.last_updated_ms = records
        .iter()
        .filter_map(|r| r["serverTimestamp"].as_i64())
        .max()
        .or(state.last_updated_ms);
    let mut outcome = Outcome {
        delivered: 0,
        already_delivered: already,
    };
    if activities.is_empty() {
        if closed && state.sealed.is_none() {
            seal(conversation_id, &records, mapping, &mut state, known_seal)?;
        }
        let (p, c) = (pipeline.to_owned(), conversation_id.to_owned());
        blocking(store, move |s| s.checkpoint(&p, &c, &state, &[])).await?;
        return Ok(outcome);
    }

    let target = match &state.target_conversation_id {
        Some(t) => t.clone(),
        None => {
            let t = sink
                .open(
                    conversation_id,
                    mapping,
                    consumer_profile(&records, consumer).as_ref(),
                )
                .await?;
            state.target_conversation_id = Some(t.clone());
            t
        }
    };
    let intents = intents_of(&activities, &marks);
    state.intents_written_ms = Some(now_ms());
    {
        let (p, c, i, st) = (
            pipeline.to_owned(),
            conversation_id.to_owned(),
            intents.clone(),
            state.clone(),
        );
        // The target id and the intents, durable before the first send
        // (and when: the posts come after).
        blocking(store, move |s| {
            s.checkpoint(&p, &c, &st, &[])?;
            s.write_intents(&p, &c, &i)
        })
        .await?;
    }

    // The checkpoint keeps the latest eventId the target gave.
    let mut given = Vec::with_capacity(activities.len());
    let mut failure = None;
    for a in &activities {
        match deliver_once(sink, conversation_id, &target, a).await {
            Ok(event_id) => given.push(event_id),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let sent = given.len();
    for i in &intents[..sent] {
        state.resume.mark(&i.mark.as_mark(), i.event_id);
    }
    state.target_event_id = given
        .iter()
        .copied()
        .fold(state.target_event_id, Option::max);
    state.delivered += sent as u64;
    outcome.delivered = sent as u64;
    match &failure {
        Some(e) => {
            state.attempts += 1;
            state.last_error = Some(e.to_string());
        }
        None => {
            state.attempts = 0;
            state.last_error = None;
            if closed {
                seal(conversation_id, &records, mapping, &mut state, known_seal)?;
            }
        }
    }
    // What was sent is settled; what was not stays pending for recovery
    // only if it might have arrived (the failed one), else it is resent.
    let settled: Vec<String> = intents[..sent]
        .iter()
        .map(|i| i.external_id.clone())
        .collect();
    let unsent: Vec<String> = intents
        .iter()
        .skip(sent + 1)
        .map(|i| i.external_id.clone())
        .collect();
    let (p, c) = (pipeline.to_owned(), conversation_id.to_owned());
    blocking(store, move |s| {
        let all: Vec<&str> = settled.iter().chain(&unsent).map(String::as_str).collect();
        s.checkpoint(&p, &c, &state, &all)
    })
    .await?;
    match failure {
        Some(e) => Err(e),
        None => Ok(outcome),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_consumers_device_is_their_profile_when_a_record_says() {
        let records = vec![
            json!({"originatorMetadata": {"role": "ASSIGNED_AGENT"},
                "originatorClientProperties": {"deviceFamily": "DESKTOP"}}),
            json!({"originatorMetadata": {"role": "CONSUMER"},
                "originatorClientProperties": {"type": ".ClientProperties", "deviceFamily": "MOBILE", "os": "ANDROID"}}),
        ];
        assert_eq!(
            consumer_profile(&records, None),
            Some(json!({"device": "MOBILE ANDROID"}))
        );
        assert_eq!(consumer_profile(&records[..1], None), None);
    }

    #[test]
    fn names_from_the_participants_list_join_the_device() {
        let records = vec![json!({"originatorMetadata": {"role": "CONSUMER"},
            "originatorClientProperties": {"deviceFamily": "MOBILE"}})];
        let names = json!({"first name": "Ada", "full name": "Ada L"});
        assert_eq!(
            consumer_profile(&records, Some(names.clone())),
            Some(json!({"first name": "Ada", "full name": "Ada L", "device": "MOBILE"}))
        );
        assert_eq!(consumer_profile(&[], Some(names.clone())), Some(names));
    }

    #[test]
    fn activities_without_an_external_id_get_their_records_key() {
        let mut acts = vec![
            json!({"externalId": null}),
            json!({}),
            json!({"externalId": ""}),
            json!({"externalId": "kept"}),
        ];
        let marks = vec![
            StoredMark::Sequence {
                dialog_id: "d".into(),
                sequence: 4,
            },
            StoredMark::Key("lp:c:d:status:x".into()),
            StoredMark::Sequence {
                dialog_id: "d".into(),
                sequence: 5,
            },
            StoredMark::Sequence {
                dialog_id: "d".into(),
                sequence: 6,
            },
        ];
        fill_external_ids("c", &mut acts, &marks);
        let ids: Vec<&str> = acts
            .iter()
            .map(|a| a["externalId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["lp:c:d:4", "lp:c:d:status:x", "lp:c:d:5", "kept"]);
    }
}
