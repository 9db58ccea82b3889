//! The body of each activity: what a LivePerson record's content or event
//! becomes (text, image, attachment, card, carousel, a payload carrying
//! it), with its provenance; and activities restored from Hubster
//! provenance.

use crate::HUBSTER_ACTIVITY_FIELD;
use crate::hubster::{Action, Body, Content, Fields, Message, PVal, Payload, PayloadEvent};
use crate::identity::accept_status;
use crate::json::Str;
use crate::liveperson::{ContentMessage, Event, MessageFields, Record};
use crate::mapping::Mapping;
use crate::mapping::UnsupportedEvents;
use crate::provenance::{self as prov, key};
use crate::report::{Report, kind as warn};
use crate::rich;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A record written by the Hubster -> LivePerson converter carries the
/// original activity; give it back (eventId is set by the caller).
pub(super) fn restore_hubster(
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
                    rec.name()
                ),
            ),
        }
    }
    // A `hubster/activity` record is an activity with no LivePerson equivalent.
    let ev = rec.event.as_ref()?;
    if ev.kind.as_ref()?.as_str() == "ContentEvent"
        && ev.content_type.as_ref()?.as_str() == crate::HUBSTER_ACTIVITY_CONTENT_TYPE
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
pub(super) fn body<'a>(
    rec: &'a Record<'a>,
    map: &Mapping,
    conversation_id: &str,
    report: &mut Report,
) -> Body<'a> {
    let Some(ev) = rec.event.as_ref() else {
        report.warn(
            warn::MALFORMED_EVENT,
            conversation_id,
            format!("{}: no event", rec.name()),
        );
        return carry(rec, crate::payload::EVENT);
    };
    let Some(kind) = ev.kind.as_ref().map(Str::as_str) else {
        report.warn(
            warn::MALFORMED_EVENT,
            conversation_id,
            format!("{}: event has no type", rec.name()),
        );
        return carry(rec, crate::payload::EVENT);
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
                        payload_type: crate::payload::ACCEPT_STATUS,
                        payload: Payload::Fields(payload),
                    });
                }
                None => {
                    report.warn(
                    warn::MALFORMED_EVENT,
                    conversation_id,
                    format!("{}: AcceptStatusEvent without a string status and an integer sequenceList", rec.name()),
                );
                    None
                }
            }
        }
        // Typing, as Hubster says it, only when asked for (Hubster documents
        // only payload events as supported); else carried whole.
        "ChatStateEvent" if map.unsupported_events == UnsupportedEvents::Post => {
            chat_state(ev, &mut fields)
        }
        "ChatStateEvent" => None,
        other => {
            report.warn(
                warn::UNKNOWN_EVENT_TYPE,
                conversation_id,
                format!(
                    "{}: event type {other:?} carried as {}",
                    rec.name(),
                    crate::payload::EVENT
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
                crate::payload::CONTENT
            } else {
                crate::payload::EVENT
            },
        ),
    }
}

/// A chat state with a Hubster equivalent (COMPOSING: `typing_on`;
/// PAUSE: `typing_off`); `None` for the others (carried whole).
fn chat_state<'a>(ev: &'a Event<'a>, fields: &mut Fields<'a>) -> Option<Body<'a>> {
    let (_, raw) = ev.extra.0.iter().find(|(k, _)| k.as_str() == "chatState")?;
    let state: Str = serde_json::from_str(raw.get()).ok()?;
    let kind = match state.as_str() {
        "COMPOSING" => "typing_on",
        "PAUSE" => "typing_off",
        _ => return None,
    };
    fields.push((key::CHAT_STATE, PVal::Raw(raw)));
    if let Some(x) = event_extra(ev, &["chatState"]) {
        fields.push((key::EVENT_EXTRA, x));
    }
    Some(Body::Signal {
        kind,
        provenance: std::mem::take(fields),
    })
}

/// Whether the record is a chat state (typing and the like).
pub(super) fn is_chat_state(rec: &Record<'_>) -> bool {
    rec.event
        .as_ref()
        .and_then(|ev| ev.kind.as_ref())
        .is_some_and(|k| k.as_str() == "ChatStateEvent")
}

/// A private message (agents and managers only): its audience, unless it
/// is everyone.
pub(super) fn private_audience<'a>(rec: &'a Record<'a>) -> Option<Cow<'a, str>> {
    rec.extra
        .0
        .iter()
        .find(|(k, _)| k.as_str() == "audience")
        .and_then(|(_, raw)| serde_json::from_str::<Str<'a>>(raw.get()).ok())
        .map(|a| a.0)
        .filter(|a| !a.eq_ignore_ascii_case("ALL") && !a.is_empty())
}

/// A private message carried whole, as an event (never as a message).
pub(super) fn private_event<'a>(rec: &'a Record<'a>) -> Body<'a> {
    carry(rec, crate::payload::PRIVATE_MESSAGE)
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
            format!("{}: ContentEvent has no contentType", rec.name()),
        );
        return None;
    };
    fields.push((key::CONTENT_TYPE, content_type.into()));
    let Some(message) = ev.message else {
        report.warn(
            warn::MALFORMED_EVENT,
            conversation_id,
            format!("{}: ContentEvent has no message", rec.name()),
        );
        return None;
    };
    let malformed = |report: &mut Report, what: &str| {
        report.warn(
            warn::MALFORMED_EVENT,
            conversation_id,
            format!(
                "{}: {content_type:?} message {what}; carried as {}",
                rec.name(),
                crate::payload::CONTENT,
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
                    rec.name(),
                    content_type.as_str(),
                    crate::payload::CONTENT
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
                        rec.name()
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
                Content::Image {
                    url,
                    alt: caption,
                    title: None,
                    anchor: None,
                }
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
                payload_type: crate::payload::SECURE_FORM_SUBMISSION,
                payload: Payload::Fields(payload),
            }));
        }
    };
    if let Some(x) = event_extra(ev, used) {
        fields.push((key::EVENT_EXTRA, x));
    }
    Some(Body::Message(Message {
        content: content.with_actions(quick_replies(rec, ev, conversation_id, report)),
        provenance: std::mem::take(fields),
    }))
}

/// The event's quick replies (`quickReplies`) as Hubster actions; what
/// they could not carry as it was is reported.
fn quick_replies(
    rec: &Record,
    ev: &Event,
    conversation_id: &str,
    report: &mut Report,
) -> Vec<Action> {
    let Some((_, raw)) = ev
        .extra
        .0
        .iter()
        .find(|(k, _)| k.as_str() == "quickReplies")
    else {
        return Vec::new();
    };
    let (actions, degraded) = rich::read_quick_replies(raw.get());
    degrade(rec, degraded, conversation_id, report);
    actions
}

/// Reports each thing structured content could not carry as it was.
fn degrade(
    rec: &Record,
    degraded: Vec<rich::Degraded>,
    conversation_id: &str,
    report: &mut Report,
) {
    for d in degraded {
        report.warn(
            d.kind,
            conversation_id,
            format!("{}: {}", rec.name(), d.detail),
        );
    }
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
            format!("{}: RichContentEvent has no content", rec.name()),
        );
        return None;
    };
    let used = &["content"][..];
    let content = match serde_json::from_str::<Str<'a>>(raw.get()) {
        Ok(text) => {
            let content = rich::read(text.as_str());
            fields.push((key::RICH_CONTENT, PVal::Str(text.0)));
            match content {
                Some(r) => {
                    degrade(rec, r.degraded, conversation_id, report);
                    r.content
                }
                None => {
                    report.warn(
                        warn::UNPARSEABLE_RICH_CONTENT,
                        conversation_id,
                        format!(
                            "{}: content is not a JSON object; carried as {}",
                            rec.name(),
                            crate::payload::RICH_CONTENT
                        ),
                    );
                    if let Some(x) = event_extra(ev, used) {
                        fields.push((key::EVENT_EXTRA, x));
                    }
                    return Some(Body::Event(PayloadEvent {
                        payload_type: crate::payload::RICH_CONTENT,
                        payload: Payload::Fields(std::mem::take(fields)),
                    }));
                }
            }
        }
        // Some API versions send the structure itself rather than a string.
        Err(_) => match rich::read(raw.get()) {
            Some(r) => {
                degrade(rec, r.degraded, conversation_id, report);
                fields.push((key::RICH_CONTENT_JSON, PVal::Raw(raw)));
                r.content
            }
            None => {
                report.warn(
                    warn::MALFORMED_EVENT,
                    conversation_id,
                    format!(
                        "{}: RichContentEvent content is neither a string nor an object",
                        rec.name()
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
        content: content.with_actions(quick_replies(rec, ev, conversation_id, report)),
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
