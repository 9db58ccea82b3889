//! The plan's tests: no simulator, no store.

use super::*;
use crate::platform::liveperson::Shown;
use serde_json::json;

const CONV: &str = "c";

/// A text message of the conversation's main dialog.
fn message(sequence: i64, role: &str, text: &str) -> Value {
    json!({"sequence": sequence, "dialogId": CONV, "serverTimestamp": 1_000 + sequence * 10,
        "originatorId": role, "originatorMetadata": {"id": role, "role": role},
        "event": {"type": "ContentEvent", "contentType": "text/plain", "message": text}})
}

fn records(n: i64) -> Vec<Value> {
    (0..n)
        .map(|s| {
            message(
                s,
                if s % 2 == 0 {
                    "CONSUMER"
                } else {
                    "ASSIGNED_AGENT"
                },
                "hi",
            )
        })
        .collect()
}

fn plan(state: ConversationState, records: &[Value], closed: bool) -> Plan {
    Plan::new(CONV, state, records, &Mapping::default(), closed, 5_000).unwrap()
}

fn ids(c: &Converted) -> Vec<&str> {
    c.activities
        .iter()
        .map(|a| a["externalId"].as_str().unwrap())
        .collect()
}

/// Delivers all of a plan: the checkpoint it leaves.
fn deliver_all(p: Plan) -> ConversationState {
    let intents = p.send.intents();
    let given: Vec<Option<i64>> = (0..intents.len() as i64).map(|i| Some(100 + i)).collect();
    p.delivered(&intents, &given, None, 6_000).0
}

#[test]
fn an_open_conversation_sends_what_is_new_and_is_not_sealed() {
    let p = plan(ConversationState::default(), &records(3), false);
    assert_eq!(p.send.activities.len(), 3);
    assert_eq!(p.state.last_polled_ms, Some(5_000));
    assert_eq!(p.state.last_updated_ms, Some(1_020));
    let st = deliver_all(p);
    assert_eq!((st.delivered, st.sealed.as_ref()), (3, None));
    assert_eq!(st.target_event_id, Some(102));
    // Two more records: only they are sent, eventIds above the last.
    let p = plan(st, &records(5), false);
    assert_eq!(ids(&p.send), ["lp:c:c:3", "lp:c:c:4"]);
    assert_eq!(p.already_delivered(), 3);
}

#[test]
fn a_closed_conversation_is_sealed_once_all_is_delivered_converted_once() {
    // Part delivered while open, the rest once closed.
    let st = deliver_all(plan(ConversationState::default(), &records(2), false));
    let p = plan(st.clone(), &records(4), true);
    let resumed = Converted::of(CONV, &records(4), &Mapping::default(), &st.resume).unwrap();
    assert_eq!(
        p.send.activities, resumed.activities,
        "as converting after the resume point"
    );
    let whole = Converted::of(CONV, &records(4), &Mapping::default(), &LpResume::default())
        .unwrap()
        .seal();
    let sealed = deliver_all(p);
    assert_eq!(sealed.sealed, Some(whole));
    assert!(sealed.resume.is_empty() && sealed.target_event_id.is_none());
    assert_eq!(
        sealed.last_polled_ms, None,
        "its last update is kept instead"
    );
    assert_eq!(sealed.delivered, 4);
    // Read again: nothing to send, all counted delivered before.
    let p = plan(sealed.clone(), &records(4), true);
    assert!(p.send.activities.is_empty() && p.changed.is_none());
    assert_eq!(p.already_delivered(), 4);
    assert_eq!(p.unchanged().sealed, sealed.sealed);
}

#[test]
fn a_sealed_conversation_whose_records_changed_sends_only_what_the_target_lacks() {
    let sealed = deliver_all(plan(ConversationState::default(), &records(3), true));
    let mut p = plan(sealed, &records(4), true);
    let all = p.changed.clone().expect("changed");
    assert!(
        p.send.activities.is_empty(),
        "nothing before the target is read"
    );
    assert_eq!(p.state.sealed, None);
    assert_eq!(
        p.state.delivered, 0,
        "counted again from what the target holds"
    );
    // The target holds the first three.
    let found = all.activities[..3]
        .iter()
        .map(|a| (a["externalId"].as_str().unwrap().to_owned(), Some(7)))
        .collect();
    p.reconcile(&found);
    assert_eq!(ids(&p.send), ["lp:c:c:3"]);
    assert_eq!(p.state.delivered, 3);
    let st = deliver_all(p);
    assert_eq!(st.sealed, Some(all.seal()));
    assert_eq!(st.delivered, 4);
}

#[test]
fn a_failed_send_keeps_its_intent_pending_and_drops_the_unsent() {
    let p = plan(ConversationState::default(), &records(4), true);
    let intents = p.send.intents();
    let (st, settled) = p.delivered(&intents, &[Some(1), Some(2)], Some("lost".into()), 9_000);
    assert_eq!((st.delivered, st.attempts), (2, 1));
    assert_eq!(st.last_error.as_deref(), Some("lost"));
    assert_eq!(st.sealed, None, "not all delivered");
    assert_eq!(
        st.intents_written_ms,
        Some(9_000),
        "the failed post began by then"
    );
    let mut settled = settled;
    settled.sort();
    assert_eq!(settled, ["lp:c:c:0", "lp:c:c:1", "lp:c:c:3"]);
    assert!(st.resume.is_delivered(CONV, Some(1), ""));
    assert!(!st.resume.is_delivered(CONV, Some(2), ""));
}

#[test]
fn intents_found_in_the_target_are_delivered_and_the_rest_wait_while_they_may_arrive() {
    let p = plan(ConversationState::default(), &records(3), false);
    let intents = p.send.intents();
    let found: HashMap<String, Option<i64>> = [(intents[0].external_id.clone(), Some(40))].into();
    let mut st = ConversationState {
        target_conversation_id: Some("t".into()),
        ..ConversationState::default()
    };
    let mut kept = st.clone();
    let settled = settle(&mut kept, &intents, &found, true);
    assert_eq!(
        settled,
        [intents[0].external_id.clone()],
        "the others may still arrive"
    );
    assert_eq!((kept.delivered, kept.target_event_id), (1, Some(40)));
    let mut dropped = settle(&mut st, &intents, &found, false);
    dropped.sort();
    assert_eq!(dropped.len(), 3, "past their time: sent again");
    // Without a target nothing was posted: nothing to wait for.
    let mut none = ConversationState::default();
    assert_eq!(settle(&mut none, &intents, &HashMap::new(), true).len(), 3);
}

#[test]
fn a_post_can_show_until_the_latest_it_began_plus_settle_and_lag() {
    let (lag, settle) = (Duration::from_millis(1_100), Duration::from_millis(2_500));
    assert_eq!(settled_by(Some(1_000), None, lag, settle), 4_600);
    // A process that opened the store later: its predecessor's posts
    // began before that.
    assert_eq!(settled_by(Some(1_000), Some(3_000), lag, settle), 6_600);
    assert_eq!(settled_by(None, Some(3_000), lag, settle), 6_600);
    assert!(settled_by(None, None, lag, settle) < 0);
}

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

#[test]
fn a_checkpoint_of_an_older_epoch_is_looked_for_before_anything_is_sent() {
    let mut st = deliver_all(plan(ConversationState::default(), &records(2), false));
    st.target_conversation_id = Some("t".into());
    // Believed in its own epoch.
    let mut p = plan(st.clone(), &records(5), false);
    assert!(!p.in_epoch(0));
    assert_eq!(ids(&p.send), ["lp:c:c:2", "lp:c:c:3", "lp:c:c:4"]);
    // Doubted in a later one: nothing to send before the target is read.
    let mut p = plan(st.clone(), &records(5), false);
    assert!(p.in_epoch(1));
    assert!(p.send.activities.is_empty());
    let look: Vec<String> = p
        .changed_intents()
        .into_iter()
        .map(|i| i.external_id)
        .collect();
    assert_eq!(look, ["lp:c:c:2", "lp:c:c:3", "lp:c:c:4"]);
    // The target holds the first of them: only the rest is sent.
    p.reconcile(&[("lp:c:c:2".to_owned(), Some(7))].into());
    assert_eq!(ids(&p.send), ["lp:c:c:3", "lp:c:c:4"]);
    assert_eq!(p.already_delivered(), 3);
    let after = deliver_all(p);
    assert_eq!((after.delivered, after.epoch), (5, 1));
    // A sealed checkpoint whose records are the same stays believed.
    let sealed = deliver_all(plan(ConversationState::default(), &records(3), true));
    let mut p = plan(sealed, &records(3), true);
    assert!(!p.in_epoch(1));
    assert!(!p.has_work());
    // No checkpoint: nothing to doubt (the target says whether it is new).
    let mut p = plan(ConversationState::default(), &records(3), false);
    assert!(!p.in_epoch(1));
    p.doubt();
    assert!(p.send.activities.is_empty() && p.has_work());
}

/// A receipt of `sequences`, read at `ts`.
fn receipt(ts: i64, sequences: &[i64]) -> Value {
    json!({"dialogId": CONV, "serverTimestamp": ts, "originatorId": "CONSUMER",
        "originatorMetadata": {"id": "CONSUMER", "role": "CONSUMER"},
        "event": {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": sequences}})
}

fn answered(state: ConversationState, records: &[Value], shown: Shown, closed: bool) -> Plan {
    Plan::answered(
        CONV,
        state,
        records,
        shown,
        &Mapping::default(),
        closed,
        5_000,
    )
    .unwrap()
}

#[test]
fn an_answer_that_proves_nothing_is_never_sealed_and_holds_the_conversation() {
    for shown in [Shown::Empty, Shown::Unexplained] {
        let p = answered(ConversationState::default(), &[], shown, true);
        assert!(p.send.activities.is_empty());
        assert_eq!(p.held, Some(shown));
        let st = p.unchanged();
        assert_eq!(st.sealed, None, "{shown:?}");
        let h = st.held.clone().expect("held");
        assert_eq!(
            (h.tries, h.closed, h.shown.as_str()),
            (1, true, shown.name())
        );
        assert_eq!(h.next_ms, 5_000 + HOLD_FIRST_MS);
        // Read whole later: sealed, and no longer held.
        let p = answered(st, &records(3), Shown::Whole, false);
        assert_eq!(p.held, None);
        let st = deliver_all(p);
        assert!(st.held.is_none());
    }
}

#[test]
fn a_held_conversation_waits_longer_each_read_up_to_the_cap() {
    let mut h = hold(None, Shown::Partial, false, 0);
    let mut waits = vec![h.next_ms];
    for _ in 0..8 {
        h = hold(Some(h.clone()), Shown::Empty, false, 0);
        waits.push(h.next_ms);
    }
    assert_eq!(
        &waits[..4],
        &[
            HOLD_FIRST_MS,
            2 * HOLD_FIRST_MS,
            4 * HOLD_FIRST_MS,
            8 * HOLD_FIRST_MS
        ]
    );
    assert_eq!(*waits.last().unwrap(), HOLD_MAX_MS);
    assert_eq!((h.tries, h.since_ms, h.shown.as_str()), (9, 0, "empty"));
}

#[test]
fn a_truncated_answer_sends_only_what_no_missing_record_can_come_before() {
    // Messages 0..3; receipts: of 0 early, of 1 late (at or after the last
    // message, when it may acknowledge a missing one too), of 2 early.
    let mut part = records(4);
    part.insert(1, receipt(1_001, &[0]));
    part.push(receipt(1_030, &[1]));
    part.push(receipt(1_021, &[2]));
    let p = answered(ConversationState::default(), &part, Shown::Partial, true);
    assert_eq!(p.held, Some(Shown::Partial));
    // 0, its receipt, 1, then the late receipt of 1 stops it.
    let sent = ids(&p.send);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(&sent[..1], ["lp:c:c:0"]);
    assert_eq!(sent[2], "lp:c:c:1");
    let st = deliver_all(p);
    assert_eq!(st.sealed, None, "never sealed from a truncated answer");
    assert!(st.held.is_some());
    // Whole: the rest follows, after what was sent, and it is sealed.
    let p = answered(st, &part, Shown::Whole, true);
    assert!(!ids(&p.send).contains(&"lp:c:c:0"));
    let st = deliver_all(p);
    assert!(st.sealed.is_some() && st.held.is_none());
}

#[test]
fn a_seal_stands_when_a_later_answer_proves_less() {
    let sealed = deliver_all(plan(ConversationState::default(), &records(3), true));
    for shown in [Shown::Empty, Shown::Partial] {
        let p = answered(sealed.clone(), &records(1), shown, true);
        assert!(!p.has_work(), "{shown:?}");
        let st = p.unchanged();
        assert_eq!(st.sealed, sealed.sealed);
        assert!(st.held.is_some());
    }
}

#[test]
fn what_the_mapping_could_not_carry_stays_with_its_activity_when_resumed() {
    // Record 2 navigates to a point that is no place; record 3 is of a
    // type convsync does not know.
    let mut recs = records(2);
    let mut nav = message(2, "ASSIGNED_AGENT", "");
    nav["event"] = json!({"type": "RichContentEvent", "content": r#"{"type":"button","title":"Go","click":{"actions":[{"type":"navigate","la":500,"lo":1}]}}"#});
    recs.push(nav);
    let mut odd = message(3, "ASSIGNED_AGENT", "");
    odd["event"] = json!({"type": "ContentEvent", "contentType": "HOLOGRAM", "message": {}});
    recs.push(odd);
    let all = Converted::of(CONV, &recs, &Mapping::default(), &LpResume::default()).unwrap();
    let kinds = |c: &Converted| -> Vec<Vec<&str>> {
        (0..c.activities.len())
            .map(|i| c.degraded(i).collect())
            .collect()
    };
    assert_eq!(
        kinds(&all),
        [
            vec![],
            vec![],
            vec!["not_a_place"],
            vec!["unknown_content_type"]
        ]
    );
    // Resumed after the first three: the warning follows its activity.
    let st = deliver_all(plan(ConversationState::default(), &recs[..3], false));
    let rest = all.clone().after(&st.resume);
    assert_eq!(ids(&rest), ["lp:c:c:3"]);
    assert_eq!(kinds(&rest), [vec!["unknown_content_type"]]);
    // A plan converting after the resume point says the same.
    let p = plan(st, &recs, false);
    assert_eq!(kinds(&p.send), [vec!["unknown_content_type"]]);
}
