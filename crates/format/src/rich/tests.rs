//! Structured content both ways, element by element.

use super::*;
use crate::hubster::{Action, Content};
use crate::hubster::{Fields, Message};
use crate::hubster_in as In;
use crate::maps::maps_url;
use serde_json::{Value, json};

/// The message JSON a content would be written as (without provenance).
fn written(c: Content) -> Value {
    let mut v = Message {
        content: c,
        provenance: Fields::new(),
    }
    .to_value();
    v.as_object_mut().unwrap().remove("channels");
    v
}

#[test]
fn vertical_becomes_a_card() {
    let v = json!({"type":"vertical","elements":[
        {"type":"image","url":"https://x/i.png"},
        {"type":"text","text":"Title"},{"type":"text","text":"Sub"},{"type":"text","text":"More"},
        {"type":"button","title":"Go","click":{"actions":[{"type":"link","uri":"https://x"}]}},
        {"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}]}}]});
    let c = to_hubster_content(&v.to_string()).unwrap();
    assert_eq!(
        written(c),
        json!({"type":"card","title":"Title","subtitle":"Sub","content":"More",
        "urlType":"image","url":"https://x/i.png",
        "actions":[{"type":"link","title":"Go","url":"https://x"},{"type":"reply","title":"Yes","payload":"yes"}]})
    );
}

#[test]
fn a_horizontal_layout_is_a_card_with_its_images_and_maps() {
    let v = json!({"type":"horizontal","elements":[{"type":"text","text":"a"},{"type":"text","text":"b"}]});
    assert_eq!(
        written(to_hubster_content(&v.to_string()).unwrap()),
        json!({"type":"card","title":"a","subtitle":"b"})
    );
    let v = json!({"type":"horizontal","elements":[{"type":"image","url":"https://x/1.png"},
        {"type":"image","url":"https://x/2.png","caption":"two"},{"type":"map","la":1.5,"lo":2.5,"tooltip":"here"}]});
    assert_eq!(
        written(to_hubster_content(&v.to_string()).unwrap()),
        json!({"type":"card","urlType":"image","url":"https://x/1.png","actions":[
            {"type":"link","title":"two","url":"https://x/2.png"},
            {"type":"link","title":"here","url":maps_url(1.5, 2.5)}]})
    );
    let v = json!({"type":"list","elements":[]});
    assert!(
        matches!(to_hubster_content(&v.to_string()), Some(Content::Text(t)) if t == "[rich content: list]")
    );
}

#[test]
fn single_elements_land_in_their_hubster_equivalents() {
    let map = json!({"type":"map","la":40.75,"lo":-73.99,"tooltip":"Store"});
    assert_eq!(
        written(to_hubster_content(&map.to_string()).unwrap()),
        json!({"type":"location","latitude":40.75,"longitude":-73.99,"address":"Store"})
    );
    let img = json!({"type":"image","url":"https://x/i.png","caption":"cap","alt":"alt text",
        "click":{"actions":[{"type":"link","uri":"https://x"}]}});
    assert_eq!(
        written(to_hubster_content(&img.to_string()).unwrap()),
        json!({"type":"image","url":"https://x/i.png","alt":"alt text","title":"cap","urlAnchor":"https://x"})
    );
    let button = json!({"type":"button","title":"Go","click":{"actions":[
        {"type":"link","uri":"https://x"},{"type":"publishText","text":"go"},{"type":"navigate","la":1.0,"lo":2.0}]}});
    assert_eq!(
        written(to_hubster_content(&button.to_string()).unwrap()),
        json!({"type":"text","text":"Go","actions":[{"type":"link","title":"Go","url":"https://x"},
            {"type":"reply","title":"Go","payload":"go"},{"type":"link","title":"Go","url":maps_url(1.0, 2.0)}]})
    );
    let replies = json!({"type":"quickReplies","replies":[{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yep"}]}}]});
    assert_eq!(
        quick_replies(&replies.to_string()),
        vec![Action::Reply {
            title: "Yes".into(),
            payload: "yep".into()
        }]
    );
    assert_eq!(
        quick_replies(&serde_json::to_string(&replies.to_string()).unwrap()).len(),
        1,
        "as JSON text too"
    );
}

#[test]
fn one_button_with_several_actions_comes_back_as_one() {
    let msg: In::Message = serde_json::from_value(json!({"type":"text","text":"t","actions":[
        {"type":"link","title":"Go","url":"https://x"},{"type":"reply","title":"Go","payload":"go"},
        {"type":"link","title":"Map","url":maps_url(1.0, 2.0)}]}))
    .unwrap();
    let sc = to_structured(&msg).unwrap();
    assert_eq!(
        sc["elements"][1]["click"]["actions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        sc["elements"][2]["click"]["actions"][0],
        json!({"type":"navigate","name":"Map","la":1.0,"lo":2.0})
    );
}

#[test]
fn odd_field_types_are_ignored_not_fatal() {
    let v = json!({"type":"carousel","elements":[{"type":"vertical","elements":[{"type":"text","text":5},{"type":"text","text":"ok"}]}, 7, "x"]});
    let c = to_hubster_content(&v.to_string()).unwrap();
    assert_eq!(
        written(c),
        json!({"type":"carousel","items":[{"title":"ok"},{},{}]})
    );
    assert!(to_hubster_content("[1]").is_none());
    assert!(to_hubster_content("{nope").is_none());
}

#[test]
fn location_becomes_a_map() {
    let m = In::Message::of(
        &json!({"type":"location","latitude":1.5,"longitude":-2.0,"address":"Here"}),
    )
    .unwrap();
    assert_eq!(
        to_structured(&m).unwrap()["elements"][0],
        json!({"type":"map","la":1.5,"lo":-2.0,"tooltip":"Here"})
    );
    let text = In::Message::of(&json!({"type":"text","text":"hi"})).unwrap();
    assert_eq!(to_structured(&text), None);
}
