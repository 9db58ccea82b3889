//! Reading Messaging Interactions transcripts: the tests.

use super::*;
use crate::identity::record_identity;

/// Shaped as the Messaging Interactions documentation shows an entry.
fn entry() -> Value {
    json!({
        "info": {"conversationId": "c1", "status": "CLOSE"},
        "messageRecords": [
            {"type": "TEXT_PLAIN", "messageData": {"msg": {"text": "hi"}},
             "messageId": "ms::conv:c1::msg:0", "seq": 0, "dialogId": "undefined",
             "participantId": "cons-1", "timeL": 1000, "sentBy": "Consumer", "audience": "ALL"},
            {"type": "TEXT_PLAIN", "messageData": {"msg": {"text": "hello"}},
             "messageId": "ms::conv:c1::msg:1", "seq": 1, "dialogId": "c1",
             "participantId": "3677470410", "timeL": 2000, "sentBy": "Agent"},
            {"type": "RICH_CONTENT", "messageData": {"richContent": {"content": "{\"type\":\"vertical\",\"elements\":[]}"}},
             "seq": 4, "participantId": "bot-1", "timeL": 3000, "sentBy": "AGENT"},
            {"type": "HOSTED_FILE", "messageData": {"file": {"relativePath": "/p.png", "fileType": "PNG", "caption": "c"}},
             "seq": 5, "participantId": "cons-1", "timeL": 4000, "sentBy": "consumer"},
            {"type": "TEXT_PLAIN", "messageData": {"msg": {"text": "note"}},
             "seq": 6, "participantId": 3677470410u64, "timeL": 5000, "sentBy": "Agent",
             "audience": "AGENTS_AND_MANAGERS"}
        ],
        "messageStatuses": [
            {"messageId": "ms::conv:c1::msg:1", "seq": 1, "timeL": 2100, "participantId": "cons-1",
             "participantType": "Consumer", "messageDeliveryStatus": "ACCEPT"},
            {"messageId": "ms::conv:c1::msg:4", "seq": 4, "timeL": 2100, "participantId": "cons-1",
             "participantType": "Consumer", "messageDeliveryStatus": "ACCEPT"},
            {"messageId": "ms::conv:c1::msg:0", "timeL": 1500, "participantId": "3677470410",
             "participantType": "Agent", "messageDeliveryStatus": "READ"}
        ],
        "agentParticipants": [
            {"agentId": "3677470410", "userTypeName": "Human", "role": "AGENT", "permission": "ASSIGNED_AGENT"},
            {"agentId": "bot-1", "userTypeName": "Bot", "role": "AGENT", "permission": "ASSIGNED_AGENT"}
        ],
        "consumerParticipant": [
            {"participantId": "cons-1", "firstName": "Visitor", "lastName": "Test",
             "email": "undefined", "consumerName": "Visitor"}
        ]
    })
}

#[test]
fn messages_become_content_search_records_with_the_same_identity() {
    let t = transcript("c1", &entry()).unwrap();
    let content: Vec<&Value> = t
        .records
        .iter()
        .filter(|r| r["sequence"].is_i64())
        .collect();
    assert_eq!(content.len(), 5);
    // "undefined" is the main dialog, whose id is the conversation's.
    assert_eq!(content[0]["dialogId"], "c1");
    assert_eq!(record_identity("c1", content[0]), "lp:c1:c1:0");
    assert_eq!(content[0]["event"]["message"], "hi");
    assert_eq!(content[0]["originatorMetadata"]["role"], "CONSUMER");
    assert_eq!(content[1]["originatorMetadata"]["role"], "ASSIGNED_AGENT");
    assert_eq!(content[2]["originatorMetadata"]["role"], "CONTROLLER");
    assert_eq!(content[2]["event"]["type"], "RichContentEvent");
    assert!(content[2]["event"]["content"].is_string());
    assert_eq!(content[3]["event"]["contentType"], "hosted/file");
    assert_eq!(content[3]["event"]["message"]["relativePath"], "/p.png");
    assert_eq!(content[4]["originatorId"], "3677470410");
    assert_eq!(content[4]["audience"], "AGENTS_AND_MANAGERS");
    assert_eq!(content[1]["serverTimestamp"], 2000);
}

#[test]
fn receipts_group_back_into_accept_status_events() {
    let t = transcript("c1", &entry()).unwrap();
    let receipts: Vec<&Value> = t
        .records
        .iter()
        .filter(|r| r["event"]["type"] == "AcceptStatusEvent")
        .collect();
    assert_eq!(receipts.len(), 2);
    let accept = receipts
        .iter()
        .find(|r| r["event"]["status"] == "ACCEPT")
        .unwrap();
    assert_eq!(accept["event"]["sequenceList"], json!([1, 4]));
    assert_eq!(accept["originatorMetadata"]["role"], "CONSUMER");
    // The same receipt as content search lists it has the same identity.
    let searched = json!({"dialogId": "c1", "originatorId": "cons-1", "serverTimestamp": 2100,
        "originatorMetadata": {"id": "cons-1", "role": "CONSUMER"},
        "event": {"type": "AcceptStatusEvent", "status": "ACCEPT", "sequenceList": [1, 4]}});
    assert_eq!(
        record_identity("c1", accept),
        record_identity("c1", &searched)
    );
    // A receipt with no seq takes it from its messageId.
    let read = receipts
        .iter()
        .find(|r| r["event"]["status"] == "READ")
        .unwrap();
    assert_eq!(read["event"]["sequenceList"], json!([0]));
}

#[test]
fn the_consumer_profile_comes_from_the_participants_list() {
    let t = transcript("c1", &entry()).unwrap();
    assert_eq!(
        t.consumer,
        Some(json!({"first name": "Visitor", "last name": "Test", "full name": "Visitor Test"}))
    );
    let bare = json!({"messageRecords": []});
    assert_eq!(transcript("c1", &bare).unwrap().consumer, None);
}

#[test]
fn a_malformed_record_names_the_conversation_and_the_field() {
    let cases: [(&str, Value, &str); 5] = [
        ("seq", json!("seven"), "messageRecords[1].seq"),
        ("seq", Value::Null, "messageRecords[1].seq"),
        ("type", json!(3), "messageRecords[1].type"),
        ("timeL", json!([1]), "messageRecords[1].timeL"),
        (
            "messageData",
            json!({"msg": {"text": 5}}),
            "messageRecords[1].messageData.msg.text",
        ),
    ];
    for (key, value, field) in cases {
        let mut e = entry();
        e["messageRecords"][1][key] = value.clone();
        let err = transcript("c1", &e).unwrap_err();
        assert_eq!(err.field, field, "{key} = {value}");
        let text = err.to_string();
        assert!(text.starts_with("conversation c1: "), "{text}");
    }
    let mut e = entry();
    e["messageRecords"][1]
        .as_object_mut()
        .unwrap()
        .remove("seq");
    assert_eq!(
        transcript("c1", &e).unwrap_err().field,
        "messageRecords[1].seq"
    );
    let e = json!({"messageRecords": {"not": "a list"}});
    assert_eq!(transcript("c1", &e).unwrap_err().field, "messageRecords");
}

#[test]
fn the_documented_spellings_of_types_and_lists_are_read() {
    let e = json!({"messagesRecords": [
        {"type": "text", "messageData": {"msg": {"text": "a"}}, "seq": 0, "sentBy": "Consumer"},
        {"type": "file", "messageData": {"fileData": {"relativePath": "/f.pdf", "fileType": "PDF"}}, "seq": 1},
        {"type": "SECURE_FORM_INVITATION", "messageData": {"secureForm": {"formId": "9", "formName": "Card", "invitationId": "i"}}, "seq": 2},
        {"type": "TEXT_PLAIN", "messageData": {"msg": {"text": "pick"}, "quickReplies": {"content": "{\"type\":\"quickReplies\",\"replies\":[]}"}}, "seq": 3}
    ]});
    let t = transcript("c", &e).unwrap();
    assert_eq!(t.records.len(), 4);
    assert_eq!(t.records[1]["event"]["message"]["relativePath"], "/f.pdf");
    assert_eq!(t.records[2]["event"]["message"]["title"], "Card");
    assert_eq!(
        t.records[3]["event"]["quickReplies"]["type"],
        "quickReplies"
    );
}

#[test]
fn every_documented_variant_is_read_and_an_unknown_type_is_carried() {
    let e = json!({"messageRecords": [
        // `seq` as the field table types it: a string.
        {"type": "TEXT_PLAIN", "messageData": {"msg": {"text": "a"}}, "seq": "0", "sentBy": "Consumer"},
        // A type convsync does not know: carried, never refused.
        {"type": "HOLOGRAM", "messageData": {"hologram": {"frames": 3}}, "seq": "1", "sentBy": "Agent"},
        // Rich content with quick replies beside it (the docs' example).
        {"type": "RICH_CONTENT", "seq": 2, "sentBy": "Agent",
         "messageData": {"richContent": {"content": "{\"type\":\"vertical\",\"elements\":[]}"},
                         "quickReplies": {"content": "{\"type\":\"quickReplies\",\"replies\":[]}"}}}
    ], "messageStatuses": [
        {"messageId": "ms::conv:c::msg:0", "seq": "0", "participantId": "a1",
         "messageDeliveryStatus": "READ", "time": 5, "participantType": "Agent"}
    ]});
    let t = transcript("c", &e).unwrap();
    assert_eq!(t.records[0]["sequence"], 0);
    assert_eq!(t.records[1]["sequence"], 1);
    assert_eq!(t.records[1]["event"]["contentType"], "HOLOGRAM");
    assert_eq!(t.records[1]["event"]["message"]["hologram"]["frames"], 3);
    assert_eq!(
        t.records[2]["event"]["quickReplies"]["type"],
        "quickReplies"
    );
    assert_eq!(t.records[3]["event"]["sequenceList"], json!([0]));
    // Converted: the unknown type is kept whole, with a warning, and
    // the quick replies become actions on the card.
    let text = serde_json::to_string(&t.records).unwrap();
    let records: Vec<crate::liveperson::Record> = serde_json::from_str(&text).unwrap();
    let mapping = crate::Mapping::default();
    let out = crate::to_hubster("c", &records, &mapping, &crate::LpResume::default()).unwrap();
    let acts: Vec<Value> = out.activities.iter().map(|a| a.to_value()).collect();
    let carried = acts
        .iter()
        .find(|a| a.to_string().contains("hologram"))
        .expect("the unknown type is carried");
    assert!(carried.to_string().contains("HOLOGRAM"), "{carried}");
    assert_eq!(
        out.report
            .warnings
            .get(crate::report::kind::UNKNOWN_CONTENT_TYPE),
        Some(&1),
        "{:?}",
        out.report.warnings
    );
}

#[test]
fn a_private_message_is_never_an_ordinary_message() {
    let e = json!({"messageRecords": [
        {"type": "TEXT_PLAIN", "messageData": {"msg": {"text": "hi"}}, "seq": 0, "sentBy": "Consumer", "audience": "ALL"},
        {"type": "TEXT_PLAIN", "messageData": {"msg": {"text": "between us agents"}}, "seq": 1,
         "sentBy": "Agent", "audience": "AGENTS_AND_MANAGERS"}
    ]});
    let t = transcript("c", &e).unwrap();
    let text = serde_json::to_string(&t.records).unwrap();
    let records: Vec<crate::liveperson::Record> = serde_json::from_str(&text).unwrap();
    let convert = |private_messages| {
        let mapping = crate::Mapping {
            private_messages,
            ..crate::Mapping::default()
        };
        let out = crate::to_hubster("c", &records, &mapping, &crate::LpResume::default()).unwrap();
        let acts: Vec<Value> = out.activities.iter().map(|a| a.to_value()).collect();
        (acts, out.report)
    };
    // By default: left out, and said.
    let (acts, report) = convert(crate::mapping::PrivateMessages::Skip);
    assert_eq!(acts.len(), 1);
    assert!(!serde_json::to_string(&acts).unwrap().contains("between us"));
    assert_eq!(
        report.warnings.get(crate::report::kind::PRIVATE_MESSAGE),
        Some(&1)
    );
    // As an event: carried whole, never a message.
    let (acts, _) = convert(crate::mapping::PrivateMessages::Event);
    assert_eq!(acts.len(), 2);
    assert_eq!(acts[1]["type"], "event", "{}", acts[1]);
    assert!(
        acts[1]
            .to_string()
            .contains(crate::payload::PRIVATE_MESSAGE)
    );
    assert!(acts[1].to_string().contains("between us agents"));
}
