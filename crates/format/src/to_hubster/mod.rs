//! LivePerson `messageEventRecords` -> Hubster Activities (one conversation).
//!
//! A pure function of (conversation id, records, mapping, resume point).

mod body;

use super::ConvertError;
use super::hubster::{Activity, Body, BuiltActivity, Content, IntegrationType, Participant};
use super::identity::{self, uuid5_of};
use super::json::Str;
use super::liveperson::Record;
use super::report::{Report, kind as warn};
use super::resume::{LpResume, Mark};
use crate::mapping::{Mapping, PrivateMessages, UnknownRole, UnsupportedEvents};
use body::{body, restore_hubster};
use rustc_hash::FxHashSet;

/// The result of converting one conversation.
#[derive(Debug)]
pub struct ToHubster<'a> {
    /// New activities, in delivery order, eventIds strictly increasing.
    pub activities: Vec<Activity<'a>>,
    /// For each activity, what marks it delivered in an [`LpResume`].
    pub marks: Vec<Mark<'a>>,
    pub report: Report,
    /// For each activity, its record's serverTimestamp (eventIds follow it).
    stamps: Vec<Option<i64>>,
    /// What the mapping could not carry as it was, by activity: (index in
    /// `activities`, warning kind), in order.
    degraded: Vec<(usize, &'static str)>,
}

impl ToHubster<'_> {
    /// For each activity, its record's serverTimestamp: with
    /// [`next_event_id`], what its eventId would be after other activities
    /// (a conversion resumed elsewhere).
    pub fn stamps(&self) -> &[Option<i64>] {
        &self.stamps
    }

    /// The warnings about each activity (what the mapping could not carry
    /// as it was): (index in `activities`, warning kind), in order.
    pub fn degraded(&self) -> &[(usize, &'static str)] {
        &self.degraded
    }
}

/// The eventId of the activity after one of `prev`, of a record stamped
/// `ts`: its stamp, unless that would not rise.
pub fn next_event_id(ts: Option<i64>, prev: Option<i64>) -> i64 {
    match (ts, prev) {
        (Some(ts), Some(p)) => ts.max(p.saturating_add(1)),
        (None, Some(p)) => p.saturating_add(1),
        (Some(ts), None) => ts,
        (None, None) => 0,
    }
}

enum Place {
    /// Has a sequence: ordered by it.
    Sequenced(i64),
    /// An accept status: right after the highest sequence it acknowledges.
    After(i64),
    /// Neither: after the last sequenced record not newer than it.
    Loose,
}

struct Item<'a> {
    rec: &'a Record<'a>,
    dialog: &'a str,
    ts: Option<i64>,
    place: Place,
    /// externalId.
    key: String,
}

/// Converts one conversation's records to Hubster activities.
///
/// Everything in `records` is looked at (recipients depend on earlier
/// messages) but only what `resume` does not list as delivered is returned.
pub fn to_hubster<'a>(
    conversation_id: &'a str,
    records: &'a [Record<'a>],
    map: &'a Mapping,
    resume: &LpResume,
) -> Result<ToHubster<'a>, ConvertError> {
    let mut report = Report {
        conversations: 1,
        input: records.len() as u64,
        ..Report::default()
    };

    // 1. Identity, and dedup by it (first occurrence wins).
    let mut seen_seq: FxHashSet<(&str, i64)> = FxHashSet::default();
    seen_seq.reserve(records.len());
    let mut items: Vec<Item<'a>> = Vec::with_capacity(records.len());
    let mut scratch = String::new();
    let mut keyed = Vec::new();
    for rec in records {
        let dialog = rec.dialog_id.as_ref().map_or(conversation_id, Str::as_str);
        let ts = rec.server_timestamp;
        if let Some(seq) = rec.sequence
            && !seen_seq.insert((dialog, seq))
        {
            report.duplicates += 1;
            continue;
        }
        let (key, kind) = identity::external_id(conversation_id, rec, &mut scratch);
        let place = match kind {
            identity::Kind::Sequenced(seq) => Place::Sequenced(seq),
            identity::Kind::AcceptStatus { acknowledges } => {
                keyed.push(items.len());
                acknowledges.map_or(Place::Loose, Place::After)
            }
            identity::Kind::Other => {
                keyed.push(items.len());
                Place::Loose
            }
        };
        items.push(Item {
            rec,
            dialog,
            ts,
            place,
            key,
        });
    }
    if keyed.len() > 1 {
        // Unsequenced records: sort by key, keep the first of each run.
        keyed.sort_by(|&a, &b| items[a].key.cmp(&items[b].key).then(a.cmp(&b)));
        let dups: Vec<usize> = keyed
            .windows(2)
            .filter(|w| items[w[0]].key == items[w[1]].key)
            .map(|w| w[1])
            .collect();
        if !dups.is_empty() {
            report.duplicates += dups.len() as u64;
            let dups: FxHashSet<usize> = dups.into_iter().collect();
            let mut i = 0;
            items.retain(|_| {
                i += 1;
                !dups.contains(&(i - 1))
            });
        }
    }

    // 2. Order: sequenced records by (sequence, serverTimestamp); the rest
    // into the gaps between them.
    let order = order(&items);

    // 3. Senders, recipients, resume filter, eventIds, bodies.
    let customer = participant(map, IntegrationType::Customer);
    let mut last_business = IntegrationType::Agent;
    let mut prev_event_id = resume.last_event_id;
    let mut activities = Vec::with_capacity(items.len());
    let mut marks = Vec::with_capacity(items.len());
    let mut stamps = Vec::with_capacity(items.len());
    let bots: FxHashSet<&str> = map.bot_originators.iter().map(String::as_str).collect();
    let mut degraded = Vec::new();
    for &i in &order {
        // Warnings from here on are about this record.
        report.recent.clear();
        let item = &mut items[i];
        let rec = item.rec;
        let private = body::private_audience(rec);
        if let Some(audience) = &private {
            let (verb, skip) = match map.private_messages {
                PrivateMessages::Skip => ("left out", true),
                PrivateMessages::Event => ("carried as an event", false),
            };
            report.warn(
                warn::PRIVATE_MESSAGE,
                conversation_id,
                format!(
                    "{}: a private message (audience {audience}); {verb} (mapping.private_messages)",
                    rec.name()
                ),
            );
            if skip {
                continue;
            }
        }
        if body::is_chat_state(rec) {
            let (verb, skip) = match map.unsupported_events {
                UnsupportedEvents::Payload => ("carried as a payload event", false),
                UnsupportedEvents::Skip => ("left out", true),
                UnsupportedEvents::Post => ("posted as it is", false),
            };
            report.warn(
                warn::UNSUPPORTED_EVENT,
                conversation_id,
                format!(
                    "{}: a chat state (Hubster documents only payload events as supported); {verb} (mapping.unsupported_events)",
                    rec.name()
                ),
            );
            if skip {
                continue;
            }
        }
        let Some(sender_type) = sender_type(rec, map, &bots, conversation_id, &mut report)? else {
            continue;
        };
        let recipient = match sender_type {
            IntegrationType::Customer => participant(map, last_business),
            _ => customer,
        };
        if matches!(sender_type, IntegrationType::Agent | IntegrationType::Bot) {
            last_business = sender_type;
        }
        let sequence = match item.place {
            Place::Sequenced(s) => Some(s),
            _ => None,
        };
        if resume.is_delivered(item.dialog, sequence, &item.key) {
            report.already_delivered += 1;
            continue;
        }
        let event_id = next_event_id(item.ts, prev_event_id);
        prev_event_id = Some(event_id);
        stamps.push(item.ts);
        marks.push(match sequence {
            Some(sequence) => Mark::Sequence {
                dialog_id: item.dialog,
                sequence,
            },
            None => Mark::Key(item.key.clone()),
        });
        let activity = match restore_hubster(rec, conversation_id, &mut report) {
            Some(mut restored) => {
                restored.insert("eventId".into(), event_id.into());
                report.count(match restored.get("type").and_then(|t| t.as_str()) {
                    Some("message") => "restored:message",
                    Some("event") => "restored:event",
                    _ => "restored:activity",
                });
                Activity::Restored(restored.into())
            }
            None => {
                let mut body = match private {
                    Some(_) => body::private_event(rec),
                    None => body(rec, map, conversation_id, &mut report),
                };
                if sender_type == IntegrationType::Customer
                    && let Body::Message(m) = &mut body
                    && let Some(text) = m.content.card_as_text()
                {
                    report.warn(
                        warn::CUSTOMER_CARD_AS_TEXT,
                        conversation_id,
                        format!(
                            "{}: a {} sent by the customer, posted as its text (a customer's integration sends messages, not cards)",
                            rec.name(),
                            m.content.kind()
                        ),
                    );
                    m.content = Content::Text(text.into());
                }
                if !map.keep_original {
                    body.drop_original();
                }
                report.count(body.kind());
                let interaction_id = matches!(body, Body::Message(_)).then(|| uuid5_of(&item.key));
                Activity::Built(BuiltActivity {
                    event_id,
                    external_id: std::mem::take(&mut item.key),
                    interaction_id,
                    sender: participant(map, sender_type),
                    recipient,
                    body,
                })
            }
        };
        activities.push(activity);
        let at = activities.len() - 1;
        degraded.extend(report.recent.drain(..).map(|k| (at, k)));
    }
    report.recent.clear();
    Ok(ToHubster {
        activities,
        marks,
        report,
        stamps,
        degraded,
    })
}

fn order(items: &[Item]) -> Vec<usize> {
    let mut seq: Vec<usize> = (0..items.len())
        .filter(|&i| matches!(items[i].place, Place::Sequenced(_)))
        .collect();
    let seq_of = |i: usize| match items[i].place {
        Place::Sequenced(s) => s,
        _ => unreachable!("filtered to sequenced"),
    };
    seq.sort_unstable_by(|&a, &b| {
        (seq_of(a), items[a].ts, items[a].dialog, a).cmp(&(
            seq_of(b),
            items[b].ts,
            items[b].dialog,
            b,
        ))
    });
    if seq.len() == items.len() {
        return seq;
    }
    // The rest, as (slot, position in it): slot k is right after the k-th
    // sequenced record (slot 0: before all).
    let mut rest: Vec<(usize, usize)> = Vec::with_capacity(items.len() - seq.len());
    for (i, item) in items.iter().enumerate() {
        let slot = match item.place {
            Place::Sequenced(_) => continue,
            Place::After(max) => seq.partition_point(|&j| seq_of(j) <= max),
            Place::Loose => match item.ts {
                Some(ts) => seq
                    .iter()
                    .rposition(|&j| items[j].ts.is_some_and(|t| t <= ts))
                    .map_or(0, |p| p + 1),
                None => seq.len(),
            },
        };
        rest.push((slot, i));
    }
    let sort_key = |i: usize| {
        (
            items[i].ts,
            items[i].rec.originator_id.as_ref().map(Str::as_str),
            &items[i].key,
        )
    };
    rest.sort_unstable_by(|&(sa, a), &(sb, b)| {
        sa.cmp(&sb).then_with(|| sort_key(a).cmp(&sort_key(b)))
    });
    let mut out = Vec::with_capacity(items.len());
    let mut rest = rest.into_iter().peekable();
    for k in 0..=seq.len() {
        if k > 0 {
            out.push(seq[k - 1]);
        }
        while let Some((_, i)) = rest.next_if(|&(slot, _)| slot == k) {
            out.push(i);
        }
    }
    out
}

fn participant(map: &Mapping, t: IntegrationType) -> Participant<'_> {
    let i = map.integrations.get(t);
    Participant {
        integration_id: &i.integration_id,
        integration_type: t,
        channel_type: &i.channel_type,
    }
}

/// The sender's integration type; `None` when the record is to be skipped.
fn sender_type(
    rec: &Record,
    map: &Mapping,
    bots: &FxHashSet<&str>,
    conversation_id: &str,
    report: &mut Report,
) -> Result<Option<IntegrationType>, ConvertError> {
    if let Some(id) = &rec.originator_id
        && bots.contains(id.as_str())
    {
        return Ok(Some(IntegrationType::Bot));
    }
    let role = rec.role();
    let known = role.and_then(|r| {
        map.roles
            .get(r)
            .or_else(|| map.roles.get(&r.to_ascii_uppercase()))
            .copied()
    });
    if let Some(t) = known {
        return Ok(Some(t));
    }
    let what = match role {
        Some(r) => format!("role {r:?} is not in mapping.roles"),
        None => "record has no originatorMetadata.role".to_owned(),
    };
    let at = rec.name();
    match map.unknown_role {
        UnknownRole::Agent => {
            report.warn(
                warn::UNKNOWN_ROLE,
                conversation_id,
                format!("{at}: {what}; mapped to Agent"),
            );
            Ok(Some(IntegrationType::Agent))
        }
        UnknownRole::Skip => {
            report.warn(
                warn::SKIPPED_ROLE,
                conversation_id,
                format!("{at}: {what}; skipped"),
            );
            Ok(None)
        }
        UnknownRole::Error => Err(ConvertError::Record {
            conversation_id: conversation_id.to_owned(),
            record: at,
            reason: format!("{what} (mapping.unknown_role = \"error\")"),
        }),
    }
}
