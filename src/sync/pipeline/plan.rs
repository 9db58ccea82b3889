//! A conversation's sync, planned: from what its checkpoint holds, what
//! the source's records say and the mapping, which activities to send
//! (each with its delivery intent), which intents an earlier try left are
//! settled, and what the checkpoint becomes, sealed or not. Pure: no I/O
//! and no clock (times are arguments). [`execute`](super::execute) carries
//! a plan out; the tests below test the plan.

use super::error::{PipelineError, Unconvertible};
use crate::format::{self, LpResume, Mapping, Report, identity, liveperson::Record};
use crate::platform::liveperson::Shown;
use crate::store::{ConversationState, Held, Intent, StoredMark};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// One conversion of a conversation's records: the activities in delivery
/// order, each with its idempotency key (`externalId`), what marks it
/// delivered, and the stamp its eventId follows.
#[derive(Debug, Clone, Default)]
pub struct Converted {
    pub activities: Vec<Value>,
    pub marks: Vec<StoredMark>,
    stamps: Vec<Option<i64>>,
    pub report: Report,
    /// What the mapping could not carry as it was: (activity index,
    /// warning kind), in order.
    degraded: Vec<(usize, &'static str)>,
}

impl Converted {
    /// Converts what is new in `records` (after `resume`). The records are
    /// parsed from text so that the converter reads them borrowed, exactly
    /// as `convert` does.
    pub fn of(
        conversation_id: &str,
        records: &[Value],
        mapping: &Mapping,
        resume: &LpResume,
    ) -> Result<Converted, PipelineError> {
        let bad = |e| PipelineError::convert(conversation_id, e);
        let text = serde_json::to_string(records).expect("values serialize");
        let parsed: Vec<Record> =
            serde_json::from_str(&text).map_err(|e| bad(Unconvertible::Records(e)))?;
        let out = format::to_hubster(conversation_id, &parsed, mapping, resume)
            .map_err(|e| bad(Unconvertible::Format(e)))?;
        let mut activities: Vec<Value> = out.activities.iter().map(|a| a.to_value()).collect();
        let marks: Vec<StoredMark> = out.marks.iter().map(StoredMark::from).collect();
        fill_external_ids(conversation_id, &mut activities, &marks);
        Ok(Converted {
            activities,
            marks,
            stamps: out.stamps().to_vec(),
            degraded: out.degraded().to_vec(),
            report: out.report,
        })
    }

    /// What converting after `resume` gives, made from this conversion of
    /// every record without converting again: the activities `resume`
    /// does not list as delivered, their eventIds rising from its last.
    pub fn after(self, resume: &LpResume) -> Converted {
        let mut out = Converted {
            report: self.report,
            ..Converted::default()
        };
        let mut prev = resume.last_event_id;
        let mut degraded = self.degraded.into_iter().peekable();
        for (i, ((mut a, m), ts)) in self
            .activities
            .into_iter()
            .zip(self.marks)
            .zip(self.stamps)
            .enumerate()
        {
            let kinds: Vec<&'static str> =
                std::iter::from_fn(|| degraded.next_if(|&(at, _)| at == i).map(|(_, k)| k))
                    .collect();
            let delivered = match m.as_mark() {
                format::Mark::Sequence {
                    dialog_id,
                    sequence,
                } => resume.is_delivered(dialog_id, Some(sequence), ""),
                format::Mark::Key(k) => resume.is_delivered("", None, &k),
            };
            if delivered {
                out.report.already_delivered += 1;
                continue;
            }
            let event_id = format::next_event_id(ts, prev);
            prev = Some(event_id);
            a["eventId"] = event_id.into();
            let at = out.activities.len();
            out.degraded.extend(kinds.into_iter().map(|k| (at, k)));
            out.activities.push(a);
            out.marks.push(m);
            out.stamps.push(ts);
        }
        out
    }

    /// What of a truncated answer's conversion (`records`) can be sent in
    /// order: everything before its first record without a sequence (a
    /// receipt, a state) stamped at or after its last message. LivePerson
    /// numbers messages as they arrive, so what a truncated answer lacks
    /// came after its last message: a receipt from then on may acknowledge
    /// a missing message too (then it is another receipt once the answer
    /// is whole), and what comes after such a receipt waits for it.
    pub fn proven(mut self, records: &[Value]) -> Converted {
        let last = records
            .iter()
            .filter(|r| r["sequence"].is_i64())
            .filter_map(|r| r["serverTimestamp"].as_i64())
            .max();
        let cut = self
            .marks
            .iter()
            .zip(&self.stamps)
            .position(|(m, ts)| matches!(m, StoredMark::Key(_)) && (last.is_none() || *ts >= last))
            .unwrap_or(self.activities.len());
        self.activities.truncate(cut);
        self.marks.truncate(cut);
        self.stamps.truncate(cut);
        self.degraded.retain(|&(at, _)| at < cut);
        self
    }

    /// What the mapping could not carry as it was in activity `i`: the
    /// kinds of the warnings about it.
    pub fn degraded(&self, i: usize) -> impl Iterator<Item = &'static str> + '_ {
        self.degraded
            .iter()
            .filter(move |&&(at, _)| at == i)
            .map(|&(_, k)| k)
    }

    /// The delivery intent of each activity.
    /// The source time of activity `i` (its record's), if it has one.
    pub fn stamp(&self, i: usize) -> Option<i64> {
        self.stamps.get(i).copied().flatten()
    }

    pub fn intents(&self) -> Vec<Intent> {
        self.activities
            .iter()
            .zip(&self.marks)
            .map(|(a, m)| Intent {
                external_id: a["externalId"].as_str().unwrap_or_default().to_owned(),
                mark: m.clone(),
                event_id: a["eventId"].as_i64(),
            })
            .collect()
    }

    /// The digest a sealed checkpoint keeps: of the externalIds of every
    /// activity (in any order).
    pub fn seal(&self) -> String {
        use sha1::Digest;
        let mut ids: Vec<&str> = self
            .activities
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

/// Converts what is new in a conversation's records (after `resume`) into
/// the activities to deliver, each with its idempotency key, and what marks
/// each delivered.
pub fn convert_records(
    conversation_id: &str,
    records: &[Value],
    mapping: &Mapping,
    resume: &format::LpResume,
) -> Result<(Vec<Value>, Vec<StoredMark>, format::Report), PipelineError> {
    let c = Converted::of(conversation_id, records, mapping, resume)?;
    Ok((c.activities, c.marks, c.report))
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
        let c = Converted::of(conversation_id, records, mapping, &state.resume)?;
        return Ok((c.activities, c.marks, c.report, false));
    };
    let mut c = Converted::of(conversation_id, records, mapping, &LpResume::default())?;
    if *seal == c.seal() {
        c.report.already_delivered += c.activities.len() as u64;
        return Ok((Vec::new(), Vec::new(), c.report, false));
    }
    Ok((c.activities, c.marks, c.report, true))
}

/// What one pass does with one conversation.
#[derive(Debug)]
pub struct Plan {
    /// The checkpoint before anything is sent: when it was read, the
    /// source's last update, and a seal the records no longer match undone.
    pub state: ConversationState,
    /// What to send, in order.
    pub send: Converted,
    /// When a sealed checkpoint's records changed (records LivePerson had
    /// not shown when it listed the conversation closed, or a change at the
    /// source): every activity they convert to. What the target holds of
    /// them counts as delivered ([`Plan::reconcile`]); the rest is sent.
    pub changed: Option<Converted>,
    /// The digest to seal the checkpoint with once every activity is
    /// delivered: the source listed the conversation closed.
    seal: Option<String>,
    /// The source's answer did not prove the conversation whole: never
    /// sealed, and held open to be read again ([`ConversationState::held`]).
    pub held: Option<Shown>,
}

/// The first wait before a held conversation is read again, doubled each
/// read that still proves it not whole, up to [`HOLD_MAX_MS`].
pub const HOLD_FIRST_MS: i64 = 60_000;
pub const HOLD_MAX_MS: i64 = 3600 * 1000;

/// A conversation held again after `prev` (if it was): the source's answer
/// showed `shown` at `now_ms`; `closed`: the source listed it closed.
pub fn hold(prev: Option<Held>, shown: Shown, closed: bool, now_ms: i64) -> Held {
    let tries = prev.as_ref().map_or(0, |h| h.tries).saturating_add(1);
    let wait = (HOLD_FIRST_MS << (tries - 1).min(10)).min(HOLD_MAX_MS);
    Held {
        shown: shown.name().to_owned(),
        since_ms: prev.as_ref().map_or(now_ms, |h| h.since_ms),
        tries,
        next_ms: now_ms + wait,
        closed: closed || prev.is_some_and(|h| h.closed),
    }
}

impl Plan {
    /// The plan for `records`, read at `now_ms`, over the checkpoint
    /// `state`; `closed`: the source listed the conversation closed. Each
    /// conversion it needs is made once.
    pub fn new(
        conversation_id: &str,
        mut state: ConversationState,
        records: &[Value],
        mapping: &Mapping,
        closed: bool,
        now_ms: i64,
    ) -> Result<Plan, PipelineError> {
        state.last_polled_ms = Some(now_ms);
        // The source's last update: its newest record.
        state.last_updated_ms = records
            .iter()
            .filter_map(|r| r["serverTimestamp"].as_i64())
            .max()
            .or(state.last_updated_ms);
        let all = || Converted::of(conversation_id, records, mapping, &LpResume::default());
        if let Some(sealed) = state.sealed.clone() {
            let all = all()?;
            let digest = all.seal();
            if digest == sealed {
                let mut send = Converted {
                    report: all.report,
                    ..Converted::default()
                };
                send.report.already_delivered += all.activities.len() as u64;
                return Ok(Plan {
                    state,
                    send,
                    changed: None,
                    seal: None,
                    held: None,
                });
            }
            // Counted again: what the target holds.
            state.delivered = 0;
            state.sealed = None;
            return Ok(Plan {
                state,
                send: Converted::default(),
                changed: Some(all),
                seal: closed.then_some(digest),
                held: None,
            });
        }
        if !closed {
            let send = Converted::of(conversation_id, records, mapping, &state.resume)?;
            return Ok(Plan {
                state,
                send,
                changed: None,
                seal: None,
                held: None,
            });
        }
        // Closed: the seal is of every activity, and what is new comes
        // from the same conversion.
        let all = all()?;
        let digest = all.seal();
        let send = if state.resume.is_empty() {
            all
        } else {
            all.after(&state.resume)
        };
        Ok(Plan {
            state,
            send,
            changed: None,
            seal: Some(digest),
            held: None,
        })
    }

    /// The plan for an answer of the source that showed `shown`: as
    /// [`Plan::new`] when it proves the conversation whole (and no longer
    /// held); otherwise never a seal: what a truncated answer holds is
    /// sent up to its last message, a seal made from an earlier whole
    /// answer stands with nothing sent, and the conversation is held to be
    /// read again.
    pub fn answered(
        conversation_id: &str,
        mut state: ConversationState,
        records: &[Value],
        shown: Shown,
        mapping: &Mapping,
        closed: bool,
        now_ms: i64,
    ) -> Result<Plan, PipelineError> {
        if shown.is_whole() {
            state.held = None;
            return Plan::new(conversation_id, state, records, mapping, closed, now_ms);
        }
        state.held = Some(hold(state.held.take(), shown, closed, now_ms));
        if state.sealed.is_some() {
            state.last_polled_ms = Some(now_ms);
            return Ok(Plan {
                state,
                send: Converted::default(),
                changed: None,
                seal: None,
                held: Some(shown),
            });
        }
        let mut plan = Plan::new(conversation_id, state, records, mapping, false, now_ms)?;
        if shown == Shown::Partial {
            plan.send = plan.send.proven(records);
        }
        plan.held = Some(shown);
        Ok(plan)
    }

    /// The plan in the store's trust `epoch`: a checkpoint written before
    /// it (the store was found restored, recreated or replaced) is doubted
    /// ([`Plan::doubt`]) unless sealed, and the checkpoint it leaves
    /// belongs to the epoch. Whether it doubts.
    pub fn in_epoch(&mut self, epoch: u64) -> bool {
        let st = &self.state;
        let checkpoint =
            st.target_conversation_id.is_some() || !st.resume.is_empty() || st.delivered > 0;
        let doubted = st.epoch < epoch && st.sealed.is_none() && checkpoint;
        self.state.epoch = epoch;
        if doubted {
            self.doubt();
        }
        doubted
    }

    /// The checkpoint cannot be believed to say all the target holds (it
    /// is an older store's, or there is none while the target knew the
    /// conversation): what it would send is looked for in the target first
    /// ([`Plan::reconcile`]), and only the rest is sent.
    pub fn doubt(&mut self) {
        if self.changed.is_none() && !self.send.activities.is_empty() {
            self.changed = Some(std::mem::take(&mut self.send));
        }
    }

    /// Whether the plan sends or looks for anything (and so needs the
    /// target conversation).
    pub fn has_work(&self) -> bool {
        !self.send.activities.is_empty()
            || self
                .changed
                .as_ref()
                .is_some_and(|c| !c.activities.is_empty())
    }

    /// The intents to look for in the target when the records changed
    /// under a seal or the checkpoint is doubted (none otherwise).
    pub fn changed_intents(&self) -> Vec<Intent> {
        self.changed
            .as_ref()
            .map_or_else(Vec::new, Converted::intents)
    }

    /// A changed or doubted conversation, once the target was read: what it holds
    /// (`found`: externalId -> the eventId it gave) is delivered, and the
    /// rest is what to send.
    pub fn reconcile(&mut self, found: &HashMap<String, Option<i64>>) {
        let Some(all) = self.changed.take() else {
            return;
        };
        let intents = all.intents();
        record_found(&mut self.state, &intents, found);
        self.send = all.after(&self.state.resume);
    }

    /// How many activities the source has that were delivered before.
    pub fn already_delivered(&self) -> u64 {
        self.send.report.already_delivered
    }

    /// The checkpoint when there is nothing to send: sealed, if the
    /// conversation is closed.
    pub fn unchanged(self) -> ConversationState {
        let mut state = self.state;
        if let Some(d) = self.seal {
            seal(&mut state, d);
        }
        state
    }

    /// The checkpoint after sending `intents` (this plan's, in order):
    /// `given` holds the eventIds the target gave the first of them, all
    /// of them unless `failure` stopped the rest at `now_ms`. Also the
    /// intents it settles: those sent, and those after the one that
    /// failed (never sent); the failed one may have arrived, and stays
    /// pending for the next try to look for.
    pub fn delivered(
        self,
        intents: &[Intent],
        given: &[Option<i64>],
        failure: Option<String>,
        now_ms: i64,
    ) -> (ConversationState, Vec<String>) {
        let mut state = self.state;
        let sent = given.len();
        for i in &intents[..sent] {
            state.resume.mark(&i.mark.as_mark(), i.event_id);
        }
        state.target_event_id = given
            .iter()
            .copied()
            .fold(state.target_event_id, Option::max);
        state.delivered += sent as u64;
        match failure {
            Some(e) => {
                state.attempts += 1;
                state.last_error = Some(e);
                // The failed post was the last one made: it began by now.
                state.intents_written_ms = Some(now_ms);
            }
            None => {
                state.attempts = 0;
                state.last_error = None;
                if let Some(d) = self.seal {
                    seal(&mut state, d);
                }
            }
        }
        let settled = intents[..sent]
            .iter()
            .chain(intents.iter().skip(sent + 1))
            .map(|i| i.external_id.clone())
            .collect();
        (state, settled)
    }
}

/// Seals a checkpoint whose every activity is delivered: the resume point
/// becomes one digest, and what only a moving conversation needs goes.
fn seal(state: &mut ConversationState, digest: String) {
    state.sealed = Some(digest);
    state.resume = LpResume::default();
    // Kept for a conversation still moving, not for a finished one: when
    // it was last read (retention goes by its last update) and the
    // target's last eventId.
    if state.last_updated_ms.is_some() {
        state.last_polled_ms = None;
    }
    state.target_event_id = None;
}

/// Records the intents the target holds (`found`) as delivered.
fn record_found(
    state: &mut ConversationState,
    intents: &[Intent],
    found: &HashMap<String, Option<i64>>,
) {
    for i in intents {
        if let Some(given) = found.get(&i.external_id) {
            state.resume.mark(&i.mark.as_mark(), i.event_id);
            state.target_event_id = state.target_event_id.max(*given);
            state.delivered += 1;
        }
    }
}

/// Settles the intents an earlier try left: those the target holds
/// (`found`) are recorded as delivered; the others are dropped (converted
/// and sent again) unless they may still arrive (`may_arrive`), when they
/// stay pending. Returns the externalIds settled (to remove from the store).
pub fn settle(
    state: &mut ConversationState,
    intents: &[Intent],
    found: &HashMap<String, Option<i64>>,
    may_arrive: bool,
) -> Vec<String> {
    record_found(state, intents, found);
    let ids: HashSet<&str> = intents.iter().map(|i| i.external_id.as_str()).collect();
    let keep = state.target_conversation_id.is_some() && found.len() < ids.len() && may_arrive;
    ids.into_iter()
        .filter(|id| !keep || found.contains_key(*id))
        .map(str::to_owned)
        .collect()
}

/// When nothing an earlier try posted can still show in the target (epoch
/// ms). Its posts began by `posted_by` (what the checkpoint says), or by
/// `opened_ms` when that is later: the time this process opened the store,
/// by which any process before it had stopped (give `None` when every post
/// was answered). A post may complete until `settle` after it began, and
/// shows in reads `lag` after that.
pub fn settled_by(
    posted_by: Option<i64>,
    opened_ms: Option<i64>,
    lag: Duration,
    settle: Duration,
) -> i64 {
    let began = posted_by.max(opened_ms).unwrap_or(i64::MIN);
    began.saturating_add((lag + settle).as_millis() as i64)
}

/// What the source says of the consumer, as Hubster's establish takes it
/// (`properties.profile`): names from the participants lists (`known`,
/// interactions only), and the device of the consumer's client (its
/// `originatorClientProperties`), when a record says. Names are not in
/// content search records.
pub fn consumer_profile(records: &[Value], known: Option<Value>) -> Option<Value> {
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

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
