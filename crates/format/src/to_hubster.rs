//! LivePerson `messageEventRecords` -> Hubster Activities (one conversation).
//!
//! A pure function of (conversation id, records, mapping, resume point).

use super::hubster::{
    Action, Activity, Body, BuiltActivity, Content, Fields, IntegrationType, Message, PVal,
    Participant, Payload, PayloadEvent,
};
use super::identity::{self, accept_status, uuid5_of};
use super::json::Str;
use super::liveperson::{ContentMessage, Event, MessageFields, Record};
use super::provenance::{self as prov, key};
use super::report::{Report, kind as warn};
use super::resume::{LpResume, Mark};
use super::rich;
use super::{ConvertError, HUBSTER_ACTIVITY_FIELD};
use crate::mapping::{Mapping, UnknownRole};
use rustc_hash::FxHashSet;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// The result of converting one conversation.
#[derive(Debug)]
pub struct ToHubster<'a> {
    /// New activities, in delivery order, eventIds strictly increasing.
    pub activities: Vec<Activity<'a>>,
    /// For each activity, what marks it delivered in an [`LpResume`].
    pub marks: Vec<Mark<'a>>,
    pub report: Report,
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
    let bots: FxHashSet<&str> = map.bot_originators.iter().map(String::as_str).collect();
    for &i in &order {
        let item = &mut items[i];
        let rec = item.rec;
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
        let event_id = match (item.ts, prev_event_id) {
            (Some(ts), Some(p)) => ts.max(p.saturating_add(1)),
            (None, Some(p)) => p.saturating_add(1),
            (Some(ts), None) => ts,
            (None, None) => 0,
        };
        prev_event_id = Some(event_id);
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
                let body = body(rec, map, conversation_id, &mut report);
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
    }
    Ok(ToHubster {
        activities,
        marks,
        report,
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
    let at = record_name(rec);
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

/// "record dialog/sequence" or "record at <timestamp>" for messages.
pub(crate) fn record_name(rec: &Record) -> String {
    let dialog = rec.dialog_id.as_ref().map_or("-", Str::as_str);
    match (rec.sequence, rec.server_timestamp) {
        (Some(s), _) => format!("record {dialog}/{s}"),
        (None, Some(t)) => format!(
            "{} record {dialog} at {t}",
            rec.event_kind().unwrap_or("untyped")
        ),
        (None, None) => format!("{} record {dialog}", rec.event_kind().unwrap_or("untyped")),
    }
}

/// A record written by the Hubster -> LivePerson converter carries the
/// original activity; give it back (eventId is set by the caller).
fn restore_hubster(
    rec: &Record,
    conversation_id: &str,
    report: &mut Report,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    if let Some((_, raw)) = rec
        .extra
        .0
        .iter()
        .find(|(k, _)| k.as_str() == HUBSTER_ACTIVITY_FIELD)
    {
        match serde_json::from_str::<serde_json::Value>(raw.get()) {
            Ok(serde_json::Value::Object(o)) => return Some(o),
            _ => report.warn(
                warn::BROKEN_PROVENANCE,
                conversation_id,
                format!(
                    "{}: {HUBSTER_ACTIVITY_FIELD} is not an object; converted as a plain record",
                    record_name(rec)
                ),
            ),
        }
    }
    // A `hubster/activity` record is an activity with no LivePerson equivalent.
    let ev = rec.event.as_ref()?;
    if ev.kind.as_ref()?.as_str() == "ContentEvent"
        && ev.content_type.as_ref()?.as_str() == super::HUBSTER_ACTIVITY_CONTENT_TYPE
        && let Ok(serde_json::Value::Object(o)) = serde_json::from_str(ev.message?.get())
    {
        return Some(o);
    }
    None
}

/// The record's envelope as provenance fields.
fn envelope<'a>(rec: &'a Record<'a>) -> Fields<'a> {
    let mut f: Fields<'a> = Vec::with_capacity(10);
    if let Some(v) = &rec.originator_id {
        f.push((key::ORIGINATOR_ID, v.into()));
    }
    let om = rec.originator_metadata.as_ref();
    if let Some(r) = om.and_then(|m| m.role.as_ref()) {
        f.push((key::ROLE, r.into()));
    }
    if let Some(v) = &rec.dialog_id {
        f.push((key::DIALOG_ID, v.into()));
    }
    if let Some(v) = rec.sequence {
        f.push((key::SEQUENCE, PVal::Int(v)));
    }
    if let Some(v) = rec.server_timestamp {
        f.push((key::SERVER_TIMESTAMP, PVal::Int(v)));
    }
    match om {
        None => f.push((
            key::ORIGINATOR_METADATA,
            PVal::Str(Cow::Borrowed(prov::ABSENT)),
        )),
        Some(m) => {
            let canonical = m.role.is_some()
                && m.extra.is_empty()
                && m.id.is_some()
                && m.id.as_ref() == rec.originator_id.as_ref();
            if !canonical {
                f.push((key::ORIGINATOR_METADATA, PVal::json(m)));
            }
        }
    }
    if !rec.extra.is_empty() {
        f.push((key::EXTRA, PVal::json(&rec.extra)));
    }
    f
}

/// Event fields we model but this event type does not use, plus unknown
/// ones, as one JSON object; `None` when there are none.
fn event_extra<'a>(ev: &Event<'a>, used: &[&str]) -> Option<PVal<'a>> {
    struct Unused<'b, 'a>(&'b Event<'a>, &'b [&'b str]);
    impl Unused<'_, '_> {
        fn entries(&self) -> impl Iterator<Item = (&'static str, RawOrStr<'_>)> {
            let ev = self.0;
            [
                ("contentType", ev.content_type.as_ref().map(RawOrStr::Str)),
                ("message", ev.message.map(RawOrStr::Raw)),
                ("content", ev.content.map(RawOrStr::Raw)),
                ("status", ev.status.map(RawOrStr::Raw)),
                ("sequenceList", ev.sequence_list.map(RawOrStr::Raw)),
            ]
            .into_iter()
            .filter(|(name, _)| !self.1.contains(name))
            .filter_map(|(name, v)| Some((name, v?)))
        }
    }
    impl serde::Serialize for Unused<'_, '_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(None)?;
            for (name, v) in self.entries() {
                match v {
                    RawOrStr::Raw(raw) => m.serialize_entry(name, raw)?,
                    RawOrStr::Str(s) => m.serialize_entry(name, s)?,
                }
            }
            self.0.extra.serialize_into(&mut m)?;
            m.end()
        }
    }
    let unused = Unused(ev, used);
    if ev.extra.is_empty() && unused.entries().next().is_none() {
        return None;
    }
    Some(PVal::json(&unused))
}

enum RawOrStr<'b> {
    Raw(&'b RawValue),
    Str(&'b Str<'b>),
}

/// The activity body for a record with no Hubster provenance.
fn body<'a>(
    rec: &'a Record<'a>,
    map: &Mapping,
    conversation_id: &str,
    report: &mut Report,
) -> Body<'a> {
    let Some(ev) = rec.event.as_ref() else {
        report.warn(
            warn::MALFORMED_EVENT,
            conversation_id,
            format!("{}: no event", record_name(rec)),
        );
        return carry(rec, super::payload::EVENT);
    };
    let Some(kind) = ev.kind.as_ref().map(Str::as_str) else {
        report.warn(
            warn::MALFORMED_EVENT,
            conversation_id,
            format!("{}: event has no type", record_name(rec)),
        );
        return carry(rec, super::payload::EVENT);
    };
    let mut fields = envelope(rec);
    let built = match kind {
        "ContentEvent" => content_event(rec, ev, map, &mut fields, conversation_id, report),
        "RichContentEvent" => rich_content_event(rec, ev, &mut fields, conversation_id, report),
        "AcceptStatusEvent" => {
            match accept_status(rec, None) {
                Some(_) => {
                    // {status, sequenceList, ...provenance}
                    let mut payload = fields;
                    payload.insert(0, (key::STATUS, PVal::Raw(ev.status.expect("checked"))));
                    payload.insert(
                        1,
                        (
                            key::SEQUENCE_LIST,
                            PVal::Raw(ev.sequence_list.expect("checked")),
                        ),
                    );
                    if let Some(x) = event_extra(ev, &["status", "sequenceList"]) {
                        payload.push((key::EVENT_EXTRA, x));
                    }
                    return Body::Event(PayloadEvent {
                        payload_type: super::payload::ACCEPT_STATUS,
                        payload: Payload::Fields(payload),
                    });
                }
                None => {
                    report.warn(
                    warn::MALFORMED_EVENT,
                    conversation_id,
                    format!("{}: AcceptStatusEvent without a string status and an integer sequenceList", record_name(rec)),
                );
                    None
                }
            }
        }
        other => {
            report.warn(
                warn::UNKNOWN_EVENT_TYPE,
                conversation_id,
                format!(
                    "{}: event type {other:?} carried as {}",
                    record_name(rec),
                    super::payload::EVENT
                ),
            );
            None
        }
    };
    match built {
        Some(b) => b,
        None => carry(
            rec,
            if kind == "ContentEvent" {
                super::payload::CONTENT
            } else {
                super::payload::EVENT
            },
        ),
    }
}

/// The whole record as a payload event.
fn carry<'a>(rec: &'a Record<'a>, payload_type: &'static str) -> Body<'a> {
    Body::Event(PayloadEvent {
        payload_type,
        payload: Payload::Record(rec),
    })
}

fn content_event<'a>(
    rec: &'a Record<'a>,
    ev: &'a Event<'a>,
    map: &Mapping,
    fields: &mut Fields<'a>,
    conversation_id: &str,
    report: &mut Report,
) -> Option<Body<'a>> {
    let Some(content_type) = ev.content_type.as_ref() else {
        report.warn(
            warn::MALFORMED_EVENT,
            conversation_id,
            format!("{}: ContentEvent has no contentType", record_name(rec)),
        );
        return None;
    };
    fields.push((key::CONTENT_TYPE, content_type.into()));
    let Some(message) = ev.message else {
        report.warn(
            warn::MALFORMED_EVENT,
            conversation_id,
            format!("{}: ContentEvent has no message", record_name(rec)),
        );
        return None;
    };
    let malformed = |report: &mut Report, what: &str| {
        report.warn(
            warn::MALFORMED_EVENT,
            conversation_id,
            format!(
                "{}: {content_type:?} message {what}; carried as {}",
                record_name(rec),
                super::payload::CONTENT,
                content_type = content_type.as_str()
            ),
        );
    };
    let used = &["contentType", "message"][..];
    let typed = match ContentMessage::read(content_type.as_str(), message) {
        Ok(Some(m)) => m,
        Ok(None) => {
            report.warn(
                warn::UNKNOWN_CONTENT_TYPE,
                conversation_id,
                format!(
                    "{}: contentType {:?} carried as {}",
                    record_name(rec),
                    content_type.as_str(),
                    super::payload::CONTENT
                ),
            );
            return None;
        }
        Err(why) => {
            malformed(report, why);
            return None;
        }
    };
    // The message's own fields, then what did not map, into the provenance.
    let mut keep = |fields: &mut Fields<'a>, m: &MessageFields<'a>| {
        for (name, v) in &m.fields {
            if *name == "preview" && !map.keep_previews {
                report.warn(
                    warn::DROPPED_PREVIEW,
                    conversation_id,
                    format!(
                        "{}: preview dropped (mapping.keep_previews = false)",
                        record_name(rec)
                    ),
                );
                continue;
            }
            fields.push((name, PVal::Str(v.0.clone())));
        }
        if !m.extra.is_empty() {
            fields.push((key::MESSAGE_EXTRA, PVal::json(&m.extra)));
        }
    };
    let content = match typed {
        ContentMessage::Text(text) => Content::Text(text.0),
        ContentMessage::HostedFile(file) => {
            let path = file.relative_path();
            let url = format!("{}{path}", map.file_base_url);
            let caption = file.caption().map(|c| c.0.clone());
            let content = if is_image(file.file_type()) {
                Content::Image { url, alt: caption }
            } else {
                let label = match caption {
                    Some(c) if !c.is_empty() => c,
                    _ => Cow::Owned(path.rsplit('/').next().unwrap_or("file").to_owned()),
                };
                Content::Attachment {
                    label,
                    mime_type: mime_type(file.file_type()),
                    url,
                }
            };
            keep(fields, &file.0);
            content
        }
        ContentMessage::SecureInvitation(inv) => {
            let (id, title) = (inv.invitation_id(), inv.title());
            let content = Content::TextActions {
                text: title.0.clone(),
                actions: vec![Action::Postback {
                    title: title.as_str().to_owned(),
                    payload: id.as_str().to_owned(),
                }],
            };
            keep(fields, &inv.0);
            content
        }
        ContentMessage::SecureSubmission(sub) => {
            // {invitationId, ...provenance}
            let mut payload: Fields = Vec::with_capacity(fields.len() + 3);
            keep(&mut payload, &sub.0);
            payload.append(fields);
            if let Some(x) = event_extra(ev, used) {
                payload.push((key::EVENT_EXTRA, x));
            }
            return Some(Body::Event(PayloadEvent {
                payload_type: super::payload::SECURE_FORM_SUBMISSION,
                payload: Payload::Fields(payload),
            }));
        }
    };
    if let Some(x) = event_extra(ev, used) {
        fields.push((key::EVENT_EXTRA, x));
    }
    Some(Body::Message(Message {
        content,
        provenance: std::mem::take(fields),
    }))
}

fn rich_content_event<'a>(
    rec: &'a Record<'a>,
    ev: &'a Event<'a>,
    fields: &mut Fields<'a>,
    conversation_id: &str,
    report: &mut Report,
) -> Option<Body<'a>> {
    let Some(raw) = ev.content else {
        report.warn(
            warn::MALFORMED_EVENT,
            conversation_id,
            format!("{}: RichContentEvent has no content", record_name(rec)),
        );
        return None;
    };
    let used = &["content"][..];
    let content = match serde_json::from_str::<Str<'a>>(raw.get()) {
        Ok(text) => {
            let content = rich::to_hubster_content(text.as_str());
            fields.push((key::RICH_CONTENT, PVal::Str(text.0)));
            match content {
                Some(c) => c,
                None => {
                    report.warn(
                        warn::UNPARSEABLE_RICH_CONTENT,
                        conversation_id,
                        format!(
                            "{}: content is not a JSON object; carried as {}",
                            record_name(rec),
                            super::payload::RICH_CONTENT
                        ),
                    );
                    if let Some(x) = event_extra(ev, used) {
                        fields.push((key::EVENT_EXTRA, x));
                    }
                    return Some(Body::Event(PayloadEvent {
                        payload_type: super::payload::RICH_CONTENT,
                        payload: Payload::Fields(std::mem::take(fields)),
                    }));
                }
            }
        }
        // Some API versions send the structure itself rather than a string.
        Err(_) => match rich::to_hubster_content(raw.get()) {
            Some(c) => {
                fields.push((key::RICH_CONTENT_JSON, PVal::Raw(raw)));
                c
            }
            None => {
                report.warn(
                    warn::MALFORMED_EVENT,
                    conversation_id,
                    format!(
                        "{}: RichContentEvent content is neither a string nor an object",
                        record_name(rec)
                    ),
                );
                return None;
            }
        },
    };
    if let Some(x) = event_extra(ev, used) {
        fields.push((key::EVENT_EXTRA, x));
    }
    Some(Body::Message(Message {
        content,
        provenance: std::mem::take(fields),
    }))
}

fn is_image(file_type: &str) -> bool {
    ["JPG", "JPEG", "PNG", "GIF"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(file_type))
}

fn mime_type(file_type: &str) -> &'static str {
    const TYPES: &[(&str, &str)] = &[
        ("PDF", "application/pdf"),
        ("TXT", "text/plain"),
        ("CSV", "text/csv"),
        ("DOC", "application/msword"),
        (
            "DOCX",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("XLS", "application/vnd.ms-excel"),
        (
            "XLSX",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("PPT", "application/vnd.ms-powerpoint"),
        (
            "PPTX",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        ("ZIP", "application/zip"),
        ("MP3", "audio/mpeg"),
        ("WAV", "audio/wav"),
        ("MP4", "video/mp4"),
        ("MOV", "video/quicktime"),
        ("JPG", "image/jpeg"),
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("GIF", "image/gif"),
    ];
    TYPES
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(file_type))
        .map_or("application/octet-stream", |(_, m)| m)
}
