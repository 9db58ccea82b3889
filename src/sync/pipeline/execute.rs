//! Carrying out a conversation's [plan](super::plan): the I/O. One store
//! trip reads the checkpoint and what an earlier try left; the source is
//! read and the plan made (converting once); the target is read where the
//! plan says; the intents are written (with the checkpoint, in one commit)
//! before the first send; the activities go one at a time, in order; one
//! commit records what was delivered. With the intents and [`recover`],
//! delivery is effectively once against a target that has no idempotency
//! of its own.

use super::error::PipelineError;
use super::plan::{self, Plan};
use super::readback;
use super::sink::Sink;
use super::source::Source;
use crate::clock::now_ms;
use crate::format::Mapping;
use crate::store::{ConversationState, Intent, Store};
use crate::sync::deps::blocking;
use std::collections::HashSet;
use std::sync::Arc;

/// What one run delivered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub delivered: u64,
    pub already_delivered: u64,
    /// The checkpoint could not be believed, and the target was read for
    /// what it holds before anything was sent.
    pub reconciled: Option<Reconciled>,
    /// The source's answer did not prove the conversation whole: it is
    /// held open, to be read again then.
    pub held: Option<crate::store::Held>,
    /// Activities the target holds that convsync did not post (a hub's bot
    /// or agent answering replayed history), where this pass read the
    /// target; they are never taken for anything convsync sent.
    pub foreign: u64,
    /// For each message delivered: its source time and when the target
    /// acknowledged it (epoch ms), for freshness.
    pub acked: Vec<(i64, i64)>,
    /// For each activity delivered, the kinds of what the mapping could
    /// not carry as it was (warnings of the conversion), once each.
    pub degraded: Vec<&'static str>,
}

/// A conversation whose checkpoint was rebuilt from what the target holds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reconciled {
    /// Activities looked for in the target.
    pub looked_for: u64,
    /// Of them, those it held (not sent again).
    pub found: u64,
}

/// A conversation's checkpoint and its target.
pub(super) struct Target<'a> {
    pub pipeline: &'a str,
    pub conversation_id: &'a str,
    pub sink: &'a Sink,
    pub store: &'a Arc<Store>,
}

/// What a conversation's sync works with.
pub(super) struct Pass<'a> {
    pub at: Target<'a>,
    pub source: &'a Source,
    pub mapping: &'a Mapping,
    /// The source listed the conversation as closed: once every activity
    /// of it is delivered, its checkpoint is sealed.
    pub closed: bool,
}

impl Pass<'_> {
    /// Syncs the conversation from its source to the sink.
    pub(super) async fn run(&self) -> Result<Outcome, PipelineError> {
        let at = &self.at;
        let (pipeline, id, sink) = (at.pipeline, at.conversation_id, at.sink);
        let (p, c) = (pipeline.to_owned(), id.to_owned());
        let (state, pending, pruned) = blocking(at.store, move |s| {
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
                conversation = id,
                "the source returned a conversation pruned from the store (delivered before): skipped"
            );
            return Ok(Outcome::default());
        }
        let mut state: ConversationState = state.unwrap_or_default();
        // What an earlier try left unsettled (a post that failed, and may
        // have arrived after all) is looked for first, never sent blindly
        // again; settled in the next commit.
        let mut settled = Vec::new();
        let mut foreign = 0;
        if !pending.is_empty() {
            let deadline = at.settled_by(&state, Some(at.store.opened_ms()));
            (settled, foreign) = at.settle(&mut state, &pending, deadline, true).await?;
        }
        let read = self.source.content(id).await?;
        let mut plan = Plan::answered(
            id,
            state,
            &read.records,
            read.shown,
            self.mapping,
            self.closed,
            now_ms(),
        )?;
        let mut doubted = plan.in_epoch(at.store.epoch());
        if plan.state.target_conversation_id.is_none() && plan.has_work() {
            let profile = plan::consumer_profile(&read.records, read.consumer.clone());
            let (target, is_new) = sink.open(id, self.mapping, profile.as_ref()).await?;
            plan.state.target_conversation_id = Some(target);
            if !is_new {
                // No checkpoint, yet the target knew the conversation: it
                // may hold what an earlier store recorded.
                plan.doubt();
                doubted = true;
            }
        }
        let mut reconciled = None;
        if plan.changed.is_some() {
            let deadline = if doubted {
                // What a process before this one posted may still show.
                at.settled_by(&plan.state, Some(at.store.opened_ms()))
            } else {
                tracing::warn!(
                    pipeline,
                    conversation = id,
                    "a closed conversation's records differ from those it was sealed with (late records or a change at the source): reading the target for what it holds"
                );
                // Every post of a sealed conversation was answered.
                at.settled_by(&plan.state, None)
            };
            let ids: HashSet<String> = plan
                .changed_intents()
                .into_iter()
                .map(|i| i.external_id)
                .collect();
            let seen = readback::look(
                sink,
                id,
                plan.state.target_conversation_id.as_deref(),
                &ids,
                deadline,
                true,
            )
            .await?;
            foreign = foreign.max(seen.foreign);
            if doubted {
                reconciled = Some(Reconciled {
                    looked_for: ids.len() as u64,
                    found: seen.found.len() as u64,
                });
            }
            plan.reconcile(&seen.found);
        }
        let mut outcome = Outcome {
            delivered: 0,
            already_delivered: plan.already_delivered(),
            reconciled,
            held: plan.held.and(plan.state.held.clone()),
            foreign,
            acked: Vec::new(),
            degraded: Vec::new(),
        };
        if plan.send.activities.is_empty() {
            let state = plan.unchanged();
            at.commit(&state, &settled, &[]).await?;
            return Ok(outcome);
        }
        let target = plan
            .state
            .target_conversation_id
            .clone()
            .unwrap_or_default();
        // The target id and the intents, durable before the first send
        // (and when: the posts come after).
        let intents = plan.send.intents();
        plan.state.intents_written_ms = Some(now_ms());
        at.commit(&plan.state, &settled, &intents).await?;

        // The checkpoint keeps the latest eventId the target gave.
        let mut given = Vec::with_capacity(intents.len());
        let mut failure = None;
        for (i, a) in plan.send.activities.iter().enumerate() {
            match readback::deliver_once(sink, id, &target, a).await {
                Ok(event_id) => {
                    given.push(event_id);
                    outcome.degraded.extend(plan.send.degraded(i));
                    if a["type"] == "message"
                        && let Some(at) = plan.send.stamp(i)
                    {
                        outcome.acked.push((at, now_ms()));
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        outcome.delivered = given.len() as u64;
        let (state, settled) = plan.delivered(
            &intents,
            &given,
            failure.as_ref().map(ToString::to_string),
            now_ms(),
        );
        at.commit(&state, &settled, &[]).await?;
        match failure {
            Some(e) => Err(e),
            None => Ok(outcome),
        }
    }
}

impl Target<'_> {
    /// When nothing posted for the checkpoint `state` can still show.
    fn settled_by(&self, state: &ConversationState, opened_ms: Option<i64>) -> i64 {
        let (lag, settle) = self.sink.read_lag_and_settle();
        plan::settled_by(state.intents_written_ms, opened_ms, lag, settle)
    }

    /// Looks for `intents` in the target (with `wait`, until they show or
    /// can no longer) and records what it holds; the externalIds settled,
    /// and how many activities it holds that convsync did not post.
    async fn settle(
        &self,
        state: &mut ConversationState,
        intents: &[Intent],
        deadline: i64,
        wait: bool,
    ) -> Result<(Vec<String>, u64), PipelineError> {
        let ids: HashSet<String> = intents.iter().map(|i| i.external_id.clone()).collect();
        let target = state.target_conversation_id.clone();
        let seen = readback::look(
            self.sink,
            self.conversation_id,
            target.as_deref(),
            &ids,
            deadline,
            wait,
        )
        .await?;
        let settled = plan::settle(state, intents, &seen.found, now_ms() < deadline);
        tracing::info!(conversation = %self.conversation_id, pending = intents.len(), found = seen.found.len(), left = ids.len() - settled.len(), "settled delivery intents");
        Ok((settled, seen.foreign))
    }

    /// One commit: the checkpoint, the intents it settles removed, new
    /// intents written.
    async fn commit(
        &self,
        state: &ConversationState,
        settled: &[String],
        intents: &[Intent],
    ) -> Result<(), PipelineError> {
        // Encoded here: only bytes go to the store's thread.
        let settled: Vec<&str> = settled.iter().map(String::as_str).collect();
        let c = self.store.encode_checkpoint(
            self.pipeline,
            self.conversation_id,
            state,
            &settled,
            intents,
        )?;
        blocking(self.store, move |s| s.commit_checkpoint(c)).await?;
        Ok(())
    }
}

/// Settles intents a run left behind (at start, before anything else): those
/// the target has are recorded as delivered, the others dropped (the next
/// run converts and sends them again) once they can no longer arrive, else
/// left for the conversation's next sync. Each conversation is settled
/// under its claim, read afresh: a job the daemon hosts recovers while live
/// sync may be working the same conversation. Returns how many were found
/// delivered.
pub async fn recover(
    pipeline: &str,
    store: &Arc<Store>,
    sink: &Sink,
    claims: &crate::sync::deps::Claims,
) -> Result<u64, PipelineError> {
    let p = pipeline.to_owned();
    let pending = blocking(store, move |s| s.pending_intents(&p)).await?;
    let convs: std::collections::BTreeSet<String> = pending.into_iter().map(|(c, _)| c).collect();
    if !convs.is_empty() {
        // A post cut short by the stop may still show: give it the read lag.
        readback::after_stop(sink).await;
    }
    let mut found_total = 0;
    for conv in convs {
        let _claim = claims.claim(format!("{pipeline}\u{1f}{conv}")).await;
        let (p, c) = (pipeline.to_owned(), conv.clone());
        let (state, intents) = blocking(store, move |s| {
            Ok((s.conversation(&p, &c)?, s.pending_intents_of(&p, &c)?))
        })
        .await?;
        if intents.is_empty() {
            // Settled meanwhile by the conversation's own sync.
            continue;
        }
        let mut state = state.unwrap_or_default();
        let at = Target {
            pipeline,
            conversation_id: &conv,
            sink,
            store,
        };
        let before = state.delivered;
        let deadline = at.settled_by(&state, Some(store.opened_ms()));
        let (settled, _) = at.settle(&mut state, &intents, deadline, false).await?;
        found_total += state.delivered - before;
        at.commit(&state, &settled, &[]).await?;
    }
    Ok(found_total)
}
